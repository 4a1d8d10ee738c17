//! Problem records (问题学籍): the catalogue of every problem xueji reports, with a stable code,
//! the field it concerns, its severity and its Chinese and English labels, and [`Problem`], one
//! finding on one record. Codes never change meaning; new problems get new codes. The README's
//! table is [`markdown_table`] (a test keeps them equal).

use std::fmt;

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The record must be corrected before it can be trusted.
    Error,
    /// Probably wrong; look at it.
    Warning,
    /// Cleaned automatically or worth knowing; nothing to fix.
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }

    /// As people read it (错误 / 警告 / 提示, or English with `--lang en`).
    pub fn label(self) -> &'static str {
        match self {
            Severity::Error => crate::lang::pick("错误", "error"),
            Severity::Warning => crate::lang::pick("警告", "warning"),
            Severity::Info => crate::lang::pick("提示", "info"),
        }
    }
}

pub struct ProblemKind {
    pub code: Code,
    pub severity: Severity,
    /// The canonical field the problem is about (`row` for the whole record).
    pub field: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
}

impl ProblemKind {
    /// The label in the language people read ([`crate::lang`]).
    pub fn label(&self) -> &'static str {
        crate::lang::pick(self.zh, self.en)
    }
}

macro_rules! catalogue {
    ($($code:ident $name:literal $severity:ident $field:literal $zh:literal $en:literal;)*) => {
        /// A problem code; `Code::X.kind()` gives its catalogue entry.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code { $($code),* }

        /// Every problem, in the order the README lists them.
        pub const CATALOGUE: &[ProblemKind] = &[
            $(ProblemKind { code: Code::$code, severity: Severity::$severity, field: $field, zh: $zh, en: $en }),*
        ];

        impl Code {
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$code => $name),* }
            }
        }
    };
}

catalogue! {
    RowFieldCount "ROW_FIELD_COUNT" Error "row" "行字段数与表头不符" "Row has a different number of fields than the header";
    RowsJoined "ROWS_JOINED" Error "row" "多行被并为一条记录(引号未闭合)" "Several lines were read as one record: a quote is never closed";
    CellNumberPrecisionLost "CELL_NUMBER_PRECISION_LOST" Error "id_number" "身份证件号存为数值已丢失位数" "ID number stored as a spreadsheet number lost digits (not verified)";
    CellControlCharacter "CELL_CONTROL_CHARACTER" Warning "row" "单元格含控制字符(文件可能损坏)" "Cell holds NUL or other control characters: the file may be damaged";
    CellTooLong "CELL_TOO_LONG" Error "row" "单元格超过32767个字符(已截断)" "Cell holds more than 32,767 characters (Excel's limit): cut";
    CellError "CELL_ERROR" Warning "row" "单元格为错误值" "Cell holds an Excel error value (#N/A, #VALUE! …)";
    CellMerged "CELL_MERGED" Info "row" "合并单元格(值已填入每一行)" "Merged cells: the top cell's value is given to every row of the range";
    CellTextMark "CELL_TEXT_MARK" Info "row" "单元格开头的'为Excel文本标记(已去除)" "A leading apostrophe, Excel's mark for text, was removed";
    ValueUnknown "VALUE_UNKNOWN" Info "row" "填写为不详、待查等(按未填处理)" "A word for unknown (不详, 待查, 无 …) is read as no value";
    NameMissing "NAME_MISSING" Error "name" "姓名为空" "Name is empty";
    NameWhitespace "NAME_WHITESPACE" Info "name" "姓名含空格(已去除)" "Name contains whitespace (removed)";
    NameDotVariant "NAME_DOT_VARIANT" Info "name" "姓名间隔号不规范(已统一为·)" "Non-standard middle dot in name (unified to U+00B7)";
    NameTraditional "NAME_TRADITIONAL" Info "name" "姓名含繁体字" "Name contains traditional characters";
    NameLatin "NAME_LATIN" Warning "name" "姓名含拉丁字母" "Name contains Latin letters";
    NameDigit "NAME_DIGIT" Error "name" "姓名含数字" "Name contains digits";
    NameSymbol "NAME_SYMBOL" Warning "name" "姓名含符号或生僻字占位符" "Name contains symbols or a rare-character placeholder (□, ?)";
    NamePrivateUse "NAME_PRIVATE_USE" Warning "name" "生僻字被编码在私用区，公安系统无法比对" "A rare character is encoded in the Private Use Area: no other system can compare it";
    NameDescribedChar "NAME_DESCRIBED_CHAR" Warning "name" "生僻字以部件描述代替(如[女吉])" "A rare character is described by its components ([女吉], ⿰女吉) instead of typed";
    SexMissing "SEX_MISSING" Error "sex" "性别为空" "Sex is empty";
    SexInvalid "SEX_INVALID" Error "sex" "性别无法识别" "Sex is not a recognised code or label";
    BirthDateMissing "BIRTH_DATE_MISSING" Error "birth_date" "出生日期为空" "Birth date is empty";
    BirthDateInvalid "BIRTH_DATE_INVALID" Error "birth_date" "出生日期无效" "Birth date is not a real date in a known format";
    BirthDatePartial "BIRTH_DATE_PARTIAL" Warning "birth_date" "出生日期只有年月" "Birth date has a year and month only (出生年月), and no ID number gives the day";
    BirthDateCompleted "BIRTH_DATE_COMPLETED" Info "birth_date" "出生日期只有年月(已按身份证号补全)" "Birth date had a year and month only: the day is taken from the ID number";
    BirthDateFuture "BIRTH_DATE_FUTURE" Error "birth_date" "出生日期晚于当前日期" "Birth date is in the future";
    AgeGradeMismatch "AGE_GRADE_MISMATCH" Warning "grade" "年龄与年级不符" "Age is implausible for the grade";
    DocumentTypeInvalid "DOCUMENT_TYPE_INVALID" Warning "id_type" "身份证件类型无法识别" "Document type is not a recognised code";
    NoDocument "NO_DOCUMENT" Warning "id_number" "无身份证件(公安无法核验身份)" "No identity document (无证件): police cannot verify this student";
    IdMissing "ID_MISSING" Error "id_number" "身份证件号为空" "Document number is empty although the document type needs one";
    IdFormat "ID_FORMAT" Error "id_number" "身份证件号格式错误" "Document number has the wrong length or characters";
    IdChecksum "ID_CHECKSUM" Error "id_number" "身份证号校验位错误" "Check character (MOD 11-2) is wrong";
    IdDateInvalid "ID_DATE_INVALID" Error "id_number" "身份证号出生日期无效" "Birth date inside the number is not a real date, or is in the future";
    IdRegionUnknown "ID_REGION_UNKNOWN" Warning "id_number" "身份证号行政区划代码不存在" "Region code is in no GB/T 2260 table";
    IdRegionAnachronism "ID_REGION_ANACHRONISM" Info "id_number" "行政区划代码在出生年份不存在" "Region code did not exist in the birth year";
    IdLegacy15 "ID_LEGACY_15" Warning "id_number" "15位旧身份证号(已升位)" "15-digit legacy number (upgraded; likely a guardian's number)";
    IdReformatted "ID_REFORMATTED" Info "id_number" "身份证件号格式已规范(全角/空格/小写x)" "Number was cleaned (full width, spaces, hyphens, lower-case x)";
    IdTypeMismatch "ID_TYPE_MISMATCH" Warning "id_type" "证件号与证件类型不符" "Number is of another document type than the one declared";
    IdSexMismatch "ID_SEX_MISMATCH" Error "sex" "性别与身份证号不符" "Recorded sex contradicts the number's sequence parity";
    IdBirthMismatch "ID_BIRTH_MISMATCH" Error "birth_date" "出生日期与身份证号不符" "Recorded birth date differs from the number's";
    IdDuplicate "ID_DUPLICATE" Error "id_number" "身份证件号重复(同一人多籍)" "Same number on several records of one person (一人多籍)";
    IdConflict "ID_CONFLICT" Error "id_number" "身份证件号重复(不同人共用)" "Same number on records of different people";
    NoIdDuplicate "NO_ID_DUPLICATE" Warning "name" "无证件号且姓名性别出生日期重复" "No document number; same name, sex and birth date as another record";
    DuplicateSuspected "DUPLICATE_SUSPECTED" Warning "row" "疑似同一学生多处学籍(待公安核查)" "Probably the same student as records elsewhere (a duplicate group found by matching; police to verify)";
    StudentNoInvalid "STUDENT_NO_INVALID" Warning "student_no" "全国学籍号格式错误" "National student number is not a G/J/L number";
    StudentNoIdMismatch "STUDENT_NO_ID_MISMATCH" Warning "student_no" "学籍号与身份证件号不符" "G-number does not carry the record's ID number";
    SchoolCodeMissing "SCHOOL_CODE_MISSING" Warning "school_code" "学校标识码为空" "School code is empty";
    SchoolCodeInvalid "SCHOOL_CODE_INVALID" Error "school_code" "学校标识码结构错误" "School code is not 10 digits with a valid province";
    SchoolTypeUnknown "SCHOOL_TYPE_UNKNOWN" Info "school_code" "学校类别码未收录" "School type (first two digits) is not in the catalogue";
    EthnicityMissing "ETHNICITY_MISSING" Warning "ethnicity" "民族为空" "Ethnicity is empty";
    EthnicityInvalid "ETHNICITY_INVALID" Warning "ethnicity" "民族无法识别" "Ethnicity is not a GB/T 3304 code or name";
    GradeInvalid "GRADE_INVALID" Warning "grade" "年级无法识别" "Grade is not 1–12 in a known form";
    ClassInvalid "CLASS_INVALID" Info "class" "班级无班号" "Class has no class number";
    PhotoMissing "PHOTO_MISSING" Error "photo" "学生无照片" "Student has no photo";
    PhotoUnreadable "PHOTO_UNREADABLE" Error "photo" "照片文件损坏或无法读取" "Photo cannot be read: empty, truncated, damaged, or declaring an absurd pixel size";
    PhotoNotJpeg "PHOTO_NOT_JPEG" Error "photo" "照片不是JPEG格式" "Photo is not a JPEG by its bytes, whatever its name";
    PhotoTooLarge "PHOTO_TOO_LARGE" Error "photo" "照片文件不小于60KB" "Photo file is 60 KB (61,440 bytes) or more";
    PhotoTooSmall "PHOTO_TOO_SMALL" Error "photo" "照片像素小于154×189" "Photo is under 154 × 189 pixels (26 × 32 mm at 150 dpi)";
    PhotoAspect "PHOTO_ASPECT" Warning "photo" "照片宽高比不是26:32" "Photo is not 26:32 (13:16) within 3 %";
    PhotoDpi "PHOTO_DPI" Warning "photo" "照片标注分辨率低于150dpi" "Photo declares a density under 150 dpi";
    PhotoDpiUndeclared "PHOTO_DPI_UNDECLARED" Info "photo" "照片未标注分辨率" "Photo declares no density (dpi)";
    PhotoOrientation "PHOTO_ORIENTATION" Warning "photo" "照片带EXIF旋转标记" "Photo is stored turned, with an EXIF orientation some systems ignore";
    PhotoGrayscale "PHOTO_GRAYSCALE" Error "photo" "照片不是彩色" "Photo is not in colour";
    PhotoBackground "PHOTO_BACKGROUND" Error "photo" "照片背景不是浅蓝色" "Background is not light blue, or not one colour";
    PhotoNotCentered "PHOTO_NOT_CENTERED" Warning "photo" "头部未水平居中" "Head is not horizontally centred";
    PhotoHeadSize "PHOTO_HEAD_SIZE" Warning "photo" "头部不是约占照片高度2/3" "Head is not about 2/3 of the photo's height";
    PhotoBlurry "PHOTO_BLURRY" Warning "photo" "照片模糊" "Photo is blurred";
    PhotoNameInvalid "PHOTO_NAME_INVALID" Error "photo" "照片文件名不符合命名规则" "File name is neither a valid ID number nor 学校标识码_班号_姓名";
    PhotoNameNonstandard "PHOTO_NAME_NONSTANDARD" Info "photo" "照片文件名书写不规范(已识别)" "File name was read, but is typed otherwise than the rule (full width, lower-case x, .jpeg)";
    PhotoNoRecord "PHOTO_NO_RECORD" Error "photo" "照片找不到对应学籍" "No record has this photo's number, or its school, class and name";
    PhotoWrongFolder "PHOTO_WRONG_FOLDER" Warning "photo" "照片所在文件夹不符" "Photo is in another grade/class folder than its record, or a no-ID photo is outside its school's no-ID folder";
    PhotoDuplicate "PHOTO_DUPLICATE" Warning "photo" "同一学生有多张照片" "Another photo is for the same student";
}

impl Code {
    pub fn kind(self) -> &'static ProblemKind {
        &CATALOGUE[self as usize]
    }

    pub fn parse(code: &str) -> Option<Code> {
        CATALOGUE.iter().find(|k| k.code.as_str() == code).map(|k| k.code)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found on one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Row index of the record in the records table (in the file's own table during ingest).
    pub record: usize,
    pub code: Code,
    /// The value as it was read, when the problem is about one value.
    pub raw: Option<String>,
    /// What exactly is wrong, with the values involved.
    pub message: String,
}

impl Problem {
    pub fn new(record: usize, code: Code, raw: Option<&str>, message: impl Into<String>) -> Problem {
        Problem { record, code, raw: raw.map(str::to_owned), message: message.into() }
    }
}

/// The catalogue as the Markdown table in the README.
pub fn markdown_table() -> String {
    let mut table = String::from("| code | severity | field | 问题 | problem |\n|---|---|---|---|---|\n");
    for k in CATALOGUE {
        table.push_str(&format!("| `{}` | {} | {} | {} | {} |\n", k.code, k.severity.as_str(), k.field, k.zh, k.en));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_indexed_in_order() {
        for (i, kind) in CATALOGUE.iter().enumerate() {
            assert_eq!(kind.code as usize, i);
            assert_eq!(Code::parse(kind.code.as_str()), Some(kind.code));
        }
        let mut names: Vec<_> = CATALOGUE.iter().map(|k| k.code.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), CATALOGUE.len());
    }

    #[test]
    fn readme_lists_the_catalogue() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        assert!(readme.contains(&markdown_table()), "README's problem table is stale: paste `xueji codes --markdown`");
    }
}

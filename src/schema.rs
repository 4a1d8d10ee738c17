//! The canonical fields of a student record and the headers schools type for them.

use std::collections::HashMap;

use unicode_normalization::UnicodeNormalization;

/// A field of the student basic-information template (学生基本信息表) under its canonical name.
pub struct Field {
    pub name: &'static str,
    /// The template's header.
    pub zh: &'static str,
    /// Other headers seen in sheets (besides `name` and `zh`).
    pub aliases: &'static [&'static str],
}

macro_rules! fields {
    ($($name:literal $zh:literal [$($alias:literal),*];)*) => {
        pub const FIELDS: &[Field] = &[$(Field { name: $name, zh: $zh, aliases: &[$($alias),*] }),*];
    };
}

fields! {
    "name" "姓名" ["学生姓名", "名字"];
    "sex" "性别" ["gender"];
    "birth_date" "出生日期" ["出生年月", "出生年月日", "生日", "birthdate", "dob"];
    "birthplace" "出生地" [];
    "native_place" "籍贯" [];
    "ethnicity" "民族" ["nation"];
    "nationality" "国籍/地区" ["国籍", "国籍地区"];
    "id_type" "身份证件类型" ["证件类型", "document_type"];
    "id_number" "身份证件号" ["身份证件号码", "身份证号", "身份证号码", "证件号", "证件号码", "公民身份号码", "idno", "id_no"];
    "hmt_overseas" "港澳台侨外" [];
    "health" "健康状况" [];
    "name_pinyin_raw" "姓名拼音" [];
    "former_name" "曾用名" [];
    "household_address" "户口所在地" ["户籍所在地", "户口所在地区", "户籍地"];
    "household_type" "户口性质" [];
    "aux_no" "学籍辅号" [];
    "class_no" "班内学号" [];
    "grade" "年级" [];
    "class" "班级" ["班号", "所在班级"];
    "enrol_date" "入学年月" ["入学日期", "入学时间"];
    "enrol_mode" "入学方式" [];
    "study_mode" "就读方式" [];
    "address" "现住址" ["家庭住址", "现居住地址"];
    "phone" "联系电话" ["电话"];
    "student_no" "全国学籍号" ["学籍号", "全国学籍号码", "学籍编号"];
    "school_code" "学校标识码" ["学校代码", "学校识别码"];
    "school_name" "学校名称" ["学校", "就读学校"];
    "city" "所属地市" ["地市", "市", "市州", "所属市"];
    "county" "所属区县" ["区县", "县区", "县", "所属县区"];
    "guardian_name" "监护人姓名" ["监护人", "成员1姓名", "家长姓名"];
    "guardian_relation" "监护人关系" ["成员1关系", "与学生关系"];
    "guardian_phone" "监护人联系电话" ["监护人电话", "成员1联系电话", "家长电话", "家长联系电话"];
    "batch_no" "批次号" ["批次"];
    "record_no" "记录号" ["记录编号"];
    "cluster_no" "聚类号" [];
    "check_reason" "核查原因" [];
    "verdict" "核查结果" ["比对结果", "核验结果", "结果", "核查意见"];
    "record_id_l" "记录号1" ["record_id_1"];
    "record_id_r" "记录号2" ["record_id_2"];
    "judgement" "判定" ["复核判定", "人工判定", "label"];
    "review_note" "复核备注" ["判定备注"];
}

/// Fields a sheet must have a column for: without them no record can be verified or matched.
pub const REQUIRED: [&str; 4] = ["name", "sex", "birth_date", "id_number"];

/// The template header of a canonical field, for messages (`id_number` → 身份证件号).
pub fn label(canonical: &str) -> &str {
    FIELDS.iter().find(|f| f.name == canonical).map_or(canonical, |f| f.zh)
}

/// A header as compared: NFKC, no whitespace, no ★/* required markers, no bracketed notes
/// (`身份证件号(必填)`), ASCII lower-case.
pub fn header_key(raw: &str) -> String {
    let mut key = String::with_capacity(raw.len());
    let mut depth = 0usize;
    for c in raw.nfkc() {
        match c {
            '(' | '[' | '【' | '〔' => depth += 1,
            ')' | ']' | '】' | '〕' => depth = depth.saturating_sub(1),
            _ if depth > 0 || c.is_whitespace() || matches!(c, '★' | '*' | '☆' | '\u{FEFF}') => {}
            _ => key.push(c.to_ascii_lowercase()),
        }
    }
    key
}

/// Maps headers to canonical field names: the built-in aliases plus the user's `--map` entries.
#[derive(Clone, Debug)]
pub struct HeaderMap {
    by_key: HashMap<String, &'static str>,
    required: Vec<&'static str>,
}

impl HeaderMap {
    /// `extra` holds `(header, canonical)` pairs from `--map`; an unknown canonical name is an error.
    pub fn new(extra: &[(String, String)]) -> Result<HeaderMap, String> {
        let mut by_key = HashMap::new();
        for field in FIELDS {
            for header in [field.name, field.zh].iter().chain(field.aliases) {
                by_key.insert(header_key(header), field.name);
            }
        }
        for (header, canonical) in extra {
            let Some(field) = FIELDS.iter().find(|f| f.name == canonical) else {
                let names: Vec<&str> = FIELDS.iter().map(|f| f.name).collect();
                return Err(format!(
                    "--map {header}={canonical}: unknown field {canonical:?}; fields are: {}",
                    names.join(", ")
                ));
            };
            by_key.insert(header_key(header), field.name);
        }
        Ok(HeaderMap { by_key, required: REQUIRED.to_vec() })
    }

    /// The same headers with other required fields (police replies need none of the template's).
    pub fn requiring(mut self, fields: &[&'static str]) -> HeaderMap {
        self.required = fields.to_vec();
        self
    }

    /// Fields a table must have a column for.
    pub fn required(&self) -> &[&'static str] {
        &self.required
    }

    pub fn canonical(&self, header: &str) -> Option<&'static str> {
        self.by_key.get(&header_key(header)).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_headers_map_to_fields() {
        let map = HeaderMap::new(&[]).unwrap();
        for (header, field) in [
            ("姓名", "name"),
            ("★姓名", "name"),
            ("姓名*", "name"),
            (" 身份证件号 ", "id_number"),
            ("身份证件号(必填)", "id_number"),
            ("身份证件号（必填）", "id_number"),
            ("国籍/地区", "nationality"),
            ("全国学籍号", "student_no"),
            ("学籍号", "student_no"),
            ("成员1姓名", "guardian_name"),
            ("成员1联系电话", "guardian_phone"),
            ("ID_Number", "id_number"),
            ("Birth_Date", "birth_date"),
        ] {
            assert_eq!(map.canonical(header), Some(field), "{header}");
        }
        assert_eq!(map.canonical("备注"), None);
    }

    #[test]
    fn user_maps_extend_and_are_checked() {
        let map = HeaderMap::new(&[("学生证件编号".into(), "id_number".into())]).unwrap();
        assert_eq!(map.canonical("学生证件编号"), Some("id_number"));
        let err = HeaderMap::new(&[("x".into(), "idnumber".into())]).unwrap_err();
        assert!(err.contains("unknown field \"idnumber\""), "{err}");
    }

    #[test]
    fn aliases_do_not_collide() {
        let mut seen = HashMap::new();
        for field in FIELDS {
            for header in [field.name, field.zh].iter().chain(field.aliases) {
                if let Some(other) = seen.insert(header_key(header), field.name) {
                    panic!("{header} maps to both {other} and {}", field.name);
                }
            }
        }
        for required in &REQUIRED {
            assert!(FIELDS.iter().any(|f| f.name == *required));
        }
    }
}

//! Return workbooks for the school loop (学校核对 → 县区审核 → 市级确认): one workbook per school
//! with every record that has an error or warning, what is wrong, what to do, an empty
//! 更正后 column per field to correct and a sign-off block; and per county a summary of its
//! schools × problems. Laid out as `returns/<city>/<county>/<学校标识码>_<学校名称>.xlsx`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use rayon::prelude::*;

use crate::columns::Text;
use crate::error::{Error, Result};
use crate::files::file_stem;
use crate::files::{inert, AtomicFile};
use crate::normalize::date::Date;
use crate::problems::{Code, Problem, Severity};
use crate::report::table_sheet;
use crate::schema;

/// One school's records with something to correct.
struct School<'a> {
    city: &'a str,
    county: &'a str,
    code: &'a str,
    name: &'a str,
    /// Record → its errors and warnings, in record order.
    records: BTreeMap<usize, Vec<&'a Problem>>,
}

/// Writes the return workbooks into `dir` and returns the files written (relative to `dir`).
pub fn write(records: &DataFrame, problems: &[Problem], dir: &Path, day: Date) -> Result<Vec<PathBuf>> {
    let text = |name: &str| Text::of(records, name);
    let (city, county, code, school) = (
        text("place_city")?,
        text("place_county")?,
        text("school_code_norm")?,
        Text::optional(records, "school_name")?,
    );
    let mut schools: BTreeMap<(&str, &str, &str, &str), School> = BTreeMap::new();
    for p in problems.iter().filter(|p| p.code.kind().severity != Severity::Info) {
        let i = p.record;
        let key = (
            city.get(i).unwrap_or(""),
            county.get(i).unwrap_or(""),
            code.get(i).unwrap_or(""),
            school.get(i).unwrap_or(""),
        );
        let entry = schools.entry(key).or_insert_with(|| School {
            city: key.0,
            county: key.1,
            code: key.2,
            name: key.3,
            records: BTreeMap::new(),
        });
        entry.records.entry(i).or_default().push(p);
    }
    let schools: Vec<School> = schools.into_values().collect();
    let places =
        crate::files::school_paths(&schools.iter().map(|s| [s.city, s.county, s.code, s.name]).collect::<Vec<_>>());
    let written: Vec<PathBuf> = polars_core::runtime::THREAD_POOL.install(|| {
        schools
            .par_iter()
            .zip(&places)
            .map(|(s, (folder, path))| {
                std::fs::create_dir_all(dir.join(folder)).map_err(|e| Error::io(dir, e))?;
                school_workbook(records, s, &dir.join(path), day)?;
                Ok(path.clone())
            })
            .collect::<Result<_>>()
    })?;
    let mut by_county: BTreeMap<&PathBuf, Vec<&School>> = BTreeMap::new();
    for (s, (folder, _)) in schools.iter().zip(&places) {
        by_county.entry(folder).or_default().push(s);
    }
    let mut files = written;
    for (folder, schools) in by_county {
        let county = schools[0].county;
        let county = if county.is_empty() { crate::lang::pick("未知", "unknown") } else { county };
        let path = folder.join(format!("{}_{}.xlsx", crate::lang::pick("汇总", "summary"), file_stem(county)));
        county_summary(&schools, &dir.join(&path), day)?;
        files.push(path);
    }
    files.sort();
    Ok(files)
}

/// What a school does about a problem.
fn advice(code: Code) -> String {
    let kind = code.kind();
    let field = |f: &str| crate::lang::pick(schema::label(f), f).to_owned();
    match (code, kind.field, kind.severity) {
        (Code::IdDuplicate | Code::NoIdDuplicate, _, _) => crate::say!(
            "同一学生多处学籍：核实是否同一学生并在“是否同一学生”列填写；同一学生只保留一处，其余报县区注销",
            "one student registered several times: say under “same child?” whether it is; keep one registration of one child, report the others to the county"
        ),
        (Code::DuplicateSuspected, _, _) => crate::say!(
            "疑似同一学生：核实后在“是否同一学生”列填写；双胞胎、兄弟姐妹填“不是同一学生”",
            "possibly one student: say under “same child?” whether it is; twins and siblings are not the same child"
        ),
        (Code::IdConflict, _, _) => crate::say!(
            "多名学生共用一个证件号：核对各人证件，在“是否同一学生”列填写；不是同一学生的，在“更正后身份证件号”列补报本人证件号",
            "several students share one number: check their documents and say under “same child?”; for another child, write the child's own number under corrected id_number"
        ),
        (_, "row", _) => crate::say!("核对原表该行，补全或更正后重新报送", "check this row of the sheet, complete or correct it and send it again"),
        (_, f, Severity::Error) => {
            crate::say!("核对证件或户口簿，在“更正后{}”列填写正确值", "check the document or household register and write the right value under corrected {}", field(f))
        }
        (_, f, _) => crate::say!("核对{0}，有误则在“更正后{0}”列填写正确值", "check {0}; if wrong, write the right value under corrected {0}", field(f)),
    }
}

/// The column where a school answers whether a registration of a duplicate group or an ID
/// conflict is the same child as the others: only it can tell twins, or a child registered with
/// a sibling's number, from one child typed twice. `reconcile` reads it ([`same_child`]).
pub const SAME_CHILD: (&str, &str) = ("是否同一学生", "same child?");
/// The two answers offered in [`SAME_CHILD`]'s list.
const ANSWERS: [(&str, &str); 2] = [("同一学生", "same child"), ("不是同一学生", "not the same child")];

/// A school's answer under [`SAME_CHILD`], as typed: `Some(true)` one child, `Some(false)` two
/// children, `None` for a cell that says neither (never guessed).
pub fn same_child(typed: &str) -> Option<bool> {
    let typed = crate::files::uninert(typed.trim()).trim().trim_end_matches(['。', '.']).to_lowercase();
    match typed.as_str() {
        "同一学生" | "是同一学生" | "同一个学生" | "是同一个学生" | "同一人" | "是同一人" | "是同一个人" | "是"
        | "same child" | "same" | "yes" => Some(true),
        "不是同一学生"
        | "非同一学生"
        | "不是同一个学生"
        | "不是同一人"
        | "不是同一个人"
        | "非同一人"
        | "否"
        | "不是"
        | "不同"
        | "not the same child"
        | "not the same"
        | "no" => Some(false),
        _ => None,
    }
}

/// Codes of the records a school answers [`SAME_CHILD`] for.
fn asks_same_child(code: Code) -> bool {
    matches!(code, Code::IdDuplicate | Code::NoIdDuplicate | Code::DuplicateSuspected | Code::IdConflict)
}

/// "更正后…" / "corrected …": the column a school writes a correction into.
fn corrected(field: &str) -> String {
    crate::say!("更正后{}", "corrected {}", crate::lang::pick(schema::label(field), field))
}

fn school_workbook(records: &DataFrame, school: &School, path: &Path, day: Date) -> Result<()> {
    let xlsx = |e: rust_xlsxwriter::XlsxError| Error::input(path, format!("writing xlsx: {e}"));
    let text = |name: &str| Text::of(records, name);
    let (record_id, name, grade, class, row) = (
        text("record_id")?,
        text("name")?,
        Text::optional(records, "grade")?,
        Text::optional(records, "class")?,
        records.column("source_row")?.u32()?,
    );
    // A workbook of several class sheets: the row is on a sheet, which is said beside it.
    let source = text("source_file")?;
    let sheet_of = |i: usize| source.get(i).and_then(crate::ingest::sheet_of);
    let sheets = school.records.keys().any(|&i| sheet_of(i).is_some());
    // A 更正后 column for every field with a problem at this school.
    let mut fields: Vec<&str> =
        school.records.values().flatten().map(|p| p.code.kind().field).filter(|f| *f != "row").collect();
    fields.sort_unstable_by_key(|f| schema::FIELDS.iter().position(|x| x.name == *f));
    fields.dedup();
    let mut headers: Vec<String> = if crate::lang::english() {
        ["row", "record_id", "name", "grade", "class", "problem", "message", "what to do"]
    } else {
        ["行号", "记录号", "姓名", "年级", "班级", "问题", "说明", "处理建议"]
    }
    .map(String::from)
    .to_vec();
    if sheets {
        headers.insert(0, crate::lang::pick("工作表", "sheet").to_owned());
    }
    // Duplicate groups and shared numbers: the school says whether it is one child.
    let asks = school.records.values().flatten().any(|p| asks_same_child(p.code));
    if asks {
        headers.push(crate::lang::pick(SAME_CHILD.0, SAME_CHILD.1).to_owned());
    }
    // Each field to correct: its value as the sheet had it, and an empty column beside it.
    for f in &fields {
        headers.push(crate::say!("原{}", "original {}", crate::lang::pick(schema::label(f), f)));
        headers.push(corrected(f));
    }
    let originals: Vec<Text> = fields.iter().map(|f| text(f)).collect::<Result<_>>()?;
    let separator = crate::lang::pick("；", "; ");
    let rows: Vec<Vec<String>> = school
        .records
        .iter()
        .map(|(&i, found)| {
            let get = |t: &Text| t.get(i).unwrap_or("").to_owned();
            let mut advice: Vec<String> = found.iter().map(|p| advice(p.code)).collect();
            advice.dedup();
            let mut cells = vec![
                row.get(i).map(|r| r.to_string()).unwrap_or_default(),
                get(&record_id),
                get(&name),
                get(&grade),
                get(&class),
                found.iter().map(|p| p.code.kind().label()).collect::<Vec<_>>().join(separator),
                found.iter().map(|p| p.message.as_str()).collect::<Vec<_>>().join(separator),
                advice.join(separator),
            ];
            if sheets {
                cells.insert(0, sheet_of(i).unwrap_or("").to_owned());
            }
            if asks {
                cells.push(String::new());
            }
            for original in &originals {
                cells.push(get(original));
                cells.push(String::new());
            }
            cells
        })
        .collect();
    let mut workbook = crate::report::new_workbook(day)?;
    let sheet = workbook.worksheet_from_index(0).map_err(xlsx)?;
    sheet.set_name(crate::lang::pick("问题学籍", "records to correct")).map_err(xlsx)?;
    let header_refs: Vec<&str> = headers.iter().map(String::as_str).collect();
    table_sheet(sheet, &header_refs, &rows).map_err(xlsx)?;
    // The 更正后 columns are text (an 18-digit number typed there stays whole, never
    // 2.11381E+17), the only cells a school can change, and checked where Excel can.
    let first_correction = headers.len() - 2 * fields.len() + 1;
    let fillable = rust_xlsxwriter::Format::new().set_num_format("@").set_unlocked();
    let last_row = rows.len().max(1) as u32;
    if asks {
        // Text like the 更正后 columns, with Excel offering the two answers.
        let col = (headers.len() - 2 * fields.len() - 1) as u16;
        sheet.set_column_format(col, &fillable).map_err(xlsx)?;
        let answers = ANSWERS.map(|(zh, en)| crate::lang::pick(zh, en));
        let list = rust_xlsxwriter::DataValidation::new().allow_list_strings(&answers).map_err(xlsx)?;
        sheet.add_data_validation(1, col, last_row, col, &list).map_err(xlsx)?;
    }
    for (k, field) in fields.iter().enumerate() {
        let col = (first_correction + 2 * k) as u16;
        sheet.set_column_format(col, &fillable).map_err(xlsx)?;
        if let Some(check) = correction_check(field).map_err(xlsx)? {
            sheet.add_data_validation(1, col, last_row, col, &check).map_err(xlsx)?;
        }
    }
    for (r, cells) in rows.iter().enumerate() {
        for (c, value) in cells.iter().enumerate().filter(|(_, v)| !v.is_empty()) {
            sheet.write_string(r as u32 + 1, c as u16, inert(value).as_ref()).map_err(xlsx)?;
        }
    }
    // The loop's sign-off, below the table.
    let below = rows.len() as u32 + 3;
    let title = format!("{} {}（{}）", school.county, school.name, school.code);
    sheet.write_string(below, 0, title.as_str()).map_err(xlsx)?;
    let signers = if crate::lang::english() {
        ["checked by (school):", "reviewed by (county):", "confirmed by (city):"]
    } else {
        ["学校核对人：", "县区审核人：", "市级确认人："]
    };
    let signature = rust_xlsxwriter::Format::new().set_unlocked();
    for (k, who) in signers.iter().enumerate() {
        let r = below + 1 + k as u32;
        sheet.write_string(r, 0, *who).map_err(xlsx)?;
        sheet.write_blank(r, 1, &signature).map_err(xlsx)?;
        sheet.write_string(r, 3, crate::lang::pick("日期：", "date:")).map_err(xlsx)?;
        sheet.write_blank(r, 4, &signature).map_err(xlsx)?;
    }
    // What the sheet says of a record stays as xueji wrote it; filtering, sorting and widening
    // columns stay possible.
    let options = rust_xlsxwriter::ProtectionOptions {
        use_autofilter: true,
        sort: true,
        format_columns: true,
        format_rows: true,
        ..Default::default()
    };
    sheet.protect_with_options(&options);
    save(workbook, path)
}

fn county_summary(schools: &[&School], path: &Path, day: Date) -> Result<()> {
    let xlsx = |e: rust_xlsxwriter::XlsxError| Error::input(path, format!("writing xlsx: {e}"));
    let mut codes: Vec<Code> = schools.iter().flat_map(|s| s.records.values().flatten().map(|p| p.code)).collect();
    codes.sort_unstable();
    codes.dedup();
    let mut headers: Vec<&str> = if crate::lang::english() {
        vec!["school_code", "school_name", "records to correct"]
    } else {
        vec!["学校标识码", "学校名称", "问题学籍数"]
    };
    headers.extend(codes.iter().map(|c| c.kind().label()));
    let rows: Vec<Vec<String>> = schools
        .iter()
        .map(|s| {
            let mut cells = vec![s.code.to_owned(), s.name.to_owned(), s.records.len().to_string()];
            for code in &codes {
                let n = s.records.values().filter(|found| found.iter().any(|p| p.code == *code)).count();
                cells.push(if n == 0 { String::new() } else { n.to_string() });
            }
            cells
        })
        .collect();
    let mut workbook = crate::report::new_workbook(day)?;
    let sheet = workbook.worksheet_from_index(0).map_err(xlsx)?;
    sheet.set_name(crate::lang::pick("各校问题汇总", "schools")).map_err(xlsx)?;
    table_sheet(sheet, &headers, &rows).map_err(xlsx)?;
    for (r, cells) in rows.iter().enumerate() {
        for (c, value) in cells.iter().enumerate().filter(|(_, v)| !v.is_empty()) {
            let (r, c) = (r as u32 + 1, c as u16);
            match value.parse::<f64>() {
                Ok(n) if c >= 2 => sheet.write_number(r, c, n),
                _ => sheet.write_string(r, c, inert(value).as_ref()),
            }
            .map_err(xlsx)?;
        }
    }
    save(workbook, path)
}

/// What Excel can check of a correction typed under 更正后: the length of a number or a date,
/// a code from its list.
fn correction_check(
    field: &str,
) -> std::result::Result<Option<rust_xlsxwriter::DataValidation>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{DataValidation, DataValidationRule};
    let (validation, hint) = match field {
        "id_number" => (
            DataValidation::new().allow_text_length(DataValidationRule::Between(15, 18)),
            crate::lang::pick("18位身份证件号（15位旧号亦可）", "an 18-character number (or a 15-digit old one)"),
        ),
        "birth_date" => (
            DataValidation::new().allow_text_length(DataValidationRule::Between(8, 10)),
            crate::lang::pick("如2014-03-05", "such as 2014-03-05"),
        ),
        "sex" => (DataValidation::new().allow_list_strings(&["男", "女"])?, crate::lang::pick("男或女", "男 or 女")),
        "grade" => (
            DataValidation::new().allow_list_strings(&crate::normalize::codes::GRADE_NAMES)?,
            crate::lang::pick("从列表中选择年级", "a grade from the list"),
        ),
        _ => return Ok(None),
    };
    Ok(Some(validation.set_input_message(hint)?.set_error_message(hint)?))
}

fn save(mut workbook: rust_xlsxwriter::Workbook, path: &Path) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    workbook.save_to_writer(file.writer()).map_err(|e| Error::input(path, format!("writing xlsx: {e}")))?;
    file.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schools_answer_is_read_as_typed_never_guessed() {
        for one in ["同一学生", "是同一个学生", " 是同一人。", "是", "Same child", "yes"] {
            assert_eq!(same_child(one), Some(true), "{one}");
        }
        for two in
            ["不是同一学生", "不是同一个学生", "非同一人", "否", "不同", "\u{3000}不是\u{3000}", "not the same child"]
        {
            assert_eq!(same_child(two), Some(false), "{two}");
        }
        for neither in ["", "待核实", "同一学生？不是", "是不是", "一", "同一学生 不是同一学生"]
        {
            assert_eq!(same_child(neither), None, "{neither}");
        }
    }
}

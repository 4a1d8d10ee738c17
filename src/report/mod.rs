//! Report: the problem-record files and summaries, the police lists, the schools' return
//! workbooks and report.html, in the words people read. Every file is written through
//! [`crate::files`] (atomic, inert cells).

pub mod html;
pub mod police;
pub mod returns;
pub mod review;

use std::collections::BTreeMap;

use polars::prelude::*;

use crate::columns::Text;
use crate::error::{Error, Result};
use crate::problems::{Problem, Severity};

/// A workbook with one constant-memory sheet, stamped as created on `day` (not now): the same
/// data gives the same bytes.
pub fn new_workbook(day: crate::normalize::date::Date) -> Result<rust_xlsxwriter::Workbook> {
    let xlsx = |e: rust_xlsxwriter::XlsxError| Error::Internal(format!("writing xlsx: {e}"));
    let created =
        rust_xlsxwriter::ExcelDateTime::from_ymd(day.year as u16, day.month as u8, day.day as u8).map_err(xlsx)?;
    let mut workbook = rust_xlsxwriter::Workbook::new();
    workbook.set_properties(&rust_xlsxwriter::DocProperties::new().set_creation_datetime(&created));
    workbook.add_worksheet_with_constant_memory().map_err(xlsx)?;
    Ok(workbook)
}

/// Lays out a sheet people work in: the header on row 1, frozen, with an autofilter over the
/// `rows` below it, and every column as wide as its widest value (a Chinese character counts
/// twice; at most 50).
pub fn table_sheet<S: AsRef<str>>(
    sheet: &mut rust_xlsxwriter::Worksheet,
    headers: &[&str],
    rows: &[impl AsRef<[S]>],
) -> std::result::Result<(), rust_xlsxwriter::XlsxError> {
    table_sheet_at(sheet, 0, headers, rows)
}

/// [`table_sheet`] with the header on row `header_row` (0-based), below lines that say what the
/// sheet is; the rows go below the header.
pub fn table_sheet_at<S: AsRef<str>>(
    sheet: &mut rust_xlsxwriter::Worksheet,
    header_row: u32,
    headers: &[&str],
    rows: &[impl AsRef<[S]>],
) -> std::result::Result<(), rust_xlsxwriter::XlsxError> {
    let width = |text: &str| text.chars().map(|c| if c.is_ascii() { 1.0 } else { 2.0 }).sum::<f64>();
    for (c, header) in headers.iter().enumerate() {
        let widest =
            rows.iter().filter_map(|r| r.as_ref().get(c)).map(|v| width(v.as_ref())).fold(width(header), f64::max);
        sheet.set_column_width(c as u16, (widest + 2.0).min(50.0))?;
        sheet.write_string(header_row, c as u16, *header)?;
    }
    sheet.set_freeze_panes(header_row + 1, 0)?;
    sheet.autofilter(header_row, 0, header_row + rows.len() as u32, headers.len().saturating_sub(1) as u16)?;
    Ok(())
}

/// The problems as a table, one row per record × problem, ordered by record then code.
pub fn problems_frame(records: &DataFrame, problems: &[Problem]) -> Result<DataFrame> {
    let record_ids = Text::of(records, "record_id")?;
    let files = Text::of(records, "source_file")?;
    let rows = records.column("source_row")?.u32()?;
    let n = problems.len();
    // Each column straight from the problems and records, never a copy of every cell first.
    fn column<'p, 's>(name: &str, problems: &'p [Problem], value: impl Fn(&'p Problem) -> Option<&'s str>) -> Column {
        StringChunked::from_iter_options(name.into(), problems.iter().map(value)).into_column()
    }
    let mut out = vec![
        column("record_id", problems, |p| record_ids.get(p.record)),
        column("source_file", problems, |p| files.get(p.record)),
        UInt32Chunked::from_iter_options("source_row".into(), problems.iter().map(|p| rows.get(p.record)))
            .into_column(),
        column("code", problems, |p| Some(p.code.as_str())),
        column("severity", problems, |p| Some(p.code.kind().severity.as_str())),
        column("field", problems, |p| Some(p.code.kind().field)),
        column("problem", problems, |p| Some(p.code.kind().label())),
        column("raw_value", problems, |p| p.raw.as_deref()),
        column("message", problems, |p| Some(p.message.as_str())),
    ];
    // Who the problem is about, as the school knows them: a school can act on its rows alone.
    for name in ["name", "school_name", "grade", "class"] {
        let values = Text::optional(records, name)?;
        out.push(column(name, problems, |p| values.get(p.record)));
    }
    Ok(DataFrame::new(n, out)?)
}

/// `problems.csv` as people read it: Chinese headers, the problem and its record first, the
/// stable codes beside them (`problems.parquet` keeps the English names for programs).
pub fn problems_for_people(problems: &DataFrame) -> Result<DataFrame> {
    const COLUMNS: [(&str, &str); 13] = [
        ("problem", "问题"),
        ("message", "说明"),
        ("name", "姓名"),
        ("school_name", "学校名称"),
        ("grade", "年级"),
        ("class", "班级"),
        ("source_file", "来源文件"),
        ("source_row", "行号"),
        ("raw_value", "原值"),
        ("severity", "严重程度"),
        ("field", "字段"),
        ("code", "问题代码"),
        ("record_id", "记录号"),
    ];
    let english = crate::lang::english();
    let field = problems.column("field")?.str()?.apply_values(|f| match (f, english) {
        (f, true) => f.to_owned().into(),
        ("row", false) => "整行".into(),
        (f, false) => crate::schema::label(f).to_owned().into(),
    });
    for_people(problems, &COLUMNS, vec![severity_labels(problems)?, field.into_column()])
}

/// `df` with the headers people read: a Chinese label for every column xueji names (`name_l` →
/// 姓名1, `id_number_level` → 身份证件号比对级别), English ones as they are under `--lang en`. For
/// the CSV copies of tables whose Parquet keeps the English names.
pub fn chinese_headers(df: &DataFrame) -> Result<DataFrame> {
    if crate::lang::english() {
        return Ok(df.clone());
    }
    let base = |name: &str| -> Option<String> {
        Some(
            match name {
                "record_id" => "记录号",
                "person_id" => "同一学生",
                "cluster_id" => "聚类号",
                "size" => "学籍数",
                "registrations" => "学籍数",
                "probability" => "同一人概率",
                "weight" => "匹配权重",
                "action" => "处理",
                "school" => "学校",
                "guardian" => "监护人",
                "household" => "户口所在地",
                "name_norm" => "姓名",
                "sex_norm" => "性别",
                "id_norm" => "身份证件号",
                "school_code_norm" => "学校标识码",
                "source_file" => "来源文件",
                field => {
                    return crate::schema::FIELDS
                        .iter()
                        .any(|f| f.name == field)
                        .then(|| crate::schema::label(field).to_owned())
                }
            }
            .to_owned(),
        )
    };
    let label = |name: &str| -> String {
        let (stem, suffix) = match name.rsplit_once('_') {
            Some((stem, "l")) => (stem, "1"),
            Some((stem, "r")) => (stem, "2"),
            Some((stem, "level")) => (stem, "比对级别"),
            Some((stem, "weight")) if stem != "match" => (stem, "权重"),
            _ => (name, ""),
        };
        match base(stem) {
            Some(label) => format!("{label}{suffix}"),
            None => base(name).unwrap_or_else(|| name.to_owned()),
        }
    };
    let columns: Vec<Column> = df.columns().iter().map(|c| c.clone().with_name(label(c.name()).into())).collect();
    Ok(DataFrame::new(df.height(), columns)?)
}

/// A `severity` column (`error`, `warning`, `info`) as people read it: 错误, 警告, 提示.
pub fn severity_labels(df: &DataFrame) -> Result<Column> {
    let labels = df.column("severity")?.str()?.apply_values(|s| {
        let severity = match s {
            "error" => Severity::Error,
            "warning" => Severity::Warning,
            _ => Severity::Info,
        };
        severity.label().to_owned().into()
    });
    Ok(labels.into_column())
}

/// A frame as people read it: the `columns` (English name, Chinese header) in that order, headed
/// in the language people read, with the `relabelled` columns (same English names, values as
/// people read them) in place of the originals.
pub fn for_people(df: &DataFrame, columns: &[(&str, &str)], relabelled: Vec<Column>) -> Result<DataFrame> {
    let english = crate::lang::english();
    let columns = columns
        .iter()
        .map(|(name, label)| {
            let column = match relabelled.iter().find(|c| c.name().as_str() == *name) {
                Some(column) => column.clone(),
                None => df.column(name)?.clone(),
            };
            Ok(column.with_name(if english { *name } else { *label }.into()))
        })
        .collect::<Result<Vec<Column>>>()?;
    Ok(DataFrame::new(df.height(), columns)?)
}

/// Counts of problems by code × city × county × school, most frequent first.
pub fn summary_frame(records: &DataFrame, problems: &[Problem]) -> Result<DataFrame> {
    let text = |name: &str| Text::of(records, name);
    let (cities, counties) = (text("place_city")?, text("place_county")?);
    let (school_codes, school_names) = (text("school_code_norm")?, Text::optional(records, "school_name")?);
    let mut counts: BTreeMap<(&str, String, String, String, String), u64> = BTreeMap::new();
    for p in problems {
        let get = |c: &Text| c.get(p.record).unwrap_or("").to_owned();
        let key = (p.code.as_str(), get(&cities), get(&counties), get(&school_codes), get(&school_names));
        *counts.entry(key).or_default() += 1;
    }
    let mut rows: Vec<_> = counts.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let col = |name: &str, f: &dyn Fn(&((&str, String, String, String, String), u64)) -> String| {
        StringChunked::from_iter_values(name.into(), rows.iter().map(f)).into_column()
    };
    let kind = |code: &str| crate::problems::Code::parse(code).map(|c| c.kind());
    let name = |zh: &str, en: &str| crate::lang::pick(zh, en).to_owned();
    // Counties read it: Chinese first, the stable code last.
    let columns = vec![
        col(&name("问题", "problem"), &|r| kind(r.0 .0).map_or(String::new(), |k| k.label().to_owned())),
        col(&name("严重程度", "severity"), &|r| {
            kind(r.0 .0).map_or(Severity::Info, |k| k.severity).label().to_owned()
        }),
        col(&name("地市", "city"), &|r| r.0 .1.clone()),
        col(&name("区县", "county"), &|r| r.0 .2.clone()),
        col(&name("学校标识码", "school_code"), &|r| r.0 .3.clone()),
        col(&name("学校名称", "school_name"), &|r| r.0 .4.clone()),
        UInt64Chunked::from_iter_values(name("数量", "count").into(), rows.iter().map(|r| r.1)).into_column(),
        col(&name("问题代码", "code"), &|r| r.0 .0.to_owned()),
    ];
    Ok(DataFrame::new(rows.len(), columns)?)
}

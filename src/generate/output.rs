//! Writing a generated population: the sheets (Parquet, CSV in UTF-8 or GB18030, or Excel with
//! a title row like the real template), the truth files, and the exact-duplicate expectations
//! that can only be known once every record exists.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use rust_xlsxwriter::{Workbook, XlsxError};

use super::person::{Record, COLUMNS};
use super::Province;
use crate::error::{Error, Result};
use crate::files::{csv_rows, AtomicFile};
use crate::normalize::codes::{normalize_document_type, normalize_sex};
use crate::normalize::date::parse_date;
use crate::normalize::id_number::normalize_id_number;
use crate::normalize::name::normalize_name;
use crate::problems::Code;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Parquet,
    Csv,
    Xlsx,
}

/// How the sheets are laid out in files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// One file for the province (split at Excel's row limit).
    Province,
    /// One file per school, in a folder per county: as schools send them.
    Schools,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum TextEncoding {
    Utf8,
    Gb18030,
}

/// Excel's row limit; a sheet holds the title and header rows besides the data.
pub const EXCEL_MAX_ROWS: usize = 1_048_576;

fn frame(records: &[&Record], columns: &[(&str, &dyn Fn(&Record) -> Option<String>)]) -> Result<DataFrame> {
    let columns: Vec<Column> = columns
        .iter()
        .map(|(name, value)| {
            StringChunked::from_iter_options((*name).into(), records.iter().map(|r| value(r))).into_column()
        })
        .collect();
    Ok(DataFrame::new(records.len(), columns)?)
}

/// The sheet columns of `records`, blank cells as nulls.
fn sheet_frame(records: &[&Record]) -> Result<DataFrame> {
    let columns: Vec<Column> = COLUMNS
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let values = records.iter().map(|r| Some(r.values[i].as_str()).filter(|v| !v.is_empty()));
            StringChunked::from_iter_options((*name).into(), values).into_column()
        })
        .collect();
    Ok(DataFrame::new(records.len(), columns)?)
}

pub enum SheetWriter {
    Parquet {
        file: AtomicFile,
        writer: Option<polars::io::parquet::write::BatchedWriter<std::fs::File>>,
    },
    Csv {
        file: AtomicFile,
        encoding: TextEncoding,
    },
    Xlsx {
        dir: PathBuf,
        title: String,
        workbook: Workbook,
        day: crate::normalize::date::Date,
        rows: usize,
        files: Vec<PathBuf>,
    },
    /// One file per school, written when every record is known (a duplicate may join a school
    /// written long before): the records of each school, by school index.
    Schools {
        dir: PathBuf,
        format: Format,
        encoding: TextEncoding,
        title: String,
        records: Vec<Vec<Record>>,
    },
}

impl SheetWriter {
    pub fn create(out: &Path, options: &super::GenerateOptions, province: &Province) -> Result<SheetWriter> {
        let (format, encoding) = (options.format, options.encoding);
        let province_name = crate::normalize::region::region_name(&format!("{}0000", province.code)).unwrap_or("");
        if options.layout == Layout::Schools && format != Format::Parquet {
            return Ok(SheetWriter::Schools {
                dir: out.to_owned(),
                format,
                encoding,
                title: format!("{}学年学生基本信息表（生成数据）", province.school_year.year),
                records: (0..province.schools.len()).map(|_| Vec::new()).collect(),
            });
        }
        Ok(match format {
            Format::Parquet => {
                SheetWriter::Parquet { file: AtomicFile::create(&out.join("students.parquet"))?, writer: None }
            }
            Format::Csv => {
                let mut file = AtomicFile::create(&out.join("students.csv"))?;
                let header = COLUMNS.join(",") + "\n";
                let bytes = encode(&header, encoding);
                let path = file.path().to_owned();
                file.writer().write_all(&bytes).map_err(|e| Error::io(&path, e))?;
                SheetWriter::Csv { file, encoding }
            }
            Format::Xlsx => SheetWriter::Xlsx {
                dir: out.to_owned(),
                title: format!("{province_name}{}学年学生基本信息表（生成数据）", province.school_year.year),
                workbook: crate::report::new_workbook(province.school_year)?,
                day: province.school_year,
                rows: 0,
                files: Vec::new(),
            },
        })
    }

    /// Appends records, ordered by school and class as schools' sheets would list them.
    pub fn write(&mut self, records: &[&Record], province: &Province) -> Result<()> {
        if let SheetWriter::Schools { records: by_school, .. } = self {
            for record in records {
                by_school[province.classes[record.class].school].push((*record).clone());
            }
            return Ok(());
        }
        let mut ordered = records.to_vec();
        ordered.sort_by_key(|r| r.class);
        let df = sheet_frame(&ordered)?;
        match self {
            SheetWriter::Parquet { file, writer } => {
                if writer.is_none() {
                    let out = file.writer().get_ref().try_clone().map_err(|e| Error::io(file.path(), e))?;
                    *writer = Some(
                        ParquetWriter::new(out)
                            .with_compression(ParquetCompression::Zstd(None))
                            .batched(df.schema())?,
                    );
                }
                writer.as_mut().map(|w| w.write_batch(&df)).transpose()?;
            }
            SheetWriter::Schools { .. } => unreachable!("buffered above"),
            SheetWriter::Csv { file, encoding } => {
                let mut text = Vec::with_capacity(df.height() * 200);
                csv_rows(&mut text, &df, false).map_err(|e| Error::input(file.path(), e.to_string()))?;
                let text = String::from_utf8(text).map_err(|e| Error::input(file.path(), e.to_string()))?;
                let path = file.path().to_owned();
                file.writer().write_all(&encode(&text, *encoding)).map_err(|e| Error::io(&path, e))?;
            }
            SheetWriter::Xlsx { dir, title, workbook, day, rows, files } => {
                for record in ordered {
                    if *rows == 0 {
                        let sheet = workbook.worksheet_from_index(0).map_err(xlsx_error)?;
                        sheet.write_string(0, 0, title.as_str()).map_err(xlsx_error)?;
                        for (c, name) in COLUMNS.iter().enumerate() {
                            // As wide as an 18-digit number or the header, whichever is wider.
                            let width = name.chars().count() as f64 * 2.0 + 2.0;
                            sheet
                                .set_column_width(c as u16, width.max(if *name == "身份证件号" { 21.0 } else { 10.0 }))
                                .map_err(xlsx_error)?;
                            sheet.write_string(1, c as u16, *name).map_err(xlsx_error)?;
                        }
                        // The header (below the title) stays in view; a filter covers every row a sheet can hold.
                        sheet.set_freeze_panes(2, 0).map_err(xlsx_error)?;
                        sheet
                            .autofilter(1, 0, EXCEL_MAX_ROWS as u32 - 1, COLUMNS.len() as u16 - 1)
                            .map_err(xlsx_error)?;
                        *rows = 2;
                    }
                    let sheet = workbook.worksheet_from_index(0).map_err(xlsx_error)?;
                    for (c, value) in record.values.iter().enumerate() {
                        if !value.is_empty() {
                            sheet.write_string(*rows as u32, c as u16, value.as_str()).map_err(xlsx_error)?;
                        }
                    }
                    *rows += 1;
                    if *rows == EXCEL_MAX_ROWS {
                        let full = std::mem::replace(workbook, crate::report::new_workbook(*day)?);
                        files.push(save_workbook(full, dir, files.len())?);
                        *rows = 0;
                    }
                }
            }
        }
        Ok(())
    }

    /// Completes the files, returning their paths and what their layout makes `check` report
    /// (a merged range's CELL_MERGED on the first record of its block).
    pub fn finish(self, province: &Province) -> Result<(Vec<PathBuf>, Vec<(String, Code)>)> {
        if let SheetWriter::Schools { dir, format, encoding, title, records } = self {
            let mut files = Vec::new();
            let mut expected = Vec::new();
            for (school, mut records) in records.into_iter().enumerate().filter(|(_, r)| !r.is_empty()) {
                records.sort_by_key(|r| r.class);
                let at = &province.schools[school];
                let folder = dir.join(province.counties[at.county].name);
                std::fs::create_dir_all(&folder).map_err(|e| Error::io(&folder, e))?;
                let stem = format!("{}_{}", at.code, at.name);
                files.push(match format {
                    Format::Csv => {
                        // Chinese Excel saves CSV in GBK, which GB18030 extends.
                        let encoding = if at.style.excel_saved.is_some() { TextEncoding::Gb18030 } else { encoding };
                        school_csv(&folder.join(format!("{stem}.csv")), &records, encoding)?
                    }
                    _ => school_workbook(
                        &folder.join(format!("{stem}.xlsx")),
                        &records,
                        province,
                        &title,
                        &mut expected,
                    )?,
                });
            }
            return Ok((files, expected));
        }
        let files: Result<Vec<PathBuf>> = match self {
            SheetWriter::Parquet { file, writer } => {
                if let Some(writer) = writer {
                    writer.finish()?;
                }
                let path = file.path().to_owned();
                file.commit()?;
                Ok(vec![path])
            }
            SheetWriter::Csv { file, .. } => {
                let path = file.path().to_owned();
                file.commit()?;
                Ok(vec![path])
            }
            SheetWriter::Xlsx { dir, workbook, rows, mut files, .. } => {
                if rows > 0 || files.is_empty() {
                    files.push(save_workbook(workbook, &dir, files.len())?);
                }
                Ok(files)
            }
            SheetWriter::Schools { .. } => unreachable!("written above"),
        };
        Ok((files?, Vec::new()))
    }
}

/// A school's CSV: the template's header, then its records by class.
fn school_csv(path: &Path, records: &[Record], encoding: TextEncoding) -> Result<PathBuf> {
    let refs: Vec<&Record> = records.iter().collect();
    let mut text = COLUMNS.join(",").into_bytes();
    text.push(b'\n');
    csv_rows(&mut text, &sheet_frame(&refs)?, false).map_err(|e| Error::input(path, e.to_string()))?;
    let text = String::from_utf8(text).map_err(|e| Error::input(path, e.to_string()))?;
    crate::files::write_atomic(path, |w| w.write_all(&encode(&text, encoding)).map_err(|e| Error::io(path, e)))?;
    Ok(path.to_owned())
}

/// The columns a school merges down a class sheet: its name and the class.
const MERGED_COLUMNS: [usize; 2] = [9, 11];

/// A school's workbook as schools keep it: a sheet per class under a merged title row, the
/// school and class merged down the sheet, a hidden sheet of dropdown lists and a 填表说明.
/// Adds a CELL_MERGED expectation for the first record of each class sheet.
fn school_workbook(
    path: &Path,
    records: &[Record],
    province: &Province,
    title: &str,
    expected: &mut Vec<(String, Code)>,
) -> Result<PathBuf> {
    let mut workbook = Workbook::new();
    let plain = rust_xlsxwriter::Format::new();
    for class in records.chunk_by(|a, b| a.class == b.class) {
        let c = &province.classes[class[0].class];
        let sheet = workbook.add_worksheet();
        sheet.set_name(format!("{}年级{}班", c.grade, c.number)).map_err(xlsx_error)?;
        let school = &province.schools[c.school].name;
        sheet
            .merge_range(0, 0, 0, COLUMNS.len() as u16 - 1, &format!("{school}{title}"), &plain)
            .map_err(xlsx_error)?;
        for (col, name) in COLUMNS.iter().enumerate() {
            sheet.write_string(1, col as u16, *name).map_err(xlsx_error)?;
        }
        // A column merges only where every row holds the same text.
        let merged: Vec<usize> = MERGED_COLUMNS
            .into_iter()
            .filter(|&col| class.len() > 1 && class.iter().all(|r| r.values[col] == class[0].values[col]))
            .filter(|&col| !class[0].values[col].is_empty())
            .collect();
        for (i, record) in class.iter().enumerate() {
            for (col, value) in record.values.iter().enumerate() {
                if !value.is_empty() && !merged.contains(&col) {
                    sheet.write_string(2 + i as u32, col as u16, value.as_str()).map_err(xlsx_error)?;
                }
            }
        }
        let last = 1 + class.len() as u32;
        for &col in &merged {
            sheet.merge_range(2, col as u16, last, col as u16, &class[0].values[col], &plain).map_err(xlsx_error)?;
        }
        if !merged.is_empty() {
            expected.push((class[0].values[0].clone(), Code::CellMerged));
        }
    }
    let lists = workbook.add_worksheet();
    lists.set_name("下拉").map_err(xlsx_error)?;
    for (col, (header, items)) in [
        ("民族", &["汉族", "满族", "蒙古族", "回族", "朝鲜族", "锡伯族"][..]),
        ("年级", &["一年级", "二年级", "三年级", "四年级", "五年级", "六年级"][..]),
    ]
    .into_iter()
    .enumerate()
    {
        lists.write_string(0, col as u16, header).map_err(xlsx_error)?;
        for (row, item) in items.iter().enumerate() {
            lists.write_string(1 + row as u32, col as u16, *item).map_err(xlsx_error)?;
        }
    }
    lists.set_hidden(true);
    let notes = workbook.add_worksheet();
    notes.set_name("填表说明").map_err(xlsx_error)?;
    for (row, line) in ["1. 每班一个工作表，表头勿改动", "2. 身份证件号请以文本格式录入", "3. 出生日期格式如2014-03-05"]
        .into_iter()
        .enumerate()
    {
        notes.write_string(row as u32, 0, line).map_err(xlsx_error)?;
    }
    let mut file = AtomicFile::create(path)?;
    workbook.save_to_writer(file.writer()).map_err(xlsx_error)?;
    file.commit()?;
    Ok(path.to_owned())
}

fn save_workbook(mut workbook: Workbook, dir: &Path, index: usize) -> Result<PathBuf> {
    let name = if index == 0 { "students.xlsx".to_owned() } else { format!("students_{}.xlsx", index + 1) };
    let path = dir.join(name);
    let mut file = AtomicFile::create(&path)?;
    workbook.save_to_writer(file.writer()).map_err(xlsx_error)?;
    file.commit()?;
    Ok(path)
}

fn xlsx_error(e: XlsxError) -> Error {
    Error::Internal(format!("writing xlsx: {e}"))
}

fn encode(text: &str, encoding: TextEncoding) -> Vec<u8> {
    match encoding {
        TextEncoding::Utf8 => text.as_bytes().to_vec(),
        TextEncoding::Gb18030 => encoding_rs::GB18030.encode(text).0.into_owned(),
    }
}

/// `truth/records.parquet` (+ `.csv`): one row per generated record.
pub struct TruthWriter {
    dir: PathBuf,
    file: AtomicFile,
    writer: Option<polars::io::parquet::write::BatchedWriter<std::fs::File>>,
    csv: Vec<u8>,
}

impl TruthWriter {
    pub fn create(dir: &Path) -> Result<TruthWriter> {
        Ok(TruthWriter {
            dir: dir.to_owned(),
            file: AtomicFile::create(&dir.join("records.parquet"))?,
            writer: None,
            csv: Vec::new(),
        })
    }

    pub fn write(&mut self, records: &[&Record]) -> Result<()> {
        let df = truth_frame(records)?;
        if self.writer.is_none() {
            let out = self.file.writer().get_ref().try_clone().map_err(|e| Error::io(self.file.path(), e))?;
            self.writer =
                Some(ParquetWriter::new(out).with_compression(ParquetCompression::Zstd(None)).batched(df.schema())?);
        }
        if let Some(writer) = self.writer.as_mut() {
            writer.write_batch(&df)?;
        }
        // A readable copy for small populations (the bundled sample), not for benchmarks' millions.
        if self.csv.len() < 64 << 20 {
            let header = self.csv.is_empty();
            csv_rows(&mut self.csv, &df, header).map_err(|e| Error::input(&self.dir, e.to_string()))?;
        }
        Ok(())
    }

    /// Completes the truth, with the exact-duplicate expectations in `truth/exact_duplicates.parquet`.
    pub fn finish(self, exact: &[(String, Code)]) -> Result<()> {
        if let Some(writer) = self.writer {
            writer.finish()?;
        }
        self.file.commit()?;
        if self.csv.len() < 64 << 20 {
            crate::files::write_atomic(&self.dir.join("records.csv"), |w| {
                w.write_all(&self.csv).map_err(|e| Error::io(&self.dir, e))
            })?;
        }
        let mut df = df!(
            "record_id" => exact.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
            "code" => exact.iter().map(|(_, code)| code.as_str()).collect::<Vec<_>>(),
        )?;
        crate::files::write_parquet(&self.dir.join("exact_duplicates.parquet"), &mut df)?;
        crate::files::write_csv(&self.dir.join("exact_duplicates.csv"), &df)
    }
}

fn truth_frame(records: &[&Record]) -> Result<DataFrame> {
    frame(
        records,
        &[
            ("record_id", &|r| Some(r.values[0].clone())),
            ("person_id", &|r| Some(r.person.to_string())),
            ("role", &|r| Some(r.role.as_str().to_owned())),
            ("twin_of", &|r| r.twin_of.map(|t| t.to_string())),
            ("perturbations", &|r| Some(r.perturbations.join(";"))),
            ("injected", &|r| r.injected.map(|c| c.as_str().to_owned())),
            ("expected_problems", &|r| Some(r.expected.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(";"))),
            ("true_name", &|r| Some(r.true_name.clone())),
            ("true_id", &|r| Some(r.true_id.clone())),
        ],
    )
}

/// What decides the exact-duplicate problems, kept for every record in a few bytes.
#[derive(Default)]
pub struct DuplicateKeys {
    /// (normalized number as written, person, record id).
    by_number: Vec<(String, u32, String)>,
    /// (name, sex, birth date) of records without a number, and the record id.
    without_number: Vec<(String, String, i32, String)>,
}

impl DuplicateKeys {
    pub fn add(&mut self, records: &[&Record]) {
        for r in records {
            let id = &r.values[0];
            // A number a spreadsheet rounded is no one's: in no group, as in `check`.
            if r.perturbations.iter().any(|p| matches!(*p, "id:spreadsheet" | "file:excel_saved")) {
                continue;
            }
            match normalize_id_number(&r.values[5]) {
                Some((number, _)) => self.by_number.push((number, r.person as u32, id.clone())),
                None if matches!(normalize_document_type(&r.values[4]), None | Some("Z")) => {
                    let name = normalize_name(&r.values[1]).0;
                    if let (false, Some(sex), Some(birth)) =
                        (name.is_empty(), normalize_sex(&r.values[2]), parse_date(&r.values[3]))
                    {
                        self.without_number.push((name, sex.to_owned(), birth.to_epoch_days(), id.clone()));
                    }
                }
                None => {}
            }
        }
    }

    /// Which records `check` should report as ID_DUPLICATE (one person), ID_CONFLICT (several
    /// people on one number) or NO_ID_DUPLICATE, by the truth of who is who.
    pub fn expected_codes(&self) -> Vec<(String, Code)> {
        let mut groups: HashMap<&str, Vec<(u32, &str)>> = HashMap::new();
        for (number, person, id) in &self.by_number {
            groups.entry(number).or_default().push((*person, id));
        }
        let mut expected = Vec::new();
        for members in groups.values().filter(|m| m.len() > 1) {
            let one_person = members.iter().all(|m| m.0 == members[0].0);
            let code = if one_person { Code::IdDuplicate } else { Code::IdConflict };
            expected.extend(members.iter().map(|m| (m.1.to_owned(), code)));
        }
        let mut twins: HashMap<(&str, &str, i32), Vec<&str>> = HashMap::new();
        for (name, sex, birth, id) in &self.without_number {
            twins.entry((name, sex, *birth)).or_default().push(id);
        }
        for members in twins.values().filter(|m| m.len() > 1) {
            expected.extend(members.iter().map(|id| ((*id).to_owned(), Code::NoIdDuplicate)));
        }
        expected.sort();
        expected
    }
}

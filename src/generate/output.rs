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
use crate::normalize::codes::{normalize_document_type, normalize_sex};
use crate::normalize::date::parse_date;
use crate::normalize::id_number::normalize_id_number;
use crate::normalize::name::normalize_name;
use crate::problems::Code;
use crate::report::{csv_rows, AtomicFile};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Parquet,
    Csv,
    Xlsx,
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
}

impl SheetWriter {
    pub fn create(out: &Path, format: Format, encoding: TextEncoding, province: &Province) -> Result<SheetWriter> {
        let province_name = crate::check::region::region_name(&format!("{}0000", province.code)).unwrap_or("");
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
    pub fn write(&mut self, records: &[&Record]) -> Result<()> {
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

    /// Completes the files, returning their paths.
    pub fn finish(self) -> Result<Vec<PathBuf>> {
        match self {
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
        }
    }
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
    Error::Usage(format!("writing xlsx: {e}"))
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
            crate::report::write_atomic(&self.dir.join("records.csv"), |w| {
                w.write_all(&self.csv).map_err(|e| Error::io(&self.dir, e))
            })?;
        }
        let mut df = df!(
            "record_id" => exact.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
            "code" => exact.iter().map(|(_, code)| code.as_str()).collect::<Vec<_>>(),
        )?;
        crate::report::write_parquet(&self.dir.join("exact_duplicates.parquet"), &mut df)?;
        crate::report::write_csv(&self.dir.join("exact_duplicates.csv"), &df)
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
            if r.perturbations.contains(&"id:spreadsheet") {
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

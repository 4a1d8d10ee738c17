//! Turns rows of text cells with a header into a table of string columns: header-row detection,
//! header → canonical field mapping, ragged rows, provenance.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::problems::{Code, Problem};
use crate::schema::{self, HeaderMap};

/// How far down a sheet the header row is looked for (titles and notes sit above it).
pub const HEADER_SEARCH_ROWS: usize = 30;

/// One input file as read: its records as string columns, with what went wrong on which row.
pub struct Table {
    pub df: DataFrame,
    /// `record` is the row index in `df`.
    pub problems: Vec<Problem>,
    /// How each part of the file was read, in the order its records are stacked: one part for a
    /// CSV or Parquet file, one per sheet read of a workbook.
    pub parts: Vec<Part>,
    /// Sheets of a workbook that hold no student table (dropdown lists, notes), not read.
    pub sheets_not_read: Vec<SheetNotRead>,
    /// The file's SHA-256 (hex) where its reader took it from the bytes it parsed.
    pub sha256: Option<String>,
}

/// One sheet (or the whole of a file without sheets) as read.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Part {
    pub records: usize,
    /// Rows with no value in any cell, skipped and counted.
    pub blank_rows: usize,
    #[serde(flatten)]
    pub layout: Layout,
}

/// A sheet left unread, with why: said in the pre-flight, the manifest and report.html so that
/// no student disappears unseen.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SheetNotRead {
    pub path: std::path::PathBuf,
    pub sheet: String,
    /// Rows holding any value.
    pub rows: usize,
    pub hidden: bool,
    pub reason: String,
}

impl Table {
    /// The table of one part.
    pub fn single(df: DataFrame, problems: Vec<Problem>, blank_rows: usize, layout: Layout) -> Table {
        let part = Part { records: df.height(), blank_rows, layout };
        Table { df, problems, parts: vec![part], sheets_not_read: Vec::new(), sha256: None }
    }

    /// Tables stacked in order: a column missing from one is null there, problems follow
    /// their records.
    pub fn stack(tables: Vec<Table>) -> Result<Table> {
        // Each column with its type where it first appears (text, or coded as repeated).
        let mut names: Vec<(PlSmallStr, DataType)> = Vec::new();
        let mut seen: HashSet<PlSmallStr> = HashSet::new();
        for table in &tables {
            for column in table.df.columns() {
                if seen.insert(column.name().clone()) {
                    names.push((column.name().clone(), column.dtype().clone()));
                }
            }
        }
        let (mut problems, mut parts, mut sheets_not_read) = (Vec::new(), Vec::new(), Vec::new());
        let mut stacked: Option<DataFrame> = None;
        for table in tables {
            let offset = stacked.as_ref().map_or(0, DataFrame::height);
            problems.extend(table.problems.into_iter().map(|p| Problem { record: p.record + offset, ..p }));
            parts.extend(table.parts);
            sheets_not_read.extend(table.sheets_not_read);
            let height = table.df.height();
            let columns: Vec<Column> = names
                .iter()
                .map(|(name, dtype)| match table.df.column(name) {
                    Ok(c) => c.clone(),
                    Err(_) => Column::full_null(name.clone(), height, dtype),
                })
                .collect();
            let df = DataFrame::new(height, columns)?;
            match stacked.as_mut() {
                Some(all) => {
                    all.vstack_mut_owned(df)?;
                }
                None => stacked = Some(df),
            }
        }
        let df = stacked.unwrap_or_else(DataFrame::empty);
        Ok(Table { df, problems, parts, sheets_not_read, sha256: None })
    }
}

/// How a file was read, for the pre-flight summary: the sheet and header row chosen and what
/// each column was taken for.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Layout {
    pub sheet: Option<String>,
    /// 1-based, as a person counts; none for Parquet and Arrow (no header row).
    pub header_row: Option<usize>,
    /// Each header as typed and the field it was mapped to (none: carried along as it is).
    pub columns: Vec<(String, Option<&'static str>)>,
}

/// The row (index into `rows`) that looks most like the template's header: the most cells that
/// name a known field, at least two.
pub fn find_header_row<S: AsRef<str>>(rows: &[Vec<S>], headers: &HeaderMap) -> Option<usize> {
    rows.iter()
        .take(HEADER_SEARCH_ROWS)
        .enumerate()
        .map(|(i, row)| (i, row.iter().filter(|cell| headers.canonical(cell.as_ref()).is_some()).count()))
        .filter(|&(_, known)| known >= 2)
        .max_by_key(|&(i, known)| (known, std::cmp::Reverse(i)))
        .map(|(i, _)| i)
}

/// A spreadsheet number as Excel displays it when edited: whole numbers without `.0`, and at most
/// 15 significant digits (`440113201410050000`, not the double's exact `440113201410049984`).
pub fn float_text(value: f64) -> String {
    if value.fract() != 0.0 || value.abs() >= 1e21 {
        return value.to_string();
    }
    if value.abs() < 1e15 {
        return format!("{value:.0}");
    }
    let scientific = format!("{value:.14e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: usize = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if value < 0.0 { "-" } else { "" };
    format!("{sign}{digits}{}", "0".repeat(exponent.saturating_sub(14)))
}

/// Names the columns of a header: the canonical field where the header is known (two columns of
/// one field are refused: which one holds it cannot be guessed), else the header as typed
/// (`column_N` when blank, made unique).
/// Fails, naming `place` and the headers seen, when a required field has no column.
pub fn name_columns<S: AsRef<str>>(
    path: &Path,
    header: &[S],
    place: &str,
    headers: &HeaderMap,
) -> Result<(Vec<String>, Vec<Option<&'static str>>)> {
    if header.len() > MAX_COLUMNS {
        return Err(Error::input(
            path,
            crate::lang::both(
                &format!("共{}列，超过Excel的上限{MAX_COLUMNS}列：这不像学生信息表", header.len()),
                &format!(
                    "{place}: {} columns; a sheet has at most {MAX_COLUMNS} (Excel's limit): is this a student sheet?",
                    header.len()
                ),
            ),
        ));
    }
    let mut names: Vec<String> = Vec::with_capacity(header.len());
    let mut canonical = Vec::with_capacity(header.len());
    let mut taken: HashSet<String> =
        RESERVED.iter().chain(schema::FIELDS.iter().map(|f| &f.name)).map(|f| f.to_string()).collect();
    let mut field_at: HashMap<&'static str, usize> = HashMap::new();
    for (i, cell) in header.iter().enumerate() {
        let typed = cell.as_ref().trim();
        let field = headers.canonical(typed);
        if let Some(field) = field {
            if let Some(first) = field_at.insert(field, i) {
                return Err(Error::input(
                    path,
                    crate::lang::both(
                        &format!(
                            "第{}列“{}”和第{}列“{typed}”都是{}：请删除或改名其中一列",
                            first + 1,
                            header[first].as_ref().trim(),
                            i + 1,
                            schema::label(field)
                        ),
                        &format!(
                            "{place}: columns {} ({}) and {} ({typed}) both hold {} ({field}); remove or rename one of them",
                            first + 1,
                            header[first].as_ref().trim(),
                            i + 1,
                            schema::label(field)
                        ),
                    ),
                ));
            }
        }
        let mut name = match (field, typed) {
            (Some(field), _) => field.to_owned(),
            (None, "") => format!("column_{}", i + 1),
            (None, typed) => typed.to_owned(),
        };
        // Other columns keep their header, made unique (`备注`, `备注_`).
        while field.is_none() && taken.contains(&name) {
            name.push('_');
        }
        taken.insert(name.clone());
        names.push(name);
        canonical.push(field);
    }
    let missing: Vec<String> = headers
        .required()
        .iter()
        .filter(|f| !canonical.contains(&Some(**f)))
        .map(|f| format!("{} ({f})", schema::label(f)))
        .collect();
    if !missing.is_empty() {
        let seen: Vec<&str> = header.iter().map(|h| h.as_ref().trim()).filter(|h| !h.is_empty()).collect();
        return Err(Error::input(
            path,
            crate::lang::both(
                &format!("表头中缺少必需的列{}；可用 --map 表头=字段 指定", missing.join("、")),
                &format!(
                    "{place}: required column {} not found in the header (headers: {}); name it with --map HEADER=FIELD",
                    missing.join(", "),
                    seen.join(", ")
                ),
            ),
        ));
    }
    Ok((names, canonical))
}

/// The longest cell kept, in characters: Excel's own limit. A longer one is cut and reported.
pub const MAX_CELL_CHARS: usize = 32_767;

/// The widest header read: Excel's 16,384 columns (XFD).
pub const MAX_COLUMNS: usize = 16_384;

/// Column names xueji adds to every table.
pub const RESERVED: [&str; 3] = ["record_id", "source_file", "source_row"];

/// Builds a [`Table`] row by row.
pub struct TableBuilder<'a> {
    path: &'a Path,
    layout: Layout,
    /// Column names: the canonical field name, or the header as typed for other columns.
    names: Vec<String>,
    canonical: Vec<Option<&'static str>>,
    columns: Vec<StringChunkedBuilder>,
    source_rows: Vec<u32>,
    problems: Vec<Problem>,
    blank_rows: usize,
    controls_possible: bool,
}

/// Whether a text holds a control character other than tab and line breaks.
pub fn has_control(text: &str) -> bool {
    let control = |b: u8| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0x7f;
    // Whole blocks without an early exit, which the compiler turns into vector code: a
    // province's CSV is searched in milliseconds.
    text.as_bytes().chunks(256).any(|block| block.iter().fold(false, |found, &b| found | control(b)))
}

impl<'a> TableBuilder<'a> {
    /// `header_row` is the 1-based row number of the header, for messages.
    pub fn new<S: AsRef<str>>(
        path: &'a Path,
        header: &[S],
        header_row: usize,
        headers: &HeaderMap,
    ) -> Result<TableBuilder<'a>> {
        let (names, canonical) = name_columns(path, header, &format!("row {header_row}"), headers)?;
        let columns = names.iter().map(|n| StringChunkedBuilder::new(n.as_str().into(), 1024)).collect();
        let layout = Layout {
            sheet: None,
            header_row: Some(header_row),
            columns: header.iter().map(|h| h.as_ref().trim().to_owned()).zip(canonical.iter().copied()).collect(),
        };
        Ok(TableBuilder {
            path,
            layout,
            names,
            canonical,
            columns,
            source_rows: Vec::new(),
            problems: Vec::new(),
            blank_rows: 0,
            controls_possible: true,
        })
    }

    pub fn width(&self) -> usize {
        self.names.len()
    }

    /// The canonical field of column `i`, if it is one.
    pub fn field(&self, i: usize) -> Option<&'static str> {
        self.canonical.get(i).copied().flatten()
    }

    /// Index the next pushed row will get.
    pub fn next_record(&self) -> usize {
        self.source_rows.len()
    }

    pub fn problem(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    /// Whether any cell may hold a control character: false skips the search when the whole
    /// file was found free of them at once.
    pub fn controls_possible(&mut self, possible: bool) {
        self.controls_possible = possible;
    }

    /// The sheet the rows come from (Excel).
    pub fn sheet(&mut self, name: &str) {
        self.layout.sheet = Some(name.to_owned());
    }

    /// Counts `n` rows with no value at all (a sheet's rows without cells).
    pub fn blank_rows(&mut self, n: usize) {
        self.blank_rows += n;
    }

    /// Adds one data row (`source_row` is 1-based as the analyst sees it). Empty cells become null.
    /// A row with more fields than the header keeps the first ones and reports the rest; a row with
    /// fewer is padded with nulls and reported. Rows with no value at all are counted and skipped.
    pub fn push_row<'c>(&mut self, source_row: u32, cells: impl IntoIterator<Item = &'c str>) {
        // A row of the template fits on the stack: no allocation per row on the one thread
        // that reads a file.
        let (mut short, mut long, mut n): ([&str; 48], Vec<&str>, usize) = ([""; 48], Vec::new(), 0);
        for cell in cells {
            match short.get_mut(n) {
                Some(slot) => *slot = cell,
                None => {
                    if long.is_empty() {
                        long.extend_from_slice(&short);
                    }
                    long.push(cell);
                }
            }
            n += 1;
        }
        let cells: &mut [&str] = if n <= short.len() { &mut short[..n] } else { &mut long[..] };
        // `'2113…`: Excel's mark that a cell is text, kept by some exports. Formatting, not data.
        let mut marked: Vec<usize> = Vec::new();
        for (i, cell) in cells.iter_mut().enumerate() {
            if let Some(rest) = cell.strip_prefix('\'').filter(|r| r.starts_with(|c: char| c.is_ascii_alphanumeric())) {
                *cell = rest;
                marked.push(i);
            }
        }
        let cells: &[&str] = cells;
        if cells.iter().all(|c| c.trim().is_empty()) {
            self.blank_rows += 1;
            return;
        }
        let record = self.next_record();
        // NUL and other control characters are no text a school typed: a damaged file.
        let damaged = |c: &&&str| self.controls_possible && has_control(c);
        if let Some((i, cell)) = cells.iter().enumerate().find(|(_, c)| damaged(c)) {
            let column = self.names.get(i).map_or_else(|| (i + 1).to_string(), |n| schema::label(n).to_owned());
            let message = crate::say!(
                "第{source_row}行“{column}”列：单元格含控制字符(如NUL)，文件可能已损坏",
                "row {source_row}, column {column}: control characters (such as NUL) in the cell: the file may be damaged"
            );
            let shown: String = cell.chars().take(200).map(|c| if c.is_control() { '\u{FFFD}' } else { c }).collect();
            self.problems.push(Problem::new(record, Code::CellControlCharacter, Some(&shown), message));
        }
        let mut long = Vec::new();
        for (i, column) in self.columns.iter_mut().enumerate() {
            match cells.get(i).filter(|c| !c.trim().is_empty()) {
                Some(cell) if cell.len() > MAX_CELL_CHARS && cell.chars().count() > MAX_CELL_CHARS => {
                    let end = cell.char_indices().nth(MAX_CELL_CHARS).map_or(cell.len(), |(at, _)| at);
                    column.append_value(&cell[..end]);
                    long.push(i);
                }
                Some(cell) => column.append_value(cell),
                None => column.append_null(),
            }
        }
        for i in long {
            let chars = cells[i].chars().count();
            let message = crate::say!(
                "第{source_row}行“{}”列：共{chars}个字符，超过单元格上限({MAX_CELL_CHARS})；只保留前{MAX_CELL_CHARS}个",
                "row {source_row}, column {}: {chars} characters, more than a cell holds ({MAX_CELL_CHARS}); the first {MAX_CELL_CHARS} are kept",
                schema::label(&self.names[i])
            );
            let shown: String = cells[i].chars().take(40).chain(['…']).collect();
            self.problems.push(Problem::new(record, Code::CellTooLong, Some(&shown), message));
        }
        if !marked.is_empty() {
            let columns: Vec<&str> =
                marked.iter().map(|&i| self.names.get(i).map_or("?", |n| schema::label(n))).collect();
            let message = crate::say!(
                "第{source_row}行“{}”列开头的'是Excel的文本标记，已去除",
                "row {source_row}, column {}: the leading ' is Excel's mark for text; removed",
                columns.join("、")
            );
            let raw = marked.iter().map(|&i| format!("'{}", cells[i])).collect::<Vec<_>>().join(" | ");
            self.problems.push(Problem::new(record, Code::CellTextMark, Some(&raw), message));
        }
        let width = self.width();
        if cells.len() > width {
            let extra: Vec<&str> = cells[width..].iter().copied().filter(|c| !c.trim().is_empty()).collect();
            if !extra.is_empty() {
                let message = crate::say!(
                    "第{source_row}行有{}个字段，表头有{width}个：多出的值只记在此处",
                    "row {source_row} has {} fields, the header {width}: extra values kept here only",
                    cells.len()
                );
                self.problems.push(Problem::new(record, Code::RowFieldCount, Some(&extra.join(" | ")), message));
            }
        } else if cells.len() < width {
            let message = crate::say!(
                "第{source_row}行有{}个字段，表头有{width}个：“{}”至“{}”列为空",
                "row {source_row} has {} fields, the header {width}: columns {} .. {} are empty",
                cells.len(),
                self.names[cells.len()],
                self.names[width - 1]
            );
            self.problems.push(Problem::new(record, Code::RowFieldCount, None, message));
        }
        self.source_rows.push(source_row);
    }

    /// The table, with `source_file` and `source_row` columns first.
    pub fn finish(self) -> Result<Table> {
        let height = self.source_rows.len();
        let file = self.path.display().to_string();
        let mut columns: Vec<Column> = Vec::with_capacity(self.columns.len() + 2);
        columns.push(Column::new_scalar(
            "source_file".into(),
            Scalar::new(DataType::String, AnyValue::StringOwned(file.into())),
            height,
        ));
        columns.push(Column::new("source_row".into(), self.source_rows));
        columns.extend(self.columns.into_iter().map(|b| b.finish().into_column()));
        let df = DataFrame::new(height, columns)?;
        Ok(Table::single(df, self.problems, self.blank_rows, self.layout))
    }
}

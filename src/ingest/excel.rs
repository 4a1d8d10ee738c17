//! Excel workbooks (.xlsx, .xlsm, .xlsb, .xls) through calamine: every sheet with the template's
//! header (one per class is common) or those named with `--sheet`, the header row found below
//! titles and notes, every cell turned into the text a person sees, a merged range's value given
//! to each of its rows. Sheets without a header (dropdown lists, notes) are listed, not read.
//!
//! Cells are streamed, never laid out as the sheet's whole rectangle: one cell at `XFD1048576`
//! would otherwise ask for 512 GiB. Before calamine unpacks a zip-based workbook, every part's
//! unpacked size is checked against [`Limits::xlsx_part_bytes`] and [`Limits::xlsx_ratio`] (a
//! zip bomb of shared strings or of whitespace stops there), and a sheet's cells against
//! [`Limits::sheet_cells`].

use std::borrow::Cow;
use std::io::Read;
use std::path::Path;

use calamine::{open_workbook_auto, Data, Dimensions, Reader, Sheet, SheetType, SheetVisible, Sheets};
use polars::prelude::*;

use crate::error::{Error, Result};
use crate::ingest::table::{find_header_row, float_text, Table, TableBuilder, HEADER_SEARCH_ROWS};
use crate::ingest::{IngestOptions, Limits, SheetNotRead, RATIO_FROM};
use crate::problems::{Code, Problem};
use crate::schema;

pub fn read(path: &Path, options: &IngestOptions) -> Result<Table> {
    let zipped = path.extension().and_then(|e| e.to_str()).is_some_and(|e| !e.eq_ignore_ascii_case("xls"));
    if zipped {
        check_parts(path, &options.limits)?;
    }
    let mut workbook = open_workbook_auto(path)
        .map_err(|e| Error::input(path, crate::lang::both("无法打开工作簿", &format!("cannot open workbook: {e}"))))?;
    let sheets: Vec<Sheet> = workbook.sheets_metadata().to_vec();
    let names: Vec<String> = sheets.iter().map(|s| s.name.clone()).collect();
    for wanted in &options.sheets {
        if !names.contains(wanted) {
            return Err(Error::input(
                path,
                crate::lang::both(
                    &format!("没有工作表“{wanted}”；现有工作表：{}", names.join("、")),
                    &format!("no sheet {wanted:?}; sheets: {}", names.join(", ")),
                ),
            ));
        }
    }
    let (mut tables, mut not_read) = (Vec::new(), Vec::new());
    for sheet in &sheets {
        let named = options.sheets.contains(&sheet.name);
        if !options.sheets.is_empty() && !named {
            continue;
        }
        if sheet.typ != SheetType::WorkSheet && !named {
            let reason = format!("not a worksheet ({:?})", sheet.typ);
            let hidden = sheet.visible != SheetVisible::Visible;
            not_read.push(SheetNotRead { path: path.to_owned(), sheet: sheet.name.clone(), rows: 0, hidden, reason });
            continue;
        }
        let mut rows = Rows::new(path, &sheet.name, options, merged_cells(&mut workbook, &sheet.name));
        read_sheet(&mut workbook, path, &sheet.name, &mut rows)?;
        match rows.finish()? {
            Ok(table) => tables.push(table),
            // A sheet named with --sheet must be a student table.
            Err((reason, _)) if named => return Err(Error::input(path, format!("sheet {:?}: {reason}", sheet.name))),
            Err((reason, rows)) => not_read.push(SheetNotRead {
                path: path.to_owned(),
                sheet: sheet.name.clone(),
                rows,
                hidden: sheet.visible != SheetVisible::Visible,
                reason,
            }),
        }
    }
    if tables.is_empty() {
        let why: Vec<String> =
            not_read.iter().map(|s| format!("{:?} ({} rows): {}", s.sheet, s.rows, s.reason)).collect();
        return Err(Error::input(
            path,
            crate::lang::both(
                "工作簿中没有学生信息表",
                &format!(
                    "no sheet holds a student table: {}",
                    if why.is_empty() { "the workbook has no sheets".to_owned() } else { why.join("; ") }
                ),
            ),
        ));
    }
    // Rows of several sheets are told apart by their sheet: `三年级.xlsx#二班`, row 5.
    if tables.len() > 1 {
        for table in &mut tables {
            let sheet = table.parts[0].layout.sheet.clone().unwrap_or_default();
            let source = format!("{}#{sheet}", path.display());
            let height = table.df.height();
            table.df.with_column(Column::new_scalar(
                "source_file".into(),
                Scalar::new(DataType::String, AnyValue::StringOwned(source.into())),
                height,
            ))?;
        }
    }
    let mut table = Table::stack(tables)?;
    table.sheets_not_read = not_read;
    Ok(table)
}

/// The merged ranges of a sheet (.xlsx and .xls; calamine reads none from .xlsb).
fn merged_cells(workbook: &mut Sheets<std::io::BufReader<std::fs::File>>, sheet: &str) -> Vec<Dimensions> {
    match workbook {
        Sheets::Xlsx(book) => book.merge_cells_by_sheet_name(sheet).unwrap_or_default(),
        Sheets::Xls(book) => book.merge_cells_by_sheet_name(sheet).unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Streams the cells of one sheet into `rows`.
fn read_sheet(
    workbook: &mut Sheets<std::io::BufReader<std::fs::File>>,
    path: &Path,
    sheet: &str,
    rows: &mut Rows,
) -> Result<()> {
    let cannot = |e: &dyn std::fmt::Display| Error::input(path, format!("sheet {sheet:?}: cannot read: {e}"));
    match workbook {
        Sheets::Xlsx(book) => {
            let mut reader = book.worksheet_cells_reader(sheet).map_err(|e| cannot(&e))?;
            while let Some(cell) = reader.next_cell().map_err(|e| cannot(&e))? {
                rows.cell(cell.get_position(), cell.get_value().clone().into())?;
            }
        }
        Sheets::Xlsb(book) => {
            let mut reader = book.worksheet_cells_reader(sheet).map_err(|e| cannot(&e))?;
            while let Some(cell) = reader.next_cell().map_err(|e| cannot(&e))? {
                rows.cell(cell.get_position(), cell.get_value().clone().into())?;
            }
        }
        // .xls holds at most 65,536 × 256 cells, a rectangle that fits in memory.
        book => {
            let range = book.worksheet_range(sheet).map_err(|e| cannot(&e))?;
            let (top, left) = range.start().unwrap_or((0, 0));
            for (row, col, value) in range.used_cells() {
                rows.cell((top + row as u32, left + col as u32), value.clone())?;
            }
        }
    }
    Ok(())
}

/// Refuses a workbook with a part that unpacks to more than the limit: the sizes the zip
/// declares are checked, then each part is unpacked (and thrown away) up to the limit, since a
/// declared size can lie.
fn check_parts(path: &Path, limits: &Limits) -> Result<()> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    // Not a zip at all: calamine says what it is.
    let Ok(mut zip) = ::zip::ZipArchive::new(std::io::BufReader::new(file)) else { return Ok(()) };
    for i in 0..zip.len() {
        let mut part = zip.by_index(i).map_err(|e| Error::input(path, format!("cannot open workbook: {e}")))?;
        let name = part.name().map(|n| n.into_owned()).unwrap_or_else(|_| format!("#{}", i + 1));
        let packed = part.compressed_size().max(1);
        let limit = limits.xlsx_part_bytes.min(RATIO_FROM.max(packed.saturating_mul(limits.xlsx_ratio)));
        let refuse = || {
            let (why, option) = if limit < limits.xlsx_part_bytes {
                (format!("{} times its packed size", limits.xlsx_ratio), "--max-xlsx-ratio")
            } else {
                (format!("{} MiB", limits.xlsx_part_bytes >> 20), "--max-xlsx-part-mib")
            };
            Err(Error::input(
                path,
                crate::lang::both(
                    "工作簿解压后过大：可能已损坏或为恶意文件；确属真实数据时可调高限制",
                    &format!("part {name} unpacks to more than {why} (a damaged workbook or a zip bomb?); if it is real, raise {option}"),
                ),
            ))
        };
        if part.size() > limit {
            return refuse();
        }
        let unpacked = std::io::copy(&mut (&mut part).take(limit + 1), &mut std::io::sink())
            .map_err(|e| Error::input(path, format!("cannot open workbook: part {name}: {e}")))?;
        if unpacked > limit {
            return refuse();
        }
    }
    Ok(())
}

/// Streamed cells gathered into rows: the first rows are held until the header is found, then
/// every row goes straight into the table.
struct Rows<'a> {
    path: &'a Path,
    sheet: &'a str,
    options: &'a IngestOptions,
    /// The rows searched for the header, each with its cells (column, value).
    head: Vec<(u32, Vec<(u32, Data)>)>,
    state: State<'a>,
    /// The row being gathered.
    row: Option<(u32, Vec<(u32, Data)>)>,
    cells: u64,
    /// Rows holding any value.
    rows: usize,
    merged: Vec<Merged>,
}

enum State<'a> {
    /// Looking for the header among the first rows.
    Searching,
    /// The table, the sheet column of its first column, the header row and the last row pushed
    /// (rows between are blank).
    Reading { table: TableBuilder<'a>, left: u32, header: u32, last: u32 },
    /// No student table here: why (its rows are still counted).
    NotATable(String),
}

/// A merged range: only its top-left cell holds the value, which every row of the range shows.
struct Merged {
    range: Dimensions,
    value: Option<Data>,
    /// The first record the value was given to, and the last sheet row, for the one report.
    filled: Option<(usize, u32)>,
}

impl<'a> Rows<'a> {
    fn new(path: &'a Path, sheet: &'a str, options: &'a IngestOptions, merged: Vec<Dimensions>) -> Rows<'a> {
        // Ranges within one row (a title across the columns) give no row a value.
        let merged = merged
            .into_iter()
            .filter(|range| range.end.0 > range.start.0)
            .map(|range| Merged { range, value: None, filled: None })
            .collect();
        Rows { path, sheet, options, head: Vec::new(), state: State::Searching, row: None, cells: 0, rows: 0, merged }
    }

    fn cell(&mut self, (row, col): (u32, u32), value: Data) -> Result<()> {
        if value == Data::Empty {
            return Ok(());
        }
        self.cells += 1;
        if self.cells > self.options.limits.sheet_cells {
            return Err(Error::input(
                self.path,
                format!(
                    "sheet {:?}: more than {} cells; if it is real, raise --max-sheet-cells or split the sheet",
                    self.sheet, self.options.limits.sheet_cells
                ),
            ));
        }
        if let Some(merged) = self.merged.iter_mut().find(|m| m.range.start == (row, col)) {
            merged.value = Some(value.clone());
        }
        match &mut self.row {
            Some((at, cells)) if *at == row => cells.push((col, value)),
            Some((at, _)) if *at > row => {
                return Err(Error::input(
                    self.path,
                    format!(
                        "sheet {:?}: row {} comes after row {}: the sheet is damaged",
                        self.sheet,
                        row + 1,
                        *at + 1
                    ),
                ))
            }
            _ => {
                if let Some(done) = self.row.replace((row, vec![(col, value)])) {
                    self.row_done(done);
                }
            }
        }
        Ok(())
    }

    fn row_done(&mut self, (row, cells): (u32, Vec<(u32, Data)>)) {
        self.rows += 1;
        match self.state {
            State::Searching => {
                let first = self.head.first().map_or(row, |r| r.0);
                if row < first + HEADER_SEARCH_ROWS as u32 {
                    self.head.push((row, cells));
                    return;
                }
                self.start_table();
                self.push(row, cells);
            }
            State::Reading { .. } => self.push(row, cells),
            State::NotATable(_) => {}
        }
    }

    /// Finds the header among the held rows and pushes the rows below it; a sheet without one
    /// is no student table.
    fn start_table(&mut self) {
        let head = std::mem::take(&mut self.head);
        let left = head.iter().flat_map(|(_, cells)| cells.iter().map(|c| c.0)).min().unwrap_or(0);
        let texts: Vec<Vec<Cow<str>>> = head
            .iter()
            .map(|(_, cells)| {
                let mut texts =
                    vec![Cow::Borrowed(""); cells.iter().map(|c| (c.0 - left) as usize + 1).max().unwrap_or(0)];
                for (col, value) in cells {
                    texts[(col - left) as usize] = cell_text(value).0;
                }
                texts
            })
            .collect();
        let Some(header_index) = find_header_row(&texts, &self.options.headers) else {
            self.state = State::NotATable(format!(
                "no header row in the first {HEADER_SEARCH_ROWS} rows: expected template headers such as 姓名, 性别, 出生日期, 身份证件号"
            ));
            return;
        };
        let header = head[header_index].0;
        let mut table =
            match TableBuilder::new(self.path, &texts[header_index], header as usize + 1, &self.options.headers) {
                Ok(table) => table,
                Err(e) => {
                    // The builder's message names the file; the sheet is said beside it.
                    let path = self.path.display().to_string();
                    let message = e.to_string();
                    let reason = message.strip_prefix(&path).map_or(message.as_str(), |m| m.trim_start_matches(": "));
                    self.state = State::NotATable(reason.to_owned());
                    return;
                }
            };
        table.sheet(self.sheet);
        drop(texts);
        self.state = State::Reading { table, left, header, last: header };
        for (row, cells) in head.into_iter().skip(header_index + 1) {
            self.push(row, cells);
        }
    }

    /// One data row: empty rows since the last one are counted as blank; cells beyond the header
    /// (or left of it) are kept after it, so the table reports them.
    fn push(&mut self, row: u32, mut cells: Vec<(u32, Data)>) {
        let State::Reading { table, left, header, last } = &mut self.state else { return };
        table.blank_rows(row.saturating_sub(*last + 1) as usize);
        *last = row;
        let source_row = row as usize + 1;
        let width = table.width();
        let record = table.next_record();
        // A merged range below the header gives each of its rows the top cell's value.
        for merged in self.merged.iter_mut().filter(|m| m.range.start.0 > *header) {
            let (top, col) = merged.range.start;
            let Some(value) = merged.value.as_ref().filter(|_| (top..=merged.range.end.0).contains(&row)) else {
                continue;
            };
            if !cells.iter().any(|c| c.0 == col) {
                cells.push((col, value.clone()));
                cells.sort_by_key(|c| c.0);
            }
            let first = merged.filled.map_or(record, |(first, _)| first);
            merged.filled = Some((first, row));
        }
        // A sheet has no field count: cells not there are empty, never missing fields.
        let mut texts: Vec<Cow<str>> = vec![Cow::Borrowed(""); width];
        let mut extra: Vec<Cow<str>> = Vec::new();
        for (col, value) in &cells {
            let (text, lost_digits) = cell_text(value);
            let at = (*col >= *left).then(|| (col - *left) as usize).filter(|&i| i < width);
            let field = at.and_then(|i| table.field(i));
            let column =
                || crate::say!("第{source_row}行{}列", "row {source_row}, column {}", column_letter(*col as usize));
            // Only an ID number is long enough (18 digits) to lose digits in a spreadsheet number.
            if lost_digits && field == Some("id_number") {
                let message = crate::say!(
                    "{}：{}被Excel存为数值，只保留15位有效数字；请以文本格式重新录入",
                    "{}: {} was stored as an Excel number, which keeps only 15 digits; re-enter it as text",
                    column(),
                    schema::label("id_number")
                );
                table.problem(Problem::new(record, Code::CellNumberPrecisionLost, Some(&text), message));
            }
            let text = if let Data::Error(e) = value {
                let message = crate::say!(
                    "{}：单元格为错误值{e}，按空值读取",
                    "{}: cell holds the error value {e}; read as empty",
                    column()
                );
                table.problem(Problem::new(record, Code::CellError, Some(&text), message));
                // `#DIV/0!` is no value: as an ID number it would make every such record one person.
                Cow::Borrowed("")
            } else {
                text
            };
            match at {
                Some(i) => texts[i] = text,
                None => extra.push(text),
            }
        }
        texts.extend(extra);
        table.push_row(source_row as u32, texts.iter().map(|t| t.as_ref()));
    }

    /// The table, or why the sheet holds none and how many rows it has.
    fn finish(mut self) -> Result<std::result::Result<Table, (String, usize)>> {
        if let Some(done) = self.row.take() {
            self.row_done(done);
        }
        if matches!(self.state, State::Searching) {
            self.start_table();
        }
        let merged = std::mem::take(&mut self.merged);
        match self.state {
            State::Reading { mut table, left, .. } => {
                for merged in merged {
                    let Some((first, last)) = merged.filled else { continue };
                    let (top, col) = merged.range.start;
                    let label = col
                        .checked_sub(left)
                        .and_then(|i| table.field(i as usize))
                        .map_or_else(|| column_letter(col as usize), |field| schema::label(field).to_owned());
                    let value = merged.value.as_ref().map(|v| cell_text(v).0.into_owned()).unwrap_or_default();
                    let message = crate::say!(
                        "第{}–{}行“{label}”列是合并单元格：“{value}”已填入每一行",
                        "rows {}–{}, column {label}: merged cells; {value:?} is given to every row",
                        top + 1,
                        last + 1
                    );
                    table.problem(Problem::new(first, Code::CellMerged, Some(&value), message));
                }
                Ok(Ok(table.finish()?))
            }
            State::NotATable(reason) => Ok(Err((reason, self.rows))),
            State::Searching => unreachable!("the header search ends in a table or a reason"),
        }
    }
}

/// The text of a cell as a person reads it, and whether it is a number too long to be exact.
/// Whole numbers print without `.0`; dates as `YYYY-MM-DD` (with the time when there is one).
fn cell_text(cell: &Data) -> (Cow<'_, str>, bool) {
    match cell {
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => (Cow::Borrowed(s.as_str()), false),
        Data::Int(i) => (i.to_string().into(), i.unsigned_abs() >= 1_000_000_000_000_000),
        Data::Float(f) => (float_text(*f).into(), f.abs() >= 1e15),
        Data::Bool(b) => (Cow::Borrowed(if *b { "TRUE" } else { "FALSE" }), false),
        Data::DateTime(dt) => {
            let (y, m, d, hh, mm, ss, _) = dt.to_ymd_hms_milli();
            let text = if (hh, mm, ss) == (0, 0, 0) {
                format!("{y:04}-{m:02}-{d:02}")
            } else {
                format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}")
            };
            (text.into(), false)
        }
        Data::Error(e) => (e.to_string().into(), false),
        Data::Empty => (Cow::Borrowed(""), false),
    }
}

/// Excel's column name: 0 → A, 25 → Z, 26 → AA.
pub fn column_letter(mut index: usize) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push(b'A' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    letters.reverse();
    String::from_utf8(letters).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_letters() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(701), "ZZ");
        assert_eq!(column_letter(702), "AAA");
    }

    #[test]
    fn cells_read_as_people_see_them() {
        assert_eq!(cell_text(&Data::Float(41703.0)), ("41703".into(), false));
        assert_eq!(cell_text(&Data::Float(110105194912310000.0)), ("110105194912310000".into(), true));
        assert_eq!(cell_text(&Data::Float(440113201410050000.0)), ("440113201410050000".into(), true), "not ...49984");
        assert_eq!(
            cell_text(&Data::Float(310112850409522.0)),
            ("310112850409522".into(), false),
            "15 digits are exact"
        );
        assert_eq!(cell_text(&Data::Int(13800138000)), ("13800138000".into(), false));
        assert_eq!(cell_text(&Data::Float(1.5)), ("1.5".into(), false));
        assert_eq!(cell_text(&Data::Empty), ("".into(), false));
    }
}

//! Excel workbooks (.xlsx, .xlsm, .xlsb, .xls) through calamine: the first sheet or `--sheet`,
//! header row found below titles and notes, every cell turned into the text a person sees.
//!
//! Cells are streamed, never laid out as the sheet's whole rectangle: one cell at `XFD1048576`
//! would otherwise ask for 512 GiB. Before calamine unpacks a zip-based workbook, every part's
//! unpacked size is checked against [`Limits::xlsx_part_bytes`] and [`Limits::xlsx_ratio`] (a
//! zip bomb of shared strings or of whitespace stops there), and a sheet's cells against
//! [`Limits::sheet_cells`].

use std::borrow::Cow;
use std::io::Read;
use std::path::Path;

use calamine::{open_workbook_auto, Data, Reader, Sheets};

use crate::error::{Error, Result};
use crate::ingest::table::{find_header_row, float_text, Table, TableBuilder, HEADER_SEARCH_ROWS};
use crate::ingest::{IngestOptions, Limits, RATIO_FROM};
use crate::problems::{Code, Problem};
use crate::schema;

pub fn read(path: &Path, options: &IngestOptions) -> Result<Table> {
    let zipped = path.extension().and_then(|e| e.to_str()).is_some_and(|e| !e.eq_ignore_ascii_case("xls"));
    if zipped {
        check_parts(path, &options.limits)?;
    }
    let mut workbook =
        open_workbook_auto(path).map_err(|e| Error::input(path, format!("cannot open workbook: {e}")))?;
    let sheets = workbook.sheet_names();
    let sheet = match &options.sheet {
        Some(wanted) if sheets.contains(wanted) => wanted.clone(),
        Some(wanted) => return Err(Error::input(path, format!("no sheet {wanted:?}; sheets: {}", sheets.join(", ")))),
        None => sheets.first().cloned().ok_or_else(|| Error::input(path, "workbook has no sheets"))?,
    };
    let mut rows = Rows { path, sheet: &sheet, options, head: Vec::new(), table: None, row: None, cells: 0 };
    let cannot = |e: &dyn std::fmt::Display| Error::input(path, format!("sheet {sheet:?}: cannot read: {e}"));
    match &mut workbook {
        Sheets::Xlsx(book) => {
            let mut reader = book.worksheet_cells_reader(&sheet).map_err(|e| cannot(&e))?;
            while let Some(cell) = reader.next_cell().map_err(|e| cannot(&e))? {
                rows.cell(cell.get_position(), cell.get_value().clone().into())?;
            }
        }
        Sheets::Xlsb(book) => {
            let mut reader = book.worksheet_cells_reader(&sheet).map_err(|e| cannot(&e))?;
            while let Some(cell) = reader.next_cell().map_err(|e| cannot(&e))? {
                rows.cell(cell.get_position(), cell.get_value().clone().into())?;
            }
        }
        // .xls holds at most 65,536 × 256 cells, a rectangle that fits in memory.
        book => {
            let range = book.worksheet_range(&sheet).map_err(|e| cannot(&e))?;
            let (top, left) = range.start().unwrap_or((0, 0));
            for (row, col, value) in range.used_cells() {
                rows.cell((top + row as u32, left + col as u32), value.clone())?;
            }
        }
    }
    rows.finish()
}

/// Refuses a workbook with a part that unpacks to more than the limit: the sizes the zip
/// declares are checked, then each part is unpacked (and thrown away) up to the limit, since a
/// declared size can lie.
fn check_parts(path: &Path, limits: &Limits) -> Result<()> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    // Not a zip at all: calamine says what it is.
    let Ok(mut zip) = zip::ZipArchive::new(std::io::BufReader::new(file)) else { return Ok(()) };
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
                format!("part {name} unpacks to more than {why} (a damaged workbook or a zip bomb?); if it is real, raise {option}"),
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
    /// Once the header is found: the table, the sheet column of its first column, and the last
    /// row pushed (rows between are blank).
    table: Option<(TableBuilder<'a>, u32, u32)>,
    /// The row being gathered.
    row: Option<(u32, Vec<(u32, Data)>)>,
    cells: u64,
}

impl<'a> Rows<'a> {
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
                    self.row_done(done)?;
                }
            }
        }
        Ok(())
    }

    fn row_done(&mut self, (row, cells): (u32, Vec<(u32, Data)>)) -> Result<()> {
        if self.table.is_none() {
            let first = self.head.first().map_or(row, |r| r.0);
            if row < first + HEADER_SEARCH_ROWS as u32 {
                self.head.push((row, cells));
                return Ok(());
            }
            self.start_table()?;
        }
        self.push(row, cells);
        Ok(())
    }

    /// Finds the header among the held rows and pushes the rows below it.
    fn start_table(&mut self) -> Result<()> {
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
        let header_index = find_header_row(&texts, &self.options.headers).ok_or_else(|| {
            Error::input(self.path, format!("sheet {:?}: no header row in the first {HEADER_SEARCH_ROWS} rows: expected template headers such as 姓名, 性别, 出生日期, 身份证件号", self.sheet))
        })?;
        let header_row = head[header_index].0;
        let mut table =
            TableBuilder::new(self.path, &texts[header_index], header_row as usize + 1, &self.options.headers)?;
        table.sheet(self.sheet);
        drop(texts);
        self.table = Some((table, left, header_row));
        for (row, cells) in head.into_iter().skip(header_index + 1) {
            self.push(row, cells);
        }
        Ok(())
    }

    /// One data row: empty rows since the last one are counted as blank; cells beyond the header
    /// (or left of it) are kept after it, so the table reports them.
    fn push(&mut self, row: u32, cells: Vec<(u32, Data)>) {
        let Some((table, left, last)) = self.table.as_mut() else { return };
        table.blank_rows(row.saturating_sub(*last + 1) as usize);
        *last = row;
        let source_row = row as usize + 1;
        let width = table.width();
        // A sheet has no field count: cells not there are empty, never missing fields.
        let mut texts: Vec<Cow<str>> = vec![Cow::Borrowed(""); width];
        let mut extra: Vec<Cow<str>> = Vec::new();
        let record = table.next_record();
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

    fn finish(mut self) -> Result<Table> {
        if let Some(done) = self.row.take() {
            self.row_done(done)?;
        }
        if self.table.is_none() {
            self.start_table()?;
        }
        let (table, _, _) = self.table.take().expect("started");
        table.finish()
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

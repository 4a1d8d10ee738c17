//! Excel workbooks (.xlsx, .xlsm, .xlsb, .xls) through calamine: the first sheet or `--sheet`,
//! header row found below titles and notes, every cell turned into the text a person sees.

use std::borrow::Cow;
use std::path::Path;

use calamine::{open_workbook_auto, Data, Reader};

use crate::error::{Error, Result};
use crate::ingest::table::{find_header_row, float_text, Table, TableBuilder, HEADER_SEARCH_ROWS};
use crate::ingest::IngestOptions;
use crate::problems::{Code, Problem};
use crate::schema;

pub fn read(path: &Path, options: &IngestOptions) -> Result<Table> {
    let mut workbook =
        open_workbook_auto(path).map_err(|e| Error::input(path, format!("cannot open workbook: {e}")))?;
    let sheets = workbook.sheet_names();
    let sheet = match &options.sheet {
        Some(wanted) if sheets.contains(wanted) => wanted.clone(),
        Some(wanted) => return Err(Error::input(path, format!("no sheet {wanted:?}; sheets: {}", sheets.join(", ")))),
        None => sheets.first().cloned().ok_or_else(|| Error::input(path, "workbook has no sheets"))?,
    };
    let range = workbook
        .worksheet_range(&sheet)
        .map_err(|e| Error::input(path, format!("sheet {sheet:?}: cannot read: {e}")))?;
    // Row numbers as Excel shows them: the range may start below row 1.
    let first_row = range.start().map_or(0, |(row, _)| row as usize) + 1;

    let head: Vec<Vec<Cow<str>>> =
        range.rows().take(HEADER_SEARCH_ROWS).map(|row| row.iter().map(|c| cell_text(c).0).collect()).collect();
    let header_index = find_header_row(&head, &options.headers).ok_or_else(|| {
        Error::input(path, format!("sheet {sheet:?}: no header row in the first {HEADER_SEARCH_ROWS} rows: expected template headers such as 姓名, 性别, 出生日期, 身份证件号"))
    })?;
    let mut table = TableBuilder::new(path, &head[header_index], first_row + header_index, &options.headers)?;
    let mut texts: Vec<Cow<str>> = Vec::with_capacity(table.width());
    for (offset, row) in range.rows().enumerate().skip(header_index + 1) {
        let source_row = first_row + offset;
        texts.clear();
        for (col, cell) in row.iter().enumerate() {
            let (text, lost_digits) = cell_text(cell);
            let field = table.field(col);
            let record = table.next_record();
            let column = || format!("row {source_row}, column {}", column_letter(col));
            // Only an ID number is long enough (18 digits) to lose digits in a spreadsheet number.
            if lost_digits && field == Some("id_number") {
                let message = format!(
                    "{}: {} was stored as an Excel number, which keeps only 15 digits; re-enter it as text",
                    column(),
                    schema::label(field.unwrap_or(""))
                );
                table.problem(Problem::new(record, Code::CellNumberPrecisionLost, Some(&text), message));
            }
            if let Data::Error(e) = cell {
                table.problem(Problem::new(
                    record,
                    Code::CellError,
                    Some(&text),
                    format!("{}: cell holds the error value {e}", column()),
                ));
            }
            texts.push(text);
        }
        table.push_row(source_row as u32, texts.iter().map(|t| t.as_ref()));
    }
    table.finish()
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

//! CSV in UTF-8 (with or without BOM) or GB18030/GBK, comma-, tab- or semicolon-separated.

use std::borrow::Cow;
use std::path::Path;

use crate::error::{Error, Result};
use crate::ingest::table::{find_header_row, has_control, Table, TableBuilder, HEADER_SEARCH_ROWS};
use crate::ingest::{Encoding, IngestOptions};
use crate::problems::{Code, Problem};

pub fn read(path: &Path, options: &IngestOptions) -> Result<Table> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut text = decode(path, &bytes, options.encoding)?;
    // Old Mac files end lines with CR alone: as lines, not as one line of records.
    if !text.contains('\n') && text.contains('\r') {
        text = text.replace('\r', "\n").into();
    }
    let delimiter = sniff_delimiter(&text);
    let reader = || {
        csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(text.as_bytes())
    };

    let mut head: Vec<Vec<String>> = Vec::with_capacity(HEADER_SEARCH_ROWS);
    for record in reader().records().take(HEADER_SEARCH_ROWS) {
        let record = record.map_err(|e| csv_error(path, e))?;
        head.push(record.iter().map(str::to_owned).collect());
    }
    let Some(header_index) = find_header_row(&head, &options.headers) else {
        return Err(Error::input(path, crate::lang::both(
            &format!("前{HEADER_SEARCH_ROWS}行中没有模板表头(姓名、性别、出生日期、身份证件号…)"),
            &format!("no header row in the first {HEADER_SEARCH_ROWS} rows: expected template headers such as 姓名, 性别, 出生日期, 身份证件号"),
        )));
    };
    // The reader places a record where the previous one ended: blank lines and the LF of a
    // CRLF before it would put it a line (or many) too early.
    let line_of = |record: &csv::StringRecord| {
        record.position().map_or(0, |p| {
            let before = text.as_bytes()[p.byte() as usize..].iter().take_while(|&&b| b == b'\n' || b == b'\r');
            p.line() + before.filter(|&&b| b == b'\n').count() as u64
        })
    };
    let mut records = reader().into_records();
    let mut header_line = 0;
    for _ in 0..=header_index {
        header_line = records.next().and_then(|r| r.ok()).map_or(0, |r| line_of(&r));
    }
    let mut table = TableBuilder::new(path, &head[header_index], header_line as usize, &options.headers)?;
    table.controls_possible(has_control(&text));
    for record in records {
        let record = record.map_err(|e| csv_error(path, e))?;
        let line = line_of(&record);
        // A quote that is never closed swallows the lines after it into one cell: every one of
        // them is named, never lost unseen. (A cell with a line break of its own keeps the row's
        // field count.)
        let joined =
            || -> usize { record.iter().map(|c| c.trim_end_matches(['\r', '\n']).matches('\n').count()).sum() };
        if record.len() != table.width() && joined() > 0 {
            let joined = joined();
            let message = crate::say!(
                "第{line}–{}行被读成一条记录：第{line}行的引号(\")没有闭合，其后{joined}行都并入了一个单元格；请补上引号后重新读取",
                "rows {line}–{} were read as one record: a quote (\") on row {line} is never closed, so the {joined} rows after it became part of one cell; close the quote and read the file again",
                line + joined as u64
            );
            table.problem(Problem::new(table.next_record(), Code::RowsJoined, None, message));
        }
        table.push_row(line as u32, record.iter());
    }
    table.finish()
}

/// The file as UTF-8 text. `Auto` takes a UTF-8 BOM or valid UTF-8 as UTF-8 and anything else as
/// GB18030 (a superset of GBK and GB2312, so rare characters survive).
fn decode<'b>(path: &Path, bytes: &'b [u8], encoding: Encoding) -> Result<Cow<'b, str>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let utf8 = std::str::from_utf8(bytes);
    match (encoding, utf8) {
        (Encoding::Utf8 | Encoding::Auto, Ok(text)) => return Ok(text.into()),
        (Encoding::Utf8, Err(e)) => {
            let line = 1 + bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count();
            return Err(Error::input(
                path,
                crate::lang::both(
                    &format!("第{line}行不是有效的UTF-8文本(第{}字节)；可试 --encoding gb18030", e.valid_up_to()),
                    &format!("line {line}: not valid UTF-8 (byte {}); try --encoding gb18030", e.valid_up_to()),
                ),
            ));
        }
        _ => {}
    }
    match encoding_rs::GB18030.decode_without_bom_handling_and_without_replacement(bytes) {
        Some(text) => Ok(text),
        None => {
            let (text, _) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
            let gb_line = 1 + text.split('\u{FFFD}').next().unwrap_or("").matches('\n').count();
            // A UTF-8 file damaged on line 8 (a NUL or a cut inside a character) reads as GB18030
            // garbage from line 1: the damage is where the longer reading stops.
            let utf8_line =
                utf8.err().map_or(0, |e| 1 + bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count());
            let line = gb_line.max(utf8_line);
            let likely = if utf8_line >= gb_line { "UTF-8" } else { "GB18030" };
            Err(Error::input(
                path,
                crate::lang::both(
                    &format!("第{line}行起既不是UTF-8也不是GB18030文本：文件可能已损坏或不完整"),
                    &format!("line {line}: neither UTF-8 nor GB18030 text (read as {likely}, the bytes stop making sense on this line: a damaged or cut file?)"),
                ),
            ))
        }
    }
}

/// The separator that splits the first lines most consistently (comma by default).
fn sniff_delimiter(text: &str) -> u8 {
    let head: Vec<&str> = text.lines().take(HEADER_SEARCH_ROWS).collect();
    [b',', b'\t', b';', b'|']
        .into_iter()
        .max_by_key(|&d| head.iter().map(|line| line.bytes().filter(|&b| b == d).count()).max().unwrap_or(0))
        .filter(|&d| head.iter().any(|line| line.as_bytes().contains(&d)))
        .unwrap_or(b',')
}

fn csv_error(path: &Path, e: csv::Error) -> Error {
    let line = e.position().map_or(String::new(), |p| format!("line {}: ", p.line()));
    Error::input(path, format!("{line}{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters() {
        assert_eq!(sniff_delimiter("姓名,性别\n张三,1\n"), b',');
        assert_eq!(sniff_delimiter("姓名\t性别\n张三\t1\n"), b'\t');
        assert_eq!(sniff_delimiter("姓名;性别;出生日期\n"), b';');
        assert_eq!(sniff_delimiter("姓名\n"), b',');
    }

    #[test]
    fn encodings() {
        let path = Path::new("t.csv");
        let (gbk, _, _) = encoding_rs::GB18030.encode("姓名,性别\n張三·䶮,男\n");
        assert_eq!(decode(path, &gbk, Encoding::Auto).unwrap(), "姓名,性别\n張三·䶮,男\n");
        assert_eq!(decode(path, "\u{FEFF}姓名".as_bytes(), Encoding::Auto).unwrap(), "姓名");
        let err = decode(path, &gbk, Encoding::Utf8).unwrap_err().to_string();
        assert!(err.starts_with("t.csv: 第1行不是有效的UTF-8文本") && err.contains("line 1: not valid UTF-8"), "{err}");
        assert_eq!(
            decode(path, "姓名".as_bytes(), Encoding::Gb18030).unwrap(),
            "濮撳悕",
            "forced encodings are obeyed"
        );
    }
}

//! CSV in UTF-8 (with or without BOM) or GB18030/GBK, comma-, tab- or semicolon-separated.
//!
//! A province's CSV (2 GB at 10M records) is read a block at a time and each block's records are
//! parsed in parallel pieces, cut only where a record ends: after a line feed outside quotes.
//! The file's SHA-256 (for the manifest) is taken from the same bytes beside the parsing, so the
//! file is read once and never held whole.

use std::borrow::Cow;
use std::io::Read;
use std::path::Path;

use polars::prelude::*;
use polars_core::runtime::THREAD_POOL;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::files::hex;
use crate::ingest::table::{find_header_row, has_control, Part, Table, TableBuilder, HEADER_SEARCH_ROWS};
use crate::ingest::{Encoding, IngestOptions};
use crate::problems::{Code, Problem};

/// Bytes parsed by one task: large enough that a task's setup is noise, small enough to keep
/// both cores busy on a school's file.
const PIECE_BYTES: usize = 16 << 20;

/// Bytes read from the file at a time: several pieces for each core.
const BLOCK_BYTES: usize = 64 << 20;

/// Bytes searched for the header row (the first rows of a file, however wide).
const HEAD_BYTES: usize = 1 << 20;

pub fn read(path: &Path, options: &IngestOptions) -> Result<Table> {
    read_in_blocks(path, options, BLOCK_BYTES, PIECE_BYTES)
}

/// [`read`] with its block and piece sizes given (the tests make them a few bytes).
fn read_in_blocks(path: &Path, options: &IngestOptions, block_bytes: usize, piece_bytes: usize) -> Result<Table> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut pending = Vec::new();
    let mut at_end = fill(path, &mut file, &mut pending, block_bytes)?;
    let bom = if pending.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
    // Streamed when the file starts as UTF-8 with line feeds; anything else (GB18030, old Mac
    // line ends) is decoded whole, as the school-sized files that come so are. Each piece is
    // checked to be UTF-8 as it is parsed.
    let head = match pending[bom..].iter().take(HEAD_BYTES).rposition(|&b| b == b'\n') {
        _ if at_end && pending.len() - bom <= HEAD_BYTES => &pending[bom..],
        Some(end) => &pending[bom..bom + end + 1],
        None => &[],
    };
    let start = match (options.encoding, std::str::from_utf8(head)) {
        (Encoding::Utf8 | Encoding::Auto, Ok(head)) if head.contains('\n') => {
            Start::find(path, head, at_end && head.len() == pending.len() - bom, options)?
        }
        _ => None,
    };
    let Some(start) = start else {
        drop(pending);
        return read_whole(path, options);
    };

    // `pending` holds bytes read but not yet parsed, from the start of a record, `offset`
    // bytes into the file; `pending[fresh..]` is not hashed yet.
    let mut hasher = Sha256::new_with_prefix(&pending[..bom + start.body]);
    pending.drain(..bom + start.body);
    let (mut fresh, mut offset) = (0, (bom + start.body) as u64);
    let mut lines_before = start.lines;
    let mut tables = Vec::new();
    loop {
        let cuts = match cuts(&pending, start.delimiter, at_end, piece_bytes) {
            Some(cuts) => cuts,
            // A quote only a reader going from the start can place (a stray `"` inside a cell, a
            // quote never closed): the rest of the file is parsed as one piece, as such a reader.
            None if !at_end => {
                at_end = fill(path, &mut file, &mut pending, usize::MAX)?;
                continue;
            }
            None => vec![pending.len()],
        };
        let end = cuts.last().copied().unwrap_or(0);
        let at = Place { lines_before, offset };
        let (parsed, ()) = THREAD_POOL.install(|| {
            rayon::join(
                || parse_pieces(path, &pending[..end], &cuts, at, &start, options, at_end),
                || hasher.update(&pending[fresh..]),
            )
        });
        match parsed? {
            Ok((pieces, lines)) => {
                tables.extend(pieces);
                lines_before += lines;
            }
            // Not UTF-8 after all (a GB18030 file whose first block is plain ASCII).
            Err(_) if options.encoding == Encoding::Auto => {
                drop((pending, tables));
                return read_whole(path, options);
            }
            Err(NotUtf8 { line, byte }) => return Err(not_utf8(path, line, byte)),
        }
        pending.drain(..end);
        fresh = pending.len();
        offset += end as u64;
        if at_end {
            break;
        }
        // A block without one whole record (a cell of many megabytes) grows until it has one.
        let wanted = if end == 0 { pending.len().max(block_bytes) } else { block_bytes };
        at_end = fill(path, &mut file, &mut pending, wanted)?;
    }
    one_part(tables, &start, path, options, hex(&hasher.finalize()))
}

/// Reads and decodes the whole file first: GB18030, a file that is not UTF-8 after its first
/// block, old Mac line ends, a header not found in the first block.
fn read_whole(path: &Path, options: &IngestOptions) -> Result<Table> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let (decoded, sha256) =
        THREAD_POOL.install(|| rayon::join(|| decode(path, &bytes, options.encoding), || hex(&Sha256::digest(&bytes))));
    let mut text = decoded?;
    // Old Mac files end lines with CR alone: as lines, not as one line of records.
    if !text.contains('\n') && text.contains('\r') {
        text = text.replace('\r', "\n").into();
    }
    let Some(start) = Start::find(path, &text, true, options)? else {
        return Err(Error::Internal("a header search over a whole file always decides".into()));
    };
    let body = &text.as_bytes()[start.body..];
    let cuts = cuts(body, start.delimiter, true, PIECE_BYTES).unwrap_or_else(|| vec![body.len()]);
    // Decoded text, UTF-8 throughout: the piece's own check cannot fail (the offset is in the text).
    let at = Place { lines_before: start.lines, offset: start.body as u64 };
    match THREAD_POOL.install(|| parse_pieces(path, body, &cuts, at, &start, options, true))? {
        Ok((tables, _)) => one_part(tables, &start, path, options, sha256),
        Err(NotUtf8 { line, byte }) => Err(not_utf8(path, line, byte)),
    }
}

/// Appends up to `wanted` more bytes of `file` to `buffer`; true at the end of the file.
fn fill(path: &Path, file: &mut std::fs::File, buffer: &mut Vec<u8>, wanted: usize) -> Result<bool> {
    let read = file.by_ref().take(wanted as u64).read_to_end(buffer).map_err(|e| Error::io(path, e))?;
    Ok(read < wanted)
}

/// Line feeds in `bytes`, counted in byte lanes the compiler turns into vector code.
fn count_lines(bytes: &[u8]) -> u64 {
    bytes.chunks(255).map(|c| u64::from(c.iter().fold(0u8, |n, &b| n + u8::from(b == b'\n')))).sum()
}

/// The header found, and where the records start.
struct Start {
    delimiter: u8,
    header: Vec<String>,
    /// 1-based line of the header row.
    header_line: usize,
    /// Byte offset of the first record after the header, and the line feeds before it.
    body: usize,
    lines: u64,
}

impl Start {
    /// The header among the first rows of `text`. `None` when `text` is the first block of a
    /// larger file and its rows run past the block (the whole file is read then).
    fn find(path: &Path, text: &str, whole: bool, options: &IngestOptions) -> Result<Option<Start>> {
        let delimiter = sniff_delimiter(text);
        let mut reader = csv_reader(text, delimiter);
        let mut record = csv::StringRecord::new();
        let (mut rows, mut ends) = (Vec::with_capacity(HEADER_SEARCH_ROWS), Vec::new());
        while rows.len() < HEADER_SEARCH_ROWS && reader.read_record(&mut record).map_err(|e| csv_error(path, e, 0))? {
            rows.push(record.iter().map(str::to_owned).collect::<Vec<_>>());
            ends.push((reader.position().byte() as usize, line_of(text, record.position())));
        }
        let complete = |end: usize| whole || end < text.len();
        match find_header_row(&rows, &options.headers) {
            Some(i) if complete(ends[i].0) => {
                let (body, header_line) = ends[i];
                let lines = count_lines(&text.as_bytes()[..body]);
                Ok(Some(Start { delimiter, header: rows.swap_remove(i), header_line: header_line as usize, body, lines }))
            }
            _ if !whole => Ok(None),
            _ => Err(Error::input(path, crate::lang::both(
                &format!("前{HEADER_SEARCH_ROWS}行中没有模板表头(姓名、性别、出生日期、身份证件号…)"),
                &format!("no header row in the first {HEADER_SEARCH_ROWS} rows: expected template headers such as 姓名, 性别, 出生日期, 身份证件号"),
            ))),
        }
    }
}

fn csv_reader(text: &str, delimiter: u8) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(text.as_bytes())
}

/// The 1-based line a record starts on. The reader places a record where the previous one
/// ended: blank lines and the LF of a CRLF before it would put it a line (or many) too early.
fn line_of(text: &str, position: Option<&csv::Position>) -> u64 {
    position.map_or(0, |p| {
        let before = text.as_bytes()[p.byte() as usize..].iter().take_while(|&&b| b == b'\n' || b == b'\r');
        p.line() + before.filter(|&&b| b == b'\n').count() as u64
    })
}

/// Where `text` (starting at a record) may be cut into pieces of about `piece_bytes`: offsets
/// just after a line feed outside quotes, rising; the last is the end of the last whole record
/// (the text's end when `whole`: the file's last bytes). An empty list when no record ends in a
/// partial text. `None` when a quote is not where CSV puts one — a stray `"` inside a cell, a
/// quote never closed — for then only a reader going from the start knows where records end.
fn cuts(text: &[u8], delimiter: u8, whole: bool, piece_bytes: usize) -> Option<Vec<usize>> {
    let mut cuts = Vec::new();
    let mut wanted = piece_bytes;
    // Line feeds at or after `from` are record ends until the next opening quote.
    let mut from = 0;
    let mut last_end = 0;
    let mut quotes = memchr::memchr_iter(b'"', text);
    'text: loop {
        let open = quotes.next();
        let gap = &text[from..open.unwrap_or(text.len())];
        while wanted < from + gap.len() {
            let at = wanted.max(from);
            match memchr::memchr(b'\n', &text[at..from + gap.len()]) {
                Some(i) => {
                    cuts.push(at + i + 1);
                    wanted = at + i + 1 + piece_bytes;
                }
                None => break,
            }
        }
        if let Some(i) = memchr::memrchr(b'\n', gap) {
            last_end = from + i + 1;
        }
        let Some(open) = open else { break };
        if open > 0 && !matches!(text[open - 1], b'\n' | b'\r') && text[open - 1] != delimiter {
            return None;
        }
        loop {
            let Some(close) = quotes.next() else {
                // Open at the end of the text: closed in the next block, or never.
                if whole {
                    return None;
                }
                break 'text;
            };
            match text.get(close + 1) {
                Some(b'"') => {
                    quotes.next();
                }
                Some(&b) if b == delimiter || b == b'\n' || b == b'\r' => {
                    from = close + 1;
                    break;
                }
                None if whole => {
                    from = close + 1;
                    break;
                }
                // A quote at the very end of a block may be the first of a pair.
                None => break 'text,
                Some(_) => return None,
            }
        }
    }
    let end = if whole { text.len() } else { last_end };
    cuts.retain(|&c| c < end);
    if end > 0 {
        cuts.push(end);
    }
    Some(cuts)
}

/// Whether `raw`, a record's text to the end of the file, ends inside a quoted field: a quote
/// never closed (a quote inside an unquoted field is text, as the reader takes it).
fn open_at_end(raw: &[u8], delimiter: u8) -> bool {
    let (mut quoted, mut field_start) = (false, true);
    let mut bytes = raw.iter().peekable();
    while let Some(&b) = bytes.next() {
        if quoted {
            if b == b'"' && bytes.next_if_eq(&&b'"').is_none() {
                quoted = false;
            }
        } else if b == b'"' && field_start {
            quoted = true;
        }
        field_start = !quoted && (b == delimiter || b == b'\n' || b == b'\r');
    }
    quoted
}

/// Where a text starts in its file: the line feeds and bytes before it.
#[derive(Clone, Copy)]
struct Place {
    lines_before: u64,
    offset: u64,
}

/// A piece that is not UTF-8: the line and the file's byte where it stops being so.
struct NotUtf8 {
    line: u64,
    byte: u64,
}

/// The records of `bytes` (starting at a record), cut at `cuts`, parsed in parallel; with the
/// line feeds they hold. `ends_file`: the bytes run to the end of the file.
fn parse_pieces(
    path: &Path,
    bytes: &[u8],
    cuts: &[usize],
    at: Place,
    start: &Start,
    options: &IngestOptions,
    ends_file: bool,
) -> Result<std::result::Result<(Vec<Table>, u64), NotUtf8>> {
    let bounds: Vec<(usize, usize)> =
        cuts.iter().scan(0, |from, &to| Some((std::mem::replace(from, to), to))).collect();
    let lines: Vec<u64> = bounds.par_iter().map(|&(a, b)| count_lines(&bytes[a..b])).collect();
    let total = lines.iter().sum();
    let firsts = lines.iter().scan(at.lines_before, |before, n| Some(std::mem::replace(before, *before + n)));
    let pieces: Vec<(usize, usize, u64)> = bounds.iter().zip(firsts).map(|(&(a, b), l)| (a, b, l)).collect();
    let parsed = pieces
        .into_par_iter()
        .map(|(a, b, lines_before)| match std::str::from_utf8(&bytes[a..b]) {
            Ok(piece) => parse_piece(path, piece, lines_before, start, options, ends_file && b == bytes.len()).map(Ok),
            Err(e) => Ok(Err(NotUtf8 {
                line: lines_before + 1 + count_lines(&bytes[a..a + e.valid_up_to()]),
                byte: at.offset + (a + e.valid_up_to()) as u64,
            })),
        })
        .collect::<Vec<_>>();
    // In file order, so that the first bad line is the one named (rayon keeps whichever failed first).
    let parsed: std::result::Result<Vec<Table>, NotUtf8> = parsed.into_iter().collect::<Result<_>>()?;
    Ok(parsed.map(|tables| (tables, total)))
}

/// The records of one piece; `lines_before` line feeds precede it in the file, and `ends_file`
/// says whether it runs to the file's end.
fn parse_piece(
    path: &Path,
    piece: &str,
    lines_before: u64,
    start: &Start,
    options: &IngestOptions,
    ends_file: bool,
) -> Result<Table> {
    let mut table = TableBuilder::new(path, &start.header, start.header_line, &options.headers)?;
    table.controls_possible(has_control(piece));
    let mut reader = csv_reader(piece, start.delimiter);
    // One record reused for every row, its fields taken as the text they are: a piece is UTF-8
    // and a field is cut from it at ASCII delimiters, less ASCII quotes.
    let mut record = csv::ByteRecord::new();
    while reader.read_byte_record(&mut record).map_err(|e| csv_error(path, e, lines_before))? {
        // SAFETY: see above; the bytes of a field are whole UTF-8 characters of `piece`.
        let cells = || record.iter().map(|c| unsafe { std::str::from_utf8_unchecked(c) });
        let line = lines_before + line_of(piece, record.position());
        // A quote that is never closed swallows the lines after it into one cell: every one of
        // them is named, never lost unseen. A cell with a line break of its own keeps the row's
        // field count; one whose quote is still open at the end of the file does not close.
        let joined = || -> usize { cells().map(|c| c.trim_end_matches(['\r', '\n']).matches('\n').count()).sum() };
        let unclosed = || {
            let from = record.position().map_or(0, |p| p.byte() as usize);
            ends_file
                && reader.position().byte() as usize == piece.len()
                && open_at_end(&piece.as_bytes()[from..], start.delimiter)
        };
        if (record.len() != table.width() || unclosed()) && joined() > 0 {
            let joined = joined();
            let message = crate::say!(
                "第{line}–{}行被读成一条记录：第{line}行的引号(\")没有闭合，其后{joined}行都并入了一个单元格；请补上引号后重新读取",
                "rows {line}–{} were read as one record: a quote (\") on row {line} is never closed, so the {joined} rows after it became part of one cell; close the quote and read the file again",
                line + joined as u64
            );
            table.problem(Problem::new(table.next_record(), Code::RowsJoined, None, message));
        }
        table.push_row(line as u32, cells());
    }
    // Coded here, in parallel, the repeated columns stack as 4-byte codes rather than as text.
    let mut table = table.finish()?;
    crate::columns::repeated(&mut table.df)?;
    Ok(table)
}

/// The pieces of one file as one table: one part, the file named once, its SHA-256.
fn one_part(pieces: Vec<Table>, start: &Start, path: &Path, options: &IngestOptions, sha256: String) -> Result<Table> {
    let pieces = if pieces.is_empty() {
        vec![TableBuilder::new(path, &start.header, start.header_line, &options.headers)?.finish()?]
    } else {
        pieces
    };
    let layout = pieces[0].parts[0].layout.clone();
    let blank_rows = pieces.iter().flat_map(|t| &t.parts).map(|p| p.blank_rows).sum();
    let mut table = Table::stack(pieces)?;
    let records = table.df.height();
    let file = Scalar::new(DataType::String, AnyValue::StringOwned(path.display().to_string().into()));
    table.df.with_column(Column::new_scalar("source_file".into(), file, records))?;
    table.parts = vec![Part { records, blank_rows, layout }];
    table.sha256 = Some(sha256);
    Ok(table)
}

/// The file as UTF-8 text. `Auto` takes a UTF-8 BOM or valid UTF-8 as UTF-8 and anything else as
/// GB18030 (a superset of GBK and GB2312, so rare characters survive).
fn decode<'b>(path: &Path, bytes: &'b [u8], encoding: Encoding) -> Result<Cow<'b, str>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let utf8 = std::str::from_utf8(bytes);
    match (encoding, utf8) {
        (Encoding::Utf8 | Encoding::Auto, Ok(text)) => return Ok(text.into()),
        (Encoding::Utf8, Err(e)) => {
            return Err(not_utf8(path, 1 + count_lines(&bytes[..e.valid_up_to()]), e.valid_up_to() as u64));
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

fn not_utf8(path: &Path, line: u64, byte: u64) -> Error {
    Error::input(
        path,
        crate::lang::both(
            &format!("第{line}行不是有效的UTF-8文本(第{byte}字节)；可试 --encoding gb18030"),
            &format!("line {line}: not valid UTF-8 (byte {byte}); try --encoding gb18030"),
        ),
    )
}

/// A reader's error, its line counted from the file's start (`lines_before` the text read).
fn csv_error(path: &Path, e: csv::Error, lines_before: u64) -> Error {
    let line = e.position().map_or(String::new(), |p| format!("line {}: ", lines_before + p.line()));
    Error::input(path, format!("{line}{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn records(text: &str) -> Vec<Vec<String>> {
        csv_reader(text, b',').into_records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect()
    }

    #[test]
    fn cuts_fall_where_records_end() {
        let text = "a,b\n\"x\ny\",c\nd,\"e,\"\"f\"\"\"\n\"\"\n";
        assert_eq!(cuts(text.as_bytes(), b',', true, 1), Some(vec![4, 12, 24, 27]), "never inside quotes");
        assert_eq!(cuts(b"a,b\r\nc,d\r\n", b',', true, 1), Some(vec![5, 10]), "after the LF of a CRLF");
        assert_eq!(cuts(b"a,b\nc,\"d", b',', false, 1), Some(vec![4]), "a partial block stops before an open quote");
        assert_eq!(cuts(b"a,b\nc,\"d\"", b',', false, 1), Some(vec![4]), "a last quote may be the first of a pair");
        assert_eq!(cuts(b"a,b", b',', false, 1), Some(vec![]), "no record ends in a partial block");
        assert_eq!(cuts(b"a,b\"c\nd\n", b',', true, 1), None, "a stray quote in a cell");
        assert_eq!(cuts(b"a,\"b\"c\nd\n", b',', true, 1), None, "text after a closing quote");
        assert_eq!(cuts(b"a,\"b\nc\n", b',', true, 1), None, "a quote never closed");
        assert_eq!(cuts(b"a;\"b;\n\";c\n", b';', true, 1), Some(vec![10]), "the file's own delimiter");
    }

    #[test]
    fn a_quote_still_open_at_the_end_is_told_from_closed_ones() {
        assert!(open_at_end(b"a,\"b\nc,d\n", b','), "never closed");
        assert!(open_at_end(b"\n\na,\"b\"\"\nc", b','), "a doubled quote is text in the cell");
        assert!(!open_at_end(b"a,\"b\nc\",d\n", b','), "a cell with a line break of its own");
        assert!(!open_at_end(b"a,b\"c\nd\n", b','), "a quote inside an unquoted cell is text");
        assert!(!open_at_end(b"a;\"b;\n\";c\n", b';'), "the file's own delimiter");
    }

    /// A file read in blocks of a few bytes, cut into pieces of a few bytes, is the file read in
    /// one block and one piece: records, rows, problems and hash alike.
    #[test]
    fn blocks_and_pieces_read_as_one() {
        let dir = std::env::temp_dir().join(format!("xueji-csv-blocks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let rows = [
            "\u{FEFF}学生名单,,\r\n",
            "姓名,性别,出生日期,身份证件号\r\n",
            "张三,男,2014-03-05,110101201403051234\r\n",
            "\r\n",
            "\"李\n四\",女,\"2015,1\",\"𠮷\"\"号\"\"\"\r\n",
            ",,,\r\n",
            "王五,男,不详\r\n",
            "赵\u{0}六,女,2013-01-01,1,多\r\n",
            "欧阳·娜娜,女,2012-12-12,'110101201212121234",
        ];
        let text = rows.concat();
        let path = dir.join("s.csv");
        std::fs::write(&path, &text).unwrap();
        let options = IngestOptions::default();
        let whole = read_in_blocks(&path, &options, usize::MAX >> 1, usize::MAX >> 1).unwrap();
        assert_eq!((whole.df.height(), whole.parts[0].blank_rows), (5, 1));
        let codes: Vec<(usize, Code)> = whole.problems.iter().map(|p| (p.record, p.code)).collect();
        let expected = [
            (2, Code::RowFieldCount),
            (3, Code::CellControlCharacter),
            (3, Code::RowFieldCount),
            (4, Code::CellTextMark),
        ];
        assert_eq!(codes, expected);
        assert_eq!(whole.sha256.as_deref(), Some(hex(&Sha256::digest(text.as_bytes()))).as_deref());
        let shown = |t: &Table| {
            let problems: Vec<String> =
                t.problems.iter().map(|p| format!("{} {:?} {}", p.record, p.code, p.message)).collect();
            (format!("{:?}", t.df), problems, t.parts[0].records, t.parts[0].blank_rows, t.sha256.clone())
        };
        for block in [1, 7, 40, 90] {
            for piece in [1, 13, 60] {
                let small = read_in_blocks(&path, &options, block, piece).unwrap();
                assert_eq!(shown(&small), shown(&whole), "blocks of {block} bytes, pieces of {piece}");
            }
        }
        // A stray quote: the rest is parsed as one piece, as a single reader sees it.
        std::fs::write(&path, text.replace("王五", "王\"五")).unwrap();
        let whole = read_in_blocks(&path, &options, usize::MAX >> 1, usize::MAX >> 1).unwrap();
        assert_eq!(shown(&read_in_blocks(&path, &options, 40, 13).unwrap()), shown(&whole));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    proptest! {
        /// Wherever `cuts` cuts, the pieces read as the whole text does: no record split, joined,
        /// lost or changed.
        #[test]
        fn pieces_read_as_the_whole(
            pieces in proptest::collection::vec(
                proptest::sample::select(&["a", "张三", ",", "\"", "\"\"", "\n", "\r\n", "\r", " ", "\u{0}", "𠮷"][..]), 0..40),
            piece_bytes in 1usize..12,
        ) {
            let text = pieces.concat();
            if let Some(cuts) = cuts(text.as_bytes(), b',', true, piece_bytes) {
                let mut from = 0;
                let mut read = Vec::new();
                for &to in &cuts {
                    prop_assert!(to > from && text.is_char_boundary(to));
                    read.extend(records(&text[from..to]));
                    from = to;
                }
                prop_assert_eq!(from, text.len());
                prop_assert_eq!(read, records(&text));
            }
        }
    }

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

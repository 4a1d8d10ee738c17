//! Files xueji writes, whatever the stage: atomic writes (a temporary file beside the path,
//! then a rename), hashes, file names safe on every system, and the CSV, Parquet and JSON
//! writers. Imports nothing of the pipeline.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// A file that appears at its path whole or not at all: written to a hidden temporary file in
/// the same folder and renamed over the path by [`AtomicFile::commit`]. Dropped uncommitted (an
/// error, a panic), the temporary file is removed.
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    out: Option<BufWriter<File>>,
}

impl AtomicFile {
    pub fn create(path: &Path) -> Result<AtomicFile> {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
        let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        Ok(AtomicFile { path: path.to_owned(), tmp, out: Some(BufWriter::with_capacity(1 << 20, file)) })
    }

    pub fn writer(&mut self) -> &mut BufWriter<File> {
        self.out.as_mut().expect("not committed")
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(mut self) -> Result<()> {
        let out = self.out.take().expect("committed once");
        let file = out.into_inner().map_err(|e| Error::io(&self.tmp, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&self.tmp, e))?;
        std::fs::rename(&self.tmp, &self.path).map_err(|e| Error::io(&self.path, e))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Creates an output folder (and its parents) and removes what an interrupted xueji left in
/// it: temporary files of [`AtomicFile`]'s pattern (`.NAME.PID.tmp`) whose process is gone.
pub fn output_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(stale_temp_pid) else { continue };
        if !process_alive(pid) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// The process id in a temporary file name of xueji's (`.clusters.csv.4242.tmp`).
fn stale_temp_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (_, pid) = rest.rsplit_once('.')?;
    pid.parse().ok()
}

/// Whether process `pid` runs (this one always does); where that cannot be asked, only this one
/// counts as running.
fn process_alive(pid: u32) -> bool {
    pid == std::process::id() || (cfg!(target_os = "linux") && Path::new("/proc").join(pid.to_string()).exists())
}

/// Where each school's workbook goes in a folder of workbooks: `<地市>/<区县>/<学校标识码>_<学校名称>.xlsx`,
/// every name made safe for a file system ([`file_stem`]). Names that differ only in the
/// characters made safe (`a/b` and `a:b`) keep their own folder and file, with a short hash of
/// the whole name added: two schools must never write one file. `schools` are (city, county,
/// school code, school name), each once; the result is (folder, file) for each, in order.
pub fn school_paths(schools: &[[&str; 4]]) -> Vec<(PathBuf, PathBuf)> {
    let name = |t: &str| if t.is_empty() { crate::lang::pick("未知", "unknown").to_owned() } else { file_stem(t) };
    let mut folders: HashMap<PathBuf, (&str, &str)> = HashMap::new();
    let mut files: HashSet<PathBuf> = HashSet::new();
    schools
        .iter()
        .map(|&[city, county, code, school]| {
            let mut folder = PathBuf::from(name(city)).join(name(county));
            if *folders.entry(folder.clone()).or_insert((city, county)) != (city, county) {
                let hash = short_hash(&format!("{city}/{county}"));
                folder = PathBuf::from(name(city)).join(format!("{}~{hash}", name(county)));
            }
            let stem = file_stem(&format!("{code}_{school}"));
            let mut file = folder.join(format!("{stem}.xlsx"));
            if !files.insert(file.clone()) {
                let hash = short_hash(&format!("{city}/{county}/{code}_{school}"));
                file = folder.join(format!("{stem}~{hash}.xlsx"));
                files.insert(file.clone());
            }
            (folder, file)
        })
        .collect()
}

/// A file name for a group that is safe on every system yet stays readable in Chinese
/// (`210100 沈阳市` → `210100_沈阳市`). Group names come from the data: separators, control and
/// bidirectional characters become `_`, a leading `.` or `-` and Windows device names (`CON`,
/// `com1`) are defused, and a long name is cut to [`STEM_CHARS`] characters with a hash of the
/// whole so that two long names stay apart.
pub fn file_stem(group: &str) -> String {
    let unsafe_char = |c: char| {
        c.is_whitespace()
            || c.is_control()
            || "/\\:*?\"<>|".contains(c)
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
    };
    let mut stem: String = group.chars().map(|c| if unsafe_char(c) { '_' } else { c }).collect();
    if stem.starts_with(['.', '-']) || stem.ends_with('.') || stem.is_empty() {
        stem = format!("_{stem}_");
    }
    let device = stem.split('.').next().unwrap_or("").to_ascii_uppercase();
    let numbered =
        |prefix: &str| device.strip_prefix(prefix).is_some_and(|n| n.len() == 1 && n.as_bytes()[0].is_ascii_digit());
    if ["CON", "PRN", "AUX", "NUL"].contains(&device.as_str()) || numbered("COM") || numbered("LPT") {
        stem.insert(0, '_');
    }
    if stem.chars().count() > STEM_CHARS {
        let cut: String = stem.chars().take(STEM_CHARS - 9).collect();
        stem = format!("{cut}~{}", short_hash(group));
    }
    stem
}

/// Eight hex digits of a text's SHA-256.
pub fn short_hash(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes())[..4])
}

/// Bytes (a digest) as lowercase hex, as `sha256sum` prints them.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The longest file name stem written (in characters; 3 bytes each in Chinese, far below the
/// 255 bytes file systems allow, with room for `_2.xlsx`).
const STEM_CHARS: usize = 60;

/// The size and SHA-256 (hex) of a file, read in a stream.
pub fn sha256_file(path: &Path) -> Result<(u64, String)> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buffer).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        hasher.update(&buffer[..n]);
    }
    Ok((bytes, hex(&hasher.finalize())))
}

/// Writes `path` through `write` as an [`AtomicFile`].
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut BufWriter<File>) -> Result<()>) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    write(file.writer())?;
    file.commit()
}

/// Writes `bytes` to `path` as an [`AtomicFile`] (a page, a report).
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, |w| w.write_all(bytes).map_err(|e| Error::io(path, e)))
}

pub fn write_parquet(path: &Path, df: &mut DataFrame) -> Result<()> {
    write_atomic(path, |out| {
        parquet_writer(out).finish(df)?;
        Ok(())
    })
}

fn parquet_writer<W: Write>(out: W) -> ParquetWriter<W> {
    ParquetWriter::new(out).with_compression(ParquetCompression::Zstd(None))
}

/// A table of `rows` rows written into `parquet` and its copy for people into `csv` (as
/// [`write_parquet`] and [`write_csv`] would write them) a part at a time: `part` makes the rows
/// of a range as both tables, and only one part is held at once (a 10M campaign's problems as
/// whole tables made theirs the run's highest stage, 4.30 GiB; 3.88 in parts). The parts are
/// the row groups [`ParquetWriter::finish`] cuts a whole table into: the bytes are the same.
pub fn write_table_in_parts(
    parquet: &Path,
    csv: &Path,
    rows: usize,
    mut part: impl FnMut(std::ops::Range<usize>) -> Result<(DataFrame, DataFrame)>,
) -> Result<()> {
    let (mut parquet_file, mut csv_file) = (AtomicFile::create(parquet)?, AtomicFile::create(csv)?);
    csv_file.writer().write_all(b"\xEF\xBB\xBF").map_err(|e| Error::io(csv, e))?;
    let mut ranges = row_groups(rows).into_iter();
    let (mut table, mut for_people) = part(ranges.next().expect("at least one range"))?;
    let mut writer = parquet_writer(parquet_file.writer()).batched(table.schema())?;
    let mut header = true;
    loop {
        writer.write_batch(&table)?;
        csv_rows(csv_file.writer(), &for_people, header)
            .map_err(|e| Error::input(csv, format!("cannot write: {e}")))?;
        header = false;
        let Some(range) = ranges.next() else { break };
        (table, for_people) = part(range)?;
    }
    writer.finish()?;
    drop(writer);
    parquet_file.commit()?;
    csv_file.commit()
}

/// The row ranges [`ParquetWriter::finish`] writes a single-chunk table of `rows` rows as (row
/// groups of 512² rows or a little more, the last taking the rest); one empty range for none.
fn row_groups(rows: usize) -> Vec<std::ops::Range<usize>> {
    let groups = (rows / (512 * 512)).max(1);
    let size = rows / groups;
    (0..groups).map(|k| k * size..if k + 1 == groups { rows } else { (k + 1) * size }).collect()
}

/// A spreadsheet runs a cell as a formula when it starts with `=`, `+`, `-` or `@`, also behind
/// blanks or line breaks, and some control characters trigger it too; a leading `'` makes it text.
pub fn inert(cell: &str) -> std::borrow::Cow<'_, str> {
    if needs_quote(cell) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

fn is_active(cell: &str) -> bool {
    cell.starts_with(char::is_control)
        || cell.trim_start().starts_with(|c: char| matches!(c, '=' | '+' | '-' | '@') || c.is_control())
}

/// Active, or quoted already (`'=x` as typed): the quote [`uninert`] takes off must be ours, so
/// that every cell reads back as it was written.
fn needs_quote(cell: &str) -> bool {
    is_active(cell.trim_start_matches('\''))
}

/// The value [`inert`] was given: the quote it added taken off again.
pub fn uninert(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if needs_quote(rest) => rest,
        _ => cell,
    }
}

/// Writes `df` as UTF-8 CSV with a BOM (so Excel opens Chinese text correctly), every value as
/// text and made [`inert`].
pub fn write_csv(path: &Path, df: &DataFrame) -> Result<()> {
    write_atomic(path, |out| {
        out.write_all(b"\xEF\xBB\xBF").map_err(|e| Error::io(path, e))?;
        csv_rows(out, df, true).map_err(|e| Error::input(path, format!("cannot write: {e}")))
    })
}

/// Writes the rows of `df` (after its header, when `header`) as CSV into `out`, every value as
/// text and made [`inert`].
pub fn csv_rows(
    out: &mut impl Write,
    df: &DataFrame,
    header: bool,
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    // Numbers are written as numbers: only text can be a formula.
    let columns: Vec<(StringChunked, bool)> = df
        .columns()
        .iter()
        .map(|c| {
            let text = matches!(c.dtype(), DataType::String | DataType::Categorical(..));
            Ok((c.cast(&DataType::String)?.str()?.rechunk().into_owned(), text))
        })
        .collect::<PolarsResult<_>>()?;
    if header {
        let mut csv = csv::Writer::from_writer(&mut *out);
        csv.write_record(df.get_column_names().iter().map(|n| inert(n.as_str()).into_owned()))?;
        csv.flush()?;
    }
    // Rows are formatted in parallel, a batch of chunks at a time, and written in order: a CSV
    // record does not depend on the one before it, so the bytes are those of one writer.
    let format = |rows: std::ops::Range<usize>| -> std::result::Result<Vec<u8>, csv::Error> {
        let mut csv = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 64));
        let mut row: Vec<std::borrow::Cow<str>> = Vec::with_capacity(columns.len());
        for i in rows {
            row.clear();
            row.extend(columns.iter().map(|(c, text)| match c.get(i) {
                Some(v) if *text => inert(v),
                v => v.unwrap_or("").into(),
            }));
            csv.write_record(row.iter().map(|c| c.as_ref()))?;
        }
        csv.into_inner().map_err(|e| e.into_error().into())
    };
    let height = df.height();
    for batch in (0..height).step_by(CSV_CHUNK_ROWS * CSV_BATCH_CHUNKS) {
        let starts: Vec<usize> =
            (batch..height.min(batch + CSV_CHUNK_ROWS * CSV_BATCH_CHUNKS)).step_by(CSV_CHUNK_ROWS).collect();
        let pieces: Vec<Vec<u8>> = polars_core::runtime::THREAD_POOL.install(|| {
            use rayon::prelude::*;
            starts
                .into_par_iter()
                .map(|start| format(start..height.min(start + CSV_CHUNK_ROWS)))
                .collect::<std::result::Result<_, _>>()
        })?;
        for piece in pieces {
            out.write_all(&piece)?;
        }
    }
    Ok(())
}

/// Rows a CSV-writing task formats, and the tasks whose bytes are held at once before writing.
const CSV_CHUNK_ROWS: usize = 1 << 14;
const CSV_BATCH_CHUNKS: usize = 64;

/// Writes `value` as pretty JSON, a line break after it.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    write_atomic(path, |w| {
        serde_json::to_writer_pretty(&mut *w, value).map_err(|e| Error::input(path, e.to_string()))?;
        std::io::Write::write_all(w, b"\n").map_err(|e| Error::io(path, e))
    })
}

/// Folders nested deeper than this below a folder given are not walked: real school and photo
/// folders are a few levels deep, and a deeper tree is a mistake (or a loop through links).
pub const MAX_FOLDER_DEPTH: usize = 32;

/// What a walk finds below the folders it was given.
#[derive(Debug)]
pub enum Found {
    File(PathBuf),
    /// A folder that could not be listed.
    Unreadable(PathBuf, std::io::Error),
    /// A folder deeper than [`MAX_FOLDER_DEPTH`]: not walked.
    TooDeep(PathBuf),
}

/// Every file below the folders given, with the index of the folder it lies under: links
/// followed, a folder reached again (through a link: `sub/up -> ..`) walked once, hidden
/// entries (`.name`) left out. Streamed, folder by folder in name order, so that a million
/// photos need no list. What is done with what it finds — an error, a file skipped — is the
/// caller's.
pub struct FolderWalk {
    roots: Vec<PathBuf>,
    next_root: usize,
    stack: Vec<(usize, PathBuf, usize)>,
    found: std::vec::IntoIter<(usize, Found)>,
    seen: HashSet<PathBuf>,
}

impl FolderWalk {
    pub fn new(roots: &[PathBuf]) -> FolderWalk {
        FolderWalk {
            roots: roots.to_vec(),
            next_root: 0,
            stack: Vec::new(),
            found: Vec::new().into_iter(),
            seen: HashSet::new(),
        }
    }

    fn list(&mut self, root: usize, folder: PathBuf, depth: usize) -> Vec<(usize, Found)> {
        let real = std::fs::canonicalize(&folder).unwrap_or_else(|_| folder.clone());
        if !self.seen.insert(real) {
            return Vec::new();
        }
        if depth > MAX_FOLDER_DEPTH {
            return vec![(root, Found::TooDeep(folder))];
        }
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) => return vec![(root, Found::Unreadable(folder, e))],
        };
        let (mut found, mut folders) = (Vec::new(), Vec::new());
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    found.push((root, Found::Unreadable(folder.clone(), e)));
                    continue;
                }
            };
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            // The entry's own type needs no stat per file (millions of them); a link is followed.
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir() || (t.is_symlink() && path.is_dir()));
            if is_dir {
                folders.push(path);
            } else {
                found.push((root, Found::File(path)));
            }
        }
        found.sort_by(|a, b| match (&a.1, &b.1) {
            (Found::File(x), Found::File(y)) => x.cmp(y),
            _ => std::cmp::Ordering::Equal,
        });
        folders.sort();
        self.stack.extend(folders.into_iter().rev().map(|f| (root, f, depth + 1)));
        found
    }
}

impl Iterator for FolderWalk {
    type Item = (usize, Found);

    fn next(&mut self) -> Option<(usize, Found)> {
        loop {
            if let Some(found) = self.found.next() {
                return Some(found);
            }
            let (root, folder, depth) = match self.stack.pop() {
                Some(next) => next,
                None if self.next_root < self.roots.len() => {
                    self.next_root += 1;
                    (self.next_root - 1, self.roots[self.next_root - 1].clone(), 0)
                }
                None => return None,
            };
            self.found = self.list(root, folder, depth).into_iter();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_schools_never_share_a_workbook() {
        let places = school_paths(&[
            ["210100 沈阳市", "210102 和平区", "2121000123", "第一小学"],
            ["a/b", "和平区", "", "第一小学"],
            ["a:b", "和平区", "", "第一小学"],
            ["a:b", "和平区", "", "第一/小学"],
            ["a:b", "和平区", "", "第一:小学"],
        ]);
        let path = |k: usize| places[k].1.to_string_lossy().into_owned();
        assert_eq!(path(0), "210100_沈阳市/210102_和平区/2121000123_第一小学.xlsx");
        assert_eq!(path(1), "a_b/和平区/_第一小学.xlsx");
        // Another city whose name is made the same keeps its own county folder.
        assert!(path(2).starts_with("a_b/和平区~") && path(2).ends_with("/_第一小学.xlsx"), "{}", path(2));
        assert_ne!(places[1].0, places[2].0);
        // Two schools whose names are made the same keep their own files.
        assert_eq!(places[3].0, places[4].0);
        assert_ne!(path(3), path(4));
        let unique: std::collections::HashSet<_> = places.iter().map(|p| &p.1).collect();
        assert_eq!(unique.len(), places.len());
    }

    #[test]
    fn a_walk_finds_every_file_once_and_says_what_it_passed_over() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("photos");
        let deep = (0..=MAX_FOLDER_DEPTH).fold(root.join("deep"), |p, k| p.join(k.to_string()));
        for folder in [root.join("一年级/1班"), root.join(".hidden"), deep.clone()] {
            std::fs::create_dir_all(folder).unwrap();
        }
        for file in ["一年级/1班/b.jpg", "一年级/1班/a.jpg", ".hidden/x.jpg", "一年级/.DS_Store", "说明.txt"]
        {
            std::fs::write(root.join(file), "x").unwrap();
        }
        std::fs::write(deep.join("lost.jpg"), "x").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&root, root.join("一年级/up")).unwrap();
        let (mut files, mut deep_folders) = (Vec::new(), Vec::new());
        for (k, found) in FolderWalk::new(std::slice::from_ref(&root)) {
            assert_eq!(k, 0);
            match found {
                Found::File(path) => files.push(path.strip_prefix(&root).unwrap().to_string_lossy().into_owned()),
                Found::TooDeep(folder) => deep_folders.push(folder),
                Found::Unreadable(folder, e) => panic!("{}: {e}", folder.display()),
            }
        }
        files.sort();
        assert_eq!(
            files,
            ["一年级/1班/a.jpg", "一年级/1班/b.jpg", "说明.txt"],
            "hidden left out, a link's loop walked once"
        );
        assert_eq!(deep_folders.len(), 1, "too deep: said, not walked");
        let missing = dir.path().join("no such folder");
        let said: Vec<_> = FolderWalk::new(&[missing]).collect();
        assert!(matches!(said.as_slice(), [(0, Found::Unreadable(..))]), "{said:?}");
    }

    #[test]
    fn a_table_written_in_parts_is_the_same_bytes_as_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        // None, fewer than one row group, and several groups with a remainder.
        for rows in [0usize, 1000, 3 * 512 * 512 + 17] {
            let mut table = df!(
                "row" => (0..rows as u32).collect::<Vec<_>>(),
                "cell" => (0..rows).map(|i| if i % 7 == 0 { format!("=cmd{i}") } else { format!("学生{i}") }).collect::<Vec<_>>(),
            )
            .unwrap();
            let (whole, whole_csv) = (dir.path().join("whole.parquet"), dir.path().join("whole.csv"));
            write_parquet(&whole, &mut table).unwrap();
            write_csv(&whole_csv, &table).unwrap();
            let (parts, parts_csv) = (dir.path().join("parts.parquet"), dir.path().join("parts.csv"));
            let mut seen = 0;
            write_table_in_parts(&parts, &parts_csv, rows, |range| {
                assert_eq!(range.start, seen, "parts in order, none skipped");
                seen = range.end;
                let part = table.slice(range.start as i64, range.len());
                Ok((part.clone(), part))
            })
            .unwrap();
            assert_eq!(seen, rows);
            assert_eq!(std::fs::read(&parts).unwrap(), std::fs::read(&whole).unwrap(), "{rows} rows: parquet");
            assert_eq!(std::fs::read(&parts_csv).unwrap(), std::fs::read(&whole_csv).unwrap(), "{rows} rows: csv");
        }
    }

    #[test]
    fn atomic_files_appear_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        std::fs::write(&path, "previous run").unwrap();
        let failed = write_atomic(&path, |w| {
            w.write_all(b"half a file").map_err(|e| Error::io(&path, e))?;
            Err(Error::Usage("interrupted".into()))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "previous run", "the old file is untouched");
        let mut file = AtomicFile::create(&path).unwrap();
        file.writer().write_all(b"new").unwrap();
        drop(file);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "previous run", "dropped without commit");
        write_atomic(&path, |w| w.write_all(b"new run").map_err(|e| Error::io(&path, e))).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new run");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers.len(), 1, "no temporary files left: {leftovers:?}");
    }

    #[test]
    fn stale_temporary_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let stale = dir.path().join(".clusters.csv.4000000000.tmp");
        let own = dir.path().join(format!(".problems.csv.{}.tmp", std::process::id()));
        let other = dir.path().join(".notes.tmp");
        for path in [&stale, &own, &other] {
            std::fs::write(path, "half").unwrap();
        }
        output_dir(dir.path()).unwrap();
        assert!(!stale.exists(), "a dead process's temporary file goes");
        assert!(own.exists() && other.exists(), "this run's and other people's files stay");
        assert_eq!(stale_temp_pid(".a.b.csv.42.tmp"), Some(42));
        assert_eq!(stale_temp_pid("a.42.tmp"), None);
    }

    #[test]
    fn formula_cells_are_inert() {
        for cell in
            ["=1+1", "+86 138", "-2", "@SUM(A1)", "\tx", "\n=1+1", "\r\n@A1", "  =HYPERLINK(1)", "\0x", "\u{1b}x"]
        {
            assert!(inert(cell).starts_with('\''), "{cell:?}");
        }
        for cell in ["张伟", "11010519491231002X", "", "1+1", " 张伟", "王 伟"] {
            assert_eq!(inert(cell), cell);
        }
        for cell in ["=1+1", "-2", "'quoted", "张伟", " =1", "\n-1"] {
            assert_eq!(uninert(&inert(cell)), cell);
        }
    }

    /// A school, class or household column is stored coded (it repeats on every row): still text,
    /// made inert like any other (unique_students.csv writes them from the records).
    #[test]
    fn coded_text_columns_are_inert_in_csv() {
        let cells = ["-1班", "=HYPERLINK(1)", "二班"];
        let plain = Column::new("class".into(), cells);
        let coded = plain.cast(&DataType::from_categories(Categories::global())).unwrap().with_name("coded".into());
        let grade = Column::new("grade".into(), [-1i32, 2, 3]);
        let df = DataFrame::new(3, vec![plain, coded, grade]).unwrap();
        let mut out = Vec::new();
        csv_rows(&mut out, &df, true).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "class,coded,grade\n'-1班,'-1班,-1\n'=HYPERLINK(1),'=HYPERLINK(1),2\n二班,二班,3\n");
    }

    #[test]
    fn file_stems_are_safe() {
        assert_eq!(file_stem("210100 沈阳市"), "210100_沈阳市");
        assert_eq!(file_stem("a/b:c"), "a_b_c");
        assert_eq!(file_stem("210100 沈阳市 和平区"), "210100_沈阳市_和平区");
        for (group, stem) in [
            ("CON", "_CON"),
            ("aux", "_aux"),
            ("COM1", "_COM1"),
            ("NUL.txt", "_NUL.txt"),
            ("COM10", "COM10"),
            (".hidden", "_.hidden_"),
            ("-rf", "_-rf_"),
            ("..", "_.._"),
            ("", "__"),
            ("a\u{202E}txt.exe", "a_txt.exe"),
            ("a\nb\0c", "a_b_c"),
        ] {
            assert_eq!(file_stem(group), stem, "{group:?}");
        }
        let long = "大".repeat(200);
        let stem = file_stem(&long);
        assert_eq!(stem.chars().count(), STEM_CHARS);
        assert!(stem.starts_with("大大大") && stem.len() < 200, "{stem}");
        assert_ne!(stem, file_stem(&format!("{long}县")), "long names stay apart");
    }
}

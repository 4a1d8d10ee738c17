//! Ingest: school sheets in any supported format become one table of text columns, one row per
//! record, with provenance (`source_file`, `source_row`) and a stable `record_id`.
//!
//! Everything is read as text: a document number never passes through a float, and where a
//! spreadsheet already stored one as a number the lost digits are reported, not guessed.

mod columnar;
mod csv;
mod excel;
pub mod guard;
pub mod rounded;
pub mod table;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use polars_core::runtime::THREAD_POOL;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::files::{FolderWalk, Found, MAX_FOLDER_DEPTH};
use crate::problems::Problem;
use crate::schema::HeaderMap;
pub use table::{SheetNotRead, Table};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Encoding {
    /// UTF-8 when the bytes are valid UTF-8 (BOM or not), else GB18030.
    #[default]
    Auto,
    Utf8,
    /// GB18030, which also reads GBK and GB2312 files.
    Gb18030,
}

#[derive(Clone, Debug)]
pub struct IngestOptions {
    /// Text encoding of CSV files.
    pub encoding: Encoding,
    /// Worksheets to read in Excel files (default: every sheet with the template's header).
    pub sheets: Vec<String>,
    pub headers: HeaderMap,
    /// Column holding the records' own stable ids (default: `source_file:source_row`).
    pub id_column: Option<String>,
    pub limits: Limits,
}

/// Bounds on what one input may hold, so that a damaged or hostile file is refused with a
/// message instead of exhausting memory. Each has a command-line option to raise it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Unpacked bytes of one part of an .xlsx/.xlsb (a sheet, the shared strings).
    pub xlsx_part_bytes: u64,
    /// How many times its packed size a part of over [`RATIO_FROM`] bytes may unpack to: a zip
    /// bomb of repeated text or whitespace packs about 1,000 to 1.
    pub xlsx_ratio: u64,
    /// Cells holding a value in one sheet.
    pub sheet_cells: u64,
}

/// Parts smaller than this are never refused for their compression ratio.
pub const RATIO_FROM: u64 = 16 << 20;

impl Default for Limits {
    /// A full Excel sheet of the 学生基本信息表 (1,048,576 rows × 17 columns, 18M cells) unpacks
    /// to about 1 GiB written with inline strings (10 to 1), less with shared strings.
    fn default() -> Self {
        Limits { xlsx_part_bytes: 4096 << 20, xlsx_ratio: 200, sheet_cells: 50_000_000 }
    }
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            encoding: Encoding::Auto,
            sheets: Vec::new(),
            headers: HeaderMap::new(&[]).expect("built-in headers"),
            id_column: None,
            limits: Limits::default(),
        }
    }
}

/// The supported formats, by file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Excel,
    Parquet,
    Ipc,
}

impl Format {
    pub fn of(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "csv" | "tsv" | "txt" => Format::Csv,
            "xlsx" | "xlsm" | "xlsb" | "xls" => Format::Excel,
            "parquet" => Format::Parquet,
            "arrow" | "ipc" | "feather" => Format::Ipc,
            _ => return None,
        })
    }
}

/// The files of the inputs.
#[derive(Debug, Default)]
pub struct Discovered {
    /// Files as named, and every supported file below a folder (sorted, so runs are reproducible).
    pub files: Vec<PathBuf>,
    /// Files below a folder that are not sheets (hidden files and Excel's `~$` lock files aside):
    /// skipped, and listed so that nothing disappears unseen.
    pub skipped: Vec<PathBuf>,
}

/// The files of `inputs`. A file is read once: a folder reached again through a link (a loop
/// such as `sub/up -> ..`, or `self -> .`) is not walked again, and a file reached by two paths
/// is an error naming both.
pub fn discover(inputs: &[PathBuf]) -> Result<Discovered> {
    let mut found = Discovered::default();
    // Each file by its real path (links resolved), with the path it was first named by.
    let mut named: HashMap<PathBuf, PathBuf> = HashMap::new();
    let mut add = |path: &Path, found: &mut Discovered| -> Result<()> {
        let real = std::fs::canonicalize(path).map_err(|e| Error::io(path, e))?;
        if let Some(first) = named.insert(real, path.to_owned()) {
            return Err(Error::input(
                path,
                crate::lang::both(
                    &format!("与{}是同一个文件：请只给一次", first.display()),
                    &format!("the same file as {} (named twice, or through a link): give it once", first.display()),
                ),
            ));
        }
        found.files.push(path.to_owned());
        Ok(())
    };
    for input in inputs {
        let meta = std::fs::metadata(input).map_err(|e| Error::io(input, e))?;
        if meta.is_dir() {
            let before = found.files.len();
            for (_, item) in FolderWalk::new(std::slice::from_ref(input)) {
                match item {
                    // Excel's lock files (`~$学生.xlsx`) are no sheets of anyone's.
                    Found::File(path) if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("~$")) => {}
                    Found::File(path) => {
                        if Format::of(&path).is_some_and(|f| f != Format::Csv) || has_extension(&path, &["csv", "tsv"])
                        {
                            add(&path, &mut found)?;
                        } else {
                            // A `.txt` in a folder is a note (说明.txt), not a sheet: read only when named.
                            found.skipped.push(path);
                        }
                    }
                    Found::Unreadable(folder, e) => return Err(Error::io(&folder, e)),
                    Found::TooDeep(folder) => {
                        return Err(Error::input(
                            &folder,
                            format!(
                                "folders nested more than {MAX_FOLDER_DEPTH} deep; give a folder nearer the sheets"
                            ),
                        ))
                    }
                }
            }
            found.files[before..].sort();
            if found.files.len() == before {
                return Err(Error::input(
                    input,
                    crate::lang::both(
                        "文件夹中没有表格文件",
                        "folder holds no .csv, .xlsx, .xls, .parquet or .arrow file",
                    ),
                ));
            }
        } else if Format::of(input).is_some() {
            add(input, &mut found)?;
        } else {
            return Err(Error::input(
                input,
                crate::lang::both(
                    "不支持的文件类型",
                    "unsupported file type (expected .csv, .tsv, .txt, .xlsx, .xlsm, .xlsb, .xls, .parquet, .arrow, .ipc)",
                ),
            ));
        }
    }
    found.skipped.sort();
    Ok(found)
}

fn has_extension(path: &Path, wanted: &[&str]) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| wanted.iter().any(|w| e.eq_ignore_ascii_case(w)))
}

/// Reads one file into a [`Table`]: every sheet of a workbook that holds the template's header,
/// stacked in sheet order.
pub fn read_file(path: &Path, options: &IngestOptions) -> Result<Table> {
    let _reading = guard::reading(path);
    let mut table = match Format::of(path) {
        Some(Format::Csv) => csv::read(path, options),
        Some(Format::Excel) => excel::read(path, options),
        Some(Format::Parquet) => columnar::read(path, options, false),
        Some(Format::Ipc) => columnar::read(path, options, true),
        None => Err(Error::input(path, "unsupported file type")),
    }?;
    rounded::mark_rounded_numbers(&mut table)?;
    // Every file's repeated columns coded alike, so that files of any format stack; one chunk
    // a column, as the stages read them.
    crate::columns::repeated(&mut table.df)?;
    table.df.rechunk_mut_par();
    Ok(table)
}

/// The sheet a record's `source_file` names (`三年级.xlsx#二班` → `二班`): rows of a workbook
/// read from several sheets carry it.
pub fn sheet_of(source_file: &str) -> Option<&str> {
    // The first `#` that ends a workbook's name: a sheet's own name may hold one too.
    let at = source_file
        .match_indices('#')
        .map(|(at, _)| at)
        .find(|&at| Format::of(Path::new(&source_file[..at])) == Some(Format::Excel))?;
    Some(&source_file[at + 1..])
}

/// All records of all inputs, in input order.
pub struct Records {
    /// `record_id`, `source_file`, `source_row`, then the canonical fields and other columns.
    pub df: DataFrame,
    /// Problems found while reading (`record` indexes `df`).
    pub problems: Vec<Problem>,
    /// The files read (in input order), their layouts and blank rows, and the files not read.
    pub preflight: Preflight,
}

/// What was found and how it was read, told before any work on the records starts.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Preflight {
    /// Each file read (each sheet read, for a workbook).
    pub files: Vec<FileRead>,
    /// Files with the same bytes (SHA-256) as one read before: not read again.
    pub identical: Vec<(PathBuf, PathBuf)>,
    /// Files in the input folders that are not sheets.
    pub skipped: Vec<PathBuf>,
    /// Sheets of the workbooks read that hold no student table.
    pub sheets_not_read: Vec<SheetNotRead>,
    /// SHA-256 (hex) of the files whose reader took it from the bytes it parsed (CSV), so that
    /// the manifest does not read them again.
    #[serde(skip)]
    pub sha256: HashMap<PathBuf, String>,
}

impl Preflight {
    /// What was found and how it is read, before the work starts: a line per file (the first
    /// twenty; manifest.json of `run` has them all), its columns where they differ from the file
    /// before, and the files not read.
    pub fn describe(&self) -> String {
        use crate::say;
        const SHOWN: usize = 20;
        let mut lines: Vec<String> = Vec::new();
        let mut previous: Option<&Vec<(String, Option<&str>)>> = None;
        for file in self.files.iter().take(SHOWN) {
            let layout = &file.layout;
            let mut parts: Vec<String> = Vec::new();
            if let Some(sheet) = &layout.sheet {
                parts.push(say!("工作表“{sheet}”", "sheet {sheet:?}"));
            }
            if let Some(row) = layout.header_row {
                parts.push(say!("表头在第{row}行", "header row {row}"));
            }
            parts.push(say!("{}条记录", "{} records", file.records));
            let mut line = format!(
                "{}{}{}",
                file.path.display(),
                crate::lang::pick("：", ": "),
                parts.join(crate::lang::pick("，", ", "))
            );
            if file.blank_rows > 0 {
                line.push_str(&say!("（空行{}行）", " ({} blank rows)", file.blank_rows));
            }
            lines.push(line);
            if previous != Some(&layout.columns) {
                let columns: Vec<String> = layout
                    .columns
                    .iter()
                    .map(|(header, field)| match field {
                        Some(field) if header == field => header.clone(),
                        Some(field) => format!("{header}→{field}"),
                        None => say!("{header}（原样保留）", "{header} (kept as is)"),
                    })
                    .collect();
                lines.push(format!("  {}{}", crate::lang::pick("列：", "columns: "), columns.join(", ")));
                previous = Some(&layout.columns);
            }
        }
        if self.files.len() > SHOWN {
            lines.push(say!("……另有{}个文件", "… and {} more files", self.files.len() - SHOWN));
        }
        for (file, first) in &self.identical {
            lines.push(say!(
                "与{}内容相同，不再读取：{}",
                "same bytes as {}, not read again: {}",
                first.display(),
                file.display()
            ));
        }
        for skipped in &self.skipped {
            lines.push(say!("不是表格文件，未读取：{}", "not a sheet, not read: {}", skipped.display()));
        }
        for sheet in &self.sheets_not_read {
            let hidden = if sheet.hidden { crate::lang::pick("，隐藏", ", hidden") } else { "" };
            lines.push(say!(
                "{}：工作表“{}”未读取（{}行{hidden}）：{}",
                "{}: sheet {:?} not read ({} rows{hidden}): {}",
                sheet.path.display(),
                sheet.sheet,
                sheet.rows,
                sheet.reason
            ));
        }
        lines.join("\n")
    }

    /// Rows with no value at all, skipped, over every file read.
    pub fn blank_rows(&self) -> usize {
        self.files.iter().map(|f| f.blank_rows).sum()
    }
}

/// One file, or one sheet of a workbook, as read.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FileRead {
    pub path: PathBuf,
    pub records: usize,
    pub blank_rows: usize,
    #[serde(flatten)]
    pub layout: table::Layout,
}

/// Reads every input (files in parallel, in Polars' thread pool) and stacks them: columns
/// missing from a file are null there.
pub fn read_inputs(inputs: &[PathBuf], options: &IngestOptions) -> Result<Records> {
    let (files, Preflight { identical, skipped, .. }) = files_to_read(inputs)?;
    let tables: Vec<Table> =
        THREAD_POOL.install(|| files.par_iter().map(|f| read_file(f, options)).collect::<Result<_>>())?;
    let mut preflight = Preflight { identical, skipped, ..Preflight::default() };
    for (path, table) in files.iter().zip(&tables) {
        preflight.files.extend(table.parts.iter().map(|part| FileRead {
            path: path.clone(),
            records: part.records,
            blank_rows: part.blank_rows,
            layout: part.layout.clone(),
        }));
        preflight.sheets_not_read.extend(table.sheets_not_read.iter().cloned());
        if let Some(sha256) = &table.sha256 {
            preflight.sha256.insert(path.clone(), sha256.clone());
        }
    }
    let described = preflight.describe();
    if !described.is_empty() {
        crate::progress::say(&described);
    }

    let Table { mut df, problems, .. } = Table::stack(tables)?;
    df.rechunk_mut_par();
    let record_ids = record_ids(&df, options.id_column.as_deref())?;
    df.insert_column(0, record_ids)?;
    Ok(Records { df, problems, preflight })
}

/// The files [`read_inputs`] reads, in its order (the sheets found, less those repeating a file
/// before them), and the files it does not read.
pub fn files_to_read(inputs: &[PathBuf]) -> Result<(Vec<PathBuf>, Preflight)> {
    let Discovered { files, skipped } = discover(inputs)?;
    let (files, identical) = drop_identical(files)?;
    Ok((files, Preflight { identical, skipped, ..Preflight::default() }))
}

/// The files whose bytes no file before them has (a school's sheet sent twice under two names
/// is read once), and the others with the file they repeat. Only files of one size are hashed.
fn drop_identical(files: Vec<PathBuf>) -> Result<(Vec<PathBuf>, Vec<(PathBuf, PathBuf)>)> {
    let sizes: Vec<u64> = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).map_err(|e| Error::io(f, e)))
        .collect::<Result<_>>()?;
    let mut by_size: HashMap<u64, usize> = HashMap::new();
    for &size in &sizes {
        *by_size.entry(size).or_default() += 1;
    }
    let mut first_with: HashMap<(u64, String), PathBuf> = HashMap::new();
    let (mut kept, mut identical) = (Vec::new(), Vec::new());
    for (file, size) in files.into_iter().zip(sizes) {
        if by_size[&size] > 1 {
            let (_, hash) = crate::files::sha256_file(&file)?;
            if let Some(first) = first_with.get(&(size, hash.clone())) {
                identical.push((file, first.clone()));
                continue;
            }
            first_with.insert((size, hash), file.clone());
        }
        kept.push(file);
    }
    Ok((kept, identical))
}

/// `--id-column` values (which must be present and unique), else `source_file:source_row`.
pub fn record_ids(df: &DataFrame, id_column: Option<&str>) -> Result<Column> {
    let files = crate::columns::Text::of(df, "source_file")?;
    let rows = df.column("source_row")?.u32()?.clone();
    let ids: StringChunked = match id_column {
        None => rows
            .iter()
            .enumerate()
            .map(|(i, r)| Some(format!("{}:{}", files.get(i).unwrap_or(""), r.unwrap_or(0))))
            .collect(),
        Some(name) => {
            let column = df
                .column(name)
                .map_err(|_| Error::Usage(format!("--id-column {name}: no such column")))?
                .str()?
                .clone();
            // Checked by sorting hashes of the ids (`repeated_values`), not by a table of them: a
            // hash table of 10M ids took 2.4 s on one core.
            let ids = crate::columns::Text::of(df, name)?;
            let empty = (column.null_count() > 0).then(|| column.iter().position(|id| id.is_none())).flatten();
            let repeat = crate::columns::repeated_values(ids, df.height(), |_| true)
                .into_iter()
                .map(|group| (group[1], group[0]))
                .min();
            let at =
                |i: usize| format!("{}: row {}: column {name}", files.get(i).unwrap_or(""), rows.get(i).unwrap_or(0));
            match (empty, repeat) {
                (Some(i), repeat) if repeat.is_none_or(|(again, _)| i < again) => {
                    return Err(Error::Usage(format!("{}: empty record id", at(i))));
                }
                (_, Some((again, first))) => {
                    return Err(Error::Usage(format!(
                        "--id-column {name} ({}): {}: record id {:?} already used at {}: row {}. Record ids name one row each; repeated registrations are what xueji finds, so a student's number is no record id: give a column numbering the rows (such as 序号), or leave --id-column out (ids are then file:row)",
                        crate::schema::label(name),
                        at(again),
                        ids.get(again).unwrap_or(""),
                        files.get(first).unwrap_or(""),
                        rows.get(first).unwrap_or(0)
                    )));
                }
                _ => {}
            }
            column
        }
    };
    Ok(ids.with_name("record_id".into()).into_column())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sheet_of_a_source() {
        assert_eq!(sheet_of("学校/三年级.xlsx#二班"), Some("二班"));
        assert_eq!(sheet_of("三年级.XLS#1#班"), Some("1#班"), "a # in the sheet's own name");
        assert_eq!(sheet_of("a#b.xlsx#一班"), Some("一班"), "a # in the file's name");
        assert_eq!(sheet_of("三年级.xlsx"), None);
        assert_eq!(sheet_of("名单#1.csv"), None);
    }

    fn ids_of(values: &[Option<&str>]) -> Result<Column> {
        let df = df!(
            "source_file" => vec!["名单.csv"; values.len()],
            "source_row" => (2..2 + values.len() as u32).collect::<Vec<_>>(),
            "seq" => values,
        )?;
        record_ids(&df, Some("seq"))
    }

    #[test]
    fn record_ids_name_the_row_that_repeats_or_is_empty() {
        let ids = ids_of(&[Some("1"), Some("2"), Some("3")]).unwrap();
        assert_eq!(ids.str().unwrap().iter().collect::<Vec<_>>(), [Some("1"), Some("2"), Some("3")]);
        let again = ids_of(&[Some("1"), Some("2"), Some("3"), Some("2"), Some("1")]).unwrap_err().to_string();
        assert!(
            again.contains("名单.csv: row 5: column seq") && again.contains("\"2\" already used at 名单.csv: row 3"),
            "{again}"
        );
        let empty = ids_of(&[Some("1"), None, Some("1")]).unwrap_err().to_string();
        assert!(empty.contains("名单.csv: row 3: column seq: empty record id"), "{empty}");
        let later = ids_of(&[Some("1"), Some("1"), None]).unwrap_err().to_string();
        assert!(later.contains("already used") && later.contains("row 3"), "the first fault in row order: {later}");
        let plain = record_ids(&df!("source_file" => ["a.csv"], "source_row" => [7u32]).unwrap(), None).unwrap();
        assert_eq!(plain.str().unwrap().get(0), Some("a.csv:7"));
    }
}

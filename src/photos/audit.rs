//! A province's photo folders against its records: every photo judged ([`super::inspect`]),
//! matched to its record by its name, checked for its place, and every student without a photo
//! found. Folders are walked one at a time and files judged in parallel as they are found, so
//! memory holds a folder's names and a small outcome per photo, never the photos.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use polars::prelude::*;
use polars_core::runtime::THREAD_POOL;
use rayon::prelude::*;
use serde::Serialize;

use super::file::Format;
use super::naming::{folder_grade_class, PhotoName};
use super::{inspect, Rules};
use crate::columns::{Ints, Text};
use crate::error::{Error, Result};
use crate::files::{inert, AtomicFile};
use crate::normalize::date::Date;
use crate::problems::{Code, Severity};
use crate::report::table_sheet;

/// Extensions walked as photos (compared without case); anything else is listed as skipped.
pub const PHOTO_EXTENSIONS: [&str; 13] =
    ["jpg", "jpeg", "jpe", "jfif", "png", "bmp", "gif", "webp", "heic", "heif", "avif", "tif", "tiff"];

/// One photo: where it is, what was measured on it and what is wrong with it, whose it is.
#[derive(Clone, Debug)]
pub struct Photo {
    /// Index into the photo folders given.
    pub dir: usize,
    /// Relative to its folder, with `/` between names.
    pub path: String,
    /// What its bytes show; its findings are extended with those of its name and place.
    pub inspection: super::Inspection,
    pub name: PhotoName,
    /// The record it is the photo of: when several share its number, the one whose school code
    /// is in its path, then whose grade and class its folders name, else the first.
    pub record: Option<usize>,
}

impl Photo {
    /// Whether something no program can correct is wrong with the picture itself (its name
    /// and record aside).
    pub fn picture_unfixable(&self) -> bool {
        self.inspection.findings.iter().any(|(code, _)| self.unfixable(*code))
    }

    /// Whether `code`, found on this photo, is something no program can correct: a text file or
    /// a HEIC is no JPEG xueji can convert.
    fn unfixable(&self, code: Code) -> bool {
        match code {
            Code::PhotoNotJpeg => !self.inspection.format.is_some_and(Format::convertible),
            // A misnamed photo is renamed by --fix; a photo of nobody is a question of its name.
            Code::PhotoNameInvalid | Code::PhotoNoRecord => false,
            code => !super::fixable(code) && code.kind().severity != Severity::Info,
        }
    }

    /// Whether a student's photo must be taken again.
    pub fn needs_retake(&self) -> bool {
        self.record.is_some() && self.picture_unfixable()
    }

    /// The grade and class number the two folders above the file say.
    fn folder_grade_class(&self) -> (Option<u8>, Option<String>) {
        let mut folders = self.path.rsplit('/').skip(1);
        folder_grade_class(folders.next(), folders.next())
    }

    pub fn parent(&self) -> &str {
        self.path.rsplit_once('/').map_or("", |(parent, _)| parent)
    }
}

/// The outcome of an audit.
pub struct PhotoAudit {
    pub dirs: Vec<PathBuf>,
    /// Ordered by folder, then path.
    pub photos: Vec<Photo>,
    /// Records without a photo, in record order.
    pub missing: Vec<usize>,
    /// Files under the folders that are not photos (by extension), relative paths.
    pub skipped: Vec<(usize, String)>,
    pub seconds: f64,
}

/// The record columns an audit reads.
struct Roster<'a> {
    ids: Text<'a>,
    /// `id_valid` of `check`: the number passes GB 11643.
    valid: Option<&'a BooleanChunked>,
    schools: Text<'a>,
    classes: Text<'a>,
    grades: Ints<'a>,
    /// Normalized number → records carrying it.
    by_id: HashMap<&'a str, Vec<u32>>,
    /// [`no_id_key`] → records.
    by_school_class_name: HashMap<String, Vec<u32>>,
}

impl<'a> Roster<'a> {
    fn new(records: &'a DataFrame) -> Result<Roster<'a>> {
        let text = |name: &str| Text::of(records, name);
        let (ids, schools, classes, names) =
            (text("id_norm")?, text("school_code_norm")?, text("class_norm")?, text("name_norm")?);
        let mut by_id: HashMap<&str, Vec<u32>> = HashMap::new();
        let mut by_school_class_name: HashMap<_, Vec<u32>> = HashMap::new();
        for i in 0..records.height() {
            if let Some(id) = ids.get(i) {
                by_id.entry(id).or_default().push(i as u32);
            }
            if let (Some(s), Some(c), Some(n)) = (schools.get(i), classes.get(i), names.get(i)) {
                by_school_class_name.entry(no_id_key(s, c, n)).or_default().push(i as u32);
            }
        }
        let valid = records.column("id_valid").ok().and_then(|c| c.bool().ok());
        Ok(Roster {
            ids,
            valid,
            schools,
            classes,
            grades: Ints::of(records, "grade_norm")?,
            by_id,
            by_school_class_name,
        })
    }

    /// The records a photo's name points to.
    fn records_of(&self, name: &PhotoName) -> &[u32] {
        match name {
            PhotoName::Id { number, .. } => self.by_id.get(number.as_str()).map_or(&[], Vec::as_slice),
            PhotoName::NoId { school, class, name, .. } => {
                self.by_school_class_name.get(&no_id_key(school, class, name)).map_or(&[], Vec::as_slice)
            }
            PhotoName::Invalid => &[],
        }
    }
}

/// The columns of a records table an audit reads (all of `xueji check`'s records.parquet).
const RECORD_COLUMNS: [&str; 11] = [
    "record_id",
    "name",
    "grade",
    "class",
    "school_name",
    "id_norm",
    "id_valid",
    "name_norm",
    "school_code_norm",
    "grade_norm",
    "class_norm",
];

/// The records photos are matched against: the `records.parquet` of a `check` or `run` output
/// folder given alone, or school sheets read and checked as `xueji check` does.
pub fn load_records(
    inputs: &[PathBuf],
    ingest: &crate::ingest::IngestOptions,
    check: &crate::check::CheckOptions,
) -> Result<DataFrame> {
    if let [folder] = inputs {
        let parquet = folder.join("records.parquet");
        if folder.is_dir() && parquet.is_file() {
            let file = std::fs::File::open(&parquet).map_err(|e| Error::io(&parquet, e))?;
            let mut df = ParquetReader::new(file)
                .finish()
                .map_err(|e| Error::input(&parquet, format!("cannot be read as Parquet: {e}")))?;
            for column in RECORD_COLUMNS {
                if df.column(column).is_err() {
                    return Err(Error::input(
                        &parquet,
                        crate::lang::both(
                            &format!("没有{column}列：不是xueji check或run写出的records.parquet"),
                            &format!("has no column {column}: not the records.parquet of `xueji check` or `xueji run`"),
                        ),
                    ));
                }
            }
            df.rechunk_mut_par();
            // A records.parquet of an earlier version: its schools placed as today.
            if df.column("place_city").is_err() {
                crate::normalize::places::add_school_places(&mut df)?;
            }
            return Ok(df);
        }
    }
    Ok(crate::check::run::check_inputs(inputs, ingest, check)?.records)
}

/// School code, class number and name as one lookup key.
fn no_id_key(school: &str, class: &str, name: &str) -> String {
    format!("{school}\t{class}\t{name}")
}

/// Judges every photo under `dirs` against `records` (a records table with the normalized
/// columns of `xueji check`).
pub fn audit(dirs: &[PathBuf], records: &DataFrame, rules: &Rules, as_of: Date) -> Result<PhotoAudit> {
    let started = Instant::now();
    for dir in dirs {
        if !dir.is_dir() {
            return Err(Error::input(dir, crate::lang::both("不是照片文件夹", "not a folder of photos")));
        }
    }
    let roster = Roster::new(records)?;
    let skipped = std::sync::Mutex::new(Vec::new());
    let watch = crate::progress::Stopwatch::start("photos");
    // Folders are listed once first (names only, no file read) so that progress has a total.
    let total = Walk::new(dirs, &std::sync::Mutex::new(Vec::new())).count() as u64;
    let done = std::sync::atomic::AtomicU64::new(0);
    let mut photos: Vec<Photo> = THREAD_POOL.install(|| {
        Walk::new(dirs, &skipped)
            .par_bridge()
            .map(|(dir, path)| {
                let photo = judge(dirs, dir, path, &roster, rules, as_of);
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                if n.is_multiple_of(1024) || n == total {
                    crate::progress::advance(n, total);
                }
                photo
            })
            .collect()
    });
    watch.finish(&mut Vec::new());
    photos.sort_by(|a, b| (a.dir, &a.path).cmp(&(b.dir, &b.path)));
    let mut skipped = skipped.into_inner().unwrap_or_else(|e| e.into_inner());
    skipped.sort();

    check_places(&mut photos, &roster);
    let missing = {
        let mut covered = vec![false; records.height()];
        for photo in &photos {
            for &r in roster.records_of(&photo.name) {
                covered[r as usize] = true;
            }
        }
        covered.iter().enumerate().filter(|(_, c)| !**c).map(|(i, _)| i).collect()
    };
    Ok(PhotoAudit { dirs: dirs.to_vec(), photos, missing, skipped, seconds: started.elapsed().as_secs_f64() })
}

/// Files over this size are not read: no photo is that large, and memory stays flat whatever
/// lies in the folders (a video named `.jpg`).
const MAX_READ_BYTES: u64 = 64 << 20;

/// Reads a file's bytes, or only its first ones (to tell its format) when it is over
/// [`MAX_READ_BYTES`].
fn inspect_file(path: &Path, rules: &Rules) -> std::io::Result<super::Inspection> {
    use std::io::Read;
    let size = std::fs::metadata(path)?.len();
    if size <= MAX_READ_BYTES {
        return Ok(inspect(&std::fs::read(path)?, rules));
    }
    let mut head = [0u8; 16];
    let n = std::fs::File::open(path)?.read(&mut head)?;
    let format = Format::sniff(&head[..n]);
    let mut findings = vec![(
        Code::PhotoTooLarge,
        crate::say!("{size}字节，超过{}MB，未读取", "{size} bytes, over {} MB: not read", MAX_READ_BYTES >> 20),
    )];
    if format != Format::Jpeg {
        findings.insert(0, (Code::PhotoNotJpeg, crate::say!("文件实为{}", "the file is {}", format.label())));
    }
    Ok(super::Inspection { format: Some(format), bytes: size, orientation: 1, findings, ..Default::default() })
}

/// Reads and judges one file: its bytes, its name, its record.
fn judge(dirs: &[PathBuf], dir: usize, path: PathBuf, roster: &Roster, rules: &Rules, as_of: Date) -> Photo {
    let relative: String = path
        .strip_prefix(&dirs[dir])
        .unwrap_or(&path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    let (inspection, read_error) = match inspect_file(&path, rules) {
        Ok(inspection) => (inspection, None),
        Err(e) => (super::Inspection { orientation: 1, ..Default::default() }, Some(e)),
    };
    let file_name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let name = PhotoName::parse(&file_name, as_of);
    let mut photo = Photo { dir, path: relative, inspection, name, record: None };
    // Several records may share a number (one student registered twice): the photo is of the
    // one whose school code a folder above it names, then whose grade and class its folders
    // say, else of the first.
    let (grade, class) = photo.folder_grade_class();
    let fit = |r: usize| {
        let school = roster.schools.get(r).is_some_and(|s| photo.parent().contains(s));
        let folder = grade.is_some_and(|g| roster.grades.get(r) == Some(i32::from(g)))
            && class.as_deref() == roster.classes.get(r);
        (school, folder)
    };
    photo.record = roster.records_of(&photo.name).iter().map(|&r| r as usize).rev().max_by_key(|&r| fit(r));
    if let Some(e) = read_error {
        photo
            .inspection
            .findings
            .push((Code::PhotoUnreadable, crate::say!("无法读取文件：{e}", "cannot read the file: {e}")));
    }
    let rule = crate::lang::pick(
        "应为“身份证号.jpg”或“学校标识码_班号_姓名.jpg”",
        "must be <ID number>.jpg or <school code>_<class>_<name>.jpg",
    );
    match &photo.name {
        PhotoName::Invalid => {
            photo.inspection.findings.push((Code::PhotoNameInvalid, crate::say!("文件名“{file_name}”{rule}", "file name {file_name:?}: {rule}")))
        }
        PhotoName::Id { number, valid: false, .. } => photo.inspection.findings.push((
            Code::PhotoNameInvalid,
            crate::say!(
                "文件名中的身份证号{number}未通过GB 11643校验(校验位、出生日期)",
                "the number in the name, {number}, fails GB 11643 (check character or birth date)"
            ),
        )),
        PhotoName::Id { nonstandard: true, number, .. } | PhotoName::NoId { nonstandard: true, school: number, .. } => {
            photo.inspection.findings.push((
                Code::PhotoNameNonstandard,
                crate::say!(
                    "文件名“{file_name}”书写不规范(全角、小写x或扩展名)，已按{number}识别",
                    "file name {file_name:?} is typed otherwise than the rule (full width, lower-case x or extension); read as {number}"
                ),
            ))
        }
        _ => {}
    }
    match (&photo.name, photo.record) {
        (PhotoName::Invalid, _) => {}
        (name, None) => {
            let what = match name {
                PhotoName::Id { number, .. } => crate::say!("身份证件号{number}", "ID number {number}"),
                PhotoName::NoId { school, class, name, .. } => {
                    crate::say!("学校{school}、{class}班的{name}", "{name} of class {class} at school {school}")
                }
                PhotoName::Invalid => unreachable!(),
            };
            photo
                .inspection
                .findings
                .push((Code::PhotoNoRecord, crate::say!("没有学籍是{what}", "no record is {what}")));
        }
        (PhotoName::NoId { .. }, Some(r)) => {
            let valid = roster.valid.is_some_and(|v| v.get(r) == Some(true));
            if let Some(id) = roster.ids.get(r).filter(|_| valid) {
                photo.inspection.findings.push((
                    Code::PhotoNameInvalid,
                    crate::say!(
                        "学生有证件号{id}，照片应命名为{id}.jpg",
                        "the student has ID number {id}: name the photo {id}.jpg"
                    ),
                ));
            }
        }
        _ => {}
    }
    photo.inspection.findings.sort_by_key(|(code, _)| *code);
    photo
}

/// Place and count: a photo in another grade/class folder than its record, a no-ID photo outside
/// its school's no-ID folder, two photos of one student.
fn check_places(photos: &mut [Photo], roster: &Roster) {
    // The no-ID folder of a school is where most of its no-ID photos are; a folder that also
    // holds numbered photos is no such folder.
    let numbered_folders: HashSet<(usize, String)> = photos
        .iter()
        .filter(|p| matches!(p.name, PhotoName::Id { .. }))
        .map(|p| (p.dir, p.parent().to_owned()))
        .collect();
    let mut no_id_folders: HashMap<&str, BTreeMap<(usize, &str), usize>> = HashMap::new();
    for p in photos.iter() {
        if let PhotoName::NoId { school, .. } = &p.name {
            let folders = no_id_folders.entry(school).or_default();
            if !numbered_folders.contains(&(p.dir, p.parent().to_owned())) {
                *folders.entry((p.dir, p.parent())).or_default() += 1;
            }
        }
    }
    let home: HashMap<String, (usize, String)> = no_id_folders
        .into_iter()
        .filter_map(|(school, folders)| {
            let ((dir, folder), _) = folders.into_iter().max_by_key(|&(k, n)| (n, std::cmp::Reverse(k)))?;
            Some((school.to_owned(), (dir, folder.to_owned())))
        })
        .collect();

    let mut first_photo: HashMap<usize, usize> = HashMap::new();
    for i in 0..photos.len() {
        let Some(record) = photos[i].record else { continue };
        let mut found = Vec::new();
        match &photos[i].name {
            PhotoName::Id { .. } => {
                let (grade, class) = photos[i].folder_grade_class();
                let (want_grade, want_class) = (roster.grades.get(record), roster.classes.get(record));
                let differs = |found: Option<String>, wanted: Option<String>| matches!((found, wanted), (Some(f), Some(w)) if f != w);
                let wrong = (grade.is_none() && class.is_none())
                    || differs(grade.map(|g| g.to_string()), want_grade.map(|g| g.to_string()))
                    || differs(class, want_class.map(str::to_owned));
                if wrong && (want_grade.is_some() || want_class.is_some()) {
                    let wanted = format!(
                        "{}/{}",
                        want_grade.map_or("?".into(), grade_label),
                        want_class.map_or("?".into(), |c| crate::say!("{c}班", "class {c}"))
                    );
                    found.push((
                        Code::PhotoWrongFolder,
                        crate::say!(
                            "照片在“{}”文件夹，学籍在{wanted}",
                            "the photo is in folder {:?}; the record is in {wanted}",
                            photos[i].parent()
                        ),
                    ));
                }
            }
            PhotoName::NoId { school, .. } => {
                let here = (photos[i].dir, photos[i].parent().to_owned());
                if numbered_folders.contains(&here) || home.get(school).is_some_and(|h| *h != here) {
                    let message = match home.get(school) {
                        Some((_, home)) => crate::say!(
                            "无证件号学生的照片应单独放在本校的无证件号照片文件夹(本校多数在“{home}”)，此张在“{}”",
                            "photos of students without a number belong in the school's own folder for them (most are in {home:?}); this one is in {:?}",
                            here.1
                        ),
                        None => crate::say!(
                            "无证件号学生的照片应单独放在本校的无证件号照片文件夹，不与有证件号的照片混放；此张在“{}”",
                            "photos of students without a number belong in a folder of their own, not among numbered photos; this one is in {:?}",
                            here.1
                        ),
                    };
                    found.push((Code::PhotoWrongFolder, message));
                }
            }
            PhotoName::Invalid => {}
        }
        // The student: the first record the name points to.
        let student = roster.records_of(&photos[i].name).first().map_or(record, |&r| r as usize);
        match first_photo.get(&student) {
            Some(&first) => {
                let other = &photos[first].path;
                found.push((
                    Code::PhotoDuplicate,
                    crate::say!("与“{other}”是同一学生的照片", "the same student as {other:?}"),
                ));
            }
            None => {
                first_photo.insert(student, i);
            }
        }
        photos[i].inspection.findings.extend(found);
        photos[i].inspection.findings.sort_by_key(|(code, _)| *code);
    }
}

fn grade_label(grade: i32) -> String {
    match grade {
        1..=6 => crate::say!("{grade}年级", "grade {grade}"),
        7..=9 => crate::say!("{}年级(初{})", "grade {} (junior {})", grade, grade - 6),
        _ => crate::say!("{}年级(高{})", "grade {} (senior {})", grade, grade - 9),
    }
}

/// Folders walked depth first, one folder's entries in memory at a time; photos out as
/// (folder index, path), other files into `skipped`.
struct Walk<'a> {
    dirs: &'a [PathBuf],
    next_dir: usize,
    /// (folder index, folder, depth) still to read.
    stack: Vec<(usize, PathBuf, usize)>,
    files: std::vec::IntoIter<(usize, PathBuf)>,
    seen: HashSet<PathBuf>,
    skipped: &'a std::sync::Mutex<Vec<(usize, String)>>,
}

impl<'a> Walk<'a> {
    fn new(dirs: &'a [PathBuf], skipped: &'a std::sync::Mutex<Vec<(usize, String)>>) -> Walk<'a> {
        Walk { dirs, next_dir: 0, stack: Vec::new(), files: Vec::new().into_iter(), seen: HashSet::new(), skipped }
    }

    fn read_folder(&mut self, dir: usize, folder: &Path, depth: usize) -> Vec<(usize, PathBuf)> {
        // A folder reached again through a link is not walked again; unreadable folders are
        // reported as skipped, not fatal: one locked folder must not stop a province.
        let real = std::fs::canonicalize(folder).unwrap_or_else(|_| folder.to_owned());
        if !self.seen.insert(real) {
            return Vec::new();
        }
        if depth > crate::ingest::MAX_FOLDER_DEPTH {
            // Listed, not walked: no real photo folder is that deep.
            self.skip_file(dir, folder);
            return Vec::new();
        }
        // The entry's own type needs no stat per file (millions of them); a link is followed.
        let entries = match std::fs::read_dir(folder) {
            Ok(entries) => entries
                .filter_map(|e| e.ok())
                .map(|e| {
                    let path = e.path();
                    let is_dir = e.file_type().is_ok_and(|t| t.is_dir() || (t.is_symlink() && path.is_dir()));
                    (path, is_dir)
                })
                .collect::<Vec<_>>(),
            Err(_) => {
                self.skip_file(dir, folder);
                return Vec::new();
            }
        };
        let mut files = Vec::new();
        let mut folders = Vec::new();
        for (path, is_dir) in entries {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if name.starts_with('.') {
                continue;
            }
            if is_dir {
                folders.push(path);
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| PHOTO_EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
            {
                files.push((dir, path));
            } else if !matches!(name.to_ascii_lowercase().as_str(), "thumbs.db" | "desktop.ini") {
                self.skip_file(dir, &path);
            }
        }
        folders.sort();
        self.stack.extend(folders.into_iter().rev().map(|f| (dir, f, depth + 1)));
        files
    }

    fn skip_file(&self, dir: usize, path: &Path) {
        let relative = path.strip_prefix(&self.dirs[dir]).unwrap_or(path).to_string_lossy().replace('\\', "/");
        self.skipped.lock().unwrap_or_else(|e| e.into_inner()).push((dir, relative));
    }
}

impl Iterator for Walk<'_> {
    type Item = (usize, PathBuf);

    fn next(&mut self) -> Option<(usize, PathBuf)> {
        loop {
            if let Some(file) = self.files.next() {
                return Some(file);
            }
            let (dir, folder, depth) = match self.stack.pop() {
                Some(next) => next,
                None if self.next_dir < self.dirs.len() => {
                    self.next_dir += 1;
                    (self.next_dir - 1, self.dirs[self.next_dir - 1].clone(), 0)
                }
                None => return None,
            };
            self.files = self.read_folder(dir, &folder, depth).into_iter();
        }
    }
}

/// The files an audit writes into its output folder (besides the retake workbooks).
pub const PHOTO_OUTPUTS: [&str; 5] =
    ["photo_problems.parquet", "photo_problems.csv", "photos.parquet", "photo_summary.csv", "photo_audit.json"];

/// Counts of an audit, for people and the manifest.
#[derive(Debug, Serialize)]
pub struct AuditSummary {
    pub photos: usize,
    pub students: usize,
    pub students_with_photo: usize,
    pub students_without_photo: usize,
    /// Photos with no problem beyond information.
    pub photos_passed: usize,
    /// Photos of known students that need a new photo (missing students aside).
    pub photos_to_retake: usize,
    /// Photos of known students whose problems `--fix` can correct.
    pub photos_fixable: usize,
    /// Files under the photo folders that are not photos (by extension), and folders that could
    /// not be read or lie too deep: listed, so that nothing is passed over unseen.
    pub skipped_files: Vec<PathBuf>,
    pub by_code: BTreeMap<&'static str, usize>,
    /// Timings stay out of the file, which is the same bytes on every run (`run` keeps them
    /// in its manifest).
    #[serde(skip)]
    pub seconds: f64,
    #[serde(skip)]
    pub photos_per_second: f64,
    pub rules: Rules,
    /// School workbooks listing the students to photograph, under `photo_retakes/`.
    pub retake_lists: Vec<PathBuf>,
}

impl PhotoAudit {
    pub fn summary(&self, records: usize, rules: &Rules) -> AuditSummary {
        let mut by_code = BTreeMap::new();
        for (code, _) in self.photos.iter().flat_map(|p| &p.inspection.findings) {
            *by_code.entry(code.as_str()).or_default() += 1;
        }
        if !self.missing.is_empty() {
            by_code.insert(Code::PhotoMissing.as_str(), self.missing.len());
        }
        let serious = |p: &Photo| p.inspection.findings.iter().any(|(c, _)| c.kind().severity != Severity::Info);
        AuditSummary {
            photos: self.photos.len(),
            students: records,
            students_with_photo: records - self.missing.len(),
            students_without_photo: self.missing.len(),
            photos_passed: self.photos.iter().filter(|p| !serious(p)).count(),
            photos_to_retake: self.photos.iter().filter(|p| p.needs_retake()).count(),
            photos_fixable: self
                .photos
                .iter()
                .filter(|p| serious(p) && !p.needs_retake() && p.record.is_some())
                .count(),
            skipped_files: self.skipped.iter().map(|(d, path)| self.dirs[*d].join(path)).collect(),
            by_code,
            seconds: self.seconds,
            photos_per_second: self.photos.len() as f64 / self.seconds.max(1e-9),
            rules: rules.clone(),
            retake_lists: Vec::new(),
        }
    }

    /// One row per photo × problem, then one per student without a photo.
    pub fn problems_frame(&self, records: &DataFrame) -> Result<DataFrame> {
        let text = |name: &str| Text::of(records, name);
        let columns =
            ["record_id", "name", "school_code_norm", "school_name", "grade", "class", "place_city", "place_county"]
                .map(text);
        let columns = columns.into_iter().collect::<Result<Vec<_>>>()?;
        let mut rows: Vec<(Option<&Photo>, Option<usize>, Code, &str)> = Vec::new();
        for photo in &self.photos {
            for (code, message) in &photo.inspection.findings {
                rows.push((Some(photo), photo.record, *code, message));
            }
        }
        let missing = crate::lang::pick("没有找到该学生的照片", "no photo of this student was found");
        rows.extend(self.missing.iter().map(|&r| (None, Some(r), Code::PhotoMissing, missing)));
        let string = |name: &str, values: Vec<Option<&str>>| {
            StringChunked::from_iter_options(name.into(), values.into_iter()).into_column()
        };
        let dir_names: Vec<String> = self.dirs.iter().map(|d| d.display().to_string()).collect();
        let mut out = vec![
            string("path", rows.iter().map(|r| Some(r.0.map_or("", |p| p.path.as_str()))).collect()),
            string("photo_dir", rows.iter().map(|r| r.0.map(|p| dir_names[p.dir].as_str())).collect()),
            string("code", rows.iter().map(|r| Some(r.2.as_str())).collect()),
            string("severity", rows.iter().map(|r| Some(r.2.kind().severity.as_str())).collect()),
            string("problem", rows.iter().map(|r| Some(r.2.kind().label())).collect()),
            string("message", rows.iter().map(|r| Some(r.3)).collect()),
            string(
                "retake",
                rows.iter().map(|r| Some(if r.0.is_none_or(Photo::needs_retake) { "yes" } else { "no" })).collect(),
            ),
        ];
        let names = ["record_id", "name", "school_code", "school_name", "grade", "class", "city", "county"];
        for (name, column) in names.iter().zip(&columns) {
            out.push(string(name, rows.iter().map(|r| r.1.and_then(|i| column.get(i))).collect()));
        }
        Ok(DataFrame::new(rows.len(), out)?)
    }

    /// One row per photo with what was measured on it.
    pub fn photos_frame(&self, records: &DataFrame) -> Result<DataFrame> {
        let record_ids = Text::of(records, "record_id")?;
        let p = &self.photos;
        fn portrait(p: &Photo) -> Option<&super::measure::Portrait> {
            p.inspection.portrait.as_ref()
        }
        let f64s = |name: &str, values: Vec<Option<f64>>| {
            Float64Chunked::from_iter_options(name.into(), values.into_iter()).into_column()
        };
        let u32s = |name: &str, values: Vec<Option<u32>>| {
            UInt32Chunked::from_iter_options(name.into(), values.into_iter()).into_column()
        };
        let strings = |name: &str, values: Vec<Option<String>>| {
            StringChunked::from_iter_options(name.into(), values.into_iter()).into_column()
        };
        let columns = vec![
            strings("path", p.iter().map(|p| Some(p.path.clone())).collect()),
            strings("photo_dir", p.iter().map(|p| Some(self.dirs[p.dir].display().to_string())).collect()),
            strings(
                "record_id",
                p.iter().map(|p| p.record.and_then(|r| record_ids.get(r)).map(str::to_owned)).collect(),
            ),
            strings("format", p.iter().map(|p| p.inspection.format.map(|f| format!("{f:?}").to_lowercase())).collect()),
            UInt64Chunked::from_iter_values("bytes".into(), p.iter().map(|p| p.inspection.bytes)).into_column(),
            u32s("width", p.iter().map(|p| p.inspection.width).collect()),
            u32s("height", p.iter().map(|p| p.inspection.height).collect()),
            f64s("dpi", p.iter().map(|p| p.inspection.dpi).collect()),
            u32s("exif_orientation", p.iter().map(|p| Some(u32::from(p.inspection.orientation))).collect()),
            strings(
                "background",
                p.iter()
                    .map(|p| {
                        portrait(p).map(|x| {
                            let [r, g, b] = x.background;
                            format!("#{r:02X}{g:02X}{b:02X}")
                        })
                    })
                    .collect(),
            ),
            f64s("border_uniformity", p.iter().map(|p| portrait(p).map(|x| x.uniformity)).collect()),
            f64s("head_share", p.iter().map(|p| portrait(p).and_then(|x| x.head_share())).collect()),
            f64s("head_offset", p.iter().map(|p| portrait(p).and_then(|x| x.head_offset())).collect()),
            f64s("sharpness", p.iter().map(|p| portrait(p).map(|x| x.sharpness)).collect()),
            strings(
                "codes",
                p.iter()
                    .map(|p| Some(p.inspection.findings.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>().join(";")))
                    .collect(),
            ),
        ];
        Ok(DataFrame::new(p.len(), columns)?)
    }

    /// Per school: students, photos, students without one, photos to retake or fix.
    pub fn school_summary(&self, records: &DataFrame) -> Result<DataFrame> {
        let text = |name: &str| Text::of(records, name);
        let (city, county, code, school) = (
            text("place_city")?,
            text("place_county")?,
            text("school_code_norm")?,
            Text::optional(records, "school_name")?,
        );
        let key = |i: usize| {
            (
                city.get(i).unwrap_or(""),
                county.get(i).unwrap_or(""),
                code.get(i).unwrap_or(""),
                school.get(i).unwrap_or(""),
            )
        };
        // students, without photo, photos, to retake, fixable
        let mut schools: BTreeMap<_, [u64; 5]> = BTreeMap::new();
        for i in 0..records.height() {
            schools.entry(key(i)).or_default()[0] += 1;
        }
        for &i in &self.missing {
            schools.entry(key(i)).or_default()[1] += 1;
        }
        let serious = |p: &Photo| p.inspection.findings.iter().any(|(c, _)| c.kind().severity != Severity::Info);
        for p in &self.photos {
            let Some(i) = p.record else { continue };
            let counts = schools.entry(key(i)).or_default();
            counts[2] += 1;
            counts[3] += u64::from(p.needs_retake());
            counts[4] += u64::from(serious(p) && !p.needs_retake());
        }
        let headers: [&str; 9] = if crate::lang::english() {
            [
                "city",
                "county",
                "school_code",
                "school_name",
                "students",
                "students_without_photo",
                "photos",
                "photos_to_retake",
                "photos_to_fix",
            ]
        } else {
            ["地市", "区县", "学校标识码", "学校名称", "学生数", "无照片学生", "照片数", "需重拍照片", "可自动修正照片"]
        };
        let mut columns: Vec<Column> = (0..4)
            .map(|k| {
                let values = schools.keys().map(|s| [s.0, s.1, s.2, s.3][k]);
                StringChunked::from_iter_values(headers[k].into(), values).into_column()
            })
            .collect();
        for k in 0..5 {
            columns.push(
                UInt64Chunked::from_iter_values(headers[4 + k].into(), schools.values().map(|c| c[k])).into_column(),
            );
        }
        Ok(DataFrame::new(schools.len(), columns)?)
    }

    /// Writes the audit into `out` (created if needed) and returns its summary; the retake lists
    /// go under `out/photo_retakes/<city>/<county>/`.
    pub fn write(&self, records: &DataFrame, rules: &Rules, out: &Path, day: Date) -> Result<AuditSummary> {
        crate::files::output_dir(out)?;
        let mut problems = self.problems_frame(records)?;
        crate::files::write_parquet(&out.join("photo_problems.parquet"), &mut problems)?;
        crate::files::write_csv(&out.join("photo_problems.csv"), &problems_for_people(&problems)?)?;
        crate::files::write_parquet(&out.join("photos.parquet"), &mut self.photos_frame(records)?)?;
        crate::files::write_csv(&out.join("photo_summary.csv"), &self.school_summary(records)?)?;
        let mut summary = self.summary(records.height(), rules);
        summary.retake_lists = self.write_retake_lists(records, &out.join("photo_retakes"), day)?;
        crate::files::write_atomic(&out.join("photo_audit.json"), |w| {
            serde_json::to_writer_pretty(&mut *w, &summary).map_err(|e| Error::input(out, e.to_string()))?;
            std::io::Write::write_all(w, b"\n").map_err(|e| Error::io(out, e))
        })?;
        Ok(summary)
    }

    /// Per school, the students to photograph: those without a photo and those whose photo no
    /// program can correct, with why. Returns the workbooks written (relative to `dir`).
    fn write_retake_lists(&self, records: &DataFrame, dir: &Path, day: Date) -> Result<Vec<PathBuf>> {
        let text = |name: &str| Text::of(records, name);
        let (city, county, code, school) = (
            text("place_city")?,
            text("place_county")?,
            text("school_code_norm")?,
            Text::optional(records, "school_name")?,
        );
        let (record_id, name, grade, class) =
            (text("record_id")?, text("name")?, Text::optional(records, "grade")?, Text::optional(records, "class")?);
        let (grade_norm, class_norm) = (Ints::of(records, "grade_norm")?, text("class_norm")?);
        type School<'a> = (&'a str, &'a str, &'a str, &'a str);
        // A student to photograph: record (none for a photo of nobody), why, the photo there is.
        type ToPhotograph<'a> = (Option<usize>, String, &'a str);
        let mut schools: BTreeMap<School, Vec<ToPhotograph>> = BTreeMap::new();
        let key = |i: usize| {
            (
                city.get(i).unwrap_or(""),
                county.get(i).unwrap_or(""),
                code.get(i).unwrap_or(""),
                school.get(i).unwrap_or(""),
            )
        };
        for &i in &self.missing {
            schools.entry(key(i)).or_default().push((Some(i), Code::PhotoMissing.kind().label().to_owned(), ""));
        }
        for p in self.photos.iter().filter(|p| p.needs_retake()) {
            let Some(i) = p.record else { continue };
            let why: Vec<String> = p
                .inspection
                .findings
                .iter()
                .filter(|(c, _)| p.unfixable(*c))
                .map(|(c, m)| format!("{}：{m}", c.kind().label()))
                .collect();
            schools.entry(key(i)).or_default().push((Some(i), why.join("；"), p.path.as_str()));
        }
        // A photo of nobody goes on the list of the school whose code a folder above it, or its
        // own no-ID name, carries: the school names whose photo it is.
        let school_of: HashMap<&str, usize> =
            (0..records.height()).rev().filter_map(|i| Some((code.get(i)?, i))).collect();
        for p in self.photos.iter().filter(|p| p.record.is_none()) {
            let named = match &p.name {
                PhotoName::NoId { school, .. } => Some(school.as_str()),
                _ => None,
            };
            let Some(&i) = named.into_iter().chain(p.path.split('/')).find_map(|part| school_of.get(part)) else {
                continue;
            };
            let why: Vec<String> = p
                .inspection
                .findings
                .iter()
                .filter(|(c, _)| c.kind().severity != Severity::Info)
                .map(|(c, m)| format!("{}：{m}", c.kind().label()))
                .collect();
            schools.entry(key(i)).or_default().push((None, why.join("；"), p.path.as_str()));
        }
        let schools: Vec<(School, Vec<ToPhotograph>)> = schools.into_iter().collect();
        let places = crate::files::school_paths(&schools.iter().map(|(s, _)| [s.0, s.1, s.2, s.3]).collect::<Vec<_>>());
        let headers: [&str; 7] = if crate::lang::english() {
            ["record_id", "name", "grade", "class", "why", "photo", "photo taken (✓)"]
        } else {
            ["记录号", "姓名", "年级", "班级", "原因", "现有照片", "已重拍(✓)"]
        };
        let mut written: Vec<PathBuf> = THREAD_POOL.install(|| {
            schools
                .par_iter()
                .zip(&places)
                .map(|((_, students), (folder, path))| {
                    std::fs::create_dir_all(dir.join(folder)).map_err(|e| Error::io(dir, e))?;
                    let mut students = students.clone();
                    // 七年级 before 八年级 before 九年级: by the grade's number, then the class's;
                    // photos of nobody last.
                    students.sort_by_key(|(i, _, photo)| match i {
                        Some(i) => {
                            (false, grade_norm.get(*i), class_norm.get(*i).and_then(|c| c.parse::<u32>().ok()), *i, "")
                        }
                        None => (true, None, None, 0, *photo),
                    });
                    let rows: Vec<[String; 7]> = students
                        .iter()
                        .map(|(i, why, photo)| {
                            let get = |t: &Text<'_>| -> Option<String> { i.and_then(|i| t.get(i)).map(str::to_owned) };
                            [
                                get(&record_id),
                                get(&name),
                                get(&grade),
                                get(&class),
                                Some(why.clone()),
                                Some(photo.to_string()),
                                None,
                            ]
                            .map(|v| inert(v.as_deref().unwrap_or("")).into_owned())
                        })
                        .collect();
                    let target = dir.join(path);
                    let xlsx = |e: rust_xlsxwriter::XlsxError| Error::input(&target, format!("writing xlsx: {e}"));
                    let mut workbook = crate::report::new_workbook(day)?;
                    let sheet = workbook.worksheet_from_index(0).map_err(xlsx)?;
                    sheet.set_name(crate::lang::pick("待拍照学生", "to photograph")).map_err(xlsx)?;
                    table_sheet(sheet, &headers, &rows).map_err(xlsx)?;
                    for (r, row) in rows.iter().enumerate() {
                        for (c, value) in row.iter().enumerate() {
                            sheet.write_string(r as u32 + 1, c as u16, value).map_err(xlsx)?;
                        }
                    }
                    let mut file = AtomicFile::create(&target)?;
                    workbook.save_to_writer(file.writer()).map_err(xlsx)?;
                    file.commit()?;
                    Ok(path.clone())
                })
                .collect::<Result<_>>()
        })?;
        written.sort();
        Ok(written)
    }
}

/// `photo_problems.csv` as people read it: Chinese headers, the problem and the student first,
/// the stable codes beside them.
pub fn problems_for_people(problems: &DataFrame) -> Result<DataFrame> {
    const COLUMNS: [(&str, &str); 15] = [
        ("problem", "问题"),
        ("message", "说明"),
        ("path", "照片"),
        ("name", "姓名"),
        ("school_name", "学校名称"),
        ("grade", "年级"),
        ("class", "班级"),
        ("severity", "严重程度"),
        ("retake", "需重拍"),
        ("code", "问题代码"),
        ("record_id", "记录号"),
        ("school_code", "学校标识码"),
        ("city", "地市"),
        ("county", "区县"),
        ("photo_dir", "照片文件夹"),
    ];
    let retake = problems
        .column("retake")?
        .str()?
        .apply_values(|s| crate::lang::pick(if s == "yes" { "是" } else { "否" }, s).to_owned().into());
    crate::report::for_people(problems, &COLUMNS, vec![crate::report::severity_labels(problems)?, retake.into_column()])
}

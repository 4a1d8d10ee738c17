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

use super::file::Format;
use super::naming::{folder_grade_class, PhotoName};
use super::{inspect, Rules};
use crate::columns::{Ints, Text};
use crate::error::{Error, Result};
use crate::files::{FolderWalk, Found};
use crate::normalize::date::Date;
use crate::problems::{Code, Severity};

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
    /// Its name was read without a copy's mark (`(1)`, ` - 副本` …): it is a copy.
    pub copy: bool,
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
    pub(super) fn unfixable(&self, code: Code) -> bool {
        match code {
            Code::PhotoNotJpeg => !self.inspection.format.is_some_and(Format::convertible),
            // A misnamed photo is renamed by --fix; a photo of nobody is a question of its name.
            Code::PhotoNameInvalid | Code::PhotoNoRecord => false,
            code => !super::fixable(code) && code.kind().severity != Severity::Info,
        }
    }

    /// Whether another photo of the same student came first (this one is `PHOTO_DUPLICATE`).
    pub fn second_of_student(&self) -> bool {
        self.inspection.findings.iter().any(|(code, _)| *code == Code::PhotoDuplicate)
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
    let total = photo_files(dirs, &std::sync::Mutex::new(Vec::new())).count() as u64;
    let done = std::sync::atomic::AtomicU64::new(0);
    let mut photos: Vec<Photo> = THREAD_POOL.install(|| {
        photo_files(dirs, &skipped)
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
    // A copy's mark is read away only when the name as written is nobody's: `李娜(2)` may be the
    // class's second 李娜, registered so.
    let written = PhotoName::parse(&file_name, as_of);
    let (name, copy) = match PhotoName::parse_copy(&file_name, as_of) {
        Some(copied) if roster.records_of(&written).is_empty() => (copied, true),
        _ => (written, false),
    };
    let mut photo = Photo { dir, path: relative, inspection, name, copy, record: None };
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

    // A student's first photo is the one not named as a copy, whichever sorts first: the copy is
    // the duplicate.
    let mut order: Vec<usize> = (0..photos.len()).collect();
    order.sort_by_key(|&i| photos[i].copy);
    let mut first_photo: HashMap<usize, usize> = HashMap::new();
    for i in order {
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

/// The photo files below `dirs` (by extension), with the index of the folder each lies under.
/// Other files, folders that cannot be read and folders too deep go to `skipped` (relative to
/// their folder): one locked folder must not stop a province, and nothing is passed over unseen.
fn photo_files<'a>(
    dirs: &'a [PathBuf],
    skipped: &'a std::sync::Mutex<Vec<(usize, String)>>,
) -> impl Iterator<Item = (usize, PathBuf)> + 'a {
    let skip = move |dir: usize, path: &Path| {
        let relative = path.strip_prefix(&dirs[dir]).unwrap_or(path).to_string_lossy().replace('\\', "/");
        skipped.lock().unwrap_or_else(|e| e.into_inner()).push((dir, relative));
    };
    FolderWalk::new(dirs).filter_map(move |(dir, found)| match found {
        Found::File(path) => {
            let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
            let photo = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| PHOTO_EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)));
            if photo {
                return Some((dir, path));
            }
            // Windows' own files in every folder are nobody's mistake.
            if !matches!(name.as_str(), "thumbs.db" | "desktop.ini") {
                skip(dir, &path);
            }
            None
        }
        Found::Unreadable(folder, _) | Found::TooDeep(folder) => {
            skip(dir, &folder);
            None
        }
    })
}

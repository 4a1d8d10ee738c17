//! What a photo audit writes: the problems (one row per photo × problem and per student
//! without a photo), what was measured on every photo, a summary per school, each school's
//! workbook of students to photograph, and photo_audit.json.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use polars_core::runtime::THREAD_POOL;
use rayon::prelude::*;
use serde::Serialize;

use super::audit::{Photo, PhotoAudit};
use super::naming::PhotoName;
use super::Rules;
use crate::columns::{Ints, Text};
use crate::error::{Error, Result};
use crate::files::{inert, AtomicFile};
use crate::normalize::date::Date;
use crate::problems::{Code, Severity};
use crate::report::table_sheet;

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
            f64s("face_x", p.iter().map(|p| portrait(p).and_then(|x| x.face).map(|f| f.x)).collect()),
            f64s("face_y", p.iter().map(|p| portrait(p).and_then(|x| x.face).map(|f| f.y)).collect()),
            f64s("face_size", p.iter().map(|p| portrait(p).and_then(|x| x.face).map(|f| f.size)).collect()),
            f64s("face_score", p.iter().map(|p| portrait(p).and_then(|x| x.face).map(|f| f.score)).collect()),
            f64s("head_top", p.iter().map(|p| portrait(p).and_then(|x| x.head).map(|h| h.top)).collect()),
            f64s("head_chin", p.iter().map(|p| portrait(p).and_then(|x| x.head).map(|h| h.chin)).collect()),
            strings(
                "head_from",
                p.iter().map(|p| portrait(p).and_then(|x| x.head).map(|h| h.from.as_str().to_owned())).collect(),
            ),
            f64s("border_uniformity", p.iter().map(|p| portrait(p).and_then(|x| x.uniformity)).collect()),
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

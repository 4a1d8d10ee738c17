//! Synthetic province populations with ground truth: how xueji is tested, demonstrated and
//! benchmarked without any real student data.
//!
//! A population is a pure function of its options: person `i` draws from random streams keyed
//! by (seed, i), so the output is byte-identical for a seed whatever the thread count, and
//! persons are generated and written in parallel batches with bounded memory.

mod names;
mod output;
mod person;
pub mod photos;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use polars_core::runtime::THREAD_POOL;
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::normalize::date::Date;
use crate::normalize::region;
use crate::rng::{Rng, Weighted};
pub use output::{Format, Layout, TextEncoding};
use person::{Person, Record};

/// The folder of the generated sheets inside the output folder: what `xueji check` reads.
pub const SHEETS_DIR: &str = "sheets";

/// Persons generated (and written) per batch: bounds memory at any population size.
const BATCH_PERSONS: usize = 100_000;

#[derive(Clone, Debug, Serialize)]
pub struct GenerateOptions {
    pub students: usize,
    /// Province codes (two digits, e.g. `21` 辽宁): the students are shared among them, and a
    /// person may register again in another province (`transfer_rate`).
    pub provinces: Vec<String>,
    /// With several provinces: the share of duplicate registrations made in another province
    /// (a transfer across provinces registered in both).
    pub transfer_rate: f64,
    pub seed: u64,
    /// The school year is the one this day falls in: it fixes birth dates for grades.
    pub as_of: Date,
    /// Share of people registered more than once (a fifth of them twice over).
    pub duplicate_rate: f64,
    /// Twin pairs per person.
    pub twin_rate: f64,
    /// Share of people whose record carries a classmate's ID number.
    pub misuse_rate: f64,
    /// Share of original records with one injected data-quality problem.
    pub problem_rate: f64,
    pub format: Format,
    pub encoding: TextEncoding,
    /// One file for the province, or one per school as schools send them.
    pub layout: Layout,
    /// With one CSV per school: the share of schools whose CSV Excel saved, its ID numbers
    /// rounded to 15 digits (`2.11381E+17`, `211381200908232000`).
    pub excel_saved_rate: f64,
    /// Draw a photo per student into `photos/` (truth in `truth/photos.csv`).
    pub photos: bool,
    /// Share of students whose photo has a defect (or who have none).
    pub photo_defect_rate: f64,
}

impl GenerateOptions {
    pub fn new(students: usize, seed: u64, as_of: Date) -> GenerateOptions {
        GenerateOptions {
            students,
            provinces: vec!["21".into()],
            transfer_rate: 0.3,
            seed,
            as_of,
            duplicate_rate: 0.03,
            twin_rate: 0.01,
            misuse_rate: 0.002,
            problem_rate: 0.02,
            format: Format::Parquet,
            encoding: TextEncoding::Utf8,
            layout: Layout::Province,
            excel_saved_rate: 0.1,
            photos: false,
            photo_defect_rate: 0.1,
        }
    }
}

/// Counts of what was generated, written to `generate.json` beside the data.
#[derive(Clone, Debug, Default, Serialize)]
pub struct GenerateSummary {
    pub people: usize,
    pub records: usize,
    pub duplicate_records: usize,
    pub twin_pairs: usize,
    pub misused_ids: usize,
    pub injected_problems: usize,
    /// Registrations in another province than the person's first (several provinces).
    pub transfers: usize,
    pub schools: usize,
    pub counties: usize,
    /// Photo files written (`--photos`).
    pub photos: usize,
    pub files: Vec<PathBuf>,
    pub seconds: f64,
}

/// How a school types its sheet: the same facts look different from school to school.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub sex_as_code: bool,
    pub date_format: usize,
    pub ethnicity_as_code: bool,
    pub grade_as_number: bool,
    pub class_format: usize,
    pub document_type_as_code: bool,
    /// The school's CSV was saved by Excel from a General column: its 18-digit numbers went
    /// through a double, shown in E+ form (`true`) or with the last three digits zeroed.
    pub excel_saved: Option<bool>,
}

pub struct County {
    pub code: String,
    pub name: &'static str,
    pub city: String,
    pub household_text: String,
}

pub struct School {
    pub code: String,
    pub name: String,
    pub county: usize,
    pub style: Style,
}

pub struct Class {
    pub school: usize,
    pub grade: u8,
    pub number: u16,
    /// Index of the first person in this class.
    pub start: usize,
}

/// The province as generated: counties, schools and classes with their seats.
pub struct Province {
    pub code: String,
    pub counties: Vec<County>,
    pub county_weights: Weighted<usize>,
    pub schools: Vec<School>,
    pub classes: Vec<Class>,
    /// Class indices by (grade, county), for choosing where a transferred student re-registers.
    pub classes_by_grade_county: HashMap<(u8, usize), Vec<usize>>,
    pub classes_by_grade: HashMap<u8, Vec<usize>>,
    pub school_year: Date,
}

impl Province {
    /// Province `code` of `options.students` students.
    fn build(options: &GenerateOptions, code: &str) -> Result<Province> {
        let school_year = crate::check::school_year_start(options.as_of);
        let oldest_birth = school_year.year - 20;
        let codes = region::stable_counties(code, oldest_birth.min(2000)..=2020);
        if codes.is_empty() {
            return Err(Error::Usage(format!("--province {code}: no county codes in the region table")));
        }
        let province_name = region::region_name(&format!("{code}0000")).unwrap_or("");
        let mut rng = Rng::keyed(options.seed, 0, person::PURPOSE_PROVINCE);
        let counties: Vec<County> = codes
            .into_iter()
            .map(|code| {
                let city_code = region::city_code(&code).unwrap_or_default();
                let city = if city_code.ends_with("0000") {
                    String::new()
                } else {
                    region::region_name(&city_code).unwrap_or("").to_owned()
                };
                let name = region::region_name(&code).unwrap_or("");
                let household_text = format!("{province_name}{city}{name}");
                County { code, name, city, household_text }
            })
            .collect();
        let county_weights = Weighted::new((0..counties.len()).map(|i| (i, 0.3 + 2.0 * rng.unit())));

        let mut schools = Vec::new();
        let mut classes = Vec::new();
        let mut seats = 0usize;
        let mut per_county_kind: HashMap<(usize, u8), usize> = HashMap::new();
        while seats < options.students {
            let county = *county_weights.draw(&mut rng);
            let (kind, grades, label, type_code) = match rng.unit() {
                x if x < 0.5 => (0u8, 1..=6u8, "小学", "21"),
                x if x < 0.77 => (1, 7..=9, "中学", "31"),
                _ => (2, 10..=12, "高级中学", "34"),
            };
            let nth = per_county_kind.entry((county, kind)).or_default();
            *nth += 1;
            let school = schools.len();
            let mut style = Style {
                sex_as_code: rng.chance(0.3),
                date_format: rng.below(person::DATE_FORMATS),
                ethnicity_as_code: rng.chance(0.2),
                grade_as_number: rng.chance(0.3),
                class_format: rng.below(3),
                document_type_as_code: rng.chance(0.3),
                excel_saved: None,
            };
            // A draw of its own, so that every other school is as it was.
            if options.layout == Layout::Schools && options.format == Format::Csv {
                let mut excel = Rng::keyed(options.seed, schools.len() as u64, person::PURPOSE_EXCEL_SAVED);
                style.excel_saved = excel.chance(options.excel_saved_rate).then(|| excel.chance(0.5));
            }
            schools.push(School {
                code: format!("{type_code}{code}{:06}", school + 1),
                name: format!("{}第{}{label}", counties[county].name, nth),
                county,
                style,
            });
            let per_grade = 1 + rng.below(6);
            for grade in grades {
                for number in 1..=per_grade {
                    if seats >= options.students {
                        break;
                    }
                    classes.push(Class { school, grade, number: number as u16, start: seats });
                    seats += 35 + rng.below(11);
                }
            }
        }
        let mut classes_by_grade_county: HashMap<(u8, usize), Vec<usize>> = HashMap::new();
        let mut classes_by_grade: HashMap<u8, Vec<usize>> = HashMap::new();
        for (i, class) in classes.iter().enumerate() {
            classes_by_grade_county.entry((class.grade, schools[class.school].county)).or_default().push(i);
            classes_by_grade.entry(class.grade).or_default().push(i);
        }
        Ok(Province {
            code: code.to_owned(),
            counties,
            county_weights,
            schools,
            classes,
            classes_by_grade_county,
            classes_by_grade,
            school_year,
        })
    }

    /// The class person `index` sits in.
    pub fn class_of(&self, index: usize) -> usize {
        self.classes.partition_point(|c| c.start <= index) - 1
    }
}

/// Province `p`'s share of the students, and its seed (the first province keeps the seed: a
/// single province is generated as it always was).
fn province_share(options: &GenerateOptions, p: usize) -> GenerateOptions {
    let n = options.provinces.len();
    GenerateOptions {
        students: options.students / n + usize::from(p < options.students % n),
        seed: options.seed ^ (p as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        ..options.clone()
    }
}

/// Generates the population into `out` (created if needed): the student sheets in the chosen
/// format in `sheets/` (`sheets/<code>/` for each of several provinces), the truth of them all
/// in `truth/`, and `generate.json`.
pub fn generate(options: &GenerateOptions, out: &Path) -> Result<GenerateSummary> {
    let started = Instant::now();
    if options.students < options.provinces.len().max(1) {
        return Err(Error::Usage("--students must be at least 1 per province".into()));
    }
    for dir in [SHEETS_DIR, "truth"] {
        std::fs::create_dir_all(out.join(dir)).map_err(|e| Error::io(out, e))?;
    }
    if options.provinces.is_empty() {
        return Err(Error::Usage("--province: at least one province".into()));
    }
    if options.photos && options.provinces.len() > 1 {
        return Err(Error::Usage("--photos: of one province at a time".into()));
    }
    let shares: Vec<GenerateOptions> = (0..options.provinces.len()).map(|p| province_share(options, p)).collect();
    let provinces: Vec<Province> = shares
        .iter()
        .zip(&options.provinces)
        .map(|(share, code)| Province::build(share, code))
        .collect::<Result<_>>()?;

    // One province writes into sheets/, several each into sheets/<code>/.
    let sheets_dir = |p: usize| match options.provinces.len() {
        1 => out.join(SHEETS_DIR),
        _ => out.join(SHEETS_DIR).join(&options.provinces[p]),
    };
    let mut sheets: Vec<output::SheetWriter> = provinces
        .iter()
        .enumerate()
        .map(|(p, province)| {
            std::fs::create_dir_all(sheets_dir(p)).map_err(|e| Error::io(&sheets_dir(p), e))?;
            output::SheetWriter::create(&sheets_dir(p), options, province)
        })
        .collect::<Result<_>>()?;
    let mut truth = output::TruthWriter::create(&out.join("truth"))?;
    let mut keys = output::DuplicateKeys::default();
    let mut photo_truth = Vec::new();
    let mut summary = GenerateSummary {
        schools: provinces.iter().map(|p| p.schools.len()).sum(),
        counties: provinces.iter().map(|p| p.counties.len()).sum(),
        ..Default::default()
    };
    let mut offset = 0;
    for (home, share) in shares.iter().enumerate() {
        let world = person::World::new(share, &provinces, home, offset);
        offset += share.students;
        let overrides = THREAD_POOL.install(|| world.resolve_id_collisions());
        for start in (0..share.students).step_by(BATCH_PERSONS) {
            let end = (start + BATCH_PERSONS).min(share.students);
            let batch: Vec<(Person, Vec<Record>)> = THREAD_POOL.install(|| {
                (start..end)
                    .into_par_iter()
                    .map(|i| {
                        let person = world.person(i, &overrides);
                        let records = world.records(&person, &overrides);
                        (person, records)
                    })
                    .collect()
            });
            let records: Vec<&Record> = batch.iter().flat_map(|(_, records)| records).collect();
            for (person, person_records) in &batch {
                summary.people += 1;
                summary.twin_pairs += usize::from(person.twin_of.is_some_and(|t| t < person.index));
                summary.misused_ids += usize::from(person.misuses.is_some());
                summary.duplicate_records +=
                    person_records.iter().filter(|r| r.role == person::Role::Duplicate).count();
                summary.transfers += person_records.iter().filter(|r| r.province != home).count();
                summary.injected_problems += person_records.iter().filter(|r| r.injected.is_some()).count();
            }
            summary.records += records.len();
            // The sheets and the truth are encoded side by side.
            let (written, truth_written) = THREAD_POOL.install(|| {
                rayon::join(
                    || {
                        sheets.iter_mut().enumerate().try_for_each(|(p, sheet)| {
                            let here: Vec<&Record> = records.iter().copied().filter(|r| r.province == p).collect();
                            sheet.write(&here, &provinces[p])
                        })
                    },
                    || {
                        keys.add(&records);
                        truth.write(&records)
                    },
                )
            });
            written?;
            truth_written?;
            if options.photos {
                let dir = out.join(photos::PHOTOS_DIR);
                photo_truth.extend(THREAD_POOL.install(|| photos::write_photos(&records, &provinces[0], share, &dir))?);
            }
        }
    }
    if options.photos {
        summary.photos = photo_truth.iter().filter(|t| !t.path.is_empty()).count();
        photos::write_truth(&photo_truth, &out.join("truth").join("photos.csv"))?;
    }
    // Expectations known once the files are laid out (a merged cell's report on the first row
    // of its block) join those known once every record exists.
    let mut expected = keys.expected_codes();
    for (sheet, province) in sheets.into_iter().zip(&provinces) {
        let (files, laid_out) = sheet.finish(province)?;
        summary.files.extend(files);
        expected.extend(laid_out);
    }
    expected.sort();
    truth.finish(&expected)?;
    summary.seconds = started.elapsed().as_secs_f64();
    let manifest = serde_json::json!({ "options": options, "summary": summary });
    crate::files::write_atomic(&out.join("generate.json"), |w| {
        serde_json::to_writer_pretty(&mut *w, &manifest).map_err(|e| Error::input(out, e.to_string()))?;
        std::io::Write::write_all(w, b"\n").map_err(|e| Error::io(out, e))
    })?;
    Ok(summary)
}

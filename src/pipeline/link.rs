//! `link`: a new intake (September enrolment, another province's file) against an existing
//! registry, without deduplicating the registry again. The registry's saved model scores the
//! pairs; only pairs with a new record are blocked and compared. The registry is narrowed first
//! to the rows that share a selective key with the intake — an ID number within one typo, the
//! name's pinyin with the birth year, the guardian's phone — so that 10,000 new records against
//! millions take seconds. (Rules keyed only on initials, dates and places see those narrowed rows.)

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::dedupe::dedupe_records_from;
use crate::check::run::check_inputs;
use crate::check::run::CheckRun;
use crate::check::CheckOptions;
use crate::columns::{par_row_chunks, Ints, Text};
use crate::error::{Error, Result};
use crate::ingest::IngestOptions;
use crate::normalize::date::Date;
use crate::outcome::{DedupeRun, DedupeSettings};
use crate::progress::Stopwatch;
use crate::score::Model;

/// The registry columns linking reads (of a `records.parquet` written by `check` or `run`).
const REGISTRY_COLUMNS: [&str; 22] = [
    "record_id",
    "source_file",
    "source_row",
    "name",
    "id_number",
    "birth_date",
    "school_name",
    "household_address",
    "guardian_name",
    "name_norm",
    "name_pinyin",
    "name_pinyin_alt",
    "sex_norm",
    "birth_date_norm",
    "id_norm",
    "ethnicity_norm",
    "school_code_norm",
    "grade_norm",
    "guardian_phone_norm",
    "id_valid",
    "locality_city",
    "locality_county",
];

/// `df` with exactly [`REGISTRY_COLUMNS`], in order, repeated text coded alike (so that the
/// registry and the intake stack): text columns it lacks are null.
fn aligned(df: &DataFrame) -> Result<DataFrame> {
    let columns = REGISTRY_COLUMNS
        .iter()
        .map(|&name| match df.column(name) {
            Ok(c) => c.clone(),
            Err(_) => Column::full_null(name.into(), df.height(), &DataType::String),
        })
        .collect();
    let mut df = DataFrame::new(df.height(), columns)?;
    crate::columns::repeated(&mut df)?;
    Ok(df)
}

/// The name's pinyin with the birth year, hashed: common names alone would pull in much of a
/// province's registry.
fn name_year_key(pinyin: Option<&str>, birth_days: Option<i32>) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let pinyin = pinyin.filter(|p| !p.is_empty())?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (pinyin, Date::from_epoch_days(birth_days?).year).hash(&mut hasher);
    Some(hasher.finish())
}

/// Every string one substitution or one adjacent swap away from `id` (and `id` itself).
fn one_typo_variants(id: &str, out: &mut HashSet<String>) {
    out.insert(id.to_owned());
    let bytes = id.as_bytes();
    if bytes.len() != 18 || !id.is_ascii() {
        return;
    }
    for k in 0..18 {
        for &c in b"0123456789X" {
            if c != bytes[k] {
                let mut v = bytes.to_vec();
                v[k] = c;
                out.insert(String::from_utf8(v).unwrap_or_default());
            }
        }
        if k < 17 && bytes[k] != bytes[k + 1] {
            let mut v = bytes.to_vec();
            v.swap(k, k + 1);
            out.insert(String::from_utf8(v).unwrap_or_default());
        }
    }
}

pub struct LinkRun {
    pub run: DedupeRun,
    /// Registry rows read, and those kept for blocking.
    pub registry_rows: usize,
    pub registry_candidates: usize,
    pub new_records: usize,
}

/// Links `inputs` against the registry in `registry` (a folder with `records.parquet` and
/// `model.json`, as `xueji run` writes), scored with `model` when given, else the registry's.
pub fn link(
    inputs: &[PathBuf],
    ingest: &IngestOptions,
    check: &CheckOptions,
    registry: &Path,
    settings: &DedupeSettings,
    model: Option<Model>,
) -> Result<LinkRun> {
    let model = match model {
        Some(model) => model,
        None => Model::load(&registry.join("model.json"))?,
    };
    let mut new = check_inputs(inputs, ingest, check)?;
    let watch = Stopwatch::start("read registry");
    let new_records = new.records.height();

    // The intake's selective keys.
    let (mut ids, mut pinyins, mut phones) = (HashSet::new(), HashSet::new(), HashSet::new());
    let (id, pinyin, phone) = (
        Text::of(&new.records, "id_norm")?,
        Text::of(&new.records, "name_pinyin")?,
        Text::of(&new.records, "guardian_phone_norm")?,
    );
    let birth = Ints::of(&new.records, "birth_date_norm")?;
    for i in 0..new_records {
        if let Some(v) = id.get(i) {
            one_typo_variants(v, &mut ids);
        }
        pinyins.extend(name_year_key(pinyin.get(i), birth.get(i)));
        phones.extend(phone.get(i).map(str::to_owned));
    }

    let path = registry.join("records.parquet");
    let open = || std::fs::File::open(&path).map_err(|e| Error::io(&path, e));
    let cannot = |e: PolarsError| {
        Error::input(&path, crate::lang::both("无法读取学籍库", &format!("cannot read the registry: {e}")))
    };
    let present = ParquetReader::new(open()?).schema().map_err(cannot)?;
    for (name, field) in present.iter() {
        let expected = match name.as_str() {
            "source_row" => DataType::UInt32,
            "birth_date_norm" => DataType::Date,
            "grade_norm" => DataType::Int32,
            "id_valid" => DataType::Boolean,
            name if REGISTRY_COLUMNS.contains(&name) => DataType::String,
            _ => continue,
        };
        let found = DataType::from_arrow_field(field);
        let text = expected == DataType::String && found.is_categorical();
        if found != expected && !text {
            return Err(Error::input(
                &path,
                crate::lang::both(
                    &format!("列{name}的类型为{found}，xueji写出的学籍库中应为{expected}"),
                    &format!("column {name} is {found}, a registry written by xueji check or run has {expected} there"),
                ),
            ));
        }
    }
    let wanted: Vec<String> =
        REGISTRY_COLUMNS.iter().filter(|c| present.contains(c)).map(|c| (*c).to_owned()).collect();
    let mut registry_df = ParquetReader::new(open()?).with_columns(Some(wanted)).finish().map_err(cannot)?;
    // Text stored as categories (another writer's choice) is read as text, then coded as xueji
    // codes its repeated columns, so that the registry and the intake stack.
    let coded: Vec<Column> = registry_df
        .columns()
        .iter()
        .filter(|c| c.dtype().is_categorical())
        .map(|c| c.cast(&DataType::String))
        .collect::<PolarsResult<_>>()
        .map_err(cannot)?;
    for column in coded {
        registry_df.with_column(column).map_err(cannot)?;
    }
    let mut registry_df =
        aligned(&registry_df).map_err(|e| Error::input(&path, format!("cannot read the registry: {e}")))?;
    registry_df.rechunk_mut_par();
    let registry_rows = registry_df.height();
    // A record id names one registration: an intake row carrying a registry row's id would
    // make pairs, clusters and verdicts ambiguous.
    {
        let new_ids = Text::of(&new.records, "record_id")?;
        let intake: HashMap<&str, usize> = (0..new_records).filter_map(|i| Some((new_ids.get(i)?, i))).collect();
        let registry_ids = Text::of(&registry_df, "record_id")?;
        if let Some((id, i)) =
            (0..registry_rows).find_map(|r| registry_ids.get(r).and_then(|id| Some((id, *intake.get(id)?))))
        {
            let (files, rows) =
                (Text::of(&new.records, "source_file")?, new.records.column("source_row")?.u32()?.clone());
            return Err(Error::Usage(format!(
                "record id {id:?} ({}: row {}) is already a registration of the registry {}: an intake needs ids of its own (another --id-column, or none for file:row ids)",
                files.get(i).unwrap_or(""),
                rows.get(i).unwrap_or(0),
                registry.display()
            )));
        }
    }
    let keep: Vec<bool> = {
        let (rid, rpinyin, rphone) = (
            Text::of(&registry_df, "id_norm")?,
            Text::of(&registry_df, "name_pinyin")?,
            Text::of(&registry_df, "guardian_phone_norm")?,
        );
        let rbirth = Ints::of(&registry_df, "birth_date_norm")?;
        par_row_chunks(registry_rows, |rows| {
            rows.map(|i| {
                rid.get(i).is_some_and(|v| ids.contains(v))
                    || name_year_key(rpinyin.get(i), rbirth.get(i)).is_some_and(|k| pinyins.contains(&k))
                    || rphone.get(i).is_some_and(|v| phones.contains(v))
            })
            .collect::<Vec<_>>()
        })
        .into_iter()
        .flatten()
        .collect()
    };
    let mut narrowed = registry_df.filter(&BooleanChunked::from_slice("keep".into(), &keep))?;
    drop(registry_df);
    let registry_candidates = narrowed.height();

    // Registry rows first, then the intake, in the same columns.
    narrowed
        .vstack_mut_owned(aligned(&new.records)?)
        .map_err(|e| Error::input(&path, format!("the registry's columns do not stack with the intake's: {e}")))?;
    narrowed.rechunk_mut_par();
    for problem in &mut new.problems {
        problem.record += registry_candidates;
    }
    watch.finish(&mut new.timings);
    let combined =
        CheckRun { records: narrowed, problems: new.problems, timings: new.timings, preflight: new.preflight };
    let run = dedupe_records_from(combined, settings, Some(model), registry_candidates)?;
    Ok(LinkRun { run, registry_rows, registry_candidates, new_records })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_cover_one_typo() {
        let mut set = HashSet::new();
        one_typo_variants("44011320141005001X", &mut set);
        assert!(set.contains("44011320141005001X"));
        assert!(set.contains("44011320141005007X"), "a substitution");
        assert!(set.contains("44011320141050001X"), "a swap");
        assert!(!set.contains("44011320141005003X8"));
        // Itself, 18 positions × 10 other characters, and 13 swaps of unequal neighbours.
        assert_eq!(set.len(), 1 + 180 + 13);
    }
}

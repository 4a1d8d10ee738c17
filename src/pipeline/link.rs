//! `link`: a new intake (September enrolment, another province's file) against an existing
//! registry, without deduplicating the registry again. The registry's saved model scores the
//! pairs; only pairs with a new record are blocked and compared. The registry is narrowed first
//! to the records that share a blocking key with the intake — under every rule of the settings,
//! in a [`ProbeFilter`] of the intake's keys — so that 10,000 new records against millions take
//! seconds, and the pairs are those the whole registry would give.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::dedupe::dedupe_records_from;
use crate::block::{self, Narrowing, ProbeFilter};
use crate::check::run::{check_inputs, CheckRun};
use crate::check::CheckOptions;
use crate::columns::Text;
use crate::compare::Features;
use crate::error::{Error, Result};
use crate::ingest::IngestOptions;
use crate::labels::Label;
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

/// The share of the keys it lacks that the intake's key filter holds: a registry record has
/// some forty keys (36 for its number's one-digit rule), so at 1e-4 about one in 250 records
/// that meet no intake record is kept, and makes no pair.
const KEY_FALSE_POSITIVES: f64 = 1e-4;

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
    labels: &[Label],
) -> Result<LinkRun> {
    let model = match model {
        Some(model) => model,
        None => Model::load(&registry.join("model.json"))?,
    };
    let mut new = check_inputs(inputs, ingest, check)?;
    let watch = Stopwatch::start("read registry");
    let new_records = new.records.height();

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
    // The intake's keys under every rule; the registry records sharing one.
    let intake_features = Features::new(&new.records)?;
    let index: Vec<u32> = (0..new_records as u32).collect();
    let intake_keys: Vec<(u8, u8, u64)> =
        block::key_rows(&new.records, intake_features.numbers(), &settings.blocking, &index, Narrowing::All)?
            .into_iter()
            .map(|row| (row.rule, row.pass, row.key))
            .collect();
    drop(intake_features);
    let filter = ProbeFilter::new(&intake_keys, KEY_FALSE_POSITIVES);
    let registry_features = Features::new(&registry_df)?;
    let keep = block::meeting(&registry_df, registry_features.numbers(), &settings.blocking, &filter)?;
    drop(registry_features);
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
    let run = dedupe_records_from(combined, settings, Some(model), registry_candidates, labels)?;
    Ok(LinkRun { run, registry_rows, registry_candidates, new_records })
}

//! The check stage over whole inputs: read ([`crate::ingest`]), normalize, check record by
//! record, then the exact duplicates — what `xueji check` computes and every later stage
//! starts from.

use std::collections::HashSet;
use std::path::PathBuf;

use polars::prelude::*;

use super::CheckOptions;
use crate::error::Result;
use crate::ingest::{self, IngestOptions};
use crate::normalize::{self, id_number};
use crate::problems::{Code, Problem};
use crate::progress::{StageTime, Stopwatch};

/// The outcome of `check`: every record with its normalized columns, and every problem.
pub struct CheckRun {
    /// Original columns, then the normalized ones, `id_valid`, `locality_city`, `locality_county`
    /// (the record's own place), `place_city`, `place_county` (its school's: [`normalize::places`]).
    pub records: DataFrame,
    /// Ordered by record, then code.
    pub problems: Vec<Problem>,
    /// What was found and how each file was read (paths, records, blank rows).
    pub preflight: ingest::Preflight,
    /// Time and peak memory per stage, in order.
    pub timings: Vec<StageTime>,
}

/// Reads, normalizes and checks the inputs.
pub fn check_inputs(
    inputs: &[PathBuf],
    ingest_options: &IngestOptions,
    check_options: &CheckOptions,
) -> Result<CheckRun> {
    let mut timings = Vec::new();
    let mut watch = Stopwatch::start("ingest");

    let ingest::Records { df: mut records, mut problems, preflight } = ingest::read_inputs(inputs, ingest_options)?;
    watch.next("normalize", &mut timings);

    problems.extend(normalize::normalize(&mut records)?);
    watch.next("check", &mut timings);
    let lost_ids = check_records(&mut records, &mut problems, check_options)?;
    problems.extend(super::duplicates::exact_duplicates(&records, &lost_ids)?);
    problems.sort_by_key(|p| (p.record, p.code));
    normalize::places::add_school_places(&mut records)?;
    watch.finish(&mut timings);

    Ok(CheckRun { records, problems, timings, preflight })
}

/// Normalizes and checks records as read (`problems`: those found while reading them), record by
/// record: what any part of a population gives alone. Adds the normalized columns, `id_valid`,
/// `locality_city` and `locality_county`, and the problems found; returns the records whose
/// number lost digits in a spreadsheet (not theirs: never verified nor matched on). The exact
/// duplicates, which need the whole population, are left to [`super::duplicates`].
pub fn prepare(
    records: &mut DataFrame,
    problems: &mut Vec<Problem>,
    check_options: &CheckOptions,
) -> Result<HashSet<usize>> {
    problems.extend(normalize::normalize(records)?);
    check_records(records, problems, check_options)
}

/// [`prepare`] of records already normalized.
fn check_records(
    records: &mut DataFrame,
    problems: &mut Vec<Problem>,
    check_options: &CheckOptions,
) -> Result<HashSet<usize>> {
    let lost_ids: HashSet<usize> =
        problems.iter().filter(|p| p.code == Code::CellNumberPrecisionLost).map(|p| p.record).collect();
    propose_from_student_numbers(records, problems)?;
    problems.extend(super::check(records, &lost_ids, check_options)?);
    let valid: Vec<bool> = records
        .column("id_norm")?
        .str()?
        .iter()
        .enumerate()
        .map(|(i, id)| !lost_ids.contains(&i) && id.is_some_and(|id| id_number::is_valid(id, check_options.as_of)))
        .collect();
    let [cities, counties] = normalize::places::locality_columns(records, &valid)?;
    records.with_column(BooleanChunked::from_slice("id_valid".into(), &valid).into_column())?;
    records.with_column(cities)?;
    records.with_column(counties)?;
    crate::columns::repeated(records)?;
    Ok(lost_ids)
}

/// A number a spreadsheet kept to 15 digits may survive whole in the record's 全国学籍号
/// (`G` + the ID number): where that one keeps the same digits, it is proposed in the problem's
/// message — flagged for the school to confirm, never applied.
fn propose_from_student_numbers(records: &DataFrame, problems: &mut [Problem]) -> Result<()> {
    let student_numbers = crate::columns::Text::optional(records, "student_no")?;
    let numbers = crate::columns::Text::of(records, "id_number")?;
    for problem in problems.iter_mut().filter(|p| p.code == Code::CellNumberPrecisionLost) {
        let i = problem.record;
        let Some(student_no) = student_numbers.get(i) else { continue };
        let Ok(normalize::id_number::StudentNumber::Formal(full)) = id_number::parse_student_number(student_no) else {
            continue;
        };
        let kept = numbers.get(i).and_then(crate::ingest::rounded::spreadsheet_digits);
        let agrees = kept.is_some_and(|k| crate::ingest::rounded::spreadsheet_keeps(full, &k));
        if agrees && id_number::ResidentNumber::parse(full).is_some_and(|n| full.ends_with(n.expected_check)) {
            problem.message.push_str(&crate::say!(
                "；全国学籍号 {student_no} 含完整证件号{full}，与所剩位数一致，可能即为正确号码(未自动替换)",
                "; 全国学籍号 {student_no} carries {full} with the same digits: probably the number (not applied)"
            ));
        }
    }
    Ok(())
}

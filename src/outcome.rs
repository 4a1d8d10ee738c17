//! What a dedupe found, as plain data: its settings, the scored pairs, the clusters and the
//! records they are of. [`crate::pipeline::dedupe`] fills a [`DedupeRun`]; [`crate::report`]
//! writes what people read of it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::block::{BlockingSettings, Candidates};
use crate::check::run::CheckRun;
use crate::cluster::Clustering;
use crate::compare::Levels;
use crate::error::{Error, Result};
use crate::problems::{Code, Problem};
use crate::score::{Model, Score};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DedupeSettings {
    pub blocking: BlockingSettings,
    /// Pairs at or above this match probability are duplicates of one person. The probabilities
    /// are calibrated (on a generated province, pairs scored 0.6–0.9 were one person about three
    /// times in four), so 0.6 merges where a pair is more likely one person than not, with a
    /// margin.
    pub threshold: f64,
    /// Every two members of a cluster must reach this probability with each other.
    pub cohesion: f64,
    /// Random pairs counted for the u-probabilities.
    pub u_pairs: usize,
    pub em_iterations: usize,
    /// Seed of the random pairs.
    pub seed: u64,
}

impl Default for DedupeSettings {
    fn default() -> Self {
        DedupeSettings {
            blocking: BlockingSettings::default(),
            threshold: 0.6,
            cohesion: 0.05,
            u_pairs: 1_000_000,
            em_iterations: 100,
            seed: 1,
        }
    }
}

impl DedupeSettings {
    /// Settings from a JSON file (fields left out keep their defaults), or the defaults.
    pub fn load(path: Option<&Path>) -> Result<DedupeSettings> {
        let Some(path) = path else { return Ok(DedupeSettings::default()) };
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let settings: DedupeSettings = serde_json::from_str(&text)
            .map_err(|e| Error::input(path, crate::lang::both("设置文件无效", &format!("invalid settings: {e}"))))?;
        settings
            .validate()
            .map_err(|e| Error::input(path, crate::lang::both("设置文件无效", &format!("invalid settings: {e}"))))?;
        Ok(settings)
    }

    /// Values a run cannot work with: probabilities outside [0, 1], more rules than a pair's
    /// rule mask holds, a rule without keys, no random pairs for u.
    pub fn validate(&self) -> std::result::Result<(), String> {
        for (name, value) in [("threshold", self.threshold), ("cohesion", self.cohesion)] {
            if !(0.0..=1.0).contains(&value) {
                return Err(format!("{name} must be between 0 and 1, it is {value}"));
            }
        }
        self.blocking.validate()?;
        if self.u_pairs == 0 {
            return Err("u_pairs must be at least 1".into());
        }
        Ok(())
    }
}

/// Why a scored pair is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PairKind {
    /// One person registered twice.
    Match,
    /// One ID number, clearly different people (names disagree): never merged.
    IdConflict,
}

#[derive(Clone, Debug)]
pub struct ScoredPair {
    pub a: u32,
    pub b: u32,
    pub levels: Levels,
    pub score: Score,
    pub kind: PairKind,
}

/// The lowest probability of a candidate pair review.html shows below the threshold.
pub const NEAR_FLOOR: f64 = 0.05;

/// Match weights of all candidate pairs, in whole-bit bins from -40 to +40, for the histogram.
#[derive(Clone, Debug, Serialize)]
pub struct WeightHistogram {
    pub low: i32,
    pub counts: Vec<u64>,
}

pub struct DedupeRun {
    pub check: CheckRun,
    pub candidates: Candidates,
    pub model: Model,
    /// Matches and ID conflicts, ordered by record pair.
    pub pairs: Vec<ScoredPair>,
    /// Candidate pairs scored below the threshold down to [`NEAR_FLOOR`], for review.html.
    pub near: Vec<ScoredPair>,
    pub histogram: WeightHistogram,
    pub clustering: Clustering,
    pub settings: DedupeSettings,
    /// What the analyst's labels did, when there were any.
    pub review: Option<crate::labels::ReviewSummary>,
}

/// How many of the other members a DUPLICATE_SUSPECTED message names.
const NAMED_MEMBERS: usize = 3;

impl DedupeRun {
    /// DUPLICATE_SUSPECTED on every member of a duplicate group, naming the others by school,
    /// grade and name, so that a school sees every group it is part of — also where the number
    /// differs or is missing and no exact-duplicate code says it. A member whose group is all
    /// of its own number has ID_DUPLICATE already.
    pub fn duplicate_problems(&self) -> Result<Vec<Problem>> {
        let records = &self.check.records;
        let text = |name: &str| crate::columns::Text::of(records, name);
        let (names, schools, ids) =
            (text("name")?, crate::columns::Text::optional(records, "school_name")?, text("id_norm")?);
        let grades = crate::columns::Ints::of(records, "grade_norm")?;
        let mut problems = Vec::new();
        for members in &self.clustering.clusters {
            let one_number = members
                .iter()
                .all(|&m| ids.get(m as usize).is_some() && ids.get(m as usize) == ids.get(members[0] as usize));
            if one_number {
                continue;
            }
            for &m in members {
                let others: Vec<String> = members
                    .iter()
                    .filter(|&&o| o != m)
                    .take(NAMED_MEMBERS)
                    .map(|&o| {
                        let o = o as usize;
                        format!(
                            "{}{}{}",
                            schools.get(o).unwrap_or(""),
                            grades.get(o).map(|g| format!(" {} ", grade_name(g))).unwrap_or_else(|| " ".into()),
                            names.get(o).unwrap_or("?")
                        )
                    })
                    .collect();
                let more = members.len() - 1 - others.len();
                let others = others.join(crate::lang::pick("、", ", "));
                let message = if more > 0 {
                    crate::say!(
                        "与{others}等{}条学籍疑似同一学生（另{}条未列出），待公安核查",
                        "probably the same student as {others} ({} registrations, {} not named); police to verify",
                        members.len() - 1,
                        more
                    )
                } else {
                    crate::say!(
                        "与{others}疑似同一学生，待公安核查",
                        "probably the same student as {others}; police to verify"
                    )
                };
                problems.push(Problem::new(m as usize, Code::DuplicateSuspected, None, message));
            }
        }
        Ok(problems)
    }
}

/// A grade as schools say it: 一年级 … 九年级, 高一 … 高三.
fn grade_name(grade: i32) -> String {
    match usize::try_from(grade - 1).ok().and_then(|g| crate::normalize::codes::GRADE_NAMES.get(g)) {
        Some(name) if !crate::lang::english() => (*name).to_owned(),
        _ => format!("grade {grade}"),
    }
}

/// The weight histogram's lowest bin and how many bins it has.
pub const HISTOGRAM_LOW: i32 = -40;
pub const HISTOGRAM_BINS: usize = 81;

/// The [`WeightHistogram`] bin of a pair's weight.
pub fn weight_bin(weight: f64) -> usize {
    (weight.floor() as i32 - HISTOGRAM_LOW).clamp(0, HISTOGRAM_BINS as i32 - 1) as usize
}

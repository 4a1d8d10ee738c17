//! Score: Fellegi–Sunter match weights. For each field level, `m` is the probability of the level
//! among pairs of one person and `u` among pairs of different people; the level's weight is
//! log2(m/u) and a pair's weight is the sum over fields. `u` is counted on random pairs (which
//! are almost all non-matches); `m` and the share of matches λ are estimated without labels by
//! expectation–maximisation over the candidate pairs, seeded from priors. Agreeing on a value
//! weighs by that value's own frequency (term-frequency adjustment): 张伟 agreeing is weaker
//! evidence than 欧阳子轩, a homophone of the popular zi han (子涵/梓涵/紫涵) weaker than a
//! homophone of a rare name, and a guardian called 王伟 weaker than one called 欧阳振华.

use std::collections::BTreeMap;

use polars_core::runtime::THREAD_POOL;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::columns::par_row_chunks;
use crate::compare::{
    compare, key_date_sequence, Features, IdLevel, Levels, Side, Term, BIRTH, FIELDS, ID, LEVELS, M_PRIORS, TERMS,
};
use crate::normalize::name::pinyin_letters;
use crate::rng::Rng;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LevelModel {
    pub level: String,
    pub m: f64,
    pub u: f64,
    /// log2(m/u); 0 for `missing`.
    pub weight: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldModel {
    pub field: String,
    pub levels: Vec<LevelModel>,
}

/// A fitted model, saved as JSON (`model.json`) and reusable with `--model`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The prior: the probability that two records drawn at random are one person (expected
    /// matches over all n(n−1)/2 pairs, not over the candidates, whose blocked fields agree by
    /// construction and would count twice).
    pub lambda: f64,
    pub fields: Vec<FieldModel>,
    /// Random pairs `u` was counted on, and EM iterations run (0 for a loaded model).
    pub u_pairs: u64,
    pub em_iterations: usize,
    /// The value counts the model weighed agreements by, so that `link` weighs names as the
    /// registry did.
    #[serde(default)]
    pub frequencies: SavedFrequencies,
}

impl Model {
    /// A `model.json`, checked against the fields and levels this xueji compares.
    pub fn load(path: &std::path::Path) -> crate::error::Result<Model> {
        use crate::error::Error;
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let model: Model = serde_json::from_str(&text)
            .map_err(|e| Error::input(path, crate::lang::both("不是model.json", &format!("not a model.json: {e}"))))?;
        model.validate().map_err(|e| {
            Error::input(
                path,
                crate::lang::both("另一版本xueji的model.json", &format!("a model.json of another xueji: {e}")),
            )
        })?;
        Ok(model)
    }

    /// Checks that a model (read from a file) has every field and level this xueji compares.
    pub fn validate(&self) -> Result<(), String> {
        if self.fields.len() != FIELDS.len() {
            return Err(format!(
                "it has {} fields, xueji compares {}: {}",
                self.fields.len(),
                FIELDS.len(),
                FIELDS.join(", ")
            ));
        }
        for (f, field) in self.fields.iter().enumerate() {
            let labels: Vec<&str> = field.levels.iter().map(|l| l.level.as_str()).collect();
            if field.field != FIELDS[f] || labels != LEVELS[f] {
                return Err(format!(
                    "field {} should be {} with levels {}, it is {} with {}",
                    f + 1,
                    FIELDS[f],
                    LEVELS[f].join(", "),
                    field.field,
                    labels.join(", ")
                ));
            }
        }
        for (field, level) in self.fields.iter().flat_map(|f| f.levels.iter().map(move |l| (&f.field, l))) {
            let probability = |p: f64| p > 0.0 && p <= 1.0;
            if !(probability(level.m) && probability(level.u) && level.weight.is_finite()) {
                return Err(format!(
                    "{field} {}: m and u must be in (0, 1] and the weight finite, they are {}, {}, {}",
                    level.level, level.m, level.u, level.weight
                ));
            }
        }
        if !(self.lambda > 0.0 && self.lambda < 1.0) {
            return Err(format!("lambda must be between 0 and 1, it is {}", self.lambda));
        }
        Ok(())
    }
}

/// No level is ever impossible: probabilities are kept above this.
const FLOOR: f64 = 1e-6;

/// Pseudo-matches of the priors in every m estimate (a Dirichlet prior): a level no match
/// happened to show in a small population (3,000 records: ~100 matches) keeps a plausible m
/// instead of the floor's −20 bits; among a province's tens of thousands of matches it weighs
/// nothing.
const PRIOR_MATCHES: f64 = 10.0;

fn level_models(m: &[Vec<f64>], u: &[Vec<f64>]) -> Vec<FieldModel> {
    FIELDS
        .iter()
        .enumerate()
        .map(|(f, field)| FieldModel {
            field: (*field).to_owned(),
            levels: LEVELS[f]
                .iter()
                .enumerate()
                .map(|(l, level)| LevelModel {
                    level: (*level).to_owned(),
                    m: m[f][l],
                    u: u[f][l],
                    weight: if l == 0 { 0.0 } else { (m[f][l] / u[f][l]).log2() },
                })
                .collect(),
        })
        .collect()
}

fn zeroed() -> Vec<Vec<f64>> {
    LEVELS.iter().map(|l| vec![0.0; l.len()]).collect()
}

/// Random pairs drawn per parallel task: the pairs depend on the seed and this, not on the
/// thread count.
const U_CHUNK: usize = 1 << 16;

/// Level counts of `samples` random pairs of distinct records (all pairs when there are
/// fewer), and the pairs counted; [`u_probabilities`] turns them into u. Level 0 (`missing`)
/// is counted but carries no weight.
///
/// The pairs are drawn among a seeded sample of 4·√samples records whose values are gathered
/// once: a pair of two random rows of a province reads some thirty values from all over memory,
/// and those cache misses, not the comparisons, were the cost (seconds per million pairs,
/// growing with the population). Four thousand records give eight million distinct pairs, more
/// than are drawn.
pub fn estimate_u(features: &Features, samples: usize, seed: u64) -> (Vec<Vec<f64>>, u64) {
    match u_sample(features.len(), samples, seed) {
        None => count_u(&(0..features.len()).map(|i| features.side(i)).collect::<Vec<_>>(), samples, seed, true),
        Some(chosen) => count_u(&chosen.iter().map(|&i| features.side(i)).collect::<Vec<_>>(), samples, seed, false),
    }
}

/// The records [`estimate_u`] draws its pairs among, by index of `records` (sorted, distinct):
/// `None` when there are no more pairs than `samples` (then every pair counts). A cluster
/// gathers these few thousand records to its driver and counts there ([`count_u`]).
pub fn u_sample(records: usize, samples: usize, seed: u64) -> Option<Vec<usize>> {
    let all_pairs = records.saturating_mul(records.saturating_sub(1)) / 2;
    if all_pairs <= samples {
        return None;
    }
    let mut rng = Rng::keyed(seed, 0, 0x75);
    let mut chosen: Vec<usize> = (0..(4.0 * (samples as f64).sqrt()) as usize).map(|_| rng.below(records)).collect();
    chosen.sort_unstable();
    chosen.dedup();
    Some(chosen)
}

/// Level counts of `samples` seeded random pairs of `sides` (the records of [`u_sample`], in
/// its order), or of all their pairs when `all`, and the pairs counted.
pub fn count_u(sides: &[Side], samples: usize, seed: u64, all: bool) -> (Vec<Vec<f64>>, u64) {
    let count = |pairs: &mut dyn Iterator<Item = (usize, usize)>| {
        let mut counts = zeroed();
        let mut taken = 0u64;
        for (a, b) in pairs {
            for (f, l) in compare(&sides[a], &sides[b]).indices().into_iter().enumerate() {
                counts[f][l as usize] += 1.0;
            }
            taken += 1;
        }
        (counts, taken)
    };
    let n = sides.len();
    let pieces = if all {
        par_row_chunks(n, |rows| count(&mut rows.flat_map(|a| (a + 1..n).map(move |b| (a, b)))))
    } else {
        par_row_chunks(samples.div_ceil(U_CHUNK), |tasks| {
            let mut total = (zeroed(), 0u64);
            for task in tasks {
                let mut rng = Rng::keyed(seed, 1 + task as u64, 0x75);
                let wanted = U_CHUNK.min(samples - task * U_CHUNK);
                let mut pairs =
                    std::iter::from_fn(|| Some((rng.below(n), rng.below(n)))).filter(|(a, b)| a != b).take(wanted);
                let (counts, taken) = count(&mut pairs);
                add_counts(&mut total.0, &counts);
                total.1 += taken;
            }
            total
        })
    };
    let mut counts = zeroed();
    let mut taken = 0;
    for (piece, n) in pieces {
        add_counts(&mut counts, &piece);
        taken += n;
    }
    (counts, taken)
}

/// u-probabilities from the random-pair `counts` ([`estimate_u`]), Laplace-smoothed. An ID
/// level where the number agrees that the random pairs (almost) never reach — two different
/// people sharing a number is one pair in ~10⁹ — is counted where such pairs are: among the
/// `candidates` (the number rules make every such pair), those contradicted (for the exact
/// number, the ID conflicts), over all `all_pairs` pairs. The random sample alone could only
/// say "under one in a million", and that cap outweighed a shared number at province scale.
/// Strangers whose numbers differ only in the region are counted from the numbers themselves
/// (`region_only_pairs`): blocking makes few of them (it pairs only names that share their
/// initials), and counted among the candidates, a namesake born on the same day with the same
/// sequence in another county weighed as the same child.
pub fn u_probabilities(
    counts: &[Vec<f64>],
    candidates: &Patterns,
    all_pairs: f64,
    region_only_pairs: u64,
) -> Vec<Vec<f64>> {
    let (mut seen, mut contradicted) = (zeroed(), zeroed());
    for (levels, indices, n) in candidates {
        for (f, &l) in indices.iter().enumerate() {
            seen[f][l as usize] += n;
            if levels.contradicts() {
                contradicted[f][l as usize] += n;
            }
        }
    }
    counts
        .iter()
        .enumerate()
        .map(|(f, c)| {
            let present: f64 = c[1..].iter().sum();
            let k = (c.len() - 1) as f64;
            let beyond_sample = |l: usize| {
                f == ID && AGREEING_NUMBERS.contains(&IdLevel::ALL[l]) && c[l] < UNRESOLVED && seen[f][l] > 0.0
            };
            std::iter::once(1.0)
                .chain((1..c.len()).map(|l| {
                    if f == ID && IdLevel::ALL[l] == IdLevel::RegionOnly {
                        (region_only_pairs as f64 + 0.5) / all_pairs
                    } else if beyond_sample(l) {
                        (contradicted[f][l] + 0.5) / all_pairs
                    } else {
                        ((c[l] + 0.5) / (present + 0.5 * k)).max(FLOOR)
                    }
                }))
                .collect()
        })
        .collect()
}

/// How many pairs of the numbers' `keys` ([`crate::compare::number_key`]s) agree on the birth
/// date and sequence and not on the region.
pub fn region_only_pairs(mut keys: Vec<u64>) -> u64 {
    THREAD_POOL.install(|| keys.par_sort_unstable());
    let pairs = |n: usize| (n * n.saturating_sub(1) / 2) as u64;
    keys.chunk_by(|&x, &y| key_date_sequence(x) == key_date_sequence(y))
        .map(|same_day| pairs(same_day.len()) - same_day.chunk_by(|x, y| x == y).map(|r| pairs(r.len())).sum::<u64>())
        .sum()
}

/// Random-pair hits below which a level's u is beyond what the sample can resolve.
const UNRESOLVED: f64 = 5.0;

/// The ID levels at which the number rules make every pair (so the candidates hold all the
/// non-matches there are at them). `region_only` is counted from the numbers instead.
const AGREEING_NUMBERS: [IdLevel; 4] =
    [IdLevel::Exact, IdLevel::Spreadsheet, IdLevel::OneDigit, IdLevel::Transposition];

fn add_counts(total: &mut [Vec<f64>], counts: &[Vec<f64>]) {
    for (t, c) in total.iter_mut().zip(counts) {
        for (x, y) in t.iter_mut().zip(c) {
            *x += y;
        }
    }
}

/// Distinct level patterns with their level indices and counts, in a fixed order so that sums
/// (and so the fitted model) are the same on every run.
pub type Patterns = Vec<(Levels, [u8; FIELDS.len()], f64)>;

/// Fits m and λ by expectation–maximisation, u fixed, in two steps:
///
/// 1. every field but the ID number, over the pairs a rule keyed on the number found
///    (`numbered`): a pair found by its number and not decided apart is almost surely one
///    person, so how its other fields differ is how one person's registrations differ. The
///    ID field is left out: those rules made it agree.
/// 2. the ID field alone and λ, over all candidate pairs, each judged as it will be scored:
///    the prior over all `all_pairs` pairs of records and the other fields' weights. Rules
///    not keyed on the number skip pairs of two numbers of their own, so no single rule's
///    pairs show how a person's numbers differ; all of them together do, but for the pairs
///    blocking lost.
///
/// With no pair found by a number (rules without one), step 1 runs over all pairs. Decisive
/// pairs are non-matches. Sums run over distinct level patterns in a fixed order, so the model
/// is the same on every run.
pub fn fit(
    numbered: &Patterns,
    all: &Patterns,
    all_pairs: f64,
    u: Vec<Vec<f64>>,
    u_pairs: u64,
    max_iterations: usize,
) -> Model {
    let mut m = prior_m();
    let mut lambda = 0.5;
    let mut others = [true; FIELDS.len()];
    others[ID] = false;
    let first = if numbered.is_empty() { all } else { numbered };
    let pairs = |p: &Patterns| p.iter().map(|x| x.2).sum::<f64>();
    let mut iterations = em(first, pairs(first), &u, &mut m, &mut lambda, others, others, max_iterations);
    // From the candidates' share of matches to the share among all pairs.
    lambda = (lambda * pairs(first) / all_pairs.max(1.0)).clamp(FLOOR * FLOOR, 0.5);
    let mut only_id = [false; FIELDS.len()];
    only_id[ID] = true;
    iterations += em(all, all_pairs, &u, &mut m, &mut lambda, only_id, [true; FIELDS.len()], max_iterations);
    Model {
        lambda,
        fields: level_models(&m, &u),
        u_pairs,
        em_iterations: iterations,
        frequencies: SavedFrequencies::default(),
    }
}

/// EM iterations over `patterns`: λ (matches over `pairs`, the pairs the patterns stand among:
/// pairs outside them are taken for non-matches) and the m of the `fitted` fields are
/// re-estimated, the evidence coming from the `used` fields; a fitted field's own evidence is
/// left out of the posterior that estimates it. Returns the iterations run.
#[allow(clippy::too_many_arguments)]
fn em(
    patterns: &Patterns,
    pairs: f64,
    u: &[Vec<f64>],
    m: &mut [Vec<f64>],
    lambda: &mut f64,
    fitted: [bool; FIELDS.len()],
    used: [bool; FIELDS.len()],
    max_iterations: usize,
) -> usize {
    let mut iterations = 0;
    while iterations < max_iterations && pairs > 0.0 && !patterns.is_empty() {
        iterations += 1;
        let mut m_counts = zeroed();
        let mut matches = 0.0;
        let prior = (*lambda / (1.0 - *lambda)).ln();
        for (levels, indices, count) in patterns {
            if levels.decided_apart() {
                continue;
            }
            let mut evidence = [0.0; FIELDS.len()];
            for (f, &l) in indices.iter().enumerate().filter(|&(f, &l)| l > 0 && used[f]) {
                evidence[f] = (m[f][l as usize] / u[f][l as usize]).ln();
            }
            let all: f64 = prior + evidence.iter().sum::<f64>();
            matches += logistic(all) * count;
            for (f, &l) in indices.iter().enumerate().filter(|&(f, _)| fitted[f]) {
                m_counts[f][l as usize] += logistic(all - evidence[f]) * count;
            }
        }
        let new_lambda = (matches / pairs).clamp(FLOOR * FLOOR, 1.0 - FLOOR);
        let mut change = (new_lambda / *lambda).ln().abs() * 1e-3;
        *lambda = new_lambda;
        for (f, counts) in m_counts.iter().enumerate().filter(|&(f, _)| fitted[f]) {
            let present: f64 = counts[1..].iter().sum();
            if present <= 0.0 {
                continue;
            }
            for l in 1..counts.len() {
                let new = ((counts[l] + PRIOR_MATCHES * M_PRIORS[f][l]) / (present + PRIOR_MATCHES)).max(FLOOR);
                change = change.max((new - m[f][l]).abs());
                m[f][l] = new;
            }
        }
        if change < 1e-7 {
            break;
        }
    }
    iterations
}

fn logistic(log_odds: f64) -> f64 {
    1.0 / (1.0 + (-log_odds).exp())
}

fn prior_m() -> Vec<Vec<f64>> {
    M_PRIORS.iter().map(|p| p.to_vec()).collect()
}

/// The distinct level patterns of the candidate pairs `keep` accepts, with their counts, in a
/// fixed order. A pattern packs into a `u64` (eight level indices), so a province's candidates
/// are counted by one parallel sort, not a hash map.
pub fn patterns(levels: &[Levels], keep: impl Fn(usize) -> bool + Sync) -> Patterns {
    let mut packed: Vec<u64> = par_row_chunks(levels.len(), |rows| {
        rows.filter(|&k| keep(k)).map(|k| u64::from_be_bytes(levels[k].indices())).collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .collect();
    packed.par_sort_unstable();
    merge_packed(packed.chunk_by(|a, b| a == b).map(|run| (run[0], run.len() as f64)))
}

/// Patterns with counts, in any order and repeated (the counts of a cluster's parts): summed
/// per pattern, in [`patterns`]' order.
pub fn merge_patterns(counted: impl IntoIterator<Item = (Levels, f64)>) -> Patterns {
    merge_packed(counted.into_iter().map(|(levels, n)| (u64::from_be_bytes(levels.indices()), n)))
}

/// [`merge_patterns`] of patterns packed as [`patterns`] packs them.
fn merge_packed(counted: impl IntoIterator<Item = (u64, f64)>) -> Patterns {
    let mut counted: Vec<(u64, f64)> = counted.into_iter().collect();
    counted.sort_unstable_by_key(|c| c.0);
    counted
        .chunk_by(|a, b| a.0 == b.0)
        .map(|run| {
            let indices = run[0].0.to_be_bytes();
            let levels = Levels::from_indices(indices.map(u32::from)).expect("packed from a Levels' own indices");
            (levels, indices, run.iter().map(|c| c.1).sum())
        })
        .collect()
}

/// FNV-1a: a stable 64-bit hash of a value's bytes, the same on every run and machine.
fn fnv(bytes: impl Iterator<Item = u8>) -> u64 {
    bytes.fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// How often each value of one kind occurs among the records, by a stable hash of the value:
/// the hashes sorted, each with its count and the first record carrying it (built in parallel;
/// a province's hash map was the cost).
#[derive(Clone, Debug, Default)]
struct Counts {
    counts: Vec<(u64, u32, u32)>,
    records: f64,
}

impl Counts {
    /// Counted over `records` rows, `key(i)` the hash of row i's value.
    fn new(records: usize, key: impl Fn(usize) -> Option<u64> + Sync) -> Counts {
        let mut keys: Vec<(u64, u32)> =
            par_row_chunks(records, |rows| rows.filter_map(|i| key(i).map(|k| (k, i as u32))).collect::<Vec<_>>())
                .into_iter()
                .flatten()
                .collect();
        keys.par_sort_unstable();
        let counts = keys.chunk_by(|a, b| a.0 == b.0).map(|run| (run[0].0, run.len() as u32, run[0].1)).collect();
        Counts { counts, records: records as f64 }
    }

    fn count(&self, key: u64) -> Option<u32> {
        self.counts.binary_search_by_key(&key, |c| c.0).ok().map(|at| self.counts[at].1)
    }

    /// The share of records carrying the value; a value seen nowhere counts as once.
    fn share(&self, key: u64) -> f64 {
        f64::from(self.count(key).unwrap_or(1)) / self.records.max(1.0)
    }

    /// The values seen at least twice, readable (`value` of a record), for `model.json`; rarer
    /// ones count as once.
    fn saved<'a>(&self, value: impl Fn(usize) -> Option<&'a str>) -> BTreeMap<String, u32> {
        let repeated = self.counts.iter().filter(|c| c.1 >= 2);
        repeated.filter_map(|&(_, n, first)| Some((value(first as usize)?.to_owned(), n))).collect()
    }

    fn load(saved: &BTreeMap<String, u32>, records: f64, key: impl Fn(&str) -> u64) -> Counts {
        let mut counts: Vec<(u64, u32, u32)> = saved.iter().map(|(v, &n)| (key(v), n, 0)).collect();
        counts.sort_unstable();
        counts.dedup_by_key(|c| c.0);
        Counts { counts, records }
    }
}

fn name_key(name: &str) -> u64 {
    fnv(name.bytes())
}

/// Homophones share a key: the letters of the pinyin (`zi han` for 子涵, 梓涵 and 紫涵).
fn pinyin_key(pinyin: &str) -> u64 {
    fnv(pinyin_letters(pinyin))
}

/// Value counts of names, name readings and guardian names, for the term-frequency adjustment.
#[derive(Clone, Debug, Default)]
pub struct Frequencies {
    names: Counts,
    pinyin: Counts,
    guardians: Counts,
}

/// [`Frequencies`] as `model.json` keeps them: every value seen twice or more, with its count.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SavedFrequencies {
    pub records: u64,
    pub names: BTreeMap<String, u32>,
    pub pinyin: BTreeMap<String, u32>,
    pub guardian_names: BTreeMap<String, u32>,
}

/// One value's count in a part of the records ([`Frequencies::value_counts`]): `kind` 0 for
/// names, 1 for readings, 2 for guardians' names; `first` the first record carrying it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueCount {
    pub kind: u8,
    pub key: u64,
    pub count: u32,
    pub first: u32,
    pub value: String,
}

/// What one side of a pair brings to the term-frequency adjustment.
#[derive(Clone, Copy, Debug, Default)]
pub struct Terms<'a> {
    pub name: Option<&'a str>,
    pub pinyin: Option<&'a str>,
    pub guardian_name: Option<&'a str>,
}

impl<'a> Terms<'a> {
    pub fn of(features: &Features<'a>, i: usize) -> Terms<'a> {
        Terms { name: features.name(i), pinyin: features.pinyin(i), guardian_name: features.guardian_name(i) }
    }

    fn get(&self, term: Term) -> Option<&'a str> {
        match term {
            Term::Name => self.name,
            Term::Pinyin => self.pinyin,
            Term::GuardianName => self.guardian_name,
        }
    }
}

impl Frequencies {
    /// The share of records carrying `value` as `term`.
    fn share(&self, term: Term, value: &str) -> f64 {
        match term {
            Term::Name => self.names.share(name_key(value)),
            Term::Pinyin => self.pinyin.share(pinyin_key(value)),
            Term::GuardianName => self.guardians.share(name_key(value)),
        }
    }

    /// Counted over all records of `features`.
    pub fn count(features: &Features) -> Frequencies {
        let n = features.len();
        Frequencies {
            names: Counts::new(n, |i| features.name(i).map(name_key)),
            pinyin: Counts::new(n, |i| features.pinyin(i).map(pinyin_key)),
            guardians: Counts::new(n, |i| features.guardian_name(i).map(name_key)),
        }
    }

    pub fn save(&self, features: &Features) -> SavedFrequencies {
        let ((names, pinyin), guardian_names) = THREAD_POOL.install(|| {
            rayon::join(
                || rayon::join(|| self.names.saved(|i| features.name(i)), || self.pinyin.saved(|i| features.pinyin(i))),
                || self.guardians.saved(|i| features.guardian_name(i)),
            )
        });
        SavedFrequencies { records: self.names.records as u64, names, pinyin, guardian_names }
    }

    /// What a part of the records brings to [`SavedFrequencies`]: each value's count in it,
    /// with the first record carrying it (row i of `features` is record `index[i]` of the whole;
    /// `index` ascending, so that a value's first row is its first record, whose spelling is kept).
    pub fn value_counts<'a>(features: &Features<'a>, index: &[u32]) -> Vec<ValueCount> {
        assert!(index.is_sorted(), "value_counts: a part's records must come in record order");
        let n = features.len();
        let kinds: [(Counts, &dyn Fn(usize) -> Option<&'a str>); 3] = [
            (Counts::new(n, |i| features.name(i).map(name_key)), &|i| features.name(i)),
            (Counts::new(n, |i| features.pinyin(i).map(pinyin_key)), &|i| features.pinyin(i)),
            (Counts::new(n, |i| features.guardian_name(i).map(name_key)), &|i| features.guardian_name(i)),
        ];
        let mut rows = Vec::new();
        for (kind, (counts, value)) in kinds.iter().enumerate() {
            for &(key, count, first) in &counts.counts {
                let value = value(first as usize).unwrap_or_default().to_owned();
                rows.push(ValueCount { kind: kind as u8, key, count, first: index[first as usize], value });
            }
        }
        rows
    }

    /// [`Frequencies::save`] from the [`Frequencies::value_counts`] of every part of the
    /// `records`, in any order: the same lists.
    pub fn saved_from_parts(mut parts: Vec<ValueCount>, records: u64) -> SavedFrequencies {
        parts.sort_unstable_by(|a, b| (a.kind, a.key, a.first).cmp(&(b.kind, b.key, b.first)));
        let mut saved = SavedFrequencies { records, ..Default::default() };
        for run in parts.chunk_by(|a, b| (a.kind, a.key) == (b.kind, b.key)) {
            let count: u32 = run.iter().map(|r| r.count).sum();
            if count >= 2 {
                let list = match run[0].kind {
                    0 => &mut saved.names,
                    1 => &mut saved.pinyin,
                    _ => &mut saved.guardian_names,
                };
                list.insert(run[0].value.clone(), count);
            }
        }
        saved
    }

    pub fn load(saved: &SavedFrequencies) -> Frequencies {
        let records = saved.records as f64;
        Frequencies {
            names: Counts::load(&saved.names, records, name_key),
            pinyin: Counts::load(&saved.pinyin, records, pinyin_key),
            guardians: Counts::load(&saved.guardian_names, records, name_key),
        }
    }
}

/// A scored pair: total weight and probability, and the weight of each field.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score {
    pub weight: f64,
    pub probability: f64,
    pub field_weights: [f64; FIELDS.len()],
}

impl Model {
    pub fn weight(&self, field: usize, level: u8) -> f64 {
        self.fields[field].levels[level as usize].weight
    }

    fn m(&self, field: usize, level: u8) -> f64 {
        self.fields[field].levels[level as usize].m
    }

    /// Scores a pair from its levels; `terms` are one side's values for the term-frequency
    /// adjustment: where the pair agrees on a value, the u of agreeing is that value's own
    /// frequency, not the average value's.
    pub fn score(&self, levels: &Levels, terms: &Terms, frequencies: &Frequencies) -> Score {
        let indices = levels.indices();
        let mut field_weights = [0.0; FIELDS.len()];
        for (f, &l) in indices.iter().enumerate() {
            field_weights[f] = self.weight(f, l);
        }
        // A level that agrees on a value weighs by that value's frequency: its u is the value's
        // share of records, times the part of agreements on a value the level stands for.
        // Strangers share a name far more often than they share it typed two ways
        // (`李 娜`/`李娜`), or as two homophones.
        for (f, &level) in indices.iter().enumerate() {
            let l = usize::from(level);
            let Some((term, value)) = TERMS[f][l].and_then(|t| Some((t, terms.get(t)?))) else { continue };
            let u = |k: usize| self.fields[f].levels[k].u;
            let agreeing: f64 = (0..=l).filter(|&k| TERMS[f][k].is_some()).map(u).sum();
            let part = if agreeing > 0.0 { u(l) / agreeing } else { 1.0 };
            let share = frequencies.share(term, value) * part;
            field_weights[f] = (self.m(f, level) / share.max(FLOOR)).log2();
        }
        if levels.birth_in_number() {
            // The remains of the number agreed on its date already: not evidence twice.
            field_weights[BIRTH] = 0.0;
        }
        let weight: f64 = field_weights.iter().sum();
        let probability = if levels.decided_apart() { 0.0 } else { self.probability_of(weight) };
        Score { weight, probability, field_weights }
    }

    /// The match probability of a total weight, with the prior λ.
    pub fn probability_of(&self, weight: f64) -> f64 {
        let prior = (self.lambda / (1.0 - self.lambda)).log2();
        1.0 / (1.0 + (-(weight + prior)).exp2())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::{GuardianLevel, NameLevel, GUARDIAN, NAME};

    #[test]
    fn region_only_pairs_are_one_date_and_sequence_in_two_regions() {
        let keys = |ids: &[&str]| -> Vec<u64> {
            ids.iter()
                .map(|id| crate::compare::number_key(id[6..17].parse().unwrap(), id[..6].parse().unwrap()))
                .collect()
        };
        // Four numbers of one birth date and sequence in three counties: six pairs, less the one
        // inside 110101.
        let one_day = ["11010120150315201", "11010120150315201", "11010220150315201", "44030520150315201"];
        assert_eq!(region_only_pairs(keys(&one_day)), 5);
        // Another sequence or another day is not the level's.
        let apart = ["11010120150315201", "11010220150315202", "11010320150316201"];
        assert_eq!(region_only_pairs(keys(&apart)), 0);
        assert_eq!(region_only_pairs(Vec::new()), 0);
    }

    #[test]
    fn model_json_numbers_read_back_to_the_bit() {
        // Weights a model.json held that serde_json's default parser read one ulp off.
        for text in ["0.9980667855976281", "1.628368895770159e-8", "0.12092165546059083"] {
            let value: f64 = serde_json::from_str(text).unwrap();
            assert_eq!(serde_json::to_string(&value).unwrap(), text);
        }
    }

    fn fit_table(table: &[Levels], by_number: &[bool], all_pairs: f64, u: Vec<Vec<f64>>, iterations: usize) -> Model {
        let (numbered, all) = (patterns(table, |k| by_number[k]), patterns(table, |_| true));
        fit(&numbered, &all, all_pairs, u, 0, iterations)
    }
    use crate::compare::{BirthLevel, EqualityLevel};

    /// EM recovers known m and u on a simulated comparison table: two multi-level fields and a
    /// binary one, 20% matches.
    #[test]
    fn em_recovers_known_m() {
        let mut rng = Rng::keyed(42, 0, 0);
        // Matches agree on the name (exactly or as a homophone): a different name is decisive.
        let names = NameLevel::ALL;
        let births = BirthLevel::ALL;
        let true_m_name = [0.0, 0.9, 0.0, 0.1, 0.0, 0.0, 0.0, 0.0];
        let true_u_name = [0.0, 0.01, 0.0, 0.0, 0.0, 0.0, 0.99, 0.0];
        // Matches' birth dates agree up to a slip: a name with another birthday is no match.
        let true_m_birth = [0.0, 0.8, 0.0, 0.0, 0.0, 0.0, 0.2, 0.0];
        let true_u_birth = [0.0, 0.002, 0.0, 0.0, 0.0, 0.0, 0.05, 0.948];
        let draw = |rng: &mut Rng, p: &[f64]| -> usize {
            let x = rng.unit();
            let mut acc = 0.0;
            for (l, &q) in p.iter().enumerate() {
                acc += q;
                if x < acc {
                    return l;
                }
            }
            p.len() - 1
        };
        let mut table = Vec::new();
        for _ in 0..200_000 {
            let is_match = rng.chance(0.2);
            let (p_name, p_birth): (&[f64], &[f64]) =
                if is_match { (&true_m_name, &true_m_birth) } else { (&true_u_name, &true_u_birth) };
            let sex_equal = if is_match { rng.chance(0.98) } else { rng.chance(0.5) };
            table.push(Levels {
                name: names[draw(&mut rng, p_name)],
                birth: births[draw(&mut rng, p_birth)],
                sex: if sex_equal { EqualityLevel::Equal } else { EqualityLevel::Different },
                ..Levels::default()
            });
        }
        let mut u: Vec<Vec<f64>> = LEVELS.iter().map(|l| vec![1.0 / l.len() as f64; l.len()]).collect();
        u[0] = true_u_name.iter().map(|&x: &f64| x.max(FLOOR)).collect();
        u[1] = true_u_birth.iter().map(|&x: &f64| x.max(FLOOR)).collect();
        u[3] = vec![1.0, 0.5, 0.5];
        let model = fit_table(&table, &vec![false; table.len()], table.len() as f64, u, 200);
        assert!((model.lambda - 0.2).abs() < 0.01, "λ {}", model.lambda);
        let m = |f: usize, l: usize| model.fields[f].levels[l].m;
        assert!((m(0, 1) - 0.9).abs() < 0.02, "name exact m {}", m(0, 1));
        assert!((m(1, 1) - 0.8).abs() < 0.02, "birth exact m {}", m(1, 1));
        assert!((m(1, 6) - 0.2).abs() < 0.02, "birth one-digit m {}", m(1, 6));
        assert!((m(3, 1) - 0.98).abs() < 0.02, "sex m {}", m(3, 1));
        assert!(model.fields[0].levels[1].weight > 6.0);
        assert_eq!(model.fields[0].levels[0].weight, 0.0, "missing is no evidence");
    }

    /// The fields other than the number are fitted on the pairs found by the number: pairs a
    /// name rule found agree on the name by construction, and must not make the name look
    /// surer than it is.
    #[test]
    fn other_fields_are_fitted_where_the_number_found_the_pairs() {
        let mut rng = Rng::keyed(7, 0, 0);
        let mut table = Vec::new();
        let mut by_number = Vec::new();
        let person = |rng: &mut Rng, id: IdLevel| Levels {
            name: if rng.chance(0.7) { NameLevel::Exact } else { NameLevel::Pinyin },
            birth: if rng.chance(0.9) { BirthLevel::Exact } else { BirthLevel::OneDay },
            id,
            sex: EqualityLevel::Equal,
            ..Levels::default()
        };
        for _ in 0..10_000 {
            let id = if rng.chance(0.9) { IdLevel::Exact } else { IdLevel::OneDigit };
            table.push(person(&mut rng, id));
            by_number.push(true);
        }
        // A name rule's pairs: the name always agrees; a fifth are one person without a number.
        for k in 0..10_000 {
            let levels = if k % 5 == 0 {
                person(&mut rng, IdLevel::Missing)
            } else {
                let sex = if rng.chance(0.5) { EqualityLevel::Equal } else { EqualityLevel::Different };
                Levels {
                    name: NameLevel::Exact,
                    birth: BirthLevel::OneDay,
                    id: IdLevel::Different,
                    sex,
                    ..Levels::default()
                }
            };
            table.push(levels);
            by_number.push(false);
        }
        let mut u: Vec<Vec<f64>> = LEVELS.iter().map(|l| vec![0.001; l.len()]).collect();
        u[1][BirthLevel::Different as usize] = 0.99;
        u[2][IdLevel::Different as usize] = 0.05;
        u[3] = vec![1.0, 0.5, 0.5];
        let model = fit_table(&table, &by_number, table.len() as f64, u, 500);
        let name_exact = model.fields[NAME].levels[NameLevel::Exact as usize].m;
        assert!((name_exact - 0.7).abs() < 0.02, "name exact m {name_exact}, not the name rule's 0.76");
        let id_exact = model.fields[ID].levels[IdLevel::Exact as usize].m;
        assert!(id_exact > 0.5, "the number's m comes from all pairs: exact {id_exact}");
    }

    /// A hundred matches that all agree on the birth date do not make another birth date
    /// impossible: the level keeps a few percent of its prior, not the floor.
    #[test]
    fn a_small_population_keeps_unseen_levels_plausible() {
        let levels = Levels {
            name: NameLevel::Exact,
            birth: BirthLevel::Exact,
            id: IdLevel::Exact,
            sex: EqualityLevel::Equal,
            ..Levels::default()
        };
        let table = vec![levels; 100];
        let u: Vec<Vec<f64>> = LEVELS.iter().map(|l| vec![0.01; l.len()]).collect();
        let model = fit_table(&table, &[true; 100], 5e6, u, 100);
        let different = model.fields[1].levels[BirthLevel::Different as usize].m;
        let expected = PRIOR_MATCHES * M_PRIORS[1][BirthLevel::Different as usize] / (100.0 + PRIOR_MATCHES);
        assert!((different - expected).abs() < 1e-3, "birth different m {different}, expected ~{expected}");
        assert!(model.fields[1].levels[BirthLevel::Exact as usize].m > 0.9);
    }

    fn frequencies(names: &[&str], pinyin: &[&str], guardians: &[&str]) -> Frequencies {
        let counts = |values: &[&str], key: fn(&str) -> u64| Counts::new(values.len(), |i| Some(key(values[i])));
        Frequencies {
            names: counts(names, name_key),
            pinyin: counts(pinyin, pinyin_key),
            guardians: counts(guardians, name_key),
        }
    }

    #[test]
    fn term_frequencies_weaken_common_values() {
        let f = frequencies(
            &["张伟", "张伟", "张伟", "张伟", "欧阳子轩", "欧阳子轩", "李娜", "王芳"],
            &["chen zi han", "chen zi han", "chen zi han", "chen zi han", "ou yang zi xuan", "li na", "wang fang", "x"],
            &["王伟", "王伟", "王伟", "王伟", "欧阳振华", "李强", "赵六", "钱七"],
        );
        let u: Vec<Vec<f64>> = LEVELS.iter().map(|l| vec![0.1; l.len()]).collect();
        let model = fit_table(&[], &[], 1.0, u, 0);
        let exact = Levels { name: NameLevel::Exact, birth: BirthLevel::Exact, ..Levels::default() };
        let score = |levels: &Levels, name: &'static str, pinyin: &'static str, guardian: &'static str| {
            model.score(levels, &Terms { name: Some(name), pinyin: Some(pinyin), guardian_name: Some(guardian) }, &f)
        };
        let common = score(&exact, "张伟", "zhang wei", "");
        let rare = score(&exact, "欧阳子轩", "ou yang zi xuan", "");
        assert!(rare.weight > common.weight + 0.9, "{} vs {}", rare.weight, common.weight);
        assert!(rare.probability > common.probability);
        // A homophone weighs by its reading's frequency: 陈紫涵 / 陈梓涵 read like many others.
        let homophone = Levels { name: NameLevel::Pinyin, birth: BirthLevel::Exact, ..Levels::default() };
        let popular = score(&homophone, "陈紫涵", "chen zi han", "");
        let unusual = score(&homophone, "李那", "li na", "");
        assert!(unusual.field_weights[NAME] > popular.field_weights[NAME] + 1.9, "{popular:?} vs {unusual:?}");
        assert_eq!(
            popular.field_weights[NAME],
            score(&homophone, "陈子涵", "Chen Zi-han", "").field_weights[NAME],
            "readings compare by their letters"
        );
        let guardian = Levels { guardian: GuardianLevel::Name, ..exact };
        let father = score(&guardian, "张伟", "zhang wei", "王伟").field_weights[GUARDIAN];
        let rare_father = score(&guardian, "张伟", "zhang wei", "欧阳振华").field_weights[GUARDIAN];
        assert!(rare_father > father + 1.9, "{father} vs {rare_father}");
        assert_eq!(model.score(&Levels::default(), &Terms::default(), &f).weight, 0.0);
    }

    #[test]
    fn a_name_typed_two_ways_weighs_by_how_rarely_strangers_do_that() {
        let f = frequencies(
            &["李娜", "李娜", "王芳", "赵敏"],
            &["li na", "li na", "wang fang", "zhao min"],
            &["", "", "", ""],
        );
        let mut u: Vec<Vec<f64>> = LEVELS.iter().map(|l| vec![0.1; l.len()]).collect();
        u[NAME][NameLevel::Exact as usize] = 0.01;
        u[NAME][NameLevel::Normalized as usize] = 0.0001;
        u[NAME][NameLevel::Pinyin as usize] = 0.0099;
        let model = fit_table(&[], &[], 1.0, u, 0);
        let m = |l: NameLevel| model.fields[NAME].levels[l as usize].m;
        let weight = |level: NameLevel| {
            let terms = Terms { name: Some("李娜"), pinyin: Some("li na"), guardian_name: None };
            model.score(&Levels { name: level, ..Levels::default() }, &terms, &f).field_weights[NAME]
        };
        // 李娜 is half the records: agreeing on it says little, typing it two ways far more.
        assert!((weight(NameLevel::Exact) - (m(NameLevel::Exact) / 0.5).log2()).abs() < 1e-9);
        let normalized = (m(NameLevel::Normalized) / (0.5 * 0.0001 / 0.0101)).log2();
        assert!((weight(NameLevel::Normalized) - normalized).abs() < 1e-9, "{}", weight(NameLevel::Normalized));
        assert!(weight(NameLevel::Normalized) > weight(NameLevel::Exact) + 3.0);
        // A homophone: the reading's share, times the part of agreeing readings that are not one name.
        let pinyin = (m(NameLevel::Pinyin) / (0.5 * 0.0099 / 0.02)).log2();
        assert!((weight(NameLevel::Pinyin) - pinyin).abs() < 1e-9, "{}", weight(NameLevel::Pinyin));
    }

    #[test]
    fn saved_frequencies_weigh_as_the_counted_ones() {
        let f = frequencies(&["张伟", "张伟", "李娜"], &["zhang wei", "zhang wei", "li na"], &["王伟", "王伟", "赵六"]);
        let mut saved = SavedFrequencies { records: 3, ..SavedFrequencies::default() };
        let (names, readings) = (["张伟", "张伟", "李娜"], ["zhang wei", "zhang wei", "li na"]);
        saved.names = f.names.saved(|i| Some(names[i]));
        saved.pinyin = f.pinyin.saved(|i| Some(readings[i]));
        assert_eq!(saved.names.len(), 1, "a value seen once is not kept: {:?}", saved.names);
        let back = Frequencies::load(&saved);
        for name in ["张伟", "李娜", "欧阳子轩"] {
            assert_eq!(back.names.share(name_key(name)), f.names.share(name_key(name)), "{name}");
        }
        assert_eq!(back.pinyin.share(pinyin_key("zhangwei")), 2.0 / 3.0);
    }

    #[test]
    fn a_saved_model_must_fit_the_compared_fields() {
        let u: Vec<Vec<f64>> = LEVELS.iter().map(|l| vec![0.1; l.len()]).collect();
        let mut model = fit_table(&[], &[], 1.0, u, 0);
        model.lambda = 0.01;
        assert_eq!(model.validate(), Ok(()));
        let mut empty = model.clone();
        empty.fields.clear();
        assert!(empty.validate().unwrap_err().contains("0 fields"));
        let mut old = model.clone();
        old.fields[2].levels.pop();
        assert!(old.validate().unwrap_err().contains("id_number"), "{:?}", old.validate());
    }
}

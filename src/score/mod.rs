//! Score: Fellegi–Sunter match weights. For each field level, `m` is the probability of the level
//! among pairs of one person and `u` among pairs of different people; the level's weight is
//! log2(m/u) and a pair's weight is the sum over fields. `u` is counted on random pairs (which
//! are almost all non-matches); `m` and the share of matches λ are estimated without labels by
//! expectation–maximisation over the candidate pairs, seeded from priors. A name that agrees
//! exactly weighs by its own frequency (term-frequency adjustment): 张伟 agreeing is weaker
//! evidence than 欧阳子轩 agreeing.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::compare::{decided_apart, Features, Levels, FIELDS, LEVELS, NAME};
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
    /// Share of matches among the candidate pairs (the prior).
    pub lambda: f64,
    pub fields: Vec<FieldModel>,
    /// Random pairs `u` was counted on, and EM iterations run (0 for a loaded model).
    pub u_pairs: u64,
    pub em_iterations: usize,
}

/// m-probability priors, per field, for the non-missing levels (EM's starting point).
const M_PRIORS: [&[f64]; 8] = [
    &[0.70, 0.08, 0.15, 0.03, 0.02, 0.02],
    &[0.70, 0.05, 0.08, 0.05, 0.05, 0.07],
    &[0.55, 0.12, 0.10, 0.20, 0.03],
    &[0.95, 0.05],
    &[0.20, 0.60, 0.20],
    &[0.80, 0.10, 0.10],
    &[0.90, 0.10],
    &[0.97, 0.03],
];

/// No level is ever impossible: probabilities are kept above this.
const FLOOR: f64 = 1e-6;

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

/// u-probabilities from `samples` random pairs of distinct records (all pairs when there are
/// fewer), Laplace-smoothed. Level 0 (`missing`) is counted but carries no weight.
pub fn estimate_u(features: &Features, records: usize, samples: usize, seed: u64) -> (Vec<Vec<f64>>, u64) {
    let mut counts: Vec<Vec<f64>> = LEVELS.iter().map(|l| vec![0.0; l.len()]).collect();
    let mut add = |levels: Levels| {
        for (f, &l) in levels.iter().enumerate() {
            counts[f][l as usize] += 1.0;
        }
    };
    let all_pairs = records.saturating_mul(records.saturating_sub(1)) / 2;
    let mut taken = 0u64;
    if all_pairs <= samples {
        for a in 0..records {
            for b in a + 1..records {
                add(features.compare(a, b));
                taken += 1;
            }
        }
    } else {
        let mut rng = Rng::keyed(seed, 0, 0x75);
        while (taken as usize) < samples {
            let (a, b) = (rng.below(records), rng.below(records));
            if a != b {
                add(features.compare(a, b));
                taken += 1;
            }
        }
    }
    let u = counts
        .iter()
        .map(|c| {
            let present: f64 = c[1..].iter().sum();
            let k = (c.len() - 1) as f64;
            std::iter::once(1.0).chain(c[1..].iter().map(|&n| ((n + 0.5) / (present + 0.5 * k)).max(FLOOR))).collect()
        })
        .collect();
    (u, taken)
}

/// Distinct level patterns with their counts, in a fixed order so that sums (and so the fitted
/// model) are the same on every run.
type Patterns = Vec<(Levels, f64)>;

/// A training session: EM over the candidate pairs of some blocking rules, leaving out the fields
/// those rules block on (their agreement among the session's pairs says nothing about m: it was
/// required to get in).
#[derive(Clone, Copy, Debug)]
pub struct Session {
    /// Bit i: pairs produced by blocking rule i.
    pub rules: u32,
    /// Fields not estimated (and not used) in this session.
    pub excluded: [bool; FIELDS.len()],
}

/// One EM run over `patterns`, u fixed, for the fields not `excluded` (m of excluded fields and
/// λ are left as given when `fit_lambda` / the field is off). Returns the expected matches and
/// the iterations run.
fn em(
    patterns: &Patterns,
    u: &[Vec<f64>],
    m: &mut [Vec<f64>],
    lambda: &mut f64,
    excluded: [bool; FIELDS.len()],
    fit_m: bool,
    max_iterations: usize,
) -> (f64, usize) {
    let total: f64 = patterns.iter().map(|p| p.1).sum();
    let mut matches = 0.0;
    let mut iterations = 0;
    while iterations < max_iterations && total > 0.0 {
        iterations += 1;
        let mut m_counts: Vec<Vec<f64>> = LEVELS.iter().map(|l| vec![0.0; l.len()]).collect();
        matches = 0.0;
        for &(ref levels, count) in patterns {
            let mut log_odds = (*lambda / (1.0 - *lambda)).ln();
            for (f, &l) in levels.iter().enumerate() {
                if l > 0 && !excluded[f] {
                    log_odds += (m[f][l as usize] / u[f][l as usize]).ln();
                }
            }
            let p = if decided_apart(levels) { 0.0 } else { 1.0 / (1.0 + (-log_odds).exp()) };
            matches += p * count;
            for (f, &l) in levels.iter().enumerate() {
                m_counts[f][l as usize] += p * count;
            }
        }
        let new_lambda = (matches / total).clamp(FLOOR, 1.0 - FLOOR);
        let mut change = (new_lambda - *lambda).abs();
        *lambda = new_lambda;
        for (f, counts) in m_counts.iter().enumerate().filter(|(f, _)| fit_m && !excluded[*f]) {
            let present: f64 = counts[1..].iter().sum();
            if present <= 0.0 {
                continue;
            }
            for l in 1..counts.len() {
                let new = (counts[l] / present).max(FLOOR);
                change = change.max((new - m[f][l]).abs());
                m[f][l] = new;
            }
        }
        if change < 1e-7 {
            break;
        }
    }
    (matches, iterations)
}

fn prior_m() -> Vec<Vec<f64>> {
    M_PRIORS.iter().map(|p| std::iter::once(1.0).chain(p.iter().copied()).collect()).collect()
}

fn patterns<'a>(levels: impl Iterator<Item = &'a Levels>) -> Patterns {
    let mut counts: HashMap<Levels, f64> = HashMap::new();
    for l in levels {
        *counts.entry(*l).or_default() += 1.0;
    }
    let mut patterns: Patterns = counts.into_iter().collect();
    patterns.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    patterns
}

/// Fits m by EM session by session (Splink's way: each session's blocked fields left out), each
/// field's m the average over the sessions that estimated it weighted by their expected matches;
/// then λ over all candidate pairs with m and u fixed. `rules[k]` is the rule mask of pair k.
pub fn fit(
    levels: &[Levels],
    rules: &[u32],
    sessions: &[Session],
    u: Vec<Vec<f64>>,
    u_pairs: u64,
    max_iterations: usize,
) -> Model {
    let mut sums: Vec<Vec<f64>> = LEVELS.iter().map(|l| vec![0.0; l.len()]).collect();
    let mut weights = [0.0; FIELDS.len()];
    let mut iterations = 0;
    for session in sessions {
        let patterns = patterns(levels.iter().zip(rules).filter(|(_, &r)| r & session.rules != 0).map(|(l, _)| l));
        let (mut m, mut lambda) = (prior_m(), 0.5);
        let (matches, runs) = em(&patterns, &u, &mut m, &mut lambda, session.excluded, true, max_iterations);
        iterations += runs;
        for f in (0..FIELDS.len()).filter(|&f| !session.excluded[f]) {
            weights[f] += matches;
            for l in 1..m[f].len() {
                sums[f][l] += matches * m[f][l];
            }
        }
    }
    let prior = prior_m();
    let m: Vec<Vec<f64>> = (0..FIELDS.len())
        .map(|f| {
            if weights[f] > 0.0 {
                std::iter::once(1.0).chain(sums[f][1..].iter().map(|s| (s / weights[f]).max(FLOOR))).collect()
            } else {
                prior[f].clone()
            }
        })
        .collect();
    let mut m = m;
    let mut lambda = 0.1;
    let (_, runs) = em(&patterns(levels.iter()), &u, &mut m, &mut lambda, [false; FIELDS.len()], false, max_iterations);
    Model { lambda, fields: level_models(&m, &u), u_pairs, em_iterations: iterations + runs }
}

/// How often each normalized name occurs, for the term-frequency adjustment.
pub struct NameFrequencies {
    counts: HashMap<String, u32>,
    records: f64,
}

impl NameFrequencies {
    pub fn new<'a>(names: impl Iterator<Item = Option<&'a str>>) -> NameFrequencies {
        let mut counts: HashMap<String, u32> = HashMap::new();
        let mut records = 0.0;
        for name in names {
            records += 1.0;
            if let Some(name) = name {
                match counts.get_mut(name) {
                    Some(n) => *n += 1,
                    None => {
                        counts.insert(name.to_owned(), 1);
                    }
                }
            }
        }
        NameFrequencies { counts, records }
    }

    /// The share of records carrying `name`.
    pub fn share(&self, name: &str) -> f64 {
        f64::from(*self.counts.get(name).unwrap_or(&1)) / self.records.max(1.0)
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

    /// Scores a pair from its levels; `name` is the pair's shared normalized name when the name
    /// level is `exact` or `normalized`, for the term-frequency adjustment.
    pub fn score(&self, levels: &Levels, name: Option<&str>, frequencies: &NameFrequencies) -> Score {
        let mut field_weights = [0.0; FIELDS.len()];
        for (f, &l) in levels.iter().enumerate() {
            field_weights[f] = self.weight(f, l);
        }
        if let (Some(name), 1 | 2) = (name, levels[NAME]) {
            // The u of agreeing on this very name is its frequency, not the average name's.
            let m = self.fields[NAME].levels[levels[NAME] as usize].m;
            field_weights[NAME] = (m / frequencies.share(name).max(FLOOR)).log2();
        }
        let weight: f64 = field_weights.iter().sum();
        let prior = (self.lambda / (1.0 - self.lambda)).log2();
        let probability = if decided_apart(levels) { 0.0 } else { 1.0 / (1.0 + (-(weight + prior)).exp2()) };
        Score { weight, probability, field_weights }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// EM recovers known m and u on a simulated comparison table: two binary-ish fields and
    /// a three-level one, 20% matches.
    #[test]
    fn em_recovers_known_m() {
        let mut rng = Rng::keyed(42, 0, 0);
        // Matches agree on the name (exactly or as a homophone): a different name is decisive.
        let true_m = [[0.0, 0.9, 0.0, 0.1, 0.0, 0.0, 0.0], [0.0, 0.8, 0.0, 0.0, 0.0, 0.1, 0.1]];
        let true_u = [[0.0, 0.01, 0.0, 0.0, 0.0, 0.0, 0.99], [0.0, 0.002, 0.0, 0.0, 0.0, 0.05, 0.948]];
        let draw = |rng: &mut Rng, p: &[f64; 7]| -> u8 {
            let x = rng.unit();
            let mut acc = 0.0;
            for (l, &q) in p.iter().enumerate() {
                acc += q;
                if x < acc {
                    return l as u8;
                }
            }
            6
        };
        let mut table = Vec::new();
        for _ in 0..200_000 {
            let is_match = rng.chance(0.2);
            let (p_name, p_birth) = if is_match { (&true_m[0], &true_m[1]) } else { (&true_u[0], &true_u[1]) };
            let sex_equal = if is_match { rng.chance(0.98) } else { rng.chance(0.5) };
            let mut levels: Levels = [0; FIELDS.len()];
            levels[0] = draw(&mut rng, p_name);
            levels[1] = draw(&mut rng, p_birth);
            levels[3] = if sex_equal { 1 } else { 2 };
            table.push(levels);
        }
        let mut u: Vec<Vec<f64>> = LEVELS.iter().map(|l| vec![1.0 / l.len() as f64; l.len()]).collect();
        u[0] = true_u[0].iter().map(|&x| x.max(FLOOR)).collect();
        u[1] = true_u[1].iter().map(|&x| x.max(FLOOR)).collect();
        u[3] = vec![1.0, 0.5, 0.5];
        let all = Session { rules: 1, excluded: [false; FIELDS.len()] };
        let model = fit(&table, &vec![1; table.len()], &[all], u, 0, 200);
        assert!((model.lambda - 0.2).abs() < 0.01, "λ {}", model.lambda);
        let m = |f: usize, l: usize| model.fields[f].levels[l].m;
        assert!((m(0, 1) - 0.9).abs() < 0.02, "name exact m {}", m(0, 1));
        assert!((m(1, 1) - 0.8).abs() < 0.02, "birth exact m {}", m(1, 1));
        assert!((m(1, 5) - 0.1).abs() < 0.02, "birth one-digit m {}", m(1, 5));
        assert!((m(3, 1) - 0.98).abs() < 0.02, "sex m {}", m(3, 1));
        assert!(model.fields[0].levels[1].weight > 6.0);
        assert_eq!(model.fields[0].levels[0].weight, 0.0, "missing is no evidence");
    }

    /// A session leaves its blocked fields alone: they keep the priors when no session fits them.
    #[test]
    fn sessions_leave_out_their_blocked_fields() {
        let mut levels: Levels = [0; FIELDS.len()];
        levels[NAME] = 1;
        levels[1] = 6;
        let table = vec![levels; 100];
        let mut excluded = [false; FIELDS.len()];
        excluded[NAME] = true;
        let u: Vec<Vec<f64>> = LEVELS.iter().map(|l| vec![0.2; l.len()]).collect();
        let model = fit(&table, &vec![1; 100], &[Session { rules: 1, excluded }], u, 0, 50);
        assert_eq!(model.fields[NAME].levels[1].m, M_PRIORS[NAME][0], "name was blocked on: prior kept");
        assert!(model.fields[1].levels[6].m > 0.9, "birth estimated: {}", model.fields[1].levels[6].m);
    }

    #[test]
    fn term_frequencies_weaken_common_names() {
        let names = ["张伟", "张伟", "张伟", "张伟", "欧阳子轩", "欧阳子轩", "李娜", "王芳"];
        let frequencies = NameFrequencies::new(names.iter().map(|n| Some(*n)));
        let u: Vec<Vec<f64>> = LEVELS.iter().map(|l| vec![0.1; l.len()]).collect();
        let model = fit(&[], &[], &[], u, 0, 0);
        let mut levels: Levels = [0; FIELDS.len()];
        levels[NAME] = 1;
        let common = model.score(&levels, Some("张伟"), &frequencies);
        let rare = model.score(&levels, Some("欧阳子轩"), &frequencies);
        assert!(rare.weight > common.weight + 0.9, "{} vs {}", rare.weight, common.weight);
        assert!(rare.probability > common.probability);
        assert_eq!(model.score(&[0; FIELDS.len()], None, &frequencies).weight, 0.0);
    }
}

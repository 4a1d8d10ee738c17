//! `dedupe`: block → compare → score → cluster over the checked records.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::Serialize;

use crate::block;
use crate::check::run::{check_inputs, CheckRun};
use crate::check::CheckOptions;
use crate::cluster::{self, Clustering};
use crate::columns::{par_row_chunks, Text};
use crate::compare::{Features, Levels, FIELDS, LEVELS};
use crate::error::{Error, Result};
use crate::ingest::IngestOptions;
use crate::labels::{Judgement, Label, Review, ReviewSummary};
use crate::outcome::{
    weight_bin, DedupeRun, DedupeSettings, PairKind, ScoredPair, WeightHistogram, HISTOGRAM_BINS, HISTOGRAM_LOW,
    NEAR_FLOOR,
};
use crate::progress::Stopwatch;
use crate::report;
use crate::score::{self, Frequencies, Model, Patterns, SavedFrequencies, Score, Terms};

/// How cohesion judges two members of one component ([`cluster::cluster`]): whether they could
/// be one person. A contradiction splits, a pair with too little to identify it (a blank name
/// on one, no number on the other) joins through the others, an identified pair scores.
pub fn member_probability(levels: &Levels, score: &Score, model: &Model) -> f64 {
    match (levels.contradicts(), levels.identifies()) {
        (true, _) => 0.0,
        (false, false) => 1.0,
        (false, true) => model.probability_of(score.weight),
    }
}

/// Whether a scored pair is reported, and as what: one number on clearly different people is
/// an ID conflict; a pair at or above `threshold` is a match unless decided apart (whatever the
/// threshold, even 0).
pub fn judge(levels: &Levels, score: &Score, threshold: f64) -> Option<PairKind> {
    if levels.is_id_conflict() {
        Some(PairKind::IdConflict)
    } else {
        (score.probability >= threshold && !levels.decided_apart()).then_some(PairKind::Match)
    }
}

/// Reads, normalizes and checks the inputs, then finds the records of one person: blocking,
/// comparison, Fellegi–Sunter scoring (with `model` when given, else fitted by EM) and clustering.
/// Pairs an analyst labelled ([`labels`]) are decided by their label.
pub fn dedupe_inputs(
    inputs: &[PathBuf],
    ingest_options: &IngestOptions,
    check_options: &CheckOptions,
    settings: &DedupeSettings,
    model: Option<Model>,
    labels: &[Label],
) -> Result<DedupeRun> {
    let check = check_inputs(inputs, ingest_options, check_options)?;
    dedupe_records(check, settings, model, labels)
}

/// [`dedupe_inputs`] on records already checked.
pub fn dedupe_records(
    check: CheckRun,
    settings: &DedupeSettings,
    model: Option<Model>,
    labels: &[Label],
) -> Result<DedupeRun> {
    dedupe_records_from(check, settings, model, 0, labels)
}

/// Dedupe where only pairs with a record at index `first_new` or later count: records before it
/// were deduplicated already (incremental linking against a registry).
pub fn dedupe_records_from(
    mut check: CheckRun,
    settings: &DedupeSettings,
    model: Option<Model>,
    first_new: usize,
    labels: &[Label],
) -> Result<DedupeRun> {
    let mut watch = Stopwatch::start("block");
    let records = &check.records;
    let n = records.height();
    let features = Features::new(records)?;

    settings.validate().map_err(Error::Usage)?;
    let candidates = block::candidates(records, features.numbers(), &settings.blocking, first_new)?;
    watch.next("compare", &mut check.timings);

    let levels: Vec<Levels> = par_row_chunks(candidates.pairs.len(), |range| {
        candidates.pairs[range].iter().map(|&(a, b)| features.compare(a as usize, b as usize)).collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .collect();
    watch.next("frequencies", &mut check.timings);

    let frequencies = match &model {
        // Linking weighs names as the registry did: over all of it, not the narrowed rows.
        Some(model) if first_new > 0 && model.frequencies.records > 0 => Frequencies::load(&model.frequencies),
        _ => Frequencies::count(&features),
    };
    // A model fitted here keeps them readable in model.json (a million names at 10M).
    let saved_frequencies = model.is_none().then(|| frequencies.save(&features));
    watch.next("fit", &mut check.timings);
    let model = match model {
        Some(model) => model,
        None => {
            let (counts, u_pairs) = score::estimate_u(&features, settings.u_pairs, settings.seed);
            let number_rules = settings.blocking.number_rules();
            let all = score::patterns(&levels, |_| true);
            let numbered = score::patterns(&levels, |k| candidates.rules[k] & number_rules != 0);
            let frequencies = saved_frequencies.unwrap_or_default();
            let region_only = score::region_only_pairs(features.number_keys());
            fit_model(&counts, u_pairs, region_only, &numbered, &all, n, settings, frequencies)
        }
    };
    watch.next("score", &mut check.timings);

    let score_pair =
        |a: u32, levels: &Levels| -> Score { model.score(levels, &Terms::of(&features, a as usize), &frequencies) };
    let scored: Vec<(Vec<ScoredPair>, Vec<ScoredPair>, Vec<u64>)> = par_row_chunks(candidates.pairs.len(), |range| {
        let (mut kept, mut near) = (Vec::new(), Vec::new());
        let mut counts = vec![0u64; HISTOGRAM_BINS];
        for k in range {
            let (a, b) = candidates.pairs[k];
            let score = score_pair(a, &levels[k]);
            counts[weight_bin(score.weight)] += 1;
            match judge(&levels[k], &score, settings.threshold) {
                Some(kind) => kept.push(ScoredPair { a, b, levels: levels[k], score, kind }),
                None if score.probability >= NEAR_FLOOR => {
                    near.push(ScoredPair { a, b, levels: levels[k], score, kind: PairKind::Match })
                }
                None => {}
            }
        }
        (kept, near, counts)
    });
    let (mut pairs, mut near) = (Vec::new(), Vec::new());
    let mut histogram = WeightHistogram { low: HISTOGRAM_LOW, counts: vec![0; HISTOGRAM_BINS] };
    for (kept, below, counts) in scored {
        pairs.extend(kept);
        near.extend(below);
        for (total, c) in histogram.counts.iter_mut().zip(counts) {
            *total += c;
        }
    }
    drop(levels);
    watch.next("cluster", &mut check.timings);

    let review = Review::resolve(labels, &Text::of(records, "record_id")?, n);
    let overruled = decide_by_labels(&review, &mut pairs, |a, b| {
        let levels = features.compare(a as usize, b as usize);
        let score = score_pair(a, &levels);
        ScoredPair { a, b, levels, score, kind: PairKind::Match }
    });
    let matches: Vec<(u32, u32, f64)> = pairs
        .iter()
        .filter(|p| p.kind == PairKind::Match)
        .map(|p| {
            (p.a, p.b, if review.judgement(p.a, p.b) == Some(Judgement::Same) { 1.0 } else { p.score.probability })
        })
        .collect();
    // Labels decide their pairs; records 同一人 labels tie together (A = B = C) stay together.
    let tied = review.same_groups();
    let clustering = cluster::cluster(n, &matches, settings.cohesion, |a, b| match review.judgement(a, b) {
        Some(Judgement::Different) => 0.0,
        // A pair labelled 同一人 is in one group, as are records tied through others.
        _ if tied.get(&a).is_some_and(|g| tied.get(&b) == Some(g)) => 1.0,
        _ => {
            let levels = features.compare(a as usize, b as usize);
            member_probability(&levels, &score_pair(a, &levels), &model)
        }
    });
    let review = (!labels.is_empty()).then(|| {
        ReviewSummary::new(
            &review,
            |a, b| {
                let levels = features.compare(a as usize, b as usize);
                score_pair(a, &levels).probability
            },
            overruled,
        )
    });
    watch.finish(&mut check.timings);
    drop(features);

    // A pair a label made a match is no longer below the threshold.
    let reported: HashSet<(u32, u32)> = pairs.iter().map(|p| (p.a, p.b)).collect();
    near.retain(|p| !reported.contains(&(p.a, p.b)));
    Ok(DedupeRun { check, candidates, model, pairs, near, histogram, clustering, settings: settings.clone(), review })
}

/// Applies the labels of `review` to the reported `pairs` (ordered by record pair): a pair
/// labelled 不同人 is no match, one labelled 同一人 is a match, scored by `score` when it was
/// not reported. Returns how many labels decided otherwise than the model.
fn decide_by_labels(review: &Review, pairs: &mut Vec<ScoredPair>, score: impl Fn(u32, u32) -> ScoredPair) -> usize {
    if review.decided.is_empty() {
        return 0;
    }
    let mut overruled = 0;
    pairs.retain(|p| {
        let apart = p.kind == PairKind::Match && review.judgement(p.a, p.b) == Some(Judgement::Different);
        overruled += usize::from(apart);
        !apart
    });
    let reported: HashSet<(u32, u32)> = pairs.iter().map(|p| (p.a.min(p.b), p.a.max(p.b))).collect();
    for p in pairs.iter_mut() {
        if p.kind != PairKind::Match && review.judgement(p.a, p.b) == Some(Judgement::Same) {
            p.kind = PairKind::Match;
            overruled += 1;
        }
    }
    let mut same: Vec<(u32, u32)> = review
        .decided
        .iter()
        .filter(|&(pair, &j)| j == Judgement::Same && !reported.contains(pair))
        .map(|(&pair, _)| pair)
        .collect();
    same.sort_unstable();
    overruled += same.len();
    pairs.extend(same.into_iter().map(|(a, b)| score(a, b)));
    pairs.sort_by_key(|p| (p.a, p.b));
    overruled
}

/// The model [`dedupe_records`] fits over `records` records: u from the random pairs' level
/// `u_counts` (`u_pairs` of them, [`score::estimate_u`]), the pairs of numbers differing only
/// in the region ([`score::region_only_pairs`]) and the candidates, m and λ by EM over the
/// candidates' level patterns (`numbered`: those a rule keyed on the number found). A cluster
/// calls it at its driver with the same counts summed over its parts.
#[allow(clippy::too_many_arguments)]
pub fn fit_model(
    u_counts: &[Vec<f64>],
    u_pairs: u64,
    region_only_pairs: u64,
    numbered: &Patterns,
    all: &Patterns,
    records: usize,
    settings: &DedupeSettings,
    frequencies: SavedFrequencies,
) -> Model {
    let all_pairs = records as f64 * (records as f64 - 1.0) / 2.0;
    let u = score::u_probabilities(u_counts, all, all_pairs, region_only_pairs);
    let mut model = score::fit(numbered, all, all_pairs, u, u_pairs, settings.em_iterations);
    model.frequencies = frequencies;
    model
}

/// The files `dedupe` writes into its output folder.
pub const DEDUPE_OUTPUTS: [&str; 8] = [
    "duplicate_pairs.parquet",
    "duplicate_pairs.csv",
    "clusters.parquet",
    "clusters.csv",
    "id_conflicts.csv",
    "model.json",
    "dedupe_summary.json",
    "review.html",
];

/// The records whose columns the outputs show: all of them (one machine), or those a driver
/// gathered (with `record`, each row's index in the whole population).
pub struct Shown<'a> {
    records: &'a DataFrame,
    rows: Option<HashMap<u32, usize>>,
}

impl<'a> Shown<'a> {
    pub fn all(records: &'a DataFrame) -> Shown<'a> {
        Shown { records, rows: None }
    }

    /// Records with their `record` index.
    pub fn gathered(records: &'a DataFrame) -> Result<Shown<'a>> {
        let index = records.column("record").map_err(|_| Error::Worker("shown records: no column record".into()))?;
        let index = index.cast(&DataType::UInt32)?;
        let rows = index.u32()?.iter().enumerate().filter_map(|(row, r)| Some((r?, row))).collect();
        Ok(Shown { records, rows: Some(rows) })
    }

    /// The values of `column` (one of these records'), by record index.
    fn values(&self, column: Text<'a>) -> impl Fn(u32) -> Result<Option<&'a str>> + '_ {
        move |record: u32| match &self.rows {
            None => Ok(column.get(record as usize)),
            Some(rows) => match rows.get(&record) {
                Some(&row) => Ok(column.get(row)),
                None => Err(Error::Worker(format!("shown records: no record {record}"))),
            },
        }
    }
}

/// Cluster id of every clustered record: the smallest record id of its cluster (stable
/// whatever the order of the inputs).
pub fn cluster_ids(shown: &Shown, clustering: &Clustering) -> Result<Vec<(u32, String, usize)>> {
    let ids = shown.values(Text::of(shown.records, "record_id")?);
    let mut out = Vec::new();
    for members in &clustering.clusters {
        let named = members.iter().map(|&m| ids(m)).collect::<Result<Vec<_>>>()?;
        let name = named.into_iter().flatten().min().unwrap_or("").to_owned();
        out.extend(members.iter().map(|&m| (m, name.clone(), members.len())));
    }
    out.sort_by_key(|x| x.0);
    Ok(out)
}

/// What `xueji dedupe` writes, however it was found: on one machine or across a cluster.
pub struct DedupeOutputs<'a> {
    pub shown: Shown<'a>,
    /// Matches and ID conflicts, ordered by record pair.
    pub pairs: &'a [ScoredPair],
    pub clustering: &'a Clustering,
    pub model: &'a Model,
    pub summary: DedupeSummary,
}

impl DedupeOutputs<'_> {
    fn pair_frame(&self, kind: PairKind) -> Result<DataFrame> {
        let pairs: Vec<&ScoredPair> = self.pairs.iter().filter(|p| p.kind == kind).collect();
        let cluster_of: BTreeMap<u32, String> =
            cluster_ids(&self.shown, self.clustering)?.into_iter().map(|(r, c, _)| (r, c)).collect();
        let mut columns: Vec<Column> = Vec::new();
        let records = self.shown.records;
        let shown = [
            ("record_id", Text::of(records, "record_id")?),
            ("name", Text::of(records, "name")?),
            ("id_number", Text::of(records, "id_number")?),
            ("birth_date", Text::of(records, "birth_date")?),
            ("school_name", Text::optional(records, "school_name")?),
        ];
        for (name, column) in shown {
            let values = self.shown.values(column);
            for (suffix, side) in [("l", false), ("r", true)] {
                let shown = pairs.iter().map(|p| values(if side { p.b } else { p.a })).collect::<Result<Vec<_>>>()?;
                columns.push(
                    StringChunked::from_iter_options(format!("{name}_{suffix}").into(), shown.into_iter())
                        .into_column(),
                );
            }
        }
        columns.push(
            StringChunked::from_iter_options(
                "cluster_id".into(),
                pairs.iter().map(|p| cluster_of.get(&p.a).map(String::as_str)),
            )
            .into_column(),
        );
        columns.push(
            Float64Chunked::from_iter_values("probability".into(), pairs.iter().map(|p| p.score.probability))
                .into_column(),
        );
        columns.push(
            Float64Chunked::from_iter_values("weight".into(), pairs.iter().map(|p| p.score.weight)).into_column(),
        );
        for (f, field) in FIELDS.iter().enumerate() {
            columns.push(
                StringChunked::from_iter_values(
                    format!("{field}_level").into(),
                    pairs.iter().map(|p| LEVELS[f][p.levels.indices()[f] as usize]),
                )
                .into_column(),
            );
            columns.push(
                Float64Chunked::from_iter_values(
                    format!("{field}_weight").into(),
                    pairs.iter().map(|p| p.score.field_weights[f]),
                )
                .into_column(),
            );
        }
        Ok(DataFrame::new(pairs.len(), columns)?)
    }

    fn cluster_frame(&self) -> Result<DataFrame> {
        let rows = cluster_ids(&self.shown, self.clustering)?;
        let mut columns: Vec<Column> = Vec::new();
        let records = self.shown.records;
        let shown = [
            ("record_id", Text::of(records, "record_id")?),
            ("source_file", Text::of(records, "source_file")?),
            ("name", Text::of(records, "name")?),
            ("id_number", Text::of(records, "id_number")?),
            ("school_name", Text::optional(records, "school_name")?),
        ];
        for (name, column) in shown {
            let values = self.shown.values(column);
            let shown = rows.iter().map(|r| values(r.0)).collect::<Result<Vec<_>>>()?;
            columns.push(StringChunked::from_iter_options(name.into(), shown.into_iter()).into_column());
        }
        columns.insert(
            1,
            StringChunked::from_iter_values("cluster_id".into(), rows.iter().map(|r| r.1.as_str())).into_column(),
        );
        columns
            .insert(2, UInt32Chunked::from_iter_values("size".into(), rows.iter().map(|r| r.2 as u32)).into_column());
        Ok(DataFrame::new(rows.len(), columns)?)
    }

    /// Writes the pairs, clusters, conflicts, model and summary into `out`.
    pub fn write(&self, out: &Path) -> Result<()> {
        crate::files::output_dir(out)?;
        let mut pairs = self.pair_frame(PairKind::Match)?;
        crate::files::write_parquet(&out.join("duplicate_pairs.parquet"), &mut pairs)?;
        // The CSV copies are for people: Chinese headers (the Parquet keeps English names).
        crate::files::write_csv(&out.join("duplicate_pairs.csv"), &report::chinese_headers(&pairs)?)?;
        let mut clusters = self.cluster_frame()?;
        crate::files::write_parquet(&out.join("clusters.parquet"), &mut clusters)?;
        crate::files::write_csv(&out.join("clusters.csv"), &report::chinese_headers(&clusters)?)?;
        let conflicts = report::chinese_headers(&self.pair_frame(PairKind::IdConflict)?)?;
        crate::files::write_csv(&out.join("id_conflicts.csv"), &conflicts)?;
        crate::files::write_json(&out.join("model.json"), self.model)?;
        crate::files::write_json(&out.join("dedupe_summary.json"), &self.summary)
    }
}

impl DedupeRun {
    pub fn cluster_ids(&self) -> Result<Vec<(u32, String, usize)>> {
        cluster_ids(&Shown::all(&self.check.records), &self.clustering)
    }

    pub fn summary(&self) -> DedupeSummary {
        let candidates = &self.candidates;
        let mut summary = DedupeSummary::new(
            self.check.records.height(),
            (candidates.pairs.len(), &candidates.stats, &candidates.largest),
            &self.pairs,
            &self.clustering,
            &self.histogram,
            self.settings.threshold,
        );
        summary.timings = self.check.timings.clone();
        summary.review = self.review.clone();
        summary
    }

    /// Writes the pairs, clusters, conflicts, model and summary into `out`.
    pub fn write(&mut self, out: &Path) -> Result<()> {
        let watch = Stopwatch::start("write duplicates");
        let outputs = DedupeOutputs {
            shown: Shown::all(&self.check.records),
            pairs: &self.pairs,
            clustering: &self.clustering,
            model: &self.model,
            summary: self.summary(),
        };
        outputs.write(out)?;
        let page = report::review::review_page(self, crate::lang::pick("一人多籍复核", "duplicate review"))?;
        crate::files::write_bytes(&out.join("review.html"), page.as_bytes())?;
        watch.finish(&mut self.check.timings);
        Ok(())
    }

    /// The candidate pairs with the rules that produced them (for `xueji eval --candidates`).
    pub fn write_candidates(&self, path: &Path) -> Result<()> {
        let ids = Text::of(&self.check.records, "record_id")?;
        let names: Vec<&str> = self.settings.blocking.rules.iter().map(|r| r.name.as_str()).collect();
        let rules = |mask: u64| {
            names
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, n)| *n)
                .collect::<Vec<_>>()
                .join(";")
        };
        let mut df = DataFrame::new(
            self.candidates.pairs.len(),
            vec![
                StringChunked::from_iter_options(
                    "record_id_l".into(),
                    self.candidates.pairs.iter().map(|p| ids.get(p.0 as usize)),
                )
                .into_column(),
                StringChunked::from_iter_options(
                    "record_id_r".into(),
                    self.candidates.pairs.iter().map(|p| ids.get(p.1 as usize)),
                )
                .into_column(),
                StringChunked::from_iter_values("rules".into(), self.candidates.rules.iter().map(|&m| rules(m)))
                    .into_column(),
            ],
        )?;
        crate::files::write_parquet(path, &mut df)
    }
}

#[derive(Debug, Serialize)]
pub struct DedupeSummary {
    pub records: usize,
    pub candidate_pairs: usize,
    pub blocking: Vec<block::RuleStats>,
    pub largest_blocks: Vec<block::LargeBlock>,
    pub matches_by_probability: BTreeMap<String, usize>,
    pub clusters_by_size: BTreeMap<usize, usize>,
    /// Registrations beyond the first of each person (一人多籍).
    pub duplicate_registrations: usize,
    pub people_with_several: usize,
    pub id_conflicts: usize,
    pub split_components: Vec<usize>,
    pub histogram: WeightHistogram,
    pub threshold: f64,
    /// What `--labels` did (absent without labels).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review: Option<ReviewSummary>,
    /// Not written to dedupe_summary.json, which must be the same on every run.
    #[serde(skip)]
    pub timings: Vec<crate::progress::StageTime>,
}

impl DedupeSummary {
    /// The summary of a run over `records` records: blocking's `candidates` (how many pairs,
    /// each rule's statistics, the largest blocks), the reported `pairs`, the `clustering`
    /// and the weight `histogram` of all candidates.
    pub fn new(
        records: usize,
        candidates: (usize, &[block::RuleStats], &[block::LargeBlock]),
        pairs: &[ScoredPair],
        clustering: &Clustering,
        histogram: &WeightHistogram,
        threshold: f64,
    ) -> DedupeSummary {
        let matches: Vec<&ScoredPair> = pairs.iter().filter(|p| p.kind == PairKind::Match).collect();
        let band =
            |lo: f64, hi: f64| matches.iter().filter(|p| p.score.probability >= lo && p.score.probability < hi).count();
        let mut by_size: BTreeMap<usize, usize> = BTreeMap::new();
        for c in &clustering.clusters {
            *by_size.entry(c.len()).or_default() += 1;
        }
        DedupeSummary {
            records,
            candidate_pairs: candidates.0,
            blocking: candidates.1.to_vec(),
            largest_blocks: candidates.2.to_vec(),
            matches_by_probability: {
                // Bands from the threshold up; a band below the threshold is empty and left out.
                let t = threshold;
                [(t, 0.99), (0.99, 0.999), (0.999, 1.1)]
                    .into_iter()
                    .filter(|&(lo, hi)| lo.max(t) < hi)
                    .map(|(lo, hi)| {
                        (
                            format!("{:.3}-{}", lo.max(t), if hi > 1.0 { "1".to_owned() } else { hi.to_string() }),
                            band(lo.max(t), hi),
                        )
                    })
                    .collect()
            },
            clusters_by_size: by_size,
            duplicate_registrations: clustering.clusters.iter().map(|c| c.len() - 1).sum(),
            people_with_several: clustering.clusters.len(),
            id_conflicts: pairs.iter().filter(|p| p.kind == PairKind::IdConflict).count(),
            split_components: clustering.split_components.clone(),
            histogram: histogram.clone(),
            threshold,
            review: None,
            timings: Vec::new(),
        }
    }
}

//! The stages a cluster runs, on parts of a population in any order, against `xueji dedupe`'s
//! own run of the same records: what makes a national check on Spark the same check.

mod common;

use polars::prelude::*;
use xueji::block::{self, BlockingSettings, KeyRow, RuleStats};
use xueji::check::CheckOptions;
use xueji::compare::Features;
use xueji::ingest::IngestOptions;
use xueji::normalize::date::parse_date;
use xueji::rng::Rng;

/// `n` rows cut into parts at random places (some empty), as a cluster's partitions may be.
fn random_parts(n: usize, rng: &mut Rng) -> Vec<std::ops::Range<usize>> {
    let mut cuts: Vec<usize> = (0..rng.below(12) + 1).map(|_| rng.below(n + 1)).collect();
    cuts.extend([0, n]);
    cuts.sort_unstable();
    cuts.windows(2).map(|w| w[0]..w[1]).collect()
}

/// Blocking as a cluster runs it: key rows per part, shuffled, grouped by rule, pass and key,
/// each block paired on its own, the pairs of all blocks united.
fn block_in_parts(
    records: &DataFrame,
    numbers: (&[bool], &[bool]),
    settings: &BlockingSettings,
    rng: &mut Rng,
) -> (Vec<(u32, u32)>, Vec<u64>, Vec<RuleStats>) {
    let mut rows: Vec<KeyRow> = Vec::new();
    for part in random_parts(records.height(), rng) {
        let chunk = records.slice(part.start as i64, part.len());
        let index: Vec<u32> = part.clone().map(|i| i as u32).collect();
        let numbers = (&numbers.0[part.clone()], &numbers.1[part]);
        rows.extend(block::key_rows(&chunk, numbers, settings, &index).unwrap());
    }
    // A shuffle delivers rows in any order; each block is ordered by record where it meets.
    for i in (1..rows.len()).rev() {
        rows.swap(i, rng.below(i + 1));
    }
    rows.sort_by_key(|r| (r.rule, r.pass, r.key, r.record));
    let mut stats: Vec<RuleStats> =
        settings.rules.iter().map(|r| RuleStats { rule: r.name.clone(), ..Default::default() }).collect();
    let mut tagged = Vec::new();
    for group in rows.chunk_by(|a, b| (a.rule, a.pass, a.key) == (b.rule, b.pass, b.key)) {
        if group.len() > 1 {
            let outcome = block::pair_keyed_block(group, 0, settings.max_block_size, &mut tagged);
            stats[group[0].rule as usize].count(outcome, group.len());
        }
    }
    let (pairs, rules) = block::union(tagged, &mut stats);
    (pairs, rules, stats)
}

#[test]
fn blocking_in_random_parts_makes_the_candidates_of_one_machine() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("g");
    common::generate(&data, 4000, 23, &[]);
    let ingest = IngestOptions { id_column: Some("aux_no".into()), ..IngestOptions::default() };
    let check = CheckOptions { as_of: parse_date(common::AS_OF).unwrap() };
    let run = xueji::pipeline::check_inputs(&[data.join("sheets")], &ingest, &check).unwrap();
    let features = Features::new(&run.records).unwrap();
    let numbers = features.numbers();

    // The default rules, and blocks so small that most are skipped.
    let tiny = BlockingSettings { max_block_size: 3, ..BlockingSettings::default() };
    for settings in [BlockingSettings::default(), tiny] {
        let whole = block::candidates(&run.records, numbers, &settings, 0).unwrap();
        assert!(whole.pairs.len() > 200, "{} candidate pairs", whole.pairs.len());
        for seed in 0..4 {
            let mut rng = Rng::keyed(seed, 0, 0);
            let (pairs, rules, stats) = block_in_parts(&run.records, numbers, &settings, &mut rng);
            assert_eq!(pairs, whole.pairs, "max_block_size {}, seed {seed}", settings.max_block_size);
            assert_eq!(rules, whole.rules);
            assert_eq!(stats, whole.stats);
        }
        let skipped: u64 = whole.stats.iter().map(|s| s.skipped_blocks).sum();
        assert_eq!(skipped > 0, settings.max_block_size == 3, "tiny blocks are skipped, and counted");
    }
}

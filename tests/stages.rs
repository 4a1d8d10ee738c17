//! The stages a cluster runs, on parts of a population in any order, against `xueji dedupe`'s
//! own run of the same records: what makes a national check on Spark the same check.

mod common;

use polars::prelude::*;

use xueji::block::{self, BlockingSettings, KeyRow, Narrowing, ProbeFilter, RuleStats};
use xueji::check::CheckOptions;
use xueji::compare::Features;
use xueji::ingest::IngestOptions;
use xueji::normalize::date::parse_date;
use xueji::outcome::DedupeSettings;
use xueji::pipeline::worker;
use xueji::rng::Rng;
use xueji::score;

/// A generated population of `students` (seed `seed`), read and checked as `xueji dedupe`
/// reads it; the folder lives as long as the returned guard.
fn checked(students: usize, seed: u64) -> (tempfile::TempDir, xueji::check::run::CheckRun) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("g");
    common::generate(&data, students, seed, &[]);
    let ingest = IngestOptions { id_column: Some("aux_no".into()), ..IngestOptions::default() };
    let check = CheckOptions { as_of: parse_date(common::AS_OF).unwrap() };
    let run = xueji::check::run::check_inputs(&[data.join("sheets")], &ingest, &check).unwrap();
    (dir, run)
}

/// `n` rows cut into parts at random places (some empty), as a cluster's partitions may be.
fn random_parts(n: usize, rng: &mut Rng) -> Vec<std::ops::Range<usize>> {
    let mut cuts: Vec<usize> = (0..rng.below(12) + 1).map(|_| rng.below(n + 1)).collect();
    cuts.extend([0, n]);
    cuts.sort_unstable();
    cuts.windows(2).map(|w| w[0]..w[1]).collect()
}

/// Every part's key rows, as `narrowing` says.
fn key_rows_in_parts(
    records: &DataFrame,
    numbers: (&[bool], &[bool]),
    settings: &BlockingSettings,
    rng: &mut Rng,
    narrowing: impl Fn() -> Narrowing<'static>,
) -> Vec<KeyRow> {
    let mut rows: Vec<KeyRow> = Vec::new();
    for part in random_parts(records.height(), rng) {
        let chunk = records.slice(part.start as i64, part.len());
        let index: Vec<u32> = part.clone().map(|i| i as u32).collect();
        let numbers = (&numbers.0[part.clone()], &numbers.1[part]);
        rows.extend(block::key_rows(&chunk, numbers, settings, &index, narrowing()).unwrap());
    }
    rows
}

/// Blocking as a cluster runs it: key rows per part (narrowed by the probes' keys, found in
/// parts first, when `narrow`), shuffled, grouped by rule, pass and key, each block paired on
/// its own, the pairs of all blocks united.
fn block_in_parts(
    records: &DataFrame,
    numbers: (&[bool], &[bool]),
    settings: &BlockingSettings,
    rng: &mut Rng,
    narrow: bool,
) -> (Vec<(u32, u32)>, Vec<u64>, Vec<RuleStats>) {
    let mut rows = if narrow {
        let probes = key_rows_in_parts(records, numbers, settings, rng, || Narrowing::Probes);
        let keys: Vec<(u8, u8, u64)> = probes.iter().map(|r| (r.rule, r.pass, r.key)).collect();
        // A filter letting through a third of the keys no probe has: they make no pair.
        let met: &'static ProbeFilter = Box::leak(Box::new(ProbeFilter::new(&keys, 0.3)));
        key_rows_in_parts(records, numbers, settings, rng, || Narrowing::MeetingProbes(met))
    } else {
        key_rows_in_parts(records, numbers, settings, rng, || Narrowing::All)
    };
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
            let outcome = block::pair_keyed_block(group, 0, settings, &mut tagged);
            stats[group[0].rule as usize].count(outcome, group.len());
        }
    }
    let (pairs, rules) = block::union(tagged, &mut stats);
    (pairs, rules, stats)
}

#[test]
fn blocking_in_random_parts_makes_the_candidates_of_one_machine() {
    let (_dir, run) = checked(4000, 23);
    let features = Features::new(&run.records).unwrap();
    let numbers = features.numbers();

    // The default rules, blocks so small that most are skipped, and each record lacking a
    // number paired with only the one most like it.
    let tiny = BlockingSettings { max_block_size: 2, ..BlockingSettings::default() };
    let nearest = BlockingSettings { nearest: 1, ..BlockingSettings::default() };
    let all = block::candidates(&run.records, numbers, &BlockingSettings::default(), 0).unwrap();
    let fewer = block::candidates(&run.records, numbers, &nearest, 0).unwrap();
    assert!(fewer.pairs.len() < all.pairs.len(), "the nearest one binds: {} of {}", fewer.pairs.len(), all.pairs.len());
    for settings in [BlockingSettings::default(), tiny, nearest] {
        let whole = block::candidates(&run.records, numbers, &settings, 0).unwrap();
        assert!(whole.pairs.len() > 100, "{} candidate pairs", whole.pairs.len());
        for seed in 0..4 {
            let mut rng = Rng::keyed(seed, 0, 0);
            let (pairs, rules, stats) = block_in_parts(&run.records, numbers, &settings, &mut rng, seed % 2 == 1);
            assert_eq!(pairs, whole.pairs, "{settings:?}, seed {seed}");
            assert_eq!(rules, whole.rules);
            assert_eq!(stats, whole.stats);
        }
        let skipped: u64 = whole.stats.iter().map(|s| s.skipped_blocks).sum();
        assert_eq!(skipped > 0, settings.max_block_size == 2, "tiny blocks are skipped, and counted");
    }
}

/// A stage through `xueji worker`'s own door: Arrow IPC bytes in and out.
fn through_worker(stage: &worker::Stage, table: &mut DataFrame, settings: &DedupeSettings) -> DataFrame {
    let mut bytes = Vec::new();
    IpcWriter::new(&mut bytes).finish(table).unwrap();
    let out = worker::run(stage, bytes, settings).unwrap();
    IpcReader::new(std::io::Cursor::new(out)).finish().unwrap()
}

#[test]
fn worker_stages_over_arrow_in_random_parts_make_the_candidates_of_one_machine() {
    let dir = tempfile::tempdir().unwrap();
    let (data, out) = (dir.path().join("g"), dir.path().join("c"));
    common::generate(&data, 3000, 29, &[]);
    // The records as a cluster reads them: records.parquet of `xueji check`.
    common::on_generated("check", &data.join("sheets"), &out, &[]);
    let mut records = common::read_parquet(&out.join("records.parquet"));
    let n = records.height();
    records.with_column(Column::new("record".into(), (0..n as i64).collect::<Vec<_>>())).unwrap();
    let features = Features::new(&records).unwrap();

    let blocking = BlockingSettings { max_block_size: 2, ..BlockingSettings::default() };
    let settings = DedupeSettings { blocking: blocking.clone(), ..DedupeSettings::default() };
    let whole = block::candidates(&records, features.numbers(), &blocking, 0).unwrap();
    // Only what blocking reads goes to the workers, as a cluster sends it; without one of those
    // columns a worker refuses, naming it.
    let sent: Vec<&str> = block::BLOCKED.iter().copied().chain(["id_valid", "record"]).collect();
    let records = records.select(sent.clone()).unwrap();
    let mut lacking = records.drop("household_address").unwrap();
    let mut bytes = Vec::new();
    IpcWriter::new(&mut bytes).finish(&mut lacking).unwrap();
    let refused = worker::run(&worker::Stage::Keys(None), bytes, &settings).unwrap_err();
    assert!(refused.to_string().contains("no column household_address"), "{refused}");
    let mut rng = Rng::keyed(5, 0, 0);
    let parts = random_parts(n, &mut rng);
    // The probes' keys of every part first, their filter the narrowing of the keys.
    let probe_keys = in_parts(&records, &parts, &worker::Stage::ProbeKeys, &settings);
    let distinct = probe_keys.unique_stable(None, UniqueKeepStrategy::First, None).unwrap();
    let keys_stage = worker::Stage::Keys(Some(worker::probe_filter(&distinct).unwrap()));
    let keys = in_parts(&records, &parts, &keys_stage, &settings);
    // The shuffle: every block to one of three partitions, by its key.
    let partition: Vec<u32> =
        keys.column("key").unwrap().i64().unwrap().into_no_null_iter().map(|k| (k as u64 % 3) as u32).collect();
    let partition = UInt32Chunked::from_vec("p".into(), partition);
    let mut tagged = Vec::new();
    let mut stats: Vec<RuleStats> =
        blocking.rules.iter().map(|r| RuleStats { rule: r.name.clone(), ..Default::default() }).collect();
    for p in 0..3 {
        let mut part = keys.filter(&partition.equal(p)).unwrap();
        let rows = through_worker(&worker::Stage::Pairs, &mut part, &settings);
        let col = |name: &str| rows.column(name).unwrap().cast(&DataType::Int64).unwrap().i64().unwrap().clone();
        let (rule, a, b, blocks) = (col("rule"), col("a"), col("b"), col("blocks"));
        let (pairs, skipped_blocks, skipped_records) = (col("pairs"), col("skipped_blocks"), col("skipped_records"));
        for i in 0..rows.height() {
            let r = rule.get(i).unwrap() as usize;
            if let (Some(a), Some(b)) = (a.get(i), b.get(i)) {
                tagged.push((block::pack(a as u32, b as u32), r as u32));
            } else if let Some(blocks) = blocks.get(i) {
                // A part's figures: a cluster sums them.
                let s = &mut stats[r];
                s.blocks += blocks as u64;
                s.pairs += pairs.get(i).unwrap() as u64;
                s.skipped_blocks += skipped_blocks.get(i).unwrap() as u64;
                s.skipped_records += skipped_records.get(i).unwrap() as u64;
            }
        }
    }
    let mut found_first = stats.clone();
    let (pairs, rules) = block::union(tagged, &mut stats);
    assert_eq!(pairs, whole.pairs);
    assert_eq!(rules, whole.rules);
    assert_eq!(stats, whole.stats);
    // How many each rule found first, counted by the worker on the united pairs in two parts.
    let united = DataFrame::new(
        rules.len(),
        vec![Column::new("rules".into(), rules.iter().map(|&m| m as i64).collect::<Vec<_>>())],
    )
    .unwrap();
    for half in [united.slice(0, rules.len() / 2), united.slice((rules.len() / 2) as i64, rules.len())] {
        let counted = through_worker(&worker::Stage::FirstRules, &mut half.clone(), &settings);
        let col = |name: &str| counted.column(name).unwrap().cast(&DataType::Int64).unwrap().i64().unwrap().clone();
        for (r, n) in col("rule").into_no_null_iter().zip(col("new_pairs").into_no_null_iter()) {
            found_first[r as usize].new_pairs += n as u64;
        }
    }
    assert_eq!(found_first, whole.stats);
    assert!(whole.stats.iter().any(|s| s.skipped_blocks > 0));
}

#[test]
fn worker_compare_in_random_parts_gives_the_levels_of_one_machine() {
    let dir = tempfile::tempdir().unwrap();
    let (data, out) = (dir.path().join("g"), dir.path().join("c"));
    common::generate(&data, 3000, 37, &[]);
    common::on_generated("check", &data.join("sheets"), &out, &[]);
    // As Spark hands them over: every text column plain text.
    let mut records = common::read_parquet(&out.join("records.parquet"));
    for name in records.get_column_names_owned() {
        if records.column(&name).unwrap().dtype().is_categorical() {
            let plain = records.column(&name).unwrap().cast(&DataType::String).unwrap();
            records.with_column(plain).unwrap();
        }
    }
    let features = Features::new(&records).unwrap();
    let settings = DedupeSettings::default();
    let whole = block::candidates(&records, features.numbers(), &settings.blocking, 0).unwrap();
    assert!(whole.pairs.len() > 100);

    // The candidate pairs joined with the records twice, as a cluster joins them.
    let side = |prefix: &str, index: Vec<u32>| {
        let taken =
            records.select(xueji::compare::COMPARED).unwrap().take(&IdxCa::from_vec("i".into(), index)).unwrap();
        let columns = taken.columns().iter().map(|c| c.clone().with_name(format!("{prefix}{}", c.name()).into()));
        columns.collect::<Vec<_>>()
    };
    let (a, b): (Vec<u32>, Vec<u32>) = whole.pairs.iter().copied().unzip();
    let mut columns = vec![
        Column::new("a".into(), a.iter().map(|&x| i64::from(x)).collect::<Vec<_>>()),
        Column::new("b".into(), b.iter().map(|&x| i64::from(x)).collect::<Vec<_>>()),
    ];
    columns.extend(side("l_", a));
    columns.extend(side("r_", b));
    let joined = DataFrame::new(whole.pairs.len(), columns).unwrap();

    let mut rng = Rng::keyed(11, 0, 0);
    let mut compared = 0;
    for part in random_parts(joined.height(), &mut rng) {
        let mut chunk = joined.slice(part.start as i64, part.len());
        let levels = through_worker(&worker::Stage::Compare, &mut chunk, &settings);
        for (k, i) in part.enumerate() {
            let (x, y) = whole.pairs[i];
            let expected = features.compare(x as usize, y as usize).indices();
            let got: Vec<u8> = xueji::compare::FIELDS
                .iter()
                .map(|f| levels.column(&format!("{f}_level")).unwrap().i32().unwrap().get(k).unwrap() as u8)
                .collect();
            assert_eq!(got, expected, "pair {x}, {y}");
            compared += 1;
        }
    }
    assert_eq!(compared, whole.pairs.len());
}

#[test]
fn a_model_fitted_from_the_counts_of_random_parts_is_the_model_of_one_machine() {
    let (_dir, run) = checked(3000, 41);
    let settings = DedupeSettings::default();
    let mut records = run.records.clone();
    let one_machine = xueji::pipeline::dedupe::dedupe_records(run, &settings, None, &[]).unwrap();

    let n = records.height();
    let features = Features::new(&records).unwrap();
    let candidates = block::candidates(&records, features.numbers(), &settings.blocking, 0).unwrap();
    let number_rules = settings.blocking.number_rules();
    let mut rng = Rng::keyed(3, 0, 0);

    // Level patterns of the candidates with how many a number rule found, as a cluster counts
    // them (a group-by of the compare stage's levels).
    let mut patterns: std::collections::BTreeMap<[u8; 8], (u32, u32)> = Default::default();
    for (k, &(a, b)) in candidates.pairs.iter().enumerate() {
        let counts = patterns.entry(features.compare(a as usize, b as usize).indices()).or_default();
        counts.0 += 1;
        counts.1 += u32::from(candidates.rules[k] & number_rules != 0);
    }
    let mut columns: Vec<Column> = xueji::compare::FIELDS
        .iter()
        .enumerate()
        .map(|(f, field)| {
            Column::new(format!("{field}_level").into(), patterns.keys().map(|p| i32::from(p[f])).collect::<Vec<_>>())
        })
        .collect();
    columns.push(Column::new("pairs".into(), patterns.values().map(|c| i64::from(c.0)).collect::<Vec<_>>()));
    columns.push(Column::new("numbered".into(), patterns.values().map(|c| i64::from(c.1)).collect::<Vec<_>>()));
    let patterns = DataFrame::new(patterns.len(), columns).unwrap();

    // Names counted per part, in random parts of records in a shuffle's order.
    records.with_column(Column::new("record".into(), (0..n as i64).collect::<Vec<_>>())).unwrap();
    let mixed = shuffled(&records, &mut rng);
    let value_counts = in_parts(&mixed, &random_parts(n, &mut rng), &worker::Stage::ValueCounts, &settings);
    // u from the sampled records alone, as a driver gathers them.
    let chosen = score::u_sample(n, settings.u_pairs, settings.seed).expect("more pairs than samples");
    let mut gathered =
        records.take(&IdxCa::from_vec("i".into(), chosen.iter().map(|&i| i as IdxSize).collect())).unwrap();
    let u_stage = worker::Stage::U { records: n };
    let u = through_worker(&u_stage, &mut gathered, &settings);

    // Numbers differing only in the region: keys from random parts, then every birth date and
    // sequence to one of three parts (a shuffle by it), each counting its own pairs.
    let keys = in_parts(&mixed, &random_parts(n, &mut rng), &worker::Stage::NumberKeys, &settings);
    let part_of = ints(&keys, "date_sequence").into_iter().map(|d| (d % 3) as u32);
    let part_of = UInt32Chunked::from_iter_values("p".into(), part_of);
    let region_only: i64 = (0..3)
        .map(|p| {
            let mut part = keys.filter(&part_of.equal(p)).unwrap();
            ints(&through_worker(&worker::Stage::RegionOnlyPairs, &mut part, &settings), "pairs")[0]
        })
        .sum();
    assert!(region_only > 0, "namesakes' numbers, a region damaged");

    let model = worker::fit(&patterns, &u, &value_counts, n, region_only as u64, &settings).unwrap();
    assert!(!model.frequencies.names.is_empty(), "names seen twice are kept");
    let json = |m: &xueji::score::Model| serde_json::to_string(m).unwrap();
    assert_eq!(json(&model), json(&one_machine.model), "model.json");
}

/// Compared pairs as the score stage takes them: `a`, `b`, each field's level, and the first
/// record's names.
fn compared(records: &DataFrame, features: &Features, pairs: &[(u32, u32)]) -> DataFrame {
    let levels: Vec<[u8; 8]> = pairs.iter().map(|&(a, b)| features.compare(a as usize, b as usize).indices()).collect();
    let first: Vec<IdxSize> = pairs.iter().map(|p| p.0 as IdxSize).collect();
    let names = records.select(["name_norm", "name_pinyin", "guardian_name"]).unwrap();
    let names = names.take(&IdxCa::from_vec("i".into(), first)).unwrap();
    let mut columns = vec![
        Column::new("a".into(), pairs.iter().map(|p| i64::from(p.0)).collect::<Vec<_>>()),
        Column::new("b".into(), pairs.iter().map(|p| i64::from(p.1)).collect::<Vec<_>>()),
    ];
    for (f, field) in xueji::compare::FIELDS.iter().enumerate() {
        let level: Vec<i32> = levels.iter().map(|l| i32::from(l[f])).collect();
        columns.push(Column::new(format!("{field}_level").into(), level));
    }
    columns.extend(names.columns().iter().map(|c| c.clone().with_name(format!("l_{}", c.name()).into())));
    DataFrame::new(pairs.len(), columns).unwrap()
}

/// A score stage row: a, b, kind, probability, cohesion, histogram bin.
type Scored = (u32, u32, Option<String>, f64, f64, usize);

/// Scored pairs as a driver hands them on: `a`, `b` and one of their figures as `name`.
fn pair_table(rows: &[&Scored], name: &str, figure: impl Fn(&Scored) -> f64) -> DataFrame {
    DataFrame::new(
        rows.len(),
        vec![
            Column::new("a".into(), rows.iter().map(|r| i64::from(r.0)).collect::<Vec<_>>()),
            Column::new("b".into(), rows.iter().map(|r| i64::from(r.1)).collect::<Vec<_>>()),
            Column::new(name.into(), rows.iter().map(|r| figure(r)).collect::<Vec<_>>()),
        ],
    )
    .unwrap()
}

/// Rows of the score stage run on `table` in random parts: (a, b, kind, probability, cohesion,
/// histogram bin).
fn score_in_parts(table: &DataFrame, stage: &worker::Stage, rng: &mut Rng) -> Vec<Scored> {
    let mut rows = Vec::new();
    for part in random_parts(table.height(), rng) {
        let mut chunk = table.slice(part.start as i64, part.len());
        let scored = through_worker(stage, &mut chunk, &DedupeSettings::default());
        let int = |name: &str| scored.column(name).unwrap().cast(&DataType::Int64).unwrap().i64().unwrap().clone();
        let float = |name: &str| scored.column(name).unwrap().f64().unwrap().clone();
        let (a, b, bin, probability, cohesion) =
            (int("a"), int("b"), int("bin"), float("probability"), float("cohesion"));
        let kind = scored.column("kind").unwrap().str().unwrap().clone();
        for k in 0..scored.height() {
            rows.push((
                a.get(k).unwrap() as u32,
                b.get(k).unwrap() as u32,
                kind.get(k).map(str::to_owned),
                probability.get(k).unwrap(),
                cohesion.get(k).unwrap(),
                bin.get(k).unwrap() as usize,
            ));
        }
    }
    rows
}

#[test]
fn worker_score_and_a_driver_clustering_give_the_pairs_and_clusters_of_one_machine() {
    let (_dir, run) = checked(3000, 43);
    let settings = DedupeSettings::default();
    let records = run.records.clone();
    let one_machine = xueji::pipeline::dedupe::dedupe_records(run, &settings, None, &[]).unwrap();
    let features = Features::new(&records).unwrap();
    let n = records.height();
    let stage = worker::Stage::Score(Box::new(one_machine.model.clone()));
    let mut rng = Rng::keyed(13, 0, 0);

    // The candidates, scored in parts: the reported pairs and the weight histogram.
    let scored = score_in_parts(&compared(&records, &features, &one_machine.candidates.pairs), &stage, &mut rng);
    let mut histogram = vec![0u64; one_machine.histogram.counts.len()];
    for row in &scored {
        histogram[row.5] += 1;
    }
    assert_eq!(histogram, one_machine.histogram.counts);
    let reported: Vec<_> = scored.iter().filter_map(|r| Some((r.0, r.1, r.2.clone()?, r.3.to_bits()))).collect();
    let expected: Vec<_> = one_machine
        .pairs
        .iter()
        .map(|p| {
            let kind = if p.kind == xueji::outcome::PairKind::Match { "match" } else { "id_conflict" };
            (p.a, p.b, kind.to_owned(), p.score.probability.to_bits())
        })
        .collect();
    assert!(expected.iter().any(|p| p.2 == "match") && expected.iter().any(|p| p.2 == "id_conflict"));
    assert_eq!(reported, expected);

    // The driver: the member pairs of the matches' components, scored in parts, then clusters.
    let matched: Vec<&Scored> = scored.iter().filter(|r| r.2.as_deref() == Some("match")).collect();
    let mut matches = pair_table(&matched, "probability", |r| r.3);
    let members = through_worker(&worker::Stage::MemberPairs { records: n }, &mut matches, &settings);
    let int = |name: &str| {
        members.column(name).unwrap().i64().unwrap().into_no_null_iter().map(|x| x as u32).collect::<Vec<_>>()
    };
    let members: Vec<(u32, u32)> = int("a").into_iter().zip(int("b")).collect();
    assert!(!members.is_empty(), "components of three or more");
    let member_rows = score_in_parts(&compared(&records, &features, &members), &stage, &mut rng);
    let mut weighed = pair_table(&member_rows.iter().collect::<Vec<_>>(), "cohesion", |r| r.4);
    let clustering = worker::cluster(&matches, &weighed, n, settings.cohesion).unwrap();
    // Without the members' cohesion a driver cannot cluster: it says so.
    weighed = weighed.head(Some(0));
    assert!(worker::cluster(&matches, &weighed, n, settings.cohesion).is_err());
    assert_eq!(clustering, one_machine.clustering);
}

/// `table`'s rows in `parts`, each through `stage` (under `settings`), the answers stacked.
fn in_parts(
    table: &DataFrame,
    parts: &[std::ops::Range<usize>],
    stage: &worker::Stage,
    settings: &DedupeSettings,
) -> DataFrame {
    let answers =
        parts.iter().map(|part| through_worker(stage, &mut table.slice(part.start as i64, part.len()), settings));
    answers.reduce(|all, answer| all.vstack(&answer).unwrap()).expect("at least one part")
}

/// `table`'s rows in random parts, each through `stage`, the answers stacked.
fn in_random_parts(table: &DataFrame, stage: &worker::Stage, rng: &mut Rng) -> DataFrame {
    in_parts(table, &random_parts(table.height(), rng), stage, &DedupeSettings::default())
}

/// `table`'s rows in a random order, as a shuffle delivers them.
fn shuffled(table: &DataFrame, rng: &mut Rng) -> DataFrame {
    let mut order: Vec<IdxSize> = (0..table.height() as IdxSize).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    table.take(&IdxCa::from_vec("".into(), order)).unwrap()
}

fn texts(table: &DataFrame, name: &str) -> Vec<Option<String>> {
    let column = table.column(name).unwrap().cast(&DataType::String).unwrap();
    column.str().unwrap().iter().map(|v| v.map(str::to_owned)).collect()
}

fn ints(table: &DataFrame, name: &str) -> Vec<i64> {
    table.column(name).unwrap().cast(&DataType::Int64).unwrap().i64().unwrap().into_no_null_iter().collect()
}

#[test]
fn check_stages_in_random_parts_find_the_problems_of_one_machine() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("g");
    common::generate(&data, 3000, 37, &["--province", "21,32", "--format", "csv"]);
    let inputs = [data.join("sheets")];
    let ingest = IngestOptions { id_column: Some("aux_no".into()), ..IngestOptions::default() };
    let check = CheckOptions { as_of: parse_date(common::AS_OF).unwrap() };
    let one = xueji::check::run::check_inputs(&inputs, &ingest, &check).unwrap();
    let expected = xueji::report::problems_frame(&one.records, &one.problems).unwrap();
    assert!(one.problems.iter().any(|p| p.code == xueji::problems::Code::IdDuplicate), "exact duplicates to find");

    let (files, _) = xueji::ingest::files_to_read(&inputs).unwrap();
    assert_eq!(files.len(), 2, "a sheet per province");
    let paths: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let listed = DataFrame::new(
        files.len(),
        vec![
            Column::new("file".into(), (0..files.len() as i32).collect::<Vec<_>>()),
            Column::new("path".into(), paths),
        ],
    )
    .unwrap();
    for seed in 0..3 {
        let mut rng = Rng::keyed(seed, 0, 7);
        let read = in_random_parts(&listed, &worker::Stage::Read(ingest.clone()), &mut rng);
        // Records are numbered file after file; the fields are those some file has.
        let (file, row, columns) = (ints(&read, "file"), ints(&read, "row"), ints(&read, "columns"));
        let mut offsets = vec![0i64; files.len() + 1];
        for &f in &file {
            offsets[f as usize + 1] += 1;
        }
        for f in 1..offsets.len() {
            offsets[f] += offsets[f - 1];
        }
        let present = columns.iter().fold(0, |all, c| all | c);
        let fields: Vec<String> = xueji::schema::FIELDS
            .iter()
            .enumerate()
            .filter(|(i, _)| present >> i & 1 == 1)
            .map(|(_, f)| f.name.to_owned())
            .collect();
        let mut numbered = read.clone();
        let record: Vec<i64> = file.iter().zip(&row).map(|(&f, &r)| offsets[f as usize] + r).collect();
        numbered.with_column(Column::new("record".into(), record)).unwrap();
        let prepare = worker::Stage::Prepare { fields, options: check };
        let prepared = in_random_parts(&shuffled(&numbered, &mut rng), &prepare, &mut rng);
        assert_eq!(prepared.height(), one.records.height());
        let by_record = prepared.sort(["record"], SortMultipleOptions::default()).unwrap();
        // Every column a record has by itself; a school's place is the whole school's, and the
        // national job writes nothing by place.
        for column in one.records.get_column_names().into_iter().filter(|c| !c.starts_with("place_")) {
            assert_eq!(texts(&by_record, column), texts(&one.records, column), "seed {seed}: {column}");
        }

        // Each number's records (or, without one, each name, sex and birth date's) in one part.
        let keys: Vec<String> = texts(&prepared, "id_norm")
            .into_iter()
            .zip(texts(&prepared, "name_norm"))
            .zip(texts(&prepared, "birth_date_norm"))
            .map(|((id, name), birth)| id.unwrap_or_else(|| format!("{name:?}|{birth:?}")))
            .collect();
        let parts = 1 + rng.below(5);
        let part_of: Vec<usize> = keys.iter().map(|k| k.bytes().map(usize::from).sum::<usize>() % parts).collect();
        let mut found: std::collections::HashMap<i64, String> = std::collections::HashMap::new();
        for part in 0..parts {
            let mask = BooleanChunked::from_iter_values("".into(), part_of.iter().map(|&p| p == part));
            let mut members = shuffled(&prepared.filter(&mask).unwrap(), &mut rng);
            let answer = through_worker(&worker::Stage::Duplicates, &mut members, &DedupeSettings::default());
            found.extend(ints(&answer, "record").into_iter().zip(texts(&answer, "duplicates").into_iter().flatten()));
        }
        let mut with = prepared.clone();
        let duplicates = ints(&prepared, "record").iter().map(|r| found.get(r).cloned()).collect::<Vec<_>>();
        with.with_column(StringChunked::from_iter_options("duplicates".into(), duplicates.into_iter()).into_column())
            .unwrap();
        let rows = in_random_parts(&shuffled(&with, &mut rng), &worker::Stage::Problems, &mut rng);
        let mut rows = rows.sort(["record", "order"], SortMultipleOptions::default()).unwrap();
        rows = rows.drop_many(["record", "order"]);
        rows.with_column(rows.column("source_row").unwrap().cast(&DataType::UInt32).unwrap()).unwrap();
        assert!(rows.equals_missing(&expected), "seed {seed}: problems differ from one machine's");
    }
}

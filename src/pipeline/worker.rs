//! The stages a cluster runs between its shuffles (`xueji worker`, called by the Spark jobs
//! under `spark/`): each takes an Arrow table and returns one, and each calls the functions
//! `xueji dedupe` runs on one machine, so that a check spread over a cluster is the same check
//! (tests/stages.rs holds them to one machine's results on random parts).
//!
//! Column types are those a Spark schema declares (`int`, `bigint`, `boolean`, `string`): a
//! key's 64 hash bits travel as a signed `bigint`.

mod check;

use std::io::Cursor;

use polars::prelude::*;

use crate::block::{self, BlockingSettings, KeyRow, Narrowing, ProbeFilter, RuleStats};
use crate::columns::{par_row_chunks, Text};
use crate::compare::{self, own_numbers, Features, Levels, COMPARED, FIELDS};
use crate::error::{Error, Result};
use crate::outcome::{weight_bin, DedupeSettings, PairKind};
use crate::pipeline::dedupe::{fit_model, judge, member_probability};
use crate::score::{self, Frequencies, Model, Terms, ValueCount};

pub use check::{duplicates, prepare, problems, read};

/// The stages that turn one table into another.
pub enum Stage {
    /// Files → their records as read ([`read`]).
    Read(crate::ingest::IngestOptions),
    /// Records as read, numbered → normalized and checked record by record ([`prepare`]), with
    /// the fields some file of the population has.
    Prepare { fields: Vec<String>, options: crate::check::CheckOptions },
    /// Prepared records of whole numbers → their exact-duplicate problems ([`duplicates`]).
    Duplicates,
    /// Prepared records with their exact-duplicate problems → problems.parquet's rows
    /// ([`problems`]).
    Problems,
    /// Records (`records.parquet` of `xueji check`, with `record`: each row's index in the whole
    /// population) → the keys of the probes of the rules that have them ([`Narrowing::Probes`]):
    /// `rule`, `pass`, `key`, whose distinct rows over the whole population narrow [`Stage::Keys`].
    ProbeKeys,
    /// Records → every rule's blocking keys ([`keys`]), narrowed to those some probe has when
    /// given the probe keys' filter ([`probe_filter`]).
    Keys(Option<ProbeFilter>),
    /// Key rows of whole blocks → their pairs, the part's figures of each rule and its largest
    /// blocks ([`pairs`]).
    Pairs,
    /// Candidate pairs with the rules that found them → how many each rule found first
    /// ([`first_rules`]).
    FirstRules,
    /// The parts' largest blocks with their first record → the largest of each rule, their keys
    /// as people read them ([`describe`]).
    Describe,
    /// Pairs with both records' compared columns → each field's level ([`compare`]).
    Compare,
    /// Pairs with their levels and the first record's names → their scores under a model
    /// ([`score`]), and what is reported.
    Score(Box<Model>),
    /// Records → how often each name, reading and guardian's name occurs among them
    /// ([`value_counts`]).
    ValueCounts,
    /// The records [`score::u_sample`] names, in its order, of a population of `records` → the
    /// level counts of the random pairs u is estimated from ([`u_counts`]).
    U { records: usize },
    /// Records (the compared columns) → each own number's `date_sequence` and `region`
    /// ([`number_keys`]).
    NumberKeys,
    /// Number keys, all of a `date_sequence` in one part → `pairs`: how many pairs of them
    /// differ only in the region (summed over the parts: what [`fit`] takes).
    RegionOnlyPairs,
    /// Matches (`a`, `b`, `probability`) among `records` records → the member pairs a driver's
    /// clustering may weigh ([`member_pairs`]).
    MemberPairs { records: usize },
}

/// Runs `stage` on an Arrow IPC file's bytes under `settings` (those of `xueji dedupe`),
/// returning the result's.
pub fn run(stage: &Stage, input: Vec<u8>, settings: &DedupeSettings) -> Result<Vec<u8>> {
    let table = read_ipc(input)?;
    let blocking = &settings.blocking;
    let mut out = match stage {
        Stage::Read(options) => read(&table, options)?,
        Stage::Prepare { fields, options } => prepare(&table, fields, options)?,
        Stage::Duplicates => duplicates(&table)?,
        Stage::Problems => problems(&table)?,
        Stage::ProbeKeys => keys(&table, blocking, Narrowing::Probes)?.select(["rule", "pass", "key"])?,
        Stage::Keys(None) => keys(&table, blocking, Narrowing::All)?,
        Stage::Keys(Some(filter)) => keys(&table, blocking, Narrowing::MeetingProbes(filter))?,
        Stage::Pairs => pairs(&table, blocking)?,
        Stage::FirstRules => first_rules(&table, blocking)?,
        Stage::Describe => describe(&table, blocking)?,
        Stage::Compare => compare(&table, blocking)?,
        Stage::Score(model) => score(&table, model, settings.threshold)?,
        Stage::ValueCounts => value_counts(&table)?,
        Stage::U { records } => u_counts(&table, *records, settings.u_pairs, settings.seed)?,
        Stage::NumberKeys => number_keys(&table)?,
        Stage::RegionOnlyPairs => region_only_pairs(&table)?,
        Stage::MemberPairs { records } => member_pairs(&table, *records)?,
    };
    for_spark(&mut out)?;
    let mut bytes = Vec::new();
    // Plain (not view) strings: what a Spark schema's `string` reads.
    IpcWriter::new(&mut bytes).with_compat_level(CompatLevel::oldest()).finish(&mut out)?;
    Ok(bytes)
}

/// Columns in types a Spark schema has: categoricals as text, unsigned and small integers as
/// the signed `int` or `bigint` that hold them.
fn for_spark(table: &mut DataFrame) -> Result<()> {
    let recast: Vec<(String, DataType)> = table
        .columns()
        .iter()
        .filter_map(|c| {
            let to = match c.dtype() {
                DataType::Categorical(..) | DataType::Enum(..) => DataType::String,
                DataType::Int8 | DataType::Int16 | DataType::UInt8 | DataType::UInt16 => DataType::Int32,
                DataType::UInt32 | DataType::UInt64 => DataType::Int64,
                _ => return None,
            };
            Some((c.name().to_string(), to))
        })
        .collect();
    for (name, to) in recast {
        let cast = table.column(&name)?.cast(&to)?;
        table.with_column(cast)?;
    }
    Ok(())
}

/// A table from an Arrow IPC file's bytes.
pub fn read_ipc(bytes: Vec<u8>) -> Result<DataFrame> {
    IpcReader::new(Cursor::new(bytes)).finish().map_err(|e| Error::Worker(format!("not an Arrow IPC file: {e}")))
}

/// Share of the keys a probe lacks that [`probe_filter`] lets through: each costs one key row
/// in the blocking shuffle, never a pair.
const FILTER_FALSE_POSITIVES: f64 = 0.01;

/// The filter of the probe keys of the whole population (rows of [`Stage::ProbeKeys`], each
/// once), as [`Stage::Keys`] narrows by it.
pub fn probe_filter(table: &DataFrame) -> Result<ProbeFilter> {
    let mut table = table.clone();
    table.rechunk_mut_par();
    let (rules, passes, keys) = (indices(&table, "rule")?, indices(&table, "pass")?, words(&table, "key")?);
    let keys: Vec<(u8, u8, u64)> = (0..table.height()).map(|i| (rules[i] as u8, passes[i] as u8, keys[i])).collect();
    Ok(ProbeFilter::new(&keys, FILTER_FALSE_POSITIVES))
}

/// A column of 64-bit words (`key`: hash bits) as Spark's signed `bigint`.
fn words(table: &DataFrame, name: &str) -> Result<Vec<u64>> {
    let words = table.column(name).map_err(|_| Error::Worker(format!("no column {name}")))?;
    let words = words.cast(&DataType::Int64)?;
    let words = words.i64()?;
    if words.null_count() > 0 {
        return Err(Error::Worker(format!("column {name} has empty values")));
    }
    Ok(words.into_no_null_iter().map(|k| k as u64).collect())
}

/// Fails, naming the first, unless `table` has every one of `names`: a column left out would
/// read as empty everywhere and change every answer silently.
fn require<S: AsRef<str>>(table: &DataFrame, names: impl IntoIterator<Item = S>) -> Result<()> {
    for name in names {
        let name = name.as_ref();
        if table.column(name).is_err() {
            return Err(Error::Worker(format!("no column {name}")));
        }
    }
    Ok(())
}

/// An integer column as `u32`s (Spark sends `int` or `bigint`).
fn indices(table: &DataFrame, name: &str) -> Result<Vec<u32>> {
    let column = table.column(name).map_err(|_| Error::Worker(format!("no column {name}")))?;
    let values = column.cast(&DataType::UInt32).map_err(|e| Error::Worker(format!("column {name}: {e}")))?;
    let values = values.u32()?;
    if values.null_count() > 0 {
        return Err(Error::Worker(format!("column {name} has empty values")));
    }
    Ok(values.into_no_null_iter().collect())
}

/// Every rule's blocking keys of a part of the records, as `narrowing` says: `rule`, `pass`,
/// `key` (the hash's bits as a signed integer), `record`, `probe` (whether the rule's pairs
/// must include it), `likeness` (for choosing a probe's nearest) and `number` (where pairs of
/// one number are left to the `id` rule).
pub fn keys(records: &DataFrame, settings: &BlockingSettings, narrowing: Narrowing) -> Result<DataFrame> {
    require(records, block::BLOCKED.iter().chain(&["id_valid", "record"]))?;
    let mut records = records.clone();
    records.rechunk_mut_par();
    let index = indices(&records, "record")?;
    let valid: Vec<bool> = records.column("id_valid")?.bool()?.iter().map(|v| v == Some(true)).collect();
    let own = own_numbers(&records, &valid)?;
    let rows = block::key_rows(&records, (&valid, &own), settings, &index, narrowing)?;
    Ok(DataFrame::new(
        rows.len(),
        vec![
            Column::new("rule".into(), rows.iter().map(|r| i32::from(r.rule)).collect::<Vec<_>>()),
            Column::new("pass".into(), rows.iter().map(|r| i32::from(r.pass)).collect::<Vec<_>>()),
            Column::new("key".into(), rows.iter().map(|r| r.key as i64).collect::<Vec<_>>()),
            Column::new("record".into(), rows.iter().map(|r| i64::from(r.record)).collect::<Vec<_>>()),
            Column::new("probe".into(), rows.iter().map(|r| r.probe).collect::<Vec<_>>()),
            Column::new("likeness".into(), rows.iter().map(|r| r.likeness as i64).collect::<Vec<_>>()),
            StringChunked::from_iter_options("number".into(), rows.iter().map(|r| r.number.as_deref())).into_column(),
        ],
    )?)
}

/// Key rows of whole blocks (all rows of a rule, pass and key in one part) → three kinds of
/// row: each candidate pair (`rule`, `a`, `b`), the part's figures of each rule (`rule`,
/// `pairs`, `blocks`, `skipped_blocks`, `skipped_records`: the sums over all parts are
/// dedupe_summary.json's, `new_pairs` aside, which [`first_rules`] counts), and the part's
/// largest blocks of each rule (`rule`, `size`, `pass`, `first`: its first record), of which
/// [`describe`] keeps the largest of all.
pub fn pairs(keys: &DataFrame, settings: &BlockingSettings) -> Result<DataFrame> {
    let mut keys = keys.clone();
    keys.rechunk_mut_par();
    let (rules, passes, records) = (indices(&keys, "rule")?, indices(&keys, "pass")?, indices(&keys, "record")?);
    let hashes = words(&keys, "key")?;
    let probes: Vec<bool> = keys.column("probe")?.bool()?.iter().map(|p| p == Some(true)).collect();
    let likeness = words(&keys, "likeness")?;
    let numbers = Text::of(&keys, "number")?;
    let mut rows: Vec<KeyRow> = (0..keys.height())
        .map(|i| {
            let (rule, pass) = (rule_of(rules[i], settings)?, pass_of(passes[i])?);
            Ok(KeyRow {
                rule,
                pass,
                key: hashes[i],
                record: records[i],
                probe: probes[i],
                likeness: likeness[i],
                number: numbers.get(i).map(str::to_owned),
            })
        })
        .collect::<Result<_>>()?;
    rows.sort_unstable();

    let mut stats: Vec<RuleStats> =
        settings.rules.iter().map(|r| RuleStats { rule: r.name.clone(), ..Default::default() }).collect();
    let mut largest: Vec<Vec<(usize, u32, usize)>> = vec![Vec::new(); settings.rules.len()];
    let (mut rule, mut a, mut b) = (Vec::new(), Vec::new(), Vec::new());
    let mut tagged = Vec::new();
    for block in rows.chunk_by(|x, y| (x.rule, x.pass, x.key) == (y.rule, y.pass, y.key)).filter(|b| b.len() > 1) {
        tagged.clear();
        let outcome = block::pair_keyed_block(block, 0, settings, &mut tagged);
        for &(pair, r) in &tagged {
            let (x, y) = block::unpack(pair);
            rule.push(r as i32);
            a.push(Some(i64::from(x)));
            b.push(Some(i64::from(y)));
        }
        let r = usize::from(block[0].rule);
        if stats[r].count(outcome, block.len()) {
            largest[r].push((block.len(), block[0].record, usize::from(block[0].pass)));
        }
    }
    // Pair rows, then each rule's figures, then its largest blocks: a column a kind of row
    // lacks is null there.
    let figures: Vec<(usize, [i64; 4])> = stats
        .iter()
        .enumerate()
        .filter(|(_, s)| s.blocks > 0 || s.pairs > 0)
        .map(|(r, s)| (r, [s.pairs, s.blocks, s.skipped_blocks, s.skipped_records].map(|n| n as i64)))
        .collect();
    let mut blocks: Vec<(usize, [i64; 3])> = Vec::new();
    for (r, largest) in largest.iter_mut().enumerate() {
        block::largest_first(largest);
        let reported = largest.iter().take(block::LARGEST_REPORTED);
        blocks.extend(reported.map(|&(size, first, pass)| (r, [size as i64, pass as i64, i64::from(first)])));
    }
    let (found, counted, listed) = (rule.len(), figures.len(), blocks.len());
    rule.extend(figures.iter().map(|f| f.0 as i32).chain(blocks.iter().map(|b| b.0 as i32)));
    let null = |n: usize| std::iter::repeat_n(None, n);
    a.extend(null(counted + listed));
    b.extend(null(counted + listed));
    let figure = |k: usize| -> Vec<Option<i64>> {
        null(found).chain(figures.iter().map(|f| Some(f.1[k]))).chain(null(listed)).collect()
    };
    let block =
        |k: usize| -> Vec<Option<i64>> { null(found + counted).chain(blocks.iter().map(|b| Some(b.1[k]))).collect() };
    Ok(DataFrame::new(
        rule.len(),
        vec![
            Column::new("rule".into(), rule),
            Column::new("a".into(), a),
            Column::new("b".into(), b),
            Column::new("pairs".into(), figure(0)),
            Column::new("blocks".into(), figure(1)),
            Column::new("skipped_blocks".into(), figure(2)),
            Column::new("skipped_records".into(), figure(3)),
            Column::new("size".into(), block(0)),
            Column::new("pass".into(), block(1)),
            Column::new("first".into(), block(2)),
        ],
    )?)
}

/// A rule's index from a Spark job's column: one of the settings' rules, or an error.
fn rule_of(rule: u32, settings: &BlockingSettings) -> Result<u8> {
    u8::try_from(rule)
        .ok()
        .filter(|&r| usize::from(r) < settings.rules.len())
        .ok_or_else(|| Error::Worker(format!("rule {rule}: the settings have {} rules", settings.rules.len())))
}

fn pass_of(pass: u32) -> Result<u8> {
    u8::try_from(pass).map_err(|_| Error::Worker(format!("pass {pass} is no pass of a rule")))
}

/// Candidate pairs (`a`, `b`, `rules`: bit i for rule i, the union of every part's) → `rule`,
/// `new_pairs`: how many of them each rule found first ([`block::first_rule`]); the sums over
/// all parts are dedupe_summary.json's `new_pairs`.
pub fn first_rules(pairs: &DataFrame, settings: &BlockingSettings) -> Result<DataFrame> {
    require(pairs, ["rules"])?;
    let masks = pairs.column("rules")?.cast(&DataType::UInt64)?;
    let mut counts = vec![0i64; settings.rules.len()];
    for mask in masks.u64()?.iter() {
        let mask = mask.filter(|&m| m != 0).ok_or_else(|| Error::Worker("a pair without rules".into()))?;
        let r = block::first_rule(mask);
        *counts
            .get_mut(r)
            .ok_or_else(|| Error::Worker(format!("rule {r}: the settings have {} rules", settings.rules.len())))? += 1;
    }
    let found: Vec<(i32, i64)> =
        counts.iter().enumerate().filter(|(_, &n)| n > 0).map(|(r, &n)| (r as i32, n)).collect();
    Ok(DataFrame::new(
        found.len(),
        vec![
            Column::new("rule".into(), found.iter().map(|f| f.0).collect::<Vec<_>>()),
            Column::new("new_pairs".into(), found.iter().map(|f| f.1).collect::<Vec<_>>()),
        ],
    )?)
}

/// The largest blocks of every part ([`pairs`]' rows of blocks: `rule`, `size`, `pass`,
/// `first`) with their first record's blocked columns → `rule` (its name), `records` and `key`
/// (readable): the largest of each rule, as dedupe_summary.json names them, in its order.
pub fn describe(blocks: &DataFrame, settings: &BlockingSettings) -> Result<DataFrame> {
    require(blocks, block::BLOCKED.iter().chain(&["id_valid", "rule", "pass", "size", "first"]))?;
    let mut blocks = blocks.clone();
    blocks.rechunk_mut_par();
    let (rules, passes, sizes, firsts) =
        (indices(&blocks, "rule")?, indices(&blocks, "pass")?, indices(&blocks, "size")?, indices(&blocks, "first")?);
    let valid: Vec<bool> = blocks.column("id_valid")?.bool()?.iter().map(|v| v == Some(true)).collect();
    let own = own_numbers(&blocks, &valid)?;
    let mut by_rule: Vec<Vec<(usize, u32, usize)>> = vec![Vec::new(); settings.rules.len()];
    let mut row_of = std::collections::HashMap::new();
    for k in 0..blocks.height() {
        let r = usize::from(rule_of(rules[k], settings)?);
        let block = (sizes[k] as usize, firsts[k], passes[k] as usize);
        by_rule[r].push(block);
        row_of.insert((r, block), k);
    }
    let mut wanted: Vec<(usize, usize, usize)> = Vec::new();
    for (r, blocks) in by_rule.iter_mut().enumerate() {
        block::largest_first(blocks);
        wanted.extend(blocks.iter().take(block::LARGEST_REPORTED).map(|b| (r, b.2, row_of[&(r, *b)])));
    }
    let keys = block::describe_blocks(&blocks, (&valid, &own), settings, &wanted)?;
    let names = wanted.iter().map(|&(r, _, _)| settings.rules[r].name.as_str());
    Ok(DataFrame::new(
        wanted.len(),
        vec![
            StringChunked::from_iter_values("rule".into(), names).into_column(),
            Column::new("records".into(), wanted.iter().map(|&(_, _, k)| i64::from(sizes[k])).collect::<Vec<_>>()),
            Column::new("key".into(), keys),
        ],
    )?)
}

/// The level of every field for each pair: `pairs` holds `a`, `b` and, for each column of
/// [`COMPARED`], the first record's as `l_<column>` and the second's as `r_<column>` (a join
/// of the candidate pairs with the records, twice). Returns `a`, `b` and `<field>_level` for
/// each of [`FIELDS`]: the level's index, as `xueji dedupe` compares the same records. Carries
/// the first record's [`SCORED`] columns on for the score stage, and, given the pair's `rules`
/// (bit i: rule i found it), whether a rule keyed on the number found it (`numbered`, as the
/// model's fit counts patterns).
pub fn compare(pairs: &DataFrame, settings: &BlockingSettings) -> Result<DataFrame> {
    let side = |prefix: &str| -> Result<DataFrame> {
        let names: Vec<String> = COMPARED.iter().map(|name| format!("{prefix}{name}")).collect();
        require(pairs, &names)?;
        let columns = COMPARED
            .iter()
            .zip(&names)
            .map(|(name, column)| pairs.column(column).map(|c| c.clone().with_name((*name).into())));
        let mut side = DataFrame::new(pairs.height(), columns.collect::<PolarsResult<Vec<_>>>()?)?;
        side.rechunk_mut_par();
        Ok(side)
    };
    let (left, right) = (side("l_")?, side("r_")?);
    let (left, right) = (Features::new(&left)?, Features::new(&right)?);
    let levels: Vec<[u8; FIELDS.len()]> = par_row_chunks(pairs.height(), |rows| {
        rows.map(|k| compare::compare(&left.side(k), &right.side(k)).indices()).collect::<Vec<_>>()
    })
    .concat();
    let mut columns = vec![pairs.column("a")?.clone(), pairs.column("b")?.clone()];
    for (f, field) in FIELDS.iter().enumerate() {
        let level: Vec<i32> = levels.iter().map(|l| i32::from(l[f])).collect();
        columns.push(Column::new(format!("{field}_level").into(), level));
    }
    columns.extend(SCORED.iter().map(|name| pairs.column(name).cloned()).collect::<PolarsResult<Vec<_>>>()?);
    if let Ok(rules) = pairs.column("rules") {
        let number_rules = settings.number_rules() as i64;
        let rules = rules.cast(&DataType::Int64)?;
        let numbered = rules.i64()?.iter().map(|r| r.is_some_and(|r| r & number_rules != 0));
        columns.push(BooleanChunked::from_iter_values("numbered".into(), numbered).into_column());
    }
    Ok(DataFrame::new(pairs.height(), columns)?)
}

/// The first record's columns a pair's score weighs beside its levels: the name frequencies of
/// model.json are of these.
pub const SCORED: [&str; 3] = ["l_name_norm", "l_name_pinyin", "l_guardian_name"];

/// The levels of pair `k` from its `<field>_level` columns, refusing a number that is no level.
fn levels_of(columns: &[Vec<u32>], k: usize) -> Result<Levels> {
    let indices: [u32; FIELDS.len()] = std::array::from_fn(|f| columns[f][k]);
    Levels::from_indices(indices).ok_or_else(|| {
        let named: Vec<String> = FIELDS.iter().zip(indices).map(|(f, l)| format!("{f}_level {l}")).collect();
        Error::Worker(format!("row {k}: {} holds a number that is no level", named.join(", ")))
    })
}

/// Scores under `model` of compared pairs: `a`, `b`, each `<field>_level` ([`compare`]) and the
/// first record's [`SCORED`] columns. Returns for each pair `a`, `b`, `weight`,
/// `probability`, each `<field>_weight` and `<field>_level`, its `bin` in dedupe_summary.json's weight histogram,
/// `kind`: `match`, `id_conflict`, or empty when not reported, as `xueji dedupe` judges it, and
/// `cohesion`: what clustering weighs two members of one component by (for the pairs of
/// [`crate::cluster::member_pairs`]).
pub fn score(pairs: &DataFrame, model: &Model, threshold: f64) -> Result<DataFrame> {
    require(pairs, SCORED)?;
    let mut pairs = pairs.clone();
    pairs.rechunk_mut_par();
    let frequencies = Frequencies::load(&model.frequencies);
    let level_columns: Vec<Vec<u32>> =
        FIELDS.iter().map(|f| indices(&pairs, &format!("{f}_level"))).collect::<Result<_>>()?;
    let (names, pinyin, guardians) =
        (Text::of(&pairs, "l_name_norm")?, Text::of(&pairs, "l_name_pinyin")?, Text::of(&pairs, "l_guardian_name")?);
    let scored: Vec<(crate::score::Score, Option<PairKind>, f64)> = par_row_chunks(pairs.height(), |rows| {
        rows.map(|k| {
            let levels = levels_of(&level_columns, k)?;
            let terms = Terms { name: names.get(k), pinyin: pinyin.get(k), guardian_name: guardians.get(k) };
            let score = model.score(&levels, &terms, &frequencies);
            Ok((score, judge(&levels, &score, threshold), member_probability(&levels, &score, model)))
        })
        .collect::<Result<Vec<_>>>()
    })
    .into_iter()
    .collect::<Result<Vec<_>>>()?
    .concat();
    let mut columns = vec![
        pairs.column("a")?.clone(),
        pairs.column("b")?.clone(),
        Column::new("weight".into(), scored.iter().map(|s| s.0.weight).collect::<Vec<_>>()),
        Column::new("probability".into(), scored.iter().map(|s| s.0.probability).collect::<Vec<_>>()),
    ];
    for (f, field) in FIELDS.iter().enumerate() {
        let weights: Vec<f64> = scored.iter().map(|s| s.0.field_weights[f]).collect();
        columns.push(Column::new(format!("{field}_weight").into(), weights));
        columns.push(Column::new(
            format!("{field}_level").into(),
            level_columns[f].iter().map(|&l| l as i32).collect::<Vec<_>>(),
        ));
    }
    columns.push(Column::new("bin".into(), scored.iter().map(|s| weight_bin(s.0.weight) as i32).collect::<Vec<_>>()));
    let kinds = scored.iter().map(|s| match s.1 {
        Some(PairKind::Match) => Some("match"),
        Some(PairKind::IdConflict) => Some("id_conflict"),
        None => None,
    });
    columns.push(StringChunked::from_iter_options("kind".into(), kinds).into_column());
    columns.push(Column::new("cohesion".into(), scored.iter().map(|s| s.2).collect::<Vec<_>>()));
    Ok(DataFrame::new(pairs.height(), columns)?)
}

/// How often each name (`kind` 0), reading (1) and guardian's name (2) occurs in a part of the
/// records (the compared columns and `record`): `kind`, `key`, `count`, `first` (the first
/// record carrying it) and its `value`. Summed over all parts by [`fit`].
pub fn value_counts(records: &DataFrame) -> Result<DataFrame> {
    require(records, ["name_norm", "name_pinyin", "guardian_name", "record"])?;
    // By record, so that each value's first row is its first record (a part arrives in a
    // shuffle's order, and the value saved is the first record's spelling).
    let mut records = records.sort(["record"], SortMultipleOptions::default())?;
    records.rechunk_mut_par();
    let index = indices(&records, "record")?;
    let rows = Frequencies::value_counts(&Features::new(&records)?, &index);
    Ok(DataFrame::new(
        rows.len(),
        vec![
            Column::new("kind".into(), rows.iter().map(|r| i32::from(r.kind)).collect::<Vec<_>>()),
            Column::new("key".into(), rows.iter().map(|r| r.key as i64).collect::<Vec<_>>()),
            Column::new("count".into(), rows.iter().map(|r| i64::from(r.count)).collect::<Vec<_>>()),
            Column::new("first".into(), rows.iter().map(|r| i64::from(r.first)).collect::<Vec<_>>()),
            StringChunked::from_iter_values("value".into(), rows.iter().map(|r| r.value.as_str())).into_column(),
        ],
    )?)
}

/// The level counts of u's random pairs ([`score::count_u`]) among `sampled`: the records
/// [`score::u_sample`] names in a population of `records`, in its order (all of them when it
/// names none). Returns `field`, `level`, `count` and `pairs` (the pairs counted, on each row).
pub fn u_counts(sampled: &DataFrame, records: usize, samples: usize, seed: u64) -> Result<DataFrame> {
    require(sampled, COMPARED)?;
    let mut sampled = sampled.clone();
    sampled.rechunk_mut_par();
    let chosen = score::u_sample(records, samples, seed);
    let all = chosen.is_none();
    let expected = chosen.map_or(records, |c| c.len());
    if sampled.height() != expected {
        return Err(Error::Worker(format!(
            "u: {} records given, the sample of a population of {records} has {expected}",
            sampled.height()
        )));
    }
    let features = Features::new(&sampled)?;
    let sides: Vec<_> = (0..features.len()).map(|i| features.side(i)).collect();
    let (counts, pairs) = score::count_u(&sides, samples, seed, all);
    let cells: Vec<(usize, usize, f64)> =
        counts.iter().enumerate().flat_map(|(f, c)| c.iter().enumerate().map(move |(l, &n)| (f, l, n))).collect();
    Ok(DataFrame::new(
        cells.len(),
        vec![
            Column::new("field".into(), cells.iter().map(|c| c.0 as i32).collect::<Vec<_>>()),
            Column::new("level".into(), cells.iter().map(|c| c.1 as i32).collect::<Vec<_>>()),
            Column::new("count".into(), cells.iter().map(|c| c.2).collect::<Vec<_>>()),
            Column::new("pairs".into(), vec![pairs as i64; cells.len()]),
        ],
    )?)
}

/// Each own number's birth date and sequence (`date_sequence`) and `region`, as
/// [`Features::number_keys`] gives them.
pub fn number_keys(records: &DataFrame) -> Result<DataFrame> {
    require(records, COMPARED)?;
    let mut records = records.clone();
    records.rechunk_mut_par();
    let keys = Features::new(&records)?.number_keys();
    Ok(DataFrame::new(
        keys.len(),
        vec![
            Column::new(
                "date_sequence".into(),
                keys.iter().map(|&k| crate::compare::key_date_sequence(k) as i64).collect::<Vec<_>>(),
            ),
            Column::new(
                "region".into(),
                keys.iter().map(|&k| crate::compare::key_region(k) as i32).collect::<Vec<_>>(),
            ),
        ],
    )?)
}

/// [`score::region_only_pairs`] of a part's number keys, as one row `pairs`.
pub fn region_only_pairs(keys: &DataFrame) -> Result<DataFrame> {
    let (dates, regions) = (words(keys, "date_sequence")?, indices(keys, "region")?);
    let keys = dates.into_iter().zip(regions).map(|(d, r)| crate::compare::number_key(d, r)).collect();
    let pairs = score::region_only_pairs(keys);
    Ok(DataFrame::new(1, vec![Column::new("pairs".into(), [pairs as i64])])?)
}

/// The model `xueji dedupe` fits, from a cluster's sums: `patterns` (each `<field>_level` with
/// `pairs`, the candidates showing it, and `numbered`, those a number rule found), `u` (rows of
/// [`u_counts`]), `value_counts` (rows of [`value_counts`] from every part), the population's
/// size and the sum of [`region_only_pairs`] over the parts.
pub fn fit(
    patterns: &DataFrame,
    u: &DataFrame,
    value_counts: &DataFrame,
    records: usize,
    region_only_pairs: u64,
    settings: &DedupeSettings,
) -> Result<Model> {
    let mut patterns = patterns.clone();
    patterns.rechunk_mut_par();
    let levels: Vec<Vec<u32>> =
        FIELDS.iter().map(|f| indices(&patterns, &format!("{f}_level"))).collect::<Result<_>>()?;
    let (all_counts, numbered_counts) = (indices(&patterns, "pairs")?, indices(&patterns, "numbered")?);
    let shown: Vec<Levels> = (0..patterns.height()).map(|k| levels_of(&levels, k)).collect::<Result<_>>()?;
    let all = score::merge_patterns(shown.iter().zip(&all_counts).map(|(l, &n)| (*l, f64::from(n))));
    let numbered = score::merge_patterns(
        shown.iter().zip(&numbered_counts).filter(|(_, &n)| n > 0).map(|(l, &n)| (*l, f64::from(n))),
    );

    let mut u = u.clone();
    u.rechunk_mut_par();
    let (fields, u_levels) = (indices(&u, "field")?, indices(&u, "level")?);
    let counts = u.column("count")?.cast(&DataType::Float64)?;
    let mut u_counts: Vec<Vec<f64>> = compare::LEVELS.iter().map(|l| vec![0.0; l.len()]).collect();
    for (k, n) in counts.f64()?.iter().enumerate() {
        let (f, l) = (fields[k] as usize, u_levels[k] as usize);
        let cell = u_counts.get_mut(f).and_then(|c| c.get_mut(l));
        *cell.ok_or_else(|| Error::Worker(format!("fit: no level {l} of field {f}")))? += n.unwrap_or(0.0);
    }
    let u_pairs = indices(&u, "pairs")?.first().copied().unwrap_or(0);

    let mut value_counts = value_counts.clone();
    value_counts.rechunk_mut_par();
    let (kinds, counts, firsts) =
        (indices(&value_counts, "kind")?, indices(&value_counts, "count")?, indices(&value_counts, "first")?);
    let (keys, values) = (words(&value_counts, "key")?, Text::of(&value_counts, "value")?);
    let rows = (0..value_counts.height())
        .map(|i| ValueCount {
            kind: kinds[i] as u8,
            key: keys[i],
            count: counts[i],
            first: firsts[i],
            value: values.get(i).unwrap_or_default().to_owned(),
        })
        .collect();
    let frequencies = Frequencies::saved_from_parts(rows, records as u64);
    Ok(fit_model(&u_counts, u64::from(u_pairs), region_only_pairs, &numbered, &all, records, settings, frequencies))
}

/// Matches as rows `a`, `b`, `probability` (the score stage's pairs of kind `match`).
fn matches(table: &DataFrame) -> Result<Vec<(u32, u32, f64)>> {
    let mut table = table.clone();
    table.rechunk_mut_par();
    let (a, b) = (indices(&table, "a")?, indices(&table, "b")?);
    let probability = table.column("probability")?.cast(&DataType::Float64)?;
    let probability = probability.f64()?;
    Ok((0..table.height()).map(|k| (a[k], b[k], probability.get(k).unwrap_or(0.0))).collect())
}

/// The pairs a driver's clustering may ask about ([`crate::cluster::member_pairs`]) of the
/// `matches` among `records` records: `a`, `b`, for the score stage to weigh.
pub fn member_pairs(matches_table: &DataFrame, records: usize) -> Result<DataFrame> {
    let pairs = crate::cluster::member_pairs(records, &matches(matches_table)?);
    Ok(DataFrame::new(
        pairs.len(),
        vec![
            Column::new("a".into(), pairs.iter().map(|p| i64::from(p.0)).collect::<Vec<_>>()),
            Column::new("b".into(), pairs.iter().map(|p| i64::from(p.1)).collect::<Vec<_>>()),
        ],
    )?)
}

/// The clusters of `matches_table` among `records` records, as `xueji dedupe` makes them:
/// `members` holds the score stage's rows (`a`, `b`, `cohesion`) for the [`member_pairs`].
pub fn cluster(
    matches_table: &DataFrame,
    members: &DataFrame,
    records: usize,
    cohesion: f64,
) -> Result<crate::cluster::Clustering> {
    let mut members = members.clone();
    members.rechunk_mut_par();
    let (a, b) = (indices(&members, "a")?, indices(&members, "b")?);
    let weights = members.column("cohesion")?.cast(&DataType::Float64)?;
    let weights = weights.f64()?;
    let known: std::collections::HashMap<(u32, u32), f64> =
        (0..members.height()).map(|k| ((a[k].min(b[k]), a[k].max(b[k])), weights.get(k).unwrap_or(0.0))).collect();
    let matches = matches(matches_table)?;
    let asked = std::cell::Cell::new(None);
    let clustering = crate::cluster::cluster(records, &matches, cohesion, |x, y| {
        known.get(&(x.min(y), x.max(y))).copied().unwrap_or_else(|| {
            asked.set(Some((x, y)));
            0.0
        })
    });
    match asked.get() {
        Some((x, y)) => {
            Err(Error::Worker(format!("cluster: no cohesion for records {x} and {y}: score the member pairs first")))
        }
        None => Ok(clustering),
    }
}

/// What a cluster's blocking found, summed at its driver: dedupe_summary.json's figures.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockingFound {
    pub candidate_pairs: usize,
    pub blocking: Vec<block::RuleStats>,
    pub largest_blocks: Vec<block::LargeBlock>,
    /// Candidate pairs in each bin of the weight histogram.
    pub histogram: Vec<u64>,
}

/// Writes `xueji dedupe`'s outputs into `out` from what a cluster found: the `reported` pairs
/// (the score stage's rows of kind `match` or `id_conflict`, with their `<field>_level`), the
/// `shown` records (those in a reported pair or a cluster, with `record`), the clustering, the
/// model and the blocking's figures, of `records` records.
pub fn write_outputs(
    out: &std::path::Path,
    reported: &DataFrame,
    shown: &DataFrame,
    clustering: &crate::cluster::Clustering,
    model: &Model,
    found: &BlockingFound,
    records: usize,
    settings: &DedupeSettings,
) -> Result<()> {
    use crate::outcome::{ScoredPair, WeightHistogram};
    use crate::pipeline::dedupe::{DedupeOutputs, DedupeSummary, Shown};
    let mut reported = reported.sort(["a", "b"], SortMultipleOptions::default())?;
    reported.rechunk_mut_par();
    let (a, b) = (indices(&reported, "a")?, indices(&reported, "b")?);
    let float = |name: &str| -> Result<Vec<f64>> {
        let column = reported.column(name).map_err(|_| Error::Worker(format!("no column {name}")))?;
        let values = column.cast(&DataType::Float64)?;
        let values = values.f64()?;
        if values.null_count() > 0 {
            return Err(Error::Worker(format!("outputs: column {name} has empty values")));
        }
        Ok(values.into_no_null_iter().collect())
    };
    let (weights, probabilities) = (float("weight")?, float("probability")?);
    let levels: Vec<Vec<u32>> =
        FIELDS.iter().map(|f| indices(&reported, &format!("{f}_level"))).collect::<Result<_>>()?;
    let field_weights: Vec<Vec<f64>> = FIELDS.iter().map(|f| float(&format!("{f}_weight"))).collect::<Result<_>>()?;
    let kinds = Text::of(&reported, "kind")?;
    let pairs = (0..reported.height())
        .map(|k| {
            let kind = match kinds.get(k) {
                Some("match") => PairKind::Match,
                Some("id_conflict") => PairKind::IdConflict,
                other => return Err(Error::Worker(format!("outputs: pair of kind {other:?}"))),
            };
            Ok(ScoredPair {
                a: a[k],
                b: b[k],
                levels: levels_of(&levels, k)?,
                score: crate::score::Score {
                    weight: weights[k],
                    probability: probabilities[k],
                    field_weights: std::array::from_fn(|f| field_weights[f][k]),
                },
                kind,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if found.histogram.len() != crate::outcome::HISTOGRAM_BINS {
        return Err(Error::Worker(format!("outputs: a histogram of {} bins", found.histogram.len())));
    }
    let histogram = WeightHistogram { low: crate::outcome::HISTOGRAM_LOW, counts: found.histogram.clone() };
    let summary = DedupeSummary::new(
        records,
        (found.candidate_pairs, &found.blocking, &found.largest_blocks),
        &pairs,
        clustering,
        &histogram,
        settings.threshold,
    );
    let outputs = DedupeOutputs { shown: Shown::gathered(shown)?, pairs: &pairs, clustering, model, summary };
    outputs.write(out)
}

/// Writes check's problems.parquet and problems.csv into `out` from the [`problems`] stage's
/// rows (in any order: they are put in check's, by `record`, then `order`).
pub fn write_problems(out: &std::path::Path, rows: &DataFrame) -> Result<()> {
    require(rows, ["record", "order", "source_row"])?;
    let mut problems = rows.sort(["record", "order"], SortMultipleOptions::default())?.drop_many(["record", "order"]);
    problems.with_column(problems.column("source_row")?.cast(&DataType::UInt32)?)?;
    crate::files::write_parquet(&out.join("problems.parquet"), &mut problems)?;
    crate::files::write_csv(&out.join("problems.csv"), &crate::report::problems_for_people(&problems)?)
}

//! Block: candidate pairs. Comparing every pair of a province (10^13 for 5M records) is out of
//! the question, so several blocking rules each pair only records that share a key, and the
//! candidate pairs are their union. A rule is a list of key parts (all must be present); the
//! `id_one_digit` part pairs ID numbers one substitution or one adjacent swap apart without
//! comparing all pairs: a number's keys are the number without each position (equal for a
//! substitution there) and without each adjacent pair followed by the pair in order (equal for a
//! swap). Rules not keyed on the number pair only records lacking a number of their own (two
//! own numbers are two people), so their blocks are found from those few records' keys, and
//! each such record is paired with the few of its block most like it, so that the pairs grow
//! with the province and not with its square. Blocks that would make more pairs than
//! `max_block_size` records are skipped and reported, never allowed to explode memory.

mod distributed;
mod keys;
mod settings;

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use polars::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use distributed::{key_rows, meeting, pair_keyed_block, KeyRow, Narrowing, ProbeFilter};
use keys::Parts;
pub use keys::BLOCKED;
pub use settings::{BlockingSettings, KeyPart, Lacking, Rule, MAX_RULES};

use crate::columns::par_row_chunks;
use crate::error::{Error, Result};

/// A block that was skipped for its size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LargeBlock {
    pub rule: String,
    pub records: usize,
    /// The key, readable: `name_pinyin=zhangwei, birth_year_month=201403`.
    pub key: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleStats {
    pub rule: String,
    /// Pairs the rule produced (before the union).
    pub pairs: u64,
    /// Pairs no earlier rule had produced.
    pub new_pairs: u64,
    pub blocks: u64,
    pub skipped_blocks: u64,
    pub skipped_records: u64,
}

pub struct Candidates {
    /// Record index pairs (a < b), sorted, without repeats.
    pub pairs: Vec<(u32, u32)>,
    /// For each pair, the rules (bit i = rule i) that produced it.
    pub rules: Vec<u64>,
    pub stats: Vec<RuleStats>,
    /// The largest blocks of each rule, skipped or not, largest first.
    pub largest: Vec<LargeBlock>,
}

/// How many of each rule's largest blocks are reported.
pub const LARGEST_REPORTED: usize = 5;

/// The readable key of each of `blocks` (rule index, pass, and the row of `records` holding the
/// block's first record), as dedupe_summary.json's largest blocks show it.
pub fn describe_blocks(
    records: &DataFrame,
    numbers: (&[bool], &[bool]),
    settings: &BlockingSettings,
    blocks: &[(usize, usize, usize)],
) -> Result<Vec<String>> {
    let parts = Parts::new(records, numbers.0, numbers.1)?;
    blocks
        .iter()
        .map(|&(rule, pass, row)| {
            let rule = settings.rules.get(rule).ok_or_else(|| Error::Internal(format!("no blocking rule {rule}")))?;
            Ok(parts.describe(rule, row, pass))
        })
        .collect()
}

/// The candidate pairs of `records` (which must hold the normalized columns and
/// `locality_county`) under `settings`. Only pairs with a record at index `first_new` or later
/// are made (0: all pairs): records before it were deduplicated already (linking an intake).
/// `numbers`: whether each record's number is valid, and of its own
/// (`compare::Features::numbers`); the rules not keyed on the number pair only records
/// lacking one.
pub fn candidates(
    records: &DataFrame,
    numbers: (&[bool], &[bool]),
    settings: &BlockingSettings,
    first_new: usize,
) -> Result<Candidates> {
    let parts = Parts::new(records, numbers.0, numbers.1)?;
    let n = records.height();
    let mut tagged: Vec<(u64, u32)> = Vec::new();
    let mut stats = Vec::new();
    let mut largest = Vec::new();
    for (r, rule) in settings.rules.iter().enumerate() {
        let mut rule_stats = RuleStats { rule: rule.name.clone(), ..Default::default() };
        let mut blocks: Vec<(usize, u32, usize)> = Vec::new();
        let same_number = same_number_skipped(rule);
        let nearest = settings.nearest_of(rule);
        let probes = parts.probes(rule);
        let is_probe = |i: u32| probes.as_ref().is_none_or(|p| p[i as usize]);
        let same_id = |x: u32, y: u32| same_number && parts.id.get(x as usize) == parts.id.get(y as usize);
        for pass in 0..rule.passes() {
            for block in blocks_of(&parts, rule, pass, probes.as_deref(), n) {
                let outcome = pair_block(
                    &block,
                    |k| is_probe(block[k]),
                    |j, k| same_id(block[j], block[k]),
                    |k| parts.likeness(block[k] as usize),
                    nearest,
                    first_new,
                    settings.max_block_size,
                    |x, y| tagged.push((pack(x, y), r as u32)),
                );
                if rule_stats.count(outcome, block.len()) {
                    blocks.push((block.len(), block[0], pass));
                }
            }
        }
        largest_first(&mut blocks);
        largest.extend(blocks.iter().take(LARGEST_REPORTED).map(|&(size, first, pass)| LargeBlock {
            rule: rule.name.clone(),
            records: size,
            key: parts.describe(rule, first as usize, pass),
        }));
        stats.push(rule_stats);
    }
    let (pairs, rules) = union(tagged, &mut stats);
    Ok(Candidates { pairs, rules, stats, largest })
}

/// Pairs of one number with itself are the `id` rule's: a one-digit rule, whose keys two equal
/// numbers share in every pass, leaves them out.
fn same_number_skipped(rule: &Rule) -> bool {
    rule.keys.contains(&KeyPart::IdOneDigit)
}

/// What became of one block of records sharing a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockOutcome {
    /// No pair to make: every member is a record the rule does not pair with another like it.
    Empty,
    /// More pairs than `max_block_size` records make: skipped, and reported.
    Skipped,
    Paired {
        pairs: u64,
    },
}

impl RuleStats {
    /// Counts a block into the rule's figures; whether it counts as a block at all.
    pub fn count(&mut self, outcome: BlockOutcome, size: usize) -> bool {
        match outcome {
            BlockOutcome::Empty => return false,
            BlockOutcome::Skipped => {
                self.skipped_blocks += 1;
                self.skipped_records += size as u64;
            }
            BlockOutcome::Paired { pairs } => self.pairs += pairs,
        }
        self.blocks += 1;
        true
    }
}

/// The pairs of one block: `block` lists its records by index in order (so the new ones come
/// last); given positions in it, `is_probe` tells the records the rule's pairs must include
/// ([`Parts::probes`]), `same_id` the pairs of one number left to the `id` rule and `likeness`
/// a record's [`Parts::likeness`]. Only pairs with a record at index `first_new` or later are
/// made. With `nearest` (a rule not keyed on the number), a probe is paired with at most that
/// many records of its block, those most like it ([`alike`]): a key whose values do not grow
/// with the province (a name and a birth month) makes blocks that do, and a probe paired with
/// all of a block would make the pairs grow with the square of the province. The one place a
/// block becomes pairs, on one machine or spread over a cluster ([`pair_keyed_block`]).
#[allow(clippy::too_many_arguments)]
pub fn pair_block(
    block: &[u32],
    is_probe: impl Fn(usize) -> bool,
    same_id: impl Fn(usize, usize) -> bool,
    likeness: impl Fn(usize) -> u64,
    nearest: Option<usize>,
    first_new: usize,
    max_block_size: usize,
    mut emit: impl FnMut(u32, u32),
) -> BlockOutcome {
    let size = block.len();
    let probes: Vec<usize> = (0..size).filter(|&k| is_probe(k)).collect();
    // Pairs with at least one probe: all pairs but those of two others.
    let others = size - probes.len();
    let possible = size * (size - 1) / 2 - others * others.saturating_sub(1) / 2;
    if possible == 0 {
        return BlockOutcome::Empty;
    }
    let capped = nearest.filter(|&k| possible > probes.len() * k);
    if possible.min(capped.map_or(possible, |k| probes.len() * k)) > max_block_size * (max_block_size - 1) / 2 {
        return BlockOutcome::Skipped;
    }
    let made = |j: usize, k: usize| block[j.max(k)] as usize >= first_new && !same_id(j, k);
    if let Some(nearest) = capped {
        // Each probe's nearest; a pair two probes both chose is made once.
        let words: Vec<u64> = (0..size).map(&likeness).collect();
        let mut chosen: Vec<(usize, usize)> = Vec::with_capacity(probes.len() * nearest);
        let mut ranked: Vec<(u32, usize)> = Vec::with_capacity(size);
        for &j in &probes {
            ranked.clear();
            ranked
                .extend((0..size).filter(|&k| k != j && made(j, k)).map(|k| (u32::MAX - alike(words[j], words[k]), k)));
            if ranked.len() > nearest {
                ranked.select_nth_unstable(nearest - 1);
                ranked.truncate(nearest);
            }
            chosen.extend(ranked.iter().map(|&(_, k)| (j.min(k), j.max(k))));
        }
        chosen.sort_unstable();
        chosen.dedup();
        for &(j, k) in &chosen {
            emit(block[j], block[k]);
        }
        return BlockOutcome::Paired { pairs: chosen.len() as u64 };
    }
    let mut pairs = 0;
    for j in 0..size {
        for k in j + 1..size {
            if (is_probe(j) || is_probe(k)) && made(j, k) {
                emit(block[j], block[k]);
                pairs += 1;
            }
        }
    }
    BlockOutcome::Paired { pairs }
}

/// How alike two records are ([`Parts::likeness`] words): how many of their values agree, a
/// missing value (a zero byte) agreeing with none.
pub fn alike(a: u64, b: u64) -> u32 {
    (0..8)
        .filter(|byte| {
            let (x, y) = ((a >> (8 * byte)) & 0xff, (b >> (8 * byte)) & 0xff);
            x != 0 && x == y
        })
        .count() as u32
}

/// The candidate pairs from every rule's `(pair, rule)` tags ([`pack`]ed, in any order): each
/// pair once, sorted, with the rules that made it as bits; counts each rule's new pairs (those
/// no earlier rule made) into `stats`.
pub fn union(mut tagged: Vec<(u64, u32)>, stats: &mut [RuleStats]) -> (Vec<(u32, u32)>, Vec<u64>) {
    tagged.par_sort_unstable();
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    let mut rules: Vec<u64> = Vec::new();
    for (pair, rule) in tagged {
        let pair = unpack(pair);
        if pairs.last() == Some(&pair) {
            *rules.last_mut().unwrap() |= 1u64 << rule;
        } else {
            pairs.push(pair);
            rules.push(1u64 << rule);
        }
    }
    for &mask in &rules {
        stats[first_rule(mask)].new_pairs += 1;
    }
    (pairs, rules)
}

/// The rule a pair counts as new for (`new_pairs`): the first of those that found it (bit i of
/// `mask`: rule i).
pub fn first_rule(mask: u64) -> usize {
    mask.trailing_zeros() as usize
}

/// Blocks `(size, first record, pass)` in the order dedupe_summary.json lists a rule's largest:
/// largest first; of equal size, the block of the smaller first record, then the earlier pass.
pub fn largest_first(blocks: &mut [(usize, u32, usize)]) {
    blocks.sort_unstable_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
}

/// A hasher for keys that are hashes already: it passes them through.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = bytes.iter().fold(self.0, |h, &b| h.rotate_left(8) ^ u64::from(b));
    }

    fn write_u64(&mut self, key: u64) {
        self.0 = key;
    }
}

/// The blocks of one pass of a rule (two records or more, each block's record indices in
/// order), in a fixed order. Without probes every record's key is sorted; with probes, only
/// blocks holding a probe can make a pair, so the probes' keys (a few percent of the records)
/// are looked up for every other record instead: no sort of a province's keys per pass.
fn blocks_of(parts: &Parts, rule: &Rule, pass: usize, probes: Option<&[bool]>, n: usize) -> Vec<Vec<u32>> {
    let keys_where = |wanted: &(dyn Fn(usize, u64) -> bool + Sync)| -> Vec<(u64, u32)> {
        par_row_chunks(n, |rows| {
            let mut keys = Vec::new();
            for i in rows {
                parts.keys(rule, i, pass, &mut |k| {
                    if wanted(i, k) {
                        keys.push((k, i as u32));
                    }
                });
            }
            keys
        })
        .into_iter()
        .flatten()
        .collect()
    };
    let mut keys = match probes {
        None => keys_where(&|_, _| true),
        Some(probes) => {
            let mut keys = keys_where(&|i, _| probes[i]);
            let probed: HashSet<u64, BuildHasherDefault<Prehashed>> = keys.iter().map(|k| k.0).collect();
            keys.extend(keys_where(&|i, k| !probes[i] && probed.contains(&k)));
            keys
        }
    };
    keys.par_sort_unstable();
    // A number with two equal neighbours gives one deletion key twice.
    keys.dedup();
    keys.chunk_by(|a, b| a.0 == b.0)
        .filter(|block| block.len() > 1)
        .map(|block| block.iter().map(|k| k.1).collect())
        .collect()
}

/// A pair as one sortable word, the smaller index first.
pub fn pack(a: u32, b: u32) -> u64 {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    (u64::from(lo) << 32) | u64::from(hi)
}

/// The pair [`pack`] made.
pub fn unpack(pair: u64) -> (u32, u32) {
    ((pair >> 32) as u32, pair as u32)
}

#[cfg(test)]
mod tests {
    use super::keys::one_slip_keys;
    use super::*;
    use crate::normalize::date::Date;

    #[test]
    fn a_registry_keeps_the_records_meeting_the_intake_under_the_rules_given() {
        let intake = records(&[("44011320141005001X", "张伟", "zhang wei", 1, "13800000000")]);
        let registry = records(&[
            ("44011320141005007X", "张卫", "zhang wei", 5000, ""),
            // The same letters typed without spaces, the same birth month.
            ("", "张伟", "zhangwei", 2, ""),
            ("", "李娜", "li na", 9000, ""),
            ("", "王芳", "wang fang", 9000, "13800000000"),
        ]);
        let met = |settings: &BlockingSettings| meets(&intake, &registry, settings);
        assert_eq!(met(&BlockingSettings::default()), [true, true, false, true], "one-digit number, pinyin, phone");
        let numbers_only = BlockingSettings {
            rules: vec![Rule { name: "id1".into(), keys: vec![KeyPart::IdOneDigit], lacking: None }],
            max_block_size: 10,
            ..BlockingSettings::default()
        };
        assert_eq!(met(&numbers_only), [true, false, false, false], "the rules given, not a fixed list");
    }

    /// A rare last character typed as itself, as its substitute or as a private code: the name
    /// less its last character, with the birth date, meets the others (`stem_birth`).
    #[test]
    fn a_rare_last_character_meets_its_substitute_and_its_code() {
        let intake = records(&[("", "何俊𠮷", "he jun ji", 100, "")]);
        let registry = records(&[
            ("", "何俊吉", "he jun ji", 100, ""),
            ("", "何俊〓", "he jun", 100, ""),
            ("", "何俊", "he jun", 100, ""),
            ("", "何俊吉", "he jun ji", 101, ""),
            ("", "何军吉", "he jun ji", 100, ""),
        ]);
        let stem = BlockingSettings {
            rules: vec![Rule { name: "stem".into(), keys: vec![KeyPart::NameStem, KeyPart::BirthDate], lacking: None }],
            ..BlockingSettings::default()
        };
        let met = meets(&intake, &registry, &stem);
        assert_eq!(met, [true, true, false, false, true], "a two-character name has no stem; another birthday");
    }

    /// Which `registry` records meet some `intake` record under `settings` ([`meeting`] with the
    /// intake's keys as the probe filter).
    fn meets(intake: &DataFrame, registry: &DataFrame, settings: &BlockingSettings) -> Vec<bool> {
        let index: Vec<u32> = (0..intake.height() as u32).collect();
        let keys: Vec<(u8, u8, u64)> = key_rows(intake, none(intake), settings, &index, Narrowing::All)
            .unwrap()
            .into_iter()
            .map(|r| (r.rule, r.pass, r.key))
            .collect();
        meeting(registry, none(registry), settings, &ProbeFilter::new(&keys, 1e-9)).unwrap()
    }

    #[test]
    fn a_probe_filter_holds_its_keys_and_few_others() {
        let mut rng = crate::rng::Rng::keyed(5, 0, 0);
        let keys: Vec<(u8, u8, u64)> = (0..20_000).map(|i| ((i % 14) as u8, (i % 2) as u8, rng.next_u64())).collect();
        let filter = ProbeFilter::new(&keys, 0.01);
        assert!(keys.iter().all(|&(r, p, k)| filter.contains(r, p, k)), "never misses a key it holds");
        let others = (0..100_000).filter(|_| filter.contains(3, 0, rng.next_u64())).count();
        assert!((500..1_500).contains(&others), "{others} of 100,000 other keys pass (1 % asked)");
        let (rule, pass, key) = keys[0];
        let moved = (0..14u8).filter(|&r| r != rule && filter.contains(r, pass, key)).count();
        assert!(moved <= 1, "a key of one rule is not every rule's: {moved}");
        assert_eq!(ProbeFilter::from_bytes(&filter.to_bytes()), Some(filter));
        assert_eq!(ProbeFilter::from_bytes(b"\x05\x00\x00\x00abc"), None, "a cut file is refused");
        assert_eq!(ProbeFilter::from_bytes(&[0; 12]), None, "no hashes");
    }

    /// No record with a valid number: every rule pairs every record.
    fn none(df: &DataFrame) -> (&'static [bool], &'static [bool]) {
        let none: &'static [bool] = Box::leak(vec![false; df.height()].into_boxed_slice());
        (none, none)
    }

    fn records(rows: &[(&str, &str, &str, i32, &str)]) -> DataFrame {
        let col = |name: &str, values: Vec<Option<&str>>| {
            StringChunked::from_iter_options(name.into(), values.into_iter()).into_column()
        };
        let ids: Vec<Option<&str>> = rows.iter().map(|r| Some(r.0).filter(|s| !s.is_empty())).collect();
        let names: Vec<Option<&str>> = rows.iter().map(|r| Some(r.1)).collect();
        let pinyins: Vec<Option<&str>> = rows.iter().map(|r| Some(r.2)).collect();
        let phones: Vec<Option<&str>> = rows.iter().map(|r| Some(r.4).filter(|s| !s.is_empty())).collect();
        let births = Int32Chunked::from_iter_values("birth_date_norm".into(), rows.iter().map(|r| r.3))
            .into_date()
            .into_column();
        DataFrame::new(
            rows.len(),
            vec![
                col("id_norm", ids),
                col("name_norm", names),
                col("name_pinyin", pinyins),
                births,
                col("guardian_phone_norm", phones),
                col("sex_norm", vec![Some("1"); rows.len()]),
                col("locality_city", vec![None; rows.len()]),
                col("locality_county", vec![None; rows.len()]),
                col("school_code_norm", vec![None; rows.len()]),
            ],
        )
        .unwrap()
    }

    #[test]
    fn one_slip_keys_meet_every_slip_and_nothing_further() {
        let keys = |id: &[u8]| {
            let mut out = HashSet::new();
            one_slip_keys(id, 7, &mut |k| {
                out.insert(k);
            });
            out
        };
        let id = b"44011320141005001X";
        let original = keys(id);
        for k in 0..18 {
            for c in *b"0123456789X" {
                let mut typo = *id;
                typo[k] = c;
                assert!(!original.is_disjoint(&keys(&typo)), "{}", String::from_utf8_lossy(&typo));
            }
            if k < 17 {
                let mut swapped = *id;
                swapped.swap(k, k + 1);
                assert!(!original.is_disjoint(&keys(&swapped)), "{}", String::from_utf8_lossy(&swapped));
            }
        }
        assert!(original.is_disjoint(&keys(b"44011320141005023X")), "two substitutions side by side");
        assert!(original.is_disjoint(&keys(b"54011320141005001Y")), "two substitutions far apart");
        let mut other_base = HashSet::new();
        one_slip_keys(id, 8, &mut |k| {
            other_base.insert(k);
        });
        assert!(original.is_disjoint(&other_base), "the rule's other parts are in every key");
    }

    #[test]
    fn deletion_neighbourhood_pairs_one_digit_and_swaps_only() {
        let df = records(&[
            ("44011320141005001X", "张伟", "zhang wei", 1, ""),
            ("44011320141005007X", "张伟", "zhang wei", 2, ""),
            ("44011320141050001X", "李娜", "li na", 3, ""),
            ("440113201410050038", "王芳", "wang fang", 4, ""),
        ]);
        let settings = BlockingSettings {
            rules: vec![Rule { name: "id1".into(), keys: vec![KeyPart::IdOneDigit], lacking: None }],
            max_block_size: 10,
            ..BlockingSettings::default()
        };
        let c = candidates(&df, none(&df), &settings, 0).unwrap();
        assert_eq!(c.pairs, vec![(0, 1), (0, 2)], "a substitution and a swap, not the twin's number two apart");
    }

    #[test]
    fn rules_union_without_repeats_and_cap_large_blocks() {
        let df = records(&[
            ("A1", "张伟", "zhang wei", 10, "138"),
            ("A1", "张伟", "zhang wei", 10, "138"),
            ("B2", "张伟", "zhang wei", 10, "139"),
            ("C3", "李娜", "li na", 11, "138"),
        ]);
        let settings = BlockingSettings {
            rules: vec![
                Rule { name: "id".into(), keys: vec![KeyPart::Id], lacking: None },
                Rule { name: "phone".into(), keys: vec![KeyPart::GuardianPhone], lacking: None },
                Rule {
                    name: "pinyin_birth".into(),
                    keys: vec![KeyPart::NamePinyin, KeyPart::BirthDate],
                    lacking: None,
                },
            ],
            max_block_size: 2,
            ..BlockingSettings::default()
        };
        let c = candidates(&df, none(&df), &settings, 0).unwrap();
        assert_eq!(c.pairs, vec![(0, 1)]);
        assert_eq!(c.rules, vec![0b001]);
        assert_eq!((c.stats[1].skipped_blocks, c.stats[1].skipped_records), (1, 3), "phone 138: three records");
        assert_eq!((c.stats[2].skipped_blocks, c.stats[2].skipped_records), (1, 3));
        assert_eq!(c.largest[0].records, 2);
        assert!(c.largest.iter().any(|b| b.key == "guardian_phone=138" && b.records == 3), "{:?}", c.largest);
        let wide = BlockingSettings { max_block_size: 10, ..settings };
        let c = candidates(&df, none(&df), &wide, 0).unwrap();
        assert_eq!(c.pairs, vec![(0, 1), (0, 2), (0, 3), (1, 2), (1, 3)]);
        assert_eq!(c.rules[0], 0b111, "(0,1) shares all three keys");
        assert_eq!(c.stats.iter().map(|s| s.new_pairs).sum::<u64>(), 5);
        let linked = candidates(&df, none(&df), &wide, 3).unwrap();
        assert_eq!(linked.pairs, vec![(0, 3), (1, 3)], "only pairs with record 3, the new one");
    }

    #[test]
    fn spreadsheet_damage_meets_its_number_and_nothing_else() {
        // 211221200903152514 and its neighbour …152414 share their first 15 digits; a spreadsheet
        // keeps 211221200903153 of the first (rounded) and 211221200903152 of the second.
        let df = records(&[
            ("211221200903152514", "王欣怡", "wang xin yi", 1, ""),
            ("211221200903152414", "李娜", "li na", 2, ""),
            ("211221200903153000", "王欣怡", "wang xin yi", 3, ""),
            ("2.11221200903152E+17", "李娜", "li na", 4, ""),
            ("211221200903152000", "赵六", "zhao liu", 5, ""),
        ]);
        let settings = BlockingSettings {
            rules: vec![Rule { name: "sheet".into(), keys: vec![KeyPart::IdSpreadsheet], lacking: None }],
            max_block_size: 10,
            ..BlockingSettings::default()
        };
        let c = candidates(&df, none(&df), &settings, 0).unwrap();
        assert_eq!(
            c.pairs,
            vec![(0, 2), (0, 3), (0, 4), (1, 3), (1, 4), (3, 4)],
            "rounded and cut; never the two intact numbers with each other"
        );
    }

    #[test]
    fn pinyin_keys_are_letters_only() {
        let df = records(&[
            ("", "王欣怡", "wang xin yi", 1, ""),
            ("", "WANGXINYI", "wangxinyi", 1, ""),
            ("", "王欣怡2", "wang xin yi 2", 1, ""),
            ("", "王新", "wang xin", 1, ""),
        ]);
        let settings = BlockingSettings {
            rules: vec![Rule {
                name: "p".into(),
                keys: vec![KeyPart::NamePinyin, KeyPart::BirthYearMonth],
                lacking: None,
            }],
            max_block_size: 10,
            ..BlockingSettings::default()
        };
        let c = candidates(&df, none(&df), &settings, 0).unwrap();
        assert_eq!(c.pairs, vec![(0, 1), (0, 2), (1, 2)]);
        assert!(c.largest[0].key.starts_with("name_pinyin=wangxinyi, birth_year_month=1970"), "{:?}", c.largest);
    }

    #[test]
    fn name_rules_pair_only_records_lacking_a_number_of_their_own() {
        // Twins: same name reading, same month, two valid numbers of their own; a third record
        // of the same reading without a number; a fourth whose valid number is decades older
        // than its birth date (a guardian's).
        let (twin_a, twin_b) = ("44011320141005001X", "440113201410050036");
        let mut df = records(&[
            (twin_a, "张子涵", "zhang zi han", 16348, ""),
            (twin_b, "张梓涵", "zhang zi han", 16348, ""),
            ("", "张子涵", "zhang zi han", 16349, ""),
            ("44011319750305001X", "张紫涵", "zhang zi han", 16350, ""),
        ]);
        let as_of = Date::new(2026, 11, 29).unwrap();
        let valid: Vec<bool> = [twin_a, twin_b, "", "44011319750305001X"]
            .iter()
            .map(|id| crate::normalize::id_number::is_valid(id, as_of))
            .collect();
        assert_eq!(valid, [true, true, false, true]);
        df.with_column(BooleanChunked::from_slice("id_valid".into(), &valid).into_column()).unwrap();
        let own = crate::compare::own_numbers(&df, &valid).unwrap();
        let settings = BlockingSettings {
            rules: vec![Rule {
                name: "p".into(),
                keys: vec![KeyPart::NamePinyin, KeyPart::BirthYearMonth],
                lacking: None,
            }],
            max_block_size: 10,
            ..BlockingSettings::default()
        };
        let c = candidates(&df, (&valid, &own), &settings, 0).unwrap();
        assert_eq!(c.pairs, vec![(0, 2), (0, 3), (1, 2), (1, 3), (2, 3)], "never the twins with each other");
    }

    #[test]
    fn a_probe_in_a_large_block_is_paired_with_the_records_most_like_it() {
        // Record 0 lacks a number; of thirty strangers, 17 agrees with it on four values and
        // 23 on two, and a zero byte (a missing value) agrees with nothing.
        let mut words = vec![0x0202_0202_0202_0202u64; 31];
        words[0] = 0x0101_0101_0101_0100;
        words[17] = 0x0101_0101_0202_0202;
        words[23] = 0x0202_0202_0202_0100;
        let block: Vec<u32> = (0..31).collect();
        let pairs = |nearest: Option<usize>| {
            let mut pairs = Vec::new();
            let outcome =
                pair_block(&block, |k| k == 0, |_, _| false, |k| words[k], nearest, 0, 500, |a, b| pairs.push((a, b)));
            assert_eq!(outcome, BlockOutcome::Paired { pairs: pairs.len() as u64 });
            pairs
        };
        assert_eq!(pairs(Some(2)), [(0, 17), (0, 23)]);
        assert_eq!(pairs(None).len(), 30, "a rule keyed on the number makes every pair");
        assert_eq!(pairs(Some(30)).len(), 30, "a block no larger than the nearest is paired whole");
        assert_eq!(alike(words[0], words[0]), 7, "the missing value agrees with nothing, not even itself");
    }

    #[test]
    fn a_rule_for_a_missing_field_pairs_records_lacking_it_and_a_number() {
        let (a, b) = ("44011320141005001X", "440113201410050036");
        let mut df = records(&[
            (a, "张伟", "zhang wei", 16348, ""),
            ("", "张伟", "zhang wei", 16348, ""),
            ("", "", "", 16348, ""),
            (b, "", "", 16348, ""),
            ("", "李娜", "li na", 16348, ""),
        ]);
        let blank = |name: &str, values: &[&str]| {
            StringChunked::from_iter_options(name.into(), values.iter().map(|v| Some(*v).filter(|v| !v.is_empty())))
                .into_column()
        };
        df.with_column(blank("name_norm", &["张伟", "张伟", "", "", "李娜"])).unwrap();
        df.with_column(blank("household_address", &["广东省广州市番禺区"; 5])).unwrap();
        let numbered = [true, false, false, true, false];
        let settings = BlockingSettings { rules: BlockingSettings::default().rules, ..BlockingSettings::default() };
        let nameless = settings.rules.iter().find(|r| r.name == "household_birth_sex").unwrap().clone();
        assert_eq!(nameless.lacking, Some(Lacking::Name));
        let only = BlockingSettings { rules: vec![nameless], ..settings };
        let c = candidates(&df, (&numbered, &numbered), &only, 0).unwrap();
        assert_eq!(c.pairs, vec![(0, 2), (1, 2), (2, 3), (2, 4)], "the record with neither name nor number, with each");
        let on_number = Rule { name: "x".into(), keys: vec![KeyPart::Id], lacking: Some(Lacking::Name) };
        assert!(BlockingSettings { rules: vec![on_number], ..BlockingSettings::default() }.validate().is_err());
    }

    #[test]
    fn a_birth_date_left_blank_is_read_from_the_number() {
        let a = "44011320141005001X";
        let mut df = records(&[(a, "张子涵", "zhang zi han", 0, ""), ("", "张子涵", "zhang zi han", 16364, "")]);
        let births = Int32Chunked::from_iter_options("birth_date_norm".into(), [None, Some(16364)].into_iter());
        df.with_column(births.into_date().into_column()).unwrap();
        let numbered = [true, false];
        let settings = BlockingSettings {
            rules: vec![Rule {
                name: "p".into(),
                keys: vec![KeyPart::NamePinyin, KeyPart::BirthYearMonth],
                lacking: None,
            }],
            ..BlockingSettings::default()
        };
        let c = candidates(&df, (&numbered, &numbered), &settings, 0).unwrap();
        assert_eq!(c.pairs, vec![(0, 1)], "2014-10 from the number, 2014-10-21 as typed");
        assert!(c.largest[0].key.ends_with("birth_year_month=201410"), "{:?}", c.largest);
    }

    #[test]
    fn keyed_blocks_leave_one_number_to_the_id_rule_as_the_whole_run_does() {
        // Two registrations with one mistyped number, and the number it should be.
        let df = records(&[
            ("110101201001010013", "李娜", "li na", 14610, ""),
            ("110101201001010013", "李娜", "li na", 14610, ""),
            ("110101201001010012", "李娜", "li na", 14610, ""),
        ]);
        let (valid, own) = none(&df);
        let settings = BlockingSettings {
            rules: vec![
                Rule { name: "id".into(), keys: vec![KeyPart::Id], lacking: None },
                Rule { name: "one".into(), keys: vec![KeyPart::IdOneDigit], lacking: None },
            ],
            max_block_size: 10,
            ..BlockingSettings::default()
        };
        let whole = candidates(&df, (valid, own), &settings, 0).unwrap();
        assert_eq!(whole.pairs, vec![(0, 1), (0, 2), (1, 2)]);
        assert_eq!(whole.rules, vec![0b01, 0b10, 0b10], "the equal numbers are the id rule's alone");

        let mut rows = key_rows(&df, (valid, own), &settings, &[0, 1, 2], Narrowing::All).unwrap();
        rows.sort();
        let mut tagged = Vec::new();
        let mut stats: Vec<RuleStats> =
            settings.rules.iter().map(|r| RuleStats { rule: r.name.clone(), ..Default::default() }).collect();
        for block in rows.chunk_by(|a, b| (a.rule, a.pass, a.key) == (b.rule, b.pass, b.key)).filter(|b| b.len() > 1) {
            let outcome = pair_keyed_block(block, 0, &settings, &mut tagged);
            stats[block[0].rule as usize].count(outcome, block.len());
        }
        assert_eq!(union(tagged, &mut stats), (whole.pairs, whole.rules));
        assert_eq!(stats, whole.stats);
    }

    #[test]
    fn settings_are_validated() {
        assert_eq!(BlockingSettings::default().validate(), Ok(()));
        let rule = |n: usize| Rule { name: format!("r{n}"), keys: vec![KeyPart::Id], lacking: None };
        let many =
            BlockingSettings { rules: (0..65).map(rule).collect(), max_block_size: 10, ..BlockingSettings::default() };
        assert!(many.validate().unwrap_err().contains("at most 64"));
        let empty_rule = BlockingSettings {
            rules: vec![Rule { name: "x".into(), keys: vec![], lacking: None }],
            max_block_size: 10,
            ..BlockingSettings::default()
        };
        assert!(empty_rule.validate().unwrap_err().contains("no keys"));
        let twice =
            BlockingSettings { rules: vec![rule(1), rule(1)], max_block_size: 10, ..BlockingSettings::default() };
        assert!(twice.validate().is_err());
        let tiny = BlockingSettings { rules: vec![rule(1)], max_block_size: 1, ..BlockingSettings::default() };
        assert!(tiny.validate().is_err());
    }

    #[test]
    fn default_rules_parse_from_json() {
        let json = serde_json::to_string(&BlockingSettings::default()).unwrap();
        assert!(json.contains("\"id_one_digit\""), "{json}");
        let back: BlockingSettings = serde_json::from_str(&json).unwrap();
        assert_eq!(back, BlockingSettings::default());
        let custom: BlockingSettings =
            serde_json::from_str(r#"{"rules": [{"name": "x", "keys": ["name", "birth_date"]}]}"#).unwrap();
        assert_eq!(custom.max_block_size, 500);
        assert!(serde_json::from_str::<BlockingSettings>(r#"{"rules": [{"name": "x", "keys": ["nmae"]}]}"#).is_err());
    }
}

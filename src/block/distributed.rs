//! Blocking spread over a cluster, and across two populations: every record's keys as rows a
//! cluster shuffles on ([`key_rows`]), a block of them made into pairs ([`pair_keyed_block`]),
//! the Bloom filter of one population's keys ([`ProbeFilter`]) and the records of another that
//! meet them ([`meeting`]).

use polars::prelude::*;

use super::keys::Parts;
use super::{pack, pair_block, same_number_skipped, BlockOutcome, BlockingSettings};
use crate::columns::par_row_chunks;
use crate::error::Result;
use crate::rng::splitmix64;

/// One record's key under one pass of a rule: what a cluster shuffles records on, so that each
/// block meets on one machine. `number` is the record's ID number where the rule leaves pairs of
/// one number to the `id` rule ([`same_number_skipped`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeyRow {
    pub rule: u8,
    pub pass: u8,
    pub key: u64,
    /// The record's index in the whole population.
    pub record: u32,
    /// Whether the rule's pairs must include this record ([`Parts::probes`]).
    pub probe: bool,
    /// How the record reads for choosing a probe's nearest ([`Parts::likeness`]).
    pub likeness: u64,
    pub number: Option<String>,
}

/// Which key rows [`key_rows`] makes. A rule with probes ([`Parts::probes`]) pairs only blocks
/// holding a probe, so the keys of its other records are needed only where a probe has the
/// same: found first from the probes' keys alone, this spares a cluster shuffling every
/// record's keys (36 a number for the one-digit rule).
pub enum Narrowing<'a> {
    /// Every key of every record.
    All,
    /// Only the probes' keys of the rules with probes.
    Probes,
    /// Every key of the rules without probes; of the others, the probes' and those the probes
    /// have (`(rule, pass, key)`, from [`Narrowing::Probes`] over the whole population, in a
    /// [`ProbeFilter`]).
    MeetingProbes(&'a ProbeFilter),
}

/// The probes' keys `(rule, pass, key)` of a whole population as a Bloom filter: what every
/// part of a cluster narrows its keys by ([`Narrowing::MeetingProbes`]), in bits instead of a
/// set (≈105M keys at 250M records: ≈130 MB at 1 % false positives, against gigabytes as a
/// hash set in every process). It never misses a key it holds. A key it wrongly says it holds
/// adds a row to a block that no probe has, which makes no pair and is no block
/// ([`pair_block`] gives [`BlockOutcome::Empty`]): the candidates are the same.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeFilter {
    bits: Vec<u64>,
    hashes: u32,
}

impl ProbeFilter {
    /// A filter of `keys` answering yes for about `false_positives` of the keys it lacks.
    pub fn new(keys: &[(u8, u8, u64)], false_positives: f64) -> ProbeFilter {
        let n = keys.len().max(1) as f64;
        let ln2 = std::f64::consts::LN_2;
        let bits = (-n * false_positives.clamp(1e-9, 0.5).ln() / (ln2 * ln2)).ceil().max(64.0);
        let words = (bits / 64.0).ceil() as usize;
        let hashes = ((words * 64) as f64 / n * ln2).round().clamp(1.0, 30.0) as u32;
        let mut filter = ProbeFilter { bits: vec![0; words], hashes };
        for &(rule, pass, key) in keys {
            for bit in positions(words, hashes, rule, pass, key) {
                filter.bits[bit / 64] |= 1 << (bit % 64);
            }
        }
        filter
    }

    pub fn contains(&self, rule: u8, pass: u8, key: u64) -> bool {
        positions(self.bits.len(), self.hashes, rule, pass, key).all(|bit| self.bits[bit / 64] & (1 << (bit % 64)) != 0)
    }

    /// The filter as bytes: the number of hashes, then the bit words (little-endian).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(4 + self.bits.len() * 8);
        bytes.extend_from_slice(&self.hashes.to_le_bytes());
        for word in &self.bits {
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        bytes
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<ProbeFilter> {
        let (hashes, words) = bytes.split_first_chunk::<4>()?;
        if words.is_empty() || words.len() % 8 != 0 {
            return None;
        }
        let bits = words.chunks_exact(8).map(|w| u64::from_le_bytes(w.try_into().unwrap_or_default())).collect();
        Some(ProbeFilter { bits, hashes: u32::from_le_bytes(*hashes) }).filter(|f| (1..=30).contains(&f.hashes))
    }
}

/// The bits of a key in a [`ProbeFilter`] of `words` words: double hashing of two mixes of it
/// (the key is already a hash; the rule and pass move it so that equal keys of two rules differ).
fn positions(words: usize, hashes: u32, rule: u8, pass: u8, key: u64) -> impl Iterator<Item = usize> {
    let mixed = key ^ (u64::from(rule) << 56 | u64::from(pass) << 48).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let h1 = splitmix64(mixed);
    let h2 = splitmix64(h1) | 1;
    let m = (words * 64) as u64;
    (0..u64::from(hashes)).map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) % m) as usize)
}

/// Every rule's keys of `records`, a part of the population whose row i is record `index[i]`
/// of the whole (`numbers` as for [`candidates`]). Grouped by rule, pass and key and each group
/// ordered by record, the rows of all parts are the blocks [`candidates`] pairs, whatever the
/// parts, with [`Narrowing::All`] or [`Narrowing::MeetingProbes`]: [`pair_keyed_block`] makes
/// their pairs.
pub fn key_rows(
    records: &DataFrame,
    numbers: (&[bool], &[bool]),
    settings: &BlockingSettings,
    index: &[u32],
    narrowing: Narrowing,
) -> Result<Vec<KeyRow>> {
    let parts = Parts::new(records, numbers.0, numbers.1)?;
    let mut rows = Vec::new();
    for (r, rule) in settings.rules.iter().enumerate() {
        let probes = parts.probes(rule);
        if probes.is_none() && matches!(narrowing, Narrowing::Probes) {
            continue;
        }
        let keeps_number = same_number_skipped(rule);
        for pass in 0..rule.passes() {
            let mut keys = Vec::new();
            for i in 0..records.height() {
                let probe = probes.as_ref().is_none_or(|p| p[i]);
                if !probe && matches!(narrowing, Narrowing::Probes) {
                    continue;
                }
                keys.clear();
                parts.keys(rule, i, pass, &mut |k| keys.push(k));
                if let (false, Narrowing::MeetingProbes(met)) = (probe, &narrowing) {
                    keys.retain(|&k| met.contains(r as u8, pass as u8, k));
                }
                // A number with two equal neighbours gives one deletion key twice.
                keys.sort_unstable();
                keys.dedup();
                rows.extend(keys.iter().map(|&key| KeyRow {
                    rule: r as u8,
                    pass: pass as u8,
                    key,
                    record: index[i],
                    probe,
                    likeness: parts.likeness(i),
                    number: keeps_number.then(|| parts.id.get(i).map(str::to_owned)).flatten(),
                }));
            }
        }
    }
    Ok(rows)
}

/// Which records of `records` share a key — under some rule and pass of `settings` — that
/// `keys` holds (`(rule, pass, key)` as [`key_rows`] gives them, of another population): the
/// records that can meet one of that population in a block. `link` narrows a registry to those
/// meeting its intake: every block holding an intake record keeps all its registry records, so
/// the pairs are those of the whole registry, under whatever rules `--settings` gives. A key
/// the filter wrongly holds keeps a record that meets no one, which makes no pair.
pub fn meeting(
    records: &DataFrame,
    numbers: (&[bool], &[bool]),
    settings: &BlockingSettings,
    keys: &ProbeFilter,
) -> Result<Vec<bool>> {
    let parts = Parts::new(records, numbers.0, numbers.1)?;
    Ok(par_row_chunks(records.height(), |rows| {
        rows.map(|i| {
            let mut met = false;
            for (r, rule) in settings.rules.iter().enumerate() {
                for pass in 0..rule.passes() {
                    parts.keys(rule, i, pass, &mut |k| met |= keys.contains(r as u8, pass as u8, k));
                    if met {
                        return true;
                    }
                }
            }
            false
        })
        .collect::<Vec<_>>()
    })
    .concat())
}

/// The pairs of one block of [`key_rows`] (one rule, pass and key; ordered by record), as
/// [`pair_block`] makes them, tagged with the rule as [`union`] takes them.
pub fn pair_keyed_block(
    rows: &[KeyRow],
    first_new: usize,
    settings: &BlockingSettings,
    tagged: &mut Vec<(u64, u32)>,
) -> BlockOutcome {
    let records: Vec<u32> = rows.iter().map(|row| row.record).collect();
    let rule = rows.first().map_or(0, |row| u32::from(row.rule));
    pair_block(
        &records,
        |k| rows[k].probe,
        |j, k| rows[j].number.is_some() && rows[j].number == rows[k].number,
        |k| rows[k].likeness,
        settings.rules.get(rule as usize).and_then(|r| settings.nearest_of(r)),
        first_new,
        settings.max_block_size,
        |x, y| tagged.push((pack(x, y), rule)),
    )
}

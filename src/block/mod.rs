//! Block: candidate pairs. Comparing every pair of a province (10^13 for 5M records) is out of
//! the question, so several blocking rules each pair only records that share a key, and the
//! candidate pairs are their union. A rule is a list of key parts (all must be present); the
//! `id_one_digit` part pairs ID numbers one substitution or one adjacent swap apart without
//! comparing all pairs: a number's keys are the number without each position (equal for a
//! substitution there) and without each adjacent pair followed by the pair in order (equal for a
//! swap). Rules not keyed on the number pair only records lacking a number of their own (two
//! own numbers are two people), so their blocks are found from those few records' keys. Blocks
//! that would make more pairs than `max_block_size` records are skipped and reported, never
//! allowed to explode memory.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use polars::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::columns::{par_row_chunks, Ints, Text};
use crate::error::{Error, Result};
use crate::ingest::rounded::{spreadsheet_digits, tells_no_one_apart};
use crate::normalize::date::Date;
use crate::normalize::name::pinyin_letters;
use crate::normalize::name::surname;
use crate::normalize::region::{region_status, RegionStatus};

/// What a blocking key is built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyPart {
    /// The normalized ID number.
    Id,
    /// The ID number with one position deleted (one key per position).
    IdOneDigit,
    /// The first 15 digits of an ID number as a spreadsheet keeps them; pairs only where one
    /// record's number came back from a spreadsheet damaged (`211221200903152000`).
    IdSpreadsheet,
    /// Birth date and sequence of an ID number (positions 7–17): the number with its region set
    /// aside, for a mistyped region.
    IdDateSequence,
    /// The normalized name.
    Name,
    /// Toneless pinyin of the name, letters only (homophones and names typed in pinyin share it).
    NamePinyin,
    /// First letters of the name's pinyin syllables (`zhang zi xuan` → `zzx`).
    NameInitials,
    /// The first letter of the name's pinyin (`z` for 张子轩 and for `Zhang Zixuan`).
    NameFirstLetter,
    Surname,
    BirthDate,
    BirthYear,
    BirthYearMonth,
    /// Month and day in either order, any year: a date typed a year off or with day and month
    /// swapped keeps it.
    BirthDayMonth,
    Sex,
    GuardianPhone,
    /// The record's city and county (`locality_*`: the sheet's 所属地市/所属区县, else the ID's region).
    County,
    /// The household register (户口所在地) as typed: one child's registrations share it.
    Household,
    SchoolCode,
    /// Present only on records without a document number.
    NoId,
}

impl KeyPart {
    /// Key passes of a rule with this part: rounded and cut digits for `IdSpreadsheet`.
    fn passes(self) -> usize {
        match self {
            KeyPart::IdSpreadsheet => 2,
            _ => 1,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub name: String,
    pub keys: Vec<KeyPart>,
}

impl Rule {
    fn passes(&self) -> usize {
        self.keys.iter().map(|k| k.passes()).max().unwrap_or(1)
    }

    /// Whether the rule keys on the ID number. A rule that does not pairs two records only when
    /// one of them lacks a number of its own (`compare::own_numbers`): two different own numbers
    /// are two people whatever else agrees, so such pairs would only be compared to be set
    /// apart. This keeps name and birth-date rules small at province scale, where popular names
    /// make their blocks large.
    fn keys_on_number(&self) -> bool {
        self.keys
            .iter()
            .any(|k| matches!(k, KeyPart::Id | KeyPart::IdOneDigit | KeyPart::IdSpreadsheet | KeyPart::IdDateSequence))
    }
}

/// The most rules a run can have: a candidate pair records its rules as bits of a `u64`.
pub const MAX_RULES: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlockingSettings {
    pub rules: Vec<Rule>,
    /// Blocks that would make more pairs than a block of this many records (n(n-1)/2) are
    /// skipped and reported, never allowed to explode memory.
    pub max_block_size: usize,
}

impl Default for BlockingSettings {
    /// Rules for Chinese student data: each kind of error a duplicate carries is caught by a rule
    /// that does not depend on the field it damaged.
    fn default() -> Self {
        let rule = |name: &str, keys: &[KeyPart]| Rule { name: name.into(), keys: keys.to_vec() };
        use KeyPart::*;
        BlockingSettings {
            rules: vec![
                rule("id", &[Id]),
                rule("id_one_digit", &[IdOneDigit]),
                rule("id_spreadsheet", &[IdSpreadsheet]),
                // The name's first letter or the guardian's phone keeps same-day same-sequence
                // numbers of other counties apart.
                rule("id_date_sequence", &[IdDateSequence, NameFirstLetter]),
                rule("id_date_sequence_phone", &[IdDateSequence, GuardianPhone]),
                // A blank name and a new guardian leave the household register to tell them.
                rule("id_date_sequence_household", &[IdDateSequence, Household]),
                rule("pinyin_birth_month", &[NamePinyin, BirthYearMonth]),
                rule("pinyin_birth_day_month", &[NamePinyin, BirthDayMonth]),
                // No number and no usable birth date: the name and the household register.
                rule("pinyin_household", &[NamePinyin, Household]),
                rule("initials_birth_sex", &[NameInitials, BirthDate, Sex]),
                // Birth year and sex keep county blocks small in populous counties.
                rule("initials_county_birth_year_sex", &[NameInitials, County, BirthYear, Sex]),
                rule("guardian_phone", &[GuardianPhone]),
                // A blank name on one side and no usable number on the other: the child's
                // household register, birth date and sex.
                rule("household_birth_sex", &[Household, BirthDate, Sex]),
                rule("no_id_name_sex_birth", &[NoId, Name, Sex, BirthDate]),
            ],
            max_block_size: 500,
        }
    }
}

impl BlockingSettings {
    /// The rule mask (bit i = rule i) of the rules keyed on the ID number.
    pub fn number_rules(&self) -> u64 {
        self.rules.iter().enumerate().filter(|(_, r)| r.keys_on_number()).map(|(i, _)| 1u64 << i).sum()
    }

    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.rules.is_empty() {
            return Err("blocking needs at least one rule".into());
        }
        if self.rules.len() > MAX_RULES {
            return Err(format!("{} blocking rules; at most {MAX_RULES}", self.rules.len()));
        }
        if let Some(rule) = self.rules.iter().find(|r| r.keys.is_empty()) {
            return Err(format!("blocking rule {:?} has no keys", rule.name));
        }
        let mut names: Vec<&str> = self.rules.iter().map(|r| r.name.as_str()).collect();
        names.sort_unstable();
        if let Some(twice) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("two blocking rules are named {:?}", twice[0]));
        }
        if self.max_block_size < 2 {
            return Err(format!("max_block_size must be at least 2, it is {}", self.max_block_size));
        }
        Ok(())
    }
}

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

/// Where a key's parts go: into a hash (blocking) or into readable text (reports). One function
/// ([`Parts::feed`]) builds both, so a reported key is the key that was blocked on.
trait Sink {
    fn text(&mut self, text: &[u8]);
    fn number(&mut self, n: i64);
    /// Closes a key part (so that `ab` + `c` and `a` + `bc` differ).
    fn end(&mut self);
}

/// A fast 64-bit hash of key parts, word at a time (keys are hashed once per record and pass).
struct KeyHash(u64);

impl KeyHash {
    fn word(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Sink for KeyHash {
    fn text(&mut self, text: &[u8]) {
        let mut chunks = text.chunks_exact(8);
        for c in &mut chunks {
            self.word(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        self.word(u64::from_le_bytes(last) ^ ((rest.len() as u64) << 59));
    }

    fn number(&mut self, n: i64) {
        self.word(n as u64);
    }

    fn end(&mut self) {
        self.word(0xff);
    }
}

impl Sink for String {
    fn text(&mut self, text: &[u8]) {
        self.push_str(&String::from_utf8_lossy(text));
    }

    fn number(&mut self, n: i64) {
        self.push_str(&n.to_string());
    }

    fn end(&mut self) {}
}

/// A key part's bytes gathered without a heap allocation for the usual short name (keys are
/// made for every record and rule: a million small vectors were a visible cost).
enum Bytes {
    Short([u8; 64], usize),
    Long(Vec<u8>),
}

impl Bytes {
    /// The bytes of `iter`; `None` when there are none.
    fn of(iter: impl Iterator<Item = u8>) -> Option<Bytes> {
        let mut bytes = Bytes::Short([0; 64], 0);
        for b in iter {
            match &mut bytes {
                Bytes::Short(buf, n) if *n < buf.len() => {
                    buf[*n] = b;
                    *n += 1;
                }
                Bytes::Short(buf, n) => {
                    let mut long = buf[..*n].to_vec();
                    long.push(b);
                    bytes = Bytes::Long(long);
                }
                Bytes::Long(long) => long.push(b),
            }
        }
        (!bytes.as_slice().is_empty()).then_some(bytes)
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Short(buf, n) => &buf[..*n],
            Bytes::Long(long) => long,
        }
    }
}

/// The columns of a records table that blocking keys are made of ([`Parts`]): what a cluster
/// sends of each record (tests/stages.rs blocks on these alone and finds one machine's pairs).
pub const BLOCKED: [&str; 10] = [
    "id_norm",
    "name_norm",
    "name_pinyin",
    "birth_date_norm",
    "sex_norm",
    "guardian_phone_norm",
    "locality_city",
    "locality_county",
    "school_code_norm",
    "household_address",
];

/// Key-part values of the records, read in place.
struct Parts<'a> {
    id: Text<'a>,
    /// Whether each record carries a number of its own (`compare::own_numbers`), and a valid one.
    own: Vec<bool>,
    valid: Vec<bool>,
    name: Text<'a>,
    pinyin: Text<'a>,
    birth: Ints<'a>,
    sex: Text<'a>,
    phone: Text<'a>,
    city: Text<'a>,
    county: Text<'a>,
    school: Text<'a>,
    household: Text<'a>,
}

impl<'a> Parts<'a> {
    /// `valid` and `own`: each record's number is valid, and of its own (`compare::own_numbers`).
    fn new(records: &'a DataFrame, valid: &[bool], own: &[bool]) -> Result<Parts<'a>> {
        // A number whose region is in no table may be a mistyped copy of another's: its record
        // is paired by the other rules too.
        let ids = Text::of(records, "id_norm")?;
        let known_region =
            |i: usize| own[i] && ids.get(i).is_some_and(|id| region_status(&id[..6], 2000) != RegionStatus::Unknown);
        let own = par_row_chunks(own.len(), |rows| rows.map(known_region).collect::<Vec<_>>()).concat();
        let valid = valid.to_vec();
        Ok(Parts {
            id: Text::of(records, "id_norm")?,
            own,
            valid,
            name: Text::of(records, "name_norm")?,
            pinyin: Text::of(records, "name_pinyin")?,
            birth: Ints::of(records, "birth_date_norm")?,
            sex: Text::of(records, "sex_norm")?,
            phone: Text::of(records, "guardian_phone_norm")?,
            city: Text::of(records, "locality_city")?,
            county: Text::of(records, "locality_county")?,
            school: Text::of(records, "school_code_norm")?,
            household: Text::optional(records, "household_address")?,
        })
    }

    /// The ID number of record `i` as a spreadsheet left it, when it looks damaged (whether or
    /// not the zeros happen to pass MOD 11-2).
    fn spreadsheet_damaged(&self, i: usize) -> Option<std::borrow::Cow<'a, str>> {
        self.id.get(i).and_then(spreadsheet_digits).filter(|d| d.len() == 15)
    }

    /// Feeds one key part of record `i` to `sink`; `None` when the record has no such value.
    /// `pass` is the pass of a multi-pass part ([`KeyPart::passes`]).
    fn feed(&self, part: KeyPart, i: usize, pass: usize, sink: &mut impl Sink) -> Option<()> {
        let birth = || self.birth.get(i).map(Date::from_epoch_days);
        match part {
            // `2.11381E+17` is a whole school's column: no key.
            KeyPart::Id => sink.text(self.id.get(i).filter(|id| !tells_no_one_apart(id))?.as_bytes()),
            // Its keys are [`one_slip_keys`]; this is the number they are made from.
            KeyPart::IdOneDigit => sink.text(self.id.get(i).filter(|id| id.len() == 18 && id.is_ascii())?.as_bytes()),
            KeyPart::IdSpreadsheet => match self.spreadsheet_damaged(i) {
                Some(digits) => sink.text(digits.as_bytes()),
                None => {
                    let id = self.id.get(i).filter(|id| id.len() == 18 && id.bytes().all(|b| b.is_ascii_digit()))?;
                    // Pass 0: rounded to 15 significant digits; pass 1: cut, when that differs.
                    let cut: u64 = id[..15].parse().ok()?;
                    let rounded = cut + u64::from(id.as_bytes()[15] >= b'5');
                    match pass {
                        // The 15 digits written in place: this runs for every record with a number.
                        0 if rounded < 1_000_000_000_000_000 => {
                            let mut digits = [b'0'; 15];
                            let mut rest = rounded;
                            for d in digits.iter_mut().rev() {
                                *d = b'0' + (rest % 10) as u8;
                                rest /= 10;
                            }
                            sink.text(&digits)
                        }
                        0 => sink.text(format!("{rounded:015}").as_bytes()),
                        _ if rounded != cut => sink.text(&id.as_bytes()[..15]),
                        _ => return None,
                    }
                }
            },
            KeyPart::IdDateSequence => {
                let id = self.id.get(i).filter(|id| id.len() == 18 && id.is_ascii())?;
                sink.text(&id.as_bytes()[6..17]);
            }
            KeyPart::Name => sink.text(self.name.get(i)?.as_bytes()),
            KeyPart::NamePinyin => sink.text(Bytes::of(pinyin_letters(self.pinyin.get(i)?))?.as_slice()),
            KeyPart::NameInitials => {
                let initials = self.pinyin.get(i)?.split(' ').filter_map(|s| s.bytes().next());
                sink.text(Bytes::of(initials)?.as_slice());
            }
            KeyPart::NameFirstLetter => sink.text(&[pinyin_letters(self.pinyin.get(i)?).next()?]),
            KeyPart::Surname => sink.text(surname(self.name.get(i)?).as_bytes()),
            KeyPart::BirthDate => {
                let b = birth()?;
                sink.number(i64::from(b.year) * 10_000 + i64::from(b.month) * 100 + i64::from(b.day));
            }
            KeyPart::BirthYear => sink.number(i64::from(birth()?.year)),
            KeyPart::BirthYearMonth => {
                let b = birth()?;
                sink.number(i64::from(b.year) * 100 + i64::from(b.month));
            }
            KeyPart::BirthDayMonth => {
                let b = birth()?;
                sink.number(i64::from(b.month.min(b.day)) * 100 + i64::from(b.month.max(b.day)));
            }
            KeyPart::Sex => sink.text(self.sex.get(i)?.as_bytes()),
            KeyPart::GuardianPhone => sink.text(self.phone.get(i)?.as_bytes()),
            // County names repeat across cities (郊区, 铁东区): the city disambiguates.
            KeyPart::County => {
                let county = self.county.get(i)?;
                sink.text(self.city.get(i).unwrap_or("").as_bytes());
                sink.text(b"/");
                sink.text(county.as_bytes());
            }
            KeyPart::SchoolCode => sink.text(self.school.get(i)?.as_bytes()),
            KeyPart::Household => sink.text(self.household.get(i)?.as_bytes()),
            KeyPart::NoId => {
                if self.id.get(i).is_some() {
                    return None;
                }
            }
        }
        sink.end();
        Some(())
    }

    /// The rule's keys of record `i`, hashed (none when a part is missing): one, or with
    /// `IdOneDigit` one per position deleted and per adjacent pair swapped ([`one_slip_keys`]).
    fn keys(&self, rule: &Rule, i: usize, pass: usize, out: &mut impl FnMut(u64)) {
        let mut hash = KeyHash(0);
        for &part in rule.keys.iter().filter(|&&p| p != KeyPart::IdOneDigit) {
            if self.feed(part, i, pass, &mut hash).is_none() {
                return;
            }
        }
        if !rule.keys.contains(&KeyPart::IdOneDigit) {
            out(hash.0);
        } else if let Some(id) = self.id.get(i).filter(|id| id.len() == 18 && id.is_ascii()) {
            one_slip_keys(id.as_bytes(), hash.0, out);
        }
    }

    /// The records a rule's pairs must include (`None`: every pair of a block is made). Pairs
    /// of two numbers of their own are two people, so a rule not keyed on the number pairs only
    /// records lacking one ([`Rule::keys_on_number`]); MOD 11-2 catches every slip, so of two
    /// numbers one slip apart one fails it; a spreadsheet rule pairs a damaged number with the
    /// numbers it may have been.
    fn probes(&self, rule: &Rule) -> Option<Vec<bool>> {
        let n = self.own.len();
        if rule.keys.contains(&KeyPart::IdSpreadsheet) {
            Some((0..n).map(|i| self.spreadsheet_damaged(i).is_some()).collect())
        } else if rule.keys.contains(&KeyPart::IdOneDigit) {
            Some(self.valid.iter().map(|v| !v).collect())
        } else if rule.keys_on_number() {
            None
        } else {
            Some(self.own.iter().map(|o| !o).collect())
        }
    }

    fn describe(&self, rule: &Rule, i: usize, pass: usize) -> String {
        let name =
            |p: KeyPart| serde_json::to_value(p).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        rule.keys
            .iter()
            .map(|&p| {
                let mut text = String::new();
                self.feed(p, i, pass, &mut text);
                format!("{}={text}", name(p))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
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
        let probes = parts.probes(rule);
        let is_probe = |i: u32| probes.as_ref().is_none_or(|p| p[i as usize]);
        let same_id = |x: u32, y: u32| same_number && parts.id.get(x as usize) == parts.id.get(y as usize);
        for pass in 0..rule.passes() {
            for block in blocks_of(&parts, rule, pass, probes.as_deref(), n) {
                let outcome = pair_block(
                    &block,
                    |k| is_probe(block[k]),
                    |j, k| same_id(block[j], block[k]),
                    first_new,
                    settings.max_block_size,
                    |x, y| tagged.push((pack(x, y), r as u32)),
                );
                if rule_stats.count(outcome, block.len()) {
                    blocks.push((block.len(), block[0], pass));
                }
            }
        }
        blocks.sort_unstable_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
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
    let h1 = splitmix(mixed);
    let h2 = splitmix(h1) | 1;
    let m = (words * 64) as u64;
    (0..u64::from(hashes)).map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) % m) as usize)
}

/// SplitMix64's finalizer: a bijective mix of 64 bits.
fn splitmix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
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
                    number: keeps_number.then(|| parts.id.get(i).map(str::to_owned)).flatten(),
                }));
            }
        }
    }
    Ok(rows)
}

/// The pairs of one block of [`key_rows`] (one rule, pass and key; ordered by record), as
/// [`pair_block`] makes them, tagged with the rule as [`union`] takes them.
pub fn pair_keyed_block(
    rows: &[KeyRow],
    first_new: usize,
    max_block_size: usize,
    tagged: &mut Vec<(u64, u32)>,
) -> BlockOutcome {
    let records: Vec<u32> = rows.iter().map(|row| row.record).collect();
    let rule = rows.first().map_or(0, |row| u32::from(row.rule));
    pair_block(
        &records,
        |k| rows[k].probe,
        |j, k| rows[j].number.is_some() && rows[j].number == rows[k].number,
        first_new,
        max_block_size,
        |x, y| tagged.push((pack(x, y), rule)),
    )
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
/// ([`Parts::probes`]) and `same_id` the pairs of one number left to the `id` rule. Only pairs
/// with a record at index `first_new` or later are made. The one place a block becomes pairs,
/// on one machine or spread over a cluster ([`pair_keyed_block`]).
pub fn pair_block(
    block: &[u32],
    is_probe: impl Fn(usize) -> bool,
    same_id: impl Fn(usize, usize) -> bool,
    first_new: usize,
    max_block_size: usize,
    mut emit: impl FnMut(u32, u32),
) -> BlockOutcome {
    let size = block.len();
    let probing = (0..size).filter(|&k| is_probe(k)).count();
    // Pairs with at least one probe: all pairs but those of two others.
    let possible = size * (size - 1) / 2 - (size - probing) * (size - probing).saturating_sub(1) / 2;
    if possible == 0 {
        return BlockOutcome::Empty;
    }
    if possible > max_block_size * (max_block_size - 1) / 2 {
        return BlockOutcome::Skipped;
    }
    let mut pairs = 0;
    for j in 0..size {
        for k in (j + 1..size).filter(|&k| block[k] as usize >= first_new) {
            if (is_probe(j) || is_probe(k)) && !same_id(j, k) {
                emit(block[j], block[k]);
                pairs += 1;
            }
        }
    }
    BlockOutcome::Paired { pairs }
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
    for mask in &rules {
        stats[mask.trailing_zeros() as usize].new_pairs += 1;
    }
    (pairs, rules)
}

/// The keys of an 18-character number for one-slip blocking, each mixed with `base` (the rule's
/// other parts): the number without position k, for every k (equal for a substitution at k),
/// and without positions k and k+1 followed by those two characters in order (equal for a swap
/// of k and k+1). A polynomial hash makes each key O(1) from one prefix sum: deleting a position
/// shifts the rest down by one power of the multiplier, which is odd and so invertible modulo
/// 2^64. Thirty-six passes of building and hashing strings per record were the block stage's cost.
fn one_slip_keys(id: &[u8], base: u64, out: &mut impl FnMut(u64)) {
    const P: u64 = 0x0000_0100_0000_01b3;
    const P_INV: u64 = inverse(P);
    const P_INV2: u64 = P_INV.wrapping_mul(P_INV);
    const SWAP: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut prefix = [0u64; 19];
    let mut power = 1u64;
    for (k, &c) in id.iter().enumerate() {
        prefix[k + 1] = prefix[k].wrapping_add(u64::from(c).wrapping_mul(power));
        power = power.wrapping_mul(P);
    }
    let total = prefix[18];
    for k in 0..18 {
        out(mix(base ^ prefix[k].wrapping_add(total.wrapping_sub(prefix[k + 1]).wrapping_mul(P_INV))));
    }
    for k in 0..17 {
        let without = prefix[k].wrapping_add(total.wrapping_sub(prefix[k + 2]).wrapping_mul(P_INV2));
        let pair = u64::from(id[k].min(id[k + 1])) << 8 | u64::from(id[k].max(id[k + 1]));
        out(mix(base ^ SWAP ^ without.rotate_left(16) ^ pair));
    }
}

/// The inverse of an odd number modulo 2^64 (Newton's iteration doubles the correct bits).
const fn inverse(p: u64) -> u64 {
    let mut x = p;
    let mut i = 0;
    while i < 6 {
        x = x.wrapping_mul(2u64.wrapping_sub(p.wrapping_mul(x)));
        i += 1;
    }
    x
}

/// SplitMix64's finaliser: spreads a polynomial hash over all 64 bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
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
    use super::*;

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
            rules: vec![Rule { name: "id1".into(), keys: vec![KeyPart::IdOneDigit] }],
            max_block_size: 10,
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
                Rule { name: "id".into(), keys: vec![KeyPart::Id] },
                Rule { name: "phone".into(), keys: vec![KeyPart::GuardianPhone] },
                Rule { name: "pinyin_birth".into(), keys: vec![KeyPart::NamePinyin, KeyPart::BirthDate] },
            ],
            max_block_size: 2,
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
            rules: vec![Rule { name: "sheet".into(), keys: vec![KeyPart::IdSpreadsheet] }],
            max_block_size: 10,
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
            rules: vec![Rule { name: "p".into(), keys: vec![KeyPart::NamePinyin, KeyPart::BirthYearMonth] }],
            max_block_size: 10,
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
            rules: vec![Rule { name: "p".into(), keys: vec![KeyPart::NamePinyin, KeyPart::BirthYearMonth] }],
            max_block_size: 10,
        };
        let c = candidates(&df, (&valid, &own), &settings, 0).unwrap();
        assert_eq!(c.pairs, vec![(0, 2), (0, 3), (1, 2), (1, 3), (2, 3)], "never the twins with each other");
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
                Rule { name: "id".into(), keys: vec![KeyPart::Id] },
                Rule { name: "one".into(), keys: vec![KeyPart::IdOneDigit] },
            ],
            max_block_size: 10,
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
            let outcome = pair_keyed_block(block, 0, settings.max_block_size, &mut tagged);
            stats[block[0].rule as usize].count(outcome, block.len());
        }
        assert_eq!(union(tagged, &mut stats), (whole.pairs, whole.rules));
        assert_eq!(stats, whole.stats);
    }

    #[test]
    fn settings_are_validated() {
        assert_eq!(BlockingSettings::default().validate(), Ok(()));
        let rule = |n: usize| Rule { name: format!("r{n}"), keys: vec![KeyPart::Id] };
        let many = BlockingSettings { rules: (0..65).map(rule).collect(), max_block_size: 10 };
        assert!(many.validate().unwrap_err().contains("at most 64"));
        let empty_rule = BlockingSettings { rules: vec![Rule { name: "x".into(), keys: vec![] }], max_block_size: 10 };
        assert!(empty_rule.validate().unwrap_err().contains("no keys"));
        let twice = BlockingSettings { rules: vec![rule(1), rule(1)], max_block_size: 10 };
        assert!(twice.validate().is_err());
        let tiny = BlockingSettings { rules: vec![rule(1)], max_block_size: 1 };
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

//! Keys: what each record's value under a rule's key parts hashes to (and reads as, for the
//! reports), read in place from the records' columns.

use polars::prelude::*;

use super::{KeyPart, Lacking, Rule};
use crate::columns::{par_row_chunks, Ints, Text};
use crate::error::Result;
use crate::ingest::rounded::{spreadsheet_digits, tells_no_one_apart};
use crate::normalize::date::Date;
use crate::normalize::id_number::ResidentNumber;
use crate::normalize::name::{is_han, pinyin_letters, surname, UNKNOWN_CHAR};
use crate::normalize::region::{region_status, RegionStatus};
use crate::rng::splitmix64;

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
pub(super) struct Parts<'a> {
    pub(super) id: Text<'a>,
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
    pub(super) fn new(records: &'a DataFrame, valid: &[bool], own: &[bool]) -> Result<Parts<'a>> {
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

    /// The birth date of record `i`: as typed, else the one its valid number carries.
    fn birth_date(&self, i: usize) -> Option<Date> {
        match self.birth.get(i) {
            Some(days) => Some(Date::from_epoch_days(days)),
            None => self.id.get(i).filter(|_| self.valid[i]).and_then(ResidentNumber::parse).and_then(|n| n.birth),
        }
    }

    /// Record `i` as one word for telling which records of a block are most like it
    /// ([`super::alike`]): one byte for each of birth date, birth month, sex, guardian's phone,
    /// school, household register, name and county, a hash of the value (never 0) or 0 when
    /// missing. Two unequal values share a byte once in 255; that only ranks a stranger nearer.
    pub(super) fn likeness(&self, i: usize) -> u64 {
        let text = |t: Option<&str>| {
            t.map(|t| {
                let mut hash = KeyHash(0);
                hash.text(t.as_bytes());
                hash.0
            })
        };
        let birth = self.birth_date(i);
        let hashes = [
            birth.map(|b| b.to_epoch_days() as u64),
            birth.map(|b| (b.year as u64) << 8 | u64::from(b.month)),
            text(self.sex.get(i)),
            text(self.phone.get(i)),
            text(self.school.get(i)),
            text(self.household.get(i)),
            text(self.name.get(i)),
            text(self.county.get(i)),
        ];
        hashes
            .iter()
            .enumerate()
            .fold(0, |word, (k, hash)| word | hash.map_or(0, |h| splitmix64(h) % 255 + 1) << (8 * k))
    }

    /// The ID number of record `i` as a spreadsheet left it, when it looks damaged (whether or
    /// not the zeros happen to pass MOD 11-2).
    fn spreadsheet_damaged(&self, i: usize) -> Option<std::borrow::Cow<'a, str>> {
        self.id.get(i).and_then(spreadsheet_digits).filter(|d| d.len() == 15)
    }

    /// Feeds one key part of record `i` to `sink`; `None` when the record has no such value.
    /// `pass` is the pass of a multi-pass part ([`KeyPart::passes`]).
    fn feed(&self, part: KeyPart, i: usize, pass: usize, sink: &mut impl Sink) -> Option<()> {
        let birth = || self.birth_date(i);
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
            KeyPart::NameStem => {
                let (name, pinyin) = (self.name.get(i)?, self.pinyin.get(i)?);
                let chars: Vec<char> = name.chars().collect();
                let (last, rest) = chars.split_last()?;
                if rest.len() < 2 || !rest.iter().copied().all(is_han) {
                    return None;
                }
                let syllables: Vec<&str> = pinyin.split(' ').filter(|s| !s.is_empty()).collect();
                // An unknown last character has no syllable: the reading is the stem already.
                let stem = match *last {
                    UNKNOWN_CHAR if syllables.len() == rest.len() => &syllables[..],
                    _ if syllables.len() == chars.len() => &syllables[..rest.len()],
                    _ => return None,
                };
                sink.text(Bytes::of(stem.iter().flat_map(|s| pinyin_letters(s)))?.as_slice());
            }
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
    pub(super) fn keys(&self, rule: &Rule, i: usize, pass: usize, out: &mut impl FnMut(u64)) {
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
    /// records lacking one ([`Rule::keys_on_number`]), and lacking the rule's field too
    /// ([`Rule::lacking`]); MOD 11-2 catches every slip, so of two numbers one slip apart one
    /// fails it; a spreadsheet rule pairs a damaged number with the numbers it may have been.
    pub(super) fn probes(&self, rule: &Rule) -> Option<Vec<bool>> {
        let n = self.own.len();
        if rule.keys.contains(&KeyPart::IdSpreadsheet) {
            Some((0..n).map(|i| self.spreadsheet_damaged(i).is_some()).collect())
        } else if rule.keys.contains(&KeyPart::IdOneDigit) {
            Some(self.valid.iter().map(|v| !v).collect())
        } else if rule.keys_on_number() {
            None
        } else {
            let lacks = |i: usize| match rule.lacking {
                None => true,
                Some(Lacking::Name) => self.name.get(i).is_none(),
                Some(Lacking::BirthDate) => self.birth_date(i).is_none(),
            };
            Some((0..n).map(|i| !self.own[i] && lacks(i)).collect())
        }
    }

    pub(super) fn describe(&self, rule: &Rule, i: usize, pass: usize) -> String {
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

/// The keys of an 18-character number for one-slip blocking, each mixed with `base` (the rule's
/// other parts): the number without position k, for every k (equal for a substitution at k),
/// and without positions k and k+1 followed by those two characters in order (equal for a swap
/// of k and k+1). A polynomial hash makes each key O(1) from one prefix sum: deleting a position
/// shifts the rest down by one power of the multiplier, which is odd and so invertible modulo
/// 2^64. Thirty-six passes of building and hashing strings per record were the block stage's cost.
pub(super) fn one_slip_keys(id: &[u8], base: u64, out: &mut impl FnMut(u64)) {
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
        out(splitmix64(base ^ prefix[k].wrapping_add(total.wrapping_sub(prefix[k + 1]).wrapping_mul(P_INV))));
    }
    for k in 0..17 {
        let without = prefix[k].wrapping_add(total.wrapping_sub(prefix[k + 2]).wrapping_mul(P_INV2));
        let pair = u64::from(id[k].min(id[k + 1])) << 8 | u64::from(id[k].max(id[k + 1]));
        out(splitmix64(base ^ SWAP ^ without.rotate_left(16) ^ pair));
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

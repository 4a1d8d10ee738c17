//! Block: candidate pairs. Comparing every pair of a province (10^13 for 5M records) is out of
//! the question, so several blocking rules each pair only records that share a key, and the
//! candidate pairs are their union. A rule is a list of key parts (all must be present); the
//! `id_one_digit` part pairs ID numbers one substitution or one adjacent swap apart without
//! comparing all pairs: in pass 2k a number's key is the number without position k (equal for a
//! substitution at k), in pass 2k+1 the number without positions k and k+1 followed by those two
//! characters in order (equal for a swap of k and k+1). Blocks larger than `max_block_size` are skipped and
//! reported, never allowed to explode memory.

use std::hash::{Hash, Hasher};

use polars::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::columns::{par_row_chunks, Ints, Text};
use crate::compare::FIELDS;
use crate::error::Result;
use crate::normalize::date::Date;
use crate::normalize::name::surname;

/// What a blocking key is built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyPart {
    /// The normalized ID number.
    Id,
    /// The ID number with one position deleted (one key per position).
    IdOneDigit,
    /// The normalized name.
    Name,
    /// Toneless pinyin of the name (homophones share it).
    NamePinyin,
    /// First letters of the name's pinyin syllables (`zhang zi xuan` → `zzx`).
    NameInitials,
    Surname,
    BirthDate,
    BirthYear,
    BirthYearMonth,
    Sex,
    GuardianPhone,
    /// The record's city and county (`locality_*`: the sheet's 所属地市/所属区县, else the ID's region).
    County,
    SchoolCode,
    /// Present only on records without a document number.
    NoId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub name: String,
    pub keys: Vec<KeyPart>,
}

impl Rule {
    /// The compared fields (`compare::FIELDS`) this rule's pairs agree on by construction.
    pub fn blocked_fields(&self) -> [bool; FIELDS.len()] {
        let mut blocked = [false; FIELDS.len()];
        for part in &self.keys {
            let field = match part {
                KeyPart::Id | KeyPart::IdOneDigit | KeyPart::NoId => "id_number",
                KeyPart::Name | KeyPart::NamePinyin | KeyPart::NameInitials | KeyPart::Surname => "name",
                KeyPart::BirthDate | KeyPart::BirthYear | KeyPart::BirthYearMonth => "birth_date",
                KeyPart::Sex => "sex",
                KeyPart::GuardianPhone => "guardian",
                // A county key is the household region when the sheet has no county column.
                KeyPart::County => "household",
                KeyPart::SchoolCode => "school",
            };
            blocked[FIELDS.iter().position(|f| *f == field).expect("a compared field")] = true;
        }
        blocked
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlockingSettings {
    pub rules: Vec<Rule>,
    /// Blocks with more records are skipped (and reported): a block of n records makes n(n-1)/2
    /// pairs.
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
                rule("pinyin_birth_month", &[NamePinyin, BirthYearMonth]),
                rule("initials_birth_sex", &[NameInitials, BirthDate, Sex]),
                // Birth year and sex keep county blocks small in populous counties.
                rule("initials_county_birth_year_sex", &[NameInitials, County, BirthYear, Sex]),
                rule("guardian_phone", &[GuardianPhone]),
                rule("no_id_name_sex_birth", &[NoId, Name, Sex, BirthDate]),
            ],
            max_block_size: 500,
        }
    }
}

/// A block that was skipped for its size.
#[derive(Clone, Debug, Serialize)]
pub struct LargeBlock {
    pub rule: String,
    pub records: usize,
    /// The key, readable: `name_pinyin=zhang wei, birth_year_month=2014-03`.
    pub key: String,
}

#[derive(Clone, Debug, Default, Serialize)]
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
    pub rules: Vec<u32>,
    pub stats: Vec<RuleStats>,
    /// The largest blocks of each rule, skipped or not, largest first.
    pub largest: Vec<LargeBlock>,
}

/// Key-part values of the records, read in place.
struct Parts<'a> {
    id: Text<'a>,
    name: Text<'a>,
    pinyin: Text<'a>,
    birth: Ints<'a>,
    sex: Text<'a>,
    phone: Text<'a>,
    city: Text<'a>,
    county: Text<'a>,
    school: Text<'a>,
}

impl<'a> Parts<'a> {
    fn new(records: &'a DataFrame) -> Result<Parts<'a>> {
        Ok(Parts {
            id: Text::of(records, "id_norm")?,
            name: Text::of(records, "name_norm")?,
            pinyin: Text::of(records, "name_pinyin")?,
            birth: Ints::of(records, "birth_date_norm")?,
            sex: Text::of(records, "sex_norm")?,
            phone: Text::of(records, "guardian_phone_norm")?,
            city: Text::of(records, "locality_city")?,
            county: Text::of(records, "locality_county")?,
            school: Text::of(records, "school_code_norm")?,
        })
    }

    /// The text of one key part of record `i`; `deleted` is the pass of [`KeyPart::IdOneDigit`].
    fn part(&self, part: KeyPart, i: usize, deleted: usize) -> Option<String> {
        let birth = || self.birth.get(i).map(Date::from_epoch_days);
        Some(match part {
            KeyPart::Id => self.id.get(i)?.to_owned(),
            KeyPart::IdOneDigit => {
                let id = self.id.get(i).filter(|id| id.len() == 18 && id.is_ascii())?;
                let k = deleted / 2;
                if deleted % 2 == 0 {
                    format!("{}{}", &id[..k], &id[k + 1..])
                } else if k < 17 {
                    let (x, y) = (id.as_bytes()[k], id.as_bytes()[k + 1]);
                    let (lo, hi) = (char::from(x.min(y)), char::from(x.max(y)));
                    format!("{}{}/{lo}{hi}", &id[..k], &id[k + 2..])
                } else {
                    return None;
                }
            }
            KeyPart::Name => self.name.get(i)?.to_owned(),
            KeyPart::NamePinyin => self.pinyin.get(i).filter(|p| !p.is_empty())?.to_owned(),
            KeyPart::NameInitials => {
                let initials: String = self.pinyin.get(i)?.split(' ').filter_map(|s| s.chars().next()).collect();
                (!initials.is_empty()).then_some(initials)?
            }
            KeyPart::Surname => surname(self.name.get(i)?).to_owned(),
            KeyPart::BirthDate => birth()?.to_string(),
            KeyPart::BirthYear => birth()?.year.to_string(),
            KeyPart::BirthYearMonth => {
                let b = birth()?;
                format!("{:04}-{:02}", b.year, b.month)
            }
            KeyPart::Sex => self.sex.get(i)?.to_owned(),
            KeyPart::GuardianPhone => self.phone.get(i)?.to_owned(),
            // County names repeat across cities (郊区, 铁东区): the city disambiguates.
            KeyPart::County => format!("{}/{}", self.city.get(i).unwrap_or(""), self.county.get(i)?),
            KeyPart::SchoolCode => self.school.get(i)?.to_owned(),
            KeyPart::NoId => match self.id.get(i) {
                None => String::new(),
                Some(_) => return None,
            },
        })
    }

    /// The rule's key of record `i`, hashed; `None` when a part is missing.
    fn key(&self, rule: &Rule, i: usize, deleted: usize) -> Option<u64> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for &part in &rule.keys {
            self.part(part, i, deleted)?.hash(&mut hasher);
        }
        Some(hasher.finish())
    }

    fn describe(&self, rule: &Rule, i: usize, deleted: usize) -> String {
        let name =
            |p: KeyPart| serde_json::to_value(p).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        rule.keys
            .iter()
            .map(|&p| format!("{}={}", name(p), self.part(p, i, deleted).unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// How many of each rule's largest blocks are reported.
const LARGEST_REPORTED: usize = 5;

/// The candidate pairs of `records` (which must hold the normalized columns and
/// `locality_county`) under `settings`. Only pairs with a record at index `first_new` or later
/// are made (0: all pairs): records before it were deduplicated already (linking an intake).
pub fn candidates(records: &DataFrame, settings: &BlockingSettings, first_new: usize) -> Result<Candidates> {
    let parts = Parts::new(records)?;
    let mut tagged: Vec<(u64, u32)> = Vec::new();
    let mut stats = Vec::new();
    let mut largest = Vec::new();
    for (r, rule) in settings.rules.iter().enumerate() {
        let passes = if rule.keys.contains(&KeyPart::IdOneDigit) { 36 } else { 1 };
        let mut rule_stats = RuleStats { rule: rule.name.clone(), ..Default::default() };
        let mut blocks: Vec<(usize, u32, usize)> = Vec::new();
        for deleted in 0..passes {
            let mut keys: Vec<(u64, u32)> = par_row_chunks(records.height(), |rows| {
                rows.filter_map(|i| parts.key(rule, i, deleted).map(|k| (k, i as u32))).collect::<Vec<_>>()
            })
            .into_iter()
            .flatten()
            .collect();
            keys.par_sort_unstable();
            let mut start = 0;
            while start < keys.len() {
                let end = start + keys[start..].iter().take_while(|k| k.0 == keys[start].0).count();
                let size = end - start;
                if size > 1 {
                    rule_stats.blocks += 1;
                    blocks.push((size, keys[start].1, deleted));
                    if size > settings.max_block_size {
                        rule_stats.skipped_blocks += 1;
                        rule_stats.skipped_records += size as u64;
                    } else {
                        // A block lists its records by index, so the new ones come last.
                        for a in start..end {
                            for b in (a + 1..end).filter(|&b| keys[b].1 as usize >= first_new) {
                                tagged.push((pack(keys[a].1, keys[b].1), r as u32));
                                rule_stats.pairs += 1;
                            }
                        }
                    }
                }
                start = end;
            }
        }
        blocks.sort_unstable_by(|x, y| y.0.cmp(&x.0));
        largest.extend(blocks.iter().take(LARGEST_REPORTED).map(|&(size, first, deleted)| LargeBlock {
            rule: rule.name.clone(),
            records: size,
            key: parts.describe(rule, first as usize, deleted),
        }));
        stats.push(rule_stats);
    }
    tagged.par_sort_unstable();
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    let mut rules: Vec<u32> = Vec::new();
    for (pair, rule) in tagged {
        let pair = unpack(pair);
        if pairs.last() == Some(&pair) {
            *rules.last_mut().unwrap() |= 1 << rule;
        } else {
            pairs.push(pair);
            rules.push(1 << rule);
        }
    }
    for mask in &rules {
        stats[mask.trailing_zeros() as usize].new_pairs += 1;
    }
    Ok(Candidates { pairs, rules, stats, largest })
}

fn pack(a: u32, b: u32) -> u64 {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    (u64::from(lo) << 32) | u64::from(hi)
}

fn unpack(pair: u64) -> (u32, u32) {
    ((pair >> 32) as u32, pair as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

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
            ],
        )
        .unwrap()
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
        let c = candidates(&df, &settings, 0).unwrap();
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
        let c = candidates(&df, &settings, 0).unwrap();
        assert_eq!(c.pairs, vec![(0, 1)]);
        assert_eq!(c.rules, vec![0b001]);
        assert_eq!((c.stats[1].skipped_blocks, c.stats[1].skipped_records), (1, 3), "phone 138: three records");
        assert_eq!((c.stats[2].skipped_blocks, c.stats[2].skipped_records), (1, 3));
        assert_eq!(c.largest[0].records, 2);
        assert!(c.largest.iter().any(|b| b.key == "guardian_phone=138" && b.records == 3), "{:?}", c.largest);
        let wide = BlockingSettings { max_block_size: 10, ..settings };
        let c = candidates(&df, &wide, 0).unwrap();
        assert_eq!(c.pairs, vec![(0, 1), (0, 2), (0, 3), (1, 2), (1, 3)]);
        assert_eq!(c.rules[0], 0b111, "(0,1) shares all three keys");
        assert_eq!(c.stats.iter().map(|s| s.new_pairs).sum::<u64>(), 5);
        let linked = candidates(&df, &wide, 3).unwrap();
        assert_eq!(linked.pairs, vec![(0, 3), (1, 3)], "only pairs with record 3, the new one");
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

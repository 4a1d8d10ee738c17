//! Compare: how two records agree, field by field, as comparison levels. Each level is a pure
//! function of the two values; the weights a level carries are `score`'s.
//!
//! Names: Jaro-Winkler is meaningless on two or three Han characters (its match window is 0), so
//! Han strings are compared exactly, by edit distance and by character overlap, and pinyin
//! strings by equality (homophones, any heteronym reading) and Jaro-Winkler.

use polars::prelude::DataFrame;

use crate::columns::{Ints, Text};
use crate::error::Result;
use crate::normalize::date::Date;

/// The compared fields, in the order of [`Levels`].
pub const FIELDS: [&str; 8] =
    ["name", "birth_date", "id_number", "sex", "school", "guardian", "household", "ethnicity"];

/// The level names of each field; level 0 is always `missing` (a value absent on either side,
/// which is no evidence either way).
pub const LEVELS: [&[&str]; 8] = [
    &["missing", "exact", "normalized", "pinyin", "pinyin_close", "han_close", "different"],
    &["missing", "exact", "id_date", "one_day", "day_month_swap", "one_digit", "different"],
    &["missing", "exact", "one_digit", "transposition", "different", "both_valid"],
    &["missing", "equal", "different"],
    &["missing", "same_school", "grade_continuity", "different"],
    &["missing", "phone", "name", "different"],
    &["missing", "equal", "different"],
    &["missing", "equal", "different"],
];

pub const NAME: usize = 0;
pub const BIRTH: usize = 1;
pub const ID: usize = 2;

/// The ID level of two different numbers that both pass GB 11643: by MOD 11-2 they were not one
/// number typed wrong, so the pair is two people (twins, siblings, namesakes), whatever else
/// agrees. `score` treats it as decisive.
pub const ID_BOTH_VALID: u8 = 5;

/// The name level of two clearly different names.
pub const NAME_DIFFERENT: u8 = 6;

/// Whether a pair agrees on something only the person has: the name (exactly, after folding, or
/// as a homophone) or the ID number (exactly or one typo away). Siblings share birth date,
/// school, household and guardian — everything else — so without this a pair is not one person
/// however much else agrees; a human could not tell either.
pub fn identifies(levels: &Levels) -> bool {
    matches!(levels[NAME], 1..=3) || matches!(levels[ID], 1..=3)
}

/// The decisive rules, which no sum of weights overrides: two different valid ID numbers are two
/// people (MOD 11-2), clearly different names are two people (with one number between them, an
/// ID conflict: a borrowed or misused number), and a pair must [`identifies`].
pub fn decided_apart(levels: &Levels) -> bool {
    levels[ID] == ID_BOTH_VALID || levels[NAME] == NAME_DIFFERENT || !identifies(levels)
}

/// The level of every field for one pair.
pub type Levels = [u8; FIELDS.len()];

/// Pinyin Jaro-Winkler at or above which two different names count as close.
const PINYIN_CLOSE: f64 = 0.92;

/// What a record brings to a comparison.
#[derive(Clone, Copy, Debug, Default)]
pub struct Side<'a> {
    pub name_raw: Option<&'a str>,
    pub name: Option<&'a str>,
    pub pinyin: Option<&'a str>,
    /// Other readings of a name with heteronyms, `|`-separated.
    pub pinyin_alt: Option<&'a str>,
    pub birth: Option<Date>,
    /// The birth date the record's ID number carries, when the number is valid.
    pub id_birth: Option<Date>,
    pub id: Option<&'a str>,
    /// The number passes GB 11643 (two different valid numbers are almost surely two people).
    pub id_valid: bool,
    pub sex: Option<&'a str>,
    pub school: Option<&'a str>,
    pub grade: Option<i32>,
    pub guardian_name: Option<&'a str>,
    /// Digits only.
    pub guardian_phone: Option<&'a str>,
    pub household: Option<&'a str>,
    pub ethnicity: Option<&'a str>,
}

pub fn compare(a: &Side, b: &Side) -> Levels {
    [
        name_level(a, b),
        birth_level(a, b),
        id_level(a, b),
        equality_level(a.sex, b.sex),
        school_level(a, b),
        guardian_level(a, b),
        equality_level(a.household, b.household),
        equality_level(a.ethnicity, b.ethnicity),
    ]
}

fn equality_level(a: Option<&str>, b: Option<&str>) -> u8 {
    match (a, b) {
        (Some(x), Some(y)) if x == y => 1,
        (Some(_), Some(_)) => 2,
        _ => 0,
    }
}

pub fn name_level(a: &Side, b: &Side) -> u8 {
    let (Some(x), Some(y)) = (a.name, b.name) else { return 0 };
    if a.name_raw == b.name_raw {
        return 1;
    }
    if x == y {
        return 2;
    }
    fn readings<'a>(s: &Side<'a>) -> Vec<&'a str> {
        s.pinyin
            .into_iter()
            .chain(s.pinyin_alt.into_iter().flat_map(|alt| alt.split('|')))
            .filter(|p| !p.is_empty())
            .collect()
    }
    let (ra, rb) = (readings(a), readings(b));
    if ra.iter().any(|p| rb.contains(p)) {
        return 3;
    }
    // A one-character slip is the more specific finding; pinyin closeness then catches near
    // homophones (平翘舌, 前后鼻音: zhang sen / zhang shen) of two-character names.
    if han_close(x, y) {
        return 5;
    }
    if let (Some(p), Some(q)) = (a.pinyin, b.pinyin) {
        if strsim::jaro_winkler(p, q) >= PINYIN_CLOSE {
            return 4;
        }
    }
    6
}

/// One character apart (substituted, inserted or deleted) in names of three or more characters,
/// with the same first character: a one-stroke or one-key slip, not another given name. Two-
/// character names one apart (张伟/张强) are different names.
pub fn han_close(x: &str, y: &str) -> bool {
    let (cx, cy): (Vec<char>, Vec<char>) = (x.chars().collect(), y.chars().collect());
    cx.len().min(cy.len()) >= 2
        && cx.len().max(cy.len()) >= 3
        && cx[0] == cy[0]
        && strsim::generic_levenshtein(&cx, &cy) == 1
}

pub fn birth_level(a: &Side, b: &Side) -> u8 {
    let (Some(x), Some(y)) = (a.birth, b.birth) else { return 0 };
    if x == y {
        return 1;
    }
    if a.id_birth == Some(y) || b.id_birth == Some(x) {
        return 2;
    }
    if (x.to_epoch_days() - y.to_epoch_days()).abs() == 1 {
        return 3;
    }
    if x.year == y.year && x.month == y.day && x.day == y.month {
        return 4;
    }
    if hamming(x.compact().as_bytes(), y.compact().as_bytes()) == Some(1) {
        return 5;
    }
    6
}

/// MOD 11-2 catches every single substitution and adjacent swap, so two different numbers that
/// are both valid are not one typed twice wrong: `both_valid` is its own level.
pub fn id_level(a: &Side, b: &Side) -> u8 {
    let (Some(x), Some(y)) = (a.id, b.id) else { return 0 };
    if x == y {
        return 1;
    }
    if a.id_valid && b.id_valid {
        return ID_BOTH_VALID;
    }
    let (bx, by) = (x.as_bytes(), y.as_bytes());
    match hamming(bx, by) {
        Some(1) => 2,
        Some(2) if is_adjacent_transposition(bx, by) => 3,
        _ => 4,
    }
}

fn hamming(x: &[u8], y: &[u8]) -> Option<usize> {
    (x.len() == y.len()).then(|| x.iter().zip(y).filter(|(p, q)| p != q).count())
}

fn is_adjacent_transposition(x: &[u8], y: &[u8]) -> bool {
    let diff: Vec<usize> = (0..x.len()).filter(|&i| x[i] != y[i]).collect();
    matches!(diff.as_slice(), [i, j] if *j == i + 1 && x[*i] == y[*j] && x[*j] == y[*i])
}

fn school_level(a: &Side, b: &Side) -> u8 {
    let (Some(x), Some(y)) = (a.school, b.school) else { return 0 };
    if x == y {
        return 1;
    }
    match (a.grade, b.grade) {
        (Some(g), Some(h)) if (g - h).abs() <= 1 => 2,
        _ => 3,
    }
}

fn guardian_level(a: &Side, b: &Side) -> u8 {
    let phones = (a.guardian_phone, b.guardian_phone);
    let names = (a.guardian_name, b.guardian_name);
    match (phones, names) {
        ((Some(p), Some(q)), _) if p == q => 1,
        (_, (Some(n), Some(m))) if n == m => 2,
        ((Some(_), Some(_)), _) | (_, (Some(_), Some(_))) => 3,
        _ => 0,
    }
}

/// The compared columns of a normalized records table, read in place.
pub struct Features<'a> {
    name_raw: Text<'a>,
    name: Text<'a>,
    pinyin: Text<'a>,
    pinyin_alt: Text<'a>,
    birth: Ints<'a>,
    id: Text<'a>,
    id_valid: Vec<bool>,
    sex: Text<'a>,
    school: Text<'a>,
    grade: Ints<'a>,
    guardian_name: Text<'a>,
    guardian_phone: Text<'a>,
    household: Text<'a>,
    ethnicity: Text<'a>,
}

impl<'a> Features<'a> {
    /// `records` must hold the normalized columns (`normalize`) and `id_valid` (`check`).
    pub fn new(records: &'a DataFrame) -> Result<Features<'a>> {
        let id_valid = records.column("id_valid")?.bool()?.iter().map(|v| v == Some(true)).collect();
        Ok(Features {
            name_raw: Text::of(records, "name")?,
            name: Text::of(records, "name_norm")?,
            pinyin: Text::of(records, "name_pinyin")?,
            pinyin_alt: Text::of(records, "name_pinyin_alt")?,
            birth: Ints::of(records, "birth_date_norm")?,
            id: Text::of(records, "id_norm")?,
            id_valid,
            sex: Text::of(records, "sex_norm")?,
            school: Text::of(records, "school_code_norm")?,
            grade: Ints::of(records, "grade_norm")?,
            guardian_name: Text::of(records, "guardian_name")?,
            guardian_phone: Text::of(records, "guardian_phone_norm")?,
            household: Text::of(records, "household_address")?,
            ethnicity: Text::of(records, "ethnicity_norm")?,
        })
    }

    pub fn side(&self, i: usize) -> Side<'a> {
        let id = self.id.get(i);
        let id_valid = self.id_valid[i];
        let id_birth = id
            .filter(|_| id_valid)
            .and_then(|id| Date::new(id[6..10].parse().ok()?, id[10..12].parse().ok()?, id[12..14].parse().ok()?));
        Side {
            name_raw: self.name_raw.get(i),
            name: self.name.get(i),
            pinyin: self.pinyin.get(i),
            pinyin_alt: self.pinyin_alt.get(i),
            birth: self.birth.get(i).map(Date::from_epoch_days),
            id_birth,
            id,
            id_valid,
            sex: self.sex.get(i),
            school: self.school.get(i),
            grade: self.grade.get(i),
            guardian_name: self.guardian_name.get(i),
            guardian_phone: self.guardian_phone.get(i),
            household: self.household.get(i),
            ethnicity: self.ethnicity.get(i),
        }
    }

    pub fn compare(&self, a: usize, b: usize) -> Levels {
        compare(&self.side(a), &self.side(b))
    }

    /// The normalized name of record `i` (for term frequencies).
    pub fn name(&self, i: usize) -> Option<&'a str> {
        self.name.get(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named<'a>(raw: &'a str, norm: &'a str, pinyin: &'a str) -> Side<'a> {
        Side { name_raw: Some(raw), name: Some(norm), pinyin: Some(pinyin), ..Side::default() }
    }

    fn born(y: i32, m: u32, d: u32) -> Side<'static> {
        Side { birth: Date::new(y, m, d), ..Side::default() }
    }

    #[test]
    fn name_levels() {
        let zw = named("张伟", "张伟", "zhang wei");
        assert_eq!(name_level(&zw, &named("张伟", "张伟", "zhang wei")), 1);
        assert_eq!(name_level(&zw, &named("張偉", "张伟", "zhang wei")), 2, "traditional form");
        assert_eq!(name_level(&zw, &named("张 伟", "张伟", "zhang wei")), 2, "stray space");
        assert_eq!(name_level(&zw, &named("张炜", "张炜", "zhang wei")), 3, "homophone");
        let hang = Side { pinyin_alt: Some("wang hang"), ..named("王行", "王行", "wang xing") };
        assert_eq!(name_level(&hang, &named("王航", "王航", "wang hang")), 3, "any heteronym reading");
        assert_eq!(
            name_level(&named("张森", "张森", "zhang sen"), &named("张深", "张深", "zhang shen")),
            4,
            "pinyin close"
        );
        let (a, b) = (named("王一博", "王一博", "wang yi bo"), named("王二博", "王二博", "wang er bo"));
        assert_eq!(name_level(&a, &b), 5, "one character, pinyin apart");
        assert_eq!(name_level(&zw, &named("张强", "张强", "zhang qiang")), 6, "a brother");
        assert_eq!(name_level(&zw, &named("李娜", "李娜", "li na")), 6);
        assert_eq!(name_level(&zw, &Side::default()), 0);
    }

    #[test]
    fn han_closeness_never_uses_jaro_winkler() {
        assert!(han_close("欧阳子轩", "欧阳子萱"));
        assert!(han_close("王一博", "王博"), "a dropped character");
        assert!(!han_close("张伟", "张强"), "two-character names");
        assert!(!han_close("刘思琪", "王思琪"), "another surname");
        assert!(!han_close("刘思琪", "刘琪思"), "a swap is two edits");
    }

    #[test]
    fn birth_levels() {
        let b = born(2014, 3, 5);
        assert_eq!(birth_level(&b, &born(2014, 3, 5)), 1);
        let id_says = Side { id_birth: Date::new(2014, 3, 9), ..born(2014, 3, 8) };
        assert_eq!(birth_level(&born(2014, 3, 9), &id_says), 2, "equals the other's ID date");
        assert_eq!(birth_level(&b, &born(2014, 3, 4)), 3);
        assert_eq!(birth_level(&born(2014, 2, 28), &born(2014, 3, 1)), 3, "across a month");
        assert_eq!(birth_level(&b, &born(2014, 5, 3)), 4, "day and month swapped");
        assert_eq!(birth_level(&b, &born(2014, 3, 25)), 5, "one digit");
        assert_eq!(birth_level(&b, &born(2013, 3, 5)), 5, "one digit of the year");
        assert_eq!(birth_level(&b, &born(2012, 7, 19)), 6);
        assert_eq!(birth_level(&b, &Side::default()), 0);
    }

    #[test]
    fn id_levels() {
        let side = |id: &'static str| Side {
            id: Some(id),
            id_valid: crate::check::id_number::is_valid(id, Date::new(2026, 11, 29).unwrap()),
            ..Side::default()
        };
        let id = side("44011320141005001X");
        assert_eq!(id_level(&id, &side("44011320141005001X")), 1);
        assert_eq!(id_level(&id, &side("44011320141005007X")), 2);
        assert_eq!(id_level(&id, &side("44011320141050001X")), 3, "adjacent digits swapped");
        assert_eq!(id_level(&id, &side("4401132014100500")), 4);
        let mut twin_id = String::from("44011320141005003");
        twin_id.push(char::from(crate::normalize::id_number::check_char(twin_id.as_bytes()).unwrap()));
        let twin = side(Box::leak(twin_id.into_boxed_str()));
        assert!(twin.id_valid);
        assert_eq!(id_level(&id, &twin), 5, "twins: two valid numbers");
        assert_eq!(id_level(&id, &Side::default()), 0);
    }

    #[test]
    fn identity_needs_the_name_or_the_number() {
        let with = |name: u8, id: u8| {
            let mut levels: Levels = [0, 1, 0, 1, 1, 1, 1, 1];
            levels[NAME] = name;
            levels[ID] = id;
            identifies(&levels)
        };
        assert!(with(1, 0) && with(3, 0) && with(6, 1) && with(5, 2) && with(0, 3));
        assert!(!with(5, 0), "a twin's name one character off, no number");
        assert!(!with(6, 4), "another name, a number two typos away");
        assert!(!with(4, 0), "pinyin merely close");
        let apart = |name: u8, id: u8| decided_apart(&[name, 1, id, 1, 1, 1, 1, 1]);
        assert!(apart(6, 1), "one number, two names: an ID conflict");
        assert!(apart(1, ID_BOTH_VALID), "one name, two valid numbers: namesakes or twins");
        assert!(!apart(1, 0) && !apart(5, 2) && !apart(0, 1));
    }

    #[test]
    fn other_fields() {
        let a = Side {
            school: Some("2121000001"),
            grade: Some(3),
            guardian_phone: Some("13800138000"),
            guardian_name: Some("张三"),
            ..Side::default()
        };
        let same = compare(&a, &a);
        assert_eq!(&same[3..], &[0, 1, 1, 0, 0]);
        let moved = Side { school: Some("2121000002"), grade: Some(4), guardian_phone: None, ..a };
        assert_eq!(school_level(&a, &moved), 2);
        assert_eq!(guardian_level(&a, &moved), 2, "same guardian name, phone unknown");
        let far = Side { school: Some("3121000002"), grade: Some(7), guardian_name: Some("李四"), ..moved };
        assert_eq!(school_level(&a, &far), 3);
        assert_eq!(guardian_level(&a, &far), 3);
        for (field, levels) in LEVELS.iter().enumerate() {
            assert_eq!(levels[0], "missing", "{}", FIELDS[field]);
        }
    }
}

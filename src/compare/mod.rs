//! Compare: how two records agree, field by field, as comparison levels. Each level is a pure
//! function of the two values; the weights a level carries are `score`'s.
//!
//! Names: Jaro-Winkler is meaningless on two or three Han characters (its match window is 0), so
//! Han strings are compared exactly, by edit distance and by character overlap, and pinyin
//! strings by equality (homophones, any heteronym reading, a name typed in pinyin) and
//! Jaro-Winkler. ID numbers: a number that fails verification still carries evidence in its
//! parts — region (6), birth date (8), sequence (3), check (1) — and in the significant digits a
//! spreadsheet kept.

use polars::prelude::DataFrame;
use polars_core::runtime::THREAD_POOL;
use rayon::prelude::*;

use crate::columns::{par_row_chunks, Ints, Text};
use crate::error::Result;
use crate::ingest::rounded::{spreadsheet_digits, spreadsheet_keeps, tells_no_one_apart};
use crate::normalize::date::Date;
use crate::normalize::name::{
    has_name, is_han, is_name_char, name_pinyin, pinyin_letters, unknown_chars, LONGEST_NAME, UNKNOWN_CHAR,
};

/// Declares the levels of one compared field, each with its label, EM's starting m (the share
/// of one person's pairs expected at that level) and, for a level that agrees on a value, the
/// [`Term`] whose frequency weighs it. `missing` — a value absent on either side, no evidence
/// either way — is always level 0. Adding a level is this one edit plus the comparison that
/// returns it; labels, priors and terms cannot drift from the enum.
macro_rules! levels {
    ($(#[$meta:meta])* $name:ident {
        $($(#[$vmeta:meta])* $variant:ident = $label:literal $zh:literal, $prior:literal $(, $term:ident)?;)+
    }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum $name {
            #[default]
            Missing,
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$name::Missing, $($name::$variant,)+];
            pub const LABELS: &'static [&'static str] = &["missing", $($label,)+];
            /// The levels as people read them (report.html, review.html).
            pub const LABELS_ZH: &'static [&'static str] = &["缺失", $($zh,)+];
            /// EM's starting m per level (1 for `missing`, which carries no weight).
            pub const M_PRIORS: &'static [f64] = &[1.0, $($prior,)+];
            /// The value whose frequency weighs each level, where one does.
            pub const TERMS: &'static [Option<Term>] = &[None, $(levels!(@term $($term)?),)+];

            pub fn label(self) -> &'static str {
                Self::LABELS[self as usize]
            }
        }
    };
    (@term) => { None };
    (@term $term:ident) => { Some(Term::$term) };
}

/// A value whose agreement weighs by its own frequency (term-frequency adjustment): 张伟
/// agreeing says less than 欧阳子轩 agreeing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Term {
    /// The normalized name.
    Name,
    /// The name's reading.
    Pinyin,
    /// The guardian's normalized name.
    GuardianName,
}

levels! {
    NameLevel {
        Exact = "exact" "完全相同", 0.69, Name;
        /// Equal after width, space, dot and traditional folding, or once digits and symbols
        /// typed into it are dropped (`李娜2`).
        Normalized = "normalized" "规范化后相同", 0.10, Name;
        /// A homophone, any heteronym reading, or the name typed in pinyin (`Wang Xinyi`).
        Pinyin = "pinyin" "同音", 0.14, Pinyin;
        /// Jaro-Winkler ≥ 0.92 on pinyin (平翘舌, 前后鼻音).
        PinyinClose = "pinyin_close" "拼音相近", 0.02;
        /// One character slipped in a name of three or more.
        HanClose = "han_close" "差一个字", 0.02;
        Different = "different" "不同", 0.02;
        /// Equal but for a character no system can compare (a private code, a description)
        /// against a common one: a school without the rare character types its substitute.
        Unreadable = "unreadable" "含无法比对的字", 0.01;
    }
}

levels! {
    BirthLevel {
        Exact = "exact" "相同", 0.70;
        /// Equal to the date the other record's valid ID number carries.
        IdDate = "id_date" "同证件号中的日期", 0.05;
        OneDay = "one_day" "差一天", 0.07;
        DayMonthSwap = "day_month_swap" "日月颠倒", 0.05;
        /// Same day and month, the year one off (placed in a grade by age).
        YearOff = "year_off" "年份差一年", 0.03;
        OneDigit = "one_digit" "差一位数字", 0.04;
        Different = "different" "不同", 0.06;
    }
}

levels! {
    IdLevel {
        Exact = "exact" "相同", 0.55;
        /// One number is the other as a spreadsheet kept it (15 significant digits, then zeros).
        Spreadsheet = "spreadsheet" "被表格截断", 0.03;
        /// One character wrong, dropped or doubled.
        OneDigit = "one_digit" "差一位", 0.10;
        Transposition = "transposition" "两位颠倒", 0.08;
        /// Birth date and sequence agree, the region does not: one child, the region mistyped.
        RegionOnly = "region_only" "仅地区码不同", 0.02;
        Different = "different" "不同", 0.20;
        /// Same birth date, another sequence number, not one typo apart: two children born on
        /// one day. Decisive.
        OtherSequence = "other_sequence" "同日出生、顺序码不同", 0.01;
        /// Two different numbers that both pass GB 11643 (checksum and date): by MOD 11-2 not
        /// one number typed wrong, so two people. Decisive.
        BothValid = "both_valid" "两个有效号码", 0.01;
    }
}

levels! {
    EqualityLevel {
        Equal = "equal" "相同", 0.95;
        Different = "different" "不同", 0.05;
    }
}

levels! {
    SchoolLevel {
        SameSchool = "same_school" "同一学校", 0.20;
        /// Another school, grade equal or one apart (a transfer).
        GradeContinuity = "grade_continuity" "转学（年级衔接）", 0.60;
        Different = "different" "不同", 0.20;
    }
}

levels! {
    GuardianLevel {
        Phone = "phone" "电话相同", 0.75;
        /// Same guardian name, phones differ or unknown (weighed by the name's frequency).
        Name = "name" "姓名相同", 0.10, GuardianName;
        /// Only the name or only the phone is known on both sides, and it differs.
        OneDiffers = "one_differs" "一项不同", 0.10;
        /// Other name and other phone: another family, or the other parent with a new phone.
        BothDiffer = "both_differ" "都不同", 0.05;
    }
}

/// Declares the compared fields, in order, each with its level type, its index constant and
/// its name in output files: the one place a field is added. Generates [`Levels`], [`FIELDS`],
/// [`LEVELS`], [`M_PRIORS`], [`TERMS`], the index constants and the conversions to and from
/// level indices.
macro_rules! fields {
    ($($(#[$meta:meta])* $field:ident: $level:ident, $index:ident = $label:literal;)+) => {
        #[allow(non_camel_case_types, clippy::upper_case_acronyms, dead_code)]
        #[repr(usize)]
        enum FieldIndex { $($index,)+ }
        $(pub const $index: usize = FieldIndex::$index as usize;)+

        /// The compared fields, in the order of [`Levels::indices`].
        pub const FIELDS: [&str; [$($label),+].len()] = [$($label),+];
        /// The level labels of each field, by level index.
        pub const LEVELS: [&[&str]; FIELDS.len()] = [$($level::LABELS),+];
        /// The same in Chinese, for what people read.
        pub const LEVELS_ZH: [&[&str]; FIELDS.len()] = [$($level::LABELS_ZH),+];
        /// EM's starting m of each field's levels, by level index.
        pub const M_PRIORS: [&[f64]; FIELDS.len()] = [$($level::M_PRIORS),+];
        /// The value whose frequency weighs each field's levels, by level index.
        pub const TERMS: [&[Option<Term>]; FIELDS.len()] = [$($level::TERMS),+];

        /// The level of every field for one pair.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct Levels {
            $($(#[$meta])* pub $field: $level,)+
        }

        impl Levels {
            /// Level index per field, in the order of [`FIELDS`].
            pub fn indices(&self) -> [u8; FIELDS.len()] {
                [$(self.$field as u8),+]
            }

            /// The levels of [`Levels::indices`] read back; `None` when a number is no level of
            /// its field (indices from outside: a Spark job's columns).
            pub fn from_indices(i: [u32; FIELDS.len()]) -> Option<Levels> {
                Some(Levels { $($field: *$level::ALL.get(usize::try_from(i[$index]).ok()?)?,)+ })
            }
        }
    };
}

fields! {
    name: NameLevel, NAME = "name";
    birth: BirthLevel, BIRTH = "birth_date";
    id: IdLevel, ID = "id_number";
    sex: EqualityLevel, SEX = "sex";
    school: SchoolLevel, SCHOOL = "school";
    guardian: GuardianLevel, GUARDIAN = "guardian";
    household: EqualityLevel, HOUSEHOLD = "household";
    ethnicity: EqualityLevel, ETHNICITY = "ethnicity";
}

impl Levels {
    /// Whether the pair agrees on something only the person has, backed by a second fact:
    /// - the number exactly or one slip away;
    /// - the number's remains with a name that agrees, or with a blank name: a spreadsheet's
    ///   digits then need the same guardian (twins' numbers keep the same 15 digits, and two or
    ///   three children of a county's birthday share them at 10M); date and sequence without
    ///   the region do not (twins' sequences differ, and their weight is counted from the
    ///   numbers of one date and sequence in other counties, 13M pairs at 10M);
    /// - the name (exactly, folded, or as a homophone) with the birth date (up to a slip) or the
    ///   guardian: popular names are shared by thousands per cohort, so a name alone is not a
    ///   person.
    ///
    /// Siblings share birth date, school, household and guardian — everything else — so without
    /// this a pair is not one person however much else agrees; a human could not tell either.
    pub fn identifies(&self) -> bool {
        use BirthLevel as B;
        use IdLevel as I;
        use NameLevel as N;
        let name_agrees = matches!(self.name, N::Exact | N::Normalized | N::Pinyin);
        let number_remains = matches!(self.id, I::Spreadsheet | I::RegionOnly);
        let family = matches!(self.guardian, GuardianLevel::Phone | GuardianLevel::Name);
        let blank_name_told = self.id == I::RegionOnly || family;
        let backed = number_remains
            || matches!(self.birth, B::Exact | B::IdDate | B::OneDay | B::DayMonthSwap | B::YearOff | B::OneDigit)
            || family;
        matches!(self.id, I::Exact | I::OneDigit | I::Transposition)
            || (number_remains && (name_agrees || (self.name == N::Missing && blank_name_told)))
            || (name_agrees && backed)
    }

    /// The decisive rules, which no sum of weights overrides: two different numbers of their
    /// own, or two numbers of one birth date with other sequence numbers, are two people; clearly
    /// different names are two people (with one number between them, an ID conflict: a borrowed
    /// or misused number); and a pair must [`Levels::identifies`].
    pub fn decided_apart(&self) -> bool {
        self.contradicts() || !self.identifies()
    }

    /// Evidence of two people, not merely too little to tell: two numbers of their own, two
    /// children of one birth date, clearly different names.
    pub fn contradicts(&self) -> bool {
        matches!(self.id, IdLevel::BothValid | IdLevel::OtherSequence) || self.name == NameLevel::Different
    }

    /// Whether the number's remains carry the birth date the birth field would count again.
    pub fn birth_in_number(&self) -> bool {
        matches!(self.id, IdLevel::Spreadsheet | IdLevel::RegionOnly) && self.birth == BirthLevel::Exact
    }

    /// One number, clearly different names: a number used by two people, never merged.
    pub fn is_id_conflict(&self) -> bool {
        self.id == IdLevel::Exact && self.name == NameLevel::Different
    }
}

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
    /// The number passes GB 11643 (checksum and date).
    pub id_valid: bool,
    /// The number is valid, not a spreadsheet's remains, and the child's own: its date agrees
    /// with the recorded birth date (within [`OWN_NUMBER_DAYS`]), not a guardian's legacy
    /// number. Two different such numbers are two people.
    pub id_own: bool,
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
    Levels {
        name: name_level(a, b),
        birth: birth_level(a, b),
        id: id_level(a, b),
        sex: equality_level(a.sex, b.sex),
        school: school_level(a, b),
        guardian: guardian_level(a, b),
        household: equality_level(a.household, b.household),
        ethnicity: equality_level(a.ethnicity, b.ethnicity),
    }
}

fn equality_level(a: Option<&str>, b: Option<&str>) -> EqualityLevel {
    match (a, b) {
        (Some(x), Some(y)) if x == y => EqualityLevel::Equal,
        (Some(_), Some(_)) => EqualityLevel::Different,
        _ => EqualityLevel::Missing,
    }
}

fn same_letters(x: &str, y: &str) -> bool {
    pinyin_letters(x).eq(pinyin_letters(y))
}

/// A name typed in pinyin, given name first (`Xinyi Wang`): its words with the last one first.
fn surname_first(raw: &str) -> Option<String> {
    if !raw.bytes().any(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let words: Vec<&str> = raw.split_whitespace().collect();
    let latin = words.len() >= 2 && words.iter().all(|w| w.bytes().all(|b| b.is_ascii_alphabetic()));
    latin.then(|| format!("{}{}", words[words.len() - 1], words[..words.len() - 1].concat()))
}

/// Every reading of a name: its pinyin, its heteronym readings, and for a name typed in pinyin
/// given name first, the name turned round.
fn readings<'s>(side: &Side<'s>, turned: &'s Option<String>) -> impl Iterator<Item = &'s str> {
    side.pinyin
        .into_iter()
        .chain(side.pinyin_alt.into_iter().flat_map(|alt| alt.split('|')))
        .chain(turned.as_deref())
        .filter(|p| !p.is_empty())
}

pub fn name_level(a: &Side, b: &Side) -> NameLevel {
    // A name of nothing but digits or symbols is no name: missing, never "clearly different".
    let (Some(x), Some(y)) = (a.name.filter(|n| has_name(n)), b.name.filter(|n| has_name(n))) else {
        return NameLevel::Missing;
    };
    if a.name_raw.is_some() && a.name_raw == b.name_raw {
        return NameLevel::Exact;
    }
    if x.contains(UNKNOWN_CHAR) || y.contains(UNKNOWN_CHAR) {
        if typed_around_unknown(a, b) || typed_around_unknown(b, a) {
            return NameLevel::Unreadable;
        }
        return unknown_char_level(x, y, a.name_raw, b.name_raw);
    }
    if x == y || x.chars().filter(|&c| is_name_char(c)).eq(y.chars().filter(|&c| is_name_char(c))) {
        return NameLevel::Normalized;
    }
    let (turned_a, turned_b) = (a.name_raw.and_then(surname_first), b.name_raw.and_then(surname_first));
    if readings(a, &turned_a).any(|p| readings(b, &turned_b).any(|q| same_letters(p, q))) {
        return NameLevel::Pinyin;
    }
    // In one family a name that does not sound alike is a sibling's, however close it is
    // written (刘宏川/刘宏浩, 张茜/张苒, 杨欣/杨曦心): twins and siblings share the surname, the
    // guardian and often a character, which a typo of one child's name would share too. On one
    // number it is a borrowed or misused number (刘佳婷/刘佳怡): clerks slip to homophones, and
    // the ID conflict sends both to the police and the school rather than deleting one. What a
    // parent's pinyin keyboard slips between (张森/张深) is still one name.
    if (same_family(a, b) || one_number(a, b)) && sound_apart(a, b) {
        return NameLevel::Different;
    }
    // A one-character slip is the more specific finding; pinyin closeness then catches near
    // homophones (平翘舌, 前后鼻音: zhang sen / zhang shen) of two-character names.
    if han_close(x, y) {
        return NameLevel::HanClose;
    }
    // Near homophones of one family's given names; other surnames are different names (and
    // Jaro-Winkler, which allocates, runs on few pairs).
    if let (Some(p), Some(q)) = (a.pinyin, b.pinyin) {
        let short = p.len().max(q.len()) <= 8 * LONGEST_NAME;
        if short && x.chars().next() == y.chars().next() && strsim::jaro_winkler(p, q) >= PINYIN_CLOSE {
            return NameLevel::PinyinClose;
        }
    }
    NameLevel::Different
}

/// The same number on both, one that tells a person (not a placeholder).
fn one_number(a: &Side, b: &Side) -> bool {
    a.id.is_some_and(|x| b.id == Some(x) && !tells_no_one_apart(x))
}

/// One guardian, by phone or by name: the two records are of one family.
fn same_family(a: &Side, b: &Side) -> bool {
    matches!(guardian_level(a, b), GuardianLevel::Phone | GuardianLevel::Name)
}

/// Whether two names' every reading is known and none of them sounds like one of the other's
/// to a pinyin keyboard's fuzzy setting ([`fuzzy_homophones`]). A character without a known
/// reading (kept as itself in the pinyin) may sound like anything.
fn sound_apart(a: &Side, b: &Side) -> bool {
    let known = |p: &str| p.split(' ').all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c == 'ü'));
    let none = None;
    let (ra, rb): (Vec<&str>, Vec<&str>) = (readings(a, &none).collect(), readings(b, &none).collect());
    !ra.is_empty()
        && !rb.is_empty()
        && ra.iter().chain(&rb).all(|p| known(p))
        && !ra.iter().any(|p| rb.iter().any(|q| fuzzy_homophones(p, q)))
}

/// Two readings (`zhang sen`, `zhang shen`) that a pinyin keyboard's fuzzy setting (模糊音)
/// types alike: syllable by syllable equal once the initials zh/z, ch/c, sh/s, n/l, h/f, r/l
/// and the finals ang/an, eng/en, ing/in, iang/ian, uang/uan are folded together. The slips of
/// a parent typing a child's name; 张茜/张苒 (qian/ran) is none.
pub fn fuzzy_homophones(p: &str, q: &str) -> bool {
    fn folded(syllable: &str) -> String {
        let retroflex = ["zh", "ch", "sh"].iter().find_map(|i| syllable.strip_prefix(i).map(|rest| (&i[..1], rest)));
        let (initial, rest) = retroflex.unwrap_or_else(|| {
            let first = syllable.chars().next().map_or(0, char::len_utf8);
            syllable.split_at(first)
        });
        let initial = match initial {
            "n" | "r" => "l",
            "f" => "h",
            other => other,
        };
        // ang/an, eng/en, ing/in (with iang/ian, uang/uan): the nasal finals folded to -n.
        match rest.strip_suffix("ng") {
            Some(stem) if stem.ends_with(['a', 'e', 'i']) => format!("{initial}{stem}n"),
            _ => format!("{initial}{rest}"),
        }
    }
    let (ps, qs): (Vec<&str>, Vec<&str>) = (p.split(' ').collect(), q.split(' ').collect());
    ps.len() == qs.len() && ps.iter().zip(&qs).all(|(x, y)| x == y || folded(x) == folded(y))
}

/// Names of which one holds a character no system can compare ([`UNKNOWN_CHAR`]). Where both
/// hold them at the same places, typed alike (the same parts described, the same private code),
/// the names are equal as typed otherwise; described with other parts, they are different
/// characters. An unknown character against a rare one ([`is_rare`]) is that character as well
/// as it can be told: a private code or a description is how a system without the character
/// keeps it, and no school codes or describes a common one. Against a common character it may
/// be any, or the substitute a school typed for it: [`NameLevel::Unreadable`], weighed by what
/// such pairs turn out to be, and never enough alone to identify a child. So twins `王[女吉]`
/// and `王[女乐]` are never one name by it. The other characters must agree, or sound alike (a
/// homophone typed beside the unknown one).
fn unknown_char_level(x: &str, y: &str, raw_x: Option<&str>, raw_y: Option<&str>) -> NameLevel {
    // Digits and symbols typed into a name (`叶佳俨7`) are no characters of it.
    let chars = |n: &str| -> Vec<char> { n.chars().filter(|&c| c == UNKNOWN_CHAR || is_name_char(c)).collect() };
    let (cx, cy) = (chars(x), chars(y));
    let unknown = |c: &char| *c == UNKNOWN_CHAR;
    let homophones =
        |p: &char, q: &char| !unknown(p) && !unknown(q) && name_pinyin(&p.to_string()) == name_pinyin(&q.to_string());
    let aligned =
        cx.len() == cy.len() && cx.iter().zip(&cy).all(|(p, q)| p == q || unknown(p) || unknown(q) || homophones(p, q));
    if !aligned || !cx.iter().zip(&cy).any(|(p, q)| p == q && !unknown(p)) {
        return NameLevel::Different;
    }
    if cx == cy {
        let (ux, uy) = (raw_x.map(unknown_chars), raw_y.map(unknown_chars));
        return match (ux, uy) {
            (Some(ux), Some(uy)) if ux == uy => NameLevel::Normalized,
            // Two descriptions of other parts are two characters; private codes of two systems
            // may stand for one.
            (Some(ux), Some(uy)) if ux.iter().chain(&uy).all(|u| u.chars().all(is_han)) => NameLevel::Different,
            _ => NameLevel::Unreadable,
        };
    }
    let rare_faced = cx
        .iter()
        .zip(&cy)
        .all(|(p, q)| !(unknown(p) || unknown(q)) || (unknown(p) && is_rare(*q)) || (unknown(q) && is_rare(*p)));
    let sounds = cx.iter().zip(&cy).any(|(p, q)| p != q && homophones(p, q));
    match (rare_faced, sounds) {
        (true, false) => NameLevel::Normalized,
        (true, true) => NameLevel::Pinyin,
        (false, _) => NameLevel::Unreadable,
    }
}

/// Whether `latin`, a name typed in pinyin (`Liu Ziji`), reads as `other`, a name holding one
/// unknown character (`刘子⿱土口`): its letters begin with the readings of the characters before
/// the unknown one and end with those after it, with a syllable's letters between.
fn typed_around_unknown(latin: &Side, other: &Side) -> bool {
    let (Some(typed), Some(name), Some(held), Some(reading)) = (latin.pinyin, latin.name, other.name, other.pinyin)
    else {
        return false;
    };
    if name.chars().any(is_han) || !name.bytes().any(|b| b.is_ascii_alphabetic()) {
        return false;
    }
    // The reading has a syllable for each known character, none for the unknown one.
    let chars: Vec<char> = held.chars().filter(|&c| c == UNKNOWN_CHAR || is_han(c)).collect();
    let syllables: Vec<&str> = reading.split(' ').filter(|s| !s.is_empty()).collect();
    let mut unknowns = chars.iter().enumerate().filter(|(_, &c)| c == UNKNOWN_CHAR).map(|(i, _)| i);
    let (Some(at), None) = (unknowns.next(), unknowns.next()) else { return false };
    if syllables.len() + 1 != chars.len() {
        return false;
    }
    let letters: Vec<u8> = pinyin_letters(typed).collect();
    let before: Vec<u8> = syllables[..at].iter().flat_map(|s| pinyin_letters(s)).collect();
    let after: Vec<u8> = syllables[at..].iter().flat_map(|s| pinyin_letters(s)).collect();
    letters.len() > before.len() + after.len() && letters.starts_with(&before) && letters.ends_with(&after)
}

/// A character of CJK Extension A or later (䶮, 𠮷): what systems built on GB 2312 or GBK lack,
/// and keep as a private code or a description.
pub fn is_rare(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x20000..=0x323AF)
}

/// One character apart (substituted, inserted or deleted) in names of three or more characters,
/// with the same first character: a one-stroke or one-key slip, not another given name. Two-
/// character names one apart (张伟/张强) are different names.
pub fn han_close(x: &str, y: &str) -> bool {
    if x.chars().next() != y.chars().next() {
        return false;
    }
    let (cx, cy): (Vec<char>, Vec<char>) = (x.chars().collect(), y.chars().collect());
    // Edit distance is quadratic: a damaged cell of thousands of characters is no name.
    cx.len().min(cy.len()) >= 2
        && (3..=LONGEST_NAME).contains(&cx.len().max(cy.len()))
        && cx[0] == cy[0]
        && strsim::generic_levenshtein(&cx, &cy) == 1
}

pub fn birth_level(a: &Side, b: &Side) -> BirthLevel {
    let (Some(x), Some(y)) = (a.birth, b.birth) else { return BirthLevel::Missing };
    if x == y {
        return BirthLevel::Exact;
    }
    if a.id_birth == Some(y) || b.id_birth == Some(x) {
        return BirthLevel::IdDate;
    }
    // Each date confirmed by the record's own number (valid or not, the date survives most
    // damage): two birthdays, not one typed wrong.
    let own_date = |s: &Side, d: Date| s.id.and_then(number_date) == Some(d);
    if own_date(a, x) && own_date(b, y) {
        return BirthLevel::Different;
    }
    if (x.to_epoch_days() - y.to_epoch_days()).abs() == 1 {
        return BirthLevel::OneDay;
    }
    if x.year == y.year && x.month == y.day && x.day == y.month {
        return BirthLevel::DayMonthSwap;
    }
    if x.month == y.month && x.day == y.day && (x.year - y.year).abs() == 1 {
        return BirthLevel::YearOff;
    }
    if date_digits_apart(x, y) == 1 {
        return BirthLevel::OneDigit;
    }
    BirthLevel::Different
}

/// How many of the eight digits of YYYYMMDD differ.
fn date_digits_apart(x: Date, y: Date) -> u32 {
    let digits = |d: Date| i64::from(d.year) * 10_000 + i64::from(d.month) * 100 + i64::from(d.day);
    let (mut p, mut q) = (digits(x), digits(y));
    let mut apart = 0;
    for _ in 0..8 {
        apart += u32::from(p % 10 != q % 10);
        p /= 10;
        q /= 10;
    }
    apart
}

pub fn id_level(a: &Side, b: &Side) -> IdLevel {
    let (Some(x), Some(y)) = (a.id, b.id) else { return IdLevel::Missing };
    if tells_no_one_apart(x) || tells_no_one_apart(y) {
        return IdLevel::Missing;
    }
    if x == y {
        // Two spreadsheet remains alike share 15 digits, as twins' numbers do: not one number.
        let remains = !a.id_valid && !b.id_valid && spreadsheet_digits(x).is_some();
        return if remains { IdLevel::Spreadsheet } else { IdLevel::Exact };
    }
    // What a spreadsheet left of a number: its significant digits, nothing past them. One time
    // in eleven the zeros pass MOD 11-2, so a valid number ending in 000 may be such remains too.
    let (kept_x, kept_y) = (spreadsheet_digits(x), spreadsheet_digits(y));
    let keeps =
        |kept: &Option<std::borrow::Cow<str>>, full: &str| kept.as_deref().is_some_and(|k| spreadsheet_keeps(full, k));
    if (kept_x.is_some() && kept_x == kept_y) || keeps(&kept_x, y) || keeps(&kept_y, x) {
        return IdLevel::Spreadsheet;
    }
    if (kept_x.is_some() && !a.id_valid) || (kept_y.is_some() && !b.id_valid) {
        return IdLevel::Different;
    }
    let (bx, by) = (x.as_bytes(), y.as_bytes());
    let resident = |b: &[u8]| b.len() == 18 && b[..17].iter().all(u8::is_ascii_digit);
    // Birth date and sequence: what is left of a number once its region is set aside.
    let (date_x, date_y) = (resident(bx).then(|| &bx[6..17]), resident(by).then(|| &by[6..17]));
    let same_date_and_sequence = date_x.is_some() && date_x == date_y;
    if a.id_own && b.id_own {
        // MOD 11-2 catches every single typo and adjacent swap, so two valid numbers were not one
        // number typed wrong — unless only the region differs (mistyped, the check recomputed).
        return if same_date_and_sequence { IdLevel::RegionOnly } else { IdLevel::BothValid };
    }
    match hamming(bx, by) {
        Some(1) => return IdLevel::OneDigit,
        Some(2) if is_adjacent_transposition(bx, by) => return IdLevel::Transposition,
        _ => {}
    }
    if same_date_and_sequence {
        return IdLevel::RegionOnly;
    }
    if let (Some(p), Some(q)) = (date_x, date_y) {
        // One date, sequences apart by more than one slip, and one number sound: two children
        // born on one day. When both numbers are damaged, two slips could explain it.
        let one_slip = hamming(p, q) == Some(1) || is_adjacent_transposition(p, q);
        if p[..8] == q[..8] && (a.id_own || b.id_own) && !one_slip {
            return IdLevel::OtherSequence;
        }
    }
    if bx.len().abs_diff(by.len()) == 1 && strsim::levenshtein(x, y) == 1 {
        return IdLevel::OneDigit;
    }
    IdLevel::Different
}

fn hamming(x: &[u8], y: &[u8]) -> Option<usize> {
    (x.len() == y.len()).then(|| x.iter().zip(y).filter(|(p, q)| p != q).count())
}

fn is_adjacent_transposition(x: &[u8], y: &[u8]) -> bool {
    let diff: Vec<usize> = (0..x.len()).filter(|&i| x[i] != y[i]).collect();
    matches!(diff.as_slice(), [i, j] if *j == i + 1 && x[*i] == y[*j] && x[*j] == y[*i])
}

fn school_level(a: &Side, b: &Side) -> SchoolLevel {
    let (Some(x), Some(y)) = (a.school, b.school) else { return SchoolLevel::Missing };
    if x == y {
        return SchoolLevel::SameSchool;
    }
    match (a.grade, b.grade) {
        (Some(g), Some(h)) if (g - h).abs() <= 1 => SchoolLevel::GradeContinuity,
        _ => SchoolLevel::Different,
    }
}

fn guardian_level(a: &Side, b: &Side) -> GuardianLevel {
    let both = |x: Option<&str>, y: Option<&str>| x.zip(y).map(|(x, y)| x == y);
    match (both(a.guardian_phone, b.guardian_phone), both(a.guardian_name, b.guardian_name)) {
        (Some(true), _) => GuardianLevel::Phone,
        (_, Some(true)) => GuardianLevel::Name,
        (Some(false), Some(false)) => GuardianLevel::BothDiffer,
        (Some(false), None) | (None, Some(false)) => GuardianLevel::OneDiffers,
        (None, None) => GuardianLevel::Missing,
    }
}

/// How far (in days) a valid number's date may be from the recorded birth date and still be the
/// child's own number: a typed birth date may be a year off, a guardian's number is decades off.
pub const OWN_NUMBER_DAYS: i32 = 400;

/// Whether each record carries a number of its own ([`Side::id_own`]): valid, not a
/// spreadsheet's remains, and of the record's birth date. Pairs of two such different numbers
/// are decided apart, so blocking need not make them.
pub fn own_numbers(records: &DataFrame, valid: &[bool]) -> Result<Vec<bool>> {
    let ids = Text::of(records, "id_norm")?;
    let births = Ints::of(records, "birth_date_norm")?;
    let own = |i: usize| {
        let Some(id) = ids.get(i).filter(|_| valid[i]) else { return false };
        let consistent = match (number_date(id), births.get(i)) {
            (Some(d), Some(b)) => (d.to_epoch_days() - b).abs() <= OWN_NUMBER_DAYS,
            _ => true,
        };
        consistent && spreadsheet_digits(id).is_none()
    };
    Ok(par_row_chunks(valid.len(), |rows| rows.map(own).collect::<Vec<_>>()).concat())
}

/// The birth date a resident number carries (positions 7–14).
fn number_date(id: &str) -> Option<Date> {
    let digits = id.get(6..14)?;
    Date::new(digits[..4].parse().ok()?, digits[4..6].parse().ok()?, digits[6..].parse().ok()?)
}

/// Bits of a [`number_key`] below the birth date and sequence: the region, 6 digits (< 2²⁰).
const REGION_BITS: u32 = 20;

/// A number's birth date and sequence (positions 7–17, 11 digits < 2³⁷) above its region
/// (positions 1–6) in one word: sorted, the numbers of one date and sequence lie together, and
/// those of one region together among them.
pub fn number_key(date_sequence: u64, region: u32) -> u64 {
    date_sequence << REGION_BITS | u64::from(region)
}

/// The birth date and sequence of a [`number_key`].
pub fn key_date_sequence(key: u64) -> u64 {
    key >> REGION_BITS
}

/// The region of a [`number_key`].
pub fn key_region(key: u64) -> u32 {
    (key & ((1 << REGION_BITS) - 1)) as u32
}

/// The columns of a records table that [`Features`] reads: what a cluster sends with each pair
/// (tests/stages.rs compares on these alone and finds every level of one machine).
pub const COMPARED: [&str; 14] = [
    "name",
    "name_norm",
    "name_pinyin",
    "name_pinyin_alt",
    "birth_date_norm",
    "id_norm",
    "id_valid",
    "sex_norm",
    "school_code_norm",
    "grade_norm",
    "guardian_name",
    "guardian_phone_norm",
    "household_address",
    "ethnicity_norm",
];

/// The compared columns of a normalized records table, read in place.
pub struct Features<'a> {
    name_raw: Text<'a>,
    name: Text<'a>,
    pinyin: Text<'a>,
    pinyin_alt: Text<'a>,
    birth: Ints<'a>,
    id: Text<'a>,
    id_valid: Vec<bool>,
    id_own: Vec<bool>,
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
        let id_valid: Vec<bool> = records.column("id_valid")?.bool()?.iter().map(|v| v == Some(true)).collect();
        let id_own = own_numbers(records, &id_valid)?;
        Ok(Features {
            name_raw: Text::of(records, "name")?,
            name: Text::of(records, "name_norm")?,
            pinyin: Text::of(records, "name_pinyin")?,
            pinyin_alt: Text::of(records, "name_pinyin_alt")?,
            birth: Ints::of(records, "birth_date_norm")?,
            id: Text::of(records, "id_norm")?,
            id_valid,
            id_own,
            sex: Text::of(records, "sex_norm")?,
            school: Text::of(records, "school_code_norm")?,
            grade: Ints::of(records, "grade_norm")?,
            guardian_name: Text::optional(records, "guardian_name")?,
            guardian_phone: Text::of(records, "guardian_phone_norm")?,
            household: Text::optional(records, "household_address")?,
            ethnicity: Text::of(records, "ethnicity_norm")?,
        })
    }

    /// Whether each record's number is valid, and its own ([`own_numbers`]): what blocking
    /// restricts its rules by.
    pub fn numbers(&self) -> (&[bool], &[bool]) {
        (&self.id_valid, &self.id_own)
    }

    /// Each own number's [`number_key`]. Two numbers agreeing on the birth date and sequence
    /// and not the region meet at [`IdLevel::RegionOnly`]: `score::region_only_pairs` counts
    /// how many pairs do. Made in place, one word a record: pairs of words gathered per chunk
    /// and joined made the fit stage a 10M run's peak (4.14 GiB; 3.93 in place).
    pub fn number_keys(&self) -> Vec<u64> {
        const NONE: u64 = u64::MAX;
        let key = |i: usize| -> Option<u64> {
            let id = self.id.get(i).filter(|_| self.id_own[i])?;
            Some(number_key(id.get(6..17)?.parse().ok()?, id.get(..6)?.parse().ok()?))
        };
        let mut keys: Vec<u64> =
            THREAD_POOL.install(|| (0..self.len()).into_par_iter().map(|i| key(i).unwrap_or(NONE)).collect());
        keys.retain(|&k| k != NONE);
        keys
    }

    pub fn len(&self) -> usize {
        self.id_valid.len()
    }

    pub fn is_empty(&self) -> bool {
        self.id_valid.is_empty()
    }

    pub fn side(&self, i: usize) -> Side<'a> {
        let id = self.id.get(i);
        let id_valid = self.id_valid[i];
        let id_birth = id.filter(|_| id_valid).and_then(number_date);
        Side {
            name_raw: self.name_raw.get(i),
            name: self.name.get(i),
            pinyin: self.pinyin.get(i),
            pinyin_alt: self.pinyin_alt.get(i),
            birth: self.birth.get(i).map(Date::from_epoch_days),
            id_birth,
            id,
            id_valid,
            id_own: self.id_own[i],
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

    /// The pinyin of record `i`'s name (for term frequencies of homophones).
    pub fn pinyin(&self, i: usize) -> Option<&'a str> {
        self.pinyin.get(i)
    }

    /// The guardian's name on record `i` (for term frequencies: 王/张/李 fathers repeat too).
    pub fn guardian_name(&self, i: usize) -> Option<&'a str> {
        self.guardian_name.get(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::name::{name_pinyin, normalize_name};

    /// A side as normalization makes it from a typed name.
    fn named(raw: &'static str) -> Side<'static> {
        let norm: &'static str = Box::leak(normalize_name(raw).0.into_boxed_str());
        let pinyin: &'static str = Box::leak(name_pinyin(norm).into_boxed_str());
        Side { name_raw: Some(raw), name: Some(norm), pinyin: Some(pinyin), ..Side::default() }
    }

    fn born(y: i32, m: u32, d: u32) -> Side<'static> {
        Side { birth: Date::new(y, m, d), ..Side::default() }
    }

    fn numbered(id: &'static str) -> Side<'static> {
        let id_valid = crate::normalize::id_number::is_valid(id, Date::new(2026, 11, 29).unwrap());
        Side { id: Some(id), id_valid, id_own: id_valid && spreadsheet_digits(id).is_none(), ..Side::default() }
    }

    /// `body` (17 digits) with its check character.
    fn valid(body: &str) -> &'static str {
        let mut id = body.to_owned();
        id.push(char::from(crate::normalize::id_number::check_char(body.as_bytes()).unwrap()));
        Box::leak(id.into_boxed_str())
    }

    #[test]
    fn name_levels() {
        use NameLevel as N;
        let zw = named("张伟");
        assert_eq!(name_level(&zw, &named("张伟")), N::Exact);
        assert_eq!(name_level(&zw, &named("張偉")), N::Normalized, "traditional form");
        assert_eq!(name_level(&zw, &named("张 伟")), N::Normalized, "stray space");
        assert_eq!(name_level(&named("李娜"), &named("李娜2")), N::Normalized, "a digit typed into the name");
        assert_eq!(name_level(&named("王□"), &named("王")), N::Normalized, "a placeholder symbol");
        assert_eq!(name_level(&named("张𠮷"), &named("张吉")), N::Pinyin, "Extension B and its substitute");
        assert_eq!(name_level(&named("王[女吉]"), &named("王吉")), N::Unreadable, "a described character");
        assert_eq!(name_level(&named("王[女吉]"), &named("王⿰女吉")), N::Normalized, "described two ways");
        assert_eq!(name_level(&named("王[女吉]"), &named("王[女乐]")), N::Different, "twins: two characters");
        assert_eq!(name_level(&named("王\u{E816}"), &named("王 \u{E816}")), N::Normalized, "one private code");
        assert_eq!(name_level(&named("王\u{E816}"), &named("王\u{E817}")), N::Unreadable, "two codes: may be one");
        assert_eq!(name_level(&named("王\u{E816}"), &named("王[女吉]")), N::Unreadable);
        assert_eq!(name_level(&named("王\u{E816}"), &named("李\u{E816}")), N::Different);
        assert_eq!(name_level(&named("王\u{E816}芳"), &named("王芳")), N::Different, "lengths differ");
        assert_eq!(name_level(&named("钟\u{E816}"), &named("钟䶮")), N::Normalized, "a private code for a rare one");
        assert_eq!(name_level(&named("叶佳[龙天]"), &named("叶佳俨7")), N::Unreadable, "a digit typed beside");
        assert_eq!(name_level(&named("Liu Ziji"), &named("刘子⿱土口")), N::Unreadable, "typed in pinyin");
        assert_eq!(name_level(&named("林子\u{E816}"), &named("Lin Ziji")), N::Unreadable);
        assert_eq!(name_level(&named("Liu Zi"), &named("刘子⿱土口")), N::Different, "no syllable for it");
        assert_eq!(name_level(&named("Wang Ziji"), &named("刘子⿱土口")), N::Different, "another surname");
        assert_eq!(name_level(&named("朱明⿱土口"), &named("朱明𠮷")), N::Normalized, "a description of a rare one");
        assert_eq!(name_level(&named("周梓\u{E816}"), &named("周子𠮷")), N::Pinyin, "and a homophone beside it");
        assert_eq!(name_level(&named("周梓\u{E816}"), &named("周子吉")), N::Unreadable, "against a common one");
        assert_eq!(name_level(&named("周梓\u{E816}"), &named("周强𠮷")), N::Different, "another character beside it");
        assert_eq!(name_level(&zw, &named("张炜")), N::Pinyin, "homophone");
        let hang = Side { pinyin_alt: Some("wang hang"), ..named("王行") };
        assert_eq!(name_level(&hang, &named("王航")), N::Pinyin, "any heteronym reading");
        assert_eq!(name_level(&named("Wang Xinyi"), &named("王欣怡")), N::Pinyin, "typed in pinyin");
        assert_eq!(name_level(&named("王欣怡"), &named("WANGXINYI")), N::Pinyin, "typed in pinyin, no space");
        assert_eq!(name_level(&named("Xinyi Wang"), &named("王欣怡")), N::Pinyin, "given name first");
        assert_eq!(name_level(&named("张森"), &named("张深")), N::PinyinClose, "zhang sen / zhang shen");
        assert_eq!(name_level(&named("王一博"), &named("王二博")), N::HanClose, "one character, pinyin apart");
        assert_eq!(name_level(&zw, &named("张强")), N::Different, "a brother");
        assert_eq!(name_level(&zw, &named("李娜")), N::Different);
        assert_eq!(name_level(&named("Wang Xinyi"), &named("王心如")), N::Different);
        assert_eq!(name_level(&zw, &Side::default()), N::Missing);
        assert_eq!(name_level(&zw, &named("")), N::Missing, "an empty name is missing, not different");
        assert_eq!(name_level(&zw, &named("2")), N::Missing, "no name at all in it");
    }

    #[test]
    fn fuzzy_homophones_are_a_pinyin_keyboards_slips() {
        assert!(fuzzy_homophones("zhang sen", "zhang shen"), "平翘舌");
        assert!(fuzzy_homophones("li ming", "li min"), "前后鼻音");
        assert!(fuzzy_homophones("wang liang", "wang lian"));
        assert!(fuzzy_homophones("liu na", "liu la"), "n/l");
        assert!(fuzzy_homophones("hu fei", "hu hei"), "f/h");
        assert!(fuzzy_homophones("zhang qian", "zhang qian"));
        assert!(!fuzzy_homophones("zhang qian", "zhang ran"), "茜/苒: another name");
        assert!(!fuzzy_homophones("liu hong chuan", "liu hong hao"), "川/浩");
        assert!(!fuzzy_homophones("wang bo", "wang yi bo"), "another length");
        assert!(!fuzzy_homophones("li tong", "li ton"), "ong has no -n form");
        assert!(fuzzy_homophones("", ""));
        assert!(!fuzzy_homophones("zh\u{0}", "z"), "no panic on any text");
    }

    /// A child of the family of guardian 张建国 (13912345678).
    fn of_family(raw: &'static str) -> Side<'static> {
        Side { guardian_name: Some("张建国"), guardian_phone: Some("13912345678"), ..named(raw) }
    }

    #[test]
    fn in_one_family_a_name_that_sounds_apart_is_a_siblings() {
        use NameLevel as N;
        assert_eq!(name_level(&of_family("张茜"), &of_family("张苒")), N::Different, "twin sisters");
        assert_eq!(name_level(&of_family("刘宏川"), &of_family("刘宏浩")), N::Different, "twin brothers");
        assert_eq!(name_level(&of_family("张森"), &of_family("张深")), N::PinyinClose, "a keyboard's slip");
        assert_eq!(name_level(&of_family("张伟"), &of_family("张炜")), N::Pinyin, "a homophone");
        assert_eq!(name_level(&of_family("张茜"), &of_family("张茜")), N::Exact);
        assert_eq!(name_level(&of_family("杨欣"), &of_family("杨曦心")), N::Different, "a sister");
        assert_eq!(name_level(&of_family("吕一海"), &of_family("吕一勇")), N::Different, "lü: a known reading");
        assert_eq!(name_level(&of_family("王[女吉]"), &of_family("王吉")), N::Unreadable, "an unknown character");
        let unread = Side { pinyin: Some("wang \u{30000}"), ..of_family("王\u{30000}") };
        assert_eq!(name_level(&unread, &of_family("王浩")), N::Different, "not one character apart either");
        assert_eq!(name_level(&named("刘宏川"), &named("刘宏浩")), N::HanClose, "strangers: one character apart");
        let other_phone = Side { guardian_phone: Some("13800000000"), ..of_family("刘宏浩") };
        assert_eq!(name_level(&of_family("刘宏川"), &other_phone), N::Different, "one guardian by name");
    }

    #[test]
    fn a_number_key_keeps_the_date_sequence_above_the_region() {
        for (id, date_sequence, region) in
            [("11010519491231002X", 19491231002, 110105), ("440524188001010014", 18800101001, 440524)]
        {
            let key = number_key(id[6..17].parse().unwrap(), id[..6].parse().unwrap());
            assert_eq!((key_date_sequence(key), key_region(key)), (date_sequence, region), "{id}");
        }
        // The largest a number can hold, and the order: date and sequence first, region next.
        let top = number_key(99_999_999_999, 999_999);
        assert_eq!((key_date_sequence(top), key_region(top)), (99_999_999_999, 999_999));
        assert!(number_key(19491231002, 999_999) < number_key(19491231003, 110_105));
    }

    #[test]
    fn on_one_number_a_name_that_sounds_apart_is_another_childs() {
        use NameLevel as N;
        let numbered = |raw: &'static str, id: &'static str| Side { id: Some(id), ..named(raw) };
        let number = "211221201503092474";
        assert_eq!(name_level(&numbered("刘佳婷", number), &numbered("刘佳怡", number)), N::Different, "misuse");
        assert_eq!(name_level(&numbered("张森", number), &numbered("张深", number)), N::PinyinClose, "a slip");
        assert_eq!(name_level(&numbered("李娜", number), &numbered("李纳", number)), N::Pinyin, "a homophone");
        let other = numbered("刘佳怡", "211221201503092454");
        assert_eq!(name_level(&numbered("刘佳婷", number), &other), N::HanClose, "two numbers: a typo may be");
        let rounded_away = "2.11E+17";
        assert_eq!(name_level(&numbered("刘佳婷", rounded_away), &numbered("刘佳怡", rounded_away)), N::HanClose);
    }

    /// Twins and borrowed numbers against a typo: the three shapes of issue #26.
    #[test]
    fn twins_and_borrowed_numbers_are_two_children() {
        let child = |raw: &'static str, id: &'static str| Side {
            birth: Date::new(2015, 3, 9),
            id: Some(id),
            id_valid: crate::normalize::id_number::is_valid(id, Date::new(2026, 11, 29).unwrap()),
            school: Some("3421000001"),
            grade: Some(5),
            sex: Some("2"),
            household: Some("辽宁省铁岭市铁岭县"),
            ..of_family(raw)
        };
        let own = |s: Side<'static>| Side { id_own: s.id_valid, ..s };
        let number = valid("21122120150309246");
        // 张苒 registered with her twin sister's number.
        let borrowed = compare(&own(child("张茜", number)), &own(child("张苒", number)));
        assert!(borrowed.is_id_conflict() && borrowed.decided_apart(), "{borrowed:?}");
        // Twins …2474 and …2454: one digit of the sequence apart, the second's check digit wrong.
        let (first, second) = ("211221201503092474", "211221201503092454");
        assert!(crate::normalize::id_number::is_valid(first, Date::new(2026, 11, 29).unwrap()));
        assert!(!crate::normalize::id_number::is_valid(second, Date::new(2026, 11, 29).unwrap()));
        let twins = compare(&own(child("刘宏川", first)), &own(child("刘宏浩", second)));
        assert_eq!(twins.id, IdLevel::OneDigit);
        assert!(twins.decided_apart() && !twins.is_id_conflict(), "{twins:?}");
        // One child, a digit of her number mistyped at the second school.
        let typo = compare(&own(child("张茜", first)), &own(child("张茜", second)));
        assert!(!typo.decided_apart() && typo.identifies(), "{typo:?}");
    }

    #[test]
    fn level_tables_follow_the_enums() {
        assert_eq!(IdLevel::ALL.len(), IdLevel::LABELS.len());
        assert_eq!(IdLevel::ALL.len(), IdLevel::M_PRIORS.len());
        for (f, labels) in LEVELS.iter().enumerate() {
            assert_eq!(labels[0], "missing", "{}", FIELDS[f]);
            assert_eq!(labels.len(), M_PRIORS[f].len(), "{}", FIELDS[f]);
            assert_eq!(labels.len(), TERMS[f].len(), "{}", FIELDS[f]);
            let total: f64 = M_PRIORS[f][1..].iter().sum();
            assert!((total - 1.0).abs() < 1e-9, "{} priors sum to {total}", FIELDS[f]);
        }
        assert_eq!(IdLevel::BothValid.label(), "both_valid");
        assert_eq!(Levels { id: IdLevel::Spreadsheet, ..Levels::default() }.indices()[ID], 2);
        let levels = Levels { name: NameLevel::Pinyin, guardian: GuardianLevel::BothDiffer, ..Levels::default() };
        assert_eq!(Levels::from_indices(levels.indices().map(u32::from)), Some(levels));
        // Numbers from outside that are no level: refused, never wrapped or clamped.
        let mut outside = levels.indices().map(u32::from);
        outside[GUARDIAN] = GuardianLevel::ALL.len() as u32;
        assert_eq!(Levels::from_indices(outside), None);
        outside[GUARDIAN] = 256;
        assert_eq!(Levels::from_indices(outside), None, "256 is not level 0");
        assert_eq!((FIELDS[SCHOOL], FIELDS[ETHNICITY]), ("school", "ethnicity"));
        let weighed: Vec<(&str, &str)> = (0..FIELDS.len())
            .flat_map(|f| {
                (0..LEVELS[f].len()).filter(move |&l| TERMS[f][l].is_some()).map(move |l| (FIELDS[f], LEVELS[f][l]))
            })
            .collect();
        assert_eq!(weighed, [("name", "exact"), ("name", "normalized"), ("name", "pinyin"), ("guardian", "name")]);
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
        use BirthLevel as B;
        let b = born(2014, 3, 5);
        assert_eq!(birth_level(&b, &born(2014, 3, 5)), B::Exact);
        let id_says = Side { id_birth: Date::new(2014, 3, 9), ..born(2014, 3, 8) };
        assert_eq!(birth_level(&born(2014, 3, 9), &id_says), B::IdDate, "equals the other's ID date");
        assert_eq!(birth_level(&b, &born(2014, 3, 4)), B::OneDay);
        assert_eq!(birth_level(&born(2014, 2, 28), &born(2014, 3, 1)), B::OneDay, "across a month");
        assert_eq!(birth_level(&b, &born(2014, 5, 3)), B::DayMonthSwap);
        assert_eq!(birth_level(&b, &born(2013, 3, 5)), B::YearOff);
        assert_eq!(birth_level(&born(2010, 3, 5), &born(2009, 3, 5)), B::YearOff, "two digits of the year");
        assert_eq!(birth_level(&b, &born(2014, 3, 25)), B::OneDigit);
        assert_eq!(birth_level(&b, &born(2012, 7, 19)), B::Different);
        assert_eq!(birth_level(&b, &Side::default()), B::Missing);
    }

    #[test]
    fn id_levels() {
        use IdLevel as I;
        let id = numbered("44011320141005001X");
        assert_eq!(id_level(&id, &numbered("44011320141005001X")), I::Exact);
        assert_eq!(id_level(&id, &numbered("44011320141005007X")), I::OneDigit);
        assert_eq!(id_level(&id, &numbered("44011320141050001X")), I::Transposition, "adjacent digits swapped");
        assert_eq!(id_level(&id, &numbered("4401132014100500")), I::Different);
        assert_eq!(id_level(&id, &numbered("44011320141005001")), I::OneDigit, "check character dropped");
        assert_eq!(id_level(&id, &numbered("440113201410050301X")), I::OneDigit, "a digit doubled");
        let twin = numbered(valid("44011320141005003"));
        assert!(twin.id_valid);
        assert_eq!(id_level(&id, &twin), I::BothValid, "twins: two valid numbers");
        assert_eq!(id_level(&id, &Side::default()), I::Missing);
    }

    #[test]
    fn six_digits_of_a_general_cell_are_no_evidence() {
        let (a, b) = (numbered("2.11381E+17"), numbered("2.11381E+17"));
        assert_eq!(id_level(&a, &b), IdLevel::Missing, "a school's whole column reads so");
        assert_eq!(id_level(&a, &numbered(valid("21138120090823200"))), IdLevel::Missing);
    }

    #[test]
    fn a_damaged_number_is_still_evidence() {
        use IdLevel as I;
        let full = numbered("211221200903152515");
        assert!(full.id_valid);
        for kept in ["211221200903153000", "2.11221200903153E+17", "2.11221200903152E+17"] {
            assert_eq!(id_level(&full, &numbered(kept)), I::Spreadsheet, "{kept}");
            assert_eq!(id_level(&numbered(kept), &full), I::Spreadsheet, "{kept}");
        }
        assert_eq!(id_level(&numbered("211221200903153000"), &numbered("2.11221200903153E+17")), I::Spreadsheet);
        assert_eq!(id_level(&full, &numbered("211221200903172000")), I::Different, "another number's remains");
        let lucky = numbered("211221200903162000");
        let full_of_lucky = numbered("211221200903161980");
        assert!(lucky.id_valid && full_of_lucky.id_valid, "remains that pass MOD 11-2 by chance");
        assert_eq!(id_level(&full_of_lucky, &lucky), I::Spreadsheet);
        // Region mistyped and the check character recomputed: both valid, one child.
        let moved = numbered(valid("21122220090315251"));
        assert!(moved.id_valid);
        assert_eq!(id_level(&full, &moved), I::RegionOnly);
        // A region in no table, the checksum right: still a well-formed number.
        let nowhere = numbered(valid("19122120090315251"));
        assert!(nowhere.id_valid);
        assert_eq!(id_level(&full, &nowhere), I::RegionOnly);
        // Region and check both wrong: date and sequence still say one child.
        assert_eq!(id_level(&full, &numbered("991221200903152510")), I::RegionOnly);
        // Same birth date, another sequence, one number malformed: two children of one day.
        assert_eq!(id_level(&full, &numbered("211221200903157730")), I::OtherSequence);
        // Both damaged (a swap on one, the region on the other): two slips, not two children.
        let swapped = numbered("211221200903155215");
        assert_eq!(id_level(&swapped, &numbered("991221200903152510")), I::Different);
        // A guardian's legacy number, valid but not the child's: no verdict of two people.
        let guardians = Side { id_own: false, ..numbered(valid("21122119750305066")) };
        assert!(guardians.id_valid);
        assert_eq!(id_level(&full, &guardians), I::Different);
        assert_eq!(id_level(&full, &numbered(valid("21122120090315773"))), I::BothValid);
        let levels = |id| Levels { name: NameLevel::Pinyin, id, ..Levels::default() };
        assert!(levels(I::OtherSequence).decided_apart());
        assert!(!levels(I::RegionOnly).decided_apart() && !levels(I::Spreadsheet).decided_apart());
    }

    #[test]
    fn a_birth_date_confirmed_by_each_number_is_no_typo() {
        let a = Side { id: Some("211322201810178579"), ..born(2018, 10, 17) };
        let b = Side { id: Some("210321201810186000"), ..born(2018, 10, 18) };
        assert_eq!(birth_level(&a, &b), BirthLevel::Different, "two children a day apart");
        let typed = Side { id: Some("210321201810176000"), ..born(2018, 10, 18) };
        assert_eq!(birth_level(&a, &typed), BirthLevel::OneDay, "the number says the 17th: a slip");
    }

    #[test]
    fn identity_needs_the_name_or_the_number() {
        use IdLevel as I;
        use NameLevel as N;
        let with = |name, id| Levels { name, id, birth: BirthLevel::Exact, ..Levels::default() };
        assert!(with(N::Exact, I::Missing).identifies());
        assert!(with(N::Pinyin, I::Missing).identifies());
        assert!(with(N::Different, I::Exact).identifies());
        assert!(with(N::HanClose, I::OneDigit).identifies());
        assert!(with(N::Missing, I::Transposition).identifies());
        let family = |name, id| Levels { guardian: GuardianLevel::Phone, ..with(name, id) };
        assert!(family(N::Missing, I::Spreadsheet).identifies());
        assert!(!with(N::HanClose, I::Missing).identifies(), "a twin's name one character off, no number");
        assert!(!with(N::Unreadable, I::Missing).identifies(), "an unknown character is not enough alone");
        assert!(with(N::Unreadable, I::Exact).identifies() && !with(N::Unreadable, I::Exact).decided_apart());
        assert!(!with(N::Different, I::Different).identifies(), "another name, a number two typos away");
        assert!(!with(N::PinyinClose, I::Missing).identifies(), "pinyin merely close");
        assert!(with(N::Different, I::Exact).decided_apart(), "one number, two names: an ID conflict");
        assert!(with(N::Different, I::Exact).is_id_conflict());
        assert!(!with(N::Missing, I::Exact).is_id_conflict(), "an empty name is no conflict");
        assert!(!with(N::Missing, I::Exact).decided_apart());
        assert!(with(N::Exact, I::BothValid).decided_apart(), "one name, two valid numbers: namesakes or twins");
        assert!(!with(N::Exact, I::Missing).decided_apart() && !with(N::HanClose, I::OneDigit).decided_apart());
        // 陈梓涵 / 陈紫涵: a popular homophone, one number malformed, other birthday, other family.
        let popular = Levels {
            name: N::Pinyin,
            birth: BirthLevel::Different,
            id: I::Different,
            guardian: GuardianLevel::BothDiffer,
            ..Levels::default()
        };
        assert!(popular.decided_apart(), "a name alone is not a person");
        assert!(!Levels { birth: BirthLevel::Exact, ..popular }.decided_apart(), "name and birthday: weigh it");
        assert!(!Levels { guardian: GuardianLevel::Phone, ..popular }.decided_apart(), "name and family: weigh it");
        // Twins, one number through a spreadsheet: the same 15 digits, names one character apart.
        assert!(with(N::HanClose, I::Spreadsheet).decided_apart());
        assert!(!family(N::Missing, I::Spreadsheet).decided_apart() && !with(N::Pinyin, I::RegionOnly).decided_apart());
        assert!(with(N::PinyinClose, I::RegionOnly).decided_apart(), "one date and sequence, another county");
        let blank = Levels { guardian: GuardianLevel::BothDiffer, ..with(N::Missing, I::Spreadsheet) };
        assert!(blank.decided_apart(), "15 digits a county's birthday shares, no name, another family");
        assert!(!Levels { guardian: GuardianLevel::Phone, ..blank }.decided_apart());
        // Date and sequence, no name, another guardian: twins' sequences differ, so it is weighed.
        assert!(!Levels { id: I::RegionOnly, ..blank }.decided_apart(), "a region mistyped, a name left blank");
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
        assert_eq!(
            (same.sex, same.school, same.guardian),
            (EqualityLevel::Missing, SchoolLevel::SameSchool, GuardianLevel::Phone)
        );
        let moved = Side { school: Some("2121000002"), grade: Some(4), guardian_phone: None, ..a };
        assert_eq!(school_level(&a, &moved), SchoolLevel::GradeContinuity);
        assert_eq!(guardian_level(&a, &moved), GuardianLevel::Name, "same guardian name, phone unknown");
        let far = Side { school: Some("3121000002"), grade: Some(7), guardian_name: Some("李四"), ..moved };
        assert_eq!(school_level(&a, &far), SchoolLevel::Different);
        assert_eq!(guardian_level(&a, &far), GuardianLevel::OneDiffers, "only the names to go by");
        let other = Side { guardian_phone: Some("13900139000"), ..far };
        assert_eq!(guardian_level(&a, &other), GuardianLevel::BothDiffer, "other name and other phone");
        let new_phone = Side { guardian_phone: Some("13900139000"), ..a };
        assert_eq!(guardian_level(&a, &new_phone), GuardianLevel::Name);
    }
}

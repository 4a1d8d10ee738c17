//! Student names: width, whitespace, middle dots, traditional forms and toneless pinyin.

use std::collections::HashMap;
use std::sync::LazyLock;

use pinyin::{ToPinyin, ToPinyinMulti};
use unicode_normalization::UnicodeNormalization;

use crate::datasets;

/// The standard middle dot for transliterated minority names (民委发〔2016〕33号).
pub const MIDDLE_DOT: char = '\u{00B7}';

/// Middle-dot look-alikes seen in data, after NFKC (which folds U+FF65 to U+30FB, U+FF0E to `.`
/// and U+0387 to U+00B7, but leaves the rest alone).
fn is_dot_variant(c: char) -> bool {
    matches!(
        c,
        '\u{30FB}' | '\u{2022}' | '\u{2027}' | '\u{2219}' | '\u{22C5}' | '.' | '\u{FF0E}' | '\u{FF65}' | '\u{0387}'
    )
}

static TRADITIONAL_TO_SIMPLIFIED: LazyLock<HashMap<char, char>> = LazyLock::new(|| {
    datasets::tsv_rows(datasets::TRADITIONAL_TO_SIMPLIFIED_TSV)
        .filter_map(|row| Some((row.first()?.chars().next()?, row.get(1)?.chars().next()?)))
        .collect()
});

static SURNAME_READINGS: LazyLock<HashMap<&'static str, &'static str>> = LazyLock::new(|| {
    datasets::tsv_rows(datasets::SURNAMES_TSV).filter_map(|row| Some((row[0], *row.get(1)?))).collect()
});

/// What normalization found in a name, for the NAME_* problems.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NameFlags {
    pub whitespace: bool,
    pub dot_variant: bool,
    pub traditional: bool,
    pub latin: bool,
    pub digit: bool,
    /// Characters that are neither Han, Latin, digit nor the middle dot: `□`, `?`, `*`, brackets…
    pub symbol: bool,
}

/// The form names are compared on: NFKC, all whitespace removed, middle dots unified to U+00B7,
/// traditional characters simplified one by one (legally distinct surnames such as 萧/肖, 阎/闫
/// and 於/于 are kept apart by the table). Latin letters are upper-cased.
pub fn normalize_name(raw: &str) -> (String, NameFlags) {
    let mut flags = NameFlags::default();
    let mut name = String::with_capacity(raw.len());
    for c in raw.nfkc() {
        if c.is_whitespace() {
            flags.whitespace = true;
        } else if is_dot_variant(c) {
            flags.dot_variant = true;
            name.push(MIDDLE_DOT);
        } else if let Some(&simplified) = TRADITIONAL_TO_SIMPLIFIED.get(&c) {
            flags.traditional = true;
            name.push(simplified);
        } else if c.is_ascii_alphabetic() {
            flags.latin = true;
            name.push(c.to_ascii_uppercase());
        } else {
            flags.digit |= c.is_ascii_digit();
            flags.symbol |= !(c.is_ascii_digit() || c == MIDDLE_DOT || is_han(c));
            name.push(c);
        }
    }
    (name, flags)
}

/// CJK unified ideographs, including the extensions where rare characters (生僻字) live.
pub fn is_han(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3134F)
}

/// The surname of a normalized Han name: a known compound surname (欧阳, 上官 …) or the first
/// character.
pub fn surname(name: &str) -> &str {
    let mut ends = name.char_indices().map(|(i, c)| i + c.len_utf8());
    let (Some(one), two) = (ends.next(), ends.next()) else {
        return "";
    };
    match two {
        Some(two) if SURNAME_READINGS.get(&name[..two]).is_some() => &name[..two],
        _ => &name[..one],
    }
}

/// Toneless pinyin, syllables separated by spaces (`欧阳子轩` → `ou yang zi xuan`), with the surname
/// read by the override table (单 shan, 曾 zeng …). Runs of Latin letters or digits stay one
/// lower-case word; middle dots and symbols are not read; a Han character without a reading is
/// kept as itself.
pub fn name_pinyin(name: &str) -> String {
    let mut out = String::with_capacity(name.len() * 2);
    for_each_syllable(name, |syllable| {
        if !out.is_empty() {
            out.push(' ');
        }
        match syllable {
            Syllable::Fixed(reading) => out.push_str(reading),
            Syllable::Han(c) => match c.to_pinyin() {
                Some(p) => out.push_str(p.plain()),
                None => out.push(c),
            },
            Syllable::Text(text) => out.extend(text.chars().map(|c| c.to_ascii_lowercase())),
        }
    });
    out
}

/// Characters beyond which a text is no name to compare closely (the longest transliterated
/// minority names run to about 20).
pub const LONGEST_NAME: usize = 40;

/// Every full reading of a name whose characters include heteronyms (多音字), the primary
/// reading ([`name_pinyin`]) first, at most `limit` of them. Homophones match on any reading.
pub fn name_pinyin_variants(name: &str, limit: usize) -> Vec<String> {
    // Every variant is rebuilt per character: quadratic, harmless for a name, not for the
    // 32,767 characters a damaged cell may hold.
    if name.chars().nth(LONGEST_NAME).is_some() {
        return vec![name_pinyin(name)];
    }
    let mut variants = vec![String::new()];
    for_each_syllable(name, |syllable| {
        let choices: Vec<String> = match syllable {
            Syllable::Fixed(reading) => vec![reading.to_owned()],
            Syllable::Han(c) => match c.to_pinyin_multi() {
                Some(multi) => {
                    let mut readings: Vec<String> = Vec::with_capacity(multi.count());
                    // The crate's primary reading comes first in `to_pinyin_multi` too.
                    for p in multi {
                        if !readings.iter().any(|r| r == p.plain()) {
                            readings.push(p.plain().to_owned());
                        }
                    }
                    readings
                }
                None => vec![c.to_string()],
            },
            Syllable::Text(text) => vec![text.to_ascii_lowercase()],
        };
        let mut next = Vec::with_capacity(limit.min(variants.len() * choices.len()));
        'outer: for prefix in &variants {
            for reading in &choices {
                if next.len() == limit {
                    break 'outer;
                }
                next.push(if prefix.is_empty() { reading.clone() } else { format!("{prefix} {reading}") });
            }
        }
        variants = next;
    });
    variants.retain(|v| !v.is_empty());
    variants
}

/// Whether a character of the name (outside an overridden surname) has more than one reading.
pub fn has_heteronym(name: &str) -> bool {
    let mut any = false;
    for_each_syllable(name, |syllable| {
        if let Syllable::Han(c) = syllable {
            any |= c.to_pinyin_multi().is_some_and(|m| m.count() > 1);
        }
    });
    any
}

/// What is read aloud in a name.
enum Syllable<'a> {
    /// A syllable of the surname, read by the override table.
    Fixed(&'static str),
    Han(char),
    /// A run of Latin letters or digits.
    Text(&'a str),
}

fn for_each_syllable<'a>(name: &'a str, mut f: impl FnMut(Syllable<'a>)) {
    let family = surname(name);
    let rest = match SURNAME_READINGS.get(family) {
        Some(reading) if !family.is_empty() => {
            reading.split(' ').for_each(|s| f(Syllable::Fixed(s)));
            &name[family.len()..]
        }
        _ => name,
    };
    let mut text_start: Option<usize> = None;
    for (i, c) in rest.char_indices() {
        if c.is_ascii_alphanumeric() {
            text_start.get_or_insert(i);
            continue;
        }
        if let Some(start) = text_start.take() {
            f(Syllable::Text(&rest[start..i]));
        }
        if is_han(c) {
            f(Syllable::Han(c));
        }
    }
    if let Some(start) = text_start {
        f(Syllable::Text(&rest[start..]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(raw: &str) -> String {
        normalize_name(raw).0
    }

    #[test]
    fn whitespace_is_stripped_everywhere() {
        for raw in ["张 伟", " 张伟 ", "张\u{3000}伟", "张\t伟", "张\u{00A0}伟"] {
            let (name, flags) = normalize_name(raw);
            assert_eq!(name, "张伟", "{raw:?}");
            assert!(flags.whitespace, "{raw:?}");
        }
        assert_eq!(normalize_name("张伟").1, NameFlags::default());
    }

    #[test]
    fn every_middle_dot_variant_becomes_u00b7() {
        for dot in [
            '\u{00B7}', '\u{30FB}', '\u{FF65}', '\u{2022}', '\u{2027}', '\u{2219}', '\u{22C5}', '\u{0387}', '.',
            '\u{FF0E}',
        ] {
            let raw = format!("阿依古丽{dot}买买提");
            let (name, flags) = normalize_name(&raw);
            assert_eq!(name, "阿依古丽·买买提", "U+{:04X}", dot as u32);
            assert_eq!(flags.dot_variant, dot != '\u{00B7}' && dot != '\u{0387}', "U+{:04X}", dot as u32);
            assert!(!flags.symbol);
        }
    }

    #[test]
    fn traditional_forms_are_simplified_but_distinct_surnames_stay_apart() {
        assert_eq!(norm("張偉"), "张伟");
        assert_eq!(norm("劉德華"), "刘德华");
        assert!(normalize_name("劉").1.traditional);
        // 萧/肖, 阎/闫, 傅/付, 戴/代, 於/于 are different surnames; 侯/候 a one-stroke confusion.
        for (a, b) in [
            ("蕭", "肖"),
            ("萧", "肖"),
            ("閻", "闫"),
            ("阎", "闫"),
            ("傅", "付"),
            ("戴", "代"),
            ("於", "于"),
            ("侯", "候"),
        ] {
            assert_ne!(norm(a), norm(b), "{a}/{b}");
        }
        assert_eq!(norm("蕭"), "萧");
        assert_eq!(norm("閻"), "阎");
        assert_eq!(norm("閆"), "闫");
        assert_eq!(norm("於"), "於");
    }

    #[test]
    fn full_width_and_latin_and_digits_are_flagged() {
        let (name, flags) = normalize_name("ｊｏｈｎ");
        assert_eq!(name, "JOHN");
        assert!(flags.latin && !flags.digit);
        let (name, flags) = normalize_name("王伟2");
        assert_eq!(name, "王伟2");
        assert!(flags.digit && !flags.symbol && !flags.latin);
        assert!(normalize_name("王□").1.symbol);
        assert!(normalize_name("王?").1.symbol);
        assert!(!normalize_name("王䶮").1.symbol, "rare characters are Han");
        assert!(!normalize_name("𠇔").1.symbol);
    }

    #[test]
    fn surname_overrides_and_compound_surnames() {
        assert_eq!(name_pinyin("单雄信"), "shan xiong xin");
        assert_eq!(name_pinyin("曾国藩"), "zeng guo fan");
        assert_eq!(name_pinyin("解缙"), "xie jin");
        assert_eq!(name_pinyin("区小明"), "ou xiao ming");
        assert_eq!(name_pinyin("朴树"), "piao shu");
        assert_eq!(name_pinyin("查良镛"), "zha liang yong");
        assert_eq!(name_pinyin("欧阳子轩"), "ou yang zi xuan");
        assert_eq!(name_pinyin("尉迟恭"), "yu chi gong");
        assert_eq!(name_pinyin("万俟卨"), "mo qi xie");
        assert_eq!(surname("欧阳子轩"), "欧阳");
        assert_eq!(surname("张伟"), "张");
        assert_eq!(surname("张"), "张");
        assert_eq!(surname(""), "");
    }

    #[test]
    fn homophones_share_pinyin() {
        assert_eq!(name_pinyin("张伟"), name_pinyin("张炜"));
        assert_eq!(name_pinyin("李娜"), name_pinyin("李纳"));
        assert_ne!(name_pinyin("张伟"), name_pinyin("章伟").replace("zhang", "x"));
    }

    #[test]
    fn minority_and_latin_names() {
        assert_eq!(name_pinyin("阿依古丽·买买提"), "a yi gu li mai mai ti");
        assert_eq!(name_pinyin("JOHN·SMITH"), "john smith");
        assert_eq!(name_pinyin("王A2"), "wang a2");
        assert_eq!(name_pinyin("□"), "");
    }

    #[test]
    fn heteronyms_give_every_reading() {
        assert!(
            has_heteronym("王行") && !has_heteronym("张伟") && !has_heteronym("单伟"),
            "单 is fixed by the override"
        );
        let variants = name_pinyin_variants("王行", 8);
        assert_eq!(variants[0], name_pinyin("王行"));
        assert!(
            variants.contains(&"wang xing".to_owned()) && variants.contains(&"wang hang".to_owned()),
            "{variants:?}"
        );
        assert_eq!(
            name_pinyin_variants("单行", 8).iter().filter(|v| v.starts_with("dan")).count(),
            0,
            "surname override fixes 单"
        );
        assert_eq!(name_pinyin_variants("张伟", 8), vec!["zhang wei".to_owned()]);
        assert!(name_pinyin_variants("乐乐行行长长", 5).len() <= 5);
        let long = "长".repeat(30_000);
        assert_eq!(name_pinyin_variants(&long, 5), vec![name_pinyin(&long)], "one reading, in linear time");
    }
}

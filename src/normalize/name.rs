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

/// Readings from Unihan for characters the `pinyin` crate cannot read, most of them borrowed
/// from the character they stand for (𠮷 → 吉 ji): a name typed with the rare character then
/// matches the same name typed with its common substitute.
static UNIHAN_READINGS: LazyLock<HashMap<char, &'static str>> = LazyLock::new(|| {
    datasets::tsv_rows(datasets::UNIHAN_READINGS_TSV)
        .filter_map(|row| Some((row.first()?.chars().next()?, *row.get(2)?)))
        .collect()
});

/// What a normalized name holds in place of a character no system can compare: one in the
/// Private Use Area (a font's own code for a 生僻字) or one described by its parts (`[女吉]`,
/// `⿰女吉`). `〓` is GB 2312's own mark for a missing character.
pub const UNKNOWN_CHAR: char = '〓';

/// The toneless reading of a Han character: the crate's, else Unihan's.
fn reading(c: char) -> Option<&'static str> {
    c.to_pinyin().map(|p| p.plain()).or_else(|| UNIHAN_READINGS.get(&c).copied())
}

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
    /// A Private Use Area character, read as [`UNKNOWN_CHAR`].
    pub private_use: bool,
    /// A character described by its parts (`[女吉]`, `(女吉)`, `⿰女吉`), read as [`UNKNOWN_CHAR`].
    pub described: bool,
}

fn is_private_use(c: char) -> bool {
    matches!(c as u32, 0xE000..=0xF8FF | 0xF0000..=0x10FFFF)
}

/// Ideographic description characters: `⿰` (left-right) … `⿻`, with how many parts each takes.
fn description_arity(c: char) -> Option<usize> {
    match c {
        '⿲' | '⿳' => Some(3),
        '\u{2FF0}'..='\u{2FFB}' => Some(2),
        _ => None,
    }
}

/// How many characters of `chars` an ideographic description sequence takes (`⿰女吉`, nested
/// `⿱艹⿰女吉`), if it is one.
fn description_len(chars: &[char]) -> Option<usize> {
    let arity = description_arity(*chars.first()?)?;
    let mut at = 1;
    for _ in 0..arity {
        let part = *chars.get(at)?;
        at += if is_han(part) { 1 } else { description_len(&chars[at..])? };
    }
    Some(at)
}

/// How many characters of `chars` a bracketed description of two parts takes (`[女吉]`, `(女吉)`,
/// `【女吉】`), if it is one. Longer bracketed text is a note (`(曾用名李四)`), not a character.
fn bracketed_len(chars: &[char]) -> Option<usize> {
    let close = match chars.first()? {
        '[' => ']',
        '(' => ')',
        '【' => '】',
        '〔' => '〕',
        '{' => '}',
        _ => return None,
    };
    match chars.get(1..4)? {
        [a, b, end] if is_han(*a) && is_han(*b) && *end == close => Some(4),
        _ => None,
    }
}

/// The form names are compared on: NFKC, all whitespace removed, middle dots unified to U+00B7,
/// traditional characters simplified one by one (legally distinct surnames such as 萧/肖, 阎/闫
/// and 於/于 are kept apart by the table). Latin letters are upper-cased.
pub fn normalize_name(raw: &str) -> (String, NameFlags) {
    let mut flags = NameFlags::default();
    let mut name = String::with_capacity(raw.len());
    let (pieces, whitespace) = pieces(raw);
    flags.whitespace = whitespace;
    for piece in pieces {
        let c = match piece {
            Piece::Described(_) => {
                flags.described = true;
                name.push(UNKNOWN_CHAR);
                continue;
            }
            Piece::PrivateUse(_) => {
                flags.private_use = true;
                name.push(UNKNOWN_CHAR);
                continue;
            }
            Piece::Char(c) => c,
        };
        if is_dot_variant(c) {
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
    // A combining mark typed after a space (`A ¨`) composes once the space is gone: compose it
    // now, so that the normalized name is a fixed point.
    if flags.whitespace && !name.is_ascii() {
        name = name.nfc().collect();
    }
    (name, flags)
}

/// What a name is typed of, after NFKC: characters, and characters no system can compare.
enum Piece {
    Char(char),
    /// A character described by its parts: the Han characters of the description (`女吉` of
    /// `[女吉]` or `⿰女吉`; the layout is not compared, since brackets do not give one).
    Described(String),
    PrivateUse(char),
}

/// The pieces of a name, and whether whitespace was typed in it (dropped first, so that `⿰女 吉`
/// is the description `⿰女吉` it reads as once the space is gone).
fn pieces(raw: &str) -> (Vec<Piece>, bool) {
    let mut chars: Vec<char> = raw.nfkc().collect();
    let before = chars.len();
    chars.retain(|c| !c.is_whitespace());
    let whitespace = chars.len() != before;
    let mut pieces = Vec::with_capacity(chars.len());
    let mut at = 0;
    while let Some(&c) = chars.get(at) {
        if let Some(len) = description_len(&chars[at..]).or_else(|| bracketed_len(&chars[at..])) {
            pieces.push(Piece::Described(chars[at..at + len].iter().filter(|c| is_han(**c)).collect()));
            at += len;
            continue;
        }
        pieces.push(if is_private_use(c) { Piece::PrivateUse(c) } else { Piece::Char(c) });
        at += 1;
    }
    (pieces, whitespace)
}

/// What stands behind each [`UNKNOWN_CHAR`] of the name typed as `raw`, in order: a described
/// character's parts (`女吉`), or the Private Use Area character itself.
pub fn unknown_chars(raw: &str) -> Vec<String> {
    pieces(raw)
        .0
        .into_iter()
        .filter_map(|piece| match piece {
            Piece::Described(parts) => Some(parts),
            Piece::PrivateUse(c) => Some(c.to_string()),
            Piece::Char(_) => None,
        })
        .collect()
}

/// CJK unified ideographs, including the extensions where rare characters (生僻字) live (A–H and
/// the compatibility ideographs).
pub fn is_han(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x323AF)
}

/// What of a normalized name is a name: Han characters, Latin letters and the middle dot.
/// Digits and symbols typed into a name (`李娜2`, `王□`) are not.
pub fn is_name_char(c: char) -> bool {
    is_han(c) || c.is_ascii_alphabetic() || c == '·'
}

/// Whether a normalized name holds any of a name at all (not only digits or symbols).
pub fn has_name(name: &str) -> bool {
    name.chars().any(is_name_char)
}

/// The letters of a pinyin reading, without spaces, digits or symbols: `wang xin yi` and the
/// typed `WangXinyi` both read `wangxinyi`.
pub fn pinyin_letters(pinyin: &str) -> impl Iterator<Item = u8> + '_ {
    pinyin.bytes().filter(u8::is_ascii_alphabetic).map(|b| b.to_ascii_lowercase())
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
            Syllable::Han(c) => match reading(c) {
                Some(p) => out.push_str(p),
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
                None => vec![reading(c).map_or_else(|| c.to_string(), str::to_owned)],
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
    fn rare_characters_are_read_or_marked_unknown() {
        // Extension B: Unihan reads 𠮷 as the 吉 schools type for it.
        assert_eq!(name_pinyin(&norm("张𠮷")), "zhang ji");
        assert_eq!(name_pinyin(&norm("张吉")), "zhang ji");
        assert_eq!(name_pinyin("䶮"), "yan", "Extension A, read by the crate");
        assert!(name_pinyin_variants("张𠮷", 4).contains(&"zhang ji".to_owned()));
        for (raw, private_use) in [
            ("王\u{E816}", true),
            ("王[女吉]", false),
            ("王（女吉）", false),
            ("王⿰女吉", false),
            ("王【女吉】", false),
        ] {
            let (name, flags) = normalize_name(raw);
            assert_eq!(name, format!("王{UNKNOWN_CHAR}"), "{raw}");
            assert_eq!((flags.private_use, flags.described, flags.symbol), (private_use, !private_use, false), "{raw}");
        }
        assert_eq!(norm("⿱艹⿰女吉芳"), format!("{UNKNOWN_CHAR}芳"), "a nested description is one character");
        assert_eq!(norm("张三(曾用名李四)"), "张三(曾用名李四)", "a note is not a character");
        assert_eq!(norm("⿰女"), "⿰女", "an unfinished description is left as typed");
        assert!(normalize_name("⿰女").1.symbol);
        assert!(normalize_name("王〓").1.symbol, "the placeholder typed by hand");
        assert_eq!(norm("⿰单 張"), UNKNOWN_CHAR.to_string(), "a space inside a description: a fixed point");
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

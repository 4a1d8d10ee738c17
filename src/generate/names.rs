//! Name pools for generated people, and the name errors schools make: homophones (同音字),
//! traditional forms, stray spaces, middle-dot look-alikes.

use std::collections::HashMap;
use std::sync::LazyLock;

use pinyin::ToPinyin;

use crate::datasets;
use crate::rng::{Rng, Weighted};

/// Share of children given a whole name from the popular list. Harsher than real data on
/// purpose: the top names (and their homophones 子涵/梓涵/紫涵) reach thousands per cohort at 1M.
const POPULAR_SHARE: f64 = 0.3;

pub struct NamePools {
    pub surnames: Weighted<&'static str>,
    chars: Weighted<char>,
    names: Weighted<&'static str>,
    minority: Weighted<&'static str>,
    /// For each pool character, the other pool characters read the same (toneless).
    homophones: HashMap<char, Vec<char>>,
    /// Simplified → one traditional form (the inverse of datasets/t2s.tsv).
    traditional: HashMap<char, char>,
}

pub static POOLS: LazyLock<NamePools> = LazyLock::new(|| {
    let surnames = Weighted::new(
        datasets::tsv_rows(datasets::SURNAME_FREQUENCIES_TSV).map(|r| (r[0], r[1].parse::<f64>().unwrap_or(0.0))),
    );
    let rows: Vec<Vec<&'static str>> = datasets::tsv_rows(datasets::GIVEN_NAMES_TSV).collect();
    let of_kind = |kind: &'static str| {
        rows.iter().filter(move |r| r[0] == kind).map(|r| (r[1], r[2].parse::<f64>().unwrap_or(0.0)))
    };
    let chars = Weighted::new(of_kind("char").filter_map(|(t, w)| Some((t.chars().next()?, w))));
    let mut by_reading: HashMap<&str, Vec<char>> = HashMap::new();
    for &c in chars.items() {
        if let Some(p) = c.to_pinyin() {
            let group = by_reading.entry(p.plain()).or_default();
            if !group.contains(&c) {
                group.push(c);
            }
        }
    }
    let homophones = chars
        .items()
        .iter()
        .filter_map(|&c| {
            let others: Vec<char> =
                by_reading.get(c.to_pinyin()?.plain())?.iter().copied().filter(|&o| o != c).collect();
            (!others.is_empty()).then_some((c, others))
        })
        .collect();
    let mut traditional = HashMap::new();
    for row in datasets::tsv_rows(datasets::TRADITIONAL_TO_SIMPLIFIED_TSV) {
        if let (Some(t), Some(s)) = (row[0].chars().next(), row[1].chars().next()) {
            traditional.entry(s).or_insert(t);
        }
    }
    NamePools {
        surnames,
        chars,
        names: Weighted::new(of_kind("name")),
        minority: Weighted::new(of_kind("minority")),
        homophones,
        traditional,
    }
});

impl NamePools {
    /// A given name: a popular whole name ([`POPULAR_SHARE`] of the time, so that namesakes and
    /// same-day namesakes are common across a province), else one or two characters from the
    /// weighted pool.
    pub fn given_name(&self, rng: &mut Rng) -> String {
        if rng.chance(POPULAR_SHARE) {
            return (*self.names.draw(rng)).to_owned();
        }
        let mut name = String::new();
        name.push(*self.chars.draw(rng));
        if rng.chance(0.85) {
            name.push(*self.chars.draw(rng));
        }
        name
    }

    /// A twin's given name: shares one character with the sibling's when it can (子轩 / 子涵),
    /// and never sounds like it, not even to a pinyin keyboard's fuzzy setting (子豪 / 子浩):
    /// parents call twins by names they can tell apart.
    pub fn twin_name(&self, sibling: &str, rng: &mut Rng) -> String {
        let chars: Vec<char> = sibling.chars().collect();
        let reading = crate::normalize::name::name_pinyin(sibling);
        let sounds_apart =
            |name: &str| !crate::compare::fuzzy_homophones(&crate::normalize::name::name_pinyin(name), &reading);
        loop {
            let name = if chars.len() == 2 {
                let mut n = String::new();
                n.push(chars[0]);
                n.push(*self.chars.draw(rng));
                n
            } else {
                self.given_name(rng)
            };
            if name != sibling && sounds_apart(&name) {
                return name;
            }
        }
    }

    /// A transliterated name, `given·father`, with the standard middle dot.
    pub fn minority_name(&self, rng: &mut Rng) -> String {
        format!("{}·{}", self.minority.draw(rng), self.minority.draw(rng))
    }

    /// A twin's transliterated name: another given part, the sibling's father's name.
    pub fn minority_twin_name(&self, sibling: &str, rng: &mut Rng) -> String {
        let (sibling_given, father) = sibling.split_once('·').unwrap_or((sibling, ""));
        loop {
            let given = *self.minority.draw(rng);
            if given != sibling_given {
                return format!("{given}·{father}");
            }
        }
    }

    /// The name with one given-name character replaced by a homophone, if any has one.
    pub fn homophone(&self, name: &str, surname: &str, rng: &mut Rng) -> Option<String> {
        let given: Vec<char> = name[surname.len()..].chars().collect();
        let swappable: Vec<usize> = (0..given.len()).filter(|&i| self.homophones.contains_key(&given[i])).collect();
        let &i = swappable.get(rng.below(swappable.len().max(1)))?;
        let mut out: String = surname.to_owned();
        for (j, &c) in given.iter().enumerate() {
            out.push(if j == i { *rng.pick(&self.homophones[&c]) } else { c });
        }
        Some(out)
    }

    /// The name in traditional characters where they exist; `None` if none does.
    pub fn traditional(&self, name: &str) -> Option<String> {
        let converted: String = name.chars().map(|c| *self.traditional.get(&c).unwrap_or(&c)).collect();
        (converted != name).then_some(converted)
    }
}

/// The name as typed in pinyin, surname first, each part capitalised: `王欣怡` → `Wang Xinyi`.
pub fn typed_in_pinyin(name: &str, surname: &str) -> String {
    use crate::normalize::name::name_pinyin;
    let capitalised = |syllables: String| {
        let joined: String = syllables.split(' ').collect();
        let mut chars = joined.chars();
        chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
    };
    let reading = name_pinyin(name);
    let surname_syllables = surname.chars().count();
    let words: Vec<&str> = reading.split(' ').collect();
    let split = surname_syllables.min(words.len());
    format!("{} {}", capitalised(words[..split].join(" ")), capitalised(words[split..].join(" ")))
}

/// The middle-dot look-alikes seen in data (DOMAIN.md).
pub const DOT_VARIANTS: [char; 9] =
    ['\u{30FB}', '\u{FF65}', '\u{2022}', '\u{2027}', '\u{2219}', '\u{22C5}', '\u{0387}', '.', '\u{FF0E}'];

/// A space typed into the name (ASCII or ideographic), after the surname or between characters.
pub fn with_space(name: &str, rng: &mut Rng) -> String {
    let chars: Vec<char> = name.chars().collect();
    let at = 1 + rng.below(chars.len().saturating_sub(1).max(1));
    let space = if rng.chance(0.5) { ' ' } else { '\u{3000}' };
    chars[..at.min(chars.len())].iter().chain([space].iter()).chain(&chars[at.min(chars.len())..]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::name::{name_pinyin, normalize_name};

    #[test]
    fn homophones_read_the_same_and_differ() {
        let mut rng = Rng::keyed(3, 0, 0);
        let mut made = 0;
        for _ in 0..500 {
            let name = format!("张{}", POOLS.given_name(&mut rng));
            if let Some(h) = POOLS.homophone(&name, "张", &mut rng) {
                assert_ne!(h, name);
                assert_eq!(name_pinyin(&h), name_pinyin(&name), "{name} / {h}");
                made += 1;
            }
        }
        assert!(made > 200, "{made}");
    }

    #[test]
    fn traditional_forms_normalize_back() {
        for name in ["张伟", "刘子轩", "陈鸿飞", "欧阳语诗"] {
            let t = POOLS.traditional(name).unwrap();
            assert_ne!(t, name);
            assert_eq!(normalize_name(&t).0, name);
        }
        assert_eq!(POOLS.traditional("王一"), None);
    }

    #[test]
    fn spaces_and_dots_normalize_back() {
        let mut rng = Rng::keyed(5, 0, 0);
        for name in ["张伟", "王", "欧阳子轩"] {
            let spaced = with_space(name, &mut rng);
            assert_ne!(spaced, name);
            assert_eq!(normalize_name(&spaced).0, name);
        }
        for dot in DOT_VARIANTS {
            assert_eq!(normalize_name(&format!("艾力{dot}买买提")).0, "艾力·买买提");
        }
    }

    #[test]
    fn names_typed_in_pinyin() {
        assert_eq!(typed_in_pinyin("王欣怡", "王"), "Wang Xinyi");
        assert_eq!(typed_in_pinyin("欧阳子轩", "欧阳"), "Ouyang Zixuan");
        assert_eq!(typed_in_pinyin("单磊", "单"), "Shan Lei", "the surname's own reading");
    }

    #[test]
    fn popular_names_are_concentrated() {
        // At 1M students a cohort is ~83,000 children: the top names must reach thousands.
        let mut rng = Rng::keyed(11, 0, 0);
        let draws = 100_000;
        let zi_han = (0..draws)
            .filter(|_| ["子涵", "梓涵", "紫涵", "子晗"].contains(&POOLS.given_name(&mut rng).as_str()))
            .count();
        assert!(zi_han > 2_000, "zi han: {zi_han} of {draws}");
    }

    #[test]
    fn surnames_are_concentrated() {
        let mut rng = Rng::keyed(9, 0, 0);
        let wangs = (0..100_000).filter(|_| *POOLS.surnames.draw(&mut rng) == "王").count();
        assert!((6_000..8_500).contains(&wangs), "{wangs}");
    }
}

//! Identity-document numbers as typed: full-width digits, `x`, spaces and hyphens, 15-digit
//! legacy numbers. The verdict on a number is `check::id_number`'s.

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;

pub use crate::gb11643::check_char;

/// How a number was cleaned, for the `ID_REFORMATTED` and `ID_LEGACY_15` problems.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IdCleaning {
    /// Full-width characters, spaces, hyphens or a lower-case `x` were folded.
    pub reformatted: bool,
    /// A 15-digit legacy number was upgraded to 18 characters.
    pub upgraded_from_15: bool,
}

/// The canonical form of a document number: NFKC (full-width `１２３`, `Ｘ`), no spaces or hyphens,
/// ASCII letters upper-cased, and a 15-digit legacy resident number upgraded to 18 characters.
/// Returns `None` when nothing is left.
pub fn normalize_id_number(raw: &str) -> Option<(String, IdCleaning)> {
    let folded: Cow<str> = if raw.is_ascii() { raw.into() } else { raw.nfkc().collect::<String>().into() };
    let mut cleaning = IdCleaning { reformatted: !raw.is_ascii(), ..IdCleaning::default() };
    let mut id = String::with_capacity(18);
    for c in folded.chars() {
        if c.is_whitespace()
            || matches!(c, '-' | '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2212}')
        {
            cleaning.reformatted = true;
        } else if c.is_ascii_lowercase() {
            cleaning.reformatted = true;
            id.push(c.to_ascii_uppercase());
        } else {
            id.push(c);
        }
    }
    if id.is_empty() {
        return None;
    }
    if let Some(upgraded) = upgrade_15(&id) {
        cleaning.upgraded_from_15 = true;
        id = upgraded;
    }
    Some((id, cleaning))
}

/// GB 11643-1989 → 1999: insert `19` before YYMMDD and append the check character.
pub fn upgrade_15(id: &str) -> Option<String> {
    if id.len() != 15 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut upgraded = String::with_capacity(18);
    upgraded.push_str(&id[..6]);
    upgraded.push_str("19");
    upgraded.push_str(&id[6..]);
    upgraded.push(char::from(check_char(upgraded.as_bytes())?));
    Some(upgraded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_characters_of_domain_vectors() {
        for id in [
            "11010519491231002X",
            "440524188001010014",
            "34052419800101001X",
            "360426199101010071",
            "44011320141005001X",
            "810000199408230021",
            "830000199201300022",
        ] {
            assert_eq!(check_char(id.as_bytes()), Some(id.as_bytes()[17]), "{id}");
        }
        assert_eq!(check_char(b"1101051949123100"), None, "too short");
        assert_eq!(check_char(b"11010519491231002A"), Some(b'X'), "only the body is read");
        assert_eq!(check_char(b"1101051949123A002X"), None);
    }

    #[test]
    fn legacy_numbers_upgrade() {
        for (old, new) in [
            ("310112850409522", "310112198504095227"),
            ("632123820927051", "632123198209270518"),
            ("441900890101221", "441900198901012219"),
            ("610104620927690", "610104196209276908"),
        ] {
            assert_eq!(upgrade_15(old).as_deref(), Some(new));
            let (id, cleaning) = normalize_id_number(old).unwrap();
            assert_eq!(id, new);
            assert!(cleaning.upgraded_from_15 && !cleaning.reformatted);
        }
        assert_eq!(upgrade_15("31011285040952X"), None);
        assert_eq!(upgrade_15("3101128504095"), None);
    }

    #[test]
    fn typing_variants_fold_to_one_number() {
        for raw in [
            "11010519491231002x",
            "１１０１０５１９４９１２３１００２Ｘ",
            "110105 19491231 002X",
            "110105-19491231-002X",
            " 11010519491231002X\u{3000}",
            "110105－19491231－002ｘ",
        ] {
            let (id, cleaning) = normalize_id_number(raw).unwrap();
            assert_eq!(id, "11010519491231002X", "{raw:?}");
            assert!(cleaning.reformatted, "{raw:?}");
        }
        assert_eq!(normalize_id_number("11010519491231002X").unwrap().1, IdCleaning::default());
        assert_eq!(normalize_id_number(" - "), None);
        assert_eq!(normalize_id_number("e12345678").unwrap().0, "E12345678");
    }
}

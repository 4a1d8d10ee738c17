//! Identity-document numbers as typed: full-width digits, `x`, spaces and hyphens, 15-digit
//! legacy numbers. The MOD 11-2 check character (ISO 7064, GB 11643-1999) lives here because the
//! 15 → 18 upgrade needs it; the verdict on a number is `check::id_number`'s.

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: [u8; 11] = *b"10X98765432";

/// The MOD 11-2 check character for the first 17 characters of `body`, which must be ASCII digits.
pub fn check_char(body: &[u8]) -> Option<u8> {
    if body.len() < 17 || !body[..17].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = body[..17].iter().zip(WEIGHTS).map(|(&b, w)| u32::from(b - b'0') * w).sum();
    Some(CHECK_CHARS[(sum % 11) as usize])
}

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

/// The significant digits of an 18-digit number that went through a spreadsheet as a number and
/// came back as text: `2.11221200903152E+17`, or `211221200903152000` (a spreadsheet keeps 15
/// significant digits and writes zeros for the rest). At least 12 digits, or `None`. Only
/// meaningful for a number that fails verification: a valid number may end in `000`.
pub fn spreadsheet_digits(id: &str) -> Option<Cow<'_, str>> {
    let b = id.as_bytes();
    if b.len() == 18 && b.iter().all(u8::is_ascii_digit) && id.ends_with("000") {
        return Some(Cow::Borrowed(&id[..15]));
    }
    let (mantissa, exponent) = id.split_once(['E', 'e'])?;
    if !matches!(exponent, "+17" | "17") {
        return None;
    }
    let (lead, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{lead}{fraction}");
    let ok = lead.len() == 1
        && lead != "0"
        && (12..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit());
    ok.then_some(Cow::Owned(digits))
}

/// Whether the 18-digit `full` number, kept to `digits.len()` significant digits by a
/// spreadsheet (rounded, or cut), reads `digits`.
pub fn spreadsheet_keeps(full: &str, digits: &str) -> bool {
    let k = digits.len();
    let b = full.as_bytes();
    if b.len() != 18 || k >= 18 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    if &full[..k] == digits {
        return true;
    }
    let Ok(head) = full[..k].parse::<u64>() else { return false };
    let rounded = head + u64::from(b[k] >= b'5');
    format!("{rounded:0k$}") == digits
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

    #[test]
    fn spreadsheet_damage_keeps_the_significant_digits() {
        assert_eq!(spreadsheet_digits("211221200903152000").as_deref(), Some("211221200903152"));
        assert_eq!(spreadsheet_digits("2.11221200903152E+17").as_deref(), Some("211221200903152"));
        assert_eq!(spreadsheet_digits("2.1122120090315E+17").as_deref(), Some("21122120090315"));
        assert_eq!(spreadsheet_digits("2.11221E+17"), None, "six digits say too little");
        assert_eq!(spreadsheet_digits("2.11221200903152E+16"), None, "not 18 digits long");
        assert_eq!(spreadsheet_digits("21122120090315201X"), None);
        assert_eq!(spreadsheet_digits("211221200903152"), None);
        // 211221200903152 5xx rounds up; …1524 rounds down; both cut to …152.
        assert!(spreadsheet_keeps("211221200903152514", "211221200903153"));
        assert!(spreadsheet_keeps("211221200903152514", "211221200903152"));
        assert!(spreadsheet_keeps("211221200903152414", "211221200903152"));
        assert!(!spreadsheet_keeps("211221200903152414", "211221200903153"));
        assert!(!spreadsheet_keeps("211221200903162414", "211221200903152"));
        assert!(!spreadsheet_keeps("21122120090315241X", "211221200903152"), "an X number is text in a sheet");
    }
}

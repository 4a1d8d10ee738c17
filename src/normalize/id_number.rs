//! Identity-document numbers: cleaned as typed (full-width digits, `x`, spaces and hyphens,
//! 15-digit legacy numbers), then read — their shape, the fields of a GB 11643-1999 number
//! (region, birth date, sex, check character) and the 全国学籍号. The verdicts on them, with
//! their problem codes, are `check`'s.

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;

pub use crate::gb11643::check_char;

use super::date::Date;

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

/// The kinds of number that can be told apart by their shape alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberShape {
    /// 18 characters, 17 digits and a digit or `X`: a resident identity number.
    Resident,
    /// The same layout with region 810000/820000/830000: a HK/Macau/Taiwan residence permit.
    ResidencePermit,
    /// 18 digits starting with 9: a foreigner's permanent residence card, 2023 version.
    ForeignPermanent,
    /// 3 letters and 12 digits: a foreigner's permanent residence card, old version (unconfirmed).
    ForeignPermanentOld,
    /// Anything else: passports and travel permits have no shape xueji can verify.
    Other,
}

pub fn shape(id: &str) -> NumberShape {
    let b = id.as_bytes();
    if b.len() == 18 && b[..17].iter().all(u8::is_ascii_digit) && (b[17].is_ascii_digit() || b[17] == b'X') {
        return match &id[..6] {
            "810000" | "820000" | "830000" => NumberShape::ResidencePermit,
            _ if b[0] == b'9' => NumberShape::ForeignPermanent,
            _ => NumberShape::Resident,
        };
    }
    if b.len() == 15 && b[..3].iter().all(u8::is_ascii_uppercase) && b[3..].iter().all(u8::is_ascii_digit) {
        return NumberShape::ForeignPermanentOld;
    }
    NumberShape::Other
}

/// What an 18-character GB 11643 number says, valid or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResidentNumber<'a> {
    pub region: &'a str,
    /// `None` when YYYYMMDD is not a real calendar date.
    pub birth: Option<Date>,
    /// Odd sequence numbers are male.
    pub male: bool,
    /// The check character the first 17 characters call for.
    pub expected_check: char,
}

impl ResidentNumber<'_> {
    /// Parses the layout `AAAAAA YYYYMMDD SSS C`; `None` if the number does not have it.
    pub fn parse(id: &str) -> Option<ResidentNumber<'_>> {
        let b = id.as_bytes();
        if !matches!(shape(id), NumberShape::Resident | NumberShape::ResidencePermit | NumberShape::ForeignPermanent) {
            return None;
        }
        let num = |r: std::ops::Range<usize>| id[r].parse::<u32>().ok();
        Some(ResidentNumber {
            region: &id[..6],
            birth: Date::new(num(6..10)? as i32, num(10..12)?, num(12..14)?),
            male: (b[16] - b'0') % 2 == 1,
            expected_check: char::from(check_char(b)?),
        })
    }

    pub fn checksum_ok(&self, id: &str) -> bool {
        id.as_bytes()[17] == self.expected_check as u8
    }

    /// The birth date if it is real and not after `today`.
    pub fn plausible_birth(&self, today: Date) -> Option<Date> {
        self.birth.filter(|&birth| birth <= today)
    }
}

/// Whether `id` is a fully valid 18-character number: layout, real past birth date and check
/// character (the region code is judged separately: an unknown one is only a warning).
pub fn is_valid(id: &str, today: Date) -> bool {
    ResidentNumber::parse(id).is_some_and(|n| n.checksum_ok(id) && n.plausible_birth(today).is_some())
}

/// A 全国学籍号 and what it is built on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StudentNumber<'a> {
    /// `G` + the student's ID number.
    Formal(&'a str),
    /// `J` + 18 characters built like an ID number with the school's region code.
    WithoutId,
    /// `L` + area + birth date + 4 random digits: temporary, with no check character.
    Temporary,
    /// `999` + 10-digit school code + 5-digit serial: legacy provincial pseudo-number.
    LegacyProvincial,
}

/// Recognises the 全国学籍号 forms; `Err` with the reason otherwise.
/// Errors say why in Chinese and English.
pub fn parse_student_number(no: &str) -> Result<StudentNumber<'_>, (&'static str, &'static str)> {
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let Some(first) = no.chars().next() else {
        return Err(("为空", "empty"));
    };
    let rest = &no[first.len_utf8()..];
    match first {
        'G' | 'g' if rest.len() == 18 => Ok(StudentNumber::Formal(rest)),
        'J' | 'j' if rest.len() == 18 && rest.is_ascii() && digits(&rest[..17]) => Ok(StudentNumber::WithoutId),
        'L' | 'l'
            if rest.len() == 18
                && digits(rest)
                && Date::new(
                    rest[6..10].parse().unwrap_or(0),
                    rest[10..12].parse().unwrap_or(0),
                    rest[12..14].parse().unwrap_or(0),
                )
                .is_some() =>
        {
            Ok(StudentNumber::Temporary)
        }
        '9' if no.len() == 18 && no.starts_with("999") && digits(no) => Ok(StudentNumber::LegacyProvincial),
        'G' | 'J' | 'L' | 'g' | 'j' | 'l' => Err(("G/J/L开头的学籍号应为19位", "a G/J/L number has 19 characters")),
        _ => Err(("不是以G、J或L开头的学籍号", "not a G, J or L number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_characters_of_domain_vectors() {
        for id in crate::gb11643::DOMAIN_VALID {
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

    const TODAY: Date = Date { year: 2026, month: 11, day: 29 };

    #[test]
    fn domain_md_valid_vectors() {
        for id in crate::gb11643::DOMAIN_VALID {
            assert!(is_valid(id, TODAY), "{id}");
        }
        let n = ResidentNumber::parse("44011320141005001X").unwrap();
        assert_eq!(n.region, "440113");
        assert_eq!(n.birth, Date::new(2014, 10, 5));
        assert!(n.male);
        assert!(!ResidentNumber::parse("11010519491231002X").unwrap().male);
    }

    #[test]
    fn a_student_number_is_read_by_characters() {
        // 18 bytes after the J, not 18 characters: no slice inside the last one.
        assert!(parse_student_number("J20140305・2999－").is_err());
        assert!(parse_student_number("J21010220150103001X").is_ok());
    }

    #[test]
    fn domain_md_invalid_vectors() {
        let check = ResidentNumber::parse("110105194912310021").unwrap();
        assert!(!check.checksum_ok("110105194912310021") && check.birth.is_some());
        assert_eq!(check.expected_check, 'X');
        let check = ResidentNumber::parse("36042619910102009X").unwrap();
        assert!(!check.checksum_ok("36042619910102009X"));
        assert_eq!(ResidentNumber::parse("360426199113010079").unwrap().birth, None, "month 13");
        assert_eq!(ResidentNumber::parse("11010519490229002X").unwrap().birth, None, "1949-02-29");
        for id in ["110105194912310021", "36042619910102009X", "360426199113010079", "11010519490229002X"] {
            assert!(!is_valid(id, TODAY), "{id}");
        }
    }

    #[test]
    fn future_birth_dates_are_invalid() {
        let mut id = String::from("11010520301231002");
        id.push(char::from(check_char(id.as_bytes()).unwrap()));
        assert!(ResidentNumber::parse(&id).unwrap().checksum_ok(&id));
        assert!(!is_valid(&id, TODAY));
    }

    #[test]
    fn every_single_substitution_and_adjacent_swap_fails_the_checksum() {
        // The mainland numbers (the last two are of Hong Kong and Macao residents).
        for id in &crate::gb11643::DOMAIN_VALID[..5] {
            let chars: Vec<u8> = id.bytes().collect();
            for i in 0..18 {
                for c in b"0123456789X" {
                    if *c == chars[i] || (i < 17 && *c == b'X') {
                        continue;
                    }
                    let mut typo = chars.clone();
                    typo[i] = *c;
                    let typo = String::from_utf8(typo).unwrap();
                    assert!(!is_valid(&typo, TODAY), "{id} -> {typo}");
                }
                if i < 17 && chars[i] != chars[i + 1] && chars[i + 1] != b'X' {
                    let mut swapped = chars.clone();
                    swapped.swap(i, i + 1);
                    let swapped = String::from_utf8(swapped).unwrap();
                    assert!(!is_valid(&swapped, TODAY), "{id} -> {swapped}");
                }
            }
        }
    }

    #[test]
    fn shapes() {
        assert_eq!(shape("11010519491231002X"), NumberShape::Resident);
        assert_eq!(shape("810000199408230021"), NumberShape::ResidencePermit);
        assert_eq!(shape("920000199408230021"), NumberShape::ForeignPermanent);
        assert_eq!(shape("USA110012345678"), NumberShape::ForeignPermanentOld);
        assert_eq!(shape("E12345678"), NumberShape::Other);
        assert_eq!(shape("1101051949123100XX"), NumberShape::Other);
        assert_eq!(shape("11010519491231002"), NumberShape::Other);
    }

    #[test]
    fn student_numbers() {
        assert_eq!(parse_student_number("G11010519491231002X"), Ok(StudentNumber::Formal("11010519491231002X")));
        assert_eq!(parse_student_number("J44011320141005001X"), Ok(StudentNumber::WithoutId));
        assert_eq!(parse_student_number("L440113201410051234"), Ok(StudentNumber::Temporary));
        assert_eq!(parse_student_number("999114400180012345"), Ok(StudentNumber::LegacyProvincial));
        assert!(parse_student_number("L440113201413051234").is_err(), "month 13");
        assert!(parse_student_number("G1101051949123100").is_err());
        assert!(parse_student_number("X11010519491231002X").is_err());
        assert!(parse_student_number("").is_err());
    }
}

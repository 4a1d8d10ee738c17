//! Every pure function that receives a cell's text, on text no school meant to type: arbitrary
//! Unicode (CJK and its extensions, combining marks, RTL marks, emoji, NUL, private use) and
//! strings built from the template's own vocabulary (dates, numbers, codes, words for unknown,
//! described characters). None may panic; each keeps the promise its documentation makes.
//!
//! Slicing a cell's text by byte index is the bug this hunts: `不详` is six bytes.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

use xueji::check::verify_document;
use xueji::compare::{compare, fuzzy_homophones, han_close, Side};
use xueji::files::{inert, uninert};
use xueji::ingest::rounded::{rounding, spreadsheet_digits, spreadsheet_keeps, tells_no_one_apart};
use xueji::labels::Judgement;
use xueji::normalize::codes::{
    is_unknown_word, normalize_class, normalize_document_type, normalize_ethnicity, normalize_grade, normalize_phone,
    normalize_school_code, normalize_sex,
};
use xueji::normalize::date::{parse_date, parse_year_month, Date};
use xueji::normalize::id_number::{is_valid, parse_student_number, shape, ResidentNumber};
use xueji::normalize::id_number::{normalize_id_number, upgrade_15};
use xueji::normalize::name::{has_heteronym, name_pinyin, name_pinyin_variants, normalize_name, surname};
use xueji::normalize::name::{has_name, pinyin_letters};
use xueji::normalize::region::{city_code, region_name, region_status};
use xueji::photos::naming::{folder_grade_class, without_copy_mark, PhotoName};
use xueji::reconcile::parse_verdict;
use xueji::report::police::mask;
use xueji::report::returns::same_child;

/// Cases per function and strategy.
const CASES: u32 = 5000;

/// Pieces of what schools type, and of what goes wrong, to be strung together.
const VOCABULARY: &[&str] = &[
    "2014",
    "2015",
    "20140305",
    "201409",
    "14",
    "03",
    "3",
    "05",
    "31",
    "0",
    "41703",
    "1.5",
    "E+17",
    "2.11381",
    "000",
    "-",
    "/",
    ".",
    ":",
    " ",
    "\u{3000}",
    "年",
    "月",
    "日",
    "T",
    "不详",
    "待查",
    "未知",
    "无",
    "暂无",
    "—",
    "？",
    "'",
    "２０１４",
    "－",
    "／",
    "．",
    "211324201411173562",
    "11010519491231002X",
    "x",
    "X",
    "G",
    "J",
    "L",
    "999",
    "310112850409522",
    "张",
    "王",
    "欧阳",
    "单",
    "曾",
    "𠮷",
    "䶮",
    "[女吉]",
    "(女吉)",
    "⿰",
    "⿱",
    "女",
    "吉",
    "艹",
    "\u{E816}",
    "〓",
    "□",
    "·",
    "・",
    "•",
    "張",
    "李娜2",
    "*",
    "男",
    "女",
    "1",
    "2",
    "汉族",
    "01",
    "回",
    "居民身份证",
    "一年级",
    "初二",
    "高三",
    "七年级",
    "(3)班",
    "三班",
    "3班",
    "138",
    "0411-",
    "13800138000",
    "2101234567",
    "一致",
    "一至",
    "姓名与身份证号码不匹配",
    "身份证号不存在",
    "=",
    "+",
    "@",
    "\u{200F}",
    "\u{202E}",
    "\u{0301}",
    "\u{0000}",
    "😀",
    "\u{FEFF}",
    "\u{FFFD}",
    "a",
    "Wang",
    "Xinyi",
];

fn arbitrary_text() -> BoxedStrategy<String> {
    proptest::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter).boxed()
}

fn template_text() -> BoxedStrategy<String> {
    proptest::collection::vec(proptest::sample::select(VOCABULARY), 0..8).prop_map(|pieces| pieces.concat()).boxed()
}

/// Runs `property` on both kinds of text, [`CASES`] each, and counts the function.
struct Suite {
    functions: usize,
    cases: u64,
}

impl Suite {
    fn check(&mut self, name: &str, property: impl Fn(&str) -> Result<(), TestCaseError>) {
        for strategy in [arbitrary_text(), template_text()] {
            // The same cases on every run: a failure in CI is one anybody can rerun.
            let config = Config { cases: CASES, failure_persistence: None, ..Config::default() };
            let mut runner = TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
            if let Err(e) = runner.run(&strategy, |text| property(&text)) {
                panic!("{name}: {e}");
            }
            self.cases += u64::from(CASES);
        }
        self.functions += 1;
    }
}

fn no_whitespace(text: &str) -> bool {
    !text.chars().any(char::is_whitespace)
}

#[test]
fn cell_functions_36_survive_360000_cases_of_arbitrary_unicode() {
    let today = Date::new(2026, 9, 1).unwrap();
    let mut suite = Suite { functions: 0, cases: 0 };

    suite.check("parse_date", |t| {
        if let Some(d) = parse_date(t) {
            prop_assert_eq!(Date::new(d.year, d.month, d.day), Some(d), "a real calendar date");
        }
        Ok(())
    });
    suite.check("parse_year_month", |t| {
        if let Some((_, month)) = parse_year_month(t) {
            prop_assert!((1..=12).contains(&month));
        }
        Ok(())
    });
    suite.check("normalize_name", |t| {
        let (name, _) = normalize_name(t);
        prop_assert!(no_whitespace(&name), "{:?}", name);
        prop_assert_eq!(&normalize_name(&name).0, &name, "normalizing twice changes nothing");
        Ok(())
    });
    suite.check("name_pinyin", |t| {
        let pinyin = name_pinyin(&normalize_name(t).0);
        prop_assert!(!pinyin.bytes().any(|b| b.is_ascii_uppercase()));
        Ok(())
    });
    suite.check("name_pinyin_variants", |t| {
        let name = normalize_name(t).0;
        let variants = name_pinyin_variants(&name, 9);
        prop_assert!(variants.len() <= 9);
        if !variants.is_empty() {
            prop_assert_eq!(&variants[0], &name_pinyin(&name), "the primary reading first");
        }
        Ok(())
    });
    suite.check("has_heteronym", |t| {
        has_heteronym(t);
        Ok(())
    });
    suite.check("surname", |t| {
        prop_assert!(t.starts_with(surname(t)));
        Ok(())
    });
    suite.check("normalize_id_number", |t| {
        if let Some((id, _)) = normalize_id_number(t) {
            prop_assert!(no_whitespace(&id) && !id.bytes().any(|b| b.is_ascii_lowercase()), "{:?}", id);
        }
        Ok(())
    });
    suite.check("spreadsheet_digits", |t| {
        if let Some(digits) = spreadsheet_digits(t) {
            prop_assert!(digits.bytes().all(|b| b.is_ascii_digit()));
            spreadsheet_keeps(t, &digits);
        }
        Ok(())
    });
    suite.check("upgrade_15", |t| {
        if let Some(id) = upgrade_15(t) {
            prop_assert_eq!(id.len(), 18);
        }
        Ok(())
    });
    suite.check("rounding", |t| {
        rounding(t);
        Ok(())
    });
    suite.check("tells_no_one_apart", |t| {
        if tells_no_one_apart(t) {
            prop_assert!(rounding(t).is_some());
        }
        Ok(())
    });
    suite.check("shape", |t| {
        shape(t);
        Ok(())
    });
    suite.check("ResidentNumber::parse", |t| {
        if let Some(number) = ResidentNumber::parse(t) {
            number.checksum_ok(t);
            number.plausible_birth(today);
        }
        Ok(())
    });
    suite.check("is_valid", |t| {
        if is_valid(t, today) {
            prop_assert_eq!(t.len(), 18);
        }
        Ok(())
    });
    suite.check("parse_student_number", |t| {
        let _ = parse_student_number(t);
        Ok(())
    });
    suite.check("verify_document", |t| {
        let (doc, id) = t.split_once('-').unwrap_or((t, t));
        verify_document(Some(doc), Some(id), today, &mut Vec::new());
        verify_document(None, Some(t), today, &mut Vec::new());
        Ok(())
    });
    suite.check("normalize_sex", |t| {
        prop_assert!(normalize_sex(t).is_none_or(|s| ["0", "1", "2", "9"].contains(&s)));
        Ok(())
    });
    suite.check("normalize_ethnicity", |t| {
        normalize_ethnicity(t);
        Ok(())
    });
    suite.check("normalize_document_type", |t| {
        normalize_document_type(t);
        Ok(())
    });
    suite.check("normalize_grade", |t| {
        prop_assert!(normalize_grade(t).is_none_or(|g| (1..=12).contains(&g)));
        Ok(())
    });
    suite.check("normalize_class", |t| {
        normalize_class(t);
        Ok(())
    });
    suite.check("normalize_school_code", |t| {
        normalize_school_code(t);
        Ok(())
    });
    suite.check("normalize_phone", |t| {
        if let Some(phone) = normalize_phone(t) {
            prop_assert!(phone.bytes().all(|b| b.is_ascii_digit()), "{:?}", phone);
        }
        Ok(())
    });
    suite.check("is_unknown_word", |t| {
        is_unknown_word(t);
        Ok(())
    });
    suite.check("region_status", |t| {
        region_status(t, 2014);
        region_name(t);
        city_code(t);
        Ok(())
    });
    suite.check("PhotoName::parse", |t| {
        PhotoName::parse(t, today);
        PhotoName::parse(&format!("{t}.jpg"), today);
        Ok(())
    });
    suite.check("without_copy_mark", |t| {
        // What is left is a shorter, non-empty start of the name.
        if let Some(base) = without_copy_mark(t) {
            prop_assert!(!base.is_empty() && base.len() < t.len() && t.starts_with(base), "{:?} → {:?}", t, base);
        }
        Ok(())
    });
    suite.check("folder_grade_class", |t| {
        let (parent, grandparent) = t.split_once('/').unwrap_or((t, t));
        folder_grade_class(Some(parent), Some(grandparent));
        Ok(())
    });
    suite.check("compare names", |t| {
        let (a, b) = t.split_at(t.char_indices().nth(t.chars().count() / 2).map_or(t.len(), |(i, _)| i));
        let (na, nb) = (normalize_name(a).0, normalize_name(b).0);
        let (pa, pb) = (name_pinyin(&na), name_pinyin(&nb));
        let side =
            |raw, name, pinyin| Side { name_raw: Some(raw), name: Some(name), pinyin: Some(pinyin), ..Side::default() };
        compare(&side(a, &na, &pa), &side(b, &nb, &pb));
        // In one family, where names that sound apart are siblings'.
        let phone = Some("13912345678");
        compare(
            &Side { guardian_phone: phone, ..side(a, &na, &pa) },
            &Side { guardian_phone: phone, ..side(b, &nb, &pb) },
        );
        has_name(&na);
        han_close(&na, &nb);
        pinyin_letters(&pa).count();
        Ok(())
    });
    suite.check("fuzzy_homophones", |t| {
        let (a, b) = t.split_at(t.char_indices().nth(t.chars().count() / 2).map_or(t.len(), |(i, _)| i));
        prop_assert!(fuzzy_homophones(a, a), "a reading sounds like itself");
        prop_assert_eq!(fuzzy_homophones(a, b), fuzzy_homophones(b, a), "both ways alike");
        Ok(())
    });
    suite.check("same_child", |t| {
        // An answer reads back the same from what a spreadsheet shows of it.
        prop_assert_eq!(same_child(&inert(t)), same_child(t));
        Ok(())
    });
    suite.check("parse_verdict", |t| {
        parse_verdict(t);
        Ok(())
    });
    suite.check("Judgement::parse", |t| {
        // A judgement read is one of the three, and reads back from its own word.
        if let Some(judgement) = Judgement::parse(t) {
            prop_assert_eq!(Judgement::parse(judgement.word()), Some(judgement));
        }
        Ok(())
    });
    suite.check("mask", |t| {
        prop_assert_eq!(mask(t).chars().count(), t.chars().count());
        Ok(())
    });
    suite.check("inert", |t| {
        let cell = inert(t);
        prop_assert!(!cell.starts_with(['=', '+', '-', '@']), "{:?}", cell);
        prop_assert_eq!(uninert(&cell), t);
        Ok(())
    });

    println!(
        "property suite: {} functions, {} cases (arbitrary Unicode and template vocabulary, {CASES} each)",
        suite.functions, suite.cases
    );
    assert_eq!(suite.functions, 36);
}

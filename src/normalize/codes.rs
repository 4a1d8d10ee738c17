//! Coded fields as schools fill them: sex, ethnicity, document type, grade, class, school code.

use std::collections::HashMap;
use std::sync::LazyLock;

use unicode_normalization::UnicodeNormalization;

use crate::datasets;

/// NFKC without whitespace, for matching typed codes and labels (`１`, ` 男 `, `汉 族`).
fn fold(raw: &str) -> String {
    raw.nfkc().filter(|c| !c.is_whitespace()).collect()
}

/// Whether a cell holds a word for "unknown" instead of a value (不详, 待查, 未知, 无, 暂无, —, ？):
/// typed where a school did not know, it is no value, neither a date nor a name nor a number.
/// (性别 and 身份证件类型 have codes of their own for these: 0 未知, Z 无.)
pub fn is_unknown_word(raw: &str) -> bool {
    // Every such word is short and starts with one of these (or their full-width forms): a name,
    // a date or a number is told apart without folding it (this runs on every cell).
    let text = raw.trim();
    let starts = text.starts_with([
        '不', '待', '未', '无', '暂', '空', '没', '-', '—', '–', '?', '？', '/', '／', '\\', '＼', 'N', 'n', 'Ｎ',
        'ｎ', '#', '＃', '－',
    ]);
    if !starts || text.chars().nth(4).is_some() {
        return false;
    }
    let folded = fold(text);
    matches!(
        folded.as_str(),
        "不详"
            | "待查"
            | "未知"
            | "无"
            | "暂无"
            | "不清楚"
            | "待定"
            | "待补"
            | "空"
            | "没有"
            | "-"
            | "--"
            | "—"
            | "——"
            | "–"
            | "?"
            | "??"
            | "???"
            | "/"
            | "\\"
            | "N/A"
            | "n/a"
            | "NA"
            | "null"
            | "NULL"
            | "#N/A"
    )
}

/// Grades 1–12 as schools say them.
pub const GRADE_NAMES: [&str; 12] =
    ["一年级", "二年级", "三年级", "四年级", "五年级", "六年级", "七年级", "八年级", "九年级", "高一", "高二", "高三"];

/// 性别 as a GB/T 2261.1 code: `1` 男, `2` 女, `0` 未知, `9` 未说明.
pub fn normalize_sex(raw: &str) -> Option<&'static str> {
    match fold(raw).to_ascii_lowercase().as_str() {
        "1" | "男" | "男性" | "m" | "male" | "男生" => Some("1"),
        "2" | "女" | "女性" | "f" | "female" | "女生" => Some("2"),
        "0" | "未知" | "未知的性别" => Some("0"),
        "9" | "未说明" | "未说明的性别" => Some("9"),
        _ => None,
    }
}

static ETHNICITIES: LazyLock<HashMap<String, &'static str>> = LazyLock::new(|| {
    let mut by_label = HashMap::new();
    for row in datasets::tsv_rows(datasets::ETHNICITIES_TSV) {
        let code = row[0];
        by_label.insert(code.to_owned(), code);
        by_label.insert(code.trim_start_matches('0').to_owned(), code);
        by_label.insert(row[1].to_owned(), code);
        for alias in row.get(2).into_iter().flat_map(|aliases| aliases.split(',')) {
            by_label.insert(alias.to_owned(), code);
        }
    }
    by_label
});

/// The official name of a GB/T 3304 code (`01` → 汉族).
pub fn ethnicity_name(code: &str) -> Option<&'static str> {
    static NAMES: LazyLock<HashMap<&'static str, &'static str>> =
        LazyLock::new(|| datasets::tsv_rows(datasets::ETHNICITIES_TSV).map(|row| (row[0], row[1])).collect());
    NAMES.get(code).copied()
}

/// 民族 as a two-digit GB/T 3304 code, from a code (`1`, `01`) or a name with or without 族,
/// including the old names (崩龙族 → 46 德昂族, 毛难族 → 36 毛南族).
pub fn normalize_ethnicity(raw: &str) -> Option<&'static str> {
    ETHNICITIES.get(&fold(raw)).copied()
}

/// 身份证件类型 as its code: `1` 居民身份证, `6` 香港特区护照/身份证明, `7` 澳门特区护照/身份证明,
/// `8` 台湾居民来往大陆通行证, `9` 境外永久居住证, `A` 护照, `B` 户口簿, `C` 港澳台居民居住证,
/// `Z` 其他 (also 无: no document).
pub fn normalize_document_type(raw: &str) -> Option<&'static str> {
    let folded = fold(raw).to_ascii_uppercase();
    // Labels are often typed as `1-居民身份证` or `1:居民身份证`: the code before the separator decides.
    let key = folded.split(['-', ':', '：', '.', '、']).next().unwrap_or("");
    let code = match key {
        "1" | "01" | "居民身份证" | "身份证" | "二代身份证" => "1",
        "6" | "香港特区护照/身份证明" | "香港特区护照" | "香港身份证" | "港澳居民来往内地通行证(香港)" => {
            "6"
        }
        "7" | "澳门特区护照/身份证明" | "澳门特区护照" | "澳门身份证" => "7",
        "8" | "台湾居民来往大陆通行证" | "台胞证" => "8",
        "9" | "境外永久居住证" | "外国人永久居留身份证" | "外国人永久居留证" => "9",
        "A" | "护照" => "A",
        "B" | "户口簿" | "户口本" => "B",
        "C" | "港澳台居民居住证" => "C",
        "Z" | "其他" | "无" | "无证件" => "Z",
        _ => return None,
    };
    Some(code)
}

/// The label of a document type code (`1` → 居民身份证), for exported lists.
pub fn document_type_label(code: &str) -> &'static str {
    match code {
        "1" => "居民身份证",
        "6" => "香港特区护照/身份证明",
        "7" => "澳门特区护照/身份证明",
        "8" => "台湾居民来往大陆通行证",
        "9" => "境外永久居住证",
        "A" => "护照",
        "B" => "户口簿",
        "C" => "港澳台居民居住证",
        "Z" => "其他",
        _ => "",
    }
}

const CHINESE_DIGITS: [char; 10] = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];

/// A small Chinese numeral (一 … 九十九), or ASCII digits.
fn parse_small_number(text: &str) -> Option<u32> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    let digit = |c: char| CHINESE_DIGITS.iter().position(|&d| d == c).map(|d| d as u32);
    let chars: Vec<char> = text.chars().collect();
    match chars.as_slice() {
        ['十'] => Some(10),
        [c] => digit(*c),
        ['十', u] => Some(10 + digit(*u)?),
        [t, '十'] => Some(10 * digit(*t)?),
        [t, '十', u] => Some(10 * digit(*t)? + digit(*u)?),
        _ => None,
    }
}

/// 年级 as 1–12 (一年级 … 六年级, 七年级/初一 … 九年级/初三, 高一 … 高三, `3`, `3年级`).
pub fn normalize_grade(raw: &str) -> Option<u8> {
    let text = fold(raw);
    let text = text.trim_end_matches("年级").trim_end_matches('级');
    let grade = if let Some(rest) = text.strip_prefix('初') {
        6 + parse_small_number(rest).filter(|g| (1..=3).contains(g))?
    } else if let Some(rest) = text.strip_prefix('高') {
        9 + parse_small_number(rest).filter(|g| (1..=3).contains(g))?
    } else if let Some(rest) = text.strip_prefix("小学") {
        parse_small_number(rest)?
    } else {
        parse_small_number(text)?
    };
    (1..=12).contains(&grade).then_some(grade as u8)
}

/// 班级 as its number without leading zeros: `3`, `03`, `3班`, `(3)班`, `初一(3)班`, `三班`.
/// The last number in the text is the class; `None` when there is none.
pub fn normalize_class(raw: &str) -> Option<String> {
    let text = fold(raw);
    let text = text.trim_end_matches('班').trim_end_matches([')', '）']);
    let start = text
        .char_indices()
        .rev()
        .find(|&(_, c)| !(c.is_ascii_digit() || CHINESE_DIGITS.contains(&c) || c == '十'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let number = parse_small_number(&text[start..])?;
    Some(number.to_string())
}

/// School type codes (the AA of 学校标识码) named in DOMAIN.md.
pub const SCHOOL_TYPES: [(&str, &str); 6] = [
    ("11", "幼儿园"),
    ("21", "小学"),
    ("31", "初级中学"),
    ("34", "高级中学"),
    ("36", "中等职业学校"),
    ("51", "特殊教育学校"),
];

/// Province-level codes (GB/T 2260), the BB of 学校标识码.
pub const PROVINCE_CODES: [&str; 34] = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42", "43", "44",
    "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82",
];

/// A 学校标识码 folded to ASCII digits (spaces removed); structure is checked in `check`.
pub fn normalize_school_code(raw: &str) -> Option<String> {
    let code = fold(raw);
    (!code.is_empty()).then_some(code)
}

/// A phone number as its digits, without a +86/86 prefix: `+86 138-0013-8000` → `13800138000`;
/// `None` when fewer than 7 digits are left (无, 不详).
pub fn normalize_phone(raw: &str) -> Option<String> {
    let digits: String = fold(raw).chars().filter(char::is_ascii_digit).collect();
    let digits = match digits.strip_prefix("86") {
        Some(rest) if rest.len() == 11 => rest.to_owned(),
        _ => digits,
    };
    (digits.len() >= 7).then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sexes() {
        for raw in ["1", "男", "男性", "M", "m", "Male", " 男 ", "１"] {
            assert_eq!(normalize_sex(raw), Some("1"), "{raw}");
        }
        for raw in ["2", "女", "女性", "F", "female", "２"] {
            assert_eq!(normalize_sex(raw), Some("2"), "{raw}");
        }
        assert_eq!(normalize_sex("未知"), Some("0"));
        assert_eq!(normalize_sex("9"), Some("9"));
        for raw in ["3", "", "男女", "x"] {
            assert_eq!(normalize_sex(raw), None, "{raw}");
        }
    }

    #[test]
    fn ethnicities() {
        for (raw, code) in [
            ("汉族", "01"),
            ("汉", "01"),
            ("1", "01"),
            ("01", "01"),
            ("维吾尔族", "05"),
            ("崩龙族", "46"),
            ("毛难族", "36"),
            ("毛南族", "36"),
            ("基诺族", "56"),
            ("56", "56"),
            ("97", "97"),
            ("外国血统中国籍人士", "98"),
            (" 回 族 ", "03"),
        ] {
            assert_eq!(normalize_ethnicity(raw), Some(code), "{raw}");
        }
        for raw in ["57", "0", "火星族", "", "96"] {
            assert_eq!(normalize_ethnicity(raw), None, "{raw}");
        }
        assert_eq!(ethnicity_name("46"), Some("德昂族"));
        assert_eq!(datasets::tsv_rows(datasets::ETHNICITIES_TSV).count(), 58);
    }

    #[test]
    fn document_types() {
        for (raw, code) in [
            ("1", "1"),
            ("居民身份证", "1"),
            ("1-居民身份证", "1"),
            ("a", "A"),
            ("护照", "A"),
            ("Z", "Z"),
            ("无", "Z"),
            ("C", "C"),
            ("港澳台居民居住证", "C"),
            ("9", "9"),
            ("8:台湾居民来往大陆通行证", "8"),
            ("户口簿", "B"),
        ] {
            assert_eq!(normalize_document_type(raw), Some(code), "{raw}");
        }
        assert_eq!(normalize_document_type("2"), None);
        for code in ["1", "6", "7", "8", "9", "A", "B", "C", "Z"] {
            assert_eq!(normalize_document_type(document_type_label(code)), Some(code), "labels read back");
        }
        assert_eq!(normalize_document_type("驾驶证"), None);
    }

    #[test]
    fn grades() {
        for (raw, grade) in [
            ("一年级", 1),
            ("1年级", 1),
            ("1", 1),
            ("01", 1),
            ("六年级", 6),
            ("七年级", 7),
            ("初一", 7),
            ("初三", 9),
            ("九年级", 9),
            ("高一", 10),
            ("高三", 12),
            ("12", 12),
            ("十二年级", 12),
            ("小学三年级", 3),
        ] {
            assert_eq!(normalize_grade(raw), Some(grade), "{raw}");
        }
        for raw in ["0", "13", "初四", "高四", "", "大一", "2014级"] {
            assert_eq!(normalize_grade(raw), None, "{raw}");
        }
    }

    #[test]
    fn classes() {
        for (raw, class) in [
            ("3", "3"),
            ("03", "3"),
            ("3班", "3"),
            ("(3)班", "3"),
            ("（3）班", "3"),
            ("初一(3)班", "3"),
            ("三班", "3"),
            ("十二班", "12"),
            ("１２班", "12"),
        ] {
            assert_eq!(normalize_class(raw).as_deref(), Some(class), "{raw}");
        }
        assert_eq!(normalize_class("火箭班"), None);
        assert_eq!(normalize_class(""), None);
    }

    #[test]
    fn phones() {
        assert_eq!(normalize_phone("+86 138-0013-8000").as_deref(), Some("13800138000"));
        assert_eq!(normalize_phone("１３８００１３８０００").as_deref(), Some("13800138000"));
        assert_eq!(normalize_phone("0411-8888 6666").as_deref(), Some("041188886666"));
        assert_eq!(normalize_phone("无"), None);
    }

    #[test]
    fn school_codes() {
        assert_eq!(normalize_school_code(" 1144 001800 ").as_deref(), Some("1144001800"));
        assert_eq!(normalize_school_code("１１４４００１８００").as_deref(), Some("1144001800"));
        assert_eq!(normalize_school_code("  "), None);
    }
}

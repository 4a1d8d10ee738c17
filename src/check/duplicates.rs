//! Exact duplicates: one document number on several records — the same person registered more
//! than once (一人多籍) or different people carrying one number — and, among students without a
//! number, records sharing name, sex and birth date.

use std::collections::{HashMap, HashSet};

use polars::prelude::*;

use crate::columns::Text;
use crate::compare::{name_level, NameLevel, Side};
use crate::error::Result;
use crate::normalize::name::has_name;
use crate::problems::{Code, Problem};

/// How many of the other records a duplicate's message names.
const NAMED_IN_MESSAGE: usize = 5;

/// Two records sharing a number are the same person when their names agree as dedupe compares
/// them (`compare::name_level`): the same characters after normalization and once digits or
/// placeholders typed into them are dropped (王伟2, 王□), the same pinyin (a homophone, or the
/// name typed in pinyin), one character apart in a name of three or more with the same
/// surname, or equal but for a character no system can compare. In one family (one guardian) a
/// name that sounds apart is a sibling's: twins on one number are an ID conflict. Recorded birth
/// dates are not asked: the number carries the birth date, and a recorded one that disagrees is
/// reported as ID_BIRTH_MISMATCH.
pub fn same_person(a: &Side, b: &Side) -> bool {
    matches!(
        name_level(a, b),
        NameLevel::Exact | NameLevel::Normalized | NameLevel::Pinyin | NameLevel::HanClose | NameLevel::Unreadable
    )
}

/// Splits records into people: each named record joins the first person whose first record it
/// matches. A record without a name is no evidence of another person: it joins the first one.
pub fn people(records: &[Side]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, record) in records.iter().enumerate().filter(|(_, r)| r.name.is_some()) {
        match groups.iter_mut().find(|g| same_person(&records[g[0]], record)) {
            Some(group) => group.push(i),
            None => groups.push(vec![i]),
        }
    }
    let nameless = (0..records.len()).filter(|&i| records[i].name.is_none());
    match groups.first_mut() {
        Some(first) => {
            first.extend(nameless);
            first.sort_unstable();
        }
        None => groups.push(nameless.collect()),
    }
    groups
}

/// What exact duplicates group a record by: its number, or without one its normalized name,
/// sex and birth date (days); `None` when it has neither, and meets no one. Records
/// [`exact_duplicates`] may report together share it, so a cluster that puts each key's records
/// in one part finds them all.
pub fn group_key(id: Option<&str>, name: Option<&str>, sex: Option<&str>, birth: Option<i32>) -> Option<String> {
    match (id, name, sex, birth) {
        (Some(id), ..) => Some(id.to_owned()),
        // The unit separator is in no name: two keys never run into each other.
        (None, Some(name), Some(sex), Some(birth)) => Some(format!("\u{1f}{name}\u{1f}{sex}\u{1f}{birth}")),
        _ => None,
    }
}

pub fn exact_duplicates(df: &DataFrame, lost_ids: &HashSet<usize>) -> Result<Vec<Problem>> {
    let ids = Text::of(df, "id_norm")?;
    let doc_types = Text::of(df, "id_type_norm")?;
    let names = df.column("name_norm")?.str()?;
    let pinyins = df.column("name_pinyin")?.str()?;
    let sexes = Text::of(df, "sex_norm")?;
    let births = df.column("birth_date_norm")?.to_physical_repr();
    let births = births.i32()?;
    let record_ids = df.column("record_id")?.str()?;
    let (guardians, phones) = (Text::optional(df, "guardian_name")?, Text::of(df, "guardian_phone_norm")?);
    // A record as far as "is it the same person?" goes: its name (one of nothing but digits or
    // symbols is no name, no evidence of another person), its reading and its guardian.
    let person = |i: usize| Side {
        name: names.get(i).filter(|n| has_name(n)),
        pinyin: pinyins.get(i),
        guardian_name: guardians.get(i),
        guardian_phone: phones.get(i),
        ..Side::default()
    };

    let mut problems = Vec::new();
    for rows in crate::columns::repeated_values(ids, df.height(), |i| !lost_ids.contains(&i)) {
        let rows = &rows;
        let id = ids.get(rows[0]).unwrap_or_default();
        let persons = people(&rows.iter().map(|&i| person(i)).collect::<Vec<_>>());
        let others = |i: usize| named_others(rows, i, |j| record_ids.get(j).unwrap_or(""));
        for &i in rows {
            let (code, message) = if persons.len() == 1 {
                (
                    Code::IdDuplicate,
                    crate::say!(
                        "同一学生的{}条学籍使用证件号{id}，另见：{}",
                        "{} records of this person carry {id}: also {}",
                        rows.len(),
                        others(i)
                    ),
                )
            } else {
                let who: Vec<&str> = persons.iter().map(|g| names.get(rows[g[0]]).unwrap_or("?")).collect();
                (
                    Code::IdConflict,
                    crate::say!(
                        "证件号{id}被{}名不同学生使用({})，另见：{}",
                        "{id} is carried by {} different people ({}): also {}",
                        persons.len(),
                        who.join(crate::lang::pick("、", ", ")),
                        others(i)
                    ),
                )
            };
            problems.push(Problem { record: i, code, raw: Some(id.to_string()), message });
        }
    }

    // Students without a number (type Z / none given): same normalized name, sex and birth date.
    let mut by_key: HashMap<(&str, &str, i32), Vec<usize>> = HashMap::new();
    for i in 0..df.height() {
        let no_document = ids.get(i).is_none() && matches!(doc_types.get(i), None | Some("Z"));
        if let (true, Some(name), Some(sex), Some(birth)) = (no_document, names.get(i), sexes.get(i), births.get(i)) {
            by_key.entry((name, sex, birth)).or_default().push(i);
        }
    }
    for ((name, _, _), rows) in by_key.iter().filter(|(_, rows)| rows.len() > 1) {
        for &i in rows {
            let message = crate::say!(
                "{}条无证件号的学籍姓名、性别、出生日期相同，另见：{}",
                "{} records without a number share name, sex and birth date: also {}",
                rows.len(),
                named_others(rows, i, |j| record_ids.get(j).unwrap_or(""))
            );
            problems.push(Problem { record: i, code: Code::NoIdDuplicate, raw: Some(name.to_string()), message });
        }
    }
    problems.sort_by_key(|p| (p.record, p.code));
    Ok(problems)
}

/// The record ids of the group other than `me`, the first few, then a count.
fn named_others<'a>(rows: &[usize], me: usize, record_id: impl Fn(usize) -> &'a str) -> String {
    let others: Vec<&str> = rows.iter().filter(|&&j| j != me).map(|&j| record_id(j)).collect();
    let mut text =
        others.iter().take(NAMED_IN_MESSAGE).copied().collect::<Vec<_>>().join(crate::lang::pick("、", ", "));
    if others.len() > NAMED_IN_MESSAGE {
        text.push_str(&crate::say!(" 等(另{}条)", " (+{} more)", others.len() - NAMED_IN_MESSAGE));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_exact_duplicates_may_join_share_a_group_key() {
        let key = group_key;
        assert_eq!(
            key(Some("11010519491231002X"), Some("张伟"), None, None),
            key(Some("11010519491231002X"), None, Some("1"), Some(5))
        );
        assert_eq!(key(None, Some("张伟"), Some("1"), Some(5)), key(None, Some("张伟"), Some("1"), Some(5)));
        assert_ne!(key(None, Some("张伟"), Some("1"), Some(5)), key(None, Some("张伟"), Some("2"), Some(5)));
        // A name that ends as another begins does not run into it.
        assert_ne!(key(None, Some("张 1"), Some("1"), Some(5)), key(None, Some("张"), Some("1 1"), Some(5)));
        assert_eq!(key(None, Some("张伟"), None, Some(5)), None, "no number and no sex: meets no one");
    }

    fn p<'a>(name: &'a str, pinyin: &'a str) -> Side<'a> {
        Side { name: Some(name), pinyin: Some(pinyin), ..Side::default() }
    }

    #[test]
    fn same_person_needs_agreeing_names() {
        assert!(same_person(&p("张伟", "zhang wei"), &p("张伟", "zhang wei")));
        assert!(same_person(&p("张伟", "zhang wei"), &p("张炜", "zhang wei")), "homophone");
        assert!(same_person(&p("欧阳子轩", "ou yang zi xuan"), &p("欧阳子宣", "ou yang zi xuan")));
        assert!(same_person(&p("刘思琪", "liu si qi"), &p("刘思玥", "liu si yue")), "one character apart in three");
        assert!(!same_person(&p("张伟", "zhang wei"), &p("张强", "zhang qiang")), "two-character names: a sibling");
        assert!(!same_person(&p("张伟", "zhang wei"), &p("李娜", "li na")));
        assert!(!same_person(&p("刘思琪", "liu si qi"), &p("王思琪", "wang si qi")), "another surname");
        assert!(same_person(&p("王伟2", "wang wei 2"), &p("王伟", "wang wei")), "a stray digit");
        assert!(same_person(&p("WANGXINYI", "wangxinyi"), &p("王欣怡", "wang xin yi")), "typed in pinyin");
        let nameless = Side::default();
        assert!(!same_person(&nameless, &nameless));
        // Twins on one number: one guardian, names one character apart that sound apart.
        let twin = |name, pinyin| Side { guardian_phone: Some("13912345678"), ..p(name, pinyin) };
        assert!(!same_person(&twin("刘宏川", "liu hong chuan"), &twin("刘宏浩", "liu hong hao")), "twins");
        assert!(same_person(&twin("张伟", "zhang wei"), &twin("张炜", "zhang wei")), "a homophone in one family");
    }

    #[test]
    fn nameless_records_join_the_first_person() {
        let nameless = Side::default();
        assert_eq!(people(&[nameless, p("张伟", "zhang wei")]), vec![vec![0, 1]]);
        assert_eq!(people(&[nameless, p("张伟", "zhang wei"), p("李娜", "li na")]), vec![vec![0, 1], vec![2]]);
        assert_eq!(people(&[nameless, nameless]), vec![vec![0, 1]]);
    }

    #[test]
    fn people_split_a_shared_number() {
        let records = [p("张伟", "zhang wei"), p("李娜", "li na"), p("张炜", "zhang wei")];
        assert_eq!(people(&records), vec![vec![0, 2], vec![1]]);
    }

    #[test]
    fn messages_name_a_few_others() {
        let rows: Vec<usize> = (0..8).collect();
        let ids = ["a", "b", "c", "d", "e", "f", "g", "h"];
        assert_eq!(named_others(&rows, 0, |j| ids[j]), "b、c、d、e、f 等(另2条)");
        assert_eq!(named_others(&rows[..2], 1, |j| ids[j]), "a");
    }
}

//! `xueji generate` end to end: determinism, realism, and every injected problem found by
//! `xueji check` (scored by `xueji eval`).

mod common;

use std::collections::{HashMap, HashSet};

use common::{generate, on_generated, read_parquet, xueji_ok};
use polars::prelude::SerReader;
use xueji::normalize::date::Date;
use xueji::normalize::id_number::is_valid;

fn column(df: &polars::prelude::DataFrame, name: &str) -> Vec<Option<String>> {
    df.column(name).unwrap().str().unwrap().iter().map(|v| v.map(str::to_owned)).collect()
}

/// `xueji eval`'s scores per problem code of `check`'s output in `checked` against the truth of
/// the population in `truth`.
fn problem_scores(truth: &std::path::Path, checked: &std::path::Path) -> serde_json::Value {
    let problems = checked.join("problems.parquet");
    let json = xueji_ok(&["eval", "--truth", truth.to_str().unwrap(), "--problems", problems.to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    report["problems"].clone()
}

#[test]
fn same_seed_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let files = ["sheets/students.csv", "truth/records.parquet", "truth/exact_duplicates.parquet", "truth/records.csv"];
    let (a, b, c) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("c"));
    generate(&a, 3000, 11, &["--format", "csv", "--encoding", "gb18030"]);
    generate(&b, 3000, 11, &["--format", "csv", "--encoding", "gb18030"]);
    generate(&c, 3000, 12, &["--format", "csv", "--encoding", "gb18030"]);
    for file in files {
        let (x, y) = (std::fs::read(a.join(file)).unwrap(), std::fs::read(b.join(file)).unwrap());
        assert!(x == y, "{file} differs between two runs with seed 11");
        assert_ne!(x, std::fs::read(c.join(file)).unwrap(), "{file}: seeds 11 and 12 give the same");
    }
    let (pa, pb) = (dir.path().join("pa"), dir.path().join("pb"));
    generate(&pa, 3000, 11, &[]);
    generate(&pb, 3000, 11, &[]);
    assert_eq!(
        std::fs::read(pa.join("sheets/students.parquet")).unwrap(),
        std::fs::read(pb.join("sheets/students.parquet")).unwrap()
    );
    let (xa, xb) = (dir.path().join("xa"), dir.path().join("xb"));
    generate(&xa, 500, 11, &["--format", "xlsx"]);
    generate(&xb, 500, 11, &["--format", "xlsx"]);
    assert!(
        std::fs::read(xa.join("sheets/students.xlsx")).unwrap()
            == std::fs::read(xb.join("sheets/students.xlsx")).unwrap(),
        "xlsx differs"
    );
    // The GB18030 file really is GB18030, and holds the same records as the Parquet file.
    let bytes = std::fs::read(a.join("sheets/students.csv")).unwrap();
    assert!(std::str::from_utf8(&bytes).is_err());
    let (text, _, malformed) = encoding_rs::GB18030.decode(&bytes);
    assert!(!malformed);
    assert_eq!(text.lines().count() - 1, read_parquet(&pa.join("sheets/students.parquet")).height());
}

#[test]
fn population_is_realistic() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g");
    generate(&out, 20_000, 3, &[]);
    let truth = read_parquet(&out.join("truth/records.parquet"));
    let as_of = Date::new(2026, 11, 29).unwrap();
    let ids = column(&truth, "true_id");
    let persons = column(&truth, "person_id");
    let roles = column(&truth, "role");
    let names = column(&truth, "true_name");
    let twins = column(&truth, "twin_of");

    assert!(ids.iter().all(|id| is_valid(id.as_deref().unwrap(), as_of)), "every person's own number is valid");
    let mut number_of: HashMap<String, String> = HashMap::new();
    for (person, id) in persons.iter().zip(&ids) {
        let previous = number_of.insert(person.clone().unwrap(), id.clone().unwrap());
        assert!(previous.is_none() || previous == id.clone(), "a person has one number");
    }
    let distinct: HashSet<&String> = number_of.values().collect();
    assert_eq!(distinct.len(), 20_000, "no two people share a number");

    let duplicates = roles.iter().filter(|r| r.as_deref() == Some("duplicate")).count() as f64;
    assert!((0.03 * 20_000.0..0.045 * 20_000.0).contains(&duplicates), "{duplicates} duplicate registrations");
    assert!(roles.iter().filter(|r| r.as_deref() == Some("misuse")).count() > 10);

    // Twins: same birth date and region, adjacent sequence numbers, different given names.
    let mut twin_pairs = 0;
    for i in 0..truth.height() {
        let (Some(other), Some("original")) = (twins[i].as_deref(), roles[i].as_deref()) else { continue };
        let j = (0..truth.height())
            .find(|&j| persons[j].as_deref() == Some(other) && roles[j].as_deref() != Some("duplicate"))
            .unwrap();
        let (a, b) = (ids[i].as_deref().unwrap(), ids[j].as_deref().unwrap());
        assert_eq!(a[..14], b[..14], "twins {a} {b}");
        let (sa, sb): (i32, i32) = (a[14..17].parse().unwrap(), b[14..17].parse().unwrap());
        assert!((1..=2).contains(&(sa - sb).abs()), "twins {a} {b}");
        assert_ne!(names[i], names[j]);
        // One family name: the surname, or the father's name after the dot of a transliterated one.
        let family =
            |name: &str| name.split_once('·').map_or(name.chars().next().unwrap().to_string(), |(_, f)| f.to_owned());
        assert_eq!(
            family(names[i].as_deref().unwrap()),
            family(names[j].as_deref().unwrap()),
            "{:?} {:?}",
            names[i],
            names[j]
        );
        twin_pairs += 1;
    }
    assert!(twin_pairs >= 2 * 150, "{twin_pairs} twin records");

    // Namesakes happen as in life: distinct people with one name.
    let mut people_by_name: HashMap<&str, HashSet<&str>> = HashMap::new();
    for (name, person) in names.iter().zip(&persons) {
        people_by_name.entry(name.as_deref().unwrap()).or_default().insert(person.as_deref().unwrap());
    }
    let shared = people_by_name.values().filter(|p| p.len() > 1).count();
    assert!(shared > 200, "{shared} names shared by several people");
    let wangs = names.iter().filter(|n| n.as_deref().unwrap().starts_with('王')).count() as f64 / names.len() as f64;
    assert!((0.05..0.10).contains(&wangs), "王 {wangs}");
    assert!(names.iter().any(|n| n.as_deref().unwrap().contains('·')), "transliterated names");
}

#[test]
fn check_finds_every_injected_problem() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g");
    generate(&out, 20_000, 5, &["--format", "csv", "--problem-rate", "0.05"]);
    let checked = dir.path().join("c");
    on_generated("check", &out.join("sheets"), &checked, &[]);
    let report = problem_scores(&out, &checked);
    let problems = report.as_object().unwrap();
    let truth = read_parquet(&out.join("truth/records.parquet"));
    let injected: HashSet<String> = column(&truth, "injected").into_iter().flatten().collect();
    assert!(injected.len() >= 18, "{injected:?}");
    let mut false_alarms = 0;
    for (code, scores) in problems {
        let expected = scores["expected"].as_u64().unwrap();
        let reported = scores["reported"].as_u64().unwrap();
        let found = scores["true_positives"].as_u64().unwrap();
        assert_eq!(found, expected, "{code}: {found} of {expected} found");
        false_alarms += reported - found;
        eprintln!("{code}: expected {expected}, reported {reported}");
    }
    for code in &injected {
        assert!(problems[code]["expected"].as_u64().unwrap() > 0, "{code}");
    }
    // Counted, and for this generator none: every reported problem is one it made.
    assert_eq!(false_alarms, 0);
}

#[test]
fn excel_output_has_a_title_row_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g");
    generate(&out, 300, 2, &["--format", "xlsx"]);
    let checked = dir.path().join("c");
    let stdout = on_generated("check", &out.join("sheets"), &checked, &[]);
    let truth = read_parquet(&out.join("truth/records.parquet"));
    assert!(stdout.contains(&format!("读取{}条记录，来自1个文件", truth.height())), "{stdout}");
    let records = read_parquet(&checked.join("records.parquet"));
    let rows: Vec<u32> = records.column("source_row").unwrap().u32().unwrap().into_no_null_iter().collect();
    assert_eq!(rows[0], 3, "title on row 1, header on row 2");
    let mut ids = column(&records, "record_id");
    let mut truth_ids = column(&truth, "record_id");
    ids.sort();
    truth_ids.sort();
    assert_eq!(ids, truth_ids);
}

#[test]
fn several_provinces_share_their_people_through_transfers() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g");
    generate(&out, 4000, 9, &["--province", "21,44", "--transfer-rate", "0.5"]);
    // Which province's sheet holds each record, and its school there.
    let mut province_of: HashMap<String, &str> = HashMap::new();
    for code in ["21", "44"] {
        let sheet = read_parquet(&out.join("sheets").join(code).join("students.parquet"));
        let (ids, schools) = (column(&sheet, "学籍辅号"), column(&sheet, "学校标识码"));
        assert!(sheet.height() > 1900, "province {code}: {} records", sheet.height());
        for (id, school) in ids.into_iter().zip(schools) {
            let school = school.unwrap();
            // A school code carries its province (injected damage shortens some).
            assert!(school.len() < 10 || &school[2..4] == code, "{school} in province {code}'s sheet");
            assert!(province_of.insert(id.unwrap(), code).is_none(), "record ids are unique across provinces");
        }
    }
    let truth = read_parquet(&out.join("truth/records.parquet"));
    let (ids, roles, perturbations) =
        (column(&truth, "record_id"), column(&truth, "role"), column(&truth, "perturbations"));
    let persons: Vec<i64> = truth
        .column("person_id")
        .unwrap()
        .cast(&polars::prelude::DataType::Int64)
        .unwrap()
        .i64()
        .unwrap()
        .into_no_null_iter()
        .collect();
    assert_eq!(ids.len(), province_of.len(), "the truth covers both sheets");
    let original: HashMap<i64, &str> = (0..ids.len())
        .filter(|&i| roles[i].as_deref() != Some("duplicate"))
        .map(|i| (persons[i], province_of[ids[i].as_ref().unwrap()]))
        .collect();
    let (mut transfers, mut duplicates) = (0, 0);
    for i in (0..ids.len()).filter(|&i| roles[i].as_deref() == Some("duplicate")) {
        duplicates += 1;
        let here = province_of[ids[i].as_ref().unwrap()];
        let moved = perturbations[i].as_deref().unwrap_or("").split(';').any(|p| p == "province:transfer");
        assert_eq!(moved, here != original[&persons[i]], "{:?}: a transfer, and only a transfer, crosses", ids[i]);
        transfers += usize::from(moved);
    }
    assert!(transfers > 20 && transfers < duplicates, "{transfers} of {duplicates} duplicates in another province");
}

/// `--layout schools`: the files a province receives, one per school in a folder per county — a
/// workbook with a sheet per class (merged title, class and school merged down, a hidden dropdown
/// sheet, a 填表说明), or a CSV of which some were saved by Excel — and `check` finds exactly
/// the problems the generator made, merged cells and rounded numbers included.
#[test]
fn schools_send_their_files_as_schools_make_them() {
    let dir = tempfile::tempdir().unwrap();
    for format in ["xlsx", "csv"] {
        let out = dir.path().join(format);
        generate(&out, 6000, 9, &["--format", format, "--layout", "schools", "--excel-saved-rate", "0.5"]);
        let files: Vec<std::path::PathBuf> = std::fs::read_dir(out.join("sheets"))
            .unwrap()
            .flat_map(|county| std::fs::read_dir(county.unwrap().path()).unwrap().map(|f| f.unwrap().path()))
            .collect();
        assert!(files.len() > 3, "{files:?}");
        assert!(files.iter().all(|f| f.extension().is_some_and(|e| e == format)), "{files:?}");
        let checked = dir.path().join(format!("c_{format}"));
        let stdout = on_generated("check", &out.join("sheets"), &checked, &[]);
        let report = problem_scores(&out, &checked);
        let problems = report.as_object().unwrap();
        for (code, scores) in problems {
            let (expected, reported, found) = (
                scores["expected"].as_u64().unwrap(),
                scores["reported"].as_u64().unwrap(),
                scores["true_positives"].as_u64().unwrap(),
            );
            assert!(found == expected && reported == expected, "{format} {code}: {scores}");
        }
        let expected = |code: &str| problems.get(code).map_or(0, |s| s["expected"].as_u64().unwrap());
        if format == "xlsx" {
            assert!(stdout.contains("工作表“下拉”未读取") && stdout.contains("隐藏"), "{stdout}");
            assert!(stdout.contains("工作表“填表说明”未读取"), "{stdout}");
            assert!(expected("CELL_MERGED") > 20, "a report per merged class sheet");
        } else {
            assert!(expected("CELL_NUMBER_PRECISION_LOST") > 200, "schools whose CSV Excel saved");
        }
    }
}

/// Twins as families have them (issue #26): names that never sound alike, a share in different
/// classes of their grade, and now and then the second registered with the first's number.
#[test]
fn twins_as_families_have_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g");
    generate(&out, 40_000, 26, &["--format", "csv"]);
    let truth = read_parquet(&out.join("truth/records.parquet"));
    let sheet = polars::prelude::CsvReadOptions::default()
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(out.join("sheets/students.csv")))
        .unwrap()
        .finish()
        .unwrap();
    let (records, persons, roles, twins, names) = (
        column(&truth, "record_id"),
        column(&truth, "person_id"),
        column(&truth, "role"),
        column(&truth, "twin_of"),
        column(&truth, "true_name"),
    );
    let (sheet_ids, classes, numbers) =
        (column(&sheet, "学籍辅号"), column(&sheet, "班级"), column(&sheet, "身份证件号"));
    let row_of: HashMap<&str, usize> =
        sheet_ids.iter().enumerate().map(|(k, id)| (id.as_deref().unwrap(), k)).collect();
    // Each twin's first registration: its class and the number typed for it.
    let mut first: HashMap<&str, (usize, &str)> = HashMap::new();
    for k in 0..truth.height() {
        if twins[k].is_some() && roles[k].as_deref() != Some("duplicate") {
            first.insert(persons[k].as_deref().unwrap(), (k, names[k].as_deref().unwrap()));
        }
    }
    let (mut pairs, mut apart, mut borrowed) = (0, 0, 0);
    for (&person, &(k, name)) in &first {
        let other = twins[k].as_deref().unwrap();
        if person > other {
            continue;
        }
        let (j, other_name) = first[other];
        pairs += 1;
        let reading = |n: &str| xueji::normalize::name::name_pinyin(&xueji::normalize::name::normalize_name(n).0);
        assert!(!xueji::compare::fuzzy_homophones(&reading(name), &reading(other_name)), "{name} / {other_name}");
        let (a, b) = (row_of[records[k].as_deref().unwrap()], row_of[records[j].as_deref().unwrap()]);
        apart += usize::from(classes[a] != classes[b]);
        borrowed += usize::from(numbers[a] == numbers[b]);
    }
    assert!(pairs > 300, "{pairs} twin pairs");
    let share = apart as f64 / pairs as f64;
    assert!((0.15..0.45).contains(&share), "{apart} of {pairs} twin pairs in different classes");
    assert!((1..pairs / 10).contains(&borrowed), "{borrowed} of {pairs} twin pairs registered with one number");
}

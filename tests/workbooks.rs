//! Sheets shaped as schools really send them, built here with a real xlsx writer: one sheet per
//! class under a title row, a hidden dropdown sheet and a 填表说明 sheet, merged class and school
//! cells, words for unknown in date fields, a CSV that Excel saved with its numbers rounded,
//! Excel's text apostrophe, and names with rare characters.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use common::*;
use rust_xlsxwriter::{Format, Workbook};

const HEADERS: [&str; 9] =
    ["姓名", "性别", "出生日期", "身份证件号", "年级", "班级", "学校名称", "监护人姓名", "入学年月"];
const SURNAMES: [&str; 10] = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"];
const GIVEN: [&str; 12] =
    ["子轩", "欣怡", "浩宇", "梓涵", "一诺", "宇轩", "若汐", "沐宸", "思远", "佳琪", "俊杰", "雨桐"];

/// Student `k` of a class: a name, sex, birth date and valid number of their own.
fn student(k: usize) -> [String; 4] {
    let name = format!("{}{}", SURNAMES[k % 10], GIVEN[(k / 10) % 12]);
    let (month, day) = (1 + k % 12, 1 + k % 28);
    let birth = format!("2017-{month:02}-{day:02}");
    let seq = 100 + k;
    let id = with_check(&format!("2113022017{month:02}{day:02}{seq:03}"));
    let sex = if seq % 2 == 1 { "男" } else { "女" };
    [name, sex.to_owned(), birth, id]
}

/// 三年级.xlsx: sheets 一班, 二班, 三班 of 40 students each under a merged title row, 二班 with
/// its class and school merged down the block, a hidden dropdown sheet and a notes sheet.
fn class_workbook(path: &Path) {
    let mut book = Workbook::new();
    let plain = Format::new();
    for (c, class) in ["一班", "二班", "三班"].into_iter().enumerate() {
        let sheet = book.add_worksheet();
        sheet.set_name(class).unwrap();
        sheet.merge_range(0, 0, 0, 8, "大凌河小学三年级学生基本信息表", &plain).unwrap();
        for (col, header) in HEADERS.iter().enumerate() {
            sheet.write_string(1, col as u16, *header).unwrap();
        }
        for i in 0..40 {
            let row = 2 + i as u32;
            let [name, sex, birth, id] = student(c * 40 + i);
            sheet.write_string(row, 0, &name).unwrap();
            sheet.write_string(row, 1, &sex).unwrap();
            // Words for unknown in both date fields.
            let birth = match (c, i) {
                (0, 4) => "不详".to_owned(),
                (0, 5) => "待查".to_owned(),
                _ => birth,
            };
            sheet.write_string(row, 2, &birth).unwrap();
            sheet.write_string(row, 3, &id).unwrap();
            sheet.write_string(row, 4, "三年级").unwrap();
            if c != 1 {
                sheet.write_string(row, 5, class).unwrap();
                sheet.write_string(row, 6, "大凌河小学").unwrap();
            }
            let surname: String = name.chars().take(1).collect();
            sheet.write_string(row, 7, format!("{surname}建国")).unwrap();
            sheet.write_string(row, 8, if i == 7 { "不详" } else { "2023-09" }).unwrap();
        }
        if c == 1 {
            sheet.merge_range(2, 5, 41, 5, class, &plain).unwrap();
            sheet.merge_range(2, 6, 41, 6, "大凌河小学", &plain).unwrap();
        }
    }
    let dropdowns = book.add_worksheet();
    dropdowns.set_name("下拉").unwrap();
    dropdowns.write_string(0, 0, "民族").unwrap();
    dropdowns.write_string(0, 1, "年级").unwrap();
    for (i, (ethnicity, grade)) in
        [("汉族", "一年级"), ("满族", "二年级"), ("蒙古族", "三年级")].into_iter().enumerate()
    {
        dropdowns.write_string(1 + i as u32, 0, ethnicity).unwrap();
        dropdowns.write_string(1 + i as u32, 1, grade).unwrap();
    }
    dropdowns.set_hidden(true);
    let notes = book.add_worksheet();
    notes.set_name("填表说明").unwrap();
    for (i, line) in ["1. 每班一个工作表", "2. 身份证件号请以文本格式录入", "3. 带★为必填项"].into_iter().enumerate()
    {
        notes.write_string(i as u32, 0, line).unwrap();
    }
    book.save(path).unwrap();
}

#[test]
fn every_class_sheet_is_read_and_the_others_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let book = dir.path().join("三年级.xlsx");
    class_workbook(&book);
    let out = dir.path().join("out");
    let printed = xueji_ok(&["check", book.to_str().unwrap(), "--out", out.to_str().unwrap(), "--as-of", AS_OF]);
    for class in ["一班", "二班", "三班"] {
        assert!(printed.contains(&format!("工作表“{class}”，表头在第2行，40条记录")), "{printed}");
    }
    assert!(printed.contains("工作表“下拉”未读取（4行，隐藏）"), "{printed}");
    assert!(printed.contains("工作表“填表说明”未读取（3行）"), "{printed}");

    let records = read_parquet(&out.join("records.parquet"));
    assert_eq!(records.height(), 120, "no class lost");
    let ids = strings(&records, "record_id");
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 120, "rows of three sheets keep ids of their own");
    let sources = strings(&records, "source_file");
    let classes = strings(&records, "class");
    let schools = strings(&records, "school_name");
    let mut per_sheet: BTreeMap<String, usize> = BTreeMap::new();
    for (i, source) in sources.iter().enumerate() {
        let sheet = source.rsplit_once('#').map(|(_, s)| s.to_owned()).expect("the sheet in the source");
        assert_eq!(classes[i], sheet, "every row of a merged class block has its class");
        assert_eq!(schools[i], "大凌河小学", "and its school");
        *per_sheet.entry(sheet).or_default() += 1;
    }
    assert_eq!(per_sheet.values().copied().collect::<Vec<_>>(), [40, 40, 40]);

    let problems = read_parquet(&out.join("problems.parquet"));
    let codes = strings(&problems, "code");
    let messages = strings(&problems, "message");
    let merged: Vec<&String> =
        codes.iter().zip(&messages).filter(|(c, _)| *c == "CELL_MERGED").map(|(_, m)| m).collect();
    assert_eq!(merged.len(), 2, "one report per merged block: {merged:?}");
    assert!(merged.iter().all(|m| m.contains("第3–42行")), "{merged:?}");
    let count = |code: &str| codes.iter().filter(|c| *c == code).count();
    assert_eq!(count("BIRTH_DATE_INVALID"), 0, "不详 is no invalid date");
    assert_eq!(count("BIRTH_DATE_MISSING"), 2);
    assert_eq!(count("VALUE_UNKNOWN"), 2, "said once per cell (入学年月 is not read as a date)");

    // The campaign keeps the list: in manifest.json and report.html.
    let campaign = dir.path().join("campaign");
    xueji_ok(&["run", book.to_str().unwrap(), "--out", campaign.to_str().unwrap(), "--as-of", AS_OF]);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(campaign.join("manifest.json")).unwrap()).unwrap();
    let not_read = manifest["preflight"]["sheets_not_read"].as_array().unwrap();
    let listed: Vec<(String, u64, bool)> = not_read
        .iter()
        .map(|s| (s["sheet"].as_str().unwrap().to_owned(), s["rows"].as_u64().unwrap(), s["hidden"].as_bool().unwrap()))
        .collect();
    assert_eq!(listed, [("下拉".to_owned(), 4, true), ("填表说明".to_owned(), 3, false)]);
    let html = std::fs::read_to_string(campaign.join("report.html")).unwrap();
    let section = html.split(r#"<table id="not-read">"#).nth(1).expect("a table of what was not read");
    assert!(section.contains("下拉") && section.contains("填表说明"), "{section}");

    // A school's return workbook says on which sheet each row is.
    let returns: Vec<std::path::PathBuf> = walk(&campaign.join("returns"));
    let workbook = returns.iter().find(|p| p.extension().is_some_and(|e| e == "xlsx")).expect("a return workbook");
    let mut returned: calamine::Xlsx<_> = calamine::open_workbook(workbook).unwrap();
    use calamine::Reader;
    let range = returned.worksheet_range_at(0).unwrap().unwrap();
    let rows: Vec<Vec<String>> = range.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect();
    assert_eq!(rows[0][0], "工作表", "{:?}", rows[0]);
    assert!(rows.iter().any(|r| r[0] == "一班" && r[1] == "7"), "不详 on row 7 of 一班: {rows:?}");

    // Sheets named on the command line, and only those.
    let out2 = dir.path().join("out2");
    let printed = xueji_ok(&[
        "check",
        book.to_str().unwrap(),
        "--out",
        out2.to_str().unwrap(),
        "--as-of",
        AS_OF,
        "--sheet",
        "二班",
        "--sheet",
        "三班",
    ]);
    assert!(!printed.contains("一班"), "{printed}");
    assert_eq!(read_parquet(&out2.join("records.parquet")).height(), 80);
    let refused = xueji(&["check", book.to_str().unwrap(), "--out", out2.to_str().unwrap(), "--sheet", "下拉"]);
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("三年级.xlsx") && message.contains("下拉") && message.contains("姓名"), "{message}");
}

#[test]
fn a_workbook_of_only_notes_says_what_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("说明.xlsx");
    let mut book = Workbook::new();
    book.add_worksheet().set_name("填表说明").unwrap().write_string(0, 0, "请按模板填写").unwrap();
    book.save(&path).unwrap();
    let refused = xueji(&["check", path.to_str().unwrap(), "--out", dir.path().join("o").to_str().unwrap()]);
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("说明.xlsx") && message.contains("填表说明") && message.contains("1 rows"), "{message}");
}

/// The CSV Excel writes from a sheet whose ID column was General: numbers in scientific notation
/// or with their last three digits zeroed, and Excel's text mark kept by an export.
#[test]
fn numbers_excel_rounded_in_a_csv_are_never_anyones_number() {
    let dir = tempfile::tempdir().unwrap();
    let sheets = dir.path().join("sheets");
    std::fs::create_dir(&sheets).unwrap();
    let mut csv = String::from("姓名,性别,出生日期,身份证件号,学校名称\n");
    let whole = with_check("21132420141117356");
    let rows = [
        ("赵一鸣", "男", "2013-08-23", "2.11381E+17".to_owned()),
        ("钱二丫", "女", "2014-02-11", "2.11381E+17".to_owned()),
        ("孙三宝", "男", "2012-12-30", "2.11381E+17".to_owned()),
        ("李四海", "男", "2010-10-12", "211104201010125000".to_owned()),
        ("周五月", "女", "2011-05-05", "211104201105052000".to_owned()),
        ("吴六顺", "女", "2014-11-17", format!("'{whole}")),
    ];
    for (name, sex, birth, id) in &rows {
        csv.push_str(&format!("{name},{sex},{birth},{id},大凌河小学\n"));
    }
    for k in 0..12 {
        let [name, sex, birth, id] = student(k);
        csv.push_str(&format!("{name},{sex},{birth},{id},大凌河小学\n"));
    }
    std::fs::write(sheets.join("excel另存.csv"), csv).unwrap();
    let out = dir.path().join("campaign");
    xueji_ok(&["run", sheets.to_str().unwrap(), "--out", out.to_str().unwrap(), "--as-of", AS_OF]);

    let problems = problem_set(&out);
    for row in 2..=6 {
        let codes = codes_at(&problems, "excel另存.csv", row);
        assert!(codes.contains(&"CELL_NUMBER_PRECISION_LOST".to_owned()), "row {row}: {codes:?}");
        for wrong in ["ID_CONFLICT", "ID_DUPLICATE", "ID_CHECKSUM", "ID_FORMAT"] {
            assert!(!codes.contains(&wrong.to_owned()), "row {row}: {codes:?}");
        }
    }
    let apostrophe = codes_at(&problems, "excel另存.csv", 7);
    assert!(apostrophe.contains(&"CELL_TEXT_MARK".to_owned()), "{apostrophe:?}");
    assert!(!apostrophe.iter().any(|c| c.starts_with("ID_")), "the number behind the mark is whole: {apostrophe:?}");
    for name in std::fs::read_dir(out.join("police")).unwrap().map(|e| e.unwrap().path()) {
        if name.extension().is_some_and(|e| e == "csv") {
            let text = std::fs::read_to_string(&name).unwrap();
            for rounded in ["2.11381E+17", "211104201010125000", "211104201105052000"] {
                assert!(!text.contains(rounded), "{} sends a rounded number to police", name.display());
            }
        }
    }
}

#[test]
fn a_rare_character_matches_its_substitute_and_twins_stay_two() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), 3000, 19, &["--format", "csv"]);
    let sheets = dir.path().join("sheets");
    // Without numbers, a name is all there is: 张𠮷 in one school is 张吉 in another; twins
    // written with described characters are two children.
    let extra = "姓名,性别,出生日期,身份证件号,学校名称,班级,监护人姓名,监护人联系电话,学籍辅号\n\
                 张𠮷,男,2015-03-09,,第一小学,三年级(1)班,张建华,13904111234,X1\n\
                 张吉,男,2015-03-09,,第二小学,三年级(2)班,张建华,13904111234,X2\n\
                 王[女吉],女,2016-07-21,,第一小学,二年级(1)班,王立新,13904115678,X3\n\
                 王[女乐],女,2016-07-21,,第一小学,二年级(2)班,王立新,13904115678,X4\n\
                 李\u{E816},女,2016-01-02,,第三小学,二年级(3)班,李刚,13904119999,X5\n\
                 赵\u{E816},男,2016-04-12,,第三小学,二年级(1)班,赵刚,13904118888,X6\n\
                 赵\u{E817},男,2016-04-12,,第三小学,二年级(2)班,赵刚,13904118888,X7\n";
    std::fs::write(sheets.join("zz_rare.csv"), extra).unwrap();
    let out = dir.path().join("out");
    on_generated("dedupe", &sheets, &out, &[]);
    let pairs = read_parquet(&out.join("duplicate_pairs.parquet"));
    let (a, b) = (strings(&pairs, "record_id_l"), strings(&pairs, "record_id_r"));
    let paired = |x: &str, y: &str| a.iter().zip(&b).any(|(p, q)| (p == x && q == y) || (p == y && q == x));
    assert!(paired("X1", "X2"), "张𠮷 and 张吉 are one child");
    assert!(!paired("X3", "X4"), "twins with described characters are two children");
    assert!(!paired("X6", "X7"), "twins with private-use characters are two children");

    let check = dir.path().join("check");
    on_generated("check", &sheets, &check, &[]);
    let problems = read_parquet(&check.join("problems.parquet"));
    let found: HashSet<(String, String)> =
        strings(&problems, "record_id").into_iter().zip(strings(&problems, "code")).collect();
    assert!(found.contains(&("X3".into(), "NAME_DESCRIBED_CHAR".into())));
    assert!(found.contains(&("X5".into(), "NAME_PRIVATE_USE".into())));
    assert!(!found.contains(&("X1".into(), "NAME_SYMBOL".into())), "an Extension B character is a character");
}

/// The bad-input defects a new user met: each gets a message that names what went wrong where.
#[test]
fn damaged_and_foreign_inputs_are_named_where_they_are() {
    let dir = tempfile::tempdir().unwrap();
    // A NUL inside a character of line 8 of a UTF-8 file: the damage is on line 8, not line 1.
    let mut text = String::from("姓名,性别,出生日期,身份证件号\n");
    for k in 0..8 {
        let [name, sex, birth, id] = student(k);
        text.push_str(&format!("{name},{sex},{birth},{id}\n"));
    }
    let mut bytes = text.into_bytes();
    let line_8 = bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').nth(6).unwrap().0 + 1;
    bytes.insert(line_8 + 1, 0);
    let damaged = dir.path().join("damaged.csv");
    std::fs::write(&damaged, &bytes).unwrap();
    let out = xueji(&["check", damaged.to_str().unwrap(), "--out", dir.path().join("d").to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("damaged.csv: 第8行") && stderr.contains("line 8:"), "{stderr}");

    // Empty text in Parquet is a blank cell, as in CSV: the same problems either way.
    let csv = dir.path().join("blank.csv");
    std::fs::write(&csv, "姓名,性别,出生日期,身份证件号,民族\n张三,男,2015-01-02,,\n李四,,,,汉族\n,,,,\n").unwrap();
    let parquet = dir.path().join("blank.parquet");
    let mut df = polars::df!(
        "姓名" => ["张三", "李四", ""],
        "性别" => ["男", "", " "],
        "出生日期" => ["2015-01-02", "", ""],
        "身份证件号" => ["", "", ""],
        "民族" => ["", "汉族", ""],
    )
    .unwrap();
    polars::prelude::ParquetWriter::new(std::fs::File::create(&parquet).unwrap()).finish(&mut df).unwrap();
    let codes = |input: &Path, out: &str| {
        let out = dir.path().join(out);
        xueji_ok(&["check", input.to_str().unwrap(), "--out", out.to_str().unwrap(), "--as-of", AS_OF]);
        let problems = read_parquet(&out.join("problems.parquet"));
        let rows: Vec<u32> = problems.column("source_row").unwrap().u32().unwrap().into_no_null_iter().collect();
        let codes = strings(&problems, "code");
        // CSV rows count the header; Parquet rows count records.
        let offset = if input.extension().is_some_and(|e| e == "csv") { 1 } else { 0 };
        rows.into_iter().map(|r| r - offset).zip(codes).collect::<Vec<_>>()
    };
    assert_eq!(codes(&parquet, "p"), codes(&csv, "c"));

    // A registry whose records.parquet another writer stored with text as categories links all
    // the same; one with a column of another type is refused naming the file.
    let sheet = dir.path().join("sheet.csv");
    let mut text = String::from("姓名,性别,出生日期,身份证件号,学校名称\n");
    for k in 0..30 {
        let [name, sex, birth, id] = student(k);
        text.push_str(&format!("{name},{sex},{birth},{id},大凌河小学\n"));
    }
    std::fs::write(&sheet, &text).unwrap();
    let campaign = dir.path().join("campaign");
    xueji_ok(&["run", sheet.to_str().unwrap(), "--out", campaign.to_str().unwrap(), "--as-of", AS_OF]);
    let records = campaign.join("records.parquet");
    let original = std::fs::read(&records).unwrap();
    let rewrite = |column: &str, dtype: polars::prelude::DataType| {
        let mut df = read_parquet(&records);
        let cast = df.column(column).unwrap().cast(&dtype).unwrap();
        df.with_column(cast).unwrap();
        polars::prelude::ParquetWriter::new(std::fs::File::create(&records).unwrap()).finish(&mut df).unwrap();
    };
    let intake = dir.path().join("intake.csv");
    let [name, sex, birth, id] = student(3);
    std::fs::write(&intake, format!("姓名,性别,出生日期,身份证件号,学校名称\n{name},{sex},{birth},{id},第二小学\n"))
        .unwrap();
    let link = |out: &str| {
        let out = dir.path().join(out);
        let args =
            ["link", intake.to_str().unwrap(), "--against", campaign.to_str().unwrap(), "--out", out.to_str().unwrap()];
        xueji(&[&args[..], &["--as-of", AS_OF]].concat())
    };
    rewrite("name", polars::prelude::DataType::from_categories(polars::prelude::Categories::global()));
    let linked = link("l1");
    assert!(linked.status.success(), "{}", String::from_utf8_lossy(&linked.stderr));
    std::fs::write(&records, &original).unwrap();
    rewrite("source_row", polars::prelude::DataType::Int64);
    let refused = link("l2");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("records.parquet") && stderr.contains("source_row"),
        "{stderr}"
    );

    // --id-column 学籍号 is the 全国学籍号, whose repeats are what xueji finds: said so.
    let repeated = dir.path().join("repeated.csv");
    std::fs::write(&repeated, "姓名,性别,出生日期,身份证件号,学籍号\n张三,男,2015-01-02,,G1\n张三,男,2015-01-02,,G1\n")
        .unwrap();
    let out = xueji(&[
        "check",
        repeated.to_str().unwrap(),
        "--out",
        dir.path().join("r").to_str().unwrap(),
        "--id-column",
        "学籍号",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    for said in ["全国学籍号", "序号", "repeated registrations are what xueji finds"] {
        assert!(stderr.contains(said), "{said:?} not in {stderr}");
    }
}

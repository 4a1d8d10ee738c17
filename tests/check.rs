//! `xueji check` end to end on fixtures written by the tests themselves: an Excel sheet with a
//! title row, a GB18030 CSV, a Parquet file, and malformed inputs.

mod common;

use std::path::Path;

use common::{codes_at, problem_set, read_parquet, with_check, xueji, xueji_ok, AS_OF};
use polars::prelude::*;
use rust_xlsxwriter::Workbook;

fn write_xlsx(path: &Path, other_id: &str) {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.write_string(0, 0, "实验小学2026年秋季学生基本信息表").unwrap();
    sheet.write_string(1, 0, "说明：带★为必填项").unwrap();
    let header = [
        "★姓名",
        "★性别",
        "★出生日期",
        "★身份证件类型",
        "身份证件号",
        "★民族",
        "学校标识码",
        "学校名称",
        "★年级",
        "★班级",
    ];
    for (c, h) in header.iter().enumerate() {
        sheet.write_string(2, c as u16, *h).unwrap();
    }
    let rows: [[&str; 10]; 5] = [
        [
            "张伟",
            "男",
            "2014-10-05",
            "居民身份证",
            "44011320141005001X",
            "汉族",
            "2144001800",
            "实验小学",
            "六年级",
            "3班",
        ],
        ["李娜", "女", "2014/3/5", "1", "110105194912310021", "汉", "2144001800", "实验小学", "六年级", "3班"],
        ["王 芳", "2", "20140305", "1", "", "01", "2144001800", "实验小学", "6", "(3)班"],
        ["張偉", "男", "", "1", "44011320141005001x", "汉族", "2144001800", "实验小学", "六年级", "3班"],
        ["赵敏", "女", "2013-01-01", "1", other_id, "火星族", "21440018", "实验小学", "一年级", "1"],
    ];
    for (r, row) in rows.iter().enumerate() {
        for (c, value) in row.iter().enumerate() {
            if !value.is_empty() {
                sheet.write_string(3 + r as u32, c as u16, *value).unwrap();
            }
        }
    }
    // 王芳's number typed into a numeric cell: Excel keeps 15 digits, the rest is lost.
    sheet.write_number(5, 4, 440113201410050000.0).unwrap();
    // 張偉's birth date as an Excel serial number (41703 = 2014-03-05).
    sheet.write_number(6, 2, 41703.0).unwrap();
    workbook.save(path).unwrap();
}

fn write_gb18030_csv(path: &Path) {
    let text = "学生名单（县教育局汇总）\n\
                姓名,性别,出生日期,身份证件号,民族\n\
                阿依古丽\u{30FB}买买提,女,2015年3月5日,,维吾尔族\n\
                刘䶮,男,2015-06-01,310112850409522,汉族\n\
                孙悟空,男\n\
                猪八戒,男,2015-01-01,,汉族,多出来的值\n\
                ,,,,\n";
    let (bytes, _, unmappable) = encoding_rs::GB18030.encode(text);
    assert!(!unmappable);
    std::fs::write(path, bytes).unwrap();
}

fn write_parquet(path: &Path) {
    let mut df = df!(
        "姓名" => ["陈晨", "陈晨", "张伟"],
        "性别" => ["1", "1", "1"],
        "出生日期" => ["2016-01-01", "2016/1/1", "2014-10-05"],
        "身份证件类型" => ["Z", "无", "1"],
        "身份证件号" => [None, None, Some("440113 20141005 001X")],
    )
    .unwrap();
    ParquetWriter::new(std::fs::File::create(path).unwrap()).finish(&mut df).unwrap();
}

#[test]
fn mixed_formats_get_the_right_problem_rows() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("county");
    std::fs::create_dir_all(input.join("school_b")).unwrap();
    let other_id = with_check("44011320140101002"); // a girl born 2014-01-01: not 赵敏's birth date
    write_xlsx(&input.join("school_a.xlsx"), &other_id);
    write_gb18030_csv(&input.join("school_b/students.csv"));
    write_parquet(&input.join("school_b/extra.parquet"));
    std::fs::write(input.join("notes.docx"), "ignored: not a table").unwrap();
    let out = dir.path().join("out");

    let stdout = xueji_ok(&["check", input.to_str().unwrap(), "--out", out.to_str().unwrap(), "--as-of", AS_OF]);
    assert!(stdout.contains("读取12条记录，来自3个文件（跳过空行1行）"), "{stdout}");
    assert!(stdout.contains("不是表格文件，未读取：") && stdout.contains("notes.docx"), "{stdout}");
    for file in ["problems.parquet", "problems.csv", "problems_summary.csv", "records.parquet"] {
        assert!(out.join(file).is_file(), "{file}");
    }
    let problems = problem_set(&out);
    let at = |file: &str, row: u32| codes_at(&problems, file, row);

    // Excel: title and notes above the header on row 3; data from row 4.
    assert_eq!(at("school_a.xlsx", 4), ["ID_DUPLICATE"], "张伟, also on row 7 and in extra.parquet");
    assert_eq!(at("school_a.xlsx", 5), ["ID_CHECKSUM"]);
    assert_eq!(at("school_a.xlsx", 6), ["CELL_NUMBER_PRECISION_LOST", "NAME_WHITESPACE"]);
    assert_eq!(at("school_a.xlsx", 7), ["ID_BIRTH_MISMATCH", "ID_DUPLICATE", "ID_REFORMATTED", "NAME_TRADITIONAL"]);
    assert_eq!(
        at("school_a.xlsx", 8),
        ["AGE_GRADE_MISMATCH", "ETHNICITY_INVALID", "ID_BIRTH_MISMATCH", "SCHOOL_CODE_INVALID"]
    );
    // GB18030 CSV with a title line: header on line 2.
    // Files without a 学校标识码 or 民族 column: their records lack the value, and say so.
    assert_eq!(at("students.csv", 3), ["ID_MISSING", "NAME_DOT_VARIANT", "SCHOOL_CODE_MISSING"]);
    assert_eq!(
        at("students.csv", 4),
        ["ID_BIRTH_MISMATCH", "ID_LEGACY_15", "ID_SEX_MISMATCH", "SCHOOL_CODE_MISSING"],
        "a boy carrying his mother's 15-digit number"
    );
    assert_eq!(
        at("students.csv", 5),
        ["BIRTH_DATE_MISSING", "ETHNICITY_MISSING", "ID_MISSING", "ROW_FIELD_COUNT", "SCHOOL_CODE_MISSING"]
    );
    assert_eq!(at("students.csv", 6), ["ID_MISSING", "ROW_FIELD_COUNT", "SCHOOL_CODE_MISSING"]);
    // Parquet: no header row; rows count from 1. Two students without documents (无证件):
    // counted, and the same child twice.
    for row in [1, 2] {
        assert_eq!(
            at("extra.parquet", row),
            ["ETHNICITY_MISSING", "NO_DOCUMENT", "NO_ID_DUPLICATE", "SCHOOL_CODE_MISSING"]
        );
    }
    assert_eq!(
        at("extra.parquet", 3),
        ["ETHNICITY_MISSING", "ID_DUPLICATE", "ID_REFORMATTED", "SCHOOL_CODE_MISSING"],
        "the same 张伟 registered at another school"
    );

    // Records keep their originals beside the normalized columns, with provenance and ids.
    let records = read_parquet(&out.join("records.parquet"));
    assert_eq!(records.height(), 12);
    let names = records.column("name").unwrap().str().unwrap().clone();
    let norms = records.column("name_norm").unwrap().str().unwrap().clone();
    let ids = records.column("record_id").unwrap().str().unwrap().clone();
    let row = (0..12).find(|&i| names.get(i) == Some("張偉")).unwrap();
    assert_eq!(norms.get(row), Some("张伟"));
    assert!(ids.get(row).unwrap().ends_with("school_a.xlsx:7"), "{:?}", ids.get(row));
    let rare = (0..12).find(|&i| names.get(i) == Some("刘䶮")).unwrap();
    assert_eq!(records.column("id_norm").unwrap().str().unwrap().get(rare), Some("310112198504095227"));
    let lost = (0..12).find(|&i| names.get(i) == Some("王 芳")).unwrap();
    assert_eq!(
        records.column("id_number").unwrap().str().unwrap().get(lost),
        Some("440113201410050000"),
        "shown as Excel shows it"
    );

    // The CSV export is what Excel opens: BOM, then the header.
    let csv = std::fs::read(out.join("problems.csv")).unwrap();
    assert!(csv.starts_with(
        "\u{FEFF}问题,说明,姓名,学校名称,年级,班级,来源文件,行号,原值,严重程度,字段,问题代码,记录号".as_bytes()
    ));
    let summary = std::fs::read_to_string(out.join("problems_summary.csv")).unwrap();
    assert!(summary.starts_with("\u{FEFF}问题,严重程度,地市,区县,学校标识码,学校名称,数量,问题代码"), "{summary}");
    // No 所属地市/所属区县, no place in the folder, the school's name or its students'
    // households: the school is not placed by its students' numbers (where they were born).
    assert!(summary.contains(",错误,,,2144001800,实验小学,2,ID_DUPLICATE"), "{summary}");
}

#[test]
fn map_and_id_column_name_unusual_headers() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("a.csv");
    std::fs::write(
        &csv,
        "学号,姓名,性别,出生日期,学生证件编号\nS1,张伟,男,2014-10-05,44011320141005001X\nS2,李娜,女,2014-01-01,\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let failed = xueji(&["check", csv.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success());
    // Chinese first, the English beside.
    assert!(stderr.contains("a.csv: 表头中缺少必需的列身份证件号 (id_number)"), "{stderr}");
    assert!(stderr.contains("row 1: required column 身份证件号 (id_number) not found"), "{stderr}");
    assert!(!out.exists(), "nothing written on failure");

    xueji_ok(&[
        "check",
        csv.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--as-of",
        AS_OF,
        "--map",
        "学生证件编号=id_number",
        "--id-column",
        "学号",
    ]);
    let problems = read_parquet(&out.join("problems.parquet"));
    let ids: Vec<Option<&str>> = problems.column("record_id").unwrap().str().unwrap().iter().collect();
    assert_eq!(ids, [Some("S2")], "only 李娜 lacks a number");
}

#[test]
fn bad_inputs_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let missing = dir.path().join("nope.xlsx");
    let failed = xueji(&["check", missing.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&failed.stderr).contains("nope.xlsx"), "{failed:?}");

    let not_excel = dir.path().join("broken.xlsx");
    std::fs::write(&not_excel, "this is not a workbook").unwrap();
    let failed = xueji(&["check", not_excel.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("broken.xlsx: 无法打开工作簿") && stderr.contains("cannot open workbook"), "{stderr}");

    let headerless = dir.path().join("numbers.csv");
    std::fs::write(&headerless, "1,2,3\n4,5,6\n").unwrap();
    let failed = xueji(&["check", headerless.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("numbers.csv: 前30行中没有模板表头") && stderr.contains("no header row in the first 30 rows"),
        "{stderr}"
    );

    let bad_utf8 = dir.path().join("bad.csv");
    std::fs::write(&bad_utf8, b"\xE5\xA7\x93\xE5\x90\x8D,x\n\xFF\xFE\n").unwrap();
    let failed = xueji(&["check", bad_utf8.to_str().unwrap(), "--out", out.to_str().unwrap(), "--encoding", "utf8"]);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("bad.csv: 第2行不是有效的UTF-8文本") && stderr.contains("line 2: not valid UTF-8"),
        "{stderr}"
    );
    assert!(!out.exists());
}

#[test]
fn arrow_ipc_and_float_id_columns() {
    let dir = tempfile::tempdir().unwrap();
    let ipc = dir.path().join("school.arrow");
    let mut df = df!(
        "name" => ["张伟", "李娜"],
        "sex" => ["1", "2"],
        "birth_date" => ["2014-10-05", "2014-01-01"],
        "id_number" => [440113201410050010.0_f64, 310112850409522.0],
    )
    .unwrap();
    IpcWriter::new(std::fs::File::create(&ipc).unwrap()).finish(&mut df).unwrap();
    let out = dir.path().join("out");
    xueji_ok(&["check", ipc.to_str().unwrap(), "--out", out.to_str().unwrap(), "--as-of", AS_OF]);
    let problems = problem_set(&out);
    assert_eq!(
        codes_at(&problems, "school.arrow", 1),
        ["CELL_NUMBER_PRECISION_LOST"],
        "an 18-digit float: not verified"
    );
    assert!(codes_at(&problems, "school.arrow", 2).contains(&"ID_LEGACY_15".to_owned()), "15 digits survive a float");
}

#[test]
fn a_sheet_with_only_a_header_runs_through_every_stage() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("empty.csv");
    std::fs::write(&csv, "姓名,性别,出生日期,身份证件号\n").unwrap();
    let out = dir.path().join("out");
    let stdout = xueji_ok(&["run", csv.to_str().unwrap(), "--out", out.to_str().unwrap(), "--as-of", AS_OF]);
    assert!(stdout.contains("records ") && stdout.contains(" 0"), "{stdout}");
    assert_eq!(read_parquet(&out.join("records.parquet")).height(), 0);
    assert_eq!(read_parquet(&out.join("clusters.parquet")).height(), 0);
}

#[test]
fn year_month_birth_dates_are_completed_from_the_number() {
    let dir = tempfile::tempdir().unwrap();
    let (july, august) = (with_check("21010220150703001"), with_check("21010220150803001"));
    let path = dir.path().join("ym.csv");
    std::fs::write(
        &path,
        format!("姓名,性别,出生年月,身份证件号\n张三,男,2015.07,{july}\n李四,男,201507,\n王五,男,2015年7月,{august}\n"),
    )
    .unwrap();
    let out = dir.path().join("o");
    xueji_ok(&["check", path.to_str().unwrap(), "--out", out.to_str().unwrap(), "--as-of", AS_OF]);
    let problems = problem_set(&out);
    assert!(codes_at(&problems, "ym.csv", 2).contains(&"BIRTH_DATE_COMPLETED".to_owned()), "{problems:?}");
    for row in [3, 4] {
        let codes = codes_at(&problems, "ym.csv", row);
        assert!(
            codes.contains(&"BIRTH_DATE_PARTIAL".to_owned()) && !codes.contains(&"BIRTH_DATE_INVALID".to_owned()),
            "{codes:?}"
        );
    }
    let records = read_parquet(&out.join("records.parquet"));
    let births = records.column("birth_date_norm").unwrap().cast(&DataType::Int32).unwrap();
    let births: Vec<Option<i32>> = births.i32().unwrap().iter().collect();
    assert_eq!(births[0], Some(xueji::normalize::date::Date::new(2015, 7, 3).unwrap().to_epoch_days()));
    assert_eq!(births[1..], [None, None]);
}

#[test]
fn preflight_tells_what_is_read_and_a_file_sent_twice_is_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let sheets = dir.path().join("sheets");
    std::fs::create_dir_all(&sheets).unwrap();
    let number = with_check("21010220150703001");
    let text = format!("学生基本信息表\n姓名,性别,出生日期,证件号码,备注\n张三,男,2015-07-03,{number},转学\n");
    std::fs::write(sheets.join("a.csv"), &text).unwrap();
    std::fs::write(sheets.join("a_copy.csv"), &text).unwrap();
    std::fs::write(sheets.join("说明.txt"), "请勿改动\n").unwrap();
    let out = dir.path().join("o");
    let args = ["check", sheets.to_str().unwrap(), "--out", out.to_str().unwrap(), "--map", "证件号码=id_number"];
    let printed = xueji_ok(&args);
    let before_work = printed.split("读取1条记录").next().unwrap();
    assert!(before_work.contains("a.csv：表头在第2行，1条记录"), "{printed}");
    assert!(before_work.contains("证件号码→id_number") && before_work.contains("备注（原样保留）"), "{printed}");
    assert!(before_work.contains("不再读取：") && before_work.contains("a_copy.csv"), "{printed}");
    assert!(before_work.contains("不是表格文件，未读取：") && before_work.contains("说明.txt"), "{printed}");
    assert_eq!(read_parquet(&out.join("records.parquet")).height(), 1, "the copy is not read");
}

#[test]
fn numbers_rounded_by_excel_are_neither_invalid_nor_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rounded.xlsx");
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    for (c, h) in ["姓名", "性别", "出生日期", "身份证件号", "全国学籍号"].iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    // Two children born the same day in one county: Excel kept 15 digits of each number.
    let full = with_check("21122120090315234");
    for (r, name) in ["王浩然", "李子轩"].iter().enumerate() {
        let r = r as u32 + 1;
        sheet.write_string(r, 0, *name).unwrap();
        sheet.write_string(r, 1, "男").unwrap();
        sheet.write_string(r, 2, "2009-03-15").unwrap();
        sheet.write_number(r, 3, full.parse::<f64>().unwrap_or(211221200903152000.0)).unwrap();
    }
    sheet.write_string(1, 4, format!("G{full}")).unwrap();
    workbook.save(&path).unwrap();
    let out = dir.path().join("campaign");
    xueji_ok(&["run", path.to_str().unwrap(), "--out", out.to_str().unwrap(), "--as-of", AS_OF]);
    let problems = problem_set(&out);
    for row in [2, 3] {
        let codes = codes_at(&problems, "rounded.xlsx", row);
        assert!(codes.contains(&"CELL_NUMBER_PRECISION_LOST".to_owned()), "{codes:?}");
        assert!(!codes.iter().any(|c| c == "ID_CONFLICT" || c == "ID_CHECKSUM"), "{codes:?}");
    }
    assert_eq!(read_parquet(&out.join("duplicate_pairs.parquet")).height(), 0, "two children, not one");
    let conflicts = std::fs::read_to_string(out.join("id_conflicts.csv")).unwrap();
    assert_eq!(conflicts.lines().count(), 1, "no ID conflict between the two: {conflicts}");
    // The G-number holds the whole number: proposed, not applied.
    let messages = std::fs::read_to_string(out.join("problems.csv")).unwrap();
    assert!(messages.contains(&format!("全国学籍号 G{full}")), "{messages}");
    let records = read_parquet(&out.join("records.parquet"));
    assert!(!common::strings(&records, "id_number")[0].contains(&full), "not applied");
    // Rounded digits are not sent to police as an invalid number.
    for entry in std::fs::read_dir(out.join("police")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
        assert!(!text.contains("211221200903152000") && !text.contains("证件号无效"), "{text}");
    }
}

#[test]
fn lang_en_gives_english_to_people_and_the_lists_still_reconcile() {
    let dir = tempfile::tempdir().unwrap();
    let good = with_check("21010220150703001");
    let bad = format!("{}{}", &good[..17], if good.ends_with('0') { '1' } else { '0' });
    let path = dir.path().join("en.csv");
    std::fs::write(&path, format!("姓名,性别,出生日期,身份证件号\n张三,男,2015-07-03,{bad}\n李四,女,2015-07-04,\n"))
        .unwrap();
    let out = dir.path().join("campaign");
    xueji_ok(&["run", path.to_str().unwrap(), "--out", out.to_str().unwrap(), "--as-of", AS_OF, "--lang", "en"]);
    let problems = std::fs::read_to_string(out.join("problems.csv")).unwrap();
    assert!(problems.starts_with("\u{FEFF}problem,message,name,"), "{problems}");
    assert!(problems.contains("check character should be") && !problems.contains("校验位"), "{problems}");
    let police = out.join("police");
    let list = std::fs::read_dir(&police)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "csv"))
        .unwrap();
    let text = std::fs::read_to_string(&list).unwrap();
    assert!(text.starts_with("\u{FEFF}batch,record_no,") && text.contains("invalid number"), "{text}");
    let record = text.lines().nth(1).unwrap().split(',').nth(1).unwrap().to_owned();
    // A police reply in Chinese, as police write it, against the English list.
    let reply = dir.path().join("reply.csv");
    std::fs::write(&reply, format!("记录号,姓名,核查结果\n{record},张三,身份证号不存在\n")).unwrap();
    let printed = xueji_ok(&[
        "reconcile",
        "--campaign",
        out.to_str().unwrap(),
        "--verdicts",
        reply.to_str().unwrap(),
        "--lang",
        "en",
    ]);
    assert!(printed.contains("1 matched"), "{printed}");
    let decisions = std::fs::read_to_string(out.join("reconcile/decisions.csv")).unwrap();
    assert!(
        decisions.starts_with("\u{FEFF}record_id,action,reason") && decisions.contains("evidence needed"),
        "{decisions}"
    );
}

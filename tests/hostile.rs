//! Hostile and broken inputs: each is built here, by the test, and must end in a clear error or
//! in records and problems that account for every row. Nothing may crash, hang or vanish.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::{codes_at, problem_set, read_parquet, strings, with_check, xueji, xueji_ok, AS_OF};

const HEADER: &str = "姓名,性别,出生日期,身份证件号,学校名称,所属地市,所属区县";

/// A CSV row of a valid student: `n` makes the number, name and birth date its own.
fn student(n: usize) -> String {
    let day = 1 + n % 28;
    let number = with_check(&format!("210102201501{day:02}{:03}", n % 1000));
    format!("学生{},男,2015-01-{day:02},{number},第一小学,沈阳市,和平区", char::from_u32(0x4E00 + n as u32).unwrap())
}

fn csv(dir: &Path, name: &str, rows: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{HEADER}\n{}\n", rows.join("\n"))).unwrap();
    path
}

fn fails_with(args: &[&str], expected: &[&str]) -> String {
    let out = xueji(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "xueji {args:?} should fail");
    assert!(!stderr.contains("panicked"), "a clear error, not a panic: {stderr}");
    for text in expected {
        assert!(stderr.contains(text), "{text:?} not in: {stderr}");
    }
    stderr
}

fn check(input: &Path, out: &Path, extra: &[&str]) -> String {
    let mut args = vec!["check", input.to_str().unwrap(), "--out", out.to_str().unwrap(), "--as-of", AS_OF];
    args.extend_from_slice(extra);
    xueji_ok(&args)
}

/// A minimal .xlsx: one sheet of the given `<sheetData>` rows, and shared strings if any.
fn xlsx(path: &Path, sheet_data: &str, shared: &[&str]) {
    let mut parts: Vec<(&str, String)> = vec![
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"#.into(),
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.into(),
        ),
        (
            "xl/workbook.xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="学生" sheetId="1" r:id="rId1"/></sheets></workbook>"#.into(),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#.into(),
        ),
        (
            "xl/worksheets/sheet1.xml",
            format!(r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{sheet_data}</sheetData></worksheet>"#),
        ),
    ];
    let strings: String = shared.iter().map(|s| format!("<si><t>{s}</t></si>")).collect();
    parts.push((
        "xl/sharedStrings.xml",
        format!(r#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{0}" uniqueCount="{0}">{strings}</sst>"#, shared.len()),
    ));
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, text) in parts {
        zip.start_file(name, options).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
}

/// `<row>` of inline-string cells from column A.
fn xlsx_row(row: usize, cells: &[&str]) -> String {
    let cells: String = cells
        .iter()
        .enumerate()
        .map(|(c, v)| format!(r#"<c r="{}{row}" t="inlineStr"><is><t>{v}</t></is></c>"#, char::from(b'A' + c as u8)))
        .collect();
    format!(r#"<row r="{row}">{cells}</row>"#)
}

#[test]
fn a_cell_at_the_last_column_of_the_last_row_is_no_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("far.xlsx");
    xlsx(&path, r#"<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>"#, &[]);
    fails_with(
        &["check", path.to_str().unwrap(), "--out", dir.path().join("o").to_str().unwrap()],
        &["far.xlsx", "no header row"],
    );

    // The same far cell beside a real sheet: read, and the stray value reported on its row.
    let mut rows: String = xlsx_row(1, &HEADER.split(',').collect::<Vec<_>>());
    let student = student(1);
    rows.push_str(&xlsx_row(2, &student.split(',').collect::<Vec<_>>()));
    rows.push_str(r#"<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>"#);
    xlsx(&path, &rows, &[]);
    let out = dir.path().join("o2");
    let printed = check(&path, &out, &[]);
    assert!(printed.contains("读取2条记录"), "{printed}");
    let problems = problem_set(&out);
    assert!(codes_at(&problems, "far.xlsx", 1048576).contains(&"ROW_FIELD_COUNT".to_owned()), "{problems:?}");
}

#[test]
fn zip_bombs_stop_at_the_part_limit() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let header = xlsx_row(1, &HEADER.split(',').collect::<Vec<_>>());
    // Shared strings that unpack to 2 MiB, and a sheet of 2 MiB of whitespace.
    let big = "张".repeat(700_000);
    let strings = dir.path().join("strings.xlsx");
    xlsx(&strings, &header, &[&big]);
    let blank = dir.path().join("blank.xlsx");
    xlsx(&blank, &format!("{header}{}", " ".repeat(2 << 20)), &[]);
    for (path, part) in [(&strings, "xl/sharedStrings.xml"), (&blank, "xl/worksheets/sheet1.xml")] {
        assert!(std::fs::metadata(path).unwrap().len() < 64 << 10, "small on disk");
        let args = ["check", path.to_str().unwrap(), "--out", out.to_str().unwrap(), "--max-xlsx-part-mib", "1"];
        fails_with(&args, &[part, "more than 1 MiB", "--max-xlsx-part-mib"]);
        // Raised, the same file is read.
        check(path, &out, &["--max-xlsx-part-mib", "4"]);
    }
    // 40 MiB of whitespace packs 1,000 to 1: refused by the ratio under the default limits.
    let bomb = dir.path().join("bomb.xlsx");
    xlsx(&bomb, &format!("{header}{}", " ".repeat(40 << 20)), &[]);
    fails_with(
        &["check", bomb.to_str().unwrap(), "--out", out.to_str().unwrap()],
        &["xl/worksheets/sheet1.xml", "times its packed size", "--max-xlsx-ratio"],
    );
}

#[test]
fn a_sheet_over_the_cell_limit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wide.xlsx");
    let rows: String = (2..40).map(|r| xlsx_row(r, &student(r).split(',').collect::<Vec<_>>())).collect();
    xlsx(&path, &format!("{}{rows}", xlsx_row(1, &HEADER.split(',').collect::<Vec<_>>())), &[]);
    let out = dir.path().join("o");
    fails_with(
        &["check", path.to_str().unwrap(), "--out", out.to_str().unwrap(), "--max-sheet-cells", "100"],
        &["wide.xlsx", "more than 100 cells", "--max-sheet-cells"],
    );
}

#[test]
fn an_error_value_in_the_id_column_is_no_number() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("errors.xlsx");
    let mut rows = xlsx_row(1, &HEADER.split(',').collect::<Vec<_>>());
    for r in 2..6 {
        let row = student(r);
        let cells: Vec<&str> = row.split(',').collect();
        // Column D (身份证件号) is a formula whose cached value is #DIV/0!.
        let mut xml = xlsx_row(r, &cells);
        let number_cell = format!(r#"<c r="D{r}" t="inlineStr"><is><t>{}</t></is></c>"#, cells[3]);
        xml = xml.replace(&number_cell, &format!(r#"<c r="D{r}" t="e"><f>1/0</f><v>#DIV/0!</v></c>"#));
        rows.push_str(&xml);
    }
    xlsx(&path, &rows, &[]);
    let out = dir.path().join("o");
    let run = out.join("run");
    check(&path, &out, &[]);
    let records = read_parquet(&out.join("records.parquet"));
    assert_eq!(strings(&records, "id_number"), vec![""; 4], "no #DIV/0! as a number");
    let problems = problem_set(&out);
    for row in 2..6 {
        assert!(codes_at(&problems, "errors.xlsx", row).contains(&"CELL_ERROR".to_owned()), "{problems:?}");
    }
    assert!(!problems.iter().any(|p| p.2 == "ID_CONFLICT" || p.2 == "ID_DUPLICATE"), "{problems:?}");
    xueji_ok(&["run", path.to_str().unwrap(), "--out", run.to_str().unwrap(), "--as-of", AS_OF]);
    assert_eq!(read_parquet(&run.join("duplicate_pairs.parquet")).height(), 0);
}

#[test]
fn an_unclosed_quote_accounts_for_every_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows: Vec<String> = (0..200).map(student).collect();
    // Row 52 of the file (the header is row 1) opens a quote that is never closed.
    rows[50] = rows[50].replacen(",男,", ",\"男,", 1);
    let path = csv(dir.path(), "quote.csv", &rows);
    let out = dir.path().join("o");
    let printed = check(&path, &out, &[]);
    assert!(printed.contains("读取51条记录"), "{printed}");
    let problems = read_parquet(&out.join("problems.parquet"));
    let messages = strings(&problems, "message");
    let joined: Vec<&String> = messages.iter().filter(|m| m.contains("被读成一条记录")).collect();
    assert_eq!(joined.len(), 1, "{messages:?}");
    assert!(joined[0].starts_with("第52–201行"), "rows 53–201 are named: {}", joined[0]);
    assert!(codes_at(&problem_set(&out), "quote.csv", 52).contains(&"ROWS_JOINED".to_owned()));
}

#[test]
fn control_characters_are_reported_on_their_own_row() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows: Vec<String> = (0..20).map(student).collect();
    rows[6] = rows[6].replacen("学生", "学\0生", 1);
    let path = csv(dir.path(), "nul.csv", &rows);
    let out = dir.path().join("o");
    check(&path, &out, &[]);
    let problems = problem_set(&out);
    assert!(codes_at(&problems, "nul.csv", 8).contains(&"CELL_CONTROL_CHARACTER".to_owned()), "line 8, not line 1");
    assert!(problems.iter().all(|p| p.2 != "CELL_CONTROL_CHARACTER" || p.1 == 8));
}

#[test]
fn formulas_behind_blanks_and_line_breaks_are_inert() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows: Vec<String> = (0..3).map(student).collect();
    for (row, name) in rows.iter_mut().zip(["\"\n=HYPERLINK(1)\"", "\"\r@SUM(1)\""]) {
        *row = format!("{name}{}", &row[row.find(',').unwrap()..]);
    }
    let path = csv(dir.path(), "formula.csv", &rows);
    let out = dir.path().join("o");
    check(&path, &out, &[]);
    let text = std::fs::read_to_string(out.join("problems.csv")).unwrap();
    assert!(text.contains("\"'\n=HYPERLINK(1)"), "{text}");
    assert!(text.contains("\"'\r@SUM(1)"), "{text}");
    assert!(!text.contains(",\"\n=") && !text.contains(",\"\r@"), "no active cell left: {text}");
}

#[test]
fn a_header_naming_one_field_twice_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("twice.csv");
    std::fs::write(&path, format!("{HEADER},身份证件号\n{},\n", student(1))).unwrap();
    fails_with(
        &["check", path.to_str().unwrap(), "--out", dir.path().join("o").to_str().unwrap()],
        &["twice.csv", "row 1", "columns 4 (身份证件号) and 8 (身份证件号)"],
    );
}

#[test]
fn a_header_of_a_hundred_thousand_columns_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wide.csv");
    let extra: Vec<String> = (0..100_000).map(|i| format!("c{i}")).collect();
    let rows: String = (0..5).map(|n| format!("{}\n", student(n))).collect();
    std::fs::write(&path, format!("{HEADER},{}\n{rows}", extra.join(","))).unwrap();
    fails_with(
        &["check", path.to_str().unwrap(), "--out", dir.path().join("o").to_str().unwrap()],
        &["wide.csv", "100007 columns", "16384"],
    );
}

#[cfg(unix)]
#[test]
fn link_loops_end_and_every_file_is_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let sheets = dir.path().join("sheets");
    std::fs::create_dir_all(sheets.join("sub")).unwrap();
    csv(&sheets, "a.csv", &[student(1), student(2)]);
    csv(&sheets.join("sub"), "b.csv", &[student(3)]);
    std::os::unix::fs::symlink("..", sheets.join("sub/up")).unwrap();
    std::os::unix::fs::symlink(".", sheets.join("self")).unwrap();
    // A note beside the sheets is listed, not read as a CSV.
    std::fs::write(sheets.join("说明.txt"), "本文件夹为各校学生基本信息表，请勿改动。\n").unwrap();
    let out = dir.path().join("o");
    let printed = check(&sheets, &out, &[]);
    assert!(printed.contains("读取3条记录，来自2个文件"), "{printed}");
    assert!(printed.contains("不是表格文件，未读取：") && printed.contains("说明.txt"), "{printed}");

    // A file named twice, or reached through a link, is an error naming both paths.
    std::os::unix::fs::symlink(sheets.join("a.csv"), dir.path().join("again.csv")).unwrap();
    let a = sheets.join("a.csv");
    fails_with(
        &["check", a.to_str().unwrap(), a.to_str().unwrap(), "--out", out.to_str().unwrap()],
        &["a.csv", "the same file as", "give it once"],
    );
    fails_with(
        &["check", a.to_str().unwrap(), dir.path().join("again.csv").to_str().unwrap(), "--out", out.to_str().unwrap()],
        &["again.csv", "the same file as"],
    );
}

#[test]
fn city_names_from_the_data_become_safe_file_names() {
    let dir = tempfile::tempdir().unwrap();
    let long = "很".repeat(200);
    let cities = ["CON", "aux", "com1", ".hidden", "-rf", "a/b", "a:b", "x\u{202E}txt.exe", long.as_str()];
    // Every number has a region in no table (990102) and a wrong check character: every record
    // goes to police; with no household and no region, to the 户籍地不明 list. Police lists are
    // named by the region tables, never by the data; the return workbooks go by the city the
    // data names, made safe.
    let rows: Vec<String> = cities
        .iter()
        .enumerate()
        .map(|(n, city)| {
            let row = student(n);
            let number = row.split(',').nth(3).unwrap().to_owned();
            let valid = with_check(&format!("99{}", &number[2..17]));
            let wrong = format!("{}{}", &valid[..17], if valid.ends_with('0') { '1' } else { '0' });
            // A school each: a school is one place, its return workbook under its city.
            row.replace(&number, &wrong).replace("沈阳市", city).replace("第一小学", &format!("第{}小学", n + 1))
        })
        .collect();
    let path = csv(dir.path(), "cities.csv", &rows);
    let out = dir.path().join("campaign");
    xueji_ok(&["run", path.to_str().unwrap(), "--out", out.to_str().unwrap(), "--as-of", AS_OF]);
    let police = out.join("police");
    let mut names: Vec<String> =
        std::fs::read_dir(&police).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert!(names.contains(&"SHA256SUMS".to_owned()), "{names:?}");
    let lists: Vec<&String> = names.iter().filter(|n| n.ends_with(".csv")).collect();
    assert_eq!(lists, ["户籍地不明.csv"], "{names:?}");
    assert!(out.join("manifest.json").exists() && out.join("report.html").exists());
    // `a/b` and `a:b` are two cities: each school keeps its own return workbook.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let workbooks: std::collections::BTreeSet<&str> = manifest["returns"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f.as_str())
        .filter(|f| !f.contains("汇总_"))
        .collect();
    assert_eq!(workbooks.len(), cities.len(), "{workbooks:?}");
    assert!(workbooks.iter().all(|f| out.join("returns").join(f).is_file()), "{workbooks:?}");
}

#[test]
fn foreign_registries_and_models_are_named_errors() {
    let dir = tempfile::tempdir().unwrap();
    let intake = csv(dir.path(), "intake.csv", &[student(1)]);
    let campaign = dir.path().join("campaign");
    let sheets = csv(dir.path(), "registry.csv", &[student(2), student(3)]);
    xueji_ok(&["run", sheets.to_str().unwrap(), "--out", campaign.to_str().unwrap(), "--as-of", AS_OF]);
    let out = dir.path().join("linked");
    let link = [
        "link",
        intake.to_str().unwrap(),
        "--against",
        campaign.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--as-of",
        AS_OF,
    ];

    let model = campaign.join("model.json");
    let saved = std::fs::read_to_string(&model).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&saved).unwrap();
    value["fields"] = serde_json::json!([]);
    std::fs::write(&model, value.to_string()).unwrap();
    fails_with(&link, &["model.json", "0 fields"]);
    std::fs::write(&model, &saved).unwrap();

    let records = campaign.join("records.parquet");
    let mut df = polars::prelude::df!("record_id" => [1i64, 2], "name_norm" => [3.5f64, 4.5]).unwrap();
    polars::prelude::ParquetWriter::new(std::fs::File::create(&records).unwrap()).finish(&mut df).unwrap();
    fails_with(&link, &["records.parquet", "column record_id is i64", "str"]);
}

#[test]
fn a_reply_without_a_verdict_column_names_the_map_option_reconcile_has() {
    let dir = tempfile::tempdir().unwrap();
    let sheets = csv(dir.path(), "s.csv", &[student(1)]);
    let campaign = dir.path().join("campaign");
    xueji_ok(&["run", sheets.to_str().unwrap(), "--out", campaign.to_str().unwrap(), "--as-of", AS_OF]);
    let reply = dir.path().join("reply.csv");
    std::fs::write(&reply, "记录号,姓名,意见\nx,张三,一致\n").unwrap();
    let args = ["reconcile", "--campaign", campaign.to_str().unwrap(), "--verdicts", reply.to_str().unwrap()];
    fails_with(&args, &["reply.csv", "核查结果", "--map"]);
    let mut mapped = args.to_vec();
    mapped.extend(["--map", "意见=verdict"]);
    xueji_ok(&mapped);
}

#[test]
fn row_numbers_hold_for_crlf_cr_and_blank_lines() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<String> = (0..4).map(student).collect();
    // The third record has a bad check character: its row is where schools must look.
    let bad = |row: &String| {
        let number = row.split(',').nth(3).unwrap().to_owned();
        row.replace(&number, &format!("{}{}", &number[..17], if number.ends_with('0') { '1' } else { '0' }))
    };
    let body = [rows[0].clone(), rows[1].clone(), String::new(), String::new(), bad(&rows[2]), rows[3].clone()];
    for (name, ending) in [("lf.csv", "\n"), ("crlf.csv", "\r\n"), ("cr.csv", "\r")] {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("{HEADER}{ending}{}{ending}", body.join(ending))).unwrap();
        let out = dir.path().join(name.replace('.', "_"));
        check(&path, &out, &[]);
        let records = read_parquet(&out.join("records.parquet"));
        let rows: Vec<u32> = records.column("source_row").unwrap().u32().unwrap().into_no_null_iter().collect();
        assert_eq!(rows, [2, 3, 6, 7], "{name}");
        assert!(codes_at(&problem_set(&out), name, 6).contains(&"ID_CHECKSUM".to_owned()), "{name}");
    }
}

#[test]
fn a_cell_longer_than_excel_allows_is_cut_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows: Vec<String> = (0..3).map(student).collect();
    rows[1] = format!("{}{}", "长".repeat(40_000), &rows[1][rows[1].find(',').unwrap()..]);
    let path = csv(dir.path(), "long.csv", &rows);
    let out = dir.path().join("o");
    check(&path, &out, &[]);
    assert!(codes_at(&problem_set(&out), "long.csv", 3).contains(&"CELL_TOO_LONG".to_owned()));
    let names = strings(&read_parquet(&out.join("records.parquet")), "name");
    assert_eq!(names[1].chars().count(), 32_767);
}

#[test]
fn list_columns_in_parquet_are_named_errors() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lists.parquet");
    let names = Series::new("姓名".into(), ["张三", "李四"]);
    let numbers = Series::new("身份证件号".into(), ["1", "2"]);
    let sexes = Series::new("性别".into(), ["男", "女"]);
    let births = Series::new("出生日期".into(), ["2015-01-01", "2015-01-02"]);
    let tags = Series::new("标签".into(), [Series::new("".into(), ["a"]), Series::new("".into(), ["b", "c"])]);
    let mut df =
        DataFrame::new(2, vec![names.into(), numbers.into(), sexes.into(), births.into(), tags.into()]).unwrap();
    ParquetWriter::new(std::fs::File::create(&path).unwrap()).finish(&mut df).unwrap();
    fails_with(
        &["check", path.to_str().unwrap(), "--out", dir.path().join("o").to_str().unwrap()],
        &["lists.parquet", "column 标签 is list[str]"],
    );
}

#[test]
fn the_exit_code_says_whose_the_failure_is() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let code = |args: &[&str], stdin: &[u8]| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_xueji"))
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        let done = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&done.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        (done.status.code(), stderr)
    };
    let out = out.to_str().unwrap();
    // A file that is not there: the input (1).
    let missing = dir.path().join("no such sheet.csv");
    assert_eq!(code(&["check", missing.to_str().unwrap(), "--out", out], b"").0, Some(1));
    // A mistake in the command: usage (2), as clap says of arguments it cannot parse.
    assert_eq!(code(&["generate", "--students", "0", "--out", out], b"").0, Some(2));
    assert_eq!(code(&["check", "--no-such-option"], b"").0, Some(2));
    let settings = dir.path().join("settings.json");
    std::fs::write(&settings, r#"{"threshold": 2}"#).unwrap();
    let sheet = csv(dir.path(), "a.csv", &[student(1)]);
    let (got, stderr) =
        code(&["dedupe", sheet.to_str().unwrap(), "--out", out, "--settings", settings.to_str().unwrap()], b"");
    assert_eq!(got, Some(1), "a settings file the user gave is an input: {stderr}");
    // What a Spark job hands a worker stage, malformed: the worker's input (4).
    let (got, stderr) = code(&["worker", "compare"], b"not arrow");
    assert_eq!(got, Some(4), "{stderr}");
    assert!(stderr.contains("worker input"), "{stderr}");
}

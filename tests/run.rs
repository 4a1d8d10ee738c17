//! `xueji run`: the campaign folder, reproducible to the byte, and its police match lists.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use common::{generate, on_generated, read_parquet, walk};
use sha2::{Digest, Sha256};

fn files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in walk(dir) {
        found.push(entry.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
    }
    found.sort();
    found
}

#[test]
fn campaign_folder_is_complete_and_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("g");
    generate(&data, 5000, 21, &["--format", "csv"]);
    let sheets = data.join("sheets");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for out in [&a, &b] {
        on_generated("run", &sheets, out, &[]);
    }
    let written = files(&a);
    for expected in [
        "records.parquet",
        "problems.parquet",
        "problems.csv",
        "problems_summary.csv",
        "duplicate_pairs.parquet",
        "clusters.parquet",
        "id_conflicts.csv",
        "model.json",
        "manifest.json",
        "police/SHA256SUMS",
    ] {
        assert!(written.contains(&expected.to_owned()), "{expected} missing from {written:?}");
    }
    assert_eq!(written, files(&b));
    // Timings live only in the manifest and the report.
    for file in written.iter().filter(|f| !matches!(f.as_str(), "manifest.json" | "report.html")) {
        assert!(
            std::fs::read(a.join(file)).unwrap() == std::fs::read(b.join(file)).unwrap(),
            "{file} differs between two runs"
        );
    }

    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("manifest.json")).unwrap()).unwrap();
    let input = &manifest["inputs"][0];
    let csv = std::fs::read(sheets.join("students.csv")).unwrap();
    let digest: String = Sha256::digest(&csv).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(input["sha256"], digest.as_str());
    assert_eq!(manifest["counts"]["records"], read_parquet(&a.join("records.parquet")).height() as u64);
    assert!(manifest["timings"].as_array().unwrap().len() >= 8);

    // Police lists: every clustered record is sent, one row each, hashed in SHA256SUMS.
    let clusters = read_parquet(&a.join("clusters.parquet"));
    let clustered: HashSet<String> =
        clusters.column("record_id").unwrap().str().unwrap().iter().flatten().map(str::to_owned).collect();
    // Schools see every duplicate group they are in: each member has a duplicate code.
    let problems = read_parquet(&a.join("problems.parquet"));
    let codes = common::strings(&problems, "code");
    let with_code: HashSet<String> = common::strings(&problems, "record_id")
        .into_iter()
        .zip(&codes)
        .filter(|(_, c)| {
            matches!(c.as_str(), "ID_DUPLICATE" | "ID_CONFLICT" | "NO_ID_DUPLICATE" | "DUPLICATE_SUSPECTED")
        })
        .map(|(r, _)| r)
        .collect();
    assert!(clustered.iter().all(|r| with_code.contains(r)), "a clustered record without a duplicate code");
    assert!(codes.iter().any(|c| c == "DUPLICATE_SUSPECTED"));
    let mut sent: HashSet<String> = HashSet::new();
    let mut cluster_file: HashMap<String, String> = HashMap::new();
    let mut all_batches: HashSet<String> = HashSet::new();
    let sums = std::fs::read_to_string(a.join("police/SHA256SUMS")).unwrap();
    for line in sums.lines() {
        let (hash, name) = line.split_once("  ").unwrap();
        let bytes = std::fs::read(a.join("police").join(name)).unwrap();
        let digest: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hash, digest, "{name}");
        if name.ends_with(".csv") {
            let text = String::from_utf8(bytes).unwrap();
            let mut rows = text.trim_start_matches('\u{FEFF}').lines();
            assert!(rows.next().unwrap().starts_with(
                "批次号,记录号,聚类号,证件号冲突组,核查原因,核查原因代码,姓名,性别,出生日期,身份证件类型,身份证件号,证件号来源"
            ));
            let mut batches = HashSet::new();
            for row in rows {
                let cells: Vec<&str> = row.split(',').collect();
                assert!(sent.insert(cells[1].to_owned()), "one row per record");
                batches.insert(cells[0].to_owned());
                // A person's registrations are verified side by side: all in this file.
                if !cells[2].is_empty() {
                    let first = cluster_file.entry(cells[2].to_owned()).or_insert_with(|| name.to_owned());
                    assert_eq!(first, name, "cluster {} split across police files", cells[2]);
                }
                let reasons: Vec<&str> = cells[4].split('；').collect();
                let codes: Vec<&str> = cells[5].split(';').collect();
                assert_eq!(reasons.len(), codes.len());
                for (reason, code) in reasons.iter().zip(&codes) {
                    let expected = match *code {
                        "DUPLICATE" => "一人多籍",
                        "ID_CONFLICT" => "证件号被多人使用",
                        "ID_INVALID" => "证件号无效",
                        "ID_MISSING_LIKELY" => "缺证件号(推断)",
                        other => panic!("unknown reason code {other}"),
                    };
                    assert_eq!(reason, &expected);
                }
                let inferred = codes.contains(&"ID_MISSING_LIKELY");
                assert_eq!(cells[11] == "推断(同一人其他学籍)", inferred, "{row}");
            }
            assert_eq!(batches.len(), 1, "one batch per file: {batches:?}");
            assert!(all_batches.insert(batches.into_iter().next().unwrap()), "batch ids are unique per file");
        }
    }
    assert!(clustered.is_subset(&sent), "every registration of a duplicated person is verified");
    // Workbooks people work in: header frozen, an autofilter, columns as wide as their values.
    let workbook = sums.lines().map(|l| l.split_once("  ").unwrap().1).find(|n| n.ends_with(".xlsx")).unwrap();
    let mut zip = zip::ZipArchive::new(std::fs::File::open(a.join("police").join(workbook)).unwrap()).unwrap();
    let mut xml = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(), &mut xml).unwrap();
    assert!(
        xml.contains(r#"state="frozen""#) && xml.contains("<autoFilter") && xml.contains("customWidth"),
        "{workbook}"
    );
    // Police fill 核查结果 from a list of the wordings reconcile reads, and 备注 freely.
    assert!(xml.contains(r#"<dataValidation type="list""#) && xml.contains("姓名与身份证号码不匹配"), "{workbook}");
    assert!(sums.lines().any(|l| l.ends_with(".xlsx")));

    // Long lists are split into parts, each its own batch.
    let parts = dir.path().join("parts");
    on_generated("run", &sheets, &parts, &["--rows-per-file", "20"]);
    let part_files = files(&parts.join("police"));
    assert!(
        part_files.iter().any(|f| f.ends_with("_2.xlsx")) && part_files.iter().any(|f| f.ends_with("_2.csv")),
        "{part_files:?}"
    );
    for name in part_files.iter().filter(|n| n.ends_with(".csv")) {
        let text = std::fs::read_to_string(parts.join("police").join(name)).unwrap();
        let rows: Vec<&str> = text.lines().skip(1).collect();
        assert!(rows.len() <= 20, "{name}: {} rows", rows.len());
        let batches: HashSet<&str> = rows.iter().map(|r| r.split(',').next().unwrap()).collect();
        assert_eq!(batches.len(), 1, "{name}: one batch per file");
    }

    // Masked lists for people who must not see full numbers.
    let masked = dir.path().join("masked");
    on_generated("run", &sheets, &masked, &["--mask", "--by-county"]);
    let police = files(&masked.join("police"));
    let by_city = files(&a.join("police"));
    for name in police.iter().filter(|n| n.ends_with(".csv")) {
        assert!(!by_city.contains(name) && name.contains('_'), "{name}: city_county");
    }
    for name in police.iter().filter(|n| n.ends_with(".csv")) {
        let text = std::fs::read_to_string(masked.join("police").join(name)).unwrap();
        let mut lines = text.trim_start_matches('\u{FEFF}').lines();
        let number_at = lines.next().unwrap().split(',').position(|h| h == "身份证件号").unwrap();
        for row in lines {
            let number = row.split(',').nth(number_at).unwrap();
            let shown = number.chars().filter(|&c| c != '*').count();
            assert!(number.is_empty() || (number.starts_with(|c: char| c != '*') && shown <= 8), "{number}");
        }
    }

    // Return workbooks: a row per record with an error or warning, in its school's workbook,
    // with the sign-off; a summary per county.
    let problems = read_parquet(&a.join("problems.parquet"));
    let severities = common::strings(&problems, "severity");
    let to_fix: HashSet<String> = common::strings(&problems, "record_id")
        .into_iter()
        .zip(&severities)
        .filter(|(_, s)| *s != "info")
        .map(|(r, _)| r)
        .collect();
    let returned = files(&a.join("returns"));
    assert!(returned.iter().any(|f| f.contains("汇总_")), "{returned:?}");
    let mut rows_returned = HashSet::new();
    let mut filled_in = 0;
    for file in returned.iter().filter(|f| !f.contains("汇总_")) {
        let mut zip = zip::ZipArchive::new(std::fs::File::open(a.join("returns").join(file)).unwrap()).unwrap();
        let mut xml = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(), &mut xml).unwrap();
        assert!(xml.contains("学校核对人") && xml.contains("县区审核人") && xml.contains("市级确认人"), "{file}");
        assert!(xml.contains("更正后"), "{file}");
        // Built to be filled in: the sheet protected but for the 更正后 columns (text, checked
        // where Excel can) and the signatures, each original value beside its correction.
        assert!(xml.contains("<sheetProtection"), "{file}");
        if xml.contains(">原身份证件号<") || xml.contains(">原出生日期<") {
            filled_in += 1;
            assert!(xml.contains("<dataValidation"), "{file}");
        }
        let mut styles = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("xl/styles.xml").unwrap(), &mut styles).unwrap();
        assert!(styles.contains(r#"formatCode="@""#) && styles.contains(r#"locked="0""#), "{file}");
        for id in to_fix.iter().filter(|id| xml.contains(&format!(">{id}<"))) {
            assert!(rows_returned.insert(id.clone()), "{id} in two workbooks");
        }
    }
    assert_eq!(rows_returned, to_fix, "every record with an error or warning goes back to its school");
    assert!(filled_in > 0, "numbers and birth dates to correct, each beside its original");

    // Rerun by city into the folder of the by-county run: no county list of the earlier run
    // is left beside the new ones.
    on_generated("run", &sheets, &masked, &[]);
    assert_eq!(files(&masked.join("police")), by_city, "no stale list");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(masked.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["complete"], true);

    // A run whose inputs cannot be read leaves the earlier campaign as it was.
    let broken = dir.path().join("broken.csv");
    std::fs::write(&broken, "姓名,姓名,性别\n张三,张三,男\n").unwrap();
    let out = common::xueji(&["run", broken.to_str().unwrap(), "--out", masked.to_str().unwrap()]);
    assert!(!out.status.success());
    assert_eq!(files(&masked.join("police")), by_city);
    assert!(std::fs::read_to_string(masked.join("manifest.json")).unwrap().contains("\"complete\": true"));
}

/// A rerun into an existing campaign, interrupted at several points (SIGINT and SIGKILL), leaves
/// either a whole campaign (every file its manifest lists is there) or a folder whose manifest
/// and report.html say it is incomplete; the next run says so and repairs it, and what
/// `reconcile` derived from the earlier campaign goes with it.
#[test]
fn an_interrupted_rerun_never_leaves_a_folder_that_claims_to_be_complete() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("g1"), dir.path().join("g2"));
    generate(&first, 3000, 21, &["--format", "csv"]);
    generate(&second, 40000, 22, &["--format", "csv"]);
    let campaign = dir.path().join("campaign");
    on_generated("run", &first.join("sheets"), &campaign, &[]);
    let manifest = |campaign: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(campaign.join("manifest.json")).unwrap()).unwrap()
    };
    let whole = |campaign: &Path| {
        let m = manifest(campaign);
        if m["complete"] == serde_json::Value::Bool(true) {
            for file in m["police_files"].as_array().unwrap() {
                assert!(Path::new(file["path"].as_str().unwrap()).exists(), "{file}");
            }
            for file in m["returns"].as_array().unwrap() {
                assert!(campaign.join("returns").join(file.as_str().unwrap()).exists(), "{file}");
            }
            // Stopped between the manifest and the report, the report may still say
            // incomplete: the safe side.
            true
        } else {
            let report = std::fs::read_to_string(campaign.join("report.html")).unwrap();
            assert!(report.contains(r#"id="incomplete""#), "an incomplete folder says so in report.html");
            false
        }
    };
    assert!(whole(&campaign));
    let mut interrupted = 0;
    for (k, millis) in [100u64, 300, 500, 800, 1200, 1700].into_iter().enumerate() {
        // What reconcile derived from the campaign before.
        std::fs::create_dir_all(campaign.join("reconcile")).unwrap();
        std::fs::write(campaign.join("reconcile/decisions.csv"), "记录号\n").unwrap();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_xueji"))
            .args(["run", second.join("sheets").to_str().unwrap(), "--out", campaign.to_str().unwrap()])
            .args(["--id-column", "学籍辅号", "--as-of", common::AS_OF])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(millis));
        if k % 2 == 0 {
            let _ = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status();
        } else {
            let _ = child.kill();
        }
        let _ = child.wait();
        // Stopped between the marks and the removals, an incomplete folder may still hold
        // files of the earlier campaign: it says it is incomplete, which is the promise.
        interrupted += usize::from(!whole(&campaign));
    }
    assert!(interrupted >= 2, "the runs were stopped mid-write {interrupted} times");
    // The next run says the last was interrupted, and repairs the folder.
    let was_interrupted = !whole(&campaign);
    let out = common::xueji(&[
        "run",
        second.join("sheets").to_str().unwrap(),
        "--out",
        campaign.to_str().unwrap(),
        "--id-column",
        "学籍辅号",
        "--as-of",
        common::AS_OF,
    ]);
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(said.contains("上次运行未完成"), was_interrupted, "{said}");
    assert!(whole(&campaign));
    assert!(!campaign.join("reconcile/decisions.csv").exists(), "decisions on the earlier campaign go with it");
    assert_eq!(manifest(&campaign)["counts"]["records"], read_parquet(&campaign.join("records.parquet")).height());
}

/// Police lists go to the police who hold the household: a group goes to the city of the
/// 户口所在地 one of its records names in the campaign's province, else of the number's region
/// there; all elsewhere to 省外户籍, nothing usable to 户籍地不明; a group stays whole.
#[test]
fn police_lists_go_to_the_police_of_the_household() {
    let dir = tempfile::tempdir().unwrap();
    let wrong = |body: &str| {
        let valid = common::with_check(body);
        format!("{}{}", &valid[..17], if valid.ends_with('0') { '1' } else { '0' })
    };
    let both = common::with_check("21138120150102001");
    let rows = [
        // A number first issued in 七台河, a household in 新宾: 新宾's police hold it.
        ("王新宾", wrong("23090220150101001"), "辽宁省抚顺市新宾满族自治县"),
        ("李北票", wrong("21138120150101003"), ""),
        ("张河北", wrong("13010220150101005"), "河北省石家庄市长安区"),
        ("赵无名", "12345".to_owned(), ""),
        ("孙大连", wrong("13010220150101007"), "辽宁省大连市中山区"),
        // And the other way round: a household elsewhere, a number of the province.
        ("周回辽", wrong("21130220150101009"), "河北省保定市莲池区"),
        // One number on two children: the shared-number group goes whole to one list.
        ("刘两籍", both.clone(), ""),
        ("陈冒名", both.clone(), "辽宁省抚顺市新宾满族自治县"),
    ];
    let mut csv = String::from("姓名,性别,出生日期,身份证件号,户口所在地,学校名称,学校标识码\n");
    for (k, (name, id, home)) in rows.iter().enumerate() {
        let born = if *id == both { "2015-01-02" } else { "2015-01-01" };
        csv.push_str(&format!("{name},男,{born},{id},{home},第{}小学,21210000{:02}\n", k + 1, k + 1));
    }
    let sheet = dir.path().join("migrants.csv");
    std::fs::write(&sheet, csv).unwrap();
    let out = dir.path().join("campaign");
    let said =
        common::xueji_ok(&["run", sheet.to_str().unwrap(), "--out", out.to_str().unwrap(), "--as-of", common::AS_OF]);
    assert!(said.contains("本次查重的省份：21 辽宁省"), "{said}");
    let lists: Vec<String> = files(&out.join("police")).into_iter().filter(|f| f.ends_with(".csv")).collect();
    assert_eq!(lists, ["大连市.csv", "户籍地不明.csv", "抚顺市.csv", "朝阳市.csv", "省外户籍.csv"], "{lists:?}");
    let on = |list: &str| std::fs::read_to_string(out.join("police").join(list)).unwrap();
    assert!(on("抚顺市.csv").contains("王新宾"), "the 新宾 household, whatever the number");
    assert!(on("抚顺市.csv").contains("刘两籍") && on("抚顺市.csv").contains("陈冒名"), "a group stays whole");
    assert!(on("朝阳市.csv").contains("李北票") && on("大连市.csv").contains("孙大连"));
    assert!(on("朝阳市.csv").contains("周回辽"), "the number's region, where the household is elsewhere");
    assert!(on("省外户籍.csv").contains("张河北") && on("户籍地不明.csv").contains("赵无名"));
    assert!(on("抚顺市.csv").contains("户口所在地：辽宁省抚顺市新宾满族自治县"), "why it is on the list");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["settings"]["police"]["province"], "21");
    let mut zip = zip::ZipArchive::new(std::fs::File::open(out.join("police/抚顺市.xlsx")).unwrap()).unwrap();
    let mut xml = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(), &mut xml).unwrap();
    assert!(xml.contains("致：抚顺市公安局"), "the list says who it is for");
}

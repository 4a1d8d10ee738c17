//! `xueji run`: the campaign folder, reproducible to the byte, and its police match lists.

mod common;

use std::collections::HashSet;
use std::path::Path;

use common::{generate, on_generated, read_parquet};
use sha2::{Digest, Sha256};

fn files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in walk(dir) {
        found.push(entry.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
    }
    found.sort();
    found
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flat_map(|e| {
            let path = e.unwrap().path();
            if path.is_dir() {
                walk(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

#[test]
fn campaign_folder_is_complete_and_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("g");
    generate(&data, 5000, 21, &["--format", "csv"]);
    let sheets = data.join("sheets");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for out in [&a, &b] {
        on_generated("run", &sheets, &out, &[]);
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
    let mut sent: HashSet<String> = HashSet::new();
    let sums = std::fs::read_to_string(a.join("police/SHA256SUMS")).unwrap();
    for line in sums.lines() {
        let (hash, name) = line.split_once("  ").unwrap();
        let bytes = std::fs::read(a.join("police").join(name)).unwrap();
        let digest: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hash, digest, "{name}");
        if name.ends_with(".csv") {
            let text = String::from_utf8(bytes).unwrap();
            let mut rows = text.trim_start_matches('\u{FEFF}').lines();
            assert!(rows
                .next()
                .unwrap()
                .starts_with("批次号,记录号,聚类号,核查原因,姓名,性别,出生日期,身份证件类型,身份证件号"));
            for row in rows {
                let record = row.split(',').nth(1).unwrap().to_owned();
                assert!(sent.insert(record), "one row per record");
            }
        }
    }
    assert!(clustered.is_subset(&sent), "every registration of a duplicated person is verified");
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
        for row in text.lines().skip(1) {
            let number = row.split(',').nth(8).unwrap();
            let shown = number.chars().filter(|&c| c != '*').count();
            assert!(number.is_empty() || (number.starts_with(|c: char| c != '*') && shown <= 8), "{number}");
        }
    }
}

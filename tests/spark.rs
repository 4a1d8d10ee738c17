//! Blocking on a real Spark cluster of three executor JVMs (`local-cluster[3,1,1024]`) against
//! `xueji dedupe` on the same records. Installs Java and pyspark on first use (spark/setup.sh,
//! cached under ~/.cache/xueji-spark).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::{generate, on_generated, read_parquet};
use polars::prelude::*;

fn spark_python() -> String {
    let setup = Command::new("bash").arg(concat!(env!("CARGO_MANIFEST_DIR"), "/spark/setup.sh")).output().unwrap();
    assert!(setup.status.success(), "spark/setup.sh failed:\n{}", String::from_utf8_lossy(&setup.stderr));
    String::from_utf8(setup.stdout).unwrap().trim().to_owned()
}

/// Candidate pairs by record ids, with their rule bits, from a Parquet file or folder of them.
fn pairs_of(path: &Path, rule_names: &[String]) -> BTreeMap<(String, String), u64> {
    let files: Vec<_> = if path.is_dir() {
        std::fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
            .collect()
    } else {
        vec![path.to_owned()]
    };
    let mut pairs = BTreeMap::new();
    for file in files {
        let df = read_parquet(&file);
        let text = |name: &str| df.column(name).unwrap().cast(&DataType::String).unwrap().str().unwrap().clone();
        let (l, r) = (text("record_id_l"), text("record_id_r"));
        let rules: Vec<u64> = match df.column("rules").unwrap().dtype() {
            DataType::Int64 => {
                df.column("rules").unwrap().i64().unwrap().into_no_null_iter().map(|m| m as u64).collect()
            }
            _ => text("rules")
                .iter()
                .map(|names| {
                    names.unwrap().split(';').map(|n| 1u64 << rule_names.iter().position(|r| r == n).unwrap()).sum()
                })
                .collect(),
        };
        for i in 0..df.height() {
            pairs.insert((l.get(i).unwrap().to_owned(), r.get(i).unwrap().to_owned()), rules[i]);
        }
    }
    pairs
}

#[test]
fn blocking_on_a_three_executor_cluster_makes_the_candidates_of_one_machine() {
    let python = spark_python();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("g");
    generate(&data, 3000, 31, &[]);
    let sheets = data.join("sheets");
    on_generated("check", &sheets, &dir.path().join("check"), &[]);
    let records = dir.path().join("check/records.parquet");
    let tiny = dir.path().join("tiny.json");
    std::fs::write(&tiny, r#"{"blocking": {"max_block_size": 2}}"#).unwrap();

    for (partitions, settings) in [("3", None), ("7", Some(&tiny))] {
        let one = dir.path().join(format!("one{partitions}"));
        let mut extra = vec!["--explain-blocking"];
        if let Some(s) = settings {
            extra.extend(["--settings", s.to_str().unwrap()]);
        }
        on_generated("dedupe", &sheets, &one, &extra);
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(one.join("dedupe_summary.json")).unwrap()).unwrap();
        let stats = summary["blocking"].as_array().unwrap();
        let names: Vec<String> = stats.iter().map(|s| s["rule"].as_str().unwrap().to_owned()).collect();

        let out = dir.path().join(format!("spark{partitions}"));
        let mut job = Command::new(&python);
        job.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/spark/blocking.py"))
            .arg(&records)
            .args(["--out", out.to_str().unwrap(), "--master", "local-cluster[3,1,1024]"])
            .args(["--partitions", partitions, "--xueji", env!("CARGO_BIN_EXE_xueji")]);
        if let Some(s) = settings {
            job.args(["--settings", s.to_str().unwrap()]);
        }
        let done = job.output().unwrap();
        assert!(done.status.success(), "spark/blocking.py failed:\n{}", String::from_utf8_lossy(&done.stderr));

        let expected = pairs_of(&one.join("candidate_pairs.parquet"), &names);
        assert!(expected.len() > 100, "{} candidate pairs", expected.len());
        assert_eq!(pairs_of(&out.join("candidate_pairs.parquet"), &names), expected, "{partitions} partitions");
        let spark: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("blocking.json")).unwrap()).unwrap();
        for (r, (one, spark)) in stats.iter().zip(spark["blocking"].as_array().unwrap()).enumerate() {
            assert_eq!(spark["rule"], one["rule"], "every rule reports, in order");
            for figure in ["pairs", "new_pairs", "blocks", "skipped_blocks", "skipped_records"] {
                assert_eq!(one[figure], spark[figure], "{} {figure}", names[r]);
            }
        }
        let skipped: u64 = stats.iter().map(|s| s["skipped_blocks"].as_u64().unwrap()).sum();
        assert_eq!(skipped > 0, settings.is_some(), "tiny blocks are skipped, and counted alike");
    }
}

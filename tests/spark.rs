//! The national check (spark/national.py) on a real Spark cluster of three executor JVMs
//! (`local-cluster[3,1,1024]`) against `xueji dedupe` and `xueji check` on the same files.
//! Installs Java and pyspark on first use (spark/setup.sh, cached under ~/.cache/xueji-spark).

mod common;

use std::path::Path;
use std::process::Command;

use common::{generate, on_generated, read_parquet, strings};

fn spark_python() -> String {
    let setup = Command::new("bash").arg(concat!(env!("CARGO_MANIFEST_DIR"), "/spark/setup.sh")).output().unwrap();
    assert!(setup.status.success(), "spark/setup.sh failed:\n{}", String::from_utf8_lossy(&setup.stderr));
    String::from_utf8(setup.stdout).unwrap().trim().to_owned()
}

/// The files both write, and must write alike: dedupe's and check's problem report.
const SAME: [&str; 9] = [
    "model.json",
    "dedupe_summary.json",
    "duplicate_pairs.parquet",
    "duplicate_pairs.csv",
    "clusters.parquet",
    "clusters.csv",
    "id_conflicts.csv",
    "problems.parquet",
    "problems.csv",
];

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn the_national_check_on_a_three_executor_cluster_is_the_check_of_one_machine() {
    let python = spark_python();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("g");
    generate(&data, 3000, 31, &["--province", "21,32", "--format", "csv", "--transfer-rate", "0.5"]);
    let sheets = data.join("sheets");
    let tiny = dir.path().join("tiny.json");
    std::fs::write(&tiny, r#"{"blocking": {"max_block_size": 2}}"#).unwrap();

    for (partitions, settings) in [("3", None), ("7", Some(&tiny))] {
        let one = dir.path().join(format!("one{partitions}"));
        let extra: Vec<&str> = settings.iter().flat_map(|s| ["--settings", s.to_str().unwrap()]).collect();
        on_generated("dedupe", &sheets, &one, &extra);
        on_generated("check", &sheets, &one, &[]);

        let out = dir.path().join(format!("spark{partitions}"));
        let mut job = Command::new(&python);
        job.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/spark/national.py"))
            .arg(&sheets)
            .args(["--out", out.to_str().unwrap(), "--master", "local-cluster[3,1,1024]"])
            .args(["--partitions", partitions, "--xueji", env!("CARGO_BIN_EXE_xueji")])
            .args(["--id-column", "学籍辅号", "--as-of", common::AS_OF])
            .args(&extra);
        let done = job.output().unwrap();
        assert!(done.status.success(), "spark/national.py failed:\n{}", String::from_utf8_lossy(&done.stderr));

        for file in SAME {
            let (a, b) = (std::fs::read(one.join(file)).unwrap(), std::fs::read(out.join(file)).unwrap());
            let (a_text, b_text) = (String::from_utf8_lossy(&a), String::from_utf8_lossy(&b));
            let first = a_text.lines().zip(b_text.lines()).enumerate().find(|(_, (x, y))| x != y);
            assert!(a == b, "{partitions} partitions: {file} differs from one machine's, first at {first:?}");
        }

        // What was compared holds what the national check is for.
        let pairs = read_parquet(&one.join("duplicate_pairs.parquet"));
        let clusters = read_parquet(&one.join("clusters.parquet"));
        let source: std::collections::HashMap<String, String> =
            strings(&clusters, "record_id").into_iter().zip(strings(&clusters, "source_file")).collect();
        let province = |id: &String| source.get(id).and_then(|f| Path::new(f).parent()).map(Path::to_path_buf);
        let (l, r) = (strings(&pairs, "record_id_l"), strings(&pairs, "record_id_r"));
        let across = l.iter().zip(&r).filter(|(l, r)| province(l).is_some() && province(l) != province(r)).count();
        assert!(pairs.height() > 50 && across > 10, "{} pairs, {across} across provinces", pairs.height());
        assert!(read_parquet(&one.join("problems.parquet")).height() > 50);
        let summary = json(&one.join("dedupe_summary.json"));
        let skipped: u64 =
            summary["blocking"].as_array().unwrap().iter().map(|s| s["skipped_blocks"].as_u64().unwrap()).sum();
        assert_eq!(skipped > 0, settings.is_some(), "tiny blocks are skipped, and counted alike");
    }
}

//! Helpers for the end-to-end tests: run the `xueji` binary and read what it wrote.
#![allow(dead_code)]

pub mod browser;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use polars::prelude::*;
use xueji::normalize::id_number::check_char;

/// The day generated populations are judged on.
pub const AS_OF: &str = "2026-11-29";

/// `xueji generate` of `students` people into `out`.
pub fn generate(out: &Path, students: usize, seed: u64, extra: &[&str]) -> String {
    let (students, seed) = (students.to_string(), seed.to_string());
    let mut args =
        vec!["generate", "--students", &students, "--seed", &seed, "--as-of", AS_OF, "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    xueji_ok(&args)
}

/// `xueji SUBCOMMAND INPUT --out OUT` on generated sheets: record ids from 学籍辅号, dates as of
/// [`AS_OF`].
pub fn on_generated(subcommand: &str, input: &Path, out: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        subcommand,
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--id-column",
        "学籍辅号",
        "--as-of",
        AS_OF,
    ];
    args.extend_from_slice(extra);
    xueji_ok(&args)
}

/// Runs `xueji ARGS`, returning its output.
pub fn xueji(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xueji")).args(args).output().expect("xueji runs")
}

/// Runs `xueji ARGS` and fails the test, showing stderr, unless it succeeds.
pub fn xueji_ok(args: &[&str]) -> String {
    let out = xueji(args);
    assert!(out.status.success(), "xueji {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

pub fn read_parquet(path: &Path) -> DataFrame {
    ParquetReader::new(std::fs::File::open(path).unwrap()).finish().unwrap()
}

/// `(file name, source row, code)` of every problem in `problems.parquet`.
pub fn problem_set(out: &Path) -> BTreeSet<(String, u32, String)> {
    let df = read_parquet(&out.join("problems.parquet"));
    let files = df.column("source_file").unwrap().str().unwrap().clone();
    let rows = df.column("source_row").unwrap().u32().unwrap().clone();
    let codes = df.column("code").unwrap().str().unwrap().clone();
    (0..df.height())
        .map(|i| {
            let file = Path::new(files.get(i).unwrap()).file_name().unwrap().to_string_lossy().into_owned();
            (file, rows.get(i).unwrap(), codes.get(i).unwrap().to_owned())
        })
        .collect()
}

/// The codes reported for one row of one file.
pub fn codes_at(problems: &BTreeSet<(String, u32, String)>, file: &str, row: u32) -> Vec<String> {
    problems.iter().filter(|(f, r, _)| f == file && *r == row).map(|(_, _, c)| c.clone()).collect()
}

/// A text column's values, nulls as empty strings.
pub fn strings(df: &DataFrame, name: &str) -> Vec<String> {
    let column = df.column(name).unwrap().cast(&DataType::String).unwrap();
    column.str().unwrap().iter().map(|v| v.unwrap_or("").to_owned()).collect()
}

/// A valid 18-character number from its first 17 characters.
pub fn with_check(body: &str) -> String {
    format!("{body}{}", char::from(check_char(body.as_bytes()).unwrap()))
}

/// Every file below `dir`, sorted.
pub fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found.sort();
    found
}

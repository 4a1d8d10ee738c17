//! A bounded mutation fuzzer over every reader: valid files of each format are damaged at random
//! (bytes flipped, quotes, separators, line breaks, NULs and invalid UTF-8 inserted, ranges cut
//! or repeated, files truncated), and every damaged file must be read or refused cleanly:
//! no panic, an error that names the file, no line of a CSV lost unseen, and memory bounded.
//! The mutations are drawn from fixed seeds, so a failure is reproduced by rerunning the test.

mod common;

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use common::with_check;
use polars::prelude::*;
use xueji::ingest::{read_file, IngestOptions, Table};
use xueji::rng::Rng;

/// Mutants per reader under `cargo test` (a fraction of a second each); set XUEJI_FUZZ_MUTANTS
/// to search longer.
fn mutants() -> u64 {
    std::env::var("XUEJI_FUZZ_MUTANTS").ok().and_then(|n| n.parse().ok()).unwrap_or(300)
}

fn student(n: usize) -> [String; 7] {
    let day = 1 + n % 28;
    let number = with_check(&format!("210102201501{day:02}{:03}", n % 1000));
    let name = format!("学生{}", char::from_u32(0x4E00 + n as u32).unwrap());
    [
        name,
        "男".into(),
        format!("2015-01-{day:02}"),
        number,
        "第一小学, 东校区".into(),
        "沈阳市".into(),
        "和平区".into(),
    ]
}

const HEADER: [&str; 7] = ["姓名", "性别", "出生日期", "身份证件号", "学校名称", "所属地市", "所属区县"];

fn base_csv() -> Vec<u8> {
    let mut text = String::from("学生基本信息表\n");
    text.push_str(&HEADER.join(","));
    text.push('\n');
    for n in 0..30 {
        let row = student(n);
        text.push_str(
            &row.iter()
                .map(|c| if c.contains(',') { format!("\"{c}\"") } else { c.clone() })
                .collect::<Vec<_>>()
                .join(","),
        );
        text.push('\n');
    }
    text.into_bytes()
}

/// One to four random damages.
fn mutate(bytes: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(7) {
            0 if at < out.len() => out[at] = rng.next_u64() as u8,
            1 => out.insert(at, *rng.pick(&[b'"', b',', b'\n', b'\r', 0, 0xFF, 0xE4, b'\t', b';'])),
            2 => {
                let end = (at + 1 + rng.below(40)).min(out.len());
                out.drain(at.min(end)..end);
            }
            3 => {
                let end = (at + 1 + rng.below(200)).min(out.len());
                let piece = out[at.min(end)..end].to_vec();
                out.splice(at..at, piece);
            }
            4 => out.truncate(at),
            5 => {
                let run = vec![*rng.pick(b"x,\"\n "); 1 + rng.below(5000)];
                out.splice(at..at, run);
            }
            _ => out.splice(at..at, "身份证件号,姓名".bytes()).for_each(drop),
        }
    }
    out
}

/// Reads `bytes` as the file `name` with the library's reader: a panic fails the test, an error
/// must name the file.
fn read(dir: &Path, name: &str, bytes: &[u8], what: &str) -> Option<Table> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let options = IngestOptions::default();
    let result = catch_unwind(AssertUnwindSafe(|| read_file(&path, &options)));
    match result {
        Err(_) => panic!("{what}: the reader panicked"),
        Ok(Err(e)) => {
            assert!(e.to_string().contains(name), "{what}: the error does not name the file: {e}");
            None
        }
        Ok(Ok(table)) => Some(table),
    }
}

/// Every non-blank line below the first record is a record's (or inside one, or named by a
/// ROWS_JOINED problem): nothing of a CSV disappears unseen.
fn every_line_accounted(text: &str, table: &Table, what: &str) {
    let df = &table.df;
    let rows: Vec<u32> = df.column("source_row").unwrap().u32().unwrap().into_no_null_iter().collect();
    let Some(&first) = rows.iter().min() else { return };
    let mut covered = vec![false; text.split('\n').count() + 2];
    let cover = |covered: &mut Vec<bool>, from: usize, to: usize| {
        for line in from..=to.min(covered.len() - 1) {
            covered[line] = true;
        }
    };
    // Text columns, plain or coded as repeated (a school name with a line break in it).
    let texts: Vec<StringChunked> = df
        .columns()
        .iter()
        .filter(|c| matches!(c.dtype(), DataType::String | DataType::Categorical(..)))
        .map(|c| c.cast(&DataType::String).unwrap().str().unwrap().clone())
        .collect();
    for (i, &row) in rows.iter().enumerate() {
        let breaks: usize = texts.iter().filter_map(|c| c.get(i)).map(|v| v.matches('\n').count()).sum();
        cover(&mut covered, row as usize, row as usize + breaks);
    }
    for problem in table.problems.iter().filter(|p| p.code == xueji::problems::Code::RowsJoined) {
        let range = problem.message.trim_start_matches('第').split('行').next().unwrap();
        let (from, to) = range.split_once('–').unwrap();
        cover(&mut covered, from.parse().unwrap(), to.parse().unwrap());
    }
    for (k, line) in text.split('\n').enumerate().map(|(k, l)| (k + 1, l)) {
        let blank = line.chars().all(|c| c.is_whitespace() || ",;\t|\"\0".contains(c));
        if k > first as usize && !blank && !covered[k] {
            let kept = std::env::temp_dir().join(format!("xueji-fuzz-{}.csv", what.replace(' ', "-")));
            std::fs::write(&kept, text).unwrap();
            panic!(
                "{what}: line {k} ({line:?}) is neither a record nor named by a problem (the file: {})",
                kept.display()
            );
        }
    }
}

#[test]
fn damaged_csv_is_read_or_refused_and_no_line_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let base = base_csv();
    let table = read(dir.path(), "s.csv", &base, "the undamaged file").unwrap();
    assert_eq!(table.df.height(), 30);
    for seed in 0..mutants() {
        let mut rng = Rng::keyed(seed, 0, 0xF022);
        let bytes = mutate(&base, &mut rng);
        let what = format!("csv mutant {seed}");
        if let Some(table) = read(dir.path(), "s.csv", &bytes, &what) {
            let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes));
            if let Ok(text) = text {
                every_line_accounted(text, &table, &what);
            }
        }
    }
}

/// A small workbook as xueji's own writer makes it.
fn base_xlsx(dir: &Path) -> Vec<u8> {
    let path = dir.join("base.xlsx");
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    for (c, h) in HEADER.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for n in 0..30 {
        for (c, v) in student(n).iter().enumerate() {
            sheet.write_string(n as u32 + 1, c as u16, v).unwrap();
        }
    }
    sheet.write_number(31, 3, 210102201501011234.0).unwrap();
    workbook.save(&path).unwrap();
    std::fs::read(path).unwrap()
}

#[test]
fn damaged_workbooks_are_read_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let base = base_xlsx(dir.path());
    assert_eq!(read(dir.path(), "s.xlsx", &base, "the undamaged workbook").unwrap().df.height(), 31);
    for seed in 0..mutants() {
        let mut rng = Rng::keyed(seed, 1, 0xF022);
        read(dir.path(), "s.xlsx", &mutate(&base, &mut rng), &format!("xlsx mutant {seed}"));
    }
    // Damage inside the parts, zipped again: the XML parsers, not only the zip reader, get it.
    let mut archive = ::zip::ZipArchive::new(std::io::Cursor::new(&base)).unwrap();
    let parts: Vec<(String, Vec<u8>)> = (0..archive.len())
        .map(|i| {
            let mut part = archive.by_index(i).unwrap();
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut part, &mut bytes).unwrap();
            (part.name().unwrap().into_owned(), bytes)
        })
        .collect();
    for seed in 0..mutants() {
        let mut rng = Rng::keyed(seed, 2, 0xF022);
        let victim = rng.below(parts.len());
        let mut zip = ::zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (k, (name, bytes)) in parts.iter().enumerate() {
            zip.start_file(name.as_str(), ::zip::write::SimpleFileOptions::default()).unwrap();
            let bytes = if k == victim { mutate(bytes, &mut rng) } else { bytes.to_vec() };
            zip.write_all(&bytes).unwrap();
        }
        let bytes = zip.finish().unwrap().into_inner();
        read(dir.path(), "s.xlsx", &bytes, &format!("xlsx part mutant {seed} ({})", parts[victim].0));
    }
}

/// The same 30 students (and a number and a float column) as Parquet and as Arrow IPC.
fn parquet_and_ipc() -> (Vec<u8>, Vec<u8>) {
    let rows: Vec<[String; 7]> = (0..30).map(student).collect();
    let columns: Vec<Column> = HEADER
        .iter()
        .enumerate()
        .map(|(c, h)| Column::new((*h).into(), rows.iter().map(|r| r[c].clone()).collect::<Vec<_>>()))
        .chain([
            Column::new("年级".into(), (0..30i64).collect::<Vec<_>>()),
            Column::new("分数".into(), vec![1.5f64; 30]),
        ])
        .collect();
    let mut df = DataFrame::new(30, columns).unwrap();
    let mut parquet = Vec::new();
    ParquetWriter::new(&mut parquet).finish(&mut df).unwrap();
    let mut ipc = Vec::new();
    IpcWriter::new(&mut ipc).finish(&mut df).unwrap();
    (parquet, ipc)
}

#[test]
fn damaged_parquet_and_arrow_files_are_read_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (parquet, ipc) = parquet_and_ipc();
    for (name, base) in [("s.parquet", &parquet), ("s.arrow", &ipc)] {
        assert_eq!(read(dir.path(), name, base, name).unwrap().df.height(), 30);
        for seed in 0..mutants() {
            let mut rng = Rng::keyed(seed, 3, 0xF022);
            read(dir.path(), name, &mutate(base, &mut rng), &format!("{name} mutant {seed}"));
        }
    }
}

/// A small portrait as JPEG (baseline and progressive-free), PNG and BMP.
fn photo_files() -> Vec<(&'static str, Vec<u8>)> {
    let image = image::RgbImage::from_fn(160, 197, |x, y| {
        let (dx, dy) = (f64::from(x) - 80.0, f64::from(y) - 85.0);
        image::Rgb(if (dx / 50.0).powi(2) + (dy / 65.0).powi(2) <= 1.0 {
            [225, 185, (160 + (x * 7 + y * 13) % 9) as u8]
        } else if y > 160 {
            [30, 30, 40]
        } else {
            [150, 200, 240]
        })
    });
    let encode = |format: image::ImageFormat| {
        let mut out = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(image.clone()).write_to(&mut out, format).unwrap();
        out.into_inner()
    };
    let jpeg = xueji::photos::file::with_app1(
        &encode(image::ImageFormat::Jpeg),
        &xueji::photos::file::exif_orientation_block(6),
    );
    vec![("jpeg", jpeg), ("png", encode(image::ImageFormat::Png)), ("bmp", encode(image::ImageFormat::Bmp))]
}

/// A damaged photo is judged, never a panic: one panic inside the parallel audit would stop a
/// province's run. Both the audit and the correction read it.
#[test]
fn damaged_photos_are_judged_never_a_panic() {
    let rules = xueji::photos::Rules::default();
    for (what, base) in photo_files() {
        assert!(xueji::photos::inspect(&base, &rules).width.is_some(), "{what} decodes");
        for seed in 0..mutants() {
            let mut rng = Rng::keyed(seed, 4, 0xF070);
            let bytes = mutate(&base, &mut rng);
            let judged = catch_unwind(AssertUnwindSafe(|| {
                let found = xueji::photos::inspect(&bytes, &rules);
                let _ = xueji::photos::fix::correct(&bytes, &rules);
                found
            }));
            let found = judged.unwrap_or_else(|_| panic!("{what} mutant {seed}: a panic"));
            assert!(found.width.is_some() || !found.findings.is_empty(), "{what} mutant {seed}: not judged");
        }
    }
}

/// Mutant 8126 of the Parquet file above makes Polars' page decoder ask for 2 EiB, which no panic
/// handler can catch: the binary's allocator refuses it with an error naming the file.
#[test]
fn a_page_asking_for_exabytes_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::keyed(8126, 3, 0xF022);
    let path = dir.path().join("damaged.parquet");
    std::fs::write(&path, mutate(&parquet_and_ipc().0, &mut rng)).unwrap();
    let out = common::xueji(&["check", path.to_str().unwrap(), "--out", dir.path().join("o").to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.code().is_some(), "ended by a signal: {stderr}");
    if !out.status.success() {
        assert!(stderr.contains("damaged.parquet") && !stderr.contains("memory allocation of"), "{stderr}");
    }
}

#[test]
fn damaged_police_replies_are_read_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut base = String::from("记录号,姓名,身份证件号,核查结果\n");
    for n in 0..30 {
        let row = student(n);
        base.push_str(&format!("r{n},{},{},{}\n", row[0], row[3], ["一致", "不一致", "查无此人"][n % 3]));
    }
    let path = dir.path().join("reply.csv");
    for seed in 0..mutants() {
        let mut rng = Rng::keyed(seed, 4, 0xF022);
        std::fs::write(&path, mutate(base.as_bytes(), &mut rng)).unwrap();
        let what = format!("reply mutant {seed}");
        match catch_unwind(AssertUnwindSafe(|| xueji::reconcile::read_replies(std::slice::from_ref(&path), &[]))) {
            Err(_) => panic!("{what}: the reply reader panicked"),
            Ok(Err(e)) => assert!(e.to_string().contains("reply.csv"), "{what}: {e}"),
            Ok(Ok(_)) => {}
        }
    }
}

/// Run last by name order is not guaranteed, so each reader test stays small; this bounds the
/// whole process, whichever tests ran before it.
#[test]
fn memory_stays_bounded() {
    damaged_csv_is_read_or_refused_and_no_line_is_lost();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    assert!(peak_kib < 1 << 20, "peak memory {peak_kib} KiB over 1 GiB");
}

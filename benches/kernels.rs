//! Criterion micro-benchmarks of the per-value kernels every record goes through.
//! Run: `cargo bench --bench kernels` (figures in reports/BENCHMARKS.md).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;
use xueji::normalize::date::{parse_date, Date};
use xueji::normalize::id_number::is_valid;
use xueji::normalize::id_number::normalize_id_number;
use xueji::normalize::name::{name_pinyin, name_pinyin_variants, normalize_name};

const AS_OF: Date = Date { year: 2026, month: 11, day: 29 };

const IDS: [&str; 6] = [
    "44011320141005001X",
    "110105194912310021",
    "11010519491231002x",
    "１１０１０５１９４９１２３１００２Ｘ",
    "110105-19491231-002X",
    "310112850409522",
];
const NAMES: [&str; 6] = ["张伟", "欧阳子轩", "張 偉", "阿依古丽・买买提", "单雄信", "李梓涵"];
const DATES: [&str; 5] = ["2014-03-05", "2014/3/5", "20140305", "2014年3月5日", "41703"];

fn kernels(c: &mut Criterion) {
    let mut group = c.benchmark_group("kernels");
    group.throughput(Throughput::Elements(IDS.len() as u64));
    group.bench_function("normalize_id_number", |b| b.iter(|| IDS.map(|id| normalize_id_number(black_box(id)))));
    let normalized: Vec<String> = IDS.iter().map(|id| normalize_id_number(id).unwrap().0).collect();
    group.bench_function("id_is_valid", |b| {
        b.iter(|| normalized.iter().filter(|id| is_valid(black_box(id), AS_OF)).count())
    });
    group.throughput(Throughput::Elements(NAMES.len() as u64));
    group.bench_function("normalize_name", |b| b.iter(|| NAMES.map(|n| normalize_name(black_box(n)))));
    let names: Vec<String> = NAMES.iter().map(|n| normalize_name(n).0).collect();
    group.bench_function("name_pinyin", |b| {
        b.iter(|| names.iter().map(|n| name_pinyin(black_box(n))).collect::<Vec<_>>())
    });
    group.bench_function("name_pinyin_variants", |b| {
        b.iter(|| names.iter().map(|n| name_pinyin_variants(black_box(n), 9)).collect::<Vec<_>>())
    });
    group.throughput(Throughput::Elements(DATES.len() as u64));
    group.bench_function("parse_date", |b| b.iter(|| DATES.map(|d| parse_date(black_box(d)))));
    group.throughput(Throughput::Elements(1));
    group.bench_function("jaro_winkler_pinyin", |b| {
        b.iter_batched(
            || ("ou yang zi xuan", "ou yang zi xuan"),
            |(x, y)| strsim::jaro_winkler(black_box(x), black_box(y)),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("levenshtein_han", |b| {
        b.iter(|| strsim::levenshtein(black_box("欧阳子轩"), black_box("欧阳子宣")))
    });
    group.finish();

    // u(region_only) of a 10M province: its own numbers' birth date and sequence (4,400 days of
    // 1,000 sequences) and region (100 counties), counted once per dedupe.
    let mut rng = xueji::rng::Rng::keyed(7, 0, 0);
    let keys: Vec<u64> = (0..10_000_000)
        .map(|_| {
            let date_sequence = rng.below(4_400) as u64 * 1_000 + rng.below(1_000) as u64;
            xueji::compare::number_key(date_sequence, 210_000 + rng.below(100) as u32)
        })
        .collect();
    let mut group = c.benchmark_group("fit");
    group.sample_size(10);
    group.bench_function("region_only_pairs_10m", |b| {
        b.iter_batched(|| keys.clone(), |k| xueji::score::region_only_pairs(black_box(k)), BatchSize::LargeInput)
    });
    group.finish();
}

/// The photo audit's per-photo work on the JPEGs under `$XUEJI_PHOTO_BENCH` (for real faces, the
/// real-photo set's `photos/`, see tests/real_photos/README.md; for drawn ones, a
/// `xueji generate --photos` folder): decoding, the whole pixel measure, and the face detector
/// alone, per photo. Skipped when the variable is not set.
fn photos(c: &mut Criterion) {
    let Ok(folder) = std::env::var("XUEJI_PHOTO_BENCH") else {
        eprintln!("photos: set XUEJI_PHOTO_BENCH to a folder of JPEG photos to measure them");
        return;
    };
    let mut files = Vec::new();
    let mut folders = vec![std::path::PathBuf::from(folder)];
    while let Some(dir) = folders.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "jpg") {
                files.push(std::fs::read(path).unwrap());
            }
        }
    }
    let decoded: Vec<image::RgbImage> =
        files.iter().filter_map(|bytes| image::load_from_memory(bytes).ok()).map(|i| i.to_rgb8()).collect();
    let luma: Vec<Vec<u8>> = decoded
        .iter()
        .map(|i| {
            i.pixels()
                .map(|p| ((77 * u32::from(p[0]) + 150 * u32::from(p[1]) + 29 * u32::from(p[2])) >> 8) as u8)
                .collect()
        })
        .collect();
    let mut group = c.benchmark_group("photos");
    group.sample_size(10);
    group.throughput(Throughput::Elements(decoded.len() as u64));
    group.bench_function("decode", |b| {
        b.iter(|| files.iter().filter_map(|f| image::load_from_memory(black_box(f)).ok()).count())
    });
    group.bench_function("measure", |b| {
        b.iter(|| {
            for i in &decoded {
                black_box(xueji::photos::measure::measure(i.as_raw(), i.width() as usize, i.height() as usize));
            }
        })
    });
    group.bench_function("face_find", |b| {
        b.iter(|| {
            decoded
                .iter()
                .zip(&luma)
                .filter(|(i, l)| xueji::photos::face::find(l, i.width() as usize, i.height() as usize).is_some())
                .count()
        })
    });
    group.finish();
}

criterion_group!(benches, kernels, photos);
criterion_main!(benches);

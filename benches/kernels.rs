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
    group.bench_function("name_pinyin", |b| b.iter(|| names.iter().map(|n| name_pinyin(black_box(n))).count()));
    group.bench_function("name_pinyin_variants", |b| {
        b.iter(|| names.iter().map(|n| name_pinyin_variants(black_box(n), 9)).count())
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
}

criterion_group!(benches, kernels);
criterion_main!(benches);

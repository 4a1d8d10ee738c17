//! `xueji dedupe`: finds the registrations of one person across the province.

use std::path::PathBuf;

use xueji::eval::{score_blocking, Truth};
use xueji::pipeline::dedupe::{dedupe_inputs, DEDUPE_OUTPUTS};

use super::{InputArgs, ScoringArgs};

/// Finds duplicate registrations (一人多籍) across the inputs.
///
/// Blocked candidate pairs, compared field by field, scored with Fellegi–Sunter weights (m by
/// EM, u from random pairs, name frequencies), and clustered with a guard against chains.
///
/// Writes into --out: duplicate_pairs.parquet/.csv (both records' ids and key fields, cluster,
/// probability, weight, and each field's level and weight), clusters.parquet/.csv (record_id,
/// cluster_id, size: one row per record in a cluster of two or more), id_conflicts.csv (one ID
/// number on clearly different people: never merged), model.json (reuse with --model) and
/// dedupe_summary.json.
///
/// Settings (--settings FILE.json; every field optional): {"blocking": {"rules": [{"name":
/// "id", "keys": ["id"]}, {"name": "pinyin_household", "keys": ["name_pinyin", "household"],
/// "lacking": "birth_date"}, ...], "max_block_size": 500, "nearest": 10}, "threshold": 0.6,
/// "cohesion": 0.05, "u_pairs": 1000000, "em_iterations": 100, "seed": 1}. A rules list
/// replaces the defaults: id, id_one_digit, id_spreadsheet, id_date_sequence (+
/// name_initials), id_date_sequence_phone, id_date_sequence_household, pinyin_birth_month,
/// pinyin_birth_day_month, pinyin_household, initials_birth_sex,
/// initials_county_birth_year_sex, guardian_phone, stem_birth, household_birth_sex,
/// no_id_name_sex_birth. Key parts: id, id_one_digit, id_spreadsheet, id_date_sequence, name,
/// name_pinyin, name_initials, name_first_letter, name_stem, surname, birth_date, birth_year, birth_year_month,
/// birth_day_month, sex, guardian_phone, county, household, school_code, no_id. Rules without
/// a number part pair only records lacking a valid number of their own (and lacking the rule's
/// "lacking" field, name or birth_date, if it names one), each with at most "nearest" records
/// of a block: those most like it.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: InputArgs,
    /// Output folder (created if needed).
    #[arg(long, short)]
    out: PathBuf,
    #[command(flatten)]
    scoring: ScoringArgs,
    /// Report pairs per blocking rule and the largest blocks, and write candidate_pairs.parquet.
    #[arg(long)]
    explain_blocking: bool,
    /// With --explain-blocking: a generated population's folder, for pair completeness.
    #[arg(long, requires = "explain_blocking")]
    truth: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let settings = args.scoring.settings()?;
    let model = args.scoring.model()?;
    let options = args.input.check_options();
    let labels = args.scoring.labels()?;
    let mut run = dedupe_inputs(&args.input.inputs, &args.input.options()?, &options, &settings, model, &labels)?;
    run.write(&args.out)?;
    let summary = run.summary();

    use xueji::say;
    println!(
        "{}",
        say!(
            "{}条记录，候选对{}个，阈值{}",
            "{} records, {} candidate pairs, threshold {}",
            summary.records,
            summary.candidate_pairs,
            summary.threshold
        )
    );
    let bands = summary.matches_by_probability.iter().map(|(b, n)| format!("{b}: {n}")).collect::<Vec<_>>().join(", ");
    println!("{}", say!("匹配对按概率：{bands}", "matches by probability: {bands}"));
    let sizes = summary.clusters_by_size.iter().map(|(s, n)| format!("{s}: {n}")).collect::<Vec<_>>().join(", ");
    println!("{}", say!("聚类按学籍数：{sizes}", "clusters by size: {sizes}"));
    println!(
        "{}",
        say!(
            "一人多籍：{}人有多条学籍，待处理学籍{}条；证件号冲突{}个；拆分的连锁聚类{}个",
            "一人多籍: {} people registered more than once, {} registrations to resolve; {} ID conflicts; {} chained components split",
            summary.people_with_several,
            summary.duplicate_registrations,
            summary.id_conflicts,
            summary.split_components.len()
        )
    );
    for line in summary.review.iter().flat_map(|review| review.lines()) {
        println!("{line}");
    }
    if args.explain_blocking {
        println!(
            "{}",
            xueji::lang::pick(
                "分块规则                          候选对      新增对     块数       跳过的块（记录）",
                "blocking rule                     pairs      new pairs  blocks     skipped blocks (records)"
            )
        );
        for s in &summary.blocking {
            println!(
                "{:<32} {:>10} {:>10} {:>10} {:>6} ({})",
                s.rule, s.pairs, s.new_pairs, s.blocks, s.skipped_blocks, s.skipped_records
            );
        }
        println!("{}", xueji::lang::pick("最大的块：", "largest blocks:"));
        for b in &summary.largest_blocks {
            println!("  {:<28} {:>7} {}  {}", b.rule, b.records, xueji::lang::pick("条记录", "records"), b.key);
        }
        let candidates = args.out.join("candidate_pairs.parquet");
        run.write_candidates(&candidates)?;
        if let Some(truth) = &args.truth {
            let truth = Truth::load(truth)?;
            let pairs = xueji::eval::read_pairs(&candidates, &truth)?;
            let blocking = score_blocking(&truth, &pairs);
            println!(
                "{}",
                say!(
                    "真实对覆盖率 pair completeness {:.4}，压缩比 reduction ratio {:.6}",
                    "pair completeness {:.4}, reduction ratio {:.6}",
                    blocking.pair_completeness,
                    blocking.reduction_ratio
                )
            );
        }
    }
    println!("{}", super::stage_time_line(&summary.timings));
    if let Some(line) = super::stage_memory_line(&summary.timings) {
        println!("{line}");
    }
    println!("{}", say!("已写入{}：{}", "wrote {} in {}", args.out.display(), DEDUPE_OUTPUTS.join(", ")));
    Ok(())
}

//! `xueji link`: a new intake against an existing registry.

use std::path::PathBuf;

use xueji::pipeline::dedupe::DEDUPE_OUTPUTS;
use xueji::pipeline::link::link;

use super::{InputArgs, ScoringArgs};

/// Checks a new intake against an existing registry, without deduplicating the registry again.
///
/// For September enrolment or another province's file: the registry's saved model scores the
/// pairs, and only pairs with a new record are blocked and compared (new against registry, and
/// new against new). --against is a folder written by `xueji run` (records.parquet, model.json).
/// Writes the same pair and cluster files as `dedupe` into --out.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: InputArgs,
    /// The registry: a campaign folder.
    #[arg(long)]
    against: PathBuf,
    /// Output folder (created if needed).
    #[arg(long, short)]
    out: PathBuf,
    /// --model defaults to the registry's model.json.
    #[command(flatten)]
    scoring: ScoringArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let settings = args.scoring.settings()?;
    let model = args.scoring.model()?;
    let options = args.input.check_options();
    let mut linked = link(
        &args.input.inputs,
        &args.input.options()?,
        &options,
        &args.against,
        &settings,
        model,
        &args.scoring.labels()?,
    )?;
    linked.run.write(&args.out)?;
    let summary = linked.run.summary();
    println!(
        "{}",
        xueji::say!(
            "新增{}条记录对照学籍库{}条记录（其中{}条与新增记录有相同分块键）：候选对{}个",
            "{} new records against {} registry records ({} share a key with the intake): {} candidate pairs",
            linked.new_records,
            linked.registry_rows,
            linked.registry_candidates,
            summary.candidate_pairs
        )
    );
    println!(
        "{}",
        xueji::say!(
            "其中{}人有多条学籍，待处理学籍{}条，证件号冲突{}个",
            "{} people with several registrations among them, {} registrations to resolve, {} ID conflicts",
            summary.people_with_several,
            summary.duplicate_registrations,
            summary.id_conflicts
        )
    );
    for line in summary.review.iter().flat_map(|review| review.lines()) {
        println!("{line}");
    }
    println!("{}", super::stage_time_line(&summary.timings));
    if let Some(line) = super::stage_memory_line(&summary.timings) {
        println!("{line}");
    }
    println!("{}", xueji::say!("已写入{}：{}", "wrote {} in {}", args.out.display(), DEDUPE_OUTPUTS.join(", ")));
    Ok(())
}

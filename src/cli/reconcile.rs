//! `xueji reconcile`: police verdicts in, a decision per registration out.

use std::path::PathBuf;

use xueji::reconcile::reconcile;

/// Turns police verdicts into a decision per registration and the unique-student list.
///
/// Reads the police replies to a campaign's match lists (xlsx/csv with a 核查结果/比对结果 column,
/// keyed by 记录号 or 身份证件号; verdicts such as 一致, 不一致, 身份证号不存在,
/// 身份证号与姓名不匹配, 查无此人 in their usual wordings) and writes into --out (default
/// CAMPAIGN/reconcile): decisions.parquet/.csv (every registration: 保留, 变更 with the proposed
/// value, 删除, 佐证, and why), masters.csv (the surviving registration of each person registered
/// more than once, and those to delete), unique_students.parquet/.csv (唯一学籍: one row per
/// person), unmatched_verdicts.csv (verdicts that match no sent record, or in unknown wording)
/// unanswered.csv (sent records without a verdict) and reply_problems.csv (reply rows read with
/// a problem, such as a ragged row).
#[derive(clap::Args)]
pub struct Args {
    /// A folder written by `xueji run`.
    #[arg(long)]
    campaign: PathBuf,
    /// Police reply files.
    #[arg(long, required = true, num_args = 1..)]
    verdicts: Vec<PathBuf>,
    /// Names a reply column for a field: --map 核查意见=verdict, --map 学籍号=record_no
    /// (repeatable; `xueji codes --fields` lists the fields).
    #[arg(long = "map", value_name = "HEADER=FIELD", value_parser = super::parse_mapping)]
    maps: Vec<(String, String)>,
    /// Output folder (default: CAMPAIGN/reconcile).
    #[arg(long, short)]
    out: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let out = args.out.unwrap_or_else(|| args.campaign.join("reconcile"));
    let summary = reconcile(&args.campaign, &args.verdicts, &args.maps, &out)?;
    println!(
        "{} verdicts read ({} rows with a problem, see reply_problems.csv): {} matched, {} match no sent record, {} in unknown wording; {} sent records without a verdict",
        summary.verdicts_read,
        summary.reply_problems,
        summary.verdicts_matched,
        summary.verdicts_matching_no_sent_record,
        summary.verdicts_unknown_wording,
        summary.sent_without_verdict
    );
    if summary.rows_with_contradicting_verdicts > 0 {
        println!(
            "{} sent rows with contradicting verdicts: their people are marked 核查结果矛盾, not decided",
            summary.rows_with_contradicting_verdicts
        );
    }
    println!("actions: {}", summary.actions.iter().map(|(a, n)| format!("{a} {n}")).collect::<Vec<_>>().join(", "));
    println!("{} unique students; wrote {}", summary.unique_students, out.display());
    Ok(())
}

//! `xueji reconcile`: police verdicts in, a decision per registration out.

use std::path::PathBuf;

use xueji::reconcile::reconcile;

/// Turns police verdicts into a decision per registration and the unique-student list.
///
/// Reads the police replies to a campaign's match lists (xlsx/csv with a 核查结果/比对结果 column,
/// keyed by 记录号 or 身份证件号; verdicts such as 一致, 不一致, 身份证号不存在,
/// 姓名与身份证号码不匹配, 查无此人, 已死亡/已注销, 重复 in their usual wordings) and writes into --out
/// (default CAMPAIGN/reconcile): decisions.parquet/.csv (every registration: 保留, 变更 with the
/// proposed value, 删除, 拟删除（未核查）, 佐证, 学校核实, 待核查, and why), masters.csv (the surviving
/// registration of each person registered more than once, and those to delete),
/// unique_students.parquet/.csv (唯一学籍: one row per person), unmatched_verdicts.csv (verdicts
/// that match no sent record), unanswered.csv (sent records without a verdict) and reply_problems.csv (reply rows read with
/// a problem, such as a ragged row), held.csv (待核查: registrations whose group has a blank,
/// unreadable or contradicting verdict — nothing decided for them; xueji then exits with code 3).
#[derive(clap::Args)]
pub struct Args {
    /// A folder written by `xueji run`.
    #[arg(long)]
    campaign: PathBuf,
    /// Police reply files.
    #[arg(long, required = true, num_args = 1..)]
    verdicts: Vec<PathBuf>,
    /// School return workbooks filled in (returns/…/*.xlsx of the campaign): their 更正后 values
    /// become 变更 on the registrations kept.
    #[arg(long, num_args = 1..)]
    returns: Vec<PathBuf>,
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
    let summary = reconcile(&args.campaign, &args.verdicts, &args.returns, &args.maps, &out)?;
    println!(
        "{}",
        xueji::say!(
            "读取核查结果{}条（{}行有问题，见reply_problems.csv）：匹配{}条，其中{}条为空、{}条用语无法识别；{}条未匹配到已送记录；已送核查而无结果{}条",
            "{} verdicts read ({} rows with a problem, see reply_problems.csv): {} matched, {} of them blank and {} in unknown wording; {} match no sent record; {} sent records without a verdict",
            summary.verdicts_read,
            summary.reply_problems,
            summary.verdicts_matched + summary.verdicts_blank + summary.verdicts_unknown_wording,
            summary.verdicts_blank,
            summary.verdicts_unknown_wording,
            summary.verdicts_matching_no_sent_record,
            summary.sent_without_verdict
        )
    );
    let actions = summary.actions.iter().map(|(a, n)| format!("{a} {n}")).collect::<Vec<_>>().join(", ");
    println!("{}", xueji::say!("处理：{actions}", "actions: {actions}"));
    println!(
        "{}",
        xueji::say!("唯一学籍{}人；已写入{}", "{} unique students; wrote {}", summary.unique_students, out.display())
    );
    if summary.held > 0 {
        return Err(Held { registrations: summary.held, list: out.join("held.csv") }.into());
    }
    Ok(())
}

/// Registrations whose group nothing could decide: `xueji` exits with
/// [`xueji::error::exit::HELD`], distinct from an error: the run finished, and some of it waits
/// for police.
#[derive(Debug)]
pub struct Held {
    registrations: usize,
    list: PathBuf,
}

impl std::fmt::Display for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (n, list) = (self.registrations, self.list.display());
        let text = xueji::say!(
            "{n}条学籍所在的组待核查（核查结果为空、无法识别或相互矛盾），未作任何处理：请公安重新核查{list}所列记录",
            "{n} registrations held (blank, unreadable or contradicting verdicts in their group), nothing decided for them: ask police again about those in {list}"
        );
        f.write_str(&text)
    }
}

impl std::error::Error for Held {}

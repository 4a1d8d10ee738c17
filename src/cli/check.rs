//! `xueji check`: school sheets in, problem-record report out.

use std::collections::BTreeMap;
use std::path::PathBuf;

use xueji::check::run::check_inputs;
use xueji::pipeline::{write_check_outputs, CHECK_OUTPUTS};
use xueji::problems::Severity;

use super::InputArgs;

/// Reads school sheets, normalizes every record and reports problem records (问题学籍).
///
/// Writes into --out: problems.parquet and problems.csv (one row per record × problem),
/// problems_summary.csv (counts by code × city × county × school) and records.parquet (every
/// record, original columns plus the normalized ones). `xueji codes` lists the problem codes.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: InputArgs,
    /// Output folder (created if missing).
    #[arg(long, short)]
    out: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let options = args.input.check_options();
    let mut run = check_inputs(&args.input.inputs, &args.input.options()?, &options)?;
    write_check_outputs(&mut run, &args.out)?;

    let mut by_code: BTreeMap<(Severity, &str), usize> = BTreeMap::new();
    for p in &run.problems {
        *by_code.entry((p.code.kind().severity, p.code.as_str())).or_default() += 1;
    }
    let records_with = |severity: Severity| {
        let mut records: Vec<usize> =
            run.problems.iter().filter(|p| p.code.kind().severity == severity).map(|p| p.record).collect();
        records.dedup();
        records.len()
    };
    println!(
        "{}",
        xueji::say!(
            "读取{}条记录，来自{}个文件（跳过空行{}行），核查日期{}",
            "read {} records from {} files ({} blank rows skipped), as of {}",
            run.records.height(),
            run.preflight.files.len(),
            run.preflight.blank_rows(),
            options.as_of
        )
    );
    println!(
        "{}",
        xueji::say!(
            "有错误的记录{}条，有警告的记录{}条",
            "records with errors: {}, with warnings: {}",
            records_with(Severity::Error),
            records_with(Severity::Warning)
        )
    );
    for ((severity, code), count) in &by_code {
        let kind = xueji::problems::Code::parse(code).map(|c| c.kind().label()).unwrap_or("");
        println!("  {:<8} {code:<28} {count:>8}  {kind}", severity.label());
    }
    println!("{}", super::stage_time_line(&run.timings));
    if let Some(line) = super::stage_memory_line(&run.timings) {
        println!("{line}");
    }
    println!("{}", xueji::say!("已写入{}：{}", "wrote {} in {}", args.out.display(), CHECK_OUTPUTS.join(", ")));
    Ok(())
}

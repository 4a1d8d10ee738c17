//! `xueji run`: the whole campaign, from school sheets to police match lists.

use std::path::PathBuf;

use xueji::pipeline::campaign::{run_campaign, Campaign};
use xueji::report::police::ExportOptions;

use super::{InputArgs, ScoringArgs};

/// The whole campaign: check, dedupe, police match lists, report, manifest.
///
/// Writes a complete campaign folder: records.parquet, problems.*, problems_summary.csv,
/// duplicate_pairs.*, clusters.*, id_conflicts.csv, model.json, dedupe_summary.json and
/// review.html (as `check` and `dedupe` name them), police/ (match lists for identity
/// verification by city, .xlsx and .csv, with SHA256SUMS), returns/ (school return workbooks),
/// review/ (each county's 复核清单 of the pairs, to judge in Excel), report.html and
/// manifest.json (version, inputs with SHA-256, settings, counts, and each stage's time and
/// peak memory); with --photos, the photo audit of `xueji photos` as well. Rerun on the same
/// inputs and settings, every file but the manifest and the report is byte-identical.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: InputArgs,
    /// The campaign folder (created if needed).
    #[arg(long, short)]
    out: PathBuf,
    #[command(flatten)]
    scoring: ScoringArgs,
    /// The campaign's province (two digits, 21 for 辽宁): its police receive the lists (default:
    /// the province most of the schools' codes give).
    #[arg(long, value_name = "CODE", value_parser = parse_province)]
    province: Option<String>,
    /// Split police lists by county as well as by city.
    #[arg(long)]
    by_county: bool,
    /// Mask ID numbers in police lists (2101**********1234): for copies shared outside the
    /// verification channel. Police cannot verify a masked number; send unmasked lists.
    #[arg(long)]
    mask: bool,
    /// Rows per police list file (default and maximum: what Excel holds, 1,048,575).
    #[arg(long, value_name = "N")]
    rows_per_file: Option<usize>,
    /// Also audit the students' photos in this folder (repeatable), as `xueji photos` does: its
    /// outputs go into the campaign folder, its counts into report.html and the manifest.
    #[arg(long, value_name = "PHOTO_DIR")]
    photos: Vec<PathBuf>,
}

fn parse_province(code: &str) -> Result<String, String> {
    let name = xueji::normalize::region::region_name(&format!("{code}0000")).filter(|_| code.len() == 2);
    name.map(|_| code.to_owned()).ok_or_else(|| format!("{code:?} is no province code (two digits, 21 for 辽宁)"))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let dedupe = args.scoring.settings()?;
    let ingest = args.input.options()?;
    let campaign = Campaign {
        ingest: &ingest,
        check: args.input.check_options(),
        dedupe,
        model: args.scoring.model()?,
        labels: args.scoring.labels()?,
        export: ExportOptions {
            by_county: args.by_county,
            mask: args.mask,
            max_rows: args.rows_per_file,
            province: args.province,
        },
        photos: args.photos,
    };
    if xueji::pipeline::campaign::interrupted(&args.out) {
        eprintln!(
            "{}",
            xueji::say!(
                "{}：上次运行未完成（或被中断），本次重建整个文件夹",
                "{}: the last run here did not finish (or was interrupted); this run rebuilds the folder",
                args.out.display()
            )
        );
    }
    let manifest = run_campaign(&args.input.inputs, campaign, &args.out)?;
    // In the campaign's order: records, problems, duplicates, police, photos.
    let mut counts: Vec<(&&str, &u64)> = manifest.counts.iter().collect();
    counts.sort_by_key(|(what, _)| xueji::report::html::COUNTS.iter().position(|c| c == *what));
    for (what, n) in counts {
        let label = if xueji::lang::english() { what } else { xueji::report::html::count_label(what) };
        println!("{label:<40} {n}");
    }
    for line in manifest.review.iter().flat_map(|review| review.lines()) {
        println!("{line}");
    }
    println!("{}", super::time_line(manifest.timings.iter().map(|(stage, t)| (stage.as_str(), *t))));
    if let Some(line) = super::memory_line(manifest.peak_memory.iter().map(|(stage, b)| (stage.as_str(), *b))) {
        println!("{line}");
    }
    println!(
        "{}",
        xueji::say!(
            "已写入查重结果：{}（公安核查名单{}个文件）",
            "wrote the campaign to {} ({} police files)",
            args.out.display(),
            manifest.police_files.len()
        )
    );
    Ok(())
}

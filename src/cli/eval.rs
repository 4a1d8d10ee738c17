//! `xueji eval`: scores output against a generated population's truth.

use std::path::PathBuf;

use anyhow::Context;
use xueji::eval::{evaluate, EvalInputs, Truth};

/// Scores xueji's output against the truth of `xueji generate`.
///
/// Prints JSON (and writes it to --out).
///
/// --pairs: predicted duplicate pairs (record_id_l, record_id_r): pairwise precision, recall and
/// F1, recall per perturbation kind, false positives per kind (twin, namesake, misuse, other).
/// --clusters: record_id, cluster_id: B-cubed scores, and pairwise ones from the clusters.
/// --candidates: blocking's candidate pairs: pair completeness and reduction ratio.
/// --problems: `xueji check`'s problems.parquet: precision and recall per problem code.
/// Record ids are the 学籍辅号 values (run check with --id-column 学籍辅号).
#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("scored").required(true).multiple(true).args(["pairs", "clusters", "candidates", "problems"]))]
pub struct Args {
    /// Folder written by `xueji generate` (or its truth/ folder).
    #[arg(long)]
    truth: PathBuf,
    /// Predicted duplicate pairs (duplicate_pairs.parquet of dedupe or run).
    #[arg(long)]
    pairs: Option<PathBuf>,
    /// Clusters (clusters.parquet of dedupe or run).
    #[arg(long)]
    clusters: Option<PathBuf>,
    /// Candidate pairs of blocking (a Parquet of record_id_l, record_id_r).
    #[arg(long)]
    candidates: Option<PathBuf>,
    /// Problems (problems.parquet of check or run).
    #[arg(long)]
    problems: Option<PathBuf>,
    /// Also write the JSON report here.
    #[arg(long, short)]
    out: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let truth = Truth::load(&args.truth)?;
    let inputs = EvalInputs {
        pairs: args.pairs.as_deref(),
        clusters: args.clusters.as_deref(),
        candidates: args.candidates.as_deref(),
        problems: args.problems.as_deref(),
    };
    let report = evaluate(&truth, &inputs)?;
    let json = serde_json::to_string_pretty(&report)? + "\n";
    print!("{json}");
    if let Some(out) = &args.out {
        xueji::files::write_bytes(out, json.as_bytes()).with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}

//! The stages chained, callable without the CLI: what `xueji check` writes (here), `dedupe`,
//! `run` ([`campaign`]), `link`, and the stages a Spark executor runs ([`worker`]).

pub mod campaign;
pub mod dedupe;
pub mod link;
pub mod worker;

use std::path::Path;

use crate::check::run::CheckRun;
use crate::error::Result;
use crate::progress::Stopwatch;
use crate::report;

/// The files `check` writes into its output folder.
pub const CHECK_OUTPUTS: [&str; 4] = ["problems.parquet", "problems.csv", "problems_summary.csv", "records.parquet"];

/// Writes the problem report, its summary and the normalized records into `out` (created if
/// needed); each file appears whole or not at all.
pub fn write_check_outputs(run: &mut CheckRun, out: &Path) -> Result<()> {
    write_problems(run, out)?;
    write_records(run, out)
}

/// problems.parquet, problems.csv and problems_summary.csv.
pub fn write_problems(run: &mut CheckRun, out: &Path) -> Result<()> {
    let watch = Stopwatch::start("write problems");
    crate::files::output_dir(out)?;
    crate::files::write_table_in_parts(
        &out.join("problems.parquet"),
        &out.join("problems.csv"),
        run.problems.len(),
        |rows| {
            let problems = report::problems_frame(&run.records, &run.problems[rows])?;
            let for_people = report::problems_for_people(&problems)?;
            Ok((problems, for_people))
        },
    )?;
    let summary = report::summary_frame(&run.records, &run.problems)?;
    crate::files::write_csv(&out.join("problems_summary.csv"), &summary)?;
    watch.finish(&mut run.timings);
    Ok(())
}

/// records.parquet: every record, its original and normalized columns.
pub fn write_records(run: &mut CheckRun, out: &Path) -> Result<()> {
    let watch = Stopwatch::start("write records");
    crate::files::output_dir(out)?;
    crate::files::write_parquet(&out.join("records.parquet"), &mut run.records)?;
    watch.finish(&mut run.timings);
    Ok(())
}

//! Argument parsing and dispatch. Each subcommand's file holds its usage text and its `run`.

mod check;
mod codes;
mod dedupe;
mod eval;
mod generate;
mod link;
mod photos;
mod reconcile;
mod run;
mod worker;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use xueji::check::CheckOptions;
use xueji::ingest::{Encoding, IngestOptions, Limits};
use xueji::normalize::date::{parse_date, Date};
use xueji::outcome::DedupeSettings;
use xueji::progress::StageTime;
use xueji::schema::HeaderMap;
use xueji::score::Model;

#[derive(Parser)]
#[command(
    name = "xueji",
    version,
    about = "Finds problem and duplicate student registrations (学籍) across a province."
)]
struct Cli {
    /// Language of what people read (problem messages and labels, police lists, return
    /// workbooks, decisions, report.html): Chinese, or English. Parquet and JSON are English
    /// either way.
    #[arg(long, global = true, value_enum, default_value_t = Lang::Zh)]
    lang: Lang,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Lang {
    Zh,
    En,
}

#[derive(Subcommand)]
enum Command {
    Check(check::Args),
    Codes(codes::Args),
    Dedupe(dedupe::Args),
    Eval(eval::Args),
    Generate(generate::Args),
    Link(link::Args),
    Photos(photos::Args),
    Reconcile(reconcile::Args),
    Run(run::Args),
    Worker(worker::Args),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    xueji::lang::set_english(cli.lang == Lang::En);
    show_progress();
    let result = match cli.command {
        Command::Check(args) => check::run(args),
        Command::Codes(args) => codes::run(args),
        Command::Dedupe(args) => dedupe::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Link(args) => link::run(args),
        Command::Photos(args) => photos::run(args),
        Command::Reconcile(args) => reconcile::run(args),
        Command::Run(args) => run::run(args),
        Command::Worker(args) => worker::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xueji: {e:#}");
            ExitCode::from(exit_code(&e))
        }
    }
}

/// The exit code of a failed command (README, "Exit codes"): the library's error says whose
/// the failure is; what the CLI itself refuses is a mistake in the command.
fn exit_code(e: &anyhow::Error) -> u8 {
    use xueji::error::exit;
    if e.is::<reconcile::Held>() {
        return exit::HELD;
    }
    match e.downcast_ref::<xueji::Error>() {
        Some(error) => error.exit_code(),
        None if e.is::<std::io::Error>() => exit::INPUT,
        None => exit::USAGE,
    }
}

/// A spinner per long stage on stderr, finished with its time; nothing when stderr is not a
/// terminal (indicatif draws only on terminals).
fn show_progress() {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    use std::sync::Mutex;
    use xueji::progress::{observe, Event};

    let current: Mutex<Option<ProgressBar>> = Mutex::new(None);
    observe(move |event| {
        let mut current = current.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            Event::Said(text) => println!("{text}"),
            Event::Advanced(done, total) => {
                if let Some(bar) = current.as_ref() {
                    if bar.length() != Some(total) {
                        bar.set_length(total);
                        bar.set_style(
                            ProgressStyle::with_template(
                                "{spinner} {msg} {human_pos}/{human_len} ({percent}%) {elapsed}",
                            )
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                        );
                    }
                    bar.set_position(done);
                }
            }
            Event::Started(stage) => {
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_message(xueji::progress::stage_name(stage).to_owned());
                bar.enable_steady_tick(std::time::Duration::from_millis(120));
                *current = Some(bar);
            }
            Event::Finished(stage, took) => {
                if let Some(bar) = current.take() {
                    bar.set_style(
                        ProgressStyle::with_template("  {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    bar.finish_with_message(format!(
                        "{} {:.2}s",
                        xueji::progress::stage_name(stage),
                        took.as_secs_f64()
                    ));
                }
            }
        }
    });
}

/// `用时：读取 0.01s，…` / `time: ingest 0.01s, …`.
pub fn time_line<'a>(timings: impl Iterator<Item = (&'a str, f64)>) -> String {
    let parts: Vec<String> =
        timings.map(|(stage, t)| format!("{} {t:.2}s", xueji::progress::stage_name(stage))).collect();
    format!("{}{}", xueji::lang::pick("用时：", "time: "), parts.join(xueji::lang::pick("，", ", ")))
}

/// [`time_line`] of a run's stages.
pub fn stage_time_line(timings: &[StageTime]) -> String {
    time_line(timings.iter().map(|t| (t.stage, t.elapsed.as_secs_f64())))
}

/// `峰值内存：读取 2.10GiB，…` / `peak memory: ingest 2.10GiB, …`: each stage's highest resident
/// memory (nothing where the system does not tell it).
pub fn memory_line<'a>(peaks: impl Iterator<Item = (&'a str, u64)>) -> Option<String> {
    let parts: Vec<String> = peaks
        .map(|(stage, bytes)| {
            format!("{} {:.2}GiB", xueji::progress::stage_name(stage), bytes as f64 / (1u64 << 30) as f64)
        })
        .collect();
    (!parts.is_empty()).then(|| {
        format!("{}{}", xueji::lang::pick("峰值内存：", "peak memory: "), parts.join(xueji::lang::pick("，", ", ")))
    })
}

/// [`memory_line`] of a run's stages.
pub fn stage_memory_line(timings: &[StageTime]) -> Option<String> {
    memory_line(timings.iter().filter_map(|t| Some((t.stage, t.peak_memory?))))
}

/// School sheets to read, and how.
#[derive(Args, Debug)]
pub struct InputArgs {
    /// Files or folders (every .csv/.xlsx/.xls/.parquet/.arrow inside, recursively).
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub read: ReadArgs,
}

impl InputArgs {
    pub fn check_options(&self) -> CheckOptions {
        self.read.check_options()
    }

    pub fn options(&self) -> anyhow::Result<IngestOptions> {
        self.read.options()
    }
}

/// How sheets are read and the day they are judged on; shared by every subcommand that reads
/// school sheets.
#[derive(Args, Debug)]
pub struct ReadArgs {
    /// Text encoding of CSV files.
    #[arg(long, value_enum, default_value_t = Encoding::Auto)]
    pub encoding: Encoding,
    /// Worksheet to read in Excel files (repeatable; default: every sheet with the template's
    /// header, such as one per class; the others are listed as not read).
    #[arg(long = "sheet", value_name = "SHEET")]
    pub sheets: Vec<String>,
    /// Names a column for a field: --map 证件号码=id_number (repeatable; `xueji codes --fields`
    /// lists the fields).
    #[arg(long = "map", value_name = "HEADER=FIELD", value_parser = parse_mapping)]
    pub maps: Vec<(String, String)>,
    /// Column holding stable record ids (default: source file and row, `a.xlsx:12`).
    #[arg(long, value_name = "COLUMN")]
    pub id_column: Option<String>,
    /// Judge dates as of this day (default: today): future birth dates, ages for grades, police
    /// batch ids. Pass it to make reruns identical.
    #[arg(long, value_parser = parse_as_of)]
    pub as_of: Option<Date>,
    /// Refuse an .xlsx/.xlsb whose sheet or shared strings unpack to more than this many MiB; a
    /// full 1,048,576-row sheet of the template unpacks to about 1 GiB.
    #[arg(long, value_name = "MIB", default_value_t = Limits::default().xlsx_part_bytes >> 20)]
    pub max_xlsx_part_mib: u64,
    /// Refuse an .xlsx/.xlsb part of over 16 MiB that unpacks to more than this many times its
    /// packed size (real sheets pack about 10 to 1, zip bombs 1,000 to 1).
    #[arg(long, value_name = "TIMES", default_value_t = Limits::default().xlsx_ratio)]
    pub max_xlsx_ratio: u64,
    /// Refuse an Excel sheet with more cells holding a value than this.
    #[arg(long, value_name = "CELLS", default_value_t = Limits::default().sheet_cells)]
    pub max_sheet_cells: u64,
}

impl ReadArgs {
    pub fn check_options(&self) -> CheckOptions {
        CheckOptions { as_of: self.as_of.unwrap_or_else(today) }
    }

    pub fn options(&self) -> anyhow::Result<IngestOptions> {
        let headers = HeaderMap::new(&self.maps).map_err(anyhow::Error::msg)?;
        // The id column may be named by its header as typed or by the field it maps to.
        let id_column = self.id_column.as_ref().map(|c| headers.canonical(c).map_or(c.clone(), str::to_owned));
        let limits = Limits {
            xlsx_part_bytes: self.max_xlsx_part_mib << 20,
            xlsx_ratio: self.max_xlsx_ratio,
            sheet_cells: self.max_sheet_cells,
        };
        Ok(IngestOptions { encoding: self.encoding, sheets: self.sheets.clone(), headers, id_column, limits })
    }
}

/// How pairs are scored: the options `dedupe`, `run` and `link` share.
#[derive(clap::Args)]
pub struct ScoringArgs {
    /// JSON settings: blocking rules, max_block_size, threshold, cohesion, u_pairs,
    /// em_iterations, seed; any left out keep their defaults (`xueji dedupe --help` lists the
    /// rules and key parts).
    #[arg(long, value_name = "FILE.json")]
    pub settings: Option<PathBuf>,
    /// Match probability from which a pair is a duplicate, between 0 and 1 (default 0.6;
    /// 0.9 for a list with fewer doubts; overrides the settings).
    #[arg(long, value_name = "P")]
    pub threshold: Option<f64>,
    /// A model.json from an earlier run: its weights (and, for link, its name frequencies) are
    /// used instead of fitting new ones.
    #[arg(long, value_name = "model.json")]
    pub model: Option<PathBuf>,
    /// Labelled pairs (CSV or Excel with 记录号1, 记录号2 and 判定 = 同一人 / 不同人 / 不确定,
    /// optionally 复核备注): review.html's export, a 复核清单, or duplicate_pairs.csv with a 判定
    /// column added. A labelled pair is decided by its label, never by the model; 不同人 is never
    /// clustered together. The labels' precision per probability band is reported.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub labels: Vec<PathBuf>,
}

impl ScoringArgs {
    pub fn settings(&self) -> anyhow::Result<DedupeSettings> {
        let mut settings = DedupeSettings::load(self.settings.as_deref())?;
        if let Some(threshold) = self.threshold {
            settings.threshold = threshold;
        }
        settings.validate().map_err(|e| anyhow::anyhow!("--threshold: {e}"))?;
        Ok(settings)
    }

    pub fn model(&self) -> anyhow::Result<Option<Model>> {
        Ok(self.model.as_deref().map(Model::load).transpose()?)
    }

    pub fn labels(&self) -> anyhow::Result<Vec<xueji::labels::Label>> {
        Ok(xueji::labels::read(&self.labels)?)
    }
}

fn parse_mapping(text: &str) -> Result<(String, String), String> {
    let (header, field) = text.split_once('=').ok_or_else(|| format!("{text:?}: expected HEADER=FIELD"))?;
    Ok((header.trim().to_owned(), field.trim().to_owned()))
}

/// `--as-of` values: a date in any accepted format.
pub fn parse_as_of(text: &str) -> Result<Date, String> {
    parse_date(text).ok_or_else(|| format!("{text:?} is not a date"))
}

/// Today (UTC), the default `--as-of`.
pub fn today() -> Date {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    Date::from_epoch_days((secs / 86_400) as i32)
}

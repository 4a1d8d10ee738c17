//! `xueji worker`: one stage of a check spread over a cluster, for the Spark jobs in `spark/`.

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::Context;
use xueji::outcome::DedupeSettings;
use xueji::pipeline::worker::{self, Stage};
use xueji::score::{self, Model};

use super::ReadArgs;

/// Runs one stage of a check spread over a cluster, for the Spark jobs in spark/: reads an
/// Arrow IPC file on standard input and writes one on standard output.
///
/// files INPUT...: prints as JSON the files `xueji check` reads, in its order (`files`), and
/// those it does not (`identical`: [file, the file it repeats], `skipped`) (no input).
/// read [reading options]: files (file: its place among them, path) → file, row, record_id,
/// source_file, source_row, every canonical field (`xueji codes --fields`), columns (bit i:
/// the file has a column for field i), problems (JSON): the records as read.
/// prepare --fields F,... [reading options]: the records as read, with `record` (the index in
/// the whole population) → normalized and checked record by record, with the fields some file
/// has (F); adds id_digits_lost and the problems found.
/// duplicates: prepared records, all of each number in one part → record, duplicates: the
/// exact-duplicate problems.
/// problems: prepared records with their duplicates → the rows of check's problems.parquet,
/// with record and order (sort by both).
/// settings: prints the settings as JSON, the defaults filled in (no input): the rules a
/// job's pairs are tagged with, by their order.
/// columns: prints as JSON the record columns each stage reads (no input): what a job sends;
/// and how many histogram bins a summary has.
/// probe-keys: records (records.parquet of check, with `record`, each row's index in the
/// whole) → rule, pass, key of the records the rules with probes must pair.
/// probe-filter: the distinct probe-keys rows of the whole population → a Bloom filter of them
/// (bytes, not Arrow), for keys --probe-filter.
/// keys: records → rule, pass, key, record, probe, number: every rule's blocking keys; with
/// --probe-filter, a rule with probes keeps only the keys a probe has (and the filter's 1 % of
/// false positives, which make no pair), as one machine does.
/// pairs: key rows of whole blocks (a shuffle by rule, pass and key) → rule, a, b for each
/// candidate pair; rule, pairs, blocks, skipped_blocks, skipped_records: the part's figures of
/// each rule (summed over the parts: dedupe_summary.json's); rule, size, pass, first: the
/// part's largest blocks of each rule.
/// first-rules: the united pairs (a, b, rules) → rule, new_pairs: how many each rule found
/// first (summed over the parts: dedupe_summary.json's).
/// describe: the parts' largest blocks (rule, size, pass, first) with their first record's
/// keys columns → rule, records, key: the largest of each rule as dedupe_summary.json names
/// them.
/// The pairs of all parts, united (bitwise or of 1 << rule per pair), are the candidate pairs
/// of `xueji dedupe` on the same records, with the same rules.
/// compare: pairs a, b with both records' compared columns as l_<column> and r_<column> →
/// a, b and <field>_level for name, birth_date, id_number, sex, school, guardian, household,
/// ethnicity: the level indices `xueji dedupe` gives the same pairs.
/// score: pairs a, b with their <field>_level and the first record's l_name_norm,
/// l_name_pinyin, l_guardian_name, and --model → a, b, weight, probability, <field>_weight,
/// bin (of dedupe_summary.json's weight histogram), kind (match, id_conflict or empty, at the
/// settings' threshold) and cohesion (what clustering weighs two members of a component by).
/// value-counts: records (compared columns and `record`) → kind, key, count, first, value: how
/// often each name, reading and guardian's name occurs in them.
/// u-sample --records N: prints as JSON the records (by index) whose random pairs give u, or
/// null for all of them (no input).
/// u --records N: those records, in that order → field, level, count, pairs.
/// number-keys: records (compared columns) → date_sequence, region: each own number's birth
/// date and sequence (positions 7–17) and region (1–6).
/// region-only-pairs: number keys, all of a date_sequence in one part (a shuffle by it) →
/// pairs: how many pairs of them differ only in the region.
/// fit --records N --u FILE.arrow --value-counts FILE.arrow --region-only-pairs N: level
/// patterns (<field>_level, pairs: candidates showing it, numbered: those a number rule found)
/// → model.json on standard output, the same as `xueji dedupe` fits when the counts are the
/// sums over all parts.
/// member-pairs --records N: matches (a, b, probability) → a, b: the pairs of records in one
/// component that clustering may weigh (score them: their cohesion column).
/// cluster --records N --members FILE.arrow: matches → the clusters as JSON ({"clusters":
/// [[record, ...], ...], "split_components": [size, ...]}), FILE the score stage's rows for
/// the member pairs, as `xueji dedupe` clusters at the settings' cohesion.
/// outputs --out DIR --records N --model FILE --reported FILE.arrow --shown FILE.arrow
/// --clustering FILE.json --blocking FILE.json --problems FILE.arrow: writes `xueji dedupe`'s
/// outputs from what a cluster found (no input): the reported pairs (score rows of a kind),
/// the records they and the clusters show (with record), cluster's output, the blocking's
/// figures (candidate_pairs, blocking, largest_blocks, histogram); and check's
/// problems.parquet and problems.csv from the problems stage's rows.
#[derive(clap::Args)]
pub struct Args {
    step: Step,
    /// For files: the sheets, files or folders.
    #[arg(value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// For read and prepare: how sheets are read and the day they are judged on, as for
    /// `xueji check`.
    #[command(flatten)]
    read: ReadArgs,
    /// For prepare: the canonical fields some file of the population has a column for.
    #[arg(long, value_delimiter = ',')]
    fields: Vec<String>,
    /// For outputs: the folder to write into.
    #[arg(long)]
    out: Option<PathBuf>,
    /// For outputs: the score stage's rows of the reported pairs.
    #[arg(long, value_name = "FILE.arrow")]
    reported: Option<PathBuf>,
    /// For outputs: the records the pairs and clusters show, with record.
    #[arg(long, value_name = "FILE.arrow")]
    shown: Option<PathBuf>,
    /// For outputs: what the cluster step printed.
    #[arg(long, value_name = "FILE.json")]
    clustering: Option<PathBuf>,
    /// For outputs: the blocking's figures.
    #[arg(long, value_name = "FILE.json")]
    blocking: Option<PathBuf>,
    /// For outputs: the problems stage's rows, in their order.
    #[arg(long, value_name = "FILE.arrow")]
    problems: Option<PathBuf>,
    /// The same settings as `xueji dedupe --settings` (blocking rules, max_block_size).
    #[arg(long, value_name = "FILE.json")]
    settings: Option<PathBuf>,
    /// For keys: the probe keys' filter (probe-filter's output).
    #[arg(long, value_name = "FILE")]
    probe_filter: Option<PathBuf>,
    /// For score: the model.json to score with.
    #[arg(long, value_name = "model.json")]
    model: Option<PathBuf>,
    /// For u-sample, u, fit, member-pairs and cluster: how many records the whole population
    /// has.
    #[arg(long, value_name = "N")]
    records: Option<usize>,
    /// For fit: the u stage's output.
    #[arg(long, value_name = "FILE.arrow")]
    u: Option<PathBuf>,
    /// For fit: the value-counts rows of every part.
    #[arg(long, value_name = "FILE.arrow")]
    value_counts: Option<PathBuf>,
    /// For fit: the sum of region-only-pairs over every part.
    #[arg(long, value_name = "N")]
    region_only_pairs: Option<u64>,
    /// For cluster: the score stage's rows for the member pairs.
    #[arg(long, value_name = "FILE.arrow")]
    members: Option<PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Step {
    Files,
    Read,
    Prepare,
    Duplicates,
    Problems,
    Describe,
    Outputs,
    Settings,
    Columns,
    ProbeKeys,
    ProbeFilter,
    Keys,
    Pairs,
    FirstRules,
    Compare,
    Score,
    ValueCounts,
    NumberKeys,
    RegionOnlyPairs,
    USample,
    U,
    Fit,
    MemberPairs,
    Cluster,
}

fn stdin_table() -> anyhow::Result<polars::prelude::DataFrame> {
    let mut input = Vec::new();
    std::io::stdin().read_to_end(&mut input).context("reading standard input")?;
    Ok(worker::read_ipc(input)?)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let settings = DedupeSettings::load(args.settings.as_deref())?;
    let records = || args.records.context("needs --records N, the population's size");
    let table = |path: &Option<PathBuf>, what: &str| -> anyhow::Result<_> {
        let path = path.as_deref().with_context(|| format!("needs --{what} FILE.arrow"))?;
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Ok(worker::read_ipc(bytes)?)
    };
    let json = |path: &Option<PathBuf>, what: &str| -> anyhow::Result<String> {
        let path = path.as_deref().with_context(|| format!("needs --{what} FILE.json"))?;
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
    };
    let stage = match args.step {
        Step::Files => {
            let (files, preflight) = xueji::ingest::files_to_read(&args.inputs)?;
            let listed = serde_json::json!({
                "files": files,
                "identical": preflight.identical,
                "skipped": preflight.skipped,
            });
            println!("{listed}");
            return Ok(());
        }
        Step::Read => Stage::Read(args.read.options()?),
        Step::Prepare => Stage::Prepare { fields: args.fields.clone(), options: args.read.check_options() },
        Step::Duplicates => Stage::Duplicates,
        Step::Problems => Stage::Problems,
        Step::Describe => Stage::Describe,
        Step::FirstRules => Stage::FirstRules,
        Step::Outputs => {
            let out = args.out.as_deref().context("outputs needs --out DIR")?;
            let model = Model::load(args.model.as_deref().context("outputs needs --model model.json")?)?;
            let clustering = serde_json::from_str(&json(&args.clustering, "clustering")?)?;
            let found = serde_json::from_str(&json(&args.blocking, "blocking")?)?;
            let (reported, shown) = (table(&args.reported, "reported")?, table(&args.shown, "shown")?);
            worker::write_outputs(out, &reported, &shown, &clustering, &model, &found, records()?, &settings)?;
            worker::write_problems(out, &table(&args.problems, "problems")?)?;
            return Ok(());
        }
        Step::Settings => {
            println!("{}", serde_json::to_string_pretty(&settings)?);
            return Ok(());
        }
        Step::Columns => {
            let blocked: Vec<&str> = xueji::block::BLOCKED.iter().copied().chain(["id_valid"]).collect();
            let columns = serde_json::json!({
                "keys": blocked,
                "compare": xueji::compare::COMPARED,
                "histogram_bins": xueji::outcome::HISTOGRAM_BINS,
            });
            println!("{columns}");
            return Ok(());
        }
        Step::ProbeKeys => Stage::ProbeKeys,
        Step::ProbeFilter => {
            let filter = worker::probe_filter(&stdin_table()?)?;
            std::io::stdout().write_all(&filter.to_bytes()).context("writing standard output")?;
            return Ok(());
        }
        Step::Keys => match &args.probe_filter {
            Some(path) => {
                let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                let filter = xueji::block::ProbeFilter::from_bytes(&bytes)
                    .with_context(|| format!("{}: not a probe filter", path.display()))?;
                Stage::Keys(Some(filter))
            }
            None => Stage::Keys(None),
        },
        Step::Pairs => Stage::Pairs,
        Step::Compare => Stage::Compare,
        Step::Score => {
            let path = args.model.as_deref().context("score needs --model model.json")?;
            Stage::Score(Box::new(Model::load(path)?))
        }
        Step::ValueCounts => Stage::ValueCounts,
        Step::NumberKeys => Stage::NumberKeys,
        Step::RegionOnlyPairs => Stage::RegionOnlyPairs,
        Step::USample => {
            println!("{}", serde_json::to_string(&score::u_sample(records()?, settings.u_pairs, settings.seed))?);
            return Ok(());
        }
        Step::U => Stage::U { records: records()? },
        Step::Fit => {
            let (u, counts) = (table(&args.u, "u")?, table(&args.value_counts, "value-counts")?);
            let region_only = args.region_only_pairs.context("fit needs --region-only-pairs N")?;
            let model = worker::fit(&stdin_table()?, &u, &counts, records()?, region_only, &settings)?;
            println!("{}", serde_json::to_string_pretty(&model)?);
            return Ok(());
        }
        Step::MemberPairs => Stage::MemberPairs { records: records()? },
        Step::Cluster => {
            let members = table(&args.members, "members")?;
            let clustering = worker::cluster(&stdin_table()?, &members, records()?, settings.cohesion)?;
            println!("{}", serde_json::to_string(&clustering)?);
            return Ok(());
        }
    };
    let mut input = Vec::new();
    std::io::stdin().read_to_end(&mut input).context("reading standard input")?;
    let output = worker::run(&stage, input, &settings)?;
    std::io::stdout().write_all(&output).context("writing standard output")?;
    Ok(())
}

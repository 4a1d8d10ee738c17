//! `xueji worker`: one stage of a check spread over a cluster, for the Spark jobs in `spark/`.

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::Context;
use xueji::pipeline::dedupe::DedupeSettings;
use xueji::pipeline::worker::{self, Stage};
use xueji::score::{self, Model};

/// Runs one stage of a check spread over a cluster, for the Spark jobs in spark/: reads an
/// Arrow IPC file on standard input and writes one on standard output.
///
/// settings: prints the settings as JSON, the defaults filled in (no input): the rules a
/// job's pairs are tagged with, by their order.
/// columns: prints as JSON the record columns each stage reads (no input): what a job sends.
/// probe-keys: records (records.parquet of check, with `record`, each row's index in the
/// whole) → rule, pass, key of the records the rules with probes must pair.
/// keys: records → rule, pass, key, record, probe, number: every rule's blocking keys; with
/// --probe-keys (the distinct probe-keys rows of the whole population), a rule with probes
/// keeps only the keys a probe has, as one machine does.
/// pairs: key rows of whole blocks (a shuffle by rule, pass and key) → rule, a, b for each
/// candidate pair, and rule, size, skipped for each block.
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
/// fit --records N --u FILE.arrow --value-counts FILE.arrow: level patterns (<field>_level,
/// pairs: candidates showing it, numbered: those a number rule found) → model.json on standard
/// output, the same as `xueji dedupe` fits when the counts are the sums over all parts.
/// member-pairs --records N: matches (a, b, probability) → a, b: the pairs of records in one
/// component that clustering may weigh (score them: their cohesion column).
/// cluster --records N --members FILE.arrow: matches → the clusters as JSON ({"clusters":
/// [[record, ...], ...], "split_components": [size, ...]}), FILE the score stage's rows for
/// the member pairs, as `xueji dedupe` clusters at the settings' cohesion.
#[derive(clap::Args)]
pub struct Args {
    step: Step,
    /// The same settings as `xueji dedupe --settings` (blocking rules, max_block_size).
    #[arg(long, value_name = "FILE.json")]
    settings: Option<PathBuf>,
    /// For keys: an Arrow IPC file of the distinct probe-keys rows.
    #[arg(long, value_name = "FILE.arrow")]
    probe_keys: Option<PathBuf>,
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
    /// For cluster: the score stage's rows for the member pairs.
    #[arg(long, value_name = "FILE.arrow")]
    members: Option<PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Step {
    Settings,
    Columns,
    ProbeKeys,
    Keys,
    Pairs,
    Compare,
    Score,
    ValueCounts,
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
    let stage = match args.step {
        Step::Settings => {
            println!("{}", serde_json::to_string_pretty(&settings)?);
            return Ok(());
        }
        Step::Columns => {
            let blocked: Vec<&str> = xueji::block::BLOCKED.iter().copied().chain(["id_valid"]).collect();
            let columns = serde_json::json!({ "keys": blocked, "compare": xueji::compare::COMPARED });
            println!("{columns}");
            return Ok(());
        }
        Step::ProbeKeys => Stage::ProbeKeys,
        Step::Keys => match &args.probe_keys {
            Some(_) => Stage::Keys(Some(worker::probe_keys(&table(&args.probe_keys, "probe-keys")?)?)),
            None => Stage::Keys(None),
        },
        Step::Pairs => Stage::Pairs,
        Step::Compare => Stage::Compare,
        Step::Score => {
            let path = args.model.as_deref().context("score needs --model model.json")?;
            Stage::Score(Box::new(Model::load(path)?))
        }
        Step::ValueCounts => Stage::ValueCounts,
        Step::USample => {
            println!("{}", serde_json::to_string(&score::u_sample(records()?, settings.u_pairs, settings.seed))?);
            return Ok(());
        }
        Step::U => Stage::U { records: records()? },
        Step::Fit => {
            let (u, counts) = (table(&args.u, "u")?, table(&args.value_counts, "value-counts")?);
            let model = worker::fit(&stdin_table()?, &u, &counts, records()?, &settings)?;
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

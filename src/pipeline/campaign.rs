//! `run`: a whole campaign folder from school sheets — problem records, duplicates, police match
//! lists — with a manifest of inputs, settings, counts and timings. Data files are the same
//! bytes on every run with the same inputs and settings; timings live only in the manifest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::dedupe::dedupe_records;
use super::{write_problems, write_records};
use crate::check::run::check_inputs;
use crate::check::CheckOptions;
use crate::error::{Error, Result};
use crate::ingest::{FileRead, IngestOptions};
use crate::labels::Label;
use crate::outcome::{DedupeSettings, PairKind};
use crate::problems::Severity;
use crate::progress::Stopwatch;
use crate::report;
use crate::report::police::{self, ExportOptions, ExportedFile};
use crate::score::Model;

#[derive(Debug, Serialize)]
pub struct InputFile {
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Serialize)]
pub struct Manifest {
    pub xueji_version: &'static str,
    /// False from the moment a run starts writing until its last file is written: a folder
    /// whose manifest says false holds an interrupted run, not a campaign.
    pub complete: bool,
    pub inputs: Vec<InputFile>,
    /// How each input was read (sheet, header row, columns, records), and the files not read:
    /// not sheets, or the same bytes as another input.
    pub preflight: crate::ingest::Preflight,
    pub settings: serde_json::Value,
    pub counts: BTreeMap<&'static str, u64>,
    pub police_files: Vec<ExportedFile>,
    /// The school return workbooks and county summaries, under `returns/`.
    pub returns: Vec<PathBuf>,
    /// The counties' 复核清单 (the pairs of review.html, to judge in Excel), under `review/`.
    pub review_lists: Vec<PathBuf>,
    /// The per-school lists of students to photograph, under `photo_retakes/` (with `--photos`).
    pub photo_retakes: Vec<PathBuf>,
    /// What `--labels` did (absent without labels; also in dedupe_summary.json).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review: Option<crate::labels::ReviewSummary>,
    /// Seconds per stage, in order.
    pub timings: Vec<(String, f64)>,
    /// Each stage's highest resident memory in bytes, in order (Linux): where the peak goes.
    pub peak_memory: Vec<(String, u64)>,
}

/// Columns dedupe compares that no writer after it reads: dropped once it is done (at 10M
/// records, 0.56 GiB of the writers' memory).
const COMPARED_ONLY: [&str; 3] = ["name_pinyin", "name_pinyin_alt", "guardian_phone_norm"];

/// What a campaign needs besides its inputs.
pub struct Campaign<'a> {
    pub ingest: &'a IngestOptions,
    pub check: CheckOptions,
    pub dedupe: DedupeSettings,
    pub model: Option<Model>,
    /// An analyst's labels on pairs (`--labels`): they decide those pairs.
    pub labels: Vec<Label>,
    pub export: ExportOptions,
    /// Photo folders to audit against the records (none: no photo stage).
    pub photos: Vec<PathBuf>,
}

/// Runs check, dedupe and the police export into `out`, and writes `manifest.json`.
pub fn run_campaign(inputs: &[PathBuf], campaign: Campaign, out: &Path) -> Result<Manifest> {
    let started = Instant::now();
    let mut check = check_inputs(inputs, campaign.ingest, &campaign.check)?;
    // The police the lists go to: the campaign's province, said before the work goes on and in
    // the manifest.
    let province = match &campaign.export.province {
        Some(p) => Some(p.clone()),
        None => crate::normalize::places::campaign_province(&check.records)?,
    };
    let named = |p: &str| crate::normalize::region::region_name(&format!("{p}0000")).unwrap_or("").to_owned();
    crate::progress::say(&match &province {
        Some(p) => crate::say!(
            "本次查重的省份：{p} {}，公安核查名单发往该省公安机关",
            "the campaign's province: {p} {}; police lists go to its public security",
            named(p)
        ),
        None => crate::say!(
            "无法确定本次查重的省份（学校标识码、文件夹、证件号均未给出）：公安核查名单按户籍地不明处理，可用--province指定",
            "the campaign's province cannot be told (no school codes, folders or numbers give it): give --province"
        ),
    });
    // The inputs are read: from here on the folder is this run's (an input error above leaves
    // an earlier campaign as it was).
    start_writing(out)?;
    // The records go out while they have every column: those only dedupe reads are let go after it.
    write_records(&mut check, out)?;
    let mut run = dedupe_records(check, &campaign.dedupe, campaign.model, &campaign.labels)?;
    for name in COMPARED_ONLY {
        run.check.records.drop_in_place(name)?;
    }
    // Schools see every duplicate group they are part of, in problems.csv and their returns.
    let found = run.duplicate_problems()?;
    run.check.problems.extend(found);
    run.check.problems.sort_by_key(|p| (p.record, p.code));
    let check = &mut run.check;
    write_problems(check, out)?;
    let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
    counts.insert("records", check.records.height() as u64);
    counts.insert("blank_rows_skipped", check.preflight.blank_rows() as u64);
    counts.insert("problems", check.problems.len() as u64);
    counts.insert("schools_without_place", crate::normalize::places::unplaced_schools(&check.records)? as u64);
    for (severity, key) in [(Severity::Error, "records_with_errors"), (Severity::Warning, "records_with_warnings")] {
        let mut records: Vec<usize> =
            check.problems.iter().filter(|p| p.code.kind().severity == severity).map(|p| p.record).collect();
        records.dedup();
        counts.insert(key, records.len() as u64);
    }
    let preflight = check.preflight.clone();
    run.write(out)?;
    // model.json keeps the name frequencies (a million names at 10M records); nothing after it
    // reads them.
    run.model.frequencies = Default::default();
    counts.insert("candidate_pairs", run.candidates.pairs.len() as u64);
    counts.insert("duplicate_pairs", run.pairs.iter().filter(|p| p.kind == PairKind::Match).count() as u64);
    counts.insert("id_conflict_pairs", run.pairs.iter().filter(|p| p.kind == PairKind::IdConflict).count() as u64);
    counts.insert("people_registered_more_than_once", run.clustering.clusters.len() as u64);
    counts.insert("duplicate_registrations", run.clustering.clusters.iter().map(|c| c.len() as u64 - 1).sum());

    let watch = Stopwatch::start("police export");
    let export = ExportOptions { province: province.clone(), ..campaign.export.clone() };
    let sent = police::select(&run, &export)?;
    let police_files = police::export(&run, &sent, &out.join("police"), campaign.check.as_of, &export)?;
    counts.insert("records_sent_to_police", sent.len() as u64);
    watch.finish(&mut run.check.timings);
    let watch = Stopwatch::start("school returns");
    let returns =
        report::returns::write(&run.check.records, &run.check.problems, &out.join("returns"), campaign.check.as_of)?;
    watch.finish(&mut run.check.timings);
    let watch = Stopwatch::start("review lists");
    let review_lists = report::review::write_worklists(&run, &out.join("review"), campaign.check.as_of)?;
    watch.finish(&mut run.check.timings);

    let photos = if campaign.photos.is_empty() {
        None
    } else {
        let watch = Stopwatch::start("photos");
        let rules = crate::photos::Rules::default();
        let records = &run.check.records;
        let audited = crate::photos::audit::audit(&campaign.photos, records, &rules, campaign.check.as_of)?;
        let summary = audited.write(records, &rules, out, campaign.check.as_of)?;
        counts.insert("photos", summary.photos as u64);
        counts.insert("photos_passed", summary.photos_passed as u64);
        counts.insert("photos_to_fix", summary.photos_fixable as u64);
        counts.insert("photos_to_retake", summary.photos_to_retake as u64);
        counts.insert("students_without_photo", summary.students_without_photo as u64);
        watch.finish(&mut run.check.timings);
        Some(summary)
    };

    // A workbook read sheet by sheet is one input.
    let mut hashed = std::collections::HashSet::new();
    let inputs = preflight
        .files
        .iter()
        .filter(|FileRead { path, .. }| hashed.insert(path))
        .map(|FileRead { path, .. }| {
            let hashed = match preflight.sha256.get(path) {
                Some(sha256) => {
                    std::fs::metadata(path).map(|m| (m.len(), sha256.clone())).map_err(|e| Error::io(path, e))
                }
                None => crate::files::sha256_file(path),
            };
            hashed.map(|(bytes, sha256)| InputFile { path: path.clone(), bytes, sha256 })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut timings: Vec<(String, f64)> =
        run.check.timings.iter().map(|t| (t.stage.to_string(), t.elapsed.as_secs_f64())).collect();
    timings.push(("total".into(), started.elapsed().as_secs_f64()));
    let title = crate::say!("学籍查重 campaign {}", "Duplicate registration campaign {}", campaign.check.as_of);
    let photo_figures = photos.as_ref().map(|p| crate::report::html::PhotoFigures {
        photos: p.photos,
        per_second: p.photos_per_second,
        by_code: &p.by_code,
    });
    let html =
        crate::report::html::campaign_report(&run, &counts, &police_files, photo_figures.as_ref(), &timings, &title)?;
    let manifest = Manifest {
        xueji_version: env!("CARGO_PKG_VERSION"),
        complete: true,
        inputs,
        preflight,
        settings: serde_json::json!({
            "as_of": campaign.check.as_of,
            "encoding": format!("{:?}", campaign.ingest.encoding),
            "sheets": campaign.ingest.sheets,
            "id_column": campaign.ingest.id_column,
            "dedupe": campaign.dedupe,
            "police": {
                "by_county": campaign.export.by_county,
                "mask": campaign.export.mask,
                "province": province,
            },
            "photos": campaign.photos,
            "photo_rules": photos.as_ref().map(|p| &p.rules),
        }),
        counts,
        police_files,
        returns,
        review_lists,
        photo_retakes: photos.map(|p| p.retake_lists).unwrap_or_default(),
        review: run.review.clone(),
        timings,
        peak_memory: run.check.timings.iter().filter_map(|t| Some((t.stage.to_string(), t.peak_memory?))).collect(),
    };
    // The manifest says complete first, the report last: stopped between the two, the report
    // still says incomplete (the safe side), never the other way round.
    crate::files::write_json(&out.join("manifest.json"), &manifest)?;
    crate::files::write_bytes(&out.join("report.html"), html.as_bytes())?;
    Ok(manifest)
}

/// Whether `out` holds a campaign whose run was interrupted (its manifest says it is not
/// complete): the next run there rebuilds it, and says so.
pub fn interrupted(out: &Path) -> bool {
    std::fs::read_to_string(out.join("manifest.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|m| m["complete"] == serde_json::Value::Bool(false))
}

/// Marks `out` as a run in progress — report.html, then manifest.json, say so — before
/// anything of an earlier campaign is removed, then clears what that campaign wrote (its
/// outputs, the police lists its `SHA256SUMS` names, its return workbooks, and what
/// `reconcile` derived from it): a folder is never half old, half new without saying so.
fn start_writing(out: &Path) -> Result<()> {
    crate::files::output_dir(out)?;
    // What the earlier run wrote, read before its manifest is replaced by the marker.
    let earlier: serde_json::Value = std::fs::read_to_string(out.join("manifest.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    // An interrupted run's marker keeps the list of the campaign before it.
    let earlier =
        if earlier["complete"] == serde_json::Value::Bool(false) { earlier["earlier"].clone() } else { earlier };
    // The report first, then the manifest: at no moment does a manifest say incomplete beside
    // a report of a finished campaign.
    crate::files::write_bytes(&out.join("report.html"), INCOMPLETE_REPORT.as_bytes())?;
    crate::files::write_atomic(&out.join("manifest.json"), |w| {
        let note = serde_json::json!({
            "xueji_version": env!("CARGO_PKG_VERSION"),
            "complete": false,
            "note": "a run started writing here and has not finished (or was interrupted): rerun it",
            "earlier": {
                "returns": earlier["returns"],
                "review_lists": earlier["review_lists"],
                "photo_retakes": earlier["photo_retakes"],
            },
        });
        serde_json::to_writer_pretty(&mut *w, &note).map_err(|e| Error::input(out, e.to_string()))
    })?;
    let remove = |path: &Path| match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path, e)),
        _ => Ok(()),
    };
    let police = out.join("police");
    if let Ok(sums) = std::fs::read_to_string(police.join("SHA256SUMS")) {
        // Plain names only: a damaged list never reaches outside the police folder.
        for name in sums.lines().filter_map(|l| l.split_once("  ")).map(|(_, n)| n) {
            if !name.is_empty() && !name.contains(['/', '\\']) && !name.starts_with('.') {
                remove(&police.join(name))?;
            }
        }
        remove(&police.join("SHA256SUMS"))?;
    }
    // The earlier run's return workbooks, as its manifest lists them (relative paths only).
    for (key, folder) in [("returns", "returns"), ("review_lists", "review"), ("photo_retakes", "photo_retakes")] {
        let folder = out.join(folder);
        for file in earlier[key].as_array().into_iter().flatten().filter_map(|f| f.as_str()) {
            let relative = Path::new(file);
            if relative.components().all(|c| matches!(c, std::path::Component::Normal(_))) {
                remove(&folder.join(relative))?;
                // Folders the workbooks were alone in go with them.
                for parent in relative.ancestors().skip(1).filter(|a| !a.as_os_str().is_empty()) {
                    let _ = std::fs::remove_dir(folder.join(parent));
                }
            }
        }
    }
    let owned = super::CHECK_OUTPUTS
        .iter()
        .chain(super::dedupe::DEDUPE_OUTPUTS.iter())
        .chain(crate::photos::write::PHOTO_OUTPUTS.iter());
    for name in owned {
        remove(&out.join(name))?;
    }
    // Decisions on the earlier campaign's groups are not this one's.
    let derived = out.join("reconcile");
    for name in crate::reconcile::RECONCILE_OUTPUTS {
        remove(&derived.join(name))?;
    }
    let _ = std::fs::remove_dir(&derived);
    Ok(())
}

/// report.html while a run writes the folder: what is here is not a campaign yet.
const INCOMPLETE_REPORT: &str = "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>未完成 incomplete</title></head><body><h1 id=\"incomplete\">本文件夹的查重运行尚未完成（或已中断）</h1><p>此处的文件不构成完整的查重结果，请重新运行 <code>xueji run</code>。</p><p>A run is writing this folder, or was interrupted: what is here is not a campaign. Run <code>xueji run</code> again.</p></body></html>\n";

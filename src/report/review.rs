//! review.html: every reported pair and the candidates scored just below the threshold, for an
//! analyst to browse, search and label before the lists go to police — grouped by comparison
//! pattern as Splink's comparison viewer does, each pair side by side with its waterfall, the
//! clusters with the edges the cohesion guard cut, and the model. One self-contained file that
//! opens offline: the data is embedded as compact JSON (records once, pairs as arrays of
//! numbers) and rows are drawn on demand by the script in `review.js`. Labels are kept in the
//! browser and exported as a CSV that `--labels` reads.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde_json::json;

use crate::columns::Text;
use crate::compare::{FIELDS, LEVELS, LEVELS_ZH};
use crate::error::Result;
use crate::outcome::{DedupeRun, PairKind, ScoredPair};

/// The record columns the page shows, with their headers.
const SHOWN: [(&str, &str); 13] = [
    ("record_id", "记录号"),
    ("name", "姓名"),
    ("id_number", "身份证件号"),
    ("birth_date", "出生日期"),
    ("sex", "性别"),
    ("school_name", "学校名称"),
    ("grade", "年级"),
    ("class", "班级"),
    ("guardian_name", "监护人姓名"),
    ("guardian_phone", "监护人联系电话"),
    ("household_address", "户口所在地"),
    ("place_city", "地市"),
    ("place_county", "区县"),
];

/// The compared fields' names as people read them, in the order of [`FIELDS`].
pub const FIELD_LABELS: [&str; FIELDS.len()] = ["姓名", "出生日期", "身份证件号", "性别", "学校", "监护人", "户口所在地", "民族"];

/// The page for `run`, with `near` the candidate pairs scored below the threshold that are shown
/// beside the reported ones.
pub fn review_page(run: &DedupeRun, title: &str) -> Result<String> {
    let records = &run.check.records;
    // Columns every run has are required; a sheet may lack the others.
    let always = ["record_id", "name", "id_number", "birth_date", "sex", "place_city", "place_county"];
    let columns: Vec<Text> = SHOWN
        .iter()
        .map(|(name, _)| if always.contains(name) { Text::of(records, name) } else { Text::optional(records, name) })
        .collect::<Result<Vec<_>>>()?;
    let pairs: Vec<(&ScoredPair, u8)> = run
        .pairs
        .iter()
        .map(|p| (p, if p.kind == PairKind::IdConflict { 2 } else { 1 }))
        .chain(run.near.iter().map(|p| (p, 0)))
        .collect();

    // Records once, by their place in the page's table.
    let mut index: HashMap<u32, usize> = HashMap::new();
    let mut shown: Vec<Vec<&str>> = Vec::new();
    let mut slot = |r: u32| -> usize {
        *index.entry(r).or_insert_with(|| {
            shown.push(columns.iter().map(|c| c.get(r as usize).unwrap_or("")).collect());
            shown.len() - 1
        })
    };
    let cluster_of: HashMap<u32, usize> =
        run.clustering.clusters.iter().enumerate().flat_map(|(k, c)| c.iter().map(move |&r| (r, k))).collect();
    let round = |v: f64, digits: i32| (v * 10f64.powi(digits)).round() / 10f64.powi(digits);
    let pair_rows: Vec<serde_json::Value> = pairs
        .iter()
        .map(|(p, kind)| {
            let (a, b) = (slot(p.a), slot(p.b));
            let cluster = match (cluster_of.get(&p.a), cluster_of.get(&p.b)) {
                (Some(x), Some(y)) if x == y => *x as i64,
                _ => -1,
            };
            json!([
                a,
                b,
                round(p.score.probability, 6),
                round(p.score.weight, 2),
                kind,
                cluster,
                p.levels.indices(),
                p.score.field_weights.iter().map(|w| round(*w, 2)).collect::<Vec<_>>()
            ])
        })
        .collect();
    let clusters: Vec<Vec<usize>> =
        run.clustering.clusters.iter().map(|c| c.iter().map(|&r| slot(r)).collect()).collect();
    let model: Vec<serde_json::Value> = run
        .model
        .fields
        .iter()
        .enumerate()
        .map(|(f, field)| {
            json!({
                "field": FIELDS[f],
                "label": FIELD_LABELS[f],
                "levels": field.levels.iter().enumerate().map(|(l, level)| json!([
                    LEVELS_ZH[f][l], LEVELS[f][l], level.m, level.u, round(level.weight, 3)
                ])).collect::<Vec<_>>(),
            })
        })
        .collect();
    let data = json!({
        "title": title,
        "threshold": run.settings.threshold,
        "prior": round((run.model.lambda / (1.0 - run.model.lambda)).log2(), 3),
        "columns": SHOWN.iter().map(|(name, zh)| [*name, *zh]).collect::<Vec<_>>(),
        "records": shown,
        "pairs": pair_rows,
        "clusters": clusters,
        "model": model,
    });
    // `</` never appears inside the script element, whatever a cell holds.
    let data = serde_json::to_string(&data)
        .map_err(|e| crate::error::Error::Internal(format!("review.html data: {e}")))?
        .replace("</", "<\\/");
    let mut html = String::with_capacity(data.len() + 32 * 1024);
    let _ = write!(
        html,
        r#"<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title><style>{css}</style></head><body>
<script type="application/json" id="data">{data}</script>
<div id="app"></div><script>{js}</script></body></html>
"#,
        title = super::html::esc(title),
        css = include_str!("review.css"),
        js = include_str!("review.js"),
    );
    Ok(html)
}

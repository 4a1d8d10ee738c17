//! review.html: every reported pair and the candidates scored just below the threshold, for an
//! analyst to browse, search and label before the lists go to police — grouped by comparison
//! pattern as Splink's comparison viewer does, each pair side by side with its waterfall, the
//! clusters with the edges the cohesion guard cut, and the model. One self-contained file that
//! opens offline: the data is embedded as compact JSON (records once, pairs as arrays of
//! numbers) and rows are drawn on demand by the script in `review.js`. Labels are kept in the
//! browser and exported as a CSV that `--labels` reads.

use std::collections::HashMap;
use std::io::Write as _;

use rayon::prelude::*;

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
pub const FIELD_LABELS: [&str; FIELDS.len()] =
    ["姓名", "出生日期", "身份证件号", "性别", "学校", "监护人", "户口所在地", "民族"];

/// The pairs put to review, page and 复核清单 alike: each reported pair and each candidate scored
/// below the threshold (`run.near`), with its kind: 0 below the threshold, 1 a match, 2 an ID
/// conflict.
fn reviewed(run: &DedupeRun) -> impl Iterator<Item = (&ScoredPair, usize)> {
    let reported = run.pairs.iter().map(|p| (p, if p.kind == PairKind::IdConflict { 2 } else { 1 }));
    reported.chain(run.near.iter().map(|p| (p, 0)))
}

/// The page for `run`: its reported pairs and, beside them, the candidates it scored below the
/// threshold (`run.near`).
pub fn review_page(run: &DedupeRun, title: &str) -> Result<String> {
    let records = &run.check.records;
    // What a run's records have of them (linking keeps only the columns it compares).
    let columns: Vec<Option<Text>> = SHOWN
        .iter()
        .map(|(name, _)| records.column(name).is_ok().then(|| Text::of(records, name)).transpose())
        .collect::<Result<Vec<_>>>()?;
    let pairs: Vec<(&ScoredPair, usize)> = reviewed(run).collect();

    // Records once, by their place in the page's table.
    let mut index: HashMap<u32, usize> = HashMap::new();
    let mut shown: Vec<Vec<&str>> = Vec::new();
    let mut slot = |r: u32| -> usize {
        *index.entry(r).or_insert_with(|| {
            shown.push(columns.iter().map(|c| c.as_ref().and_then(|c| c.get(r as usize)).unwrap_or("")).collect());
            shown.len() - 1
        })
    };
    let cluster_of = run.clustering.index();
    let round = |v: f64, digits: i32| (v * 10f64.powi(digits)).round() / 10f64.powi(digits);
    let pair_rows: Vec<PairRow> = pairs
        .iter()
        .map(|(p, kind)| {
            let (a, b) = (slot(p.a), slot(p.b));
            let cluster = match (cluster_of.get(&p.a), cluster_of.get(&p.b)) {
                (Some(x), Some(y)) if x == y => *x as i64,
                _ => -1,
            };
            (
                a,
                b,
                round(p.score.probability, 6),
                round(p.score.weight, 2),
                *kind,
                cluster,
                p.levels.indices(),
                p.score.field_weights.map(|w| round(w, 2)),
            )
        })
        .collect();
    let clusters: Vec<Vec<usize>> =
        run.clustering.clusters.iter().map(|c| c.iter().map(|&r| slot(r)).collect()).collect();
    let model: Vec<FieldModel> = run
        .model
        .fields
        .iter()
        .enumerate()
        .map(|(f, field)| FieldModel {
            field: FIELDS[f],
            label: FIELD_LABELS[f],
            levels: field
                .levels
                .iter()
                .enumerate()
                .map(|(l, level)| (LEVELS_ZH[f][l], LEVELS[f][l], level.m, level.u, round(level.weight, 3)))
                .collect(),
        })
        .collect();
    let data = PageData {
        clusters,
        columns: SHOWN.iter().map(|(name, zh)| [*name, *zh]).collect(),
        model,
        pairs: pair_rows,
        prior: round((run.model.lambda / (1.0 - run.model.lambda)).log2(), 3),
        records: shown,
        threshold: run.settings.threshold,
        title,
    };
    // Written as it is serialized, not built as a tree of values first: at 10M records a tree
    // of the pairs took gigabytes, ten times the page.
    let mut html: Vec<u8> = Vec::with_capacity(32 * 1024);
    let _ = write!(
        html,
        r#"<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title><style>{css}</style></head><body>
<script type="application/json" id="data">"#,
        title = super::html::esc(title),
        css = include_str!("review.css"),
    );
    serde_json::to_writer(ScriptText { out: &mut html, after_lt: false }, &data)
        .map_err(|e| crate::error::Error::Internal(format!("review.html data: {e}")))?;
    let _ = write!(
        html,
        r#"</script>
<div id="app"></div><script>{js}</script></body></html>
"#,
        js = include_str!("review.js"),
    );
    // Valid UTF-8: serde_json writes it, and the escape only adds ASCII.
    String::from_utf8(html).map_err(|e| crate::error::Error::Internal(format!("review.html: {e}")))
}

/// One pair of the page: the two records' places in its table, probability, weight, kind,
/// cluster (−1 when the two are not in one), comparison levels and field weights.
type PairRow = (usize, usize, f64, f64, usize, i64, [u8; FIELDS.len()], [f64; FIELDS.len()]);

/// The page's data; fields in alphabetical order, as the page has always had its keys.
#[derive(serde::Serialize)]
struct PageData<'a> {
    clusters: Vec<Vec<usize>>,
    columns: Vec<[&'static str; 2]>,
    model: Vec<FieldModel>,
    pairs: Vec<PairRow>,
    prior: f64,
    records: Vec<Vec<&'a str>>,
    threshold: f64,
    title: &'a str,
}

/// A field of the model: each level's Chinese and English name, m, u and weight.
#[derive(serde::Serialize)]
struct FieldModel {
    field: &'static str,
    label: &'static str,
    levels: Vec<(&'static str, &'static str, f64, f64, f64)>,
}

/// Writes JSON inside a script element: `</` never appears there, whatever a cell holds (it
/// becomes `<\/`, the same string to a JSON reader), even when split across two writes.
struct ScriptText<'a> {
    out: &'a mut Vec<u8>,
    after_lt: bool,
}

impl std::io::Write for ScriptText<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for &byte in buf {
            if self.after_lt && byte == b'/' {
                self.out.push(b'\\');
            }
            self.out.push(byte);
            self.after_lt = byte == b'<';
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The 复核清单 headers: the pair, the judgement to make, then what to judge by.
const LIST_HEADERS: [&str; 18] = [
    "记录号1",
    "记录号2",
    "判定",
    "复核备注",
    "同一人概率",
    "类别",
    "姓名1",
    "姓名2",
    "身份证件号1",
    "身份证件号2",
    "出生日期1",
    "出生日期2",
    "学校名称1",
    "学校名称2",
    "班级1",
    "班级2",
    "监护人联系电话1",
    "监护人联系电话2",
];

/// `review/<地市>/复核清单_<区县>.xlsx`: the pairs of review.html for county staff who review in
/// Excel, by the county of the pair's first record, with a 判定 column that takes only
/// 同一人 / 不同人 / 不确定 (what `--labels` reads back). Returns the files written, relative to `dir`.
pub fn write_worklists(
    run: &DedupeRun,
    dir: &std::path::Path,
    day: crate::normalize::date::Date,
) -> Result<Vec<std::path::PathBuf>> {
    use crate::error::Error;
    let records = &run.check.records;
    let text = |name: &str| Text::of(records, name);
    let (city, county) = (text("place_city")?, text("place_county")?);
    let (ids, names, numbers, births) = (text("record_id")?, text("name")?, text("id_number")?, text("birth_date")?);
    let (schools, classes, phones) = (
        Text::optional(records, "school_name")?,
        Text::optional(records, "class")?,
        Text::optional(records, "guardian_phone")?,
    );
    let kinds = [
        crate::lang::pick("阈值以下", "below the threshold"),
        crate::lang::pick("匹配", "match"),
        crate::lang::pick("证件号冲突", "ID conflict"),
    ];
    let mut by_county: std::collections::BTreeMap<(&str, &str), Vec<[String; LIST_HEADERS.len()]>> = Default::default();
    // The doubtful first, as on the page: nearest the threshold on either side, ID conflicts last.
    let threshold = run.settings.threshold;
    let mut pairs: Vec<(&ScoredPair, usize)> = reviewed(run).collect();
    pairs.sort_by(|(p, k), (q, l)| {
        let doubt = |p: &ScoredPair| (p.score.probability - threshold).abs();
        (*k == 2).cmp(&(*l == 2)).then(doubt(p).total_cmp(&doubt(q))).then((p.a, p.b).cmp(&(q.a, q.b)))
    });
    for (p, kind) in pairs {
        let (a, b) = (p.a as usize, p.b as usize);
        let both = |t: &Text| [t.get(a).unwrap_or("").to_owned(), t.get(b).unwrap_or("").to_owned()];
        let [id1, id2] = both(&ids);
        let [n1, n2] = both(&names);
        let [i1, i2] = both(&numbers);
        let [b1, b2] = both(&births);
        let [s1, s2] = both(&schools);
        let [c1, c2] = both(&classes);
        let [g1, g2] = both(&phones);
        let row = [
            id1,
            id2,
            String::new(),
            String::new(),
            format!("{:.4}", p.score.probability),
            kinds[kind].to_owned(),
            n1,
            n2,
            i1,
            i2,
            b1,
            b2,
            s1,
            s2,
            c1,
            c2,
            g1,
            g2,
        ];
        by_county.entry((city.get(a).unwrap_or(""), county.get(a).unwrap_or(""))).or_default().push(row);
    }
    // A workbook per county, made in parallel.
    let write =
        |((city, county), rows): ((&str, &str), Vec<[String; LIST_HEADERS.len()]>)| -> Result<std::path::PathBuf> {
            let unknown = |t: &str| if t.is_empty() { "未知".to_owned() } else { crate::files::file_stem(t) };
            let relative = std::path::PathBuf::from(unknown(city)).join(format!("复核清单_{}.xlsx", unknown(county)));
            let path = dir.join(&relative);
            std::fs::create_dir_all(path.parent().unwrap_or(dir)).map_err(|e| Error::io(dir, e))?;
            let xlsx = |e: rust_xlsxwriter::XlsxError| Error::input(&path, format!("writing xlsx: {e}"));
            let mut workbook = super::new_workbook(day)?;
            let sheet = workbook.worksheet_from_index(0).map_err(xlsx)?;
            let guide = crate::say!(
            "{city}{county}：{}对记录。请在“判定”列选择同一人、不同人或不确定，说明写在“复核备注”列；交回后由 xueji --labels 读取。",
            "{city} {county}: {} pairs. Choose 同一人, 不同人 or 不确定 under 判定, notes under 复核备注; xueji --labels reads it back.",
            rows.len()
        );
            sheet.write_string(0, 0, guide.as_str()).map_err(xlsx)?;
            super::table_sheet_at(sheet, 1, &LIST_HEADERS, &rows).map_err(xlsx)?;
            let choices = rust_xlsxwriter::DataValidation::new()
                .allow_list_strings(&["同一人", "不同人", "不确定"])
                .and_then(|v| v.set_error_title("判定"))
                .and_then(|v| v.set_error_message("请选择同一人、不同人或不确定；说明请写在“复核备注”列"))
                .map_err(xlsx)?;
            sheet.add_data_validation(2, 2, rows.len().max(1) as u32 + 1, 2, &choices).map_err(xlsx)?;
            for (r, row) in rows.iter().enumerate() {
                for (c, value) in row.iter().enumerate() {
                    if !value.is_empty() {
                        sheet
                            .write_string(r as u32 + 2, c as u16, crate::files::inert(value).as_ref())
                            .map_err(xlsx)?;
                    }
                }
            }
            let mut file = crate::files::AtomicFile::create(&path)?;
            workbook.save_to_writer(file.writer()).map_err(xlsx)?;
            file.commit()?;
            Ok(relative)
        };
    let written = polars_core::runtime::THREAD_POOL
        .install(|| by_county.into_par_iter().map(write).collect::<Result<Vec<_>>>())?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::ScriptText;

    /// A cell holding `</script>` never ends the page's data early, however serde_json splits
    /// what it writes, and the data reads back as the cell was.
    #[test]
    fn a_closing_tag_in_a_cell_cannot_end_the_script() {
        let mut out = Vec::new();
        let mut text = ScriptText { out: &mut out, after_lt: false };
        text.write_all(b"a<").unwrap();
        text.write_all(b"/script> <</b / <").unwrap();
        text.write_all(b"/").unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), r"a<\/script> <<\/b / <\/");

        let cell = "王芳</script><script>alert(1)</script>";
        let mut out = Vec::new();
        serde_json::to_writer(ScriptText { out: &mut out, after_lt: false }, &[cell]).unwrap();
        let page = String::from_utf8(out).unwrap();
        assert!(!page.contains("</"), "{page}");
        assert_eq!(serde_json::from_str::<Vec<String>>(&page).unwrap(), [cell]);
    }
}

//! `report.html`: the campaign at a glance in one self-contained file — no script, no network,
//! charts as inline SVG — so it opens anywhere, also on an offline office computer.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use crate::columns::Text;
use crate::error::Result;
use crate::pipeline::dedupe::DedupeRun;
use crate::problems::{Code, Severity};

fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A horizontal bar chart of labelled counts.
fn bar_chart(items: &[(String, u64)]) -> String {
    let max = items.iter().map(|i| i.1).max().unwrap_or(1).max(1) as f64;
    let (row, label, width) = (22.0, 260.0, 420.0);
    let mut svg = format!(
        r#"<svg class="chart" width="{}" height="{}" role="img">"#,
        label + width + 90.0,
        row * items.len() as f64 + 4.0
    );
    for (k, (name, count)) in items.iter().enumerate() {
        let y = k as f64 * row;
        let w = (*count as f64 / max * width).max(1.0);
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text><rect x="{}" y="{}" width="{w:.1}" height="{}"/><text x="{}" y="{}">{count}</text>"#,
            label - 6.0,
            y + 15.0,
            esc(name),
            label,
            y + 3.0,
            row - 6.0,
            label + w + 6.0,
            y + 15.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The match-weight histogram of the candidate pairs, with the threshold drawn in.
fn histogram(run: &DedupeRun) -> String {
    let h = &run.histogram;
    let max = h.counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let (bar, height) = (8.0, 160.0);
    let mut svg = format!(
        r#"<svg class="chart" width="{}" height="{}" role="img">"#,
        bar * h.counts.len() as f64 + 40.0,
        height + 40.0
    );
    for (k, &count) in h.counts.iter().enumerate() {
        // Log scale: a few matches beside millions of non-matches stay visible.
        let hgt = if count == 0 { 0.0 } else { ((count as f64).ln_1p() / max.ln_1p() * height).max(1.0) };
        let _ = write!(
            svg,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{hgt:.1}"><title>weight {}: {count} pairs</title></rect>"#,
            20.0 + k as f64 * bar,
            height - hgt,
            bar - 1.0,
            h.low + k as i32
        );
    }
    let t = run.settings.threshold.clamp(1e-9, 1.0 - 1e-9);
    let lambda = run.model.lambda;
    let threshold_weight = (t / (1.0 - t)).log2() - (lambda / (1.0 - lambda)).log2();
    let x = 20.0 + (threshold_weight - f64::from(h.low)) * bar;
    let _ = write!(
        svg,
        r#"<line class="threshold" x1="{x:.1}" x2="{x:.1}" y1="0" y2="{height}"/><text x="{:.1}" y="12">threshold {t} (weight {threshold_weight:.1})</text>"#,
        x + 4.0
    );
    for w in (h.low..=h.low + h.counts.len() as i32).step_by(10) {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{w}</text>"#,
            20.0 + f64::from(w - h.low) * bar,
            height + 16.0
        );
    }
    svg.push_str("</svg>");
    svg
}

fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut html = String::from("<table><thead><tr>");
    for h in headers {
        let _ = write!(html, "<th>{}</th>", esc(h));
    }
    html.push_str("</tr></thead><tbody>");
    for row in rows {
        html.push_str("<tr>");
        for cell in row {
            let _ = write!(html, "<td>{}</td>", esc(cell));
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table>");
    html
}

/// The report of a finished campaign.
pub fn campaign_report(
    run: &DedupeRun,
    counts: &BTreeMap<&'static str, u64>,
    timings: &[(String, f64)],
    title: &str,
) -> Result<String> {
    let records = &run.check.records;
    let problems = &run.check.problems;
    let mut by_code: BTreeMap<Code, u64> = BTreeMap::new();
    for p in problems {
        *by_code.entry(p.code).or_default() += 1;
    }
    let mut code_rows: Vec<(Code, u64)> = by_code.into_iter().collect();
    code_rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));

    let (city, county, school) =
        (Text::of(records, "locality_city")?, Text::of(records, "locality_county")?, Text::of(records, "school_name")?);
    let mut by_place: HashMap<(String, String), u64> = HashMap::new();
    let mut by_school: HashMap<String, u64> = HashMap::new();
    for p in problems.iter().filter(|p| p.code.kind().severity == Severity::Error) {
        let place =
            (city.get(p.record).unwrap_or("未知").to_owned(), county.get(p.record).unwrap_or("未知").to_owned());
        *by_place.entry(place).or_default() += 1;
        *by_school.entry(school.get(p.record).unwrap_or("未知").to_owned()).or_default() += 1;
    }
    let mut places: Vec<((String, String), u64)> = by_place.into_iter().collect();
    places.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut schools: Vec<(String, u64)> = by_school.into_iter().collect();
    schools.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let summary = run.summary();

    let mut html = String::with_capacity(64 * 1024);
    let _ = write!(
        html,
        r#"<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title><style>
body{{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;color:#222;max-width:1100px}}
h1{{font-size:1.6em}} h2{{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}}
table{{border-collapse:collapse;margin:.5em 0}} td,th{{border:1px solid #ddd;padding:3px 8px;text-align:left}}
td:last-child{{text-align:right}} .totals td:first-child{{font-weight:bold}}
.chart rect{{fill:#4a78b5}} .chart text{{font-size:12px}} .chart .threshold{{stroke:#c0392b;stroke-width:2}}
</style></head><body><h1>{title}</h1>"#,
        title = esc(title)
    );
    html.push_str("<h2>总览 Totals</h2>");
    let totals: Vec<Vec<String>> = counts.iter().map(|(k, v)| vec![(*k).to_owned(), v.to_string()]).collect();
    html.push_str(&table(&["", ""], &totals).replace("<table>", r#"<table class="totals" id="totals">"#));

    html.push_str("<h2>问题学籍 Problems by code</h2>");
    let code_items: Vec<(String, u64)> =
        code_rows.iter().map(|(c, n)| (format!("{} {}", c.as_str(), c.kind().zh), *n)).collect();
    html.push_str(&bar_chart(&code_items));
    html.push_str(&table(
        &["code", "severity", "问题", "count"],
        &code_rows
            .iter()
            .map(|(c, n)| {
                vec![
                    c.as_str().to_owned(),
                    c.kind().severity.as_str().to_owned(),
                    c.kind().zh.to_owned(),
                    n.to_string(),
                ]
            })
            .collect::<Vec<_>>(),
    ));
    html.push_str("<h2>错误按地区 Errors by city and county</h2>");
    html.push_str(&table(
        &["city", "county", "errors"],
        &places.iter().take(30).map(|((c, k), n)| vec![c.clone(), k.clone(), n.to_string()]).collect::<Vec<_>>(),
    ));
    html.push_str("<h2>问题最多的学校 Schools with the most errors</h2>");
    html.push_str(&bar_chart(&schools.iter().take(15).cloned().collect::<Vec<_>>()));

    html.push_str("<h2>一人多籍 Duplicate clusters by size</h2>");
    html.push_str(&bar_chart(
        &summary.clusters_by_size.iter().map(|(s, n)| (format!("{s} registrations"), *n as u64)).collect::<Vec<_>>(),
    ));
    html.push_str("<h2>Matches by probability</h2>");
    html.push_str(&table(
        &["probability", "pairs"],
        &summary.matches_by_probability.iter().map(|(b, n)| vec![b.clone(), n.to_string()]).collect::<Vec<_>>(),
    ));
    html.push_str("<h2>Match weights of all candidate pairs (log scale)</h2>");
    html.push_str(&histogram(run));
    html.push_str("<h2>Blocking</h2>");
    html.push_str(&table(
        &["rule", "pairs", "new pairs", "blocks", "skipped blocks", "skipped records"],
        &summary
            .blocking
            .iter()
            .map(|s| {
                vec![
                    s.rule.clone(),
                    s.pairs.to_string(),
                    s.new_pairs.to_string(),
                    s.blocks.to_string(),
                    s.skipped_blocks.to_string(),
                    s.skipped_records.to_string(),
                ]
            })
            .collect::<Vec<_>>(),
    ));
    html.push_str("<h2>Timings</h2>");
    html.push_str(&table(
        &["stage", "seconds"],
        &timings.iter().map(|(s, t)| vec![s.clone(), format!("{t:.2}")]).collect::<Vec<_>>(),
    ));
    html.push_str("<p>Generated by xueji ");
    html.push_str(env!("CARGO_PKG_VERSION"));
    html.push_str(".</p></body></html>\n");
    Ok(html)
}

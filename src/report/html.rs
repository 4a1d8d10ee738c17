//! `report.html`: the campaign at a glance in one self-contained file — no script, no network,
//! charts as inline SVG — so it opens anywhere, also on an offline office computer.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use super::review::FIELD_LABELS;
use crate::columns::Text;
use crate::error::Result;
use crate::outcome::DedupeRun;
use crate::problems::{Code, Severity};

/// A bilingual label ("总览 Totals") as the language asks: whole in Chinese, its English part
/// (after the first space) in English.
fn bi(text: &str) -> &str {
    match text.split_once(' ') {
        Some((chinese, english)) if crate::lang::english() && !chinese.is_ascii() => english,
        _ => text,
    }
}

pub(crate) fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// How wide a label draws at the charts' 12px: a Chinese character about 12px, others about 7.
fn text_width(text: &str) -> f64 {
    text.chars().map(|c| if c.is_ascii() { 7.0 } else { 12.5 }).sum()
}

/// A horizontal bar chart of labelled counts, its label column as wide as the longest label
/// (nothing is cut at the edge), with a scale of counts below the bars.
fn bar_chart(items: &[(String, u64)]) -> String {
    let max = items.iter().map(|i| i.1).max().unwrap_or(1).max(1) as f64;
    let label = items.iter().map(|i| text_width(&i.0)).fold(60.0, f64::max) + 12.0;
    let (row, width) = (22.0, 420.0);
    let height = row * items.len() as f64;
    let mut svg =
        format!(r#"<svg class="chart" width="{:.0}" height="{:.0}" role="img">"#, label + width + 90.0, height + 26.0);
    for (k, (name, count)) in items.iter().enumerate() {
        let y = k as f64 * row;
        let w = (*count as f64 / max * width).max(1.0);
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="end">{}</text><rect x="{label:.1}" y="{}" width="{w:.1}" height="{}"/><text x="{:.1}" y="{}">{count}</text>"#,
            label - 6.0,
            y + 15.0,
            esc(name),
            y + 3.0,
            row - 6.0,
            label + w + 6.0,
            y + 15.0
        );
    }
    // The scale: 0, half and the largest count.
    let _ = write!(
        svg,
        r#"<line class="axis" x1="{label:.1}" x2="{:.1}" y1="{height:.1}" y2="{height:.1}"/>"#,
        label + width
    );
    for share in [0.0, 0.5, 1.0] {
        let x = label + share * width;
        let _ = write!(
            svg,
            r#"<line class="axis" x1="{x:.1}" x2="{x:.1}" y1="{height:.1}" y2="{:.1}"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            height + 4.0,
            height + 17.0,
            (share * max).round()
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The match-weight histogram of the candidate pairs, with the threshold drawn in.
fn histogram(run: &DedupeRun) -> String {
    let h = &run.histogram;
    let max = h.counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    // A margin on the left for the counts' axis.
    let (bar, height, left) = (8.0, 160.0, 64.0);
    let mut svg = format!(
        r#"<svg class="chart" width="{}" height="{}" role="img">"#,
        left + bar * h.counts.len() as f64 + 20.0,
        height + 44.0
    );
    for (k, &count) in h.counts.iter().enumerate() {
        // Log scale: a few matches beside millions of non-matches stay visible.
        let hgt = if count == 0 { 0.0 } else { ((count as f64).ln_1p() / max.ln_1p() * height).max(1.0) };
        let _ = write!(
            svg,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{hgt:.1}"><title>weight {}: {count} pairs</title></rect>"#,
            left + k as f64 * bar,
            height - hgt,
            bar - 1.0,
            h.low + k as i32
        );
    }
    let t = run.settings.threshold.clamp(1e-9, 1.0 - 1e-9);
    let lambda = run.model.lambda;
    let threshold_weight = (t / (1.0 - t)).log2() - (lambda / (1.0 - lambda)).log2();
    let x = left + (threshold_weight - f64::from(h.low)) * bar;
    let _ = write!(
        svg,
        r#"<line class="threshold" x1="{x:.1}" x2="{x:.1}" y1="0" y2="{height}"/><text x="{:.1}" y="12">{} {t} ({} {threshold_weight:.1})</text>"#,
        x + 4.0,
        bi("阈值 threshold"),
        bi("权重 weight")
    );
    let _ = write!(
        svg,
        r#"<text x="{left}" y="{:.1}">{} →</text><text x="2" y="{:.1}" transform="rotate(-90 10 {:.1})">{}</text>"#,
        height + 34.0,
        bi("匹配权重 match weight (bits)"),
        height,
        height,
        bi("对数 pairs, log scale")
    );
    // Counts on the log axis: 1, 10, 100, … up to the largest bin.
    let mut tick = 1.0_f64;
    while tick <= max {
        let y = height - tick.ln_1p() / max.ln_1p() * height;
        let _ = write!(
            svg,
            r#"<line class="axis" x1="{:.1}" x2="{left}" y1="{y:.1}" y2="{y:.1}"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            left - 4.0,
            left - 6.0,
            y + 4.0,
            tick
        );
        tick *= 10.0;
    }
    for w in (h.low..=h.low + h.counts.len() as i32).step_by(10) {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{w}</text>"#,
            left + f64::from(w - h.low) * bar,
            height + 16.0
        );
    }
    svg.push_str("</svg>");
    svg
}

fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut html = String::from("<table><thead><tr>");
    for h in headers {
        let _ = write!(html, "<th>{}</th>", esc(bi(h)));
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

/// The campaign's counts in the order it goes: records, problems, duplicates, police, photos.
pub const COUNTS: [&str; 17] = [
    "records",
    "blank_rows_skipped",
    "problems",
    "records_with_errors",
    "records_with_warnings",
    "schools_without_place",
    "candidate_pairs",
    "duplicate_pairs",
    "people_registered_more_than_once",
    "duplicate_registrations",
    "id_conflict_pairs",
    "records_sent_to_police",
    "photos",
    "photos_passed",
    "photos_to_fix",
    "photos_to_retake",
    "students_without_photo",
];

/// What a count in the totals means, Chinese first.
pub fn count_label(key: &str) -> &'static str {
    match key {
        "records" => "学籍记录 records",
        "blank_rows_skipped" => "跳过的空行 blank rows skipped",
        "schools_without_place" => "无法确定地区的学校 schools without a place",
        "problems" => "问题 problems",
        "records_with_errors" => "有错误的学籍 records with errors",
        "records_with_warnings" => "有警告的学籍 records with warnings",
        "candidate_pairs" => "候选记录对 candidate pairs",
        "duplicate_pairs" => "重复记录对 duplicate pairs",
        "id_conflict_pairs" => "证件号冲突对 ID conflict pairs",
        "people_registered_more_than_once" => "一人多籍人数 people registered more than once",
        "duplicate_registrations" => "待处理重复学籍 registrations to resolve",
        "records_sent_to_police" => "送公安核查 records sent to police",
        "photos" => "学生照片 photos",
        "photos_passed" => "合格照片 photos that pass",
        "photos_to_fix" => "可自动修正照片 photos xueji can correct",
        "photos_to_retake" => "需重拍照片 photos to retake",
        "students_without_photo" => "无照片学生 students without a photo",
        _ => "",
    }
}

/// Why two records were matched, as Splink draws it: the prior, then each field's weight added
/// in turn (green for, red against), ending at the pair's match weight and probability.
fn waterfall(run: &DedupeRun, pair: &crate::outcome::ScoredPair, names: &Text, ids: &Text) -> String {
    let lambda = run.model.lambda;
    let prior = (lambda / (1.0 - lambda)).log2();
    let mut steps: Vec<(String, f64)> = vec![(bi("先验 prior").into(), prior)];
    let levels = pair.levels.indices();
    for (f, weight) in pair.score.field_weights.iter().enumerate() {
        let level = crate::lang::pick(
            crate::compare::LEVELS_ZH[f][levels[f] as usize],
            crate::compare::LEVELS[f][levels[f] as usize],
        );
        let field = crate::lang::pick(FIELD_LABELS[f], crate::compare::FIELDS[f]);
        steps.push((format!("{field} {level}"), *weight));
    }
    let mut at = 0.0;
    let spans: Vec<(f64, f64)> = steps
        .iter()
        .map(|(_, w)| {
            let from = at;
            at += w;
            (from, at)
        })
        .collect();
    let lo = spans.iter().map(|s| s.0.min(s.1)).fold(0.0, f64::min);
    let hi = spans.iter().map(|s| s.0.max(s.1)).fold(0.0, f64::max);
    let (label, width, row) = (170.0, 460.0, 20.0);
    let x = |w: f64| label + (w - lo) / (hi - lo).max(1.0) * width;
    let rows = steps.len() + 1;
    let mut svg = format!(
        r#"<svg class="chart waterfall" width="{:.0}" height="{:.0}" role="img">"#,
        label + width + 190.0,
        row * rows as f64 + 8.0
    );
    for (k, ((name, w), (from, to))) in steps.iter().zip(&spans).enumerate() {
        let y = k as f64 * row;
        let class = if *w >= 0.0 { "for" } else { "against" };
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text><rect class="{class}" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}"/><text x="{:.1}" y="{:.1}">{w:+.1}</text>"#,
            label - 6.0,
            y + 14.0,
            esc(name),
            x(from.min(*to)),
            y + 3.0,
            (x(from.max(*to)) - x(from.min(*to))).max(1.0),
            row - 6.0,
            x(from.max(*to)) + 4.0,
            y + 14.0
        );
    }
    let y = steps.len() as f64 * row;
    let _ = write!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text><rect class="total" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}"/><text x="{:.1}" y="{:.1}">{:.1} bits, p = {:.4}</text>"#,
        label - 6.0,
        y + 14.0,
        bi("合计 total"),
        x(0.0_f64.min(at)),
        y + 3.0,
        (x(0.0_f64.max(at)) - x(0.0_f64.min(at))).max(1.0),
        row - 6.0,
        x(0.0_f64.max(at)) + 4.0,
        y + 14.0,
        pair.score.weight,
        pair.score.probability
    );
    svg.push_str("</svg>");
    let who = |i: u32| format!("{} ({})", names.get(i as usize).unwrap_or("—"), ids.get(i as usize).unwrap_or("—"));
    format!("<p>{} ↔ {}</p>{svg}", esc(&who(pair.a)), esc(&who(pair.b)))
}

/// What report.html shows of the campaign's photo audit.
pub struct PhotoFigures<'a> {
    pub photos: usize,
    pub per_second: f64,
    /// Photos by problem code.
    pub by_code: &'a BTreeMap<&'static str, usize>,
}

/// The report of a finished campaign.
pub fn campaign_report(
    run: &DedupeRun,
    counts: &BTreeMap<&'static str, u64>,
    police: &[crate::report::police::ExportedFile],
    photos: Option<&PhotoFigures>,
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
        (Text::of(records, "place_city")?, Text::of(records, "place_county")?, Text::optional(records, "school_name")?);
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
        r#"<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title><style>
body{{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;color:#222;max-width:1100px}}
h1{{font-size:1.6em}} h2{{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}}
table{{border-collapse:collapse;margin:.5em 0}} td,th{{border:1px solid #ddd;padding:3px 8px;text-align:left}}
td:last-child{{text-align:right}} .totals td:first-child{{font-weight:bold}}
.chart rect{{fill:#4a78b5}} .chart text{{font-size:12px}} .chart .threshold{{stroke:#c0392b;stroke-width:2}}
.chart .axis{{stroke:#888}} .waterfall rect.for{{fill:#2e8b57}} .waterfall rect.against{{fill:#c0392b}} .waterfall rect.total{{fill:#555}}
</style></head><body><h1>{title}</h1>"#,
        title = esc(title),
        lang = crate::lang::pick("zh-CN", "en")
    );
    let _ = write!(html, "<h2>{}</h2>", bi("总览 Totals"));
    let totals: Vec<Vec<String>> = {
        let mut ordered: Vec<(&&str, &u64)> = counts.iter().collect();
        ordered.sort_by_key(|(k, _)| COUNTS.iter().position(|c| c == *k));
        ordered.into_iter().map(|(k, v)| vec![bi(count_label(k)).to_owned(), (*k).to_owned(), v.to_string()]).collect()
    };
    html.push_str(
        &table(&["项目 item", "代码 code", "数量 count"], &totals)
            .replace("<table>", r#"<table class="totals" id="totals">"#),
    );

    let preflight = &run.check.preflight;
    let not_read: Vec<Vec<String>> = preflight
        .sheets_not_read
        .iter()
        .map(|s| {
            let hidden = if s.hidden { "（隐藏 hidden）" } else { "" };
            vec![s.path.display().to_string(), format!("{}{hidden}", s.sheet), s.rows.to_string(), s.reason.clone()]
        })
        .chain(preflight.skipped.iter().map(|p| {
            vec![p.display().to_string(), String::new(), String::new(), "不是表格文件 not a sheet".to_owned()]
        }))
        .chain(preflight.identical.iter().map(|(file, first)| {
            let why = format!("与{}内容相同 same bytes as {}", first.display(), first.display());
            vec![file.display().to_string(), String::new(), String::new(), why]
        }))
        .collect();
    if !not_read.is_empty() {
        let _ = write!(html, "<h2>{}</h2>", bi("未读取的文件和工作表 Files and sheets not read"));
        html.push_str(
            &table(&["文件 file", "工作表 sheet", "行数 rows", "原因 reason"], &not_read)
                .replace("<table>", r#"<table id="not-read">"#),
        );
    }

    let _ = write!(html, "<h2>{}</h2>", bi("问题学籍 Problems by code"));
    let code_items: Vec<(String, u64)> = code_rows.iter().map(|(c, n)| (c.kind().label().to_owned(), *n)).collect();
    html.push_str(&bar_chart(&code_items));
    html.push_str(&table(
        &["代码 code", "严重程度 severity", "问题 problem", "数量 count"],
        &code_rows
            .iter()
            .map(|(c, n)| {
                vec![
                    c.as_str().to_owned(),
                    c.kind().severity.as_str().to_owned(),
                    c.kind().label().to_owned(),
                    n.to_string(),
                ]
            })
            .collect::<Vec<_>>(),
    ));
    let _ = write!(html, "<h2>{}</h2>", bi("错误按地区 Errors by city and county"));
    html.push_str(&table(
        &["地市 city", "区县 county", "错误 errors"],
        &places.iter().take(30).map(|((c, k), n)| vec![c.clone(), k.clone(), n.to_string()]).collect::<Vec<_>>(),
    ));
    let _ = write!(html, "<h2>{}</h2>", bi("问题最多的学校 Schools with the most errors"));
    html.push_str(&bar_chart(&schools.iter().take(15).cloned().collect::<Vec<_>>()));

    if let Some(photos) = photos {
        let _ = write!(html, "<h2>{}</h2>", bi("学生照片 Photos by problem"));
        let mut rows: Vec<(&str, usize)> = photos.by_code.iter().map(|(c, n)| (*c, *n)).collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let label = |code: &str| Code::parse(code).map_or(code.to_owned(), |c| c.kind().label().to_owned());
        html.push_str(&bar_chart(&rows.iter().map(|(c, n)| (label(c), *n as u64)).collect::<Vec<_>>()));
        html.push_str(&table(
            &["代码 code", "严重程度 severity", "问题 problem", "数量 count"],
            &rows
                .iter()
                .filter_map(|(c, n)| {
                    let kind = Code::parse(c)?.kind();
                    Some(vec![
                        (*c).to_owned(),
                        kind.severity.as_str().to_owned(),
                        kind.label().to_owned(),
                        n.to_string(),
                    ])
                })
                .collect::<Vec<_>>(),
        ));
        let _ = write!(
            html,
            "<p>{}</p>",
            esc(&crate::say!(
                "{}张照片，{:.0}张/秒；各校待拍照名单在 photo_retakes/，逐张问题见 photo_problems.csv。",
                "{} photos, {:.0} a second; each school's list of students to photograph is under photo_retakes/, every problem in photo_problems.csv.",
                photos.photos,
                photos.per_second
            ))
        );
    }

    let _ = write!(html, "<h2>{}</h2>", bi("一人多籍 Duplicate clusters by size"));
    html.push_str(&bar_chart(
        &summary
            .clusters_by_size
            .iter()
            .map(|(s, n)| (crate::say!("{s} 处学籍 registrations", "{s} registrations"), *n as u64))
            .collect::<Vec<_>>(),
    ));

    let _ = write!(html, "<h2>{}</h2>", bi("为什么匹配 Why records matched: example clusters"));
    let _ = write!(
        html,
        "<p>{}</p>",
        bi("每个字段的匹配权重（比特）依次相加 Each field's match weight, in bits, added to the prior.")
    );
    let (names, record_ids) = (Text::of(records, "name")?, Text::of(records, "record_id")?);
    let mut matches: Vec<&crate::outcome::ScoredPair> =
        run.pairs.iter().filter(|p| p.kind == crate::outcome::PairKind::Match).collect();
    // Those nearest the threshold first, where a reader wants to see why; one per person.
    let threshold = run.settings.threshold;
    matches.sort_by(|a, b| {
        let gap = |p: &crate::outcome::ScoredPair| (p.score.probability - threshold).abs();
        gap(a).total_cmp(&gap(b)).then((a.a, a.b).cmp(&(b.a, b.b)))
    });
    let cluster_of = run.clustering.index();
    let mut shown = std::collections::HashSet::new();
    let examples =
        matches.into_iter().filter(|p| shown.insert(cluster_of.get(&p.a).copied().unwrap_or(usize::MAX))).take(3);
    for pair in examples {
        html.push_str(&waterfall(run, pair, &names, &record_ids));
    }

    let _ = write!(html, "<h2>{}</h2>", bi("送公安核查 Police lists by city"));
    let lists: Vec<Vec<String>> = police
        .iter()
        .filter(|f| f.path.extension().is_some_and(|e| e == "csv"))
        .map(|f| {
            let name = f.path.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            vec![name, f.batch.clone(), f.rows.to_string()]
        })
        .collect();
    html.push_str(&table(&["名单 list", "批次号 batch", "记录 records"], &lists));

    let _ = write!(html, "<h2>{}</h2>", bi("匹配概率 Matches by probability"));
    html.push_str(&table(
        &["概率 probability", "记录对 pairs"],
        &summary.matches_by_probability.iter().map(|(b, n)| vec![b.clone(), n.to_string()]).collect::<Vec<_>>(),
    ));
    if let Some(review) = &run.review {
        let _ = write!(html, "<h2>{}</h2>", bi("复核标签 Review labels"));
        for line in review.lines() {
            let _ = write!(html, "<p>{}</p>", esc(&line));
        }
        let bands: Vec<Vec<String>> = review
            .bands
            .iter()
            .map(|b| {
                vec![
                    format!("{:.1}–{:.1}", b.low, b.high),
                    b.reviewed().to_string(),
                    b.same.to_string(),
                    b.different.to_string(),
                    format!("{:.2}", b.precision),
                    format!("{:.2}–{:.2}", b.interval.0, b.interval.1),
                ]
            })
            .collect();
        html.push_str(&table(
            &[
                "概率段 probability band",
                "复核对数 reviewed",
                "同一人 one person",
                "不同人 two people",
                "精确率 precision",
                "95%区间 95 % interval",
            ],
            &bands,
        ));
    }
    let _ = write!(html, "<h2>{}</h2>", bi("候选对匹配权重 Match weights of all candidate pairs (log scale)"));
    html.push_str(&histogram(run));
    let _ = write!(html, "<h2>{}</h2>", bi("分块 Blocking"));
    html.push_str(&table(
        &[
            "规则 rule",
            "记录对 pairs",
            "新增 new pairs",
            "块 blocks",
            "跳过的块 skipped blocks",
            "跳过的记录 skipped records",
        ],
        &summary
            .blocking
            .iter()
            .map(|s| {
                let rule = run.settings.blocking.rules.iter().find(|r| r.name == s.rule);
                vec![
                    match rule {
                        Some(rule) if !crate::lang::english() => format!("{}（{}）", rule.label_zh(), s.rule),
                        _ => s.rule.clone(),
                    },
                    s.pairs.to_string(),
                    s.new_pairs.to_string(),
                    s.blocks.to_string(),
                    s.skipped_blocks.to_string(),
                    s.skipped_records.to_string(),
                ]
            })
            .collect::<Vec<_>>(),
    ));
    let _ = write!(html, "<h2>{}</h2>", bi("耗时 Timings"));
    html.push_str(&table(
        &["阶段 stage", "秒 seconds"],
        &timings
            .iter()
            .map(|(s, t)| vec![crate::progress::stage_name(s).to_owned(), format!("{t:.2}")])
            .collect::<Vec<_>>(),
    ));
    html.push_str("<p>Generated by xueji ");
    html.push_str(env!("CARGO_PKG_VERSION"));
    html.push_str(".</p></body></html>\n");
    Ok(html)
}

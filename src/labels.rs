//! Review labels: an analyst's judgement on a pair of records — 同一人 (one person), 不同人 (two
//! people) or 不确定 (unsure) — read from any table with 记录号1, 记录号2 and 判定 columns: the
//! review page's export, a county's 复核清单, or duplicate_pairs.csv with a 判定 column added.
//!
//! A labelled pair is decided by its label, never by the model: 同一人 is a match (scored 1 for
//! clustering), 不同人 is no match and a cannot-link constraint the clustering respects, 不确定
//! leaves the model to decide. Labels on pairs the model also scored estimate its precision per
//! probability band ([`Review::bands`]).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use serde::Serialize;

use crate::columns::Text;
use crate::error::{Error, Result};
use crate::ingest::{self, IngestOptions};
use crate::problems::Code;
use crate::schema::HeaderMap;

/// What an analyst said of a pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Judgement {
    /// 同一人
    Same,
    /// 不同人
    Different,
    /// 不确定
    Unsure,
}

impl Judgement {
    /// The three words of the review page and the 复核清单's dropdown, and what people type
    /// instead (是/否, English words); `None` for anything else.
    pub fn parse(cell: &str) -> Option<Judgement> {
        let word: String = cell.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_lowercase();
        match word.as_str() {
            "同一人" | "是同一人" | "同一个人" | "是" | "same" | "match" => Some(Judgement::Same),
            "不同人" | "不是同一人" | "非同一人" | "两个人" | "否" | "different" | "nonmatch" | "non-match" => {
                Some(Judgement::Different)
            }
            "不确定" | "待定" | "无法判断" | "unsure" | "unknown" => Some(Judgement::Unsure),
            _ => None,
        }
    }

    /// As the page and the 复核清单 word it.
    pub fn word(self) -> &'static str {
        match self {
            Judgement::Same => "同一人",
            Judgement::Different => "不同人",
            Judgement::Unsure => "不确定",
        }
    }
}

/// One labelled pair, as read.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Label {
    pub left: String,
    pub right: String,
    pub judgement: Judgement,
    pub note: String,
    pub file: String,
    /// The row in its file (1-based, the header's rows counted).
    pub row: u32,
}

/// Reads labels from tables `ingest` reads. A row whose 判定 is blank is no label; one whose
/// 判定 is another word, or that lacks a record id, is an error naming its file, row and column,
/// as are rows folded together by a quote never closed.
pub fn read(files: &[PathBuf]) -> Result<Vec<Label>> {
    let headers = HeaderMap::new(&[]).map_err(Error::Usage)?.requiring(&["record_id_l", "record_id_r", "judgement"]);
    let options = IngestOptions { headers, ..IngestOptions::default() };
    let mut labels = Vec::new();
    for path in files {
        let table = ingest::read_file(path, &options)?;
        let df = &table.df;
        let (left, right, judgement, note) = (
            Text::of(df, "record_id_l")?,
            Text::of(df, "record_id_r")?,
            Text::of(df, "judgement")?,
            Text::optional(df, "review_note")?,
        );
        let rows = df.column("source_row")?.u32()?;
        // A quote never closed folds the rows after it into one cell: their labels would be lost.
        if let Some(joined) = table.problems.iter().find(|p| p.code == Code::RowsJoined) {
            let row = rows.get(joined.record).unwrap_or(0);
            return Err(Error::input(path, crate::say!("第{row}行：{}", "row {row}: {}", joined.message)));
        }
        for i in 0..df.height() {
            let row = rows.get(i).unwrap_or(0);
            let cell = judgement.get(i).map(str::trim).unwrap_or("");
            if cell.is_empty() {
                continue;
            }
            let at = |column: &str, what: String| {
                Error::input(path, crate::say!("第{row}行，{column}列：{what}", "row {row}, column {column}: {what}"))
            };
            let Some(judgement) = Judgement::parse(cell) else {
                return Err(at(
                    "判定",
                    crate::lang::both(
                        &format!("“{cell}”不是同一人、不同人或不确定"),
                        &format!("“{cell}” is none of 同一人, 不同人, 不确定"),
                    ),
                ));
            };
            let id = |column: Text, header: &str| -> Result<String> {
                match column.get(i).map(|v| crate::files::uninert(v.trim())) {
                    Some(v) if !v.is_empty() => Ok(v.to_owned()),
                    _ => Err(at(header, crate::lang::both("没有记录号", "no record id"))),
                }
            };
            labels.push(Label {
                left: id(left, "记录号1")?,
                right: id(right, "记录号2")?,
                judgement,
                note: note.get(i).unwrap_or("").trim().to_owned(),
                file: path.display().to_string(),
                row,
            });
        }
    }
    Ok(labels)
}

/// Labels resolved against the records of a run: the pairs they decide, and those whose records
/// are not among them.
#[derive(Debug, Default)]
pub struct Review {
    /// By record pair (smaller index first); a later label of a pair replaces an earlier one.
    pub decided: HashMap<(u32, u32), Judgement>,
    /// Labels naming a record id the run does not have.
    pub unmatched: Vec<Label>,
    /// Rows read with a judgement.
    pub read: usize,
    /// Labels of a pair that a later label of the same pair replaced.
    pub replaced: usize,
}

impl Review {
    /// `labels` on the records whose ids are `ids` (by record index).
    pub fn resolve(labels: &[Label], ids: &Text, records: usize) -> Review {
        // Only the ids the labels name are looked for: a map of every record id was 10M strings
        // at 10M records, built even with no label at all.
        let named: HashSet<&str> = labels.iter().flat_map(|l| [l.left.as_str(), l.right.as_str()]).collect();
        let mut index: HashMap<&str, u32> = HashMap::with_capacity(named.len());
        if !named.is_empty() {
            for i in 0..records {
                if let Some(id) = ids.get(i).filter(|id| named.contains(id)) {
                    index.entry(id).or_insert(i as u32);
                }
            }
        }
        let mut review = Review { read: labels.len(), ..Review::default() };
        for label in labels {
            match (index.get(label.left.as_str()), index.get(label.right.as_str())) {
                (Some(&a), Some(&b)) if a != b => {
                    if review.decided.insert((a.min(b), a.max(b)), label.judgement).is_some() {
                        review.replaced += 1;
                    }
                }
                _ => review.unmatched.push(label.clone()),
            }
        }
        review
    }

    pub fn judgement(&self, a: u32, b: u32) -> Option<Judgement> {
        self.decided.get(&(a.min(b), a.max(b))).copied()
    }

    /// Records the 同一人 labels tie together, directly or through others (A = B and B = C make
    /// A = C): each record's group, by the smallest record of it.
    pub fn same_groups(&self) -> HashMap<u32, u32> {
        let same: Vec<(u32, u32)> =
            self.decided.iter().filter(|&(_, &j)| j == Judgement::Same).map(|(&pair, _)| pair).collect();
        let records = same.iter().map(|&(_, b)| b as usize + 1).max().unwrap_or(0);
        let mut groups = crate::cluster::Components::new(records);
        for &(a, b) in &same {
            groups.union(a, b);
        }
        same.iter().flat_map(|&(a, b)| [a, b]).map(|r| (r, groups.find(r))).collect()
    }

    /// Precision estimates per probability band of tenths: of the pairs labelled 同一人 or
    /// 不同人, how many the labels say are one person, `probability` giving the model's
    /// probability of a pair.
    pub fn bands(&self, probability: impl Fn(u32, u32) -> f64) -> Vec<Band> {
        let mut bands: Vec<Band> = (0..10).map(Band::new).collect();
        for (&(a, b), &judgement) in &self.decided {
            let k = ((probability(a, b) * 10.0).floor() as usize).min(9);
            match judgement {
                Judgement::Same => bands[k].same += 1,
                Judgement::Different => bands[k].different += 1,
                Judgement::Unsure => {}
            }
        }
        bands.retain(|band| band.reviewed() > 0);
        bands.iter_mut().for_each(Band::estimate);
        bands
    }
}

/// What the labels did in a run, for dedupe_summary.json, the terminal and report.html.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ReviewSummary {
    /// Rows read with a judgement.
    pub labels: usize,
    /// Labelled pairs of the run's records, by judgement (a pair labelled twice counted once, by
    /// its last label).
    pub same: usize,
    pub different: usize,
    pub unsure: usize,
    /// Labels of a pair a later label replaced.
    pub replaced: usize,
    /// Labelled pairs decided otherwise than the model would have.
    pub overruled: usize,
    /// Labels naming a record the run does not have: listed, not applied.
    pub unmatched: Vec<Label>,
    /// Precision estimates per probability band.
    pub bands: Vec<Band>,
    pub suggested_threshold: Option<f64>,
}

impl ReviewSummary {
    /// The summary of `review`, `probability` the model's probability of a pair and
    /// `overruled` how many labels decided otherwise than the model.
    pub fn new(review: &Review, probability: impl Fn(u32, u32) -> f64, overruled: usize) -> ReviewSummary {
        let count = |j: Judgement| review.decided.values().filter(|&&v| v == j).count();
        let bands = review.bands(probability);
        ReviewSummary {
            labels: review.read,
            same: count(Judgement::Same),
            different: count(Judgement::Different),
            unsure: count(Judgement::Unsure),
            replaced: review.replaced,
            overruled,
            unmatched: review.unmatched.clone(),
            suggested_threshold: suggested_threshold(&bands),
            bands,
        }
    }

    /// The lines the terminal prints.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![crate::say!(
            "复核标签{}条：同一人{}对，不同人{}对，不确定{}对；{}对的判定与模型不同，按标签",
            "{} review labels: {} pairs one person, {} two people, {} unsure; {} decided by their label against the model",
            self.labels,
            self.same,
            self.different,
            self.unsure,
            self.overruled
        )];
        if !self.unmatched.is_empty() {
            let first = &self.unmatched[0];
            lines.push(crate::say!(
                "{}条标签的记录已不在输入中，未使用（如{}第{}行：{} / {}），见dedupe_summary.json",
                "{} labels name records no longer in the input and were not applied (e.g. {} row {}: {} / {}); see dedupe_summary.json",
                self.unmatched.len(),
                first.file,
                first.row,
                first.left,
                first.right
            ));
        }
        lines.extend(self.bands.iter().map(Band::describe));
        if let Some(threshold) = self.suggested_threshold {
            lines.push(crate::say!(
                "按复核标签建议阈值：{threshold:.1}（该段及以上同一人多于不同人）",
                "threshold the labels suggest: {threshold:.1} (from there up, more pairs are one person than two)"
            ));
        }
        lines
    }
}

/// What the labels in one probability band say.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Band {
    pub low: f64,
    pub high: f64,
    pub same: usize,
    pub different: usize,
    /// same / (same + different), and its 95 % Wilson interval.
    pub precision: f64,
    pub interval: (f64, f64),
}

impl Band {
    /// The band of tenth `k` (0.k to 0.k+1).
    fn new(k: usize) -> Band {
        let (low, high) = (k as f64 / 10.0, (k + 1) as f64 / 10.0);
        Band { low, high, same: 0, different: 0, precision: 0.0, interval: (0.0, 0.0) }
    }

    pub fn reviewed(&self) -> usize {
        self.same + self.different
    }

    fn estimate(&mut self) {
        let n = self.reviewed() as f64;
        let p = self.same as f64 / n;
        let z = 1.96f64;
        let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
        let half = z / (1.0 + z * z / n) * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
        self.precision = p;
        self.interval = ((centre - half).max(0.0), (centre + half).min(1.0));
    }

    /// "0.6–0.7：复核40对，31对为同一人".
    pub fn describe(&self) -> String {
        crate::say!(
            "{:.1}–{:.1}：复核{}对，{}对为同一人（精确率{:.2}，95%区间{:.2}–{:.2}）",
            "{:.1}–{:.1}: {} pairs reviewed, {} one person (precision {:.2}, 95 % interval {:.2}–{:.2})",
            self.low,
            self.high,
            self.reviewed(),
            self.same,
            self.precision,
            self.interval.0,
            self.interval.1
        )
    }
}

/// The threshold the labels suggest: the lowest band edge from which every reviewed band has
/// more pairs of one person than of two (the default 0.6 is chosen so on a generated
/// province); `None` when the top reviewed band has not.
pub fn suggested_threshold(bands: &[Band]) -> Option<f64> {
    let mut suggested = None;
    for band in bands.iter().rev() {
        if band.precision > 0.5 {
            suggested = Some(band.low);
        } else {
            break;
        }
    }
    suggested
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judgements_are_read_as_people_type_them() {
        for (cell, judgement) in [
            ("同一人", Judgement::Same),
            (" 同一人 ", Judgement::Same),
            ("是", Judgement::Same),
            ("Same", Judgement::Same),
            ("不同人", Judgement::Different),
            ("非同一人", Judgement::Different),
            ("否", Judgement::Different),
            ("不确定", Judgement::Unsure),
        ] {
            assert_eq!(Judgement::parse(cell), Some(judgement), "{cell}");
        }
        for cell in ["", "同", "1", "=同一人", "不同 人?"] {
            assert_eq!(Judgement::parse(cell), None, "{cell}");
        }
        for judgement in [Judgement::Same, Judgement::Different, Judgement::Unsure] {
            assert_eq!(Judgement::parse(judgement.word()), Some(judgement));
        }
    }

    #[test]
    fn a_quote_never_closed_stops_the_labels_naming_the_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("复核标签.csv");
        let text =
            "记录号1,记录号2,判定,复核备注\nA1,A2,同一人,\nB1,B2,不同人,\"双胞胎\nC1,C2,不同人,\nD1,D2,同一人,\n";
        std::fs::write(&path, text).unwrap();
        let error = read(&[path.clone()]).unwrap_err().to_string();
        assert!(error.contains("复核标签.csv") && error.contains("第3行"), "{error}");
        std::fs::write(&path, text.replace("\"双胞胎", "双胞胎")).unwrap();
        assert_eq!(read(&[path]).unwrap().len(), 4);
    }

    #[test]
    fn same_labels_tie_records_through_others() {
        let mut review = Review::default();
        review.decided.insert((1, 5), Judgement::Same);
        review.decided.insert((5, 9), Judgement::Same);
        review.decided.insert((2, 3), Judgement::Same);
        review.decided.insert((3, 7), Judgement::Different);
        let groups = review.same_groups();
        assert_eq!([groups[&1], groups[&5], groups[&9]], [1, 1, 1]);
        assert_eq!([groups[&2], groups[&3]], [2, 2]);
        assert!(!groups.contains_key(&7));
    }

    #[test]
    fn bands_estimate_precision_with_an_interval() {
        let mut review = Review::default();
        // 40 pairs at 0.65, 31 labelled one person; 10 at 0.95, all one person; 5 unsure.
        for k in 0..40u32 {
            review.decided.insert((k, 1000 + k), if k < 31 { Judgement::Same } else { Judgement::Different });
        }
        for k in 40..50u32 {
            review.decided.insert((k, 1000 + k), Judgement::Same);
        }
        for k in 50..55u32 {
            review.decided.insert((k, 1000 + k), Judgement::Unsure);
        }
        let bands = review.bands(|a, _| if a < 40 { 0.65 } else { 0.95 });
        assert_eq!(bands.len(), 2);
        let (middle, top) = (&bands[0], &bands[1]);
        assert_eq!((middle.low, middle.same, middle.different), (0.6, 31, 9));
        assert!((middle.precision - 0.775).abs() < 1e-9);
        assert!(middle.interval.0 < 0.775 && 0.775 < middle.interval.1 && middle.interval.0 > 0.6);
        assert_eq!((top.same, top.different, top.precision), (10, 0, 1.0));
        assert!(top.interval.1 <= 1.0 && top.interval.0 > 0.6);
        assert_eq!(suggested_threshold(&bands), Some(0.6));
        assert!(middle.describe().contains("40") && middle.describe().contains("31"));
    }

    #[test]
    fn the_threshold_suggested_stops_at_a_band_of_mostly_two_people() {
        let band = |k: usize, same: usize, different: usize| {
            let mut b = Band::new(k);
            (b.same, b.different) = (same, different);
            b.estimate();
            b
        };
        assert_eq!(suggested_threshold(&[band(5, 9, 1), band(6, 3, 7), band(9, 10, 0)]), Some(0.9));
        assert_eq!(suggested_threshold(&[band(9, 2, 8)]), None);
        assert_eq!(suggested_threshold(&[]), None);
    }
}

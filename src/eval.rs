//! Scores xueji's output against a generated population's truth: pairwise and B-cubed
//! precision/recall/F1, recall per kind of typing error, false positives per kind of hard
//! negative, blocking pair completeness and reduction ratio, and per-code problem precision and
//! recall. These are the numbers every matching change is judged by.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};

/// The truth about a generated population (`truth/` of `xueji generate`).
pub struct Truth {
    pub record_ids: Vec<String>,
    index: HashMap<String, u32>,
    person: Vec<u32>,
    role: Vec<String>,
    twin_of: Vec<Option<u32>>,
    perturbations: Vec<Vec<String>>,
    true_name: Vec<String>,
    /// Expected problem codes per record, exact-duplicate codes included.
    expected: Vec<Vec<String>>,
    /// Records of each person, for the true pairs.
    members: HashMap<u32, Vec<u32>>,
}

fn read_table(path: &Path) -> Result<DataFrame> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let df = match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => {
            CsvReadOptions::default().with_infer_schema_length(Some(0)).into_reader_with_file_handle(file).finish()
        }
        _ => ParquetReader::new(file).finish(),
    };
    df.map_err(|e| Error::input(path, format!("cannot read: {e}")))
}

fn strings(df: &DataFrame, path: &Path, name: &str) -> Result<Vec<Option<String>>> {
    let column = df.column(name).map_err(|_| Error::input(path, format!("no column {name:?}")))?;
    Ok(column.cast(&DataType::String)?.str()?.iter().map(|v| v.map(str::to_owned)).collect())
}

fn split(list: Option<String>) -> Vec<String> {
    list.map(|l| l.split(';').filter(|s| !s.is_empty()).map(str::to_owned).collect()).unwrap_or_default()
}

impl Truth {
    /// Reads `DIR/truth/` (or `DIR` itself when it holds `records.parquet`).
    pub fn load(dir: &Path) -> Result<Truth> {
        let dir: PathBuf = if dir.join("truth/records.parquet").is_file() { dir.join("truth") } else { dir.to_owned() };
        let path = dir.join("records.parquet");
        let df = read_table(&path)?;
        let record_ids: Vec<String> =
            strings(&df, &path, "record_id")?.into_iter().map(Option::unwrap_or_default).collect();
        let number = |v: Option<String>| v.and_then(|v| v.parse::<u32>().ok());
        let person: Vec<u32> =
            strings(&df, &path, "person_id")?.into_iter().map(|v| number(v).unwrap_or(u32::MAX)).collect();
        let twin_of = strings(&df, &path, "twin_of")?.into_iter().map(number).collect();
        let role = strings(&df, &path, "role")?.into_iter().map(Option::unwrap_or_default).collect();
        let perturbations = strings(&df, &path, "perturbations")?.into_iter().map(split).collect();
        let true_name = strings(&df, &path, "true_name")?.into_iter().map(Option::unwrap_or_default).collect();
        let mut expected: Vec<Vec<String>> = strings(&df, &path, "expected_problems")?.into_iter().map(split).collect();
        let exact_path = dir.join("exact_duplicates.parquet");
        let exact = read_table(&exact_path)?;
        let position: HashMap<&str, usize> = record_ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
        let exact_rows =
            strings(&exact, &exact_path, "record_id")?.into_iter().zip(strings(&exact, &exact_path, "code")?);
        for (id, code) in exact_rows {
            if let (Some(&i), Some(code)) = (id.as_deref().and_then(|id| position.get(id)), code) {
                expected[i].push(code);
            }
        }
        drop(position);
        Ok(Truth::new(record_ids, person, role, twin_of, perturbations, true_name, expected))
    }

    /// A truth from its columns (one entry per record).
    pub fn new(
        record_ids: Vec<String>,
        person: Vec<u32>,
        role: Vec<String>,
        twin_of: Vec<Option<u32>>,
        perturbations: Vec<Vec<String>>,
        true_name: Vec<String>,
        expected: Vec<Vec<String>>,
    ) -> Truth {
        let index = record_ids.iter().enumerate().map(|(i, id)| (id.clone(), i as u32)).collect();
        let mut members: HashMap<u32, Vec<u32>> = HashMap::new();
        for (i, &p) in person.iter().enumerate() {
            members.entry(p).or_default().push(i as u32);
        }
        Truth { record_ids, index, person, role, twin_of, perturbations, true_name, expected, members }
    }

    fn lookup(&self, id: &str, path: &Path) -> Result<u32> {
        self.index.get(id).copied().ok_or_else(|| Error::input(path, format!("record id {id:?} is not in the truth")))
    }

    fn true_pairs(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.members
            .values()
            .flat_map(|m| m.iter().enumerate().flat_map(move |(k, &a)| m[k + 1..].iter().map(move |&b| ordered(a, b))))
    }

    /// The kinds of error a true pair has to see through: the perturbations of its duplicate
    /// side(s).
    fn pair_kinds(&self, a: u32, b: u32) -> HashSet<&str> {
        [a, b].iter().flat_map(|&r| self.perturbations[r as usize].iter().map(String::as_str)).collect()
    }

    /// Why two records of different people looked alike.
    fn false_positive_kind(&self, a: u32, b: u32) -> &'static str {
        let (a, b) = (a as usize, b as usize);
        if self.twin_of[a] == Some(self.person[b]) {
            "twin"
        } else if self.role[a] == "misuse" || self.role[b] == "misuse" {
            "misuse"
        } else if self.true_name[a] == self.true_name[b] {
            "namesake"
        } else {
            "other"
        }
    }
}

fn ordered(a: u32, b: u32) -> (u32, u32) {
    if a < b {
        (a, b)
    } else {
        (b, a)
    }
}

#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq)]
pub struct Scores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl Scores {
    pub fn new(precision: f64, recall: f64) -> Scores {
        let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
        Scores { precision, recall, f1 }
    }

    fn from_counts(true_positives: usize, predicted: usize, actual: usize) -> Scores {
        let ratio = |n: usize, d: usize| if d == 0 { 1.0 } else { n as f64 / d as f64 };
        Scores::new(ratio(true_positives, predicted), ratio(true_positives, actual))
    }
}

#[derive(Debug, Default, Serialize)]
pub struct KindRecall {
    pub pairs: usize,
    pub found: usize,
    pub recall: f64,
}

#[derive(Debug, Default, Serialize)]
pub struct PairReport {
    pub predicted_pairs: usize,
    pub true_pairs: usize,
    pub true_positives: usize,
    pub pairwise: Scores,
    /// Recall among true pairs that carry each perturbation kind.
    pub recall_by_perturbation: BTreeMap<String, KindRecall>,
    /// False positive pairs by kind of hard negative: twin, namesake, misuse, other.
    pub false_positives: BTreeMap<&'static str, usize>,
}

#[derive(Debug, Serialize)]
pub struct BlockingReport {
    pub candidate_pairs: usize,
    pub pair_completeness: f64,
    pub reduction_ratio: f64,
}

#[derive(Debug, Default, Serialize)]
pub struct CodeReport {
    pub expected: usize,
    pub reported: usize,
    pub true_positives: usize,
    pub precision: f64,
    pub recall: f64,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub records: usize,
    pub people: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pairs: Option<PairReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bcubed: Option<Scores>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocking: Option<BlockingReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problems: Option<BTreeMap<String, CodeReport>>,
}

/// Reads a pair file: the first two of `record_id_l`/`record_id_r` (or `unique_id_l`/`_r`).
pub fn read_pairs(path: &Path, truth: &Truth) -> Result<HashSet<(u32, u32)>> {
    let df = read_table(path)?;
    let (l, r) =
        if df.column("record_id_l").is_ok() { ("record_id_l", "record_id_r") } else { ("unique_id_l", "unique_id_r") };
    let mut pairs = HashSet::with_capacity(df.height());
    for (a, b) in strings(&df, path, l)?.into_iter().zip(strings(&df, path, r)?) {
        let (Some(a), Some(b)) = (a, b) else { continue };
        let (a, b) = (truth.lookup(&a, path)?, truth.lookup(&b, path)?);
        if a != b {
            pairs.insert(ordered(a, b));
        }
    }
    Ok(pairs)
}

/// Reads a cluster file (`record_id`, `cluster_id`): records not in it are singletons.
pub fn read_clusters(path: &Path, truth: &Truth) -> Result<Vec<u64>> {
    let df = read_table(path)?;
    let mut cluster: Vec<u64> = (0..truth.record_ids.len() as u64).map(|i| u64::MAX - i).collect();
    let mut ids: HashMap<String, u64> = HashMap::new();
    for (record, c) in strings(&df, path, "record_id")?.into_iter().zip(strings(&df, path, "cluster_id")?) {
        let (Some(record), Some(c)) = (record, c) else { continue };
        let next = ids.len() as u64;
        cluster[truth.lookup(&record, path)? as usize] = *ids.entry(c).or_insert(next);
    }
    Ok(cluster)
}

pub fn score_pairs(truth: &Truth, predicted: &HashSet<(u32, u32)>) -> PairReport {
    let mut report = PairReport { predicted_pairs: predicted.len(), ..Default::default() };
    for (a, b) in truth.true_pairs() {
        report.true_pairs += 1;
        let found = predicted.contains(&(a, b));
        report.true_positives += usize::from(found);
        for kind in truth.pair_kinds(a, b) {
            let entry = report.recall_by_perturbation.entry(kind.to_owned()).or_default();
            entry.pairs += 1;
            entry.found += usize::from(found);
        }
    }
    for entry in report.recall_by_perturbation.values_mut() {
        entry.recall = entry.found as f64 / entry.pairs as f64;
    }
    for &(a, b) in predicted {
        if truth.person[a as usize] != truth.person[b as usize] {
            *report.false_positives.entry(truth.false_positive_kind(a, b)).or_default() += 1;
        }
    }
    report.pairwise = Scores::from_counts(report.true_positives, report.predicted_pairs, report.true_pairs);
    report
}

/// Every pair inside each predicted cluster.
pub fn cluster_pairs(clusters: &[u64]) -> HashSet<(u32, u32)> {
    let mut members: HashMap<u64, Vec<u32>> = HashMap::new();
    for (i, &c) in clusters.iter().enumerate() {
        members.entry(c).or_default().push(i as u32);
    }
    members
        .values()
        .flat_map(|m| m.iter().enumerate().flat_map(move |(k, &a)| m[k + 1..].iter().map(move |&b| ordered(a, b))))
        .collect()
}

/// B-cubed precision and recall: per record, the share of its predicted cluster that is truly
/// its person, and the share of its person that is in its predicted cluster; averaged.
pub fn bcubed(truth: &Truth, clusters: &[u64]) -> Scores {
    let mut cluster_size: HashMap<u64, usize> = HashMap::new();
    let mut overlap: HashMap<(u64, u32), usize> = HashMap::new();
    for (i, &c) in clusters.iter().enumerate() {
        *cluster_size.entry(c).or_default() += 1;
        *overlap.entry((c, truth.person[i])).or_default() += 1;
    }
    let n = clusters.len().max(1) as f64;
    let (mut precision, mut recall) = (0.0, 0.0);
    for (i, &c) in clusters.iter().enumerate() {
        let both = overlap[&(c, truth.person[i])] as f64;
        precision += both / cluster_size[&c] as f64;
        recall += both / truth.members[&truth.person[i]].len() as f64;
    }
    Scores::new(precision / n, recall / n)
}

pub fn score_blocking(truth: &Truth, candidates: &HashSet<(u32, u32)>) -> BlockingReport {
    let (mut total, mut found) = (0usize, 0usize);
    for pair in truth.true_pairs() {
        total += 1;
        found += usize::from(candidates.contains(&pair));
    }
    let n = truth.record_ids.len() as f64;
    let all_pairs = n * (n - 1.0) / 2.0;
    BlockingReport {
        candidate_pairs: candidates.len(),
        pair_completeness: if total == 0 { 1.0 } else { found as f64 / total as f64 },
        reduction_ratio: if all_pairs > 0.0 { 1.0 - candidates.len() as f64 / all_pairs } else { 1.0 },
    }
}

/// Per problem code, precision and recall of `xueji check`'s problems (`record_id`, `code`)
/// against the expected codes.
pub fn score_problems(truth: &Truth, path: &Path) -> Result<BTreeMap<String, CodeReport>> {
    let df = read_table(path)?;
    let mut reported: HashSet<(u32, String)> = HashSet::new();
    // A duplicate group's member is matching's finding, scored by the pairs, not a problem the
    // record has by itself.
    let matched = crate::problems::Code::DuplicateSuspected.as_str();
    for (id, code) in strings(&df, path, "record_id")?.into_iter().zip(strings(&df, path, "code")?) {
        if let (Some(id), Some(code)) = (id, code.filter(|c| c != matched)) {
            reported.insert((truth.lookup(&id, path)?, code));
        }
    }
    let mut by_code: BTreeMap<String, CodeReport> = BTreeMap::new();
    for (i, codes) in truth.expected.iter().enumerate() {
        for code in codes {
            let entry = by_code.entry(code.clone()).or_default();
            entry.expected += 1;
            entry.true_positives += usize::from(reported.contains(&(i as u32, code.clone())));
        }
    }
    for (_, code) in &reported {
        by_code.entry(code.clone()).or_default().reported += 1;
    }
    for entry in by_code.values_mut() {
        let scores = Scores::from_counts(entry.true_positives, entry.reported, entry.expected);
        (entry.precision, entry.recall) = (scores.precision, scores.recall);
    }
    Ok(by_code)
}

/// What to score; each part is optional.
#[derive(Default)]
pub struct EvalInputs<'a> {
    pub pairs: Option<&'a Path>,
    pub clusters: Option<&'a Path>,
    pub candidates: Option<&'a Path>,
    pub problems: Option<&'a Path>,
}

pub fn evaluate(truth: &Truth, inputs: &EvalInputs) -> Result<Report> {
    let mut report = Report { records: truth.record_ids.len(), people: truth.members.len(), ..Default::default() };
    if let Some(path) = inputs.clusters {
        let clusters = read_clusters(path, truth)?;
        report.bcubed = Some(bcubed(truth, &clusters));
        report.pairs = Some(score_pairs(truth, &cluster_pairs(&clusters)));
    }
    if let Some(path) = inputs.pairs {
        report.pairs = Some(score_pairs(truth, &read_pairs(path, truth)?));
    }
    if let Some(path) = inputs.candidates {
        report.blocking = Some(score_blocking(truth, &read_pairs(path, truth)?));
    }
    if let Some(path) = inputs.problems {
        report.problems = Some(score_problems(truth, path)?);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seven records of four people: p0 twice (one typo'd number), twins p1 and p2, p3 three times.
    fn hand_built() -> Truth {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        Truth::new(
            s(&["r0", "r1", "r2", "r3", "r4", "r5", "r6"]),
            vec![0, 0, 1, 2, 3, 3, 3],
            s(&["original", "duplicate", "original", "original", "original", "duplicate", "duplicate"]),
            vec![None, None, Some(2), Some(1), None, None, None],
            vec![vec![], s(&["id:typo"]), vec![], vec![], vec![], s(&["name:homophone"]), s(&["id:missing"])],
            s(&["张伟", "张伟", "李娜", "李纳", "王芳", "王方", "王芳"]),
            vec![vec![], s(&["ID_CHECKSUM"]), vec![], vec![], vec![], vec![], vec![]],
        )
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn pairwise_scores_by_hand() {
        let truth = hand_built();
        let predicted: HashSet<(u32, u32)> = [(0, 1), (2, 3), (4, 5)].into_iter().collect();
        let report = score_pairs(&truth, &predicted);
        assert_eq!((report.true_pairs, report.true_positives, report.predicted_pairs), (4, 2, 3));
        assert!(close(report.pairwise.precision, 2.0 / 3.0) && close(report.pairwise.recall, 0.5));
        assert!(close(report.pairwise.f1, 4.0 / 7.0));
        let recall = |kind: &str| &report.recall_by_perturbation[kind];
        assert_eq!((recall("id:typo").pairs, recall("id:typo").found), (1, 1));
        assert_eq!((recall("name:homophone").pairs, recall("name:homophone").found), (2, 1));
        assert_eq!((recall("id:missing").pairs, recall("id:missing").found), (2, 0));
        assert_eq!(report.false_positives.get("twin"), Some(&1));
        assert_eq!(report.false_positives.len(), 1);
    }

    #[test]
    fn bcubed_by_hand() {
        let truth = hand_built();
        let clusters = vec![0, 0, 1, 1, 2, 2, 3];
        let scores = bcubed(&truth, &clusters);
        assert!(close(scores.precision, 6.0 / 7.0), "{scores:?}");
        assert!(close(scores.recall, 17.0 / 21.0), "{scores:?}");
        assert_eq!(cluster_pairs(&clusters), [(0, 1), (2, 3), (4, 5)].into_iter().collect());
        let perfect = bcubed(&truth, &[0, 0, 1, 2, 3, 3, 3]);
        assert_eq!(perfect, Scores::new(1.0, 1.0));
    }

    #[test]
    fn blocking_by_hand() {
        let truth = hand_built();
        let candidates: HashSet<(u32, u32)> = [(0, 1), (2, 3), (4, 5), (4, 6)].into_iter().collect();
        let report = score_blocking(&truth, &candidates);
        assert!(close(report.pair_completeness, 0.75));
        assert!(close(report.reduction_ratio, 17.0 / 21.0));
    }

    #[test]
    fn false_positive_kinds() {
        let truth = hand_built();
        assert_eq!(truth.false_positive_kind(2, 3), "twin");
        assert_eq!(truth.false_positive_kind(0, 4), "other");
        let mut namesakes = hand_built();
        namesakes.true_name[4] = "张伟".into();
        assert_eq!(namesakes.false_positive_kind(0, 4), "namesake");
        namesakes.role[4] = "misuse".into();
        assert_eq!(namesakes.false_positive_kind(0, 4), "misuse");
    }
}

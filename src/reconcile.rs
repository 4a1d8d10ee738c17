//! Reconcile: the verdicts public security returns on the match lists become a decision per
//! registration by the decision table of [`decide`] — keep (保留), correct a field (变更), delete
//! the duplicate (删除), attach evidence (佐证), send back to the school (学校核实), or hold the
//! group (待核查) — a surviving master per person, and the unique-student list (唯一学籍).
//! Nothing is lost: verdicts that match no sent record, blank or unreadable verdicts (which hold
//! their group), and sent records without a verdict are all listed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::Serialize;

use crate::columns::{Ints, Text};
use crate::error::{Error, Result};
use crate::ingest::{self, IngestOptions};
use crate::normalize::id_number::normalize_id_number;
use crate::normalize::id_number::ResidentNumber;
use crate::normalize::name::normalize_name;
use crate::report::{self, police};
use crate::schema::HeaderMap;

/// A police verdict on a name and ID number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Verdict {
    /// 一致: the number exists and belongs to this name.
    Consistent,
    /// 不一致: name and number disagree, no detail given.
    Inconsistent,
    /// 身份证号不存在: no such number.
    IdNotFound,
    /// 身份证号与姓名不匹配: the number exists, under another name.
    NameMismatch,
    /// 查无此人: nobody of that name and number.
    PersonNotFound,
    /// 已死亡 / 已注销: the number's holder is dead or the registration cancelled.
    Deceased,
    /// 重复: the holder has more than one household registration.
    Duplicate,
}

impl Verdict {
    /// As police word it.
    pub fn label(self) -> &'static str {
        let (zh, en) = match self {
            Verdict::Consistent => ("一致", "consistent"),
            Verdict::Inconsistent => ("不一致", "inconsistent"),
            Verdict::IdNotFound => ("身份证号不存在", "number does not exist"),
            Verdict::NameMismatch => ("身份证号与姓名不匹配", "number belongs to another name"),
            Verdict::PersonNotFound => ("查无此人", "no such person"),
            Verdict::Deceased => ("已死亡/已注销", "dead or cancelled"),
            Verdict::Duplicate => ("户籍重复", "household registered twice"),
        };
        crate::lang::pick(zh, en)
    }

    pub fn code(self) -> &'static str {
        match self {
            Verdict::Consistent => "CONSISTENT",
            Verdict::Inconsistent => "INCONSISTENT",
            Verdict::IdNotFound => "ID_NOT_FOUND",
            Verdict::NameMismatch => "NAME_MISMATCH",
            Verdict::PersonNotFound => "PERSON_NOT_FOUND",
            Verdict::Deceased => "DECEASED",
            Verdict::Duplicate => "DUPLICATE",
        }
    }
}

/// Reads a verdict as police systems word it (spaces, punctuation and a `核查结果:` prefix
/// ignored); `None` for wording xueji does not know, which is then reported, not guessed.
pub fn parse_verdict(raw: &str) -> Option<Verdict> {
    let text: String = raw.chars().filter(|c| !c.is_whitespace() && !"。.，,；;：:“”\"".contains(*c)).collect();
    let text =
        ["核查结果", "比对结果", "核验结果", "结果"].iter().fold(text.as_str(), |t, p| t.strip_prefix(p).unwrap_or(t));
    Some(match text {
        "一致" | "核查一致" | "比对一致" | "信息一致" | "相符" | "核验通过" | "通过" => {
            Verdict::Consistent
        }
        "不一致" | "信息不一致" | "核查不一致" | "比对不一致" | "不相符" => Verdict::Inconsistent,
        "身份证号不存在" | "身份证号码不存在" | "公民身份号码不存在" | "证件号码不存在" | "号码不存在" | "查无此号" => {
            Verdict::IdNotFound
        }
        "身份证号与姓名不匹配"
        | "身份证号码与姓名不匹配"
        | "姓名与身份证号不匹配"
        | "姓名与身份证号码不匹配"
        | "号码与姓名不符"
        | "姓名与号码不符"
        | "姓名不符" => Verdict::NameMismatch,
        "查无此人" | "无此人" | "查无此人员" | "人员不存在" => Verdict::PersonNotFound,
        "已死亡" | "死亡" | "已注销" | "注销" | "已死亡/已注销" | "死亡注销" | "已死亡注销" => {
            Verdict::Deceased
        }
        "重复" | "户籍重复" | "重复户口" | "户口重复" | "重复登记" => Verdict::Duplicate,
        _ => return None,
    })
}

/// What happens to a registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Action {
    Keep,
    Change,
    /// A duplicate registration police checked.
    Delete,
    /// A duplicate registration police did not check: proposed, to be confirmed.
    DeleteUnchecked,
    Evidence,
    /// Police say the number is not this name's (or not a live person's), beside a number
    /// confirmed for the group: only the school can tell one child from two. Never deleted.
    SchoolCheck,
    /// A verdict that is blank, unreadable or contradicted: nothing in the group is decided
    /// until police answer again.
    Held,
}

impl Action {
    pub fn label(self) -> &'static str {
        let (zh, en) = match self {
            Action::Keep => ("保留", "keep"),
            Action::Change => ("变更", "change"),
            Action::Delete => ("删除", "delete"),
            Action::DeleteUnchecked => ("拟删除（未核查）", "delete, unchecked"),
            Action::Evidence => ("佐证", "evidence needed"),
            Action::SchoolCheck => ("学校核实", "school to check"),
            Action::Held => ("待核查", "held: ask police again"),
        };
        crate::lang::pick(zh, en)
    }

    /// A registration to go (checked by police or not).
    pub fn removes(self) -> bool {
        matches!(self, Action::Delete | Action::DeleteUnchecked)
    }
}

/// One row of a sent match list.
#[derive(Clone, Debug)]
struct SentRow {
    batch: String,
    record_id: String,
    cluster: Option<String>,
    reasons: String,
    name: String,
    id_number: Option<String>,
}

/// What a reply said about a sent row.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Answer {
    Verdict(Verdict),
    Blank,
    /// Wording xueji does not know (`一至`): never guessed.
    Unreadable(String),
}

/// One verdict as read from a reply.
#[derive(Clone, Debug)]
pub struct Reply {
    pub file: String,
    pub row: u32,
    pub record_id: Option<String>,
    pub id_number: Option<String>,
    pub name: Option<String>,
    pub raw: String,
    pub verdict: Option<Verdict>,
}

/// The sent lists of a campaign: every `police/*.csv`.
fn read_sent(campaign: &Path) -> Result<Vec<SentRow>> {
    let dir = campaign.join("police");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| Error::io(&dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    let mut rows = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{FEFF}').as_bytes());
        let header = reader.headers().map_err(|e| Error::input(&path, e.to_string()))?.clone();
        // Lists written in either language (`--lang en`).
        let position = |name: &str| {
            let english = police::HEADERS.iter().position(|h| *h == name).map(|k| police::HEADERS_EN[k]);
            header.iter().position(|h| h == name || Some(h) == english).ok_or_else(|| {
                Error::input(
                    &path,
                    crate::lang::both(
                        &format!("不是公安核查名单：没有“{name}”列"),
                        &format!("not a police list: no column {name}"),
                    ),
                )
            })
        };
        let columns = [
            position("批次号")?,
            position("记录号")?,
            position("聚类号")?,
            position("核查原因")?,
            position("姓名")?,
            position("身份证件号")?,
        ];
        for record in reader.records() {
            let record = record.map_err(|e| Error::input(&path, e.to_string()))?;
            let field = |k: usize| {
                record.get(columns[k]).map(|v| crate::files::uninert(v).to_owned()).filter(|v| !v.is_empty())
            };
            rows.push(SentRow {
                batch: field(0).unwrap_or_default(),
                record_id: field(1).unwrap_or_default(),
                cluster: field(2),
                reasons: field(3).unwrap_or_default(),
                name: field(4).unwrap_or_default(),
                id_number: field(5),
            });
        }
    }
    Ok(rows)
}

/// A problem met while reading a reply (a ragged row, an Excel error cell): the row is still
/// used, and the problem listed in `reply_problems.csv`.
#[derive(Clone, Debug)]
pub struct ReplyProblem {
    pub file: String,
    pub row: u32,
    pub code: &'static str,
    pub message: String,
}

/// Reads police replies: any file `ingest` reads, with a verdict column (核查结果, 比对结果,
/// 结果 …) and a 记录号 or 身份证件号 column to key on.
/// `maps` name columns of other wordings (`核查意见=verdict`), as `--map` does for sheets.
pub fn read_replies(files: &[PathBuf], maps: &[(String, String)]) -> Result<(Vec<Reply>, Vec<ReplyProblem>)> {
    let headers = HeaderMap::new(maps).map_err(Error::Usage)?.requiring(&["verdict"]);
    let options = IngestOptions { headers, ..IngestOptions::default() };
    let (mut replies, mut problems) = (Vec::new(), Vec::new());
    for path in files {
        let table = ingest::read_file(path, &options)?;
        let df = &table.df;
        if df.column("record_no").is_err() && df.column("id_number").is_err() {
            return Err(Error::input(
                path,
                crate::lang::both(
                    "没有可用于匹配核查结果的“记录号”或“身份证件号”列",
                    "no 记录号 (record_no) or 身份证件号 (id_number) column to match verdicts with",
                ),
            ));
        }
        let (ids, numbers, names, verdicts) = (
            Text::optional(df, "record_no")?,
            Text::optional(df, "id_number")?,
            Text::optional(df, "name")?,
            Text::optional(df, "verdict")?,
        );
        let rows = df.column("source_row")?.u32()?;
        problems.extend(table.problems.iter().map(|p| ReplyProblem {
            file: path.display().to_string(),
            row: rows.get(p.record).unwrap_or(0),
            code: p.code.as_str(),
            message: p.message.clone(),
        }));
        for i in 0..df.height() {
            let raw = verdicts.get(i).unwrap_or("").to_owned();
            replies.push(Reply {
                file: path.display().to_string(),
                row: rows.get(i).unwrap_or(0),
                record_id: ids.get(i).map(|v| crate::files::uninert(v).to_owned()),
                id_number: numbers.get(i).and_then(normalize_id_number).map(|(n, _)| n),
                name: names.get(i).map(|n| normalize_name(n).0),
                verdict: parse_verdict(&raw),
                raw,
            });
        }
    }
    Ok((replies, problems))
}

/// The decision on one registration.
#[derive(Clone, Debug, Serialize)]
pub struct Decision {
    pub record_id: String,
    pub person: String,
    pub sent: bool,
    pub verdict: Option<Verdict>,
    pub action: Action,
    /// The fields to correct and their proposed values, for 变更.
    pub changes: Vec<(&'static str, String)>,
    pub reason: String,
}

#[derive(Debug, Default, Serialize)]
pub struct ReconcileSummary {
    pub verdicts_read: usize,
    /// Reply rows read despite a problem (listed in reply_problems.csv).
    pub reply_problems: usize,
    pub verdicts_matched: usize,
    pub verdicts_unknown_wording: usize,
    pub verdicts_matching_no_sent_record: usize,
    pub sent_without_verdict: usize,
    /// Replies matched to a sent row with an empty verdict.
    pub verdicts_blank: usize,
    /// Registrations of groups held (待核查): listed in held.csv, to ask police again.
    pub held: usize,
    /// Corrections from the schools' return workbooks proposed on registrations kept.
    pub corrections_applied: usize,
    /// Registrations the schools' 是否同一学生 answers decided: deleted as one child's
    /// duplicate, or kept as another child.
    pub school_answers_applied: usize,
    pub actions: BTreeMap<&'static str, usize>,
    pub unique_students: usize,
}

/// A correction a school wrote under a 更正后 column of its return workbook.
#[derive(Clone, Debug)]
pub struct Correction {
    /// Where the school typed it: the workbook and its row, for a correction that is not applied.
    pub file: String,
    pub row: u32,
    pub record_id: String,
    pub field: &'static str,
    /// Normalized as records are (`１１０…` and trailing spaces folded, 男 → its code).
    pub value: String,
}

/// A school's answer under 是否同一学生 in its return workbook: whether a registration of a
/// duplicate group or an ID conflict is the same child as the others of its group.
#[derive(Clone, Debug)]
pub struct SchoolAnswer {
    pub file: String,
    pub row: u32,
    pub record_id: String,
    pub same_child: bool,
}

/// What the schools' return workbooks bring back.
#[derive(Debug, Default)]
pub struct Returned {
    pub corrections: Vec<Correction>,
    pub answers: Vec<SchoolAnswer>,
    /// What could not be taken (a rounded number, an answer that says neither), never lost.
    pub problems: Vec<ReplyProblem>,
}

/// Reads the return workbooks schools filled in (`returns/…/*.xlsx` of a campaign): every
/// non-empty 更正后 cell, keyed by 记录号. What Excel does to a typed value is undone where it can
/// be (full-width digits, spaces, a number typed as a number); a number a spreadsheet rounded,
/// or a date or code that cannot be read, is listed in the problems, never applied. And every
/// answer under 是否同一学生 ([`report::returns::SAME_CHILD`]).
pub fn read_returns(files: &[PathBuf]) -> Result<Returned> {
    // The corrected number is read as a number column is, so that one typed as a number (Excel
    // kept 15 digits of it) is known for what it is.
    let maps = [("更正后身份证件号", "id_number"), ("corrected id_number", "id_number")];
    let maps: Vec<(String, String)> = maps.iter().map(|(h, f)| (h.to_string(), f.to_string())).collect();
    let headers = HeaderMap::new(&maps).map_err(Error::Usage)?.requiring(&["record_no"]);
    let options = IngestOptions { headers, ..IngestOptions::default() };
    let (mut corrections, mut answers, mut problems) = (Vec::new(), Vec::new(), Vec::new());
    let (same_zh, same_en) = report::returns::SAME_CHILD;
    for path in files {
        let table = ingest::read_file(path, &options)?;
        let df = &table.df;
        let ids = Text::optional(df, "record_no")?;
        let rows = df.column("source_row")?.u32()?;
        let rounded: HashSet<usize> = table
            .problems
            .iter()
            .filter(|p| p.code == crate::problems::Code::CellNumberPrecisionLost)
            .map(|p| p.record)
            .collect();
        // `更正后出生日期` / `corrected birth_date`: the field each correction column is for.
        let mut columns: Vec<(&'static str, Text)> = df
            .get_column_names()
            .iter()
            .filter_map(|name| {
                let label = name.strip_prefix("更正后").or_else(|| name.strip_prefix("corrected "))?;
                let field = crate::schema::FIELDS.iter().find(|f| f.zh == label || f.name == label)?;
                Some((field.name, Text::of(df, name).ok()?))
            })
            .collect();
        if df.column("id_number").is_ok() {
            columns.push(("id_number", Text::of(df, "id_number")?));
        }
        let same_child =
            [same_zh, same_en].into_iter().find(|h| df.column(h).is_ok()).map(|h| Text::of(df, h)).transpose()?;
        let file = path.display().to_string();
        // What reading the workbook found (a ragged row, an error cell) is listed as for replies;
        // a number typed as a number is said below, with the correction it spoils.
        problems.extend(
            table.problems.iter().filter(|p| p.code != crate::problems::Code::CellNumberPrecisionLost).map(|p| {
                ReplyProblem {
                    file: file.clone(),
                    row: rows.get(p.record).unwrap_or(0),
                    code: p.code.as_str(),
                    message: p.message.clone(),
                }
            }),
        );
        for i in 0..df.height() {
            let row = rows.get(i).unwrap_or(0);
            let problem =
                |message: String| ReplyProblem { file: file.clone(), row, code: CORRECTION_NOT_APPLIED, message };
            let answer = same_child.and_then(|c| c.get(i)).map(str::trim).filter(|v| !v.is_empty());
            let typed_any =
                answer.is_some() || columns.iter().any(|(_, c)| c.get(i).is_some_and(|v| !v.trim().is_empty()));
            let Some(record_id) = ids.get(i).map(|v| crate::files::uninert(v).trim().to_owned()) else {
                // A correction on a row whose 记录号 was cleared cannot be placed: said, not lost.
                if typed_any {
                    problems.push(problem(crate::say!(
                        "该行有更正但没有记录号：未采用",
                        "a correction on a row without 记录号: not applied"
                    )));
                }
                continue;
            };
            if let Some(typed) = answer {
                match report::returns::same_child(typed) {
                    Some(same_child) => {
                        answers.push(SchoolAnswer { file: file.clone(), row, record_id: record_id.clone(), same_child })
                    }
                    None => problems.push(ReplyProblem {
                        code: SCHOOL_ANSWER_NOT_APPLIED,
                        ..problem(crate::say!(
                        "{record_id}的“{same_zh}”填写为“{typed}”，不是“同一学生”或“不是同一学生”：未采用",
                        "{record_id}: {same_en} {typed:?} is neither “same child” nor “not the same child”: not applied"
                    ))
                    }),
                }
            }
            for (field, column) in &columns {
                let Some(typed) = column.get(i).map(str::trim).filter(|v| !v.is_empty()) else { continue };
                let lost = *field == "id_number" && rounded.contains(&i);
                match correction_value(field, typed).and_then(|v| if lost { Err(lost_digits()) } else { Ok(v) }) {
                    Ok(value) => corrections.push(Correction {
                        file: file.clone(),
                        row,
                        record_id: record_id.clone(),
                        field,
                        value,
                    }),
                    Err(why) => problems.push(problem(crate::say!(
                        "{record_id}的更正后{}“{typed}”{why}：未采用",
                        "{record_id}: corrected {} {typed:?} {why}: not applied",
                        crate::lang::pick(crate::schema::label(field), field)
                    ))),
                }
            }
        }
    }
    Ok(Returned { corrections, answers, problems })
}

fn lost_digits() -> String {
    crate::lang::pick("被Excel存为数值，已丢失位数", "was stored as an Excel number and lost digits").into()
}

/// The code of a school's correction `reconcile` could not take (listed in reply_problems.csv).
const CORRECTION_NOT_APPLIED: &str = "CORRECTION_NOT_APPLIED";

/// The code of a school's 是否同一学生 answer `reconcile` could not take.
const SCHOOL_ANSWER_NOT_APPLIED: &str = "SCHOOL_ANSWER_NOT_APPLIED";

/// A typed correction as records keep the field, or why it cannot be taken.
fn correction_value(field: &str, typed: &str) -> std::result::Result<String, String> {
    match field {
        "id_number" => {
            if ingest::rounded::rounding(typed).is_some_and(|r| r != ingest::rounded::Rounding::ZeroedPassing)
                || ingest::rounded::tells_no_one_apart(typed)
            {
                return Err(lost_digits());
            }
            normalize_id_number(typed).map(|(id, _)| id).ok_or_else(|| crate::lang::pick("为空", "is empty").into())
        }
        "birth_date" => crate::normalize::date::parse_date(typed)
            .map(|d| d.to_string())
            .ok_or_else(|| crate::lang::pick("不是可识别的日期", "is no date xueji reads").into()),
        "sex" => crate::normalize::codes::normalize_sex(typed)
            .map(|code| crate::check::sex_label(code).to_owned())
            .ok_or_else(|| crate::lang::pick("不是男/女", "is not 男/女").into()),
        "name" => Ok(normalize_name(typed).0),
        _ => Ok(typed.to_owned()),
    }
}

/// The files [`reconcile`] writes into its folder.
pub const RECONCILE_OUTPUTS: [&str; 9] = [
    "decisions.parquet",
    "decisions.csv",
    "masters.csv",
    "unique_students.parquet",
    "unique_students.csv",
    "held.csv",
    "unmatched_verdicts.csv",
    "unanswered.csv",
    "reply_problems.csv",
];

/// Reconciles a campaign folder with police replies and writes the decisions into `out`:
/// `decisions.parquet`/`.csv` (every registration), `masters.csv` (per person with several
/// registrations: the survivor and the deleted), `unique_students.parquet`/`.csv` (one row
/// per person), `unmatched_verdicts.csv` (no sent record, or unknown wording),
/// `unanswered.csv` (sent, no verdict) and `reply_problems.csv` (reply rows read with a problem).
pub fn reconcile(
    campaign: &Path,
    verdict_files: &[PathBuf],
    return_files: &[PathBuf],
    maps: &[(String, String)],
    out: &Path,
) -> Result<ReconcileSummary> {
    let records_path = campaign.join("records.parquet");
    let file = std::fs::File::open(&records_path).map_err(|e| Error::io(&records_path, e))?;
    let mut records = ParquetReader::new(file).finish()?;
    records.rechunk_mut_par();
    let sent = read_sent(campaign)?;
    let (replies, mut reply_problems) = read_replies(verdict_files, maps)?;
    let returned = read_returns(return_files)?;
    reply_problems.extend(returned.problems);

    // Match replies to sent rows: by record id, else by number and name, else by number alone.
    let by_record: HashMap<&str, usize> = sent.iter().enumerate().map(|(i, s)| (s.record_id.as_str(), i)).collect();
    let mut by_number: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, s) in sent.iter().enumerate() {
        if let Some(n) = &s.id_number {
            by_number.entry(n.as_str()).or_default().push(i);
        }
    }
    // Every answer given to a sent row: a verdict, or a blank or unreadable one. Two different
    // verdicts are a contradiction, never settled by which file came last.
    let mut answers: HashMap<usize, Vec<Answer>> = HashMap::new();
    let mut unmatched: Vec<&Reply> = Vec::new();
    let mut summary =
        ReconcileSummary { verdicts_read: replies.len(), reply_problems: reply_problems.len(), ..Default::default() };
    for reply in &replies {
        let targets: Vec<usize> = match (&reply.record_id, &reply.id_number) {
            (Some(id), _) => by_record.get(id.as_str()).map(|&i| vec![i]).unwrap_or_default(),
            (None, Some(number)) => {
                let rows = by_number.get(number.as_str()).cloned().unwrap_or_default();
                let named: Vec<usize> =
                    rows.iter().copied().filter(|&i| reply.name.as_deref() == Some(sent[i].name.as_str())).collect();
                if named.is_empty() {
                    rows
                } else {
                    named
                }
            }
            (None, None) => Vec::new(),
        };
        if targets.is_empty() {
            unmatched.push(reply);
            continue;
        }
        let answer = match reply.verdict {
            Some(verdict) => Answer::Verdict(verdict),
            None if reply.raw.trim().is_empty() => Answer::Blank,
            None => Answer::Unreadable(reply.raw.trim().to_owned()),
        };
        match answer {
            Answer::Verdict(_) => summary.verdicts_matched += 1,
            Answer::Blank => summary.verdicts_blank += 1,
            Answer::Unreadable(_) => summary.verdicts_unknown_wording += 1,
        }
        for i in targets {
            let given = answers.entry(i).or_default();
            if !given.contains(&answer) {
                given.push(answer.clone());
            }
        }
    }
    summary.verdicts_matching_no_sent_record = unmatched.len();
    let unanswered: Vec<&SentRow> =
        sent.iter().enumerate().filter(|(i, _)| !answers.contains_key(i)).map(|(_, s)| s).collect();
    summary.sent_without_verdict = unanswered.len();

    let mut decisions = decide(&records, &sent, &answers)?;
    summary.school_answers_applied = apply_school_answers(&mut decisions, &returned.answers, &mut reply_problems);
    summary.corrections_applied = apply_corrections(&mut decisions, &returned.corrections, &mut reply_problems);
    for d in &decisions {
        *summary.actions.entry(d.action.label()).or_default() += 1;
    }
    summary.held = decisions.iter().filter(|d| d.action == Action::Held).count();
    crate::files::output_dir(out)?;
    let mut frame = decisions_frame(&decisions)?;
    crate::files::write_parquet(&out.join("decisions.parquet"), &mut frame)?;
    crate::files::write_csv(&out.join("decisions.csv"), &decisions_for_people(&decisions)?)?;
    let mut unique = unique_students(&records, &decisions)?;
    summary.unique_students = unique.height();
    crate::files::write_parquet(&out.join("unique_students.parquet"), &mut unique)?;
    // People read 男/女, programs the GB/T 2261.1 codes.
    let mut for_people = unique.clone();
    let sex = unique
        .column("sex_norm")?
        .cast(&DataType::String)?
        .str()?
        .apply_values(|c| crate::check::sex_label(c).to_owned().into());
    for_people.with_column(sex.into_column())?;
    crate::files::write_csv(&out.join("unique_students.csv"), &report::chinese_headers(&for_people)?)?;
    // These lists are read by people: Chinese headers first (English with --lang en).
    let text = |v: Vec<Option<String>>, (zh, en): (&str, &str)| {
        StringChunked::from_iter_options(crate::lang::pick(zh, en).into(), v.into_iter()).into_column()
    };
    let rows = |(zh, en): (&str, &str), v: Vec<u32>| {
        UInt32Chunked::from_iter_values(crate::lang::pick(zh, en).into(), v.into_iter()).into_column()
    };
    let why = crate::lang::pick("未匹配到任何已送核查记录", "matches no sent record");
    let unmatched_frame = DataFrame::new(
        unmatched.len(),
        vec![
            text(unmatched.iter().map(|_| Some(why.to_owned())).collect(), ("原因", "why")),
            text(unmatched.iter().map(|u| Some(u.raw.clone())).collect(), ("核查结果", "verdict")),
            text(unmatched.iter().map(|u| u.record_id.clone()).collect(), ("记录号", "record_id")),
            text(unmatched.iter().map(|u| u.id_number.clone()).collect(), ("身份证件号", "id_number")),
            text(unmatched.iter().map(|u| Some(u.file.clone())).collect(), ("文件", "file")),
            rows(("行号", "row"), unmatched.iter().map(|u| u.row).collect()),
        ],
    )?;
    crate::files::write_csv(&out.join("unmatched_verdicts.csv"), &unmatched_frame)?;
    // What to ask police again: every registration of a held group, with why.
    let held: Vec<&Decision> = decisions.iter().filter(|d| d.action == Action::Held).collect();
    let held_frame = DataFrame::new(
        held.len(),
        vec![
            text(held.iter().map(|d| Some(d.record_id.clone())).collect(), ("记录号", "record_id")),
            text(held.iter().map(|d| Some(d.person.clone())).collect(), ("同一学生", "person_id")),
            text(held.iter().map(|d| Some(d.reason.clone())).collect(), ("原因", "why")),
        ],
    )?;
    crate::files::write_csv(&out.join("held.csv"), &held_frame)?;
    let unanswered_frame = DataFrame::new(
        unanswered.len(),
        vec![
            text(unanswered.iter().map(|s| Some(s.record_id.clone())).collect(), ("记录号", "record_id")),
            text(unanswered.iter().map(|s| Some(s.reasons.clone())).collect(), ("核查原因", "reason")),
            text(unanswered.iter().map(|s| s.cluster.clone()).collect(), ("聚类号", "cluster_id")),
            text(unanswered.iter().map(|s| Some(s.batch.clone())).collect(), ("批次号", "batch")),
        ],
    )?;
    crate::files::write_csv(&out.join("unanswered.csv"), &unanswered_frame)?;
    let label = |code: &str| match crate::problems::Code::parse(code) {
        Some(c) => c.kind().label().to_owned(),
        None if code == CORRECTION_NOT_APPLIED => {
            crate::lang::pick("学校更正未采用", "correction not applied").to_owned()
        }
        None if code == SCHOOL_ANSWER_NOT_APPLIED => {
            crate::lang::pick("学校核实结果未采用", "school's answer not applied").to_owned()
        }
        None => code.to_owned(),
    };
    let problems_frame = DataFrame::new(
        reply_problems.len(),
        vec![
            text(reply_problems.iter().map(|p| Some(label(p.code))).collect(), ("问题", "problem")),
            text(reply_problems.iter().map(|p| Some(p.message.clone())).collect(), ("说明", "message")),
            text(reply_problems.iter().map(|p| Some(p.file.clone())).collect(), ("文件", "file")),
            rows(("行号", "row"), reply_problems.iter().map(|p| p.row).collect()),
            text(reply_problems.iter().map(|p| Some(p.code.to_owned())).collect(), ("问题代码", "code")),
        ],
    )?;
    crate::files::write_csv(&out.join("reply_problems.csv"), &problems_frame)?;
    write_masters(&out.join("masters.csv"), &decisions)?;
    Ok(summary)
}

/// The decision on every registration, by the decision table of the README ("Reconcile"). A
/// person is a cluster of registrations (or one alone).
///
/// 1. A blank or unreadable verdict, two verdicts on one row, or verdicts on one number that
///    cannot both be true (一致 beside 身份证号不存在, 查无此人, 已死亡/已注销 or 不一致; 一致 for two
///    names), or two numbers both 一致: the whole group is held (待核查), nothing decided.
/// 2. A number confirmed (一致): its best registration is the master (保留, or 变更 where the
///    recorded birth date or sex contradicts the number). A registration police say carries a
///    number that is not its own (姓名与身份证号码不匹配, 不一致, 已死亡/已注销, 户籍重复) goes to its
///    school (学校核实): one child typed twice or two children, only the school can tell. One whose
///    number does not exist (身份证号不存在, 查无此人) is deleted (删除); one not sent, or sent without
///    an answer, is proposed for deletion (拟删除（未核查）).
/// 3. No number confirmed: the most complete registration is kept for evidence (佐证); the
///    others as in 2.
fn decide(records: &DataFrame, sent: &[SentRow], answers: &HashMap<usize, Vec<Answer>>) -> Result<Vec<Decision>> {
    let ids = Text::of(records, "record_id")?;
    let (sexes, grade, births) =
        (Text::of(records, "sex_norm")?, Ints::of(records, "grade_norm")?, Ints::of(records, "birth_date_norm")?);
    let numbers = Text::of(records, "id_norm")?;
    let names = Text::of(records, "name_norm")?;
    let complete_fields: Vec<Text> =
        ["name_norm", "sex_norm", "id_norm", "ethnicity_norm", "school_code_norm", "guardian_phone_norm"]
            .iter()
            .map(|c| Text::of(records, c))
            .chain([Text::optional(records, "household_address")])
            .collect::<Result<_>>()?;
    let index: HashMap<&str, usize> = (0..records.height()).filter_map(|i| Some((ids.get(i)?, i))).collect();
    let mut answers_of: HashMap<usize, &[Answer]> = HashMap::new();
    let mut cluster_of: HashMap<usize, String> = HashMap::new();
    let mut is_sent = vec![false; records.height()];
    // The number police were asked about: the record's own, or for one without (or with one a
    // spreadsheet rounded) its group's, inferred.
    let mut sent_number: HashMap<usize, &str> = HashMap::new();
    for (k, row) in sent.iter().enumerate() {
        if let Some(&i) = index.get(row.record_id.as_str()) {
            is_sent[i] = true;
            if let Some(n) = &row.id_number {
                sent_number.insert(i, n.as_str());
            }
            if let Some(a) = answers.get(&k) {
                answers_of.insert(i, a.as_slice());
            }
            if let Some(c) = &row.cluster {
                cluster_of.insert(i, c.clone());
            }
        }
    }
    let mut people: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for i in 0..records.height() {
        let person = cluster_of.get(&i).cloned().unwrap_or_else(|| ids.get(i).unwrap_or("").to_owned());
        people.entry(person).or_default().push(i);
    }
    let completeness = |i: usize| complete_fields.iter().filter(|t| t.get(i).is_some()).count();
    // The one clean verdict of a registration, if it has exactly one.
    let verdict_of = |i: usize| match answers_of.get(&i) {
        Some([Answer::Verdict(v)]) => Some(*v),
        _ => None,
    };
    let mut decisions = Vec::with_capacity(records.height());
    for (person, members) in people {
        let decision = |i: usize, action: Action, changes: Vec<(&'static str, String)>, reason: String| Decision {
            record_id: ids.get(i).unwrap_or("").to_owned(),
            person: person.clone(),
            sent: is_sent[i],
            verdict: verdict_of(i),
            action,
            changes,
            reason,
        };
        let number = |i: usize| sent_number.get(&i).copied().or_else(|| numbers.get(i));
        if let Some(why) = held_because(&members, &answers_of, number, |i| names.get(i), |i| ids.get(i)) {
            decisions.extend(members.iter().map(|&i| decision(i, Action::Held, Vec::new(), why.clone())));
            continue;
        }
        let confirmed = |i: &usize| verdict_of(*i) == Some(Verdict::Consistent);
        let master = *members
            .iter()
            .max_by(|&&a, &&b| {
                (confirmed(&a), completeness(a), grade.get(a))
                    .cmp(&(confirmed(&b), completeness(b), grade.get(b)))
                    .then_with(|| ids.get(b).cmp(&ids.get(a)))
            })
            .expect("a person has a registration");
        let master_id = ids.get(master).unwrap_or("");
        for &i in &members {
            let verdict = verdict_of(i);
            if i != master {
                let (action, reason) = match verdict {
                    Some(Verdict::IdNotFound | Verdict::PersonNotFound) => (
                        Action::Delete,
                        crate::say!(
                            "与 {master_id} 为同一学生的重复学籍，公安核查：{}",
                            "duplicate registration of {master_id}; police: {}",
                            verdict.map_or("", Verdict::label)
                        ),
                    ),
                    Some(Verdict::Consistent) => (
                        Action::Delete,
                        crate::say!(
                            "与 {master_id} 为同一学生的重复学籍（同一证件号）",
                            "duplicate registration of {master_id} (one number)"
                        ),
                    ),
                    Some(v) => (
                        Action::SchoolCheck,
                        crate::say!(
                            "公安核查：{}。学校核实：是否与 {master_id} 为同一学生；如非同一人，补报本人证件号",
                            "police: {}. School to check: the same child as {master_id}? If not, send this child's own number",
                            v.label()
                        ),
                    ),
                    None => (
                        Action::DeleteUnchecked,
                        crate::say!("与 {master_id} 为同一学生的重复学籍", "duplicate registration of {master_id}"),
                    ),
                };
                decisions.push(decision(i, action, Vec::new(), reason));
                continue;
            }
            let mut changes = Vec::new();
            let (action, reason) = match verdict {
                Some(Verdict::Consistent) => {
                    // The confirmed number carries the birth date and the sex.
                    if let Some(number) = numbers.get(i).and_then(ResidentNumber::parse) {
                        if let Some(birth) = number.birth.filter(|b| births.get(i) != Some(b.to_epoch_days())) {
                            changes.push((crate::lang::pick("出生日期", "birth_date"), birth.to_string()));
                        }
                        let sex = if number.male { "1" } else { "2" };
                        if sexes.get(i) != Some(sex) {
                            changes.push((crate::lang::pick("性别", "sex"), crate::check::sex_label(sex).to_owned()));
                        }
                    }
                    if changes.is_empty() {
                        (
                            Action::Keep,
                            crate::say!("公安核查一致：姓名与证件号相符", "name and number confirmed by police"),
                        )
                    } else {
                        (
                            Action::Change,
                            crate::say!(
                                "公安核查证件号一致，登记的出生日期或性别与证件号不符",
                                "number confirmed by police; recorded values contradict it"
                            ),
                        )
                    }
                }
                Some(v) => (
                    Action::Evidence,
                    crate::say!(
                        "公安核查结果为“{}”：需提供身份证明材料",
                        "police verdict {}: evidence of identity needed",
                        v.label()
                    ),
                ),
                None if is_sent[i] => {
                    (Action::Evidence, crate::say!("已送公安核查，尚无结果", "sent for verification, no verdict yet"))
                }
                None => (Action::Keep, crate::say!("未送核查：身份无问题", "not sent: no problem with identity")),
            };
            decisions.push(decision(i, action, changes, reason));
        }
    }
    decisions.sort_by(|a, b| a.record_id.cmp(&b.record_id));
    Ok(decisions)
}

/// The schools' answers under 是否同一学生. A registration sent back to its school (学校核实)
/// that the school says is the same child is deleted as the duplicate it is. One the school
/// says is another child is never deleted, whatever police said: it is kept as a person of its
/// own, its own number to be sent (佐证). When the school of a group's kept registration says
/// its child is not the others, each registration the group would lose goes back to its own
/// school instead. A held group stays held; an answer that agrees with the decision changes
/// only its reason. Returns how many registrations an answer decided.
fn apply_school_answers(
    decisions: &mut [Decision],
    answers: &[SchoolAnswer],
    problems: &mut Vec<ReplyProblem>,
) -> usize {
    let index: HashMap<&str, usize> = decisions.iter().enumerate().map(|(k, d)| (d.record_id.as_str(), k)).collect();
    // Each registration's answer; `None` once two workbooks said both (neither is taken).
    let mut given: HashMap<usize, Option<bool>> = HashMap::new();
    for a in answers {
        let skip = |why: String| ReplyProblem {
            file: a.file.clone(),
            row: a.row,
            code: SCHOOL_ANSWER_NOT_APPLIED,
            message: why,
        };
        let Some(&k) = index.get(a.record_id.as_str()) else {
            problems.push(skip(crate::say!(
                "{}的“是否同一学生”未采用：本次查重无此记录",
                "{}: “same child?” not applied: no such record in this campaign",
                a.record_id
            )));
            continue;
        };
        let answer = given.entry(k).or_insert(Some(a.same_child));
        if answer.is_some_and(|same| same != a.same_child) {
            *answer = None;
            problems.push(skip(crate::say!(
                "{}的“是否同一学生”前后填写不一致：未采用",
                "{}: “same child?” answered both ways: not applied",
                a.record_id
            )));
        }
    }
    let answered: HashMap<usize, bool> = given.into_iter().filter_map(|(k, a)| Some((k, a?))).collect();
    // A group whose kept registration's school says its child is not the others.
    let kept = |d: &Decision| matches!(d.action, Action::Keep | Action::Change | Action::Evidence);
    let disowned: HashSet<String> = answered
        .iter()
        .filter(|&(&k, &same)| !same && kept(&decisions[k]))
        .map(|(&k, _)| decisions[k].person.clone())
        .collect();
    let mut decided = 0;
    for (k, d) in decisions.iter_mut().enumerate() {
        let answer = answered.get(&k).copied();
        let before = d.action;
        match (answer, d.action) {
            // Nothing of a held group is decided; the answer stays beside it for when it is.
            (Some(same), Action::Held) => {
                d.reason.push_str(&school_said(same));
                d.reason.push_str(&crate::say!("（待公安复核后处理）", " (to act on once police answer again)"));
            }
            (None, Action::Held) => {}
            (Some(true), Action::SchoolCheck) => {
                d.action = Action::Delete;
                d.reason.push_str(&crate::say!(
                    "；学校核实：同一学生，删除重复学籍",
                    "; the school: the same child, duplicate deleted"
                ));
            }
            (Some(false), action) if action.removes() || action == Action::SchoolCheck => {
                d.action = Action::Evidence;
                d.person = d.record_id.clone();
                d.reason.push_str(&crate::say!(
                    "；学校核实：不是同一学生，保留为另一学生；证件号非本人的，补报本人证件号",
                    "; the school: not the same child, kept as another child; send the child's own number if this one is not"
                ));
            }
            (None, action) if action.removes() && disowned.contains(&d.person) => {
                d.action = Action::SchoolCheck;
                d.reason.push_str(&crate::say!(
                    "；所在组保留学籍的学校核实为不是同一学生：学校核实是否为同一学生",
                    "; the school of the registration kept says it is not the same child: school to check"
                ));
            }
            (Some(same), _) => d.reason.push_str(&school_said(same)),
            (None, _) => {}
        }
        decided += usize::from(d.action != before);
    }
    decided
}

/// A school's 是否同一学生 answer as a decision's reason notes it.
fn school_said(same: bool) -> String {
    if same {
        crate::say!("；学校核实：同一学生", "; the school: the same child")
    } else {
        crate::say!("；学校核实：不是同一学生", "; the school: not the same child")
    }
}

/// Proposes the schools' corrections on the registrations kept (保留 becomes 变更); one on a
/// registration deleted or sent back to its school is listed, not applied. Returns how many
/// were proposed.
fn apply_corrections(
    decisions: &mut [Decision],
    corrections: &[Correction],
    problems: &mut Vec<ReplyProblem>,
) -> usize {
    let index: HashMap<String, usize> = decisions.iter().enumerate().map(|(k, d)| (d.record_id.clone(), k)).collect();
    let mut applied = 0;
    for c in corrections {
        let label = crate::lang::pick(crate::schema::label(c.field), c.field);
        let skip =
            |why: String| ReplyProblem { file: c.file.clone(), row: c.row, code: CORRECTION_NOT_APPLIED, message: why };
        let Some(&k) = index.get(&c.record_id) else {
            problems.push(skip(crate::say!(
                "{}的更正未采用：本次查重无此记录",
                "{}: correction not applied: no such record in this campaign",
                c.record_id
            )));
            continue;
        };
        let d = &mut decisions[k];
        if !matches!(d.action, Action::Keep | Action::Change | Action::Evidence) {
            problems.push(skip(crate::say!(
                "{}的更正未采用：该学籍的处理为“{}”",
                "{}: correction not applied: the registration is to {}",
                c.record_id,
                d.action.label()
            )));
            continue;
        }
        d.changes.retain(|(field, _)| *field != label);
        d.changes.push((label, c.value.clone()));
        if d.action == Action::Keep {
            d.action = Action::Change;
        }
        d.reason.push_str(&crate::say!("；学校更正{label}", "; corrected by the school: {label}"));
        applied += 1;
    }
    applied
}

/// Why a group's answers decide nothing (rule 1 of [`decide`]), if they do not.
fn held_because<'a>(
    members: &[usize],
    answers_of: &HashMap<usize, &[Answer]>,
    number: impl Fn(usize) -> Option<&'a str>,
    name: impl Fn(usize) -> Option<&'a str>,
    id: impl Fn(usize) -> Option<&'a str>,
) -> Option<String> {
    let record = |i: usize| id(i).unwrap_or("").to_owned();
    for &i in members {
        let Some(given) = answers_of.get(&i) else { continue };
        for answer in given.iter() {
            match answer {
                Answer::Blank => {
                    return Some(crate::say!(
                        "{} 的核查结果为空：请公安补填",
                        "{}: the verdict is blank: ask police to fill it",
                        record(i)
                    ))
                }
                Answer::Unreadable(raw) => {
                    return Some(crate::say!(
                        "{} 的核查结果“{raw}”无法识别：请公安按规范用语重新填写",
                        "{}: verdict {raw:?} is no known wording: ask police to word it again",
                        record(i)
                    ))
                }
                Answer::Verdict(_) => {}
            }
        }
        if given.len() > 1 {
            let said: Vec<String> = given
                .iter()
                .filter_map(|a| if let Answer::Verdict(v) = a { Some(v.label().to_owned()) } else { None })
                .collect();
            return Some(crate::say!(
                "{} 收到相互矛盾的核查结果（{}）：请公安重新核查",
                "{}: contradicting verdicts ({}): ask police again",
                record(i),
                said.join("/")
            ));
        }
    }
    let verdict = |i: usize| match answers_of.get(&i) {
        Some([Answer::Verdict(v)]) => Some(*v),
        _ => None,
    };
    // Per number: 一致 (and for which names), and what else was said of it.
    let mut by_number: BTreeMap<&str, (Vec<&str>, Vec<Verdict>)> = BTreeMap::new();
    for &i in members {
        let (Some(n), Some(v)) = (number(i), verdict(i)) else { continue };
        let entry = by_number.entry(n).or_default();
        if v == Verdict::Consistent {
            entry.0.push(name(i).unwrap_or(""));
        } else {
            entry.1.push(v);
        }
    }
    let confirmed: Vec<&str> = by_number.iter().filter(|(_, (c, _))| !c.is_empty()).map(|(n, _)| *n).collect();
    for (n, (consistent_names, others)) in &by_number {
        let mut names = consistent_names.clone();
        names.sort_unstable();
        names.dedup();
        let denied = others.iter().any(|v| !matches!(v, Verdict::NameMismatch | Verdict::Duplicate));
        if names.len() > 1 || (!names.is_empty() && denied) {
            return Some(crate::say!(
                "证件号 {n} 的核查结果相互矛盾：请公安重新核查",
                "number {n}: the verdicts contradict each other: ask police again"
            ));
        }
    }
    if confirmed.len() > 1 {
        return Some(crate::say!(
            "两个证件号（{}）均核查一致：可能是两名学生，请学校核实后重新报送",
            "two numbers ({}) both confirmed: maybe two children; the school to check",
            confirmed.join("、")
        ));
    }
    None
}

/// decisions.csv as people read it: Chinese headers and verdicts, the codes beside them.
fn decisions_for_people(decisions: &[Decision]) -> Result<DataFrame> {
    let text = |(zh, en): (&str, &str), f: &dyn Fn(&Decision) -> Option<String>| {
        StringChunked::from_iter_options(crate::lang::pick(zh, en).into(), decisions.iter().map(f)).into_column()
    };
    Ok(DataFrame::new(
        decisions.len(),
        vec![
            text(("记录号", "record_id"), &|d| Some(d.record_id.clone())),
            text(("处理", "action"), &|d| Some(d.action.label().to_owned())),
            text(("理由", "reason"), &|d| Some(d.reason.clone())),
            text(("更正", "changes"), &|d| {
                (!d.changes.is_empty()).then(|| {
                    d.changes
                        .iter()
                        .map(|(f, v)| format!("{f}={v}"))
                        .collect::<Vec<_>>()
                        .join(crate::lang::pick("；", "; "))
                })
            }),
            text(("核查结果", "verdict"), &|d| d.verdict.map(|v| v.label().to_owned())),
            text(("已送核查", "sent"), &|d| {
                Some(crate::lang::pick(if d.sent { "是" } else { "否" }, if d.sent { "yes" } else { "no" }).to_owned())
            }),
            text(("同一学生", "person_id"), &|d| Some(d.person.clone())),
            text(("核查结果代码", "verdict_code"), &|d| d.verdict.map(|v| v.code().to_owned())),
        ],
    )?)
}

fn decisions_frame(decisions: &[Decision]) -> Result<DataFrame> {
    let text = |name: &str, f: &dyn Fn(&Decision) -> Option<String>| {
        StringChunked::from_iter_options(name.into(), decisions.iter().map(f)).into_column()
    };
    Ok(DataFrame::new(
        decisions.len(),
        vec![
            text("record_id", &|d| Some(d.record_id.clone())),
            text("person_id", &|d| Some(d.person.clone())),
            BooleanChunked::from_iter_values("sent".into(), decisions.iter().map(|d| d.sent)).into_column(),
            text("verdict", &|d| d.verdict.map(|v| v.code().to_owned())),
            text("action", &|d| Some(d.action.label().to_owned())),
            text("changes", &|d| {
                (!d.changes.is_empty())
                    .then(|| d.changes.iter().map(|(f, v)| format!("{f}={v}")).collect::<Vec<_>>().join(";"))
            }),
            text("reason", &|d| Some(d.reason.clone())),
        ],
    )?)
}

/// One row per person: the surviving registration's record, its proposed correction applied.
fn unique_students(records: &DataFrame, decisions: &[Decision]) -> Result<DataFrame> {
    let ids = Text::of(records, "record_id")?;
    let index: HashMap<&str, usize> = (0..records.height()).filter_map(|i| Some((ids.get(i)?, i))).collect();
    let mut registrations: HashMap<&str, u32> = HashMap::new();
    for d in decisions {
        *registrations.entry(d.person.as_str()).or_default() += 1;
    }
    // One row per person: its master; a held person once, by its first registration, with the
    // action that says it is undecided. (A registration sent back to its school is not a
    // person's master.)
    let rank = |d: &Decision| match d.action {
        Action::Keep | Action::Change | Action::Evidence => 0,
        _ => 1,
    };
    let mut candidates: Vec<&Decision> = decisions.iter().filter(|d| !d.action.removes()).collect();
    candidates.sort_by_key(|d| rank(d));
    let mut listed: HashSet<&str> = HashSet::new();
    let mut kept: Vec<&Decision> = candidates.into_iter().filter(|d| listed.insert(d.person.as_str())).collect();
    kept.sort_by(|a, b| a.record_id.cmp(&b.record_id));
    let rows: Vec<usize> = kept.iter().map(|d| index[d.record_id.as_str()]).collect();
    let text = |name: &str, values: Text| {
        StringChunked::from_iter_options(name.into(), rows.iter().map(|&i| values.get(i))).into_column()
    };
    let column = |name: &str| Ok::<_, Error>(text(name, Text::of(records, name)?));
    let (births, grade) = (Ints::of(records, "birth_date_norm")?, Ints::of(records, "grade_norm")?);
    Ok(DataFrame::new(
        kept.len(),
        vec![
            StringChunked::from_iter_values("person_id".into(), kept.iter().map(|d| d.person.as_str())).into_column(),
            column("record_id")?,
            column("name_norm")?,
            column("sex_norm")?,
            Int32Chunked::from_iter_options("birth_date".into(), rows.iter().map(|&i| births.get(i)))
                .into_date()
                .into_column(),
            column("id_norm")?,
            column("school_code_norm")?,
            text("school_name", Text::optional(records, "school_name")?),
            Int32Chunked::from_iter_options("grade".into(), rows.iter().map(|&i| grade.get(i))).into_column(),
            StringChunked::from_iter_values("action".into(), kept.iter().map(|d| d.action.label())).into_column(),
            UInt32Chunked::from_iter_values(
                "registrations".into(),
                kept.iter().map(|d| registrations[d.person.as_str()]),
            )
            .into_column(),
        ],
    )?)
}

fn write_masters(path: &Path, decisions: &[Decision]) -> Result<()> {
    use crate::lang::pick;
    let mut by_person: BTreeMap<&str, (Option<&str>, Vec<&str>)> = BTreeMap::new();
    for d in decisions {
        let entry = by_person.entry(d.person.as_str()).or_default();
        if d.action.removes() {
            entry.1.push(d.record_id.as_str());
        } else {
            entry.0 = Some(d.record_id.as_str());
        }
    }
    let several: Vec<(&str, (Option<&str>, Vec<&str>))> =
        by_person.into_iter().filter(|(_, (_, deleted))| !deleted.is_empty()).collect();
    let df = DataFrame::new(
        several.len(),
        vec![
            StringChunked::from_iter_values(pick("同一学生", "person_id").into(), several.iter().map(|s| s.0))
                .into_column(),
            StringChunked::from_iter_options(
                pick("保留记录号", "master_record_id").into(),
                several.iter().map(|s| s.1 .0),
            )
            .into_column(),
            StringChunked::from_iter_values(
                pick("删除记录号", "deleted_record_ids").into(),
                several.iter().map(|s| s.1 .1.join(";")),
            )
            .into_column(),
        ],
    )?;
    crate::files::write_csv(path, &df)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "110105201501020012";
    const B: &str = "110105201501030018";

    /// A group of registrations `("F1", number, name)` sent in one cluster, each answered with
    /// the replies given (a verdict's wording, `""` for a blank one), in order.
    fn decide_group(rows: &[(&str, &str, &str, &[&str])]) -> Vec<(String, Action)> {
        decisions_of(rows).into_iter().map(|d| (d.record_id, d.action)).collect()
    }

    fn decisions_of(rows: &[(&str, &str, &str, &[&str])]) -> Vec<Decision> {
        let df = df!(
            "record_id" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            "id_norm" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            "name_norm" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            "sex_norm" => rows.iter().map(|_| "1").collect::<Vec<_>>(),
            // Each recorded birth date as its own number says (no 变更).
            "birth_date_norm" => rows.iter().map(|r| {
                let number = ResidentNumber::parse(r.1).unwrap();
                number.birth.unwrap().to_epoch_days()
            }).collect::<Vec<_>>(),
            "grade_norm" => rows.iter().map(|_| None::<i32>).collect::<Vec<_>>(),
            "ethnicity_norm" => rows.iter().map(|_| None::<&str>).collect::<Vec<_>>(),
            "school_code_norm" => rows.iter().map(|_| None::<&str>).collect::<Vec<_>>(),
            "guardian_phone_norm" => rows.iter().map(|_| None::<&str>).collect::<Vec<_>>(),
        )
        .unwrap();
        let sent: Vec<SentRow> = rows
            .iter()
            .map(|r| SentRow {
                batch: "B1".into(),
                record_id: r.0.into(),
                cluster: (rows.len() > 1).then(|| "C1".into()),
                reasons: String::new(),
                name: r.2.into(),
                id_number: Some(r.1.into()),
            })
            .collect();
        let mut answers: HashMap<usize, Vec<Answer>> = HashMap::new();
        for (k, r) in rows.iter().enumerate() {
            for raw in r.3 {
                let answer = match parse_verdict(raw) {
                    Some(v) => Answer::Verdict(v),
                    None if raw.trim().is_empty() => Answer::Blank,
                    None => Answer::Unreadable((*raw).into()),
                };
                let given = answers.entry(k).or_default();
                if !given.contains(&answer) {
                    given.push(answer);
                }
            }
        }
        decide(&df, &sent, &answers).unwrap()
    }

    /// The group's decisions once its schools answered 是否同一学生 (`(record, same child)`):
    /// each registration's action and person, and what could not be taken.
    fn after_schools(
        rows: &[(&str, &str, &str, &[&str])],
        answers: &[(&str, bool)],
    ) -> (Vec<(Action, String)>, Vec<ReplyProblem>) {
        let mut decisions = decisions_of(rows);
        let answers: Vec<SchoolAnswer> = answers
            .iter()
            .enumerate()
            .map(|(k, &(record, same_child))| SchoolAnswer {
                file: "回执.xlsx".into(),
                row: k as u32 + 2,
                record_id: record.into(),
                same_child,
            })
            .collect();
        let mut problems = Vec::new();
        apply_school_answers(&mut decisions, &answers, &mut problems);
        (decisions.into_iter().map(|d| (d.action, d.person)).collect(), problems)
    }

    /// Issue #26: twin sisters, one registered with the other's number. Police answer 一致 for
    /// 张茜 and 姓名与身份证号码不匹配 for 张苒; only her school can say whether she is 张茜 typed
    /// wrong or her sister, and until it does nothing is deleted.
    #[test]
    fn only_the_school_decides_one_child_or_two() {
        use Action::*;
        let twins: &[(&str, &str, &str, &[&str])] =
            &[("F1", A, "张茜", &["一致"]), ("F2", A, "张苒", &["姓名与身份证号码不匹配"])];
        let actions =
            |(decided, _): (Vec<(Action, String)>, _)| decided.into_iter().map(|(a, _)| a).collect::<Vec<_>>();
        assert_eq!(actions(after_schools(twins, &[])), [Keep, SchoolCheck]);
        // Not the same child: both registrations stay, as two people.
        let (two, problems) = after_schools(twins, &[("F2", false)]);
        assert_eq!(two.iter().map(|(a, _)| *a).collect::<Vec<_>>(), [Keep, Evidence]);
        assert!(two.iter().all(|(a, _)| !a.removes()) && problems.is_empty());
        assert_ne!(two[0].1, two[1].1, "two people: {two:?}");
        // The same child: the registration sent back goes.
        assert_eq!(actions(after_schools(twins, &[("F2", true)])), [Keep, Delete]);
        // Answered both ways: neither is taken, and that is said.
        let (undecided, problems) = after_schools(twins, &[("F2", true), ("F2", false)]);
        assert_eq!(undecided.iter().map(|(a, _)| *a).collect::<Vec<_>>(), [Keep, SchoolCheck]);
        assert!(problems.iter().any(|p| p.message.contains("前后填写不一致")), "{problems:?}");
        assert!(problems.iter().all(|p| p.code == SCHOOL_ANSWER_NOT_APPLIED), "{problems:?}");

        // A number police say does not exist, on a child the school says is another: kept.
        let other: &[(&str, &str, &str, &[&str])] =
            &[("F1", A, "陈梓涵", &["一致"]), ("F2", B, "陈梓瀚", &["身份证号不存在"])];
        assert_eq!(actions(after_schools(other, &[("F2", false)])), [Keep, Evidence]);
        // The school of the registration kept says its child is not the other: the one the group
        // would lose goes back to its own school.
        let unchecked: &[(&str, &str, &str, &[&str])] = &[("F1", A, "张三", &["一致"]), ("F2", B, "张三", &[])];
        assert_eq!(actions(after_schools(unchecked, &[])), [Keep, DeleteUnchecked]);
        assert_eq!(actions(after_schools(unchecked, &[("F1", false)])), [Keep, SchoolCheck]);
        // A held group stays held; a record not in the campaign is said, not lost.
        let held: &[(&str, &str, &str, &[&str])] = &[("F1", A, "张三", &["一致", "不一致"])];
        let (still, problems) = after_schools(held, &[("F1", false), ("F9", true)]);
        assert_eq!(still.iter().map(|(a, _)| *a).collect::<Vec<_>>(), [Held]);
        assert!(problems.iter().any(|p| p.message.contains("F9")), "{problems:?}");
        // The held group's answer is kept beside it, never dropped unseen.
        let mut decisions = decisions_of(held);
        let answer = SchoolAnswer { file: "回执.xlsx".into(), row: 2, record_id: "F1".into(), same_child: false };
        apply_school_answers(&mut decisions, &[answer], &mut Vec::new());
        assert!(decisions[0].reason.contains("不是同一学生"), "{}", decisions[0].reason);
    }

    fn actions(rows: &[(&str, &str, &str, &[&str])]) -> Vec<Action> {
        decide_group(rows).into_iter().map(|(_, a)| a).collect()
    }

    #[test]
    fn the_decision_table() {
        use Action::*;
        // A confirmed number keeps its registration; a duplicate under a number that does not
        // exist goes (陈梓涵 / 陈梓瀚).
        assert_eq!(
            actions(&[("F1", A, "陈梓涵", &["一致"]), ("F2", B, "陈梓瀚", &["身份证号不存在"])]),
            [Keep, Delete]
        );
        assert_eq!(actions(&[("F1", A, "陈梓涵", &["一致"]), ("F2", B, "陈梓瀚", &["查无此人"])]), [Keep, Delete]);
        // One number, 一致 for one name and 姓名与身份证号码不匹配 for the other: the number is the
        // first's; the other goes back to its school, never deleted (黄鹤彬 / 黄鹤斌).
        assert_eq!(
            actions(&[("F1", A, "黄鹤彬", &["一致"]), ("F2", A, "黄鹤斌", &["姓名与身份证号码不匹配"])]),
            [Keep, SchoolCheck]
        );
        for other in ["不一致", "已死亡", "已注销", "重复"] {
            assert_eq!(
                actions(&[("F1", A, "张三", &["一致"]), ("F2", B, "张叁", &[other])]),
                [Keep, SchoolCheck],
                "{other}"
            );
        }
        // Not answered: only proposed for deletion.
        assert_eq!(actions(&[("F1", A, "张三", &["一致"]), ("F2", B, "张三", &[])]), [Keep, DeleteUnchecked]);
        // Nothing confirmed: the most complete kept for evidence.
        assert_eq!(
            actions(&[("F1", A, "张三", &["查无此人"]), ("F2", B, "张三", &["身份证号不存在"])]),
            [Evidence, Delete]
        );
        // Alone.
        assert_eq!(actions(&[("F1", A, "张三", &["一致"])]), [Keep]);
        assert_eq!(actions(&[("F1", A, "张三", &["身份证号不存在"])]), [Evidence]);
        assert_eq!(actions(&[("F1", A, "张三", &[])]), [Evidence], "sent, not answered");

        // Held: a blank verdict, two verdicts on one row, one number judged two ways, two
        // numbers both confirmed.
        assert_eq!(actions(&[("F1", A, "陈梓涵", &[""]), ("F2", B, "陈梓瀚", &["身份证号不存在"])]), [Held, Held]);
        assert_eq!(actions(&[("F1", A, "张三", &["一致", "不一致"])]), [Held]);
        assert_eq!(actions(&[("F1", A, "张三", &["一致"]), ("F2", A, "张三", &["身份证号不存在"])]), [Held, Held]);
        assert_eq!(actions(&[("F1", A, "张三", &["一致"]), ("F2", A, "李四", &["一致"])]), [Held, Held]);
        assert_eq!(actions(&[("F1", A, "张茜", &["一致"]), ("F2", B, "张苒", &["一致"])]), [Held, Held]);
    }

    /// A typo next to every verdict is no verdict: the group is held, never decided by it.
    #[test]
    fn a_typo_holds_the_group() {
        for typo in
            ["一至", "一玫", "壹致", "身份证号不存", "姓名与身份证号码不配", "查无次人", "已死往", "重附", "待定"]
        {
            assert_eq!(parse_verdict(typo), None, "{typo}");
            assert_eq!(
                actions(&[("F1", A, "陈梓涵", &[typo]), ("F2", B, "陈梓瀚", &["身份证号不存在"])]),
                [Action::Held, Action::Held],
                "{typo}"
            );
        }
    }

    /// Replies read in either order decide alike.
    #[test]
    fn reply_order_changes_nothing() {
        for pair in [["一致", "不一致"], ["一致", "一至"], ["", "一致"]] {
            let forward = actions(&[("F1", A, "张三", &pair)]);
            let backward = actions(&[("F1", A, "张三", &[pair[1], pair[0]])]);
            assert_eq!((forward.clone(), backward), (vec![Action::Held], vec![Action::Held]), "{pair:?}");
        }
        let one = actions(&[("F1", A, "黄鹤彬", &["一致"]), ("F2", A, "黄鹤斌", &["姓名与身份证号码不匹配"])]);
        let other = actions(&[("F2", A, "黄鹤斌", &["姓名与身份证号码不匹配"]), ("F1", A, "黄鹤彬", &["一致"])]);
        assert_eq!(one, other);
    }

    #[test]
    fn verdict_wordings() {
        for (raw, verdict) in [
            ("一致", Verdict::Consistent),
            ("核查结果：一致", Verdict::Consistent),
            (" 信息一致。", Verdict::Consistent),
            ("不一致", Verdict::Inconsistent),
            ("身份证号不存在", Verdict::IdNotFound),
            ("公民身份号码不存在", Verdict::IdNotFound),
            ("身份证号与姓名不匹配", Verdict::NameMismatch),
            ("姓名与身份证号码不匹配", Verdict::NameMismatch),
            ("查无此人", Verdict::PersonNotFound),
            ("已死亡", Verdict::Deceased),
            ("已注销", Verdict::Deceased),
            ("重复", Verdict::Duplicate),
            ("核查结果：户籍重复 ", Verdict::Duplicate),
        ] {
            assert_eq!(parse_verdict(raw), Some(verdict), "{raw}");
        }
        for raw in ["", "待核查", "一致?不确定", "OK"] {
            assert_eq!(parse_verdict(raw), None, "{raw}");
        }
    }
}

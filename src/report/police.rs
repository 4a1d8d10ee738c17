//! The match lists sent to public security (公安) for identity verification: who is sent, in the
//! columns police checks expect, split by city into Excel (constant memory, split before the row
//! limit) and CSV files, with a SHA-256 manifest.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::columns::{Ints, Text};
use crate::error::{Error, Result};
use crate::files::{file_stem, inert, short_hash, AtomicFile};
use crate::normalize::date::Date;
use crate::normalize::region;
use crate::outcome::{DedupeRun, PairKind};

/// Why a record is sent. Stable codes; a record sent for several reasons lists them all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Reason {
    /// Registered more than once (一人多籍): every registration of the person is verified.
    Duplicate,
    /// One number on different people.
    IdConflict,
    /// The number fails GB 11643 verification.
    IdInvalid,
    /// No number, but the person's other registration carries a valid one (sent for checking).
    IdMissingLikely,
}

impl Reason {
    pub fn code(self) -> &'static str {
        match self {
            Reason::Duplicate => "DUPLICATE",
            Reason::IdConflict => "ID_CONFLICT",
            Reason::IdInvalid => "ID_INVALID",
            Reason::IdMissingLikely => "ID_MISSING_LIKELY",
        }
    }

    /// As the police list says it.
    pub fn label(self) -> &'static str {
        let (zh, en) = match self {
            Reason::Duplicate => ("一人多籍", "registered more than once"),
            Reason::IdConflict => ("证件号被多人使用", "number used by several people"),
            Reason::IdInvalid => ("证件号无效", "invalid number"),
            Reason::IdMissingLikely => ("缺证件号(推断)", "no number (inferred)"),
        };
        crate::lang::pick(zh, en)
    }
}

/// The exported columns, as police verification sheets name them.
pub const HEADERS: [&str; 20] = [
    "批次号",
    "记录号",
    "聚类号",
    "证件号冲突组",
    "核查原因",
    "核查原因代码",
    "姓名",
    "性别",
    "出生日期",
    "身份证件类型",
    "身份证件号",
    "证件号来源",
    "户口所在地",
    "学校名称",
    "学校标识码",
    "年级",
    "班级",
    "核查结果",
    "备注",
    "分派依据",
];

/// The wordings the 核查结果 column offers police (an Excel list): those `reconcile` reads.
pub const VERDICTS: [&str; 7] =
    ["一致", "不一致", "身份证号不存在", "姓名与身份证号码不匹配", "查无此人", "已死亡/已注销", "重复"];

/// [`HEADERS`] in English (`--lang en`), column by column.
pub const HEADERS_EN: [&str; 20] = [
    "batch",
    "record_no",
    "cluster",
    "number_conflict_group",
    "check_reason",
    "check_reason_code",
    "name",
    "sex",
    "birth_date",
    "id_type",
    "id_number",
    "number_source",
    "household_address",
    "school_name",
    "school_code",
    "grade",
    "class",
    "verdict",
    "remarks",
    "routed_by",
];

/// The headers in the language people read.
pub fn headers() -> [&'static str; 20] {
    if crate::lang::english() {
        HEADERS_EN
    } else {
        HEADERS
    }
}

/// The row count Excel allows in a sheet, header included.
const EXCEL_ROWS: usize = 1_048_576;

#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// Also split each city's list by county.
    pub by_county: bool,
    /// Write 2101**********1234 instead of full numbers.
    pub mask: bool,
    /// Data rows per file; at most (and by default) what an Excel sheet holds under its header.
    pub max_rows: Option<usize>,
    /// The campaign's province (two digits), whose police the lists go to; default: the one
    /// its schools' codes give ([`crate::normalize::places::campaign_province`]).
    pub province: Option<String>,
}

/// The list for groups whose households are all outside the campaign's province: the provincial
/// 公安厅 queries the national population system for them.
pub fn outside_province() -> &'static str {
    crate::lang::pick("省外户籍", "household outside the province")
}

/// The list for groups with no usable place: no 户口所在地 and no number that names a region.
pub fn place_unknown() -> &'static str {
    crate::lang::pick("户籍地不明", "household unknown")
}

/// One record as sent.
#[derive(Clone, Debug)]
pub struct Sent {
    pub record: u32,
    pub cluster: Option<String>,
    /// The records sharing one number between different people (an ID conflict) share this.
    pub conflict_group: Option<String>,
    pub reasons: Vec<Reason>,
    /// The number sent: the record's own, or for ID_MISSING_LIKELY its cluster's valid one.
    pub id_number: Option<String>,
    pub group: String,
    /// Why the record is on its group's list: the household or number that placed its group.
    pub routed_by: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct ExportedFile {
    pub path: PathBuf,
    pub batch: String,
    pub rows: usize,
    pub sha256: String,
}

/// Chooses who is sent and why: every record in a duplicate cluster, both sides of every ID
/// conflict, every record whose number fails verification, and every record without a number
/// whose cluster has a valid one.
pub fn select(run: &DedupeRun, options: &ExportOptions) -> Result<Vec<Sent>> {
    let records = &run.check.records;
    let ids = Text::of(records, "id_norm")?;
    let valid: Vec<bool> = records.column("id_valid")?.bool()?.iter().map(|v| v == Some(true)).collect();
    // A number a spreadsheet rounded is no number to verify: it is sent by its cluster's, if any.
    let lost: std::collections::HashSet<usize> = run
        .check
        .problems
        .iter()
        .filter(|p| p.code == crate::problems::Code::CellNumberPrecisionLost)
        .map(|p| p.record)
        .collect();
    let own = |i: usize| ids.get(i).filter(|_| !lost.contains(&i));
    let mut reasons: BTreeMap<u32, Vec<Reason>> = BTreeMap::new();
    let mut cluster_of: HashMap<u32, String> = HashMap::new();
    let mut likely: HashMap<u32, String> = HashMap::new();
    for (record, cluster, _) in run.cluster_ids()? {
        reasons.entry(record).or_default().push(Reason::Duplicate);
        cluster_of.insert(record, cluster);
    }
    for members in &run.clustering.clusters {
        let valid_number = members.iter().find(|&&m| valid[m as usize]).and_then(|&m| ids.get(m as usize));
        for &m in members {
            if let (None, Some(number)) = (own(m as usize), valid_number) {
                reasons.entry(m).or_default().push(Reason::IdMissingLikely);
                likely.insert(m, number.to_owned());
            }
        }
    }
    for pair in run.pairs.iter().filter(|p| p.kind == PairKind::IdConflict) {
        for r in [pair.a, pair.b] {
            reasons.entry(r).or_default().push(Reason::IdConflict);
        }
    }
    for p in run.check.problems.iter().filter(|p| p.code == crate::problems::Code::IdConflict) {
        reasons.entry(p.record as u32).or_default().push(Reason::IdConflict);
    }
    for (i, &ok) in valid.iter().enumerate() {
        if !ok && own(i).is_some() {
            reasons.entry(i as u32).or_default().push(Reason::IdInvalid);
        }
    }
    let record_ids = Text::of(records, "record_id")?;
    // Records sharing a number between different people, by the number.
    let mut conflicts: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for (&record, why) in &reasons {
        if let (true, Some(number)) = (why.contains(&Reason::IdConflict), ids.get(record as usize)) {
            conflicts.entry(number).or_default().push(record);
        }
    }
    let mut conflict_group: HashMap<u32, String> = HashMap::new();
    for members in conflicts.values() {
        let first = members.iter().filter_map(|&m| record_ids.get(m as usize)).min().unwrap_or("");
        for &m in members {
            conflict_group.insert(m, format!("{}-{first}", crate::lang::pick("冲突", "conflict")));
        }
    }

    // Police verify a person where the household is registered (户籍地), and the campaign's
    // lists go to its own province's police: a group goes to the city of the 户口所在地 one of
    // its records gives in the province, else of the number's region when that is in the
    // province; a group whose households are all elsewhere goes to the provincial 公安厅's
    // 省外户籍 list, one with no usable place to 户籍地不明. A person's registrations, and the
    // records of one contested number, go whole to one list.
    let province = match &options.province {
        Some(p) => Some(p.clone()),
        None => crate::normalize::places::campaign_province(records)?,
    };
    let households = Text::optional(records, "household_address")?;
    let number_of = |i: usize| own(i).or_else(|| likely.get(&(i as u32)).map(String::as_str));
    let region_of = |n: &str| {
        let county = n.get(..6).filter(|c| c.bytes().all(|b| b.is_ascii_digit()))?;
        region::region_name(county).map(|_| county.to_owned())
    };
    // Where one record places its group, and why: (county code, said) in the province, or a
    // household elsewhere.
    enum Placed {
        Here(String, String),
        Elsewhere(String),
    }
    let place_of = |i: usize| -> (Option<Placed>, Option<Placed>) {
        let province = province.as_deref().unwrap_or("");
        let household = households.get(i).map(str::trim).filter(|h| !h.is_empty());
        let by_household = household.and_then(|h| match region::place_named(h, province) {
            Some(county) => Some(Placed::Here(county, crate::say!("户口所在地：{h}", "household: {h}"))),
            None => {
                region::province_named(h).map(|_| Placed::Elsewhere(crate::say!("户口所在地：{h}", "household: {h}")))
            }
        });
        let by_number = number_of(i).and_then(region_of).map(|county| {
            let said = crate::say!(
                "身份证号地区：{county} {}",
                "number's region: {county} {}",
                region::region_name(&county).unwrap_or("")
            );
            if county.starts_with(province) && !province.is_empty() {
                Placed::Here(county, said)
            } else {
                Placed::Elsewhere(said)
            }
        });
        (by_household, by_number)
    };
    let list_of = |county: &str| -> String {
        let city = region::city_code(county).unwrap_or_default();
        let city_name = region::region_name(&city).unwrap_or("");
        if options.by_county {
            format!("{city_name} {}", region::region_name(county).unwrap_or(""))
        } else {
            city_name.to_owned()
        }
    };
    let mut routes = crate::cluster::Components::new(records.height());
    for members in run.clustering.clusters.iter().map(|c| c.as_slice()).chain(conflicts.values().map(Vec::as_slice)) {
        for pair in members.windows(2) {
            routes.union(pair[0], pair[1]);
        }
    }
    let mut groups: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for &record in reasons.keys() {
        groups.entry(routes.find(record)).or_default().push(record);
    }
    let mut route_group: HashMap<u32, (String, String)> = HashMap::new();
    for (root, members) in &groups {
        let placed: Vec<(Option<Placed>, Option<Placed>)> = members.iter().map(|&m| place_of(m as usize)).collect();
        let here = |pick: &dyn Fn(&(Option<Placed>, Option<Placed>)) -> &Option<Placed>| {
            placed.iter().find_map(|p| match pick(p) {
                Some(Placed::Here(county, said)) => Some((list_of(county), said.clone())),
                _ => None,
            })
        };
        let elsewhere = placed.iter().find_map(|(h, n)| match (h, n) {
            (Some(Placed::Elsewhere(said)), _) | (_, Some(Placed::Elsewhere(said))) => Some(said.clone()),
            _ => None,
        });
        let route = here(&|p| &p.0)
            .or_else(|| here(&|p| &p.1))
            .or_else(|| elsewhere.map(|said| (outside_province().to_owned(), said)))
            .unwrap_or_else(|| {
                (
                    place_unknown().to_owned(),
                    crate::lang::pick("无户口所在地，证件号无地区", "no household, no region in the number").to_owned(),
                )
            });
        route_group.insert(*root, route);
    }
    let mut sent: Vec<Sent> = reasons
        .into_iter()
        .map(|(record, mut reasons)| {
            reasons.sort_unstable();
            reasons.dedup();
            let i = record as usize;
            let (group, routed_by) = route_group[&routes.find(record)].clone();
            let id_number = own(i).map(str::to_owned).or_else(|| likely.get(&record).cloned());
            Sent {
                record,
                cluster: cluster_of.get(&record).cloned(),
                conflict_group: conflict_group.get(&record).cloned(),
                reasons,
                id_number,
                group,
                routed_by,
            }
        })
        .collect();
    // Grouped by city, then cluster (a person's registrations side by side), then record.
    sent.sort_by(|a, b| {
        let key = |s: &Sent| {
            (
                s.group.clone(),
                s.cluster.clone().unwrap_or_else(|| record_ids.get(s.record as usize).unwrap_or("").to_owned()),
            )
        };
        key(a).cmp(&key(b)).then(a.record.cmp(&b.record))
    });
    Ok(sent)
}

/// `2101**********1234`: the first and last four characters kept.
pub fn mask(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    chars.iter().enumerate().map(|(i, &c)| if i < 4 || i >= chars.len() - 4 { c } else { '*' }).collect()
}

/// Writes the lists into `dir` (one .xlsx and one .csv per group and part, `SHA256SUMS`).
/// The batch ids carry the campaign day (`20261129-大连市-1`), which also dates the workbooks.
pub fn export(
    run: &DedupeRun,
    sent: &[Sent],
    dir: &Path,
    day: Date,
    options: &ExportOptions,
) -> Result<Vec<ExportedFile>> {
    let campaign = day.compact();
    crate::files::output_dir(dir)?;
    let records = &run.check.records;
    let text = |name: &str| Text::of(records, name);
    let (record_id, name, sex, doc_type) =
        (text("record_id")?, text("name_norm")?, text("sex_norm")?, text("id_type_norm")?);
    let ids = text("id_norm")?;
    let (household, school, school_code, class) = (
        Text::optional(records, "household_address")?,
        Text::optional(records, "school_name")?,
        text("school_code_norm")?,
        text("class_norm")?,
    );
    let (birth, grade) = (Ints::of(records, "birth_date_norm")?, Ints::of(records, "grade_norm")?);
    let max_rows = options.max_rows.unwrap_or(EXCEL_ROWS - 1).clamp(1, EXCEL_ROWS - 1);

    // The files named in order (a name taken twice gets a hash), then made in parallel.
    let mut lists: Vec<(&str, String, &[Sent])> = Vec::new();
    let mut stems = std::collections::HashSet::new();
    let mut start = 0;
    while start < sent.len() {
        let group = &sent[start].group;
        let end = start + sent[start..].iter().take_while(|s| &s.group == group).count();
        // Two groups whose names differ only in characters made `_` keep their own files.
        let mut group_stem = file_stem(group);
        if !stems.insert(group_stem.clone()) {
            group_stem = format!("{group_stem}~{}", short_hash(group));
        }
        for (part, chunk) in sent[start..end].chunks(max_rows).enumerate() {
            let stem = if part == 0 { group_stem.clone() } else { format!("{group_stem}_{}", part + 1) };
            lists.push((group, stem, chunk));
        }
        start = end;
    }
    let list_files = |(group, stem, chunk): &(&str, String, &[Sent])| -> Result<Vec<ExportedFile>> {
        // One batch per file, named as the file is: unique, whatever the grouping.
        let batch = format!("{campaign}-{stem}");
        let rows: Vec<[String; HEADERS.len()]> = chunk
            .iter()
            .map(|s| {
                let i = s.record as usize;
                let get = |t: &Text| t.get(i).unwrap_or("").to_owned();
                let number = s
                    .id_number
                    .as_deref()
                    .map(|n| if options.mask { mask(n) } else { n.to_owned() })
                    .unwrap_or_default();
                [
                    batch.clone(),
                    get(&record_id),
                    s.cluster.clone().unwrap_or_default(),
                    s.conflict_group.clone().unwrap_or_default(),
                    s.reasons.iter().map(|r| r.label()).collect::<Vec<_>>().join(crate::lang::pick("；", "; ")),
                    s.reasons.iter().map(|r| r.code()).collect::<Vec<_>>().join(";"),
                    get(&name),
                    crate::check::sex_label(sex.get(i).unwrap_or("")).to_owned(),
                    birth.get(i).map(|d| Date::from_epoch_days(d).to_string()).unwrap_or_default(),
                    match doc_type.get(i) {
                        Some(code) if crate::lang::english() => format!("type {code}"),
                        code => crate::normalize::codes::document_type_label(code.unwrap_or("")).to_owned(),
                    },
                    number,
                    match s.id_number.as_deref() {
                        Some(n) if ids.get(i) == Some(n) => crate::lang::pick("学校填报", "school").into(),
                        Some(_) => crate::lang::pick("推断(同一人其他学籍)", "inferred (other registration)").into(),
                        None => String::new(),
                    },
                    get(&household),
                    get(&school),
                    get(&school_code),
                    grade.get(i).map(|g| g.to_string()).unwrap_or_default(),
                    get(&class),
                    // For police to fill: the verdict, and anything else in their words.
                    String::new(),
                    String::new(),
                    s.routed_by.clone(),
                ]
            })
            .collect();
        let (xlsx, csv) = (dir.join(format!("{stem}.xlsx")), dir.join(format!("{stem}.csv")));
        let (xlsx_sha, csv_sha) = rayon::join(|| write_xlsx(&xlsx, group, &rows, day), || write_csv(&csv, &rows));
        Ok([(xlsx, xlsx_sha?), (csv, csv_sha?)]
            .into_iter()
            .map(|(path, sha256)| ExportedFile { path, batch: batch.clone(), rows: rows.len(), sha256 })
            .collect())
    };
    let files: Vec<ExportedFile> = polars_core::runtime::THREAD_POOL
        .install(|| lists.par_iter().map(list_files).collect::<Result<Vec<_>>>())?
        .into_iter()
        .flatten()
        .collect();
    let sums: String = files
        .iter()
        .map(|f| format!("{}  {}\n", f.sha256, f.path.file_name().and_then(|n| n.to_str()).unwrap_or("")))
        .collect();
    crate::files::write_atomic(&dir.join("SHA256SUMS"), |w| {
        w.write_all(sums.as_bytes()).map_err(|e| Error::io(dir, e))
    })?;
    Ok(files)
}

/// Who a list is for, said above its table.
fn addressee(group: &str) -> String {
    if group == outside_province() {
        crate::say!(
            "致：省公安厅（省外户籍：请经全国人口信息系统核查）",
            "To: the provincial public security department (households outside the province: please query the national population system)"
        )
    } else if group == place_unknown() {
        crate::say!(
            "致：省公安厅（户籍地不明：请协助查找户籍）",
            "To: the provincial public security department (household unknown: please help find it)"
        )
    } else {
        match group.split_once(' ') {
            Some((city, county)) => {
                crate::say!("致：{city}公安局（{county}）", "To: the {city} public security bureau ({county})")
            }
            None => crate::say!("致：{group}公安局", "To: the {group} public security bureau"),
        }
    }
}

fn write_xlsx(path: &Path, group: &str, rows: &[[String; HEADERS.len()]], day: Date) -> Result<String> {
    let xlsx = |e: rust_xlsxwriter::XlsxError| Error::input(path, format!("writing xlsx: {e}"));
    let mut workbook = crate::report::new_workbook(day)?;
    let sheet = workbook.worksheet_from_index(0).map_err(xlsx)?;
    // Who the list is for and what to do, above the table.
    sheet.write_string(0, 0, addressee(group).as_str()).map_err(xlsx)?;
    let guide = crate::say!(
        "共{}人。核查原因见“核查原因”列，分到本名单的依据见“分派依据”列；请在“核查结果”列选择结果，其他说明写在“备注”列。",
        "{} people. Why each is checked: 核查原因; why on this list: 分派依据. Choose a verdict under 核查结果; anything else under 备注.",
        rows.len()
    );
    sheet.write_string(1, 0, guide.as_str()).map_err(xlsx)?;
    crate::report::table_sheet_at(sheet, 2, &headers(), rows).map_err(xlsx)?;
    // 核查结果 takes one of the wordings reconcile reads; anything else goes under 备注.
    let verdict = HEADERS.len() as u16 - 3;
    let choices = rust_xlsxwriter::DataValidation::new()
        .allow_list_strings(&VERDICTS)
        .and_then(|v| v.set_error_title("核查结果"))
        .and_then(|v| v.set_error_message("请从下拉列表中选择核查结果；其他说明请写在“备注”列"))
        .map_err(xlsx)?;
    sheet.set_column_width(verdict, 24).map_err(xlsx)?;
    sheet.set_column_width(verdict + 1, 30).map_err(xlsx)?;
    sheet.add_data_validation(3, verdict, rows.len().max(1) as u32 + 2, verdict, &choices).map_err(xlsx)?;
    for (r, row) in rows.iter().enumerate() {
        for (c, value) in row.iter().enumerate() {
            if !value.is_empty() {
                sheet.write_string(r as u32 + 3, c as u16, inert(value).as_ref()).map_err(xlsx)?;
            }
        }
    }
    // Streamed to the file (the sheet itself went to a temporary file as it was written), then
    // hashed from disk: no whole workbook in memory.
    let mut file = AtomicFile::create(path)?;
    workbook.save_to_writer(file.writer()).map_err(xlsx)?;
    file.commit()?;
    Ok(crate::files::sha256_file(path)?.1)
}

fn write_csv(path: &Path, rows: &[[String; HEADERS.len()]]) -> Result<String> {
    let mut buffer = b"\xEF\xBB\xBF".to_vec();
    {
        let mut csv = csv::Writer::from_writer(&mut buffer);
        let err = |e: csv::Error| Error::input(path, format!("writing csv: {e}"));
        csv.write_record(headers()).map_err(err)?;
        for row in rows {
            csv.write_record(row.iter().map(|v| inert(v).into_owned())).map_err(err)?;
        }
        csv.flush().map_err(|e| Error::io(path, e))?;
    }
    write_file(path, &buffer)
}

/// Writes `bytes` atomically and returns their SHA-256 in hex.
fn write_file(path: &Path, bytes: &[u8]) -> Result<String> {
    crate::files::write_bytes(path, bytes)?;
    Ok(crate::files::hex(&Sha256::digest(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_four_and_four() {
        assert_eq!(mask("21010219491231002X"), "2101**********002X");
        assert_eq!(mask("E1234567"), "********");
        assert_eq!(mask(""), "");
    }
}

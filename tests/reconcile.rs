//! The whole loop: generate a province, `xueji run`, fabricate police verdicts from the truth
//! (wording variants, unknown ids, unknown wording, missing answers), `xueji reconcile`, and check
//! the unique-student list.

mod common;

use std::collections::{HashMap, HashSet};

use common::{generate, on_generated, read_parquet, strings, walk};
use rust_xlsxwriter::Workbook;

/// Each school's return workbook of a campaign (not the county summaries), with its rows as text.
fn school_returns(campaign: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<Vec<String>>)> {
    use calamine::Reader;
    let workbooks = walk(&campaign.join("returns")).into_iter().filter(|p| !p.to_string_lossy().contains("汇总_"));
    workbooks
        .map(|path| {
            let mut book: calamine::Xlsx<_> = calamine::open_workbook(&path).unwrap();
            let range = book.worksheet_range_at(0).unwrap().unwrap();
            let rows = range.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect();
            (path, rows)
        })
        .collect()
}

/// A workbook of `rows` as text, as a school saves the one it filled in; the caller types more.
fn workbook_of(rows: &[Vec<String>]) -> Workbook {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    for (r, row) in rows.iter().enumerate() {
        for (c, value) in row.iter().enumerate().filter(|(_, v)| !v.is_empty()) {
            sheet.write_string(r as u32, c as u16, value).unwrap();
        }
    }
    book
}

#[test]
fn verdicts_come_back_and_every_person_keeps_one_registration() {
    let dir = tempfile::tempdir().unwrap();
    let (data, campaign) = (dir.path().join("g"), dir.path().join("campaign"));
    generate(&data, 5000, 17, &["--format", "csv"]);
    on_generated("run", &data.join("sheets"), &campaign, &[]);

    let truth = read_parquet(&data.join("truth/records.parquet"));
    let (records, persons, true_ids) =
        (strings(&truth, "record_id"), strings(&truth, "person_id"), strings(&truth, "true_id"));
    let person_of: HashMap<&str, &str> =
        records.iter().map(String::as_str).zip(persons.iter().map(String::as_str)).collect();
    let own_id: HashMap<&str, &str> =
        records.iter().map(String::as_str).zip(true_ids.iter().map(String::as_str)).collect();
    let real_ids: HashSet<&str> = true_ids.iter().map(String::as_str).collect();

    // The police answer every sent row from the truth, in several wordings, one city in Excel.
    let wordings = [
        ["一致", "核查结果：一致", "信息一致"],
        ["身份证号与姓名不匹配", "姓名与身份证号码不匹配", "号码与姓名不符"],
        ["身份证号不存在", "公民身份号码不存在", "查无此号"],
    ];
    let mut replies: Vec<[String; 3]> = Vec::new();
    let mut unanswered = Vec::new();
    let mut sent_files: Vec<_> = std::fs::read_dir(campaign.join("police"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    sent_files.sort();
    assert!(!sent_files.is_empty());
    for path in &sent_files {
        let text = std::fs::read_to_string(path).unwrap();
        let mut lines = text.trim_start_matches('\u{FEFF}').lines();
        let number_at = lines.next().unwrap().split(',').position(|h| h == "身份证件号").unwrap();
        for (n, row) in lines.enumerate() {
            let cells: Vec<&str> = row.split(',').collect();
            let (record, number) = (cells[1], cells[number_at]);
            if n % 97 == 5 {
                unanswered.push(record.to_owned());
                continue;
            }
            let kind = if number == own_id[record] {
                0
            } else if real_ids.contains(number) {
                1
            } else {
                2
            };
            replies.push([record.to_owned(), number.to_owned(), wordings[kind][n % 3].to_owned()]);
        }
    }
    replies.push(["F9999999999".into(), "".into(), "一致".into()]);
    replies.push([replies[0][0].clone(), replies[0][1].clone(), "待定".into()]);
    let (excel_part, csv_part) = replies.split_at(replies.len() / 3);
    let xlsx = dir.path().join("reply_1.xlsx");
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.write_string(0, 0, "公安机关核查反馈").unwrap();
    for (c, h) in ["记录号", "身份证件号", "核查结果"].iter().enumerate() {
        sheet.write_string(1, c as u16, *h).unwrap();
    }
    for (r, reply) in excel_part.iter().enumerate() {
        for (c, v) in reply.iter().enumerate() {
            sheet.write_string(r as u32 + 2, c as u16, v.as_str()).unwrap();
        }
    }
    workbook.save(&xlsx).unwrap();
    let csv = dir.path().join("reply_2.csv");
    let mut text = String::from("记录号,身份证件号,比对结果\n");
    for reply in csv_part {
        text.push_str(&reply.join(","));
        text.push('\n');
    }
    // A ragged row: read, used, and reported.
    text.push_str(&format!("{},多余的值\n", csv_part[0].join(",")));
    // The first Excel row's record judged the other way in the CSV reply: a contradiction.
    let contested = excel_part[0][0].clone();
    let other = if excel_part[0][2] == wordings[0][0] { "不一致" } else { "一致" };
    text.push_str(&format!("{contested},{},{other}\n", excel_part[0][1]));
    std::fs::write(&csv, text).unwrap();

    let out = dir.path().join("decided");
    let run = common::xueji(&[
        "reconcile",
        "--campaign",
        campaign.to_str().unwrap(),
        "--verdicts",
        xlsx.to_str().unwrap(),
        csv.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let (stdout, stderr) = (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    // Groups with an unreadable or contradicted verdict are held: the run says so and exits 3.
    assert_eq!(run.status.code(), Some(3), "{stdout}{stderr}");
    assert!(stderr.contains("待核查") && stderr.contains("held.csv"), "{stderr}");
    assert!(stdout.contains("1条用语无法识别") && stdout.contains("1条未匹配到已送记录"), "{stdout}");
    assert!(stdout.contains(&format!("已送核查而无结果{}条", unanswered.len())), "{stdout}");
    assert!(stdout.contains("（1行有问题"), "{stdout}");
    let reply_problems = std::fs::read_to_string(out.join("reply_problems.csv")).unwrap();
    assert!(reply_problems.contains("reply_2.csv") && reply_problems.contains("ROW_FIELD_COUNT"), "{reply_problems}");
    // Lists people read speak Chinese first, with the codes beside.
    assert!(
        reply_problems.trim_start_matches('\u{feff}').starts_with("问题,说明,文件,行号,问题代码"),
        "{reply_problems}"
    );
    assert!(reply_problems.contains("行字段数与表头不符"), "{reply_problems}");
    let unmatched = std::fs::read_to_string(out.join("unmatched_verdicts.csv")).unwrap();
    assert!(unmatched.contains("F9999999999") && !unmatched.contains("待定"), "{unmatched}");
    let held = std::fs::read_to_string(out.join("held.csv")).unwrap();
    assert!(held.contains(&replies[0][0]) && held.contains("“待定”无法识别"), "{held}");
    assert!(unmatched.trim_start_matches('\u{feff}').starts_with("原因,核查结果,记录号"), "{unmatched}");
    let not_answered = std::fs::read_to_string(out.join("unanswered.csv")).unwrap();
    assert!(unanswered.iter().all(|r| not_answered.contains(r.as_str())));

    // One row per person on the duplicates the matcher found.
    let unique = read_parquet(&out.join("unique_students.parquet"));
    let kept = strings(&unique, "record_id");
    let clusters = read_parquet(&campaign.join("clusters.parquet"));
    let mut found: HashMap<String, Vec<String>> = HashMap::new();
    for (record, cluster) in strings(&clusters, "record_id").into_iter().zip(strings(&clusters, "cluster_id")) {
        found.entry(cluster).or_default().push(record);
    }
    let kept_set: HashSet<&str> = kept.iter().map(String::as_str).collect();
    let mut checked = 0;
    for members in found.values() {
        let people: HashSet<&str> = members.iter().map(|m| person_of[m.as_str()]).collect();
        if people.len() == 1 {
            let survivors = members.iter().filter(|m| kept_set.contains(m.as_str())).count();
            assert_eq!(survivors, 1, "cluster {members:?}");
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked} clusters checked");
    let people_kept: HashSet<&str> = kept.iter().map(|r| person_of[r.as_str()]).collect();
    assert_eq!(people_kept.len(), 5000, "every person keeps a registration");
    assert!(kept.len() <= 5000 + 5, "{} unique rows for 5000 people", kept.len());

    // A confirmed master whose recorded birth date contradicts its number is corrected from it.
    let decisions = read_parquet(&out.join("decisions.parquet"));
    let (actions, changes, ids) =
        (strings(&decisions, "action"), strings(&decisions, "changes"), strings(&decisions, "record_id"));
    let mut corrected = 0;
    for ((action, change), record) in actions.iter().zip(&changes).zip(&ids) {
        if action == "变更" {
            let number = own_id[record.as_str()];
            let birth = format!("出生日期={}-{}-{}", &number[6..10], &number[10..12], &number[12..14]);
            assert!(change.contains(&birth) || change.starts_with("性别="), "{record}: {change}");
            corrected += 1;
        }
    }
    assert!(corrected > 0, "some masters had a birth date or sex to correct");
    assert!(actions.iter().any(|a| a == "删除") && actions.iter().any(|a| a == "保留"));

    // Contradicting verdicts decide nothing, whichever file came last.
    let person = strings(&decisions, "person_id");
    let at = ids.iter().position(|r| *r == contested).unwrap();
    for (k, action) in actions.iter().enumerate().filter(|(k, _)| person[*k] == person[at]) {
        assert_eq!(action, "待核查", "{}", ids[k]);
    }
    assert!(held.contains(&contested), "{held}");
    // A duplicate registration police never checked is only proposed for deletion.
    for (k, record) in ids.iter().enumerate() {
        if unanswered.contains(record) && actions[k].contains("删除") {
            assert_eq!(actions[k], "拟删除（未核查）", "{record}");
        }
    }
    assert!(actions.iter().any(|a| a == "拟删除（未核查）"));

    // What people read is in Chinese: headers, verdicts, reasons, and sex as 男/女.
    let decided = std::fs::read_to_string(out.join("decisions.csv")).unwrap();
    assert!(decided.starts_with("\u{FEFF}记录号,处理,理由,更正,核查结果,已送核查"), "{}", &decided[..200]);
    assert!(
        decided.contains("公安核查一致") && decided.contains(",身份证号与姓名不匹配,"),
        "Chinese reasons and verdicts"
    );
    let unique_csv = std::fs::read_to_string(out.join("unique_students.csv")).unwrap();
    let sex_at = unique_csv.lines().next().unwrap().split(',').position(|h| h == "性别").unwrap();
    assert!(unique_csv.lines().skip(1).all(|l| matches!(l.split(',').nth(sex_at), Some("男" | "女" | ""))));
}

/// The loop as people run it: `run`; police fill 核查结果 from the truth, one row in fifty typed
/// wrong, left blank or answered twice; schools type the right numbers into their return
/// workbooks (some as numbers, as Excel lets them); `reconcile`. Every group with clean verdicts
/// keeps exactly one registration; every group with a bad one is held, nothing in it decided.
#[test]
fn the_whole_loop_decides_clean_groups_and_holds_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let (data, campaign) = (dir.path().join("g"), dir.path().join("campaign"));
    generate(&data, 4000, 29, &["--format", "csv"]);
    on_generated("run", &data.join("sheets"), &campaign, &[]);
    let truth = read_parquet(&data.join("truth/records.parquet"));
    let (records, persons, true_ids) =
        (strings(&truth, "record_id"), strings(&truth, "person_id"), strings(&truth, "true_id"));
    let own_id: HashMap<&str, &str> =
        records.iter().map(String::as_str).zip(true_ids.iter().map(String::as_str)).collect();
    let person_of: HashMap<&str, &str> =
        records.iter().map(String::as_str).zip(persons.iter().map(String::as_str)).collect();
    let real_ids: HashSet<&str> = true_ids.iter().map(String::as_str).collect();
    let true_names: Vec<String> =
        strings(&truth, "true_name").iter().map(|n| xueji::normalize::name::normalize_name(n).0).collect();
    let true_name: HashMap<&str, &str> =
        records.iter().map(String::as_str).zip(true_names.iter().map(String::as_str)).collect();

    // Police: the lists they were sent, 核查结果 filled.
    let mut bad: HashSet<String> = HashSet::new();
    let mut reply = Workbook::new();
    let sheet = reply.add_worksheet();
    for (c, h) in ["记录号", "身份证件号", "核查结果"].iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    let mut second = String::from("记录号,身份证件号,核查结果\n");
    let mut n = 0u32;
    for path in walk(&campaign.join("police")).into_iter().filter(|p| p.extension().is_some_and(|e| e == "csv")) {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.trim_start_matches('\u{FEFF}').lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let (record_at, number_at, name_at) = (at("记录号"), at("身份证件号"), at("姓名"));
        for row in lines {
            let cells: Vec<&str> = row.split(',').collect();
            let (record, number, name) = (cells[record_at], cells[number_at], cells[name_at]);
            // Police compare the name with the number's holder: a mistyped name is 不匹配.
            let verdict = if number == own_id[record] && name == true_name[record] {
                "一致"
            } else if real_ids.contains(number) {
                "姓名与身份证号码不匹配"
            } else {
                "身份证号不存在"
            };
            n += 1;
            let typed = match n % 50 {
                7 => "一至",
                23 => "",
                41 => {
                    let other = if verdict == "一致" { "身份证号不存在" } else { "一致" };
                    second.push_str(&format!("{record},{number},{other}\n"));
                    verdict
                }
                _ => verdict,
            };
            if matches!(n % 50, 7 | 23 | 41) {
                bad.insert(record.to_owned());
            }
            for (c, v) in [record, number, typed].iter().enumerate() {
                sheet.write_string(n, c as u16, *v).unwrap();
            }
        }
    }
    assert!(bad.len() >= 3, "{bad:?}");
    let (first_reply, second_reply) = (dir.path().join("公安回复.xlsx"), dir.path().join("公安复核.csv"));
    reply.save(&first_reply).unwrap();
    std::fs::write(&second_reply, second).unwrap();

    // Schools: the right number under 更正后身份证件号, typed as text, or as a number in one
    // case of three (Excel keeps 15 digits of it).
    let mut filled = Vec::new();
    let (mut as_text, mut as_number) = (HashMap::new(), HashSet::new());
    for (_, rows) in school_returns(&campaign) {
        let Some(correct_at) = rows[0].iter().position(|h| h == "更正后身份证件号") else { continue };
        let record_at = rows[0].iter().position(|h| h == "记录号").unwrap();
        let mut out = workbook_of(&rows);
        let sheet = out.worksheet_from_index(0).unwrap();
        for (r, row) in rows.iter().enumerate() {
            let Some(&right) = own_id.get(row[record_at].as_str()) else { continue };
            if r == 0 || row[correct_at - 1] == right || right.ends_with('X') {
                continue;
            }
            if r % 3 == 0 {
                sheet.write_number(r as u32, correct_at as u16, right.parse::<f64>().unwrap()).unwrap();
                as_number.insert(row[record_at].clone());
            } else {
                // Full-width, with a trailing space: as typed on a Chinese keyboard.
                let wide: String = right.chars().map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap()).collect();
                sheet.write_string(r as u32, correct_at as u16, format!("{wide} ")).unwrap();
                as_text.insert(row[record_at].clone(), right.to_owned());
            }
        }
        let copy = dir.path().join(format!("return_{}.xlsx", filled.len()));
        out.save(&copy).unwrap();
        filled.push(copy);
    }
    assert!(!as_text.is_empty() && !as_number.is_empty(), "{} typed, {} as numbers", as_text.len(), as_number.len());

    let out = dir.path().join("decided");
    let mut args =
        vec!["reconcile".to_owned(), "--campaign".into(), campaign.display().to_string(), "--verdicts".into()];
    args.extend([first_reply.display().to_string(), second_reply.display().to_string(), "--returns".into()]);
    args.extend(filled.iter().map(|f| f.display().to_string()));
    args.extend(["--out".into(), out.display().to_string()]);
    let run = common::xueji(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run.status.code(), Some(3), "{}", String::from_utf8_lossy(&run.stderr));

    let decisions = read_parquet(&out.join("decisions.parquet"));
    let (ids, groups, actions, changes) = (
        strings(&decisions, "record_id"),
        strings(&decisions, "person_id"),
        strings(&decisions, "action"),
        strings(&decisions, "changes"),
    );
    let mut by_group: HashMap<&str, Vec<usize>> = HashMap::new();
    for (k, group) in groups.iter().enumerate() {
        by_group.entry(group).or_default().push(k);
    }
    let kept: HashSet<String> =
        strings(&read_parquet(&out.join("unique_students.parquet")), "record_id").into_iter().collect();
    let (mut held, mut decided) = (0, 0);
    for members in by_group.values() {
        let touched = members.iter().any(|&k| bad.contains(&ids[k]));
        if touched {
            // A bad verdict holds the whole group: nothing deleted, nothing changed.
            assert!(
                members.iter().all(|&k| actions[k] == "待核查"),
                "{:?}",
                members.iter().map(|&k| (&ids[k], &actions[k])).collect::<Vec<_>>()
            );
            held += 1;
            continue;
        }
        let reasons = strings(&decisions, "reason");
        assert!(
            members.iter().all(|&k| actions[k] != "待核查"),
            "{:?}",
            members.iter().map(|&k| (&ids[k], &reasons[k], person_of[ids[k].as_str()])).collect::<Vec<_>>()
        );
        // One child found as one group: exactly one registration stays.
        let people: HashSet<&str> = members.iter().map(|&k| person_of[ids[k].as_str()]).collect();
        if people.len() == 1 {
            assert_eq!(
                members.iter().filter(|&&k| kept.contains(&ids[k])).count(),
                1,
                "{:?}",
                members.iter().map(|&k| (&ids[k], &actions[k])).collect::<Vec<_>>()
            );
            decided += 1;
        }
    }
    assert!(held >= 3 && decided > 3000, "{held} held, {decided} decided");

    // The schools' numbers: typed as text (full width, a space), proposed on the registrations
    // kept; typed as numbers, lost digits, listed and not applied.
    let mut proposed = 0;
    for (k, id) in ids.iter().enumerate() {
        if let Some(right) = as_text.get(id) {
            if matches!(actions[k].as_str(), "保留" | "变更" | "佐证") {
                assert!(changes[k].contains(&format!("身份证件号={right}")), "{id}: {}", changes[k]);
                proposed += 1;
            }
        }
        if as_number.contains(id) {
            assert!(!changes[k].contains("身份证件号="), "{id}: {}", changes[k]);
        }
    }
    assert!(proposed > 0);
    let problems = std::fs::read_to_string(out.join("reply_problems.csv")).unwrap();
    assert!(as_number.iter().any(|id| problems.contains(id.as_str()) && problems.contains("丢失位数")), "{problems}");
    // Each one names the workbook and row the school typed it in, in words the county reads.
    let lost: Vec<&str> = problems.lines().filter(|l| l.contains("丢失位数")).collect();
    assert!(lost.iter().all(|l| l.starts_with("学校更正未采用,") && l.contains("return_")), "{lost:?}");
}

/// Issue #26, through the files people handle: police answer 一致 for one registration of a
/// group and 姓名与身份证号码不匹配 for the other; the other's school writes 不是同一学生 under
/// 是否同一学生 in its return workbook. Both registrations stay, as two children.
#[test]
fn a_school_that_says_not_the_same_child_keeps_both_registrations() {
    let dir = tempfile::tempdir().unwrap();
    let (data, campaign) = (dir.path().join("g"), dir.path().join("campaign"));
    generate(&data, 3000, 31, &["--format", "csv"]);
    on_generated("run", &data.join("sheets"), &campaign, &[]);

    // The first group of two sent to police.
    let mut sent: Vec<(String, String, String)> = Vec::new();
    for path in walk(&campaign.join("police")).into_iter().filter(|p| p.extension().is_some_and(|e| e == "csv")) {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.trim_start_matches('\u{FEFF}').lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let (record_at, number_at, cluster_at) = (at("记录号"), at("身份证件号"), at("聚类号"));
        for row in lines {
            let cells: Vec<&str> = row.split(',').collect();
            sent.push((cells[cluster_at].into(), cells[record_at].into(), cells[number_at].into()));
        }
    }
    let group = sent
        .iter()
        .map(|s| &s.0)
        .find(|c| !c.is_empty() && sent.iter().filter(|s| &s.0 == *c).count() == 2)
        .expect("a group of two was sent")
        .clone();
    let pair: Vec<&(String, String, String)> = sent.iter().filter(|s| s.0 == group).collect();
    let (first, second) = (&pair[0].1, &pair[1].1);
    let reply = dir.path().join("公安回复.csv");
    std::fs::write(
        &reply,
        format!(
            "记录号,身份证件号,核查结果\n{first},{},一致\n{second},{},姓名与身份证号码不匹配\n",
            pair[0].2, pair[1].2
        ),
    )
    .unwrap();

    // The second's school answers in the column its workbook offers.
    let mut answered = None;
    for (_, rows) in school_returns(&campaign) {
        let record_at = rows[0].iter().position(|h| h == "记录号").unwrap();
        let Some(r) = rows.iter().position(|row| row.get(record_at) == Some(second)) else { continue };
        let same_at = rows[0].iter().position(|h| h == "是否同一学生").expect("a group's row asks 是否同一学生");
        let mut out = workbook_of(&rows);
        out.worksheet_from_index(0).unwrap().write_string(r as u32, same_at as u16, "不是同一学生").unwrap();
        let copy = dir.path().join("回执.xlsx");
        out.save(&copy).unwrap();
        answered = Some(copy);
    }
    let answered = answered.expect("the second registration's school has a return workbook");

    let decide = |returns: &[&std::path::Path], out: &std::path::Path| {
        let mut args =
            vec!["reconcile", "--campaign", campaign.to_str().unwrap(), "--verdicts", reply.to_str().unwrap()];
        if !returns.is_empty() {
            args.push("--returns");
            args.extend(returns.iter().map(|p| p.to_str().unwrap()));
        }
        args.extend(["--out", out.to_str().unwrap()]);
        common::xueji(&args);
        let decisions = read_parquet(&out.join("decisions.parquet"));
        let (ids, actions) = (strings(&decisions, "record_id"), strings(&decisions, "action"));
        let action = |id: &str| actions[ids.iter().position(|i| i == id).unwrap()].clone();
        let kept: HashSet<String> =
            strings(&read_parquet(&out.join("unique_students.parquet")), "record_id").into_iter().collect();
        (action(first), action(second), kept.contains(first.as_str()), kept.contains(second.as_str()))
    };
    // Before the school answers: sent back to it, not deleted, not yet a student of its own.
    let (a, b, _, _) = decide(&[], &dir.path().join("before"));
    assert!(matches!(a.as_str(), "保留" | "变更") && b == "学校核实", "{a} {b}");
    // After: both registrations stay, each a student.
    let (a, b, kept_a, kept_b) = decide(&[&answered], &dir.path().join("after"));
    assert!(matches!(a.as_str(), "保留" | "变更") && b == "佐证", "{a} {b}");
    assert!(kept_a && kept_b, "both in the unique-student list");
}

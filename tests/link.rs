//! `xueji link`: a new intake against a registry, scored against the truth.

mod common;

use std::collections::{HashMap, HashSet};

use common::{generate, on_generated, read_parquet, strings, xueji_ok, AS_OF};

#[test]
fn intake_links_to_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("g");
    generate(&data, 20000, 5, &["--format", "csv"]);
    // The last tenth of the sheet arrives later, as a new intake.
    let text = std::fs::read_to_string(data.join("sheets/students.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let cut = rows.len() * 9 / 10;
    let (registry_csv, intake_csv) = (dir.path().join("registry.csv"), dir.path().join("intake.csv"));
    std::fs::write(&registry_csv, format!("{header}\n{}\n", rows[..cut].join("\n"))).unwrap();
    std::fs::write(&intake_csv, format!("{header}\n{}\n", rows[cut..].join("\n"))).unwrap();
    let intake_ids: HashSet<String> = rows[cut..].iter().map(|r| r.split(',').next().unwrap().to_owned()).collect();

    let (campaign, linked) = (dir.path().join("campaign"), dir.path().join("linked"));
    on_generated("run", &registry_csv, &campaign, &[]);
    let stdout = xueji_ok(&[
        "link",
        intake_csv.to_str().unwrap(),
        "--against",
        campaign.to_str().unwrap(),
        "--out",
        linked.to_str().unwrap(),
        "--id-column",
        "学籍辅号",
        "--as-of",
        AS_OF,
    ]);
    assert!(stdout.contains(&format!("新增{}条记录对照学籍库{}条记录", rows.len() - cut, cut)), "{stdout}");

    let truth = read_parquet(&data.join("truth/records.parquet"));
    let person: HashMap<String, String> =
        strings(&truth, "record_id").into_iter().zip(strings(&truth, "person_id")).collect();
    let mut by_person: HashMap<&str, Vec<&str>> = HashMap::new();
    for (record, p) in &person {
        by_person.entry(p.as_str()).or_default().push(record.as_str());
    }
    let mut true_pairs: HashSet<(String, String)> = HashSet::new();
    for records in by_person.values() {
        for (i, a) in records.iter().enumerate() {
            for b in &records[i + 1..] {
                if intake_ids.contains(*a) || intake_ids.contains(*b) {
                    true_pairs.insert(if a < b {
                        (a.to_string(), b.to_string())
                    } else {
                        (b.to_string(), a.to_string())
                    });
                }
            }
        }
    }
    let pairs = read_parquet(&linked.join("duplicate_pairs.parquet"));
    let found: HashSet<(String, String)> = strings(&pairs, "record_id_l")
        .into_iter()
        .zip(strings(&pairs, "record_id_r"))
        .map(|(a, b)| if a < b { (a, b) } else { (b, a) })
        .collect();
    assert!(
        found.iter().all(|(a, b)| intake_ids.contains(a) || intake_ids.contains(b)),
        "only pairs with a new record"
    );
    let right = found.intersection(&true_pairs).count() as f64;
    let (precision, recall) = (right / found.len() as f64, right / true_pairs.len() as f64);
    assert!(true_pairs.len() > 50, "{}", true_pairs.len());
    assert!(
        precision >= 0.98 && recall >= 0.95,
        "precision {precision}, recall {recall} on {} true pairs",
        true_pairs.len()
    );

    // Labels decide linked pairs too: a found pair labelled 不同人 is gone, the rest stay.
    let mut sorted: Vec<&(String, String)> = found.iter().collect();
    sorted.sort();
    let apart = sorted[0].clone();
    let labels = dir.path().join("labels.csv");
    std::fs::write(&labels, format!("记录号1,记录号2,判定\n{},{},不同人\n", apart.0, apart.1)).unwrap();
    let relinked = dir.path().join("relinked");
    let said = xueji_ok(&[
        "link",
        intake_csv.to_str().unwrap(),
        "--against",
        campaign.to_str().unwrap(),
        "--out",
        relinked.to_str().unwrap(),
        "--id-column",
        "学籍辅号",
        "--as-of",
        AS_OF,
        "--labels",
        labels.to_str().unwrap(),
    ]);
    assert!(said.contains("复核标签1条") && said.contains("1对的判定与模型不同"), "{said}");
    let again = read_parquet(&relinked.join("duplicate_pairs.parquet"));
    let refound: HashSet<(String, String)> = strings(&again, "record_id_l")
        .into_iter()
        .zip(strings(&again, "record_id_r"))
        .map(|(a, b)| if a < b { (a, b) } else { (b, a) })
        .collect();
    let mut expected = found.clone();
    expected.remove(&apart);
    assert_eq!(refound, expected);
    assert!(relinked.join("review.html").exists());

    // An intake re-sending registry rows under their registry ids is refused, naming the row.
    let resent = dir.path().join("resent.csv");
    std::fs::write(&resent, format!("{header}\n{}\n{}\n", rows[cut], rows[0])).unwrap();
    let out = common::xueji(&[
        "link",
        resent.to_str().unwrap(),
        "--against",
        campaign.to_str().unwrap(),
        "--out",
        dir.path().join("resent_out").to_str().unwrap(),
        "--id-column",
        "学籍辅号",
        "--as-of",
        AS_OF,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let id = rows[0].split(',').next().unwrap();
    assert!(!out.status.success() && stderr.contains(id) && stderr.contains("resent.csv: row 3"), "{stderr}");
}

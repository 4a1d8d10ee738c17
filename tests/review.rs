//! review.html in a real browser (Debian's chromium), driven through the DevTools protocol over
//! a pipe (`--remote-debugging-pipe`: JSON messages ended by NUL on file descriptors 3 and 4):
//! filter to a band, search a name, label three pairs by clicking, export; then `run --labels`
//! on the exported file changes exactly those decisions. Without chromium (outside CI) the test
//! says it is skipped.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use common::browser::{chromium_or_skip, Browser};
use common::{generate, on_generated, read_parquet, strings};
use serde_json::json;

/// The record pairs of a dedupe output's parquet of `kind` (duplicate_pairs) as (left, right).
fn pair_set(out: &Path) -> BTreeSet<(String, String)> {
    let pairs = read_parquet(&out.join("duplicate_pairs.parquet"));
    strings(&pairs, "record_id_l").into_iter().zip(strings(&pairs, "record_id_r")).collect()
}

#[test]
fn an_analyst_filters_searches_labels_and_exports_and_the_run_obeys() {
    let Some(binary) = chromium_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (data, campaign) = (dir.path().join("g"), dir.path().join("c"));
    generate(&data, 3000, 11, &[]);
    on_generated("run", &data.join("sheets"), &campaign, &[]);
    let before = pair_set(&campaign);
    let probabilities = read_parquet(&campaign.join("duplicate_pairs.parquet"));
    let in_top_band =
        probabilities.column("probability").unwrap().f64().unwrap().iter().flatten().filter(|p| *p >= 0.9).count();

    let downloads = dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let mut browser = Browser::launch(binary, &dir.path().join("profile"));
    browser
        .call("Browser.setDownloadBehavior", json!({"behavior": "allow", "downloadPath": downloads.to_str().unwrap()}));
    let url = format!("file://{}", campaign.join("review.html").display());
    browser.open(&url);
    browser.until("document.getElementById('pairs') !== null");

    // Filter to a band: the page counts the pairs a match probability of 0.9–1.0.
    let count = browser.eval(
        "const band = document.getElementById('band'); band.value = '0.9'; \
         band.dispatchEvent(new Event('change', {bubbles: true})); document.getElementById('count').textContent",
    );
    assert_eq!(count, json!(format!("{in_top_band}对")));
    browser.eval("const all = document.getElementById('band'); all.value = 'all'; all.dispatchEvent(new Event('change', {bubbles: true})); true");

    // Search a name: every row shown has it on one side.
    let name = strings(&probabilities, "name_l")[0].clone();
    let rows = browser.eval(&format!(
        "const s = document.getElementById('search'); s.value = {name:?}; s.dispatchEvent(new Event('input', {{bubbles: true}})); \
         [...document.querySelectorAll('#pairs tr[data-pair]')].map(r => r.textContent)"
    ));
    let rows = rows.as_array().unwrap();
    assert!(!rows.is_empty() && rows.iter().all(|r| r.as_str().unwrap().contains(&name)), "{rows:?}");

    // Label three pairs by clicking: a match 不同人, an ID conflict 同一人, a match 不确定.
    let conflicts =
        csv::Reader::from_path(campaign.join("id_conflicts.csv")).unwrap().records().next().unwrap().unwrap();
    let conflict = (conflicts[0].trim_start_matches('\u{feff}').to_owned(), conflicts[1].to_owned());
    let mut matches = before.iter();
    let (apart, unsure) = (matches.next().unwrap().clone(), matches.nth(5).unwrap().clone());
    for ((left, right), judgement) in [(&apart, "不同人"), (&conflict, "同一人"), (&unsure, "不确定")] {
        let clicked = browser.eval(&format!(
            "const q = document.getElementById('search'); q.value = {left:?}; q.dispatchEvent(new Event('input', {{bubbles: true}})); \
             const row = [...document.querySelectorAll('#pairs tr[data-pair]')].find(r => r.textContent.length > 0 && \
               D.records[D.pairs[r.dataset.pair][1]][0] === {right:?} && D.records[D.pairs[r.dataset.pair][0]][0] === {left:?}); \
             if (!row) false; else {{ row.click(); document.querySelector('#label button[data-j=\"{judgement}\"]').click(); true }}"
        ));
        assert_eq!(clicked, json!(true), "{left} / {right} not found in the page");
    }
    assert_eq!(browser.eval("Object.keys(labels).length"), json!(3));

    // Export, as the analyst clicks it.
    browser
        .eval("document.querySelector('[data-tab=labels]').click(); document.getElementById('export').click(); true");
    let exported = downloads.join("复核标签.csv");
    let start = Instant::now();
    while !exported.exists() {
        assert!(start.elapsed() < Duration::from_secs(20), "no export in {}", downloads.display());
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(browser);

    // The exported labels decide exactly those pairs.
    let labelled = dir.path().join("labelled");
    let said = on_generated("run", &data.join("sheets"), &labelled, &["--labels", exported.to_str().unwrap()]);
    assert!(said.contains("复核标签3条"), "{said}");
    let mut expected = before.clone();
    expected.remove(&apart);
    expected.insert(conflict.clone());
    assert_eq!(pair_set(&labelled), expected);
    let clusters = read_parquet(&labelled.join("clusters.parquet"));
    let cluster: std::collections::HashMap<String, String> =
        strings(&clusters, "record_id").into_iter().zip(strings(&clusters, "cluster_id")).collect();
    assert!(cluster.contains_key(&conflict.0) && cluster.get(&conflict.0) == cluster.get(&conflict.1));
    assert!(!cluster.contains_key(&apart.0) || cluster.get(&apart.0) != cluster.get(&apart.1));
}

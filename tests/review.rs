//! review.html in a real browser (Debian's chromium), driven through the DevTools protocol over
//! a pipe (`--remote-debugging-pipe`: JSON messages ended by NUL on file descriptors 3 and 4):
//! filter to a band, search a name, label three pairs by clicking, export; then `run --labels`
//! on the exported file changes exactly those decisions. Without chromium (outside CI) the test
//! says it is skipped.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{generate, on_generated, read_parquet, strings};
use serde_json::{json, Value};

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()))
}

/// A headless chromium and one page in it, spoken to through the DevTools protocol.
struct Browser {
    child: Child,
    to: std::io::PipeWriter,
    from: BufReader<std::io::PipeReader>,
    next: u64,
    session: Option<String>,
}

impl Browser {
    fn launch(binary: &str, profile: &Path) -> Browser {
        let (their_in, to) = std::io::pipe().unwrap();
        let (from, their_out) = std::io::pipe().unwrap();
        let (read_fd, write_fd) = (their_in.as_raw_fd(), their_out.as_raw_fd());
        let mut command = Command::new(binary);
        command
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
            .args(["--disable-component-update", "--disable-sync", "--remote-debugging-pipe"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // The browser reads commands on descriptor 3 and writes answers on 4: both are moved
        // above 10 first, so that neither is overwritten while the other is put in place.
        unsafe {
            command.pre_exec(move || {
                let (r, w) = (libc::fcntl(read_fd, libc::F_DUPFD, 10), libc::fcntl(write_fd, libc::F_DUPFD, 10));
                if r < 0 || w < 0 || libc::dup2(r, 3) < 0 || libc::dup2(w, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().unwrap();
        drop((their_in, their_out));
        Browser { child, to, from: BufReader::new(from), next: 0, session: None }
    }

    /// Sends a command (to the page, once attached) and returns its result.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let mut message = json!({"id": self.next, "method": method, "params": params});
        if let Some(session) = &self.session {
            message["sessionId"] = json!(session);
        }
        self.to.write_all(serde_json::to_string(&message).unwrap().as_bytes()).unwrap();
        self.to.write_all(b"\0").unwrap();
        loop {
            let mut buffer = Vec::new();
            self.from.read_until(0, &mut buffer).unwrap();
            assert!(!buffer.is_empty(), "chromium closed the pipe");
            buffer.pop();
            let answer: Value = serde_json::from_slice(&buffer).unwrap();
            if answer["id"] == json!(self.next) {
                assert!(answer.get("error").is_none(), "{method}: {answer}");
                return answer["result"].clone();
            }
        }
    }

    /// Evaluates `script` in the page (awaiting a promise) and returns its value.
    fn eval(&mut self, script: &str) -> Value {
        let result =
            // REPL mode: each script may declare its own names again, as a console allows.
            self.call(
                "Runtime.evaluate",
                json!({"expression": script, "returnByValue": true, "awaitPromise": true, "replMode": true}),
            );
        assert!(result.get("exceptionDetails").is_none(), "{script}: {result}");
        result["result"]["value"].clone()
    }

    /// Waits until `script` is true in the page.
    fn until(&mut self, script: &str) {
        let start = Instant::now();
        while self.eval(script) != json!(true) {
            assert!(start.elapsed() < Duration::from_secs(20), "never true: {script}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The record pairs of a dedupe output's parquet of `kind` (duplicate_pairs) as (left, right).
fn pair_set(out: &Path) -> BTreeSet<(String, String)> {
    let pairs = read_parquet(&out.join("duplicate_pairs.parquet"));
    strings(&pairs, "record_id_l").into_iter().zip(strings(&pairs, "record_id_r")).collect()
}

#[test]
fn an_analyst_filters_searches_labels_and_exports_and_the_run_obeys() {
    let Some(binary) = chromium() else {
        assert!(std::env::var_os("CI").is_none(), "CI must install chromium (see .ci/run)");
        eprintln!("skipped: no chromium installed (apt-get install chromium)");
        return;
    };
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
    let target = browser.call("Target.createTarget", json!({"url": url}));
    let attached = browser.call("Target.attachToTarget", json!({"targetId": target["targetId"], "flatten": true}));
    browser.session = Some(attached["sessionId"].as_str().unwrap().to_owned());
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
    assert!(cluster.get(&conflict.0).is_some() && cluster.get(&conflict.0) == cluster.get(&conflict.1));
    assert!(cluster.get(&apart.0).is_none() || cluster.get(&apart.0) != cluster.get(&apart.1));
}

//! `report.html` in a real headless browser (Debian's chromium): it renders, logs no console
//! error, shows the campaign's totals, bilingual headings and example match waterfalls, and a
//! screenshot is drawn with a CJK font. CI installs chromium and fonts-noto-cjk; elsewhere, without
//! chromium, the test prints that it is skipped and passes (it cannot fail without a browser).

mod common;

use std::process::Command;

use common::browser::chromium_or_skip;
use common::{generate, on_generated};

#[test]
fn report_renders_with_the_totals() {
    let Some(browser) = chromium_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (data, campaign) = (dir.path().join("g"), dir.path().join("c"));
    generate(&data, 2000, 8, &[]);
    on_generated("run", &data.join("sheets"), &campaign, &[]);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(campaign.join("manifest.json")).unwrap()).unwrap();

    let html = std::fs::read_to_string(campaign.join("report.html")).unwrap();
    assert!(!html.contains("<script") && !html.contains("http://") && !html.contains("https://"), "self-contained");
    let url = format!("file://{}", campaign.join("report.html").display());
    let profile = dir.path().join("profile");
    let flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ];
    let run = |extra: &[&str]| {
        let out = Command::new(browser)
            .args(flags)
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(["--enable-logging=stderr", "--v=0"])
            .args(extra)
            .arg(&url)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out
    };
    let dom = run(&["--dump-dom"]);
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    let stderr = String::from_utf8_lossy(&dom.stderr);
    assert!(!stderr.contains("CONSOLE") && !stderr.contains("Uncaught"), "console errors: {stderr}");
    for key in ["records", "duplicate_registrations", "records_sent_to_police", "problems"] {
        let expected = format!("<td>{key}</td><td>{}</td>", manifest["counts"][key]);
        assert!(dom_text.contains(&expected), "{expected} not in the rendered page");
    }
    assert!(dom_text.contains("<svg"), "charts render as inline SVG");
    assert!(dom_text.contains(r#"class="chart waterfall""#), "example matches explained field by field");
    for heading in ["总览 Totals", "问题学籍 Problems by code", "送公安核查 Police lists by city", "分块 Blocking"]
    {
        assert!(dom_text.contains(&format!("<h2>{heading}</h2>")), "{heading}");
    }
    // Stages, blocking rules and match levels read in Chinese first; the histogram's log axis
    // has its counts; the example pairs are three different people, nearest the threshold.
    for said in [
        "<td>读取</td>",
        "<td>分块</td>",
        "身份证号（差一位）（id_one_digit）",
        "姓名拼音 + 出生年月（pinyin_birth_month）",
    ] {
        assert!(dom_text.contains(said), "{said} not in the rendered page");
    }
    assert!(dom_text.contains(r#"text-anchor="end">10</text>"#), "counts on the histogram's axis");
    assert!(dom_text.contains("姓名 ") && dom_text.contains("出生日期 相同"), "levels in Chinese");
    let examples: Vec<&str> = dom_text.split(r#"class="chart waterfall""#).skip(1).collect();
    assert_eq!(examples.len(), 3);
    // Chinese must draw as Chinese: a CJK font is installed where the picture is taken.
    let fonts = Command::new("fc-list").arg(":lang=zh").output().map(|o| o.stdout).unwrap_or_default();
    if std::env::var_os("CI").is_some() {
        assert!(!fonts.is_empty(), "CI must install fonts-noto-cjk (see .ci/run)");
    }
    let png = dir.path().join("report.png");
    run(&[&format!("--screenshot={}", png.display()), "--window-size=1200,1600"]);
    assert!(std::fs::metadata(&png).unwrap().len() > 10_000, "a page was drawn");
}

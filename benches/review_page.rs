//! How review.html responds on a large run: opens a review.html in headless Chromium through the
//! DevTools pipe and times, inside the page, what an analyst does most — open, filter to a band,
//! search a name, open a pair, label it, switch to the patterns and clusters tabs.
//!
//!     cargo bench --bench review_page -- PATH/review.html
//!
//! Prints each step's milliseconds (median of five, measured with `performance.now()` around
//! the page's own handlers).

// The bench uses what it needs of the tests' browser module.
#[allow(dead_code)]
#[path = "../tests/common/browser.rs"]
mod browser;

fn main() {
    let Some(page) = std::env::args().skip(1).find(|a| a.ends_with(".html")) else {
        eprintln!("usage: cargo bench --bench review_page -- PATH/review.html");
        return;
    };
    let binary = browser::chromium().expect("chromium installed");
    let profile = tempfile::tempdir().unwrap();
    let mut chrome = browser::Browser::launch(binary, profile.path());
    let path = std::fs::canonicalize(&page).unwrap();
    chrome.open(&format!("file://{}", path.display()));
    chrome.until("document.body !== null && document.body.dataset.openedMs !== undefined");
    let pairs = chrome.eval("D.pairs.length");
    let opened = chrome.eval("Number(document.body.dataset.openedMs)");
    println!("{page}: {pairs} pairs, {} bytes; opened in {opened} ms", std::fs::metadata(&path).unwrap().len());
    let name = chrome.eval("rec(D.pairs[Math.floor(D.pairs.length / 2)][0], 'name')");
    let steps = [
        ("filter to 0.6–0.7", "const b = document.getElementById('band'); b.value = '0.6'; b.dispatchEvent(new Event('change', {bubbles: true}))".to_owned()),
        ("back to all", "const a = document.getElementById('band'); a.value = 'all'; a.dispatchEvent(new Event('change', {bubbles: true}))".to_owned()),
        (
            "search a name",
            format!("const s = document.getElementById('search'); s.value = {name}; s.dispatchEvent(new Event('input', {{bubbles: true}}))"),
        ),
        ("open a pair", "document.querySelector('#pairs tr[data-pair]').click()".to_owned()),
        ("label it", "document.querySelector('#label button[data-j=\"不确定\"]').click()".to_owned()),
        ("patterns tab", "document.querySelector('[data-tab=patterns]').click()".to_owned()),
        ("clusters tab", "document.querySelector('[data-tab=clusters]').click()".to_owned()),
        ("pairs tab", "document.querySelector('[data-tab=pairs]').click()".to_owned()),
    ];
    for (what, script) in steps {
        let mut times: Vec<f64> = (0..5)
            .map(|_| {
                chrome
                    .eval(&format!("const t0 = performance.now(); {script}; performance.now() - t0"))
                    .as_f64()
                    .unwrap()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!("{what:<20} {:8.1} ms (median of 5; {:.1}–{:.1})", times[2], times[0], times[4]);
    }
}

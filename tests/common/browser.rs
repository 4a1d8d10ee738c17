//! A headless chromium driven through the DevTools protocol over a pipe
//! (`--remote-debugging-pipe`: JSON messages ended by NUL on file descriptors 3 and 4), for the
//! review page's test and benchmark.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Debian's chromium, if installed.
pub fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()))
}

/// Chromium for a test: `None` (said as a skip) on a machine without it; under CI, whose
/// `.ci/run` installs it, its absence fails the test.
pub fn chromium_or_skip() -> Option<&'static str> {
    let found = chromium();
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "CI must install chromium (see .ci/run)");
        eprintln!("skipped: no chromium installed (apt-get install chromium)");
    }
    found
}

/// A headless chromium and one page in it, spoken to through the DevTools protocol.
pub struct Browser {
    child: Child,
    to: std::io::PipeWriter,
    from: BufReader<std::io::PipeReader>,
    next: u64,
    session: Option<String>,
}

impl Browser {
    pub fn launch(binary: &str, profile: &Path) -> Browser {
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

    /// Opens `url` in a new page and speaks to it from then on.
    pub fn open(&mut self, url: &str) {
        let target = self.call("Target.createTarget", json!({"url": url}));
        let attached = self.call("Target.attachToTarget", json!({"targetId": target["targetId"], "flatten": true}));
        self.session = Some(attached["sessionId"].as_str().unwrap().to_owned());
    }

    /// Sends a command (to the page, once attached) and returns its result.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
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
    pub fn eval(&mut self, script: &str) -> Value {
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
    pub fn until(&mut self, script: &str) {
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

//! Progress of the long stages, for whoever shows it (the CLI draws spinners on a terminal);
//! silent unless an observer is set. Every stage is timed whether or not anyone watches.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A stage started, or finished after so long; or something to tell (what the inputs hold,
/// before any work on their records).
#[derive(Clone, Copy, Debug)]
pub enum Event<'a> {
    Started(&'static str),
    Finished(&'static str, Duration),
    /// Of the current stage's rows (or pairs), so many are done.
    Advanced(u64, u64),
    /// Something a person should know before the work goes on (said in their language).
    Said(&'a str),
}

type Observer = Box<dyn Fn(Event) + Send + Sync>;

static OBSERVER: OnceLock<Observer> = OnceLock::new();

/// Sets the process's observer (once; later calls are ignored).
pub fn observe(observer: impl Fn(Event) + Send + Sync + 'static) {
    let _ = OBSERVER.set(Box::new(observer));
}

fn notify(event: Event) {
    if let Some(observer) = OBSERVER.get() {
        observer(event);
    }
}

/// Tells the observer how far the current stage's pass is: `done` of `total` rows or pairs.
/// Small passes are not told (a stage of many chunks is what a person waits for).
pub fn advance(done: u64, total: u64) {
    if total >= 1 << 17 {
        notify(Event::Advanced(done, total));
    }
}

/// Tells the observer something a person should know before the work goes on.
pub fn say(text: &str) {
    notify(Event::Said(text));
}

/// One stage of a run: how long it took, and the process's highest resident memory while it ran
/// (none where the system does not tell it).
#[derive(Clone, Copy, Debug)]
pub struct StageTime {
    pub stage: &'static str,
    pub elapsed: Duration,
    pub peak_memory: Option<u64>,
}

/// Times one stage after another.
pub struct Stopwatch {
    stage: &'static str,
    started: Instant,
}

impl Stopwatch {
    pub fn start(stage: &'static str) -> Stopwatch {
        sample_memory();
        notify(Event::Started(stage));
        Stopwatch { stage, started: Instant::now() }
    }

    /// Ends the current stage, its time added to `timings`, and starts `next`.
    pub fn next(&mut self, next: &'static str, timings: &mut Vec<StageTime>) {
        self.finish(timings);
        *self = Stopwatch::start(next);
    }

    pub fn finish(&self, timings: &mut Vec<StageTime>) {
        release_free_memory();
        let elapsed = self.started.elapsed();
        timings.push(StageTime { stage: self.stage, elapsed, peak_memory: take_stage_peak() });
        notify(Event::Finished(self.stage, elapsed));
    }
}

/// The highest resident memory sampled since the current stage started: the process's, so two
/// runs at once in one process (tests) share it.
static STAGE_PEAK: AtomicU64 = AtomicU64::new(0);

/// Starts, once per process, a thread that samples resident memory every 20 ms into
/// [`STAGE_PEAK`]. Sampled, not read from the kernel's high-water mark: resetting that mark per
/// stage would also reset what `time` and other observers report as the process's peak.
fn sample_memory() {
    static SAMPLER: OnceLock<()> = OnceLock::new();
    SAMPLER.get_or_init(|| {
        if resident_memory().is_some() {
            let _ = std::thread::Builder::new().name("memory sampler".into()).spawn(|| loop {
                if let Some(rss) = resident_memory() {
                    STAGE_PEAK.fetch_max(rss, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
            });
        }
    });
}

/// The stage's peak, and the mark reset for the next stage to what the process holds now.
fn take_stage_peak() -> Option<u64> {
    let now = resident_memory()?;
    Some(STAGE_PEAK.swap(now, Ordering::Relaxed).max(now))
}

/// The process's resident memory in bytes (Linux: `/proc/self/statm`, in pages).
fn resident_memory() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        // SAFETY: sysconf reads a constant of the system.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        u64::try_from(page).ok().map(|page| pages * page)
    }
    #[cfg(not(target_os = "linux"))]
    None
}

/// Hands what a stage freed back to the system as it ends. A stage works on every thread, each
/// allocating from its own arena; what they free stays in those arenas, between what they kept,
/// and would add to the run's peak (at 10M records, 1.9 GiB after reading alone).
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only gives free pages of the allocator's own arenas back to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Has every block of 256 KiB or more mapped on its own and handed back to the system when freed.
/// Left to itself, glibc raises that threshold to the largest block freed so far, and the next
/// columns come from its arenas, where what they free stays resident: making a 10M-record table
/// one chunk a column then held 1.4 GiB of freed pieces. Call once, before any work.
pub fn map_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a parameter of the allocator.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

/// A stage's name on screen (the manifest and JSON keep the English one).
pub fn stage_name(stage: &str) -> &str {
    if crate::lang::english() {
        return stage;
    }
    match stage {
        "ingest" => "读取",
        "normalize" => "规范化",
        "check" => "核查",
        "write problems" => "写出问题学籍",
        "write records" => "写出学籍记录",
        "block" => "分块",
        "compare" => "比对",
        "frequencies" => "统计频次",
        "fit" => "拟合模型",
        "score" => "打分",
        "cluster" => "聚类",
        "write duplicates" => "写出重复学籍",
        "police export" => "导出公安核查名单",
        "school returns" => "写出学校回执",
        "review lists" => "写出复核清单",
        "photos" => "照片",
        "read registry" => "读取学籍库",
        "total" => "合计",
        other => other,
    }
}

//! The language of what people read (problem messages and labels, police lists, return
//! workbooks, reconcile's decisions): Chinese unless English is asked for (`--lang en`).
//! Parquet, JSON and the codes are English whatever the language.

use std::sync::atomic::{AtomicBool, Ordering};

static ENGLISH: AtomicBool = AtomicBool::new(false);

/// Makes what people read English (or Chinese again) for the rest of the process.
pub fn set_english(english: bool) {
    ENGLISH.store(english, Ordering::Relaxed);
}

pub fn english() -> bool {
    ENGLISH.load(Ordering::Relaxed)
}

/// The Chinese or the English text, as the language is set.
pub fn pick<'a>(zh: &'a str, en: &'a str) -> &'a str {
    if english() {
        en
    } else {
        zh
    }
}

/// An error as people read it: Chinese first with the English beside (`--lang en`: English
/// alone), so that a message quoted to a developer or a search engine still says the same.
pub fn both(zh: &str, en: &str) -> String {
    if english() {
        en.to_owned()
    } else {
        format!("{zh}（{en}）")
    }
}

/// `format!` of the Chinese or the English text, as the language is set.
#[macro_export]
macro_rules! say {
    ($zh:literal, $en:literal $(,)?) => {
        if $crate::lang::english() { format!($en) } else { format!($zh) }
    };
    ($zh:literal, $en:literal, $($arg:tt)*) => {
        if $crate::lang::english() { format!($en, $($arg)*) } else { format!($zh, $($arg)*) }
    };
}

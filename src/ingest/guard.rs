//! The last line of defence against a damaged file: an allocator for the `xueji` binary that
//! turns a request no machine can serve into an error naming the files being read, instead of
//! Rust's bare `memory allocation of N bytes failed` abort.
//!
//! Polars' Parquet decoder trusts sizes inside a file's pages; a damaged page can ask for
//! exabytes (seen by the fuzz suite: one file in tens of thousands of mutants). That cannot be
//! caught as a panic, so it is stopped here, before the system allocator is asked.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// No request of xueji's own comes near this: a 25M-record province's largest column is a few GiB.
const IMPOSSIBLE: usize = 1 << 40;

static READING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Marks `path` as being read until the returned guard is dropped.
pub fn reading(path: &Path) -> Reading {
    if let Ok(mut files) = READING.lock() {
        files.push(path.to_owned());
    }
    Reading(path.to_owned())
}

pub struct Reading(PathBuf);

impl Drop for Reading {
    fn drop(&mut self) {
        if let Ok(mut files) = READING.lock() {
            if let Some(at) = files.iter().position(|f| *f == self.0) {
                files.swap_remove(at);
            }
        }
    }
}

/// The system allocator, refusing requests of a terabyte or more.
pub struct BoundedAllocator;

unsafe impl GlobalAlloc for BoundedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        refuse_impossible(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        refuse_impossible(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        refuse_impossible(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Inlined into every allocation: one comparison; the refusal itself is out of line.
#[inline(always)]
fn refuse_impossible(size: usize) {
    if size >= IMPOSSIBLE {
        refuse(size);
    }
}

#[cold]
#[inline(never)]
fn refuse(size: usize) {
    // No allocation from here on: a fixed buffer, and the lock only if it is free.
    let mut message = [0u8; 4096];
    let mut out = &mut message[..];
    let _ = write!(out, "xueji: a damaged input asked for {} GiB of memory; reading:", size >> 30);
    if let Ok(files) = READING.try_lock() {
        for file in files.iter() {
            let _ = write!(out, " {}", file.display());
        }
    }
    let _ = writeln!(out);
    let left = out.len();
    let written = message.len() - left;
    let _ = std::io::stderr().write_all(&message[..written]);
    std::process::exit(2);
}

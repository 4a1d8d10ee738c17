//! Row access to the columns of a records table for the passes that read several columns per
//! row, and the parallel driver they share: row chunks in Polars' own thread pool.

use std::ops::Range;

use polars::prelude::*;
use polars_core::runtime::THREAD_POOL;
use rayon::prelude::*;

use crate::error::{Error, Result};

/// Rows handed to one task: large enough to amortise scheduling, small enough to balance cores.
pub const CHUNK_ROWS: usize = 1 << 15;

type TextArray = <StringType as PolarsDataType>::Array;
type IntArray = <Int32Type as PolarsDataType>::Array;

fn single<'a, A>(name: &str, mut arrays: impl Iterator<Item = &'a A>, chunks: usize) -> Result<Option<&'a A>> {
    if chunks > 1 {
        return Err(Error::Usage(format!("internal: column {name} has {chunks} chunks; rechunk the table first")));
    }
    Ok(arrays.next())
}

/// A text column of a rechunked table; all null when the table has no such column.
#[derive(Clone, Copy)]
pub struct Text<'a>(Option<&'a TextArray>);

impl<'a> Text<'a> {
    pub fn of(df: &'a DataFrame, name: &str) -> Result<Text<'a>> {
        let Ok(column) = df.column(name) else { return Ok(Text(None)) };
        let ca = column.str()?;
        Ok(Text(single(name, ca.downcast_iter(), ca.chunks().len())?))
    }

    pub fn get(&self, i: usize) -> Option<&'a str> {
        self.0.and_then(|a| a.get(i))
    }
}

/// An Int32 (or Date, as days) column of a rechunked table.
#[derive(Clone, Copy)]
pub struct Ints<'a>(Option<&'a IntArray>);

impl<'a> Ints<'a> {
    pub fn of(df: &'a DataFrame, name: &str) -> Result<Ints<'a>> {
        let Ok(column) = df.column(name) else { return Ok(Ints(None)) };
        let ca: &Int32Chunked = match column.dtype() {
            DataType::Date => column.date()?.physical(),
            _ => column.i32()?,
        };
        Ok(Ints(single(name, ca.downcast_iter(), ca.chunks().len())?))
    }

    pub fn get(&self, i: usize) -> Option<i32> {
        self.0.and_then(|a| a.get(i))
    }
}

/// Runs `f` on every chunk of `0..height` in parallel; results in row order. An empty table is
/// one empty chunk, so that columns built from the pieces exist with no rows.
/// Each finished chunk advances the current stage's progress (rows done of `height`).
pub fn par_row_chunks<R: Send>(height: usize, f: impl Fn(Range<usize>) -> R + Sync) -> Vec<R> {
    let starts: Vec<usize> = if height == 0 { vec![0] } else { (0..height).step_by(CHUNK_ROWS).collect() };
    let done = std::sync::atomic::AtomicUsize::new(0);
    THREAD_POOL.install(|| {
        starts
            .into_par_iter()
            .map(|start| {
                let rows = start..(start + CHUNK_ROWS).min(height);
                let size = rows.len();
                let result = f(rows);
                let now = done.fetch_add(size, std::sync::atomic::Ordering::Relaxed) + size;
                crate::progress::advance(now as u64, height as u64);
                result
            })
            .collect()
    })
}

/// One column from per-chunk pieces, as a single chunk (so that [`Text::of`] can read it).
pub fn concat<C: IntoSeries>(name: &str, pieces: Vec<C>) -> Result<Column> {
    let mut pieces = pieces.into_iter().map(IntoSeries::into_series);
    let Some(mut out) = pieces.next() else {
        return Err(Error::Usage(format!("internal: column {name} has no pieces")));
    };
    for piece in pieces {
        out.append_owned(piece)?;
    }
    Ok(out.rechunk().with_name(name.into()).into_column())
}

//! xueji (学籍) finds problem and duplicate student registrations across a province.
//!
//! The modules are layers, lowest first: the foundation ([`files`], [`columns`], [`error`],
//! [`lang`] …), the stages a record goes through — [`ingest`] → [`normalize`] → [`compare`] →
//! [`check`] → [`block`] → [`score`] → [`cluster`] → [`report`] — and the jobs built on them
//! ([`pipeline`], [`photos`], [`reconcile`], [`generate`], [`eval`]). ARCHITECTURE.md says what
//! each owns; a test keeps every import pointing down.

pub mod block;
pub mod check;
pub mod cluster;
pub mod columns;
pub mod compare;
pub mod datasets;
pub mod error;
pub mod eval;
pub mod files;
pub mod gb11643;
pub mod generate;
pub mod ingest;
pub mod labels;
pub mod lang;
pub mod normalize;
pub mod outcome;
pub mod photos;
pub mod pipeline;
pub mod problems;
pub mod progress;
pub mod reconcile;
pub mod report;
pub mod rng;
pub mod schema;
pub mod score;

pub use error::{Error, Result};

/// The order of the layers, kept by a test.
#[cfg(test)]
mod layers;

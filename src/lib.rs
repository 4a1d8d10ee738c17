//! xueji (学籍) finds problem and duplicate student registrations across a province.
//!
//! The pipeline, one module per stage:
//! [`ingest`] (school sheets → one table of text columns) → [`normalize`] (new columns in the
//! forms records are compared on) → [`check`] (problem records and exact duplicates) →
//! [`report`] (problem files and summaries). [`problems`] is the catalogue of what can be wrong.

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

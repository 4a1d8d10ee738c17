//! Tables of facts, embedded at build time from `datasets/` (each file names its source and licence).

pub const REGIONS_TSV: &str = include_str!("../datasets/regions.tsv");
pub const TRADITIONAL_TO_SIMPLIFIED_TSV: &str = include_str!("../datasets/t2s.tsv");
pub const SURNAMES_TSV: &str = include_str!("../datasets/surnames.tsv");
pub const ETHNICITIES_TSV: &str = include_str!("../datasets/ethnicities.tsv");
pub const SURNAME_FREQUENCIES_TSV: &str = include_str!("../datasets/surname_frequencies.tsv");
pub const GIVEN_NAMES_TSV: &str = include_str!("../datasets/given_names.tsv");
pub const UNIHAN_READINGS_TSV: &str = include_str!("../datasets/unihan_readings.tsv");
/// SeetaFace's frontal face detector (datasets/faces/README.md).
pub const FACE_MODEL: &[u8] = include_bytes!("../datasets/faces/seeta_fd_frontal_v1.0.bin");

/// The data lines of a TSV table, split into fields: `#` comments and blank lines skipped.
pub fn tsv_rows(table: &str) -> impl Iterator<Item = Vec<&str>> {
    table.lines().filter(|line| !line.is_empty() && !line.starts_with('#')).map(|line| line.split('\t').collect())
}

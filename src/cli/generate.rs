//! `xueji generate`: a synthetic province population with ground truth.

use std::path::PathBuf;

use xueji::generate::{generate, Format, GenerateOptions, Layout, TextEncoding};
use xueji::normalize::date::Date;

use super::{parse_as_of, today};

/// Writes a synthetic province's student sheets, plus the truth about them.
///
/// Into --out: sheets/students.parquet | .csv | .xlsx (split at Excel's row limit; a
/// title row above the header like the real template; with several provinces, in
/// sheets/<code>/ each), truth/records.parquet and .csv (record →
/// person, role, perturbations, expected problem codes), truth/exact_duplicates.parquet (records
/// that must be reported as ID_DUPLICATE, ID_CONFLICT or NO_ID_DUPLICATE), and generate.json.
/// The same options give byte-identical files. Record ids are in the 学籍辅号 column: run
/// `xueji check --id-column 学籍辅号` to compare with the truth.
#[derive(clap::Args)]
pub struct Args {
    /// Number of students (people, before duplicate registrations).
    #[arg(long)]
    students: usize,
    /// Province code (two digits): its county codes are used. Several (`21,32`) share the
    /// students, each into sheets/<code>/, with transfers across them (--transfer-rate).
    #[arg(long, default_value = "21", value_delimiter = ',')]
    province: Vec<String>,
    /// With several provinces: the share of duplicate registrations made in another province.
    #[arg(long, default_value_t = 0.3)]
    transfer_rate: f64,
    /// Seed of every random draw: the same seed and options give the same files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output folder (created if needed): sheets/, truth/ and generate.json.
    #[arg(long, short)]
    out: PathBuf,
    /// Format of the sheets: parquet, csv, or xlsx (workbooks split at Excel's row limit).
    #[arg(long, value_enum, default_value_t = Format::Parquet)]
    format: Format,
    /// Text encoding of CSV output.
    #[arg(long, value_enum, default_value_t = TextEncoding::Utf8)]
    encoding: TextEncoding,
    /// province: one file (split at Excel's row limit); schools: one file per school in a
    /// folder per county, as schools send them — an xlsx with a sheet per class under a merged
    /// title, the class and school merged down each sheet, a hidden dropdown sheet and a
    /// 填表说明 sheet; a CSV, of which --excel-saved-rate were saved by Excel (GB18030, ID
    /// numbers rounded). Held in memory until written: for populations up to a few million.
    #[arg(long, value_enum, default_value_t = Layout::Province)]
    layout: Layout,
    /// With --layout schools and --format csv: the share of schools whose CSV Excel saved.
    #[arg(long, default_value_t = 0.1)]
    excel_saved_rate: f64,
    /// The school year is the one this day falls in (default: today).
    #[arg(long, value_parser = parse_as_of)]
    as_of: Option<Date>,
    /// Share of people registered more than once.
    #[arg(long, default_value_t = 0.03)]
    duplicate_rate: f64,
    /// Twin pairs per person.
    #[arg(long, default_value_t = 0.01)]
    twin_rate: f64,
    /// Share of people whose record carries a classmate's ID number.
    #[arg(long, default_value_t = 0.002)]
    misuse_rate: f64,
    /// Share of records with an injected data-quality problem.
    #[arg(long, default_value_t = 0.02)]
    problem_rate: f64,
    /// Also draw a photo per student into photos/ (laid out by the collection rules), with
    /// defects of every kind; truth/photos.csv says which and the codes they must raise.
    #[arg(long)]
    photos: bool,
    /// Share of students whose photo has a defect, or who have none.
    #[arg(long, default_value_t = 0.1)]
    photo_defect_rate: f64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let options = GenerateOptions {
        provinces: args.province,
        transfer_rate: args.transfer_rate,
        duplicate_rate: args.duplicate_rate,
        twin_rate: args.twin_rate,
        misuse_rate: args.misuse_rate,
        problem_rate: args.problem_rate,
        format: args.format,
        encoding: args.encoding,
        layout: args.layout,
        excel_saved_rate: args.excel_saved_rate,
        photos: args.photos,
        photo_defect_rate: args.photo_defect_rate,
        ..GenerateOptions::new(args.students, args.seed, args.as_of.unwrap_or_else(today))
    };
    let summary = generate(&options, &args.out)?;
    println!(
        "{} people, {} records ({} duplicate registrations, {} of them in another province, {} twin pairs, {} borrowed ID numbers, {} injected problems) in {} schools of {} counties, {:.1}s",
        summary.people,
        summary.records,
        summary.duplicate_records,
        summary.transfers,
        summary.twin_pairs,
        summary.misused_ids,
        summary.injected_problems,
        summary.schools,
        summary.counties,
        summary.seconds
    );
    if args.photos {
        println!("{} photos in {}", summary.photos, args.out.join(xueji::generate::photos::PHOTOS_DIR).display());
    }
    for file in &summary.files {
        println!("wrote {}", file.display());
    }
    Ok(())
}

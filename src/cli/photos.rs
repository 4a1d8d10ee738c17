//! `xueji photos`: a province's student photos against the collection rules and the records.

use std::path::PathBuf;

use xueji::photos::audit::{audit, load_records};
use xueji::photos::write::PHOTO_OUTPUTS;
use xueji::photos::{fix, Rules};

use super::ReadArgs;

/// Audits students' photos (学生照片) against the provincial collection rules and the records,
/// and writes corrected copies of what a program can correct.
///
/// Every file under the PHOTO_DIRs is judged by its bytes (a real JPEG, decodes whole, under
/// 60 KB, at least 154 × 189 pixels, 26:32, density, colour, light-blue background, head centred
/// and about 2/3 of the height, sharp, upright), then by its name and place: `<身份证号>.jpg` in
/// folders by 年级 and 班级, or `<学校标识码>_<班号>_<姓名>.jpg` in the school's own folder for
/// students without a number. Every student without a photo is listed.
///
/// Writes into --out: photo_problems.parquet and .csv (one row per photo × problem and per
/// student without a photo; `path` is relative to its PHOTO_DIR), photos.parquet (what was
/// measured on every photo), photo_summary.csv (per school: students, photos, students without
/// one, photos to retake or fix), photo_retakes/<地市>/<区县>/<学校>.xlsx (per school, the
/// students to photograph and why) and photo_audit.json (counts, the rules applied, the files
/// that are not photos). With
/// --fix, also photo_fixes.csv (what became of each photo). `xueji codes` lists the PHOTO_* codes.
#[derive(clap::Args)]
pub struct Args {
    /// Folders of photos, walked recursively (files by extension: .jpg, .jpeg, .png, .bmp,
    /// .gif, .webp, .heic, .tif …; other files are counted as skipped).
    #[arg(required = true, value_name = "PHOTO_DIR")]
    photo_dirs: Vec<PathBuf>,
    /// The records: school sheets (files or folders, read as `xueji check` reads them), or the
    /// output folder of `xueji check` or `xueji run` (its records.parquet is read as it is).
    #[arg(long, required = true, num_args = 1.., value_name = "SHEETS_OR_CAMPAIGN")]
    records: Vec<PathBuf>,
    #[command(flatten)]
    read: ReadArgs,
    /// Output folder (created if missing).
    #[arg(long, short)]
    out: PathBuf,
    /// Also write corrected copies into this folder, never touching the originals: converted to
    /// JPEG, upright, cropped to 26:32 around the head, at most 358 pixels wide with its dpi
    /// written, the largest quality under the size limit, named and placed by the rule
    /// (<学校标识码>_<学校名称>/<年级>/<班级>/<身份证号>.jpg; a photo no record has keeps its own
    /// path under 无对应学籍/). Photos that need a new photo are not copied: they are on the
    /// retake lists.
    #[arg(long, value_name = "OUT")]
    fix: Option<PathBuf>,
    /// Largest file size allowed, in KB (1,024 bytes).
    #[arg(long, value_name = "KB", default_value_t = Rules::default().max_bytes / 1024)]
    max_kb: u64,
    /// Sharpness under which a photo is blurred: the share of the face's detail that blurring it
    /// once more takes away (0–1; see README).
    #[arg(long, value_name = "SHARE", default_value_t = Rules::default().min_sharpness)]
    min_sharpness: f64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let rules = Rules { max_bytes: args.max_kb * 1024, min_sharpness: args.min_sharpness, ..Rules::default() };
    if let Some(out) = &args.fix {
        fix::ensure_empty(out)?;
    }
    let check = args.read.check_options();
    let records = load_records(&args.records, &args.read.options()?, &check)?;
    let audited = audit(&args.photo_dirs, &records, &rules, check.as_of)?;
    let summary = audited.write(&records, &rules, &args.out, check.as_of)?;
    println!(
        "{}",
        xueji::say!(
            "{}张照片，{}名学生，用时{:.1}s（每秒{:.0}张）：合格{}张，可自动修正{}张，需重拍{}张；{}名学生无照片；跳过{}个文件",
            "{} photos of {} students in {:.1}s ({:.0} photos/s): {} pass, {} can be corrected, {} need a new photo; {} students have none; {} files skipped",
            summary.photos,
        summary.students,
        summary.seconds,
        summary.photos_per_second,
        summary.photos_passed,
        summary.photos_fixable,
        summary.photos_to_retake,
        summary.students_without_photo,
        summary.skipped_files.len()
        )
    );
    for (code, count) in &summary.by_code {
        let label = xueji::problems::Code::parse(code).map(|c| c.kind().label()).unwrap_or("");
        println!("  {code:<24} {count:>8}  {label}");
    }
    println!(
        "{}",
        xueji::say!(
            "已写入{}：{}，重拍名单{}份",
            "wrote {} and {} retake lists in {}",
            args.out.display(),
            PHOTO_OUTPUTS.join(", "),
            summary.retake_lists.len()
        )
    );
    if let Some(out) = &args.fix {
        let fixed = fix::fix(&audited, &records, &rules, out)?;
        let written = fixed.iter().filter(|f| f.written.is_some()).count();
        xueji::files::write_csv(&args.out.join("photo_fixes.csv"), &fix::fixes_frame(&audited, &fixed)?)?;
        println!(
            "{}",
            xueji::say!(
                "已将{written}张修正后的照片写入{}（photo_fixes.csv说明做了什么）",
                "wrote {written} corrected copies into {} (photo_fixes.csv says what was done)",
                out.display()
            )
        );
    }
    Ok(())
}

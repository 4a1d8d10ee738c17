//! `xueji photos --fix OUT`: corrected copies of the photos a program can correct, never touching
//! the originals. A copy is the photo upright, cropped to 26:32 around the head, scaled to at most
//! [`MAX_WIDTH`] pixels wide, saved as JPEG with its density written and the largest quality that
//! stays under the size limit, named and placed by the rule:
//! `<学校标识码>_<学校名称>/<年级>/<班级>/<身份证号>.jpg`, or
//! `<学校标识码>_<学校名称>/无证件号/<学校标识码>_<班号>_<姓名>.jpg`; a photo no record has keeps
//! its own path under `无对应学籍/`. Photos that need a new photo, and second photos of a student,
//! are not copied.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::codecs::jpeg::{JpegEncoder, PixelDensity};
use image::imageops::FilterType;
use image::{DynamicImage, RgbImage};
use polars::prelude::*;
use polars_core::runtime::THREAD_POOL;
use rayon::prelude::*;

use super::audit::{Photo, PhotoAudit};
use super::measure::Head;
use super::{decode, inspect, naming, Rules, MM_PER_INCH, WIDTH_MM};
use crate::columns::Text;
use crate::error::{Error, Result};
use crate::files::file_stem;
use crate::files::AtomicFile;
use crate::problems::{Code, Severity};

/// Copies are scaled down to this width (350 dpi at 26 mm): more pixels only cost bytes.
pub const MAX_WIDTH: u32 = 358;
/// The folder of a school's photos of students without a number.
pub const NO_ID_FOLDER: &str = "无证件号";
/// The folder of corrected photos no record has, kept under their own paths for the school to
/// rename once the record (or the name) is put right.
pub const UNMATCHED_FOLDER: &str = "无对应学籍";

/// What became of one photo.
#[derive(Debug)]
pub struct Fixed {
    /// Index into the audit's photos.
    pub photo: usize,
    /// Where the copy was written, relative to the output folder; `None` when none was.
    pub written: Option<PathBuf>,
    /// What was done, or why no copy was made.
    pub note: String,
}

/// Copies from two runs must never mix (a photo corrected since would sit beside its old copy):
/// the folder for copies must be new or empty.
pub fn ensure_empty(out: &Path) -> Result<()> {
    if std::fs::read_dir(out).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(Error::input(out, "holds files already: give --fix an empty or new folder"));
    }
    Ok(())
}

/// Writes corrected copies into `out` and returns what became of every photo.
pub fn fix(audit: &PhotoAudit, records: &DataFrame, rules: &Rules, out: &Path) -> Result<Vec<Fixed>> {
    let text = |name: &str| Text::of(records, name);
    let columns = Columns {
        ids: text("id_norm")?,
        valid: records.column("id_valid").ok().and_then(|c| c.bool().ok().cloned()),
        school_codes: text("school_code_norm")?,
        school_names: Text::optional(records, "school_name")?,
        grades: Text::optional(records, "grade")?,
        classes: Text::optional(records, "class")?,
        class_numbers: text("class_norm")?,
        names: text("name_norm")?,
    };
    ensure_empty(out)?;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    // Where each copy goes, decided before any is written: two photos never write one file (two
    // students of one class without a number and with one name get the same name by the rule).
    let mut taken = std::collections::HashSet::new();
    let targets: Vec<PathBuf> = audit
        .photos
        .iter()
        .map(|photo| {
            let mut target = match photo.record {
                Some(record) => columns.place(record),
                None => Path::new(UNMATCHED_FOLDER).join(&photo.path).with_extension("jpg"),
            };
            // Only photos that are copied claim a name: a second photo of a student is not.
            let copied = !photo.picture_unfixable() && !photo.second_of_student();
            if copied && !taken.insert(target.clone()) {
                let stem = target.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                let hash = crate::files::short_hash(&format!("{}/{}", photo.dir, photo.path));
                target = target.with_file_name(format!("{stem}~{hash}.jpg"));
                taken.insert(target.clone());
            }
            target
        })
        .collect();
    let mut fixed: Vec<Fixed> = THREAD_POOL.install(|| {
        (0..audit.photos.len())
            .into_par_iter()
            .map(|i| {
                let photo = &audit.photos[i];
                let note = |note: String| Ok(Fixed { photo: i, written: None, note });
                if photo.picture_unfixable() {
                    return note(crate::say!("需重拍，未复制", "needs a new photo: not copied"));
                }
                if photo.second_of_student() {
                    return note(crate::say!(
                        "同一学生的第二张照片，未复制",
                        "a second photo of the student: not copied"
                    ));
                }
                let source = audit.dirs[photo.dir].join(&photo.path);
                let bytes = std::fs::read(&source).map_err(|e| Error::io(&source, e))?;
                let target = &targets[i];
                std::fs::create_dir_all(out.join(target.parent().unwrap_or(Path::new(""))))
                    .map_err(|e| Error::io(out, e))?;
                // Name and place are the copy's own: such a photo is copied byte for byte.
                let clean = photo.inspection.findings.iter().all(|(c, _)| {
                    matches!(
                        c,
                        Code::PhotoWrongFolder
                            | Code::PhotoNameNonstandard
                            | Code::PhotoNameInvalid
                            | Code::PhotoNoRecord
                    )
                });
                let (copy, done) = if clean {
                    (bytes, crate::say!("原样复制", "copied as it was"))
                } else {
                    match correct(&bytes, rules) {
                        Ok((jpeg, made)) => {
                            let done: Vec<&str> = photo
                                .inspection
                                .findings
                                .iter()
                                .filter(|(c, _)| super::fixable(*c))
                                .map(|(c, _)| c.kind().label())
                                .collect();
                            (jpeg, crate::say!("已修正({})：{made}", "corrected ({}): {made}", done.join("、")))
                        }
                        Err(why) => return note(why),
                    }
                };
                let mut file = AtomicFile::create(&out.join(target))?;
                std::io::Write::write_all(file.writer(), &copy).map_err(|e| Error::io(target, e))?;
                file.commit()?;
                Ok(Fixed { photo: i, written: Some(target.clone()), note: done })
            })
            .collect::<Result<_>>()
    })?;
    fixed.sort_by_key(|f| f.photo);
    Ok(fixed)
}

struct Columns<'a> {
    ids: Text<'a>,
    valid: Option<BooleanChunked>,
    school_codes: Text<'a>,
    school_names: Text<'a>,
    grades: Text<'a>,
    classes: Text<'a>,
    class_numbers: Text<'a>,
    names: Text<'a>,
}

impl Columns<'_> {
    /// Where the rule puts record `r`'s photo, relative to the output folder.
    fn place(&self, r: usize) -> PathBuf {
        let get =
            |t: &Text, fallback: &str| t.get(r).filter(|v| !v.is_empty()).map_or(fallback.to_owned(), str::to_owned);
        let school_code = get(&self.school_codes, "");
        let school = PathBuf::from(file_stem(&format!("{school_code}_{}", get(&self.school_names, ""))));
        let valid_id = self.ids.get(r).filter(|_| self.valid.as_ref().is_some_and(|v| v.get(r) == Some(true)));
        match valid_id {
            Some(id) => school
                .join(file_stem(&get(&self.grades, crate::lang::pick("年级不详", "grade unknown"))))
                .join(file_stem(&get(&self.classes, crate::lang::pick("班级不详", "class unknown"))))
                .join(naming::standard_name(Some(id), "", "", "")),
            None => school.join(NO_ID_FOLDER).join(file_stem(&naming::standard_name(
                None,
                &school_code,
                &get(&self.class_numbers, ""),
                &get(&self.names, ""),
            ))),
        }
    }
}

/// The photo corrected: upright, 26:32 around the head, at most [`MAX_WIDTH`] wide, JPEG with its
/// density, under the size limit; with what it came out as. It is decoded once, and the copy
/// judged before it is returned. `Err` says why it cannot be.
pub fn correct(bytes: &[u8], rules: &Rules) -> std::result::Result<(Vec<u8>, String), String> {
    let (image, _) = decode(bytes, rules)?;
    let (w, h) = image.dimensions();
    let portrait = super::measure::measure(image.as_raw(), w as usize, h as usize);
    let crop = crop(w, h, portrait.head, rules)?;
    let (cw, ch, aspect) = (crop.width, crop.height, rules.aspect);
    let cropped = crop.of(&image);
    let tw = cw.min(MAX_WIDTH);
    let th = (f64::from(tw) / aspect).round() as u32;
    let scaled =
        if (tw, th) == (cw, ch) { cropped } else { image::imageops::resize(&cropped, tw, th, FilterType::CatmullRom) };
    let dpi = (f64::from(tw) / (WIDTH_MM / MM_PER_INCH)).floor() as u16;
    let encode = |quality: u8| -> std::result::Result<Vec<u8>, String> {
        let mut out = Vec::new();
        let mut encoder = JpegEncoder::new_with_quality(Cursor::new(&mut out), quality);
        encoder.set_pixel_density(PixelDensity::dpi(dpi));
        encoder.encode_image(&DynamicImage::ImageRgb8(scaled.clone())).map_err(|e| e.to_string())?;
        Ok(out)
    };
    // The largest quality under the limit: size grows with quality, so a binary search.
    let (mut low, mut high, mut best) = (20u8, 95u8, None);
    while low <= high {
        let quality = (low + high) / 2;
        let jpeg = encode(quality)?;
        if (jpeg.len() as u64) < rules.max_bytes {
            best = Some((quality, jpeg));
            low = quality + 1;
        } else {
            high = quality - 1;
        }
    }
    let Some((quality, jpeg)) = best else {
        return Err(crate::say!("质量降到20仍超过大小上限", "over the size limit even at quality 20"));
    };
    let after = inspect(&jpeg, rules);
    let left: Vec<&str> =
        after.findings.iter().filter(|(c, _)| c.kind().severity != Severity::Info).map(|(c, _)| c.as_str()).collect();
    if !left.is_empty() {
        return Err(crate::say!(
            "修正后仍有问题：{}，需重拍",
            "still wrong after correcting: {}; needs a new photo",
            left.join(", ")
        ));
    }
    let made = crate::say!(
        "{tw}×{th}像素，{dpi}dpi，质量{quality}，{}字节",
        "{tw} × {th} pixels, {dpi} dpi, quality {quality}, {} bytes",
        jpeg.len()
    );
    Ok((jpeg, made))
}

/// A rectangle of the photo to keep. Its columns may reach outside the photo (`x` negative, or
/// `x + width` past the right edge) to centre a head that is off centre; those columns repeat the
/// photo's nearest column, which on a plain backdrop is backdrop and below the head continues the
/// shoulders.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Crop {
    x: i64,
    y: u32,
    width: u32,
    height: u32,
}

/// At most this share of a corrected photo's width is filled beside the original.
const MAX_FILL: f64 = 0.3;
/// A head this close to the middle (a share of the width) is left where it is rather than filled
/// beside; well within the rule's 7 %.
const CENTRED: f64 = 0.02;

/// The 26:32 crop around `head`, as large as the photo allows: centred on the head across, with a
/// little space above it, so that the head keeps its size. `Err` when the crop is too small, or
/// when centring would fill beside a head that runs out of the frame (what is missing cannot be
/// made up) or fill more than [`MAX_FILL`] of the width.
fn crop(w: u32, h: u32, head: Option<Head>, rules: &Rules) -> std::result::Result<Crop, String> {
    let (fw, fh) = (f64::from(w), f64::from(h));
    let width = fw.min(fh * rules.aspect).floor() as u32;
    let height = ((f64::from(width) / rules.aspect).round() as u32).min(h);
    if width < rules.min_width || height < rules.min_height {
        return Err(crate::say!(
            "裁成26:32后只有{width}×{height}像素，不足{}×{}，需重拍",
            "cropped to 26:32 it is {width} × {height} pixels, under {} × {}: needs a new photo",
            rules.min_width,
            rules.min_height
        ));
    }
    let Some(head) = head else {
        return Ok(Crop { x: i64::from((w - width) / 2), y: (h - height) / 2, width, height });
    };
    let mut x = (head.centre_x - f64::from(width) / 2.0).round() as i64;
    let mut fill = (-x).max(x + i64::from(width) - i64::from(w)).max(0);
    // A head off centre by less than [`CENTRED`] of the width is centred enough: nothing is filled.
    if fill as f64 <= CENTRED * f64::from(width) {
        (x, fill) = (x.clamp(0, i64::from(w - width)), 0);
    }
    if fill > 0 && head.cut_at_side(w as usize) {
        return Err(crate::say!(
            "头部偏离中心且被画面边缘截断，无法居中，需重拍",
            "the head is off centre and cut by the edge of the photo: it cannot be centred; needs a new photo"
        ));
    }
    if fill as f64 > MAX_FILL * f64::from(width) {
        return Err(crate::say!(
            "头部偏离中心太远(居中需补{:.0}%的宽度)，需重拍",
            "the head is too far off centre (centring it would fill {:.0} % of the width): needs a new photo",
            fill as f64 / f64::from(width) * 100.0
        ));
    }
    // The space above the head: a third of what is left beside the head's height.
    let above = (f64::from(height) - (head.chin - head.top)).max(0.0) / 3.0;
    let y = (head.top.max(0.0) - above).round().clamp(0.0, f64::from(h - height)) as u32;
    Ok(Crop { x, y, width, height })
}

impl Crop {
    /// The crop's pixels, columns outside the photo repeating its nearest column.
    fn of(&self, image: &RgbImage) -> RgbImage {
        let last = i64::from(image.width()) - 1;
        RgbImage::from_fn(self.width, self.height, |x, y| {
            let source = (self.x + i64::from(x)).clamp(0, last) as u32;
            *image.get_pixel(source, self.y + y)
        })
    }
}

/// `photo_fixes.csv`: every photo, and what `--fix` made of it.
pub fn fixes_frame(audit: &PhotoAudit, fixed: &[Fixed]) -> Result<DataFrame> {
    let english = crate::lang::english();
    let photo = |f: &Fixed| -> &Photo { &audit.photos[f.photo] };
    let [source, copy, note] =
        if english { ["photo", "corrected_copy", "what_was_done"] } else { ["原照片", "修正后照片", "处理"] };
    let columns = vec![
        StringChunked::from_iter_values(source.into(), fixed.iter().map(|f| photo(f).path.clone())).into_column(),
        StringChunked::from_iter_options(
            copy.into(),
            fixed.iter().map(|f| f.written.as_ref().map(|p| p.to_string_lossy().replace('\\', "/"))),
        )
        .into_column(),
        StringChunked::from_iter_values(note.into(), fixed.iter().map(|f| f.note.clone())).into_column(),
    ];
    Ok(DataFrame::new(fixed.len(), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::photos::measure::HeadFrom;

    /// A head two thirds of a 358 × 441 photo's height, its sides 0.3 of the width either side of
    /// `centre_x` (clamped to the frame, as measured).
    fn head(centre_x: f64) -> Head {
        let half = 0.3 * 358.0;
        Head {
            top: 40.0,
            chin: 334.0,
            centre_x,
            left: (centre_x - half).max(0.0) as usize,
            right: ((centre_x + half) as usize).min(357),
            from: HeadFrom::Face,
        }
    }

    #[test]
    fn a_centred_head_keeps_the_whole_photo() {
        let crop = crop(358, 441, Some(head(179.0)), &Rules::default()).unwrap();
        assert_eq!((crop.x, crop.width, crop.height), (0, 358, 441));
    }

    #[test]
    fn a_head_off_centre_within_the_frame_is_centred_by_filling_beside_it() {
        // 15 % of the width to the left: 54 columns are filled on the left.
        let crop = crop(358, 441, Some(head(125.0)), &Rules::default()).unwrap();
        assert_eq!((crop.x, crop.width), (-54, 358));
        let to_the_right = crop_of_centre(233.0);
        assert_eq!(to_the_right.x + i64::from(to_the_right.width) - 358, 54);
        // Off by under 2 % of the width: left where it is, nothing filled.
        assert_eq!(crop_of_centre(183.0).x, 0);
    }

    fn crop_of_centre(centre_x: f64) -> Crop {
        crop(358, 441, Some(head(centre_x)), &Rules::default()).unwrap()
    }

    #[test]
    fn a_head_cut_by_the_frame_or_far_off_centre_is_not_made_up() {
        // Its left side is the photo's edge: what is beyond it is missing.
        assert!(crop(358, 441, Some(head(100.0)), &Rules::default()).is_err());
        // Within the frame but 36 % of the width would be filled.
        let narrow = Head { left: 20, right: 110, ..head(50.0) };
        assert!(crop(358, 441, Some(narrow), &Rules::default()).is_err());
        // Too few pixels for the rule, whatever the head.
        assert!(crop(120, 150, None, &Rules::default()).is_err());
    }

    #[test]
    fn filled_columns_repeat_the_nearest_column() {
        let image = RgbImage::from_fn(4, 2, |x, y| image::Rgb([x as u8 * 10, y as u8, 0]));
        let left = Crop { x: -2, y: 0, width: 4, height: 2 }.of(&image);
        let columns: Vec<u8> = (0..4).map(|x| left.get_pixel(x, 1)[0]).collect();
        assert_eq!(columns, [0, 0, 0, 10]);
        assert_eq!(left.get_pixel(0, 1)[1], 1);
        let right = Crop { x: 2, y: 1, width: 4, height: 1 }.of(&image);
        assert_eq!((0..4).map(|x| right.get_pixel(x, 0)[0]).collect::<Vec<_>>(), [20, 30, 30, 30]);
    }
}

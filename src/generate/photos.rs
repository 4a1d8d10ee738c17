//! Synthetic student photos for `xueji generate --photos`: a portrait per student (background,
//! hair, face with eyes and mouth, neck, shoulders, sensor noise) laid out by the collection
//! rules, with injected defects of every kind and the truth about them, so that tests and
//! benchmarks need no real photo.
//!
//! Layout: `photos/<学校标识码>_<学校名称>/<N年级>/<N班>/<身份证号>.jpg`, and for students without
//! a number `photos/<学校标识码>_<学校名称>/无证件号/<学校标识码>_<班号>_<姓名>.jpg`. The truth,
//! `truth/photos.csv`, has a row per file (its defect and the codes `xueji photos` must raise on
//! it) and a row per student left without a photo on purpose.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::codecs::jpeg::{JpegEncoder, PixelDensity};
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use rayon::prelude::*;

use super::person::{col, Record, Role};
use super::{GenerateOptions, Province};
use crate::error::{Error, Result};
use crate::normalize::id_number;
use crate::normalize::id_number::normalize_id_number;
use crate::photos::file::{exif_orientation_block, with_app1};
use crate::photos::fix::NO_ID_FOLDER;
use crate::problems::Code;
use crate::rng::Rng;

const PURPOSE_PHOTO: u64 = 21;

/// The folder of the photos inside the output folder.
pub const PHOTOS_DIR: &str = "photos";

/// What is wrong with a generated photo on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Defect {
    None,
    /// A PNG, a BMP or a phone's HEIC named `.jpg`.
    Png,
    Bmp,
    Heic,
    /// Text named `.jpg`.
    NotAnImage,
    Empty,
    Truncated,
    /// A JPEG header declaring 60000 × 60000 pixels.
    Bomb,
    TooLarge,
    TooSmall,
    Square,
    LowDpi,
    NoDensity,
    Grayscale,
    WhiteBackground,
    RedBackground,
    GreyBackground,
    OffCentre,
    SmallHead,
    BigHead,
    Blurry,
    /// Pixels stored turned, upright only through EXIF orientation 6.
    Rotated,
    /// The number in the name has a wrong check character.
    BadChecksumName,
    /// Lower-case x or full-width digits in the name.
    NonstandardName,
    /// A valid number no record has.
    Nobody,
    /// In another class's folder.
    WrongClassFolder,
    /// A second copy, `<id>.jpeg`, beside the first.
    SecondCopy,
    /// No photo at all.
    Missing,
}

impl Defect {
    const ALL: [Defect; 27] = [
        Defect::Png,
        Defect::Bmp,
        Defect::Heic,
        Defect::NotAnImage,
        Defect::Empty,
        Defect::Truncated,
        Defect::Bomb,
        Defect::TooLarge,
        Defect::TooSmall,
        Defect::Square,
        Defect::LowDpi,
        Defect::NoDensity,
        Defect::Grayscale,
        Defect::WhiteBackground,
        Defect::RedBackground,
        Defect::GreyBackground,
        Defect::OffCentre,
        Defect::SmallHead,
        Defect::BigHead,
        Defect::Blurry,
        Defect::Rotated,
        Defect::BadChecksumName,
        Defect::NonstandardName,
        Defect::Nobody,
        Defect::WrongClassFolder,
        Defect::SecondCopy,
        Defect::Missing,
    ];

    pub fn as_str(self) -> String {
        let debug = format!("{self:?}");
        let mut snake = String::new();
        for (i, c) in debug.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                snake.push('_');
            }
            snake.push(c.to_ascii_lowercase());
        }
        snake
    }

    /// The codes the photo must raise.
    fn codes(self) -> &'static [Code] {
        match self {
            Defect::None | Defect::SecondCopy => &[],
            Defect::Png | Defect::Bmp | Defect::Heic | Defect::NotAnImage => &[Code::PhotoNotJpeg],
            Defect::Empty | Defect::Truncated | Defect::Bomb => &[Code::PhotoUnreadable],
            Defect::TooLarge => &[Code::PhotoTooLarge],
            Defect::TooSmall => &[Code::PhotoTooSmall],
            Defect::Square => &[Code::PhotoAspect],
            Defect::LowDpi => &[Code::PhotoDpi],
            Defect::NoDensity => &[Code::PhotoDpiUndeclared],
            Defect::Grayscale => &[Code::PhotoGrayscale],
            Defect::WhiteBackground | Defect::RedBackground | Defect::GreyBackground => &[Code::PhotoBackground],
            Defect::OffCentre => &[Code::PhotoNotCentered],
            Defect::SmallHead | Defect::BigHead => &[Code::PhotoHeadSize],
            Defect::Blurry => &[Code::PhotoBlurry],
            Defect::Rotated => &[Code::PhotoOrientation],
            Defect::BadChecksumName => &[Code::PhotoNameInvalid, Code::PhotoNoRecord],
            Defect::NonstandardName => &[Code::PhotoNameNonstandard],
            Defect::Nobody => &[Code::PhotoNoRecord],
            Defect::WrongClassFolder => &[Code::PhotoWrongFolder],
            Defect::Missing => &[Code::PhotoMissing],
        }
    }

    /// Whether the student keeps no photo that matches their record.
    fn leaves_student_without_photo(self) -> bool {
        matches!(self, Defect::Missing | Defect::BadChecksumName | Defect::Nobody)
    }
}

/// How a portrait is drawn.
#[derive(Clone, Copy, Debug)]
struct Look {
    width: u32,
    height: u32,
    background: [u8; 3],
    skin: [u8; 3],
    hair: [u8; 3],
    clothes: [u8; 3],
    /// Head centre across, top of hair and chin, as shares of width and height.
    centre_x: f64,
    top: f64,
    chin: f64,
}

impl Look {
    fn draw(rng: &mut Rng) -> Look {
        let width = 170 + rng.below(91) as u32;
        let blues = [[150, 200, 240], [67, 142, 219], [120, 180, 235], [170, 210, 245]];
        let skins = [[230, 190, 165], [215, 170, 140], [240, 205, 180], [200, 155, 125]];
        let clothes = [[30, 30, 40], [20, 40, 90], [245, 245, 245], [170, 30, 40], [60, 60, 60]];
        let jitter =
            |c: [u8; 3], rng: &mut Rng| c.map(|v| (i32::from(v) + rng.below(11) as i32 - 5).clamp(0, 255) as u8);
        let top = 0.06 + 0.03 * rng.unit();
        Look {
            width,
            height: (f64::from(width) * 32.0 / 26.0).round() as u32,
            background: jitter(*rng.pick(&blues), rng),
            skin: jitter(*rng.pick(&skins), rng),
            hair: jitter([30, 25, 22], rng),
            clothes: *rng.pick(&clothes),
            centre_x: 0.5 + 0.03 * (rng.unit() - 0.5),
            top,
            chin: top + 0.64 + 0.05 * rng.unit(),
        }
    }

    /// The portrait, with ±6 of noise per channel as a camera sensor leaves.
    fn render(&self, rng: &mut Rng) -> RgbImage {
        let (w, h) = (f64::from(self.width), f64::from(self.height));
        let ry = (self.chin - self.top) * h / 2.0;
        let (cx, cy, rx) = (self.centre_x * w, self.top * h + ry, ry * 0.76);
        let inside = |x: f64, y: f64, ex: f64, ey: f64, ax: f64, ay: f64| {
            ((x - ex) / ax).powi(2) + ((y - ey) / ay).powi(2) <= 1.0
        };
        let shoulder_top = cy + ry * 1.12;
        RgbImage::from_fn(self.width, self.height, |x, y| {
            let (x, y) = (f64::from(x) + 0.5, f64::from(y) + 0.5);
            let colour = if inside(x, y, cx, cy, rx, ry) {
                let eye = inside(x, y, cx - 0.36 * rx, cy - 0.08 * ry, 0.13 * rx, 0.06 * ry)
                    || inside(x, y, cx + 0.36 * rx, cy - 0.08 * ry, 0.13 * rx, 0.06 * ry);
                let mouth = inside(x, y, cx, cy + 0.52 * ry, 0.30 * rx, 0.06 * ry);
                let hair = y < cy - 0.45 * ry || (y < cy && (x - cx).abs() > 0.85 * rx);
                if hair {
                    self.hair
                } else if eye {
                    [40, 30, 30]
                } else if mouth {
                    [170, 70, 70]
                } else {
                    self.skin
                }
            } else if (x - cx).abs() < rx * 0.45 && y > cy && y < shoulder_top + 2.0 {
                self.skin.map(|v| v.saturating_sub(15))
            } else if y > shoulder_top && (x - cx).abs() < rx * 1.25 + (y - shoulder_top) * 2.5 {
                self.clothes
            } else {
                self.background
            };
            Rgb(colour.map(|v| (i32::from(v) + rng.below(13) as i32 - 6).clamp(0, 255) as u8))
        })
    }
}

fn jpeg(image: &RgbImage, quality: u8, dpi: Option<u16>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut encoder = JpegEncoder::new_with_quality(Cursor::new(&mut out), quality);
    encoder.set_pixel_density(match dpi {
        Some(dpi) => PixelDensity::dpi(dpi),
        None => PixelDensity { density: (1, 1), unit: image::codecs::jpeg::PixelDensityUnit::PixelAspectRatio },
    });
    encoder
        .encode_image(&DynamicImage::ImageRgb8(image.clone()))
        .map_err(|e| Error::Internal(format!("encoding a generated photo: {e}")))?;
    Ok(out)
}

fn encoded(image: &RgbImage, format: ImageFormat) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    DynamicImage::ImageRgb8(image.clone())
        .write_to(&mut Cursor::new(&mut out), format)
        .map_err(|e| Error::Internal(format!("encoding a generated photo: {e}")))?;
    Ok(out)
}

/// The bytes of a photo with `defect` (the naming and placing defects are drawn clean).
fn photo_bytes(defect: Defect, rng: &mut Rng) -> Result<Vec<u8>> {
    let mut look = Look::draw(rng);
    let quality = 80 + rng.below(11) as u8;
    let dpi = |width: u32| Some((f64::from(width) * 25.4 / 26.0).round() as u16);
    match defect {
        Defect::TooLarge => {
            look.width = 560 + rng.below(100) as u32;
            look.height = (f64::from(look.width) * 32.0 / 26.0).round() as u32;
        }
        Defect::TooSmall => {
            look.width = 100 + rng.below(40) as u32;
            look.height = (f64::from(look.width) * 32.0 / 26.0).round() as u32;
        }
        Defect::Square => {
            look.width = look.width.max(200);
            look.height = look.width;
        }
        Defect::WhiteBackground => look.background = [248, 248, 246],
        Defect::RedBackground => look.background = [200, 25, 30],
        Defect::GreyBackground => look.background = [150, 150, 152],
        Defect::OffCentre => look.centre_x = if rng.chance(0.5) { 0.30 } else { 0.70 },
        Defect::SmallHead => {
            look.top = 0.25;
            look.chin = 0.25 + 0.38 + 0.04 * rng.unit();
        }
        Defect::BigHead => {
            look.top = 0.02;
            look.chin = 0.90;
        }
        _ => {}
    }
    let image = look.render(rng);
    Ok(match defect {
        Defect::Png => encoded(&image, ImageFormat::Png)?,
        Defect::Bmp => encoded(&image, ImageFormat::Bmp)?,
        Defect::Heic => {
            let mut bytes = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic".to_vec();
            bytes.extend((0..4000).map(|_| rng.below(256) as u8));
            bytes
        }
        Defect::NotAnImage => "这不是照片 / not a photo\n".repeat(20).into_bytes(),
        Defect::Empty => Vec::new(),
        Defect::Truncated => {
            let whole = jpeg(&image, quality, dpi(look.width))?;
            whole[..whole.len() * 3 / 5].to_vec()
        }
        Defect::Bomb => {
            let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xC0, 0, 17, 8];
            bytes.extend(60_000u16.to_be_bytes());
            bytes.extend(60_000u16.to_be_bytes());
            bytes.extend([3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
            bytes.extend([0xFF, 0xDA, 0, 12, 3, 1, 0, 2, 0x11, 3, 0x11, 0, 63, 0]);
            bytes.extend((0..2000).map(|_| rng.below(255) as u8));
            bytes.extend([0xFF, 0xD9]);
            bytes
        }
        Defect::TooLarge => jpeg(&image, 95, dpi(look.width))?,
        Defect::LowDpi => jpeg(&image, quality, Some(72))?,
        Defect::NoDensity => jpeg(&image, quality, None)?,
        Defect::Grayscale => {
            let gray = DynamicImage::ImageRgb8(image).to_luma8();
            jpeg(&DynamicImage::ImageLuma8(gray).to_rgb8(), quality, dpi(look.width))?
        }
        Defect::Blurry => {
            let sigma = 1.5 + 1.5 * rng.unit() as f32;
            jpeg(&image::imageops::blur(&image, sigma), quality, dpi(look.width))?
        }
        Defect::Rotated => {
            let stored = image::imageops::rotate270(&image);
            with_app1(&jpeg(&stored, quality, dpi(look.width))?, &exif_orientation_block(6))
        }
        _ => jpeg(&image, quality, dpi(look.width))?,
    })
}

/// One line of `truth/photos.csv`.
pub struct PhotoTruth {
    /// Relative to the photos folder, `/`-separated; empty for a student left without a photo.
    pub path: String,
    pub record_id: String,
    pub defect: Defect,
    pub codes: Vec<Code>,
}

/// Writes the photos of a batch's students (their original registrations) under `dir`, each
/// with a defect drawn at the options' `photo_defect_rate`, and returns the truth.
pub fn write_photos(
    records: &[&Record],
    province: &Province,
    options: &GenerateOptions,
    dir: &Path,
) -> Result<Vec<PhotoTruth>> {
    let originals: Vec<&Record> = records.iter().copied().filter(|r| r.role == Role::Original).collect();
    let truths: Vec<Vec<PhotoTruth>> =
        originals.par_iter().map(|record| student_photos(record, province, options, dir)).collect::<Result<_>>()?;
    Ok(truths.into_iter().flatten().collect())
}

fn student_photos(
    record: &Record,
    province: &Province,
    options: &GenerateOptions,
    dir: &Path,
) -> Result<Vec<PhotoTruth>> {
    let (defect_rate, as_of) = (options.photo_defect_rate, options.as_of);
    let mut rng = Rng::keyed(options.seed, record.person as u64, PURPOSE_PHOTO);
    let value = |c: usize| record.values[c].as_str();
    let class = &province.classes[record.class];
    let school = &province.schools[class.school];
    let record_id = value(col::RECORD_ID).to_owned();
    // The number as the school typed it: photos are named by what the record says.
    let id = normalize_id_number(value(col::ID)).map(|(id, _)| id);
    let id_valid = id.as_deref().is_some_and(|id| id_number::is_valid(id, as_of));
    let name = value(col::NAME).trim();
    // Students whose record has a broken number, or neither number nor name, get no photo
    // here: what their photo's name should be is a question for their record first.
    if (id.is_some() && !id_valid) || (id.is_none() && name.is_empty()) {
        return Ok(Vec::new());
    }
    let school_folder = PathBuf::from(crate::files::file_stem(&format!("{}_{}", school.code, school.name)));
    // Folders by grade and class as the record has them (a record typed with another grade than
    // the child's is the record's problem, not the photo's).
    let grade = crate::normalize::codes::normalize_grade(value(col::GRADE)).unwrap_or(class.grade);
    let class_folder = |number: u16| school_folder.join(format!("{grade}年级")).join(format!("{number}班"));
    let mut defect = if rng.chance(defect_rate) { *rng.pick(&Defect::ALL) } else { Defect::None };
    // Name and folder defects of numbered photos need a number; a no-ID student gets another.
    if id.is_none()
        && matches!(defect, Defect::BadChecksumName | Defect::NonstandardName | Defect::Nobody | Defect::SecondCopy)
    {
        defect = Defect::WrongClassFolder;
    }
    let mut truth = Vec::new();
    if defect.leaves_student_without_photo() {
        truth.push(PhotoTruth {
            path: String::new(),
            record_id: record_id.clone(),
            defect,
            codes: vec![Code::PhotoMissing],
        });
    }
    if defect == Defect::Missing {
        return Ok(truth);
    }
    let (folder, file_name) = match &id {
        Some(id) => {
            let folder = if defect == Defect::WrongClassFolder {
                class_folder(class.number + 1)
            } else {
                class_folder(class.number)
            };
            let name = match defect {
                Defect::BadChecksumName => {
                    let last = id.as_bytes()[17];
                    let wrong = if last == b'0' { '1' } else { '0' };
                    format!("{}{wrong}.jpg", &id[..17])
                }
                Defect::NonstandardName if id.ends_with('X') => format!("{}x.jpg", &id[..17]),
                Defect::NonstandardName => format!(
                    "{}.jpg",
                    id.chars().map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap_or(c)).collect::<String>()
                ),
                Defect::Nobody => {
                    // The number with another province's region: valid, and nobody's here.
                    let region = if id.starts_with("11") { "310101" } else { "110101" };
                    let body = format!("{region}{}", &id[6..17]);
                    let check = crate::normalize::id_number::check_char(body.as_bytes()).unwrap_or(b'0');
                    format!("{body}{}.jpg", char::from(check))
                }
                _ => format!("{id}.jpg"),
            };
            (folder, name)
        }
        None => {
            let folder = if defect == Defect::WrongClassFolder {
                class_folder(class.number)
            } else {
                school_folder.join(NO_ID_FOLDER)
            };
            (folder, crate::files::file_stem(&format!("{}_{}_{name}", school.code, class.number)) + ".jpg")
        }
    };
    std::fs::create_dir_all(dir.join(&folder)).map_err(|e| Error::io(dir, e))?;
    let bytes = photo_bytes(defect, &mut rng)?;
    let path = folder.join(&file_name);
    std::fs::write(dir.join(&path), &bytes).map_err(|e| Error::io(&dir.join(&path), e))?;
    let relative = |p: &Path| p.to_string_lossy().replace('\\', "/");
    let mut codes = defect.codes().to_vec();
    if defect == Defect::SecondCopy {
        // `<id>.jpeg` sorts before `<id>.jpg`: it is the first photo of the student, and the
        // `.jpg` is the second.
        let copy = path.with_extension("jpeg");
        std::fs::write(dir.join(&copy), &bytes).map_err(|e| Error::io(&dir.join(&copy), e))?;
        truth.push(PhotoTruth {
            path: relative(&copy),
            record_id: record_id.clone(),
            defect,
            codes: vec![Code::PhotoNameNonstandard],
        });
        codes.push(Code::PhotoDuplicate);
    }
    truth.push(PhotoTruth { path: relative(&path), record_id, defect, codes });
    Ok(truth)
}

/// Writes `truth/photos.csv`.
pub fn write_truth(truth: &[PhotoTruth], path: &Path) -> Result<()> {
    crate::files::write_atomic(path, |out| {
        let mut csv = csv::Writer::from_writer(out);
        let fail = |e: csv::Error| Error::input(path, e.to_string());
        csv.write_record(["path", "record_id", "defect", "codes"]).map_err(fail)?;
        for t in truth {
            let codes: Vec<&str> = t.codes.iter().map(|c| c.as_str()).collect();
            csv.write_record([t.path.as_str(), &t.record_id, &t.defect.as_str(), &codes.join(";")]).map_err(fail)?;
        }
        csv.flush().map_err(|e| Error::io(path, e))
    })
}

//! Student photos (学生照片): each photo file judged against the provincial collection rules
//! (DOMAIN.md, "Photos"), matched to its record by name and folder, and corrected where a program
//! can. [`inspect`] judges one file's bytes; [`audit`] walks photo folders against the records;
//! [`fix`] writes corrected copies.

pub mod audit;
pub mod face;
pub mod file;
pub mod fix;
pub mod measure;
pub mod naming;
pub mod write;

use std::io::Cursor;

use image::{DynamicImage, RgbImage};

use crate::problems::Code;
use file::{Density, Format, HeaderError};
use measure::{Backdrop, HeadFrom, Portrait};

/// The collection rules, as numbers.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Rules {
    /// Files of this many bytes or more are too large (60 KB).
    pub max_bytes: u64,
    /// 26 mm × 32 mm at 150 dpi.
    pub min_width: u32,
    pub min_height: u32,
    /// Width over height wanted (26:32), and the relative difference tolerated.
    pub aspect: f64,
    pub aspect_tolerance: f64,
    pub min_dpi: f64,
    /// Head height over photo height accepted ("about 2/3", as [`measure`] reads it).
    pub head_share: (f64, f64),
    /// Head centre's distance from the photo's centre, over the width.
    pub max_offset: f64,
    /// Sharpness under which a photo is blurred (see [`measure::Portrait::sharpness`]): midway
    /// between the sharpest blurred photo (0.43, Gaussian σ 1.5) and the least sharp unblurred
    /// one (0.59, a small photo enlarged 1.45×) of the real-photo test set and its held-out
    /// person; drawn portraits measure 0.73–0.86 sharp, 0.24–0.39 blurred.
    pub min_sharpness: f64,
    /// Photos declaring more pixels than this are refused before decoding (a decompression bomb).
    pub max_pixels: u64,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            max_bytes: 60 * 1024,
            min_width: 154,
            min_height: 189,
            aspect: 26.0 / 32.0,
            aspect_tolerance: 0.03,
            min_dpi: 150.0,
            head_share: (0.55, 0.80),
            max_offset: 0.07,
            min_sharpness: 0.50,
            max_pixels: 40_000_000,
        }
    }
}

/// Millimetres per inch, for densities.
const MM_PER_INCH: f64 = 25.4;
/// The photo's printed width.
pub const WIDTH_MM: f64 = 26.0;

/// What one photo file is and what is wrong with it, by its bytes alone (its name and place are
/// [`audit`]'s).
#[derive(Clone, Debug, Default)]
pub struct Inspection {
    pub format: Option<Format>,
    pub bytes: u64,
    /// Of the upright photo.
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Declared density.
    pub dpi: Option<f64>,
    pub orientation: u16,
    pub portrait: Option<Portrait>,
    pub findings: Vec<(Code, String)>,
}

/// A photo decoded upright (EXIF orientation applied), or why it cannot be.
pub fn decode(bytes: &[u8], rules: &Rules) -> Result<(RgbImage, Option<file::JpegHeader>), String> {
    let format = Format::sniff(bytes);
    if bytes.is_empty() {
        return Err(crate::say!("空文件(0字节)", "empty file (0 bytes)"));
    }
    let refuse = |w: u64, h: u64| {
        crate::say!(
            "声明尺寸{w}×{h}像素，超过{}万像素上限，未解码(可能是解压炸弹)",
            "declares {w} × {h} pixels, over the {} megapixel limit: not decoded (a decompression bomb?)",
            rules.max_pixels / if crate::lang::english() { 1_000_000 } else { 10_000 }
        )
    };
    if format != Format::Jpeg {
        if !format.convertible() {
            return Err(crate::say!("{}无法解码", "{} cannot be decoded", format.label()));
        }
        let mut reader = image::ImageReader::new(Cursor::new(bytes));
        reader.set_format(match format {
            Format::Png => image::ImageFormat::Png,
            Format::Bmp => image::ImageFormat::Bmp,
            Format::Gif => image::ImageFormat::Gif,
            _ => image::ImageFormat::WebP,
        });
        let (w, h) = reader.into_dimensions().map_err(|e| crate::say!("无法读取：{e}", "cannot be read: {e}"))?;
        if u64::from(w) * u64::from(h) > rules.max_pixels {
            return Err(refuse(w.into(), h.into()));
        }
        let image =
            image::load_from_memory(bytes).map_err(|e| crate::say!("无法解码：{e}", "cannot be decoded: {e}"))?;
        return Ok((image.to_rgb8(), None));
    }
    let header = file::read_jpeg_header(bytes).map_err(|e| match e {
        HeaderError::Truncated => crate::say!("文件在头部被截断", "the file ends inside its headers"),
        HeaderError::Malformed(what) => crate::say!("JPEG结构损坏({what})", "damaged JPEG structure ({what})"),
    })?;
    if u64::from(header.width) * u64::from(header.height) > rules.max_pixels {
        return Err(refuse(header.width.into(), header.height.into()));
    }
    if !header.complete {
        return Err(crate::say!(
            "文件不完整(缺少结束标记，可能传输中断)",
            "the file is cut short (no end-of-image marker)"
        ));
    }
    let options = zune_core::options::DecoderOptions::default()
        .set_max_width(header.width as usize)
        .set_max_height(header.height as usize)
        .jpeg_set_out_colorspace(zune_core::colorspace::ColorSpace::RGB);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(Cursor::new(bytes), options);
    let pixels = decoder.decode().map_err(|e| crate::say!("无法解码：{e:?}", "cannot be decoded: {e:?}"))?;
    let (w, h) = decoder.dimensions().map(|(w, h)| (w as u32, h as u32)).unwrap_or((0, 0));
    let image = RgbImage::from_raw(w, h, pixels)
        .ok_or_else(|| crate::say!("解码结果与尺寸不符", "decoded pixels do not match the size"))?;
    let image = if header.orientation == 1 {
        image
    } else {
        let mut turned = DynamicImage::ImageRgb8(image);
        if let Some(orientation) = image::metadata::Orientation::from_exif(header.orientation as u8) {
            turned.apply_orientation(orientation);
        }
        turned.into_rgb8()
    };
    Ok((image, Some(header)))
}

/// Judges one photo file's bytes against `rules`.
pub fn inspect(bytes: &[u8], rules: &Rules) -> Inspection {
    let mut found = Inspection { bytes: bytes.len() as u64, orientation: 1, ..Inspection::default() };
    let format = Format::sniff(bytes);
    found.format = (!bytes.is_empty()).then_some(format);
    if !bytes.is_empty() && format != Format::Jpeg {
        found.findings.push((Code::PhotoNotJpeg, crate::say!("文件实为{}", "the file is {}", format.label())));
    }
    let (image, header) = match decode(bytes, rules) {
        Ok(decoded) => decoded,
        Err(why) => {
            // A format that cannot be decoded at all is said once, as not being a JPEG.
            if bytes.is_empty() || format == Format::Jpeg || format.convertible() {
                found.findings.push((Code::PhotoUnreadable, why));
            }
            return found;
        }
    };
    let (width, height) = image.dimensions();
    (found.width, found.height) = (Some(width), Some(height));
    let too_small = width < rules.min_width || height < rules.min_height;
    if let Some(header) = header {
        found.orientation = header.orientation;
        if header.orientation != 1 {
            found.findings.push((
                Code::PhotoOrientation,
                crate::say!(
                    "照片像素未摆正，靠EXIF方向标记({})才显示为正；不读取该标记的系统会显示歪倒或镜像",
                    "its pixels are not upright: only its EXIF orientation ({}) shows it upright, and systems that ignore it show it turned or mirrored",
                    file::orientation_label(header.orientation)
                ),
            ));
        }
        if found.bytes >= rules.max_bytes {
            found.findings.push((
                Code::PhotoTooLarge,
                crate::say!(
                    "{:.1}KB({}字节)，应小于{}KB",
                    "{:.1} KB ({} bytes), must be under {} KB",
                    found.bytes as f64 / 1024.0,
                    found.bytes,
                    rules.max_bytes / 1024
                ),
            ));
        }
        let at_26mm = f64::from(width) / (WIDTH_MM / MM_PER_INCH);
        if let Density::Dpi(dpi) = header.density {
            found.dpi = Some(dpi);
        }
        match header.density {
            // Too few pixels is the cause, said once below.
            _ if too_small => {}
            Density::Dpi(dpi) => {
                if dpi < rules.min_dpi {
                    found.findings.push((
                        Code::PhotoDpi,
                        crate::say!(
                            "标注{dpi:.0}dpi，按此打印宽{:.0}毫米；宽26毫米时为{at_26mm:.0}dpi，应标注不低于{}dpi",
                            "declares {dpi:.0} dpi, which prints {:.0} mm wide; at 26 mm it is {at_26mm:.0} dpi, and must declare at least {}",
                            f64::from(width) / dpi * MM_PER_INCH,
                            rules.min_dpi
                        ),
                    ));
                }
            }
            Density::Undeclared => found.findings.push((
                Code::PhotoDpiUndeclared,
                crate::say!(
                    "未标注分辨率；按宽26毫米为{at_26mm:.0}dpi",
                    "no density declared; at 26 mm wide it is {at_26mm:.0} dpi"
                ),
            )),
        }
    }
    if too_small {
        found.findings.push((
            Code::PhotoTooSmall,
            crate::say!(
                "{width}×{height}像素，应不小于{}×{}",
                "{width} × {height} pixels, must be at least {} × {}",
                rules.min_width,
                rules.min_height
            ),
        ));
    }
    let aspect = f64::from(width) / f64::from(height);
    if (aspect / rules.aspect - 1.0).abs() > rules.aspect_tolerance {
        found.findings.push((
            Code::PhotoAspect,
            crate::say!(
                "宽高比{aspect:.3}({width}×{height})，应为26:32即{:.3}(±{:.0}%)",
                "width / height is {aspect:.3} ({width} × {height}), must be 26:32, {:.3} (±{:.0} %)",
                rules.aspect,
                rules.aspect_tolerance * 100.0
            ),
        ));
    }
    let portrait = measure::measure(image.as_raw(), width as usize, height as usize);
    judge_portrait(&portrait, rules, &mut found.findings);
    found.portrait = Some(portrait);
    found.findings.sort_by_key(|(code, _)| *code);
    found
}

/// The findings on what the pixels show: colour, background, head, sharpness.
fn judge_portrait(p: &Portrait, rules: &Rules, findings: &mut Vec<(Code, String)>) {
    let hex = format!("#{:02X}{:02X}{:02X}", p.background[0], p.background[1], p.background[2]);
    if p.grayscale {
        // Neither the background's colour nor the head (found by colour) can be judged on a
        // black-and-white photo: the retake is said once.
        findings.push((Code::PhotoGrayscale, crate::say!("黑白照片，应为彩色", "black and white: must be in colour")));
        return;
    }
    match p.uniformity {
        // The subject fills the border: no background to judge.
        None => {}
        Some(uniformity) if uniformity < measure::UNIFORM_BORDER => findings.push((
            Code::PhotoBackground,
            crate::say!(
                "背景不是单一颜色(边缘只有{:.0}%接近主色{hex})，应为浅蓝色纯色背景",
                "the background is not one colour (only {:.0} % of the border is near {hex}): must be plain light blue",
                uniformity * 100.0
            ),
        )),
        Some(_) => {
            let backdrop = Backdrop::of(p.background);
            if backdrop != Backdrop::LightBlue {
                findings.push((
                    Code::PhotoBackground,
                    crate::say!(
                        "背景为{}({hex})，应为浅蓝色",
                        "the background is {} ({hex}): must be light blue",
                        backdrop.label()
                    ),
                ));
            }
        }
    }
    if let (Some(head), Some(share), Some(offset)) = (p.head, p.head_share(), p.head_offset()) {
        let how = match head.from {
            HeadFrom::Face => crate::say!("(按人脸检测估计)", " (estimated from the detected face)"),
            HeadFrom::Outline => crate::say!(
                "(未检出人脸，按背景色分割的轮廓估计)",
                " (no face detected: estimated from the outline against the background)"
            ),
        };
        if share < rules.head_share.0 || share > rules.head_share.1 {
            findings.push((
                Code::PhotoHeadSize,
                crate::say!(
                    "头部约占照片高度{:.0}%，应约为2/3({:.0}%–{:.0}%){}",
                    "the head is about {:.0} % of the height, must be about 2/3 ({:.0} %–{:.0} %){}",
                    share * 100.0,
                    rules.head_share.0 * 100.0,
                    rules.head_share.1 * 100.0,
                    how
                ),
            ));
        }
        if offset.abs() > rules.max_offset {
            let side = if offset < 0.0 { crate::lang::pick("左", "left") } else { crate::lang::pick("右", "right") };
            findings.push((
                Code::PhotoNotCentered,
                crate::say!(
                    "头部中心偏{side}{:.0}%宽度(允许{:.0}%){}",
                    "the head's centre is {:.0} % of the width to the {side} (at most {:.0} %){}",
                    offset.abs() * 100.0,
                    rules.max_offset * 100.0,
                    how
                ),
            ));
        }
    }
    if p.sharpness < rules.min_sharpness {
        findings.push((
            Code::PhotoBlurry,
            crate::say!(
                "清晰度{:.2}(再模糊一次只损失{:.0}%的细节)，低于{:.2}",
                "sharpness {:.2} (blurring it once more takes only {:.0} % of its detail), under {:.2}",
                p.sharpness,
                p.sharpness * 100.0,
                rules.min_sharpness
            ),
        ));
    }
}

/// Codes a program can fix (`xueji photos --fix`): format, size in bytes, shape, density,
/// orientation, a head off centre (when there is room to re-crop around it), name and folder, a
/// second copy. The rest need a new photo.
pub fn fixable(code: Code) -> bool {
    matches!(
        code,
        Code::PhotoNotJpeg
            | Code::PhotoTooLarge
            | Code::PhotoAspect
            | Code::PhotoDpi
            | Code::PhotoDpiUndeclared
            | Code::PhotoOrientation
            | Code::PhotoNotCentered
            | Code::PhotoNameNonstandard
            | Code::PhotoWrongFolder
            | Code::PhotoDuplicate
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small clean portrait as a JPEG: light blue, a head of about 2/3 the height, shoulders.
    fn portrait_jpeg(width: u32, height: u32, dpi: u16) -> Vec<u8> {
        let (w, h) = (f64::from(width), f64::from(height));
        let (cx, cy, ry) = (w / 2.0, h * 0.41, h * 0.33);
        let rx = ry * 0.76;
        let image = RgbImage::from_fn(width, height, |x, y| {
            let (x, y) = (f64::from(x) + 0.5, f64::from(y) + 0.5);
            let speckle = ((x as u32 * 7 + y as u32 * 13) % 9) as u8;
            image::Rgb(if ((x - cx) / rx).powi(2) + ((y - cy) / ry).powi(2) <= 1.0 {
                if y < cy - 0.45 * ry {
                    [30 + speckle, 25, 22]
                } else {
                    [225, 185 + speckle, 160]
                }
            } else if (x - cx).abs() < rx * 0.45 && y > cy && y < cy + ry * 1.14 {
                [210, 170, 145]
            } else if y > cy + ry * 1.12 && (x - cx).abs() < rx * 1.25 + (y - cy - ry * 1.12) * 2.5 {
                [30, 30, 40 + speckle]
            } else {
                [150 + speckle, 200, 240]
            })
        });
        let mut out = Vec::new();
        let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(Cursor::new(&mut out), 90);
        encoder.set_pixel_density(image::codecs::jpeg::PixelDensity::dpi(dpi));
        encoder.encode_image(&DynamicImage::ImageRgb8(image)).unwrap();
        out
    }

    fn codes(found: &Inspection) -> Vec<Code> {
        found.findings.iter().map(|(c, _)| *c).collect()
    }

    #[test]
    fn a_clean_portrait_passes() {
        let found = inspect(&portrait_jpeg(200, 246, 195), &Rules::default());
        assert_eq!(codes(&found), vec![]);
        assert_eq!((found.width, found.height, found.dpi), (Some(200), Some(246), Some(195.0)));
        assert_eq!(found.format, Some(Format::Jpeg));
    }

    #[test]
    fn size_shape_and_density_are_judged() {
        let rules = Rules::default();
        assert_eq!(codes(&inspect(&portrait_jpeg(200, 200, 195), &rules)), vec![Code::PhotoAspect]);
        assert_eq!(codes(&inspect(&portrait_jpeg(200, 246, 72), &rules)), vec![Code::PhotoDpi]);
        // Too few pixels is said once, not again as a low density.
        assert_eq!(codes(&inspect(&portrait_jpeg(120, 148, 117), &rules)), vec![Code::PhotoTooSmall]);
        let small_limit = Rules { max_bytes: 2_000, ..Rules::default() };
        assert_eq!(codes(&inspect(&portrait_jpeg(200, 246, 195), &small_limit)), vec![Code::PhotoTooLarge]);
    }

    #[test]
    fn bad_files_are_unreadable_never_a_crash() {
        let rules = Rules::default();
        let unreadable = |bytes: &[u8]| {
            let found = inspect(bytes, &rules);
            assert_eq!(codes(&found), vec![Code::PhotoUnreadable], "{:?}", found.findings);
            found.findings[0].1.clone()
        };
        assert!(unreadable(b"").contains("0"));
        let whole = portrait_jpeg(200, 246, 195);
        assert!(unreadable(&whole[..whole.len() / 2]).contains("结束标记") || crate::lang::english());
        // A header declaring 60000 × 60000 pixels is refused before any decoder allocates.
        let mut bomb = vec![0xFF, 0xD8, 0xFF, 0xC0, 0, 17, 8];
        bomb.extend(60_000u16.to_be_bytes());
        bomb.extend(60_000u16.to_be_bytes());
        bomb.extend([
            3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1, 0xFF, 0xDA, 0, 12, 3, 1, 0, 2, 0x11, 3, 0x11, 0, 63, 0, 0xFF, 0xD9,
        ]);
        assert!(unreadable(&bomb).contains("60000"));
        // Text named .jpg, and a phone's HEIC: not JPEG, said once.
        assert_eq!(codes(&inspect(b"not a photo at all", &rules)), vec![Code::PhotoNotJpeg]);
        assert_eq!(codes(&inspect(b"\0\0\0\x18ftypheic\0\0\0\0", &rules)), vec![Code::PhotoNotJpeg]);
    }

    #[test]
    fn damaged_jpegs_never_panic() {
        let rules = Rules::default();
        let whole = portrait_jpeg(160, 197, 155);
        let mut rng = crate::rng::Rng::keyed(7, 0, 0);
        for _ in 0..300 {
            let mut bytes = whole.clone();
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(bytes.len());
                match rng.below(3) {
                    0 => bytes[at] = rng.below(256) as u8,
                    1 => bytes.truncate(at.max(3)),
                    _ => bytes.insert(at, 0xFF),
                }
            }
            let found = inspect(&bytes, &rules);
            // Whatever it is, it is judged: measured, or said to be unreadable.
            assert!(found.width.is_some() || !found.findings.is_empty());
        }
    }

    #[test]
    fn rotated_photos_are_judged_upright() {
        let upright = portrait_jpeg(200, 246, 195);
        let (image, _) = decode(&upright, &Rules::default()).unwrap();
        let stored = image::imageops::rotate270(&image);
        let mut turned = Vec::new();
        let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(Cursor::new(&mut turned), 90);
        encoder.set_pixel_density(image::codecs::jpeg::PixelDensity::dpi(195));
        encoder.encode_image(&DynamicImage::ImageRgb8(stored)).unwrap();
        let turned = file::with_app1(&turned, &file::exif_orientation_block(6));
        let found = inspect(&turned, &Rules::default());
        assert_eq!(codes(&found), vec![Code::PhotoOrientation]);
        assert_eq!((found.width, found.height), (Some(200), Some(246)));
    }

    #[test]
    fn corrected_photos_meet_every_rule_they_can() {
        let rules = Rules::default();
        // A large, square, 72-dpi photo turned through EXIF, as a PNG.
        let (image, _) = decode(&portrait_jpeg(600, 600, 72), &rules).unwrap();
        let mut png = Vec::new();
        DynamicImage::ImageRgb8(image).write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
        let before = inspect(&png, &rules);
        assert!(codes(&before).contains(&Code::PhotoNotJpeg) && codes(&before).contains(&Code::PhotoAspect));
        let (fixed, note) = fix::correct(&png, &rules).unwrap();
        let after = inspect(&fixed, &rules);
        assert_eq!(codes(&after), vec![], "{note}: {:?}", after.findings);
        assert_eq!(after.width, Some(fix::MAX_WIDTH));
        assert!((fixed.len() as u64) < rules.max_bytes);
        // What cannot be corrected is refused with the reason.
        assert!(fix::correct(&portrait_jpeg(120, 148, 117), &rules).is_err());
        assert!(fix::correct(b"", &rules).is_err());
    }
}

//! What a photo file is, read from its bytes before any pixel is decoded: its real format (a PNG
//! renamed `.jpg` is a PNG), and for a JPEG its frame size, colour components, declared density,
//! EXIF orientation and whether it ends (a truncated file has no end-of-image marker). Reading the
//! frame size first is what lets a header declaring 60000 × 60000 pixels be refused before a
//! decoder allocates for it.

/// A file format told by its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    Bmp,
    Gif,
    Webp,
    /// HEIC/HEIF/AVIF (phones' default): no pure-Rust decoder, so never converted.
    Heif,
    Tiff,
    Unknown,
}

impl Format {
    pub fn sniff(bytes: &[u8]) -> Format {
        match bytes {
            [0xFF, 0xD8, 0xFF, ..] => Format::Jpeg,
            [0x89, b'P', b'N', b'G', ..] => Format::Png,
            [b'B', b'M', ..] => Format::Bmp,
            [b'G', b'I', b'F', b'8', ..] => Format::Gif,
            [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Format::Webp,
            [_, _, _, _, b'f', b't', b'y', b'p', brand @ ..]
                if brand.starts_with(b"hei")
                    || brand.starts_with(b"mif1")
                    || brand.starts_with(b"msf1")
                    || brand.starts_with(b"avif") =>
            {
                Format::Heif
            }
            [b'I', b'I', 42, 0, ..] | [b'M', b'M', 0, 42, ..] => Format::Tiff,
            _ => Format::Unknown,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Format::Jpeg => "JPEG",
            Format::Png => "PNG",
            Format::Bmp => "BMP",
            Format::Gif => "GIF",
            Format::Webp => "WebP",
            Format::Heif => "HEIC/HEIF",
            Format::Tiff => "TIFF",
            Format::Unknown => crate::lang::pick("非图片或未知格式", "not an image, or an unknown format"),
        }
    }

    /// Whether `xueji photos --fix` can decode it to convert it to JPEG.
    pub fn convertible(self) -> bool {
        matches!(self, Format::Jpeg | Format::Png | Format::Bmp | Format::Gif | Format::Webp)
    }
}

/// Where a declared density comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Density {
    /// Dots per inch, from the JFIF header or EXIF (JFIF wins when both are there).
    Dpi(f64),
    /// No density, or only a pixel aspect ratio (JFIF units 0).
    Undeclared,
}

/// The header facts of a JPEG.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JpegHeader {
    pub width: u32,
    pub height: u32,
    /// 1 (grayscale), 3 (YCbCr) or 4 (CMYK).
    pub components: u8,
    pub density: Density,
    /// EXIF orientation 1–8; 1 (upright) when there is none.
    pub orientation: u16,
    /// The end-of-image marker follows the scan data: the file was written to its end.
    pub complete: bool,
}

/// Why a JPEG's headers cannot be read.
#[derive(Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// The file stops inside its headers.
    Truncated,
    /// The markers do not make a JPEG (no frame header before the scan, a bad segment length).
    Malformed(&'static str),
}

/// Reads the markers of a JPEG up to its first scan. `bytes` must start with a JPEG signature.
pub fn read_jpeg_header(bytes: &[u8]) -> Result<JpegHeader, HeaderError> {
    let mut pos = 2;
    let mut frame: Option<(u32, u32, u8)> = None;
    let (mut jfif, mut exif) = (None::<Density>, None::<(Option<f64>, u16)>);
    loop {
        // Markers may be padded with any number of 0xFF fill bytes.
        while bytes.get(pos) == Some(&0xFF) && bytes.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (bytes.get(pos), bytes.get(pos + 1)) else {
            return Err(if pos + 1 >= bytes.len() { HeaderError::Truncated } else { HeaderError::Malformed("marker") });
        };
        pos += 2;
        if matches!(marker, 0x01 | 0xD0..=0xD7) {
            continue;
        }
        if marker == 0xD9 {
            return Err(HeaderError::Malformed("image ends before its scan"));
        }
        let length = match bytes.get(pos..pos + 2) {
            Some(l) => usize::from(u16::from_be_bytes([l[0], l[1]])),
            None => return Err(HeaderError::Truncated),
        };
        if length < 2 {
            return Err(HeaderError::Malformed("segment length"));
        }
        let Some(segment) = bytes.get(pos + 2..pos + length) else { return Err(HeaderError::Truncated) };
        match marker {
            // Start of frame (baseline, progressive, lossless …; C4, C8 and CC are other tables).
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                let [_, h0, h1, w0, w1, components, ..] = *segment else {
                    return Err(HeaderError::Malformed("frame header"));
                };
                frame = Some((
                    u32::from(u16::from_be_bytes([w0, w1])),
                    u32::from(u16::from_be_bytes([h0, h1])),
                    components,
                ));
            }
            0xE0 if segment.starts_with(b"JFIF\0") && segment.len() >= 12 => {
                let density = f64::from(u16::from_be_bytes([segment[8], segment[9]]));
                jfif = Some(match segment[7] {
                    1 if density > 0.0 => Density::Dpi(density),
                    2 if density > 0.0 => Density::Dpi(density * 2.54),
                    _ => Density::Undeclared,
                });
            }
            0xE1 if segment.starts_with(b"Exif\0\0") => exif = read_exif(&segment[6..]),
            0xDA => {
                let Some((width, height, components)) = frame else {
                    return Err(HeaderError::Malformed("scan before any frame header"));
                };
                // Scan data never holds FF D9: a 0xFF byte in it is followed by 00 or a restart marker.
                let scan = &bytes[pos + length..];
                let complete = scan.windows(2).rev().any(|w| w == [0xFF, 0xD9]);
                let exif_density = exif.and_then(|(d, _)| d).map(Density::Dpi);
                let density = match jfif {
                    Some(Density::Dpi(d)) => Density::Dpi(d),
                    _ => exif_density.unwrap_or(Density::Undeclared),
                };
                let orientation = exif.map_or(1, |(_, o)| o);
                return Ok(JpegHeader { width, height, components, density, orientation, complete });
            }
            _ => {}
        }
        pos += length;
    }
}

/// The density (dpi) and orientation in an EXIF block (a TIFF structure): IFD0's XResolution,
/// ResolutionUnit and Orientation. Anything unreadable is left out, never an error: EXIF is
/// often damaged by editors, and the pixels are what count.
fn read_exif(tiff: &[u8]) -> Option<(Option<f64>, u16)> {
    let little = match tiff.get(..4)? {
        [b'I', b'I', 42, 0] => true,
        [b'M', b'M', 0, 42] => false,
        _ => return None,
    };
    let u16_at = |at: usize| {
        tiff.get(at..at + 2).map(|b| {
            if little {
                u16::from_le_bytes([b[0], b[1]])
            } else {
                u16::from_be_bytes([b[0], b[1]])
            }
        })
    };
    let u32_at = |at: usize| {
        tiff.get(at..at + 4).map(|b| {
            let b = [b[0], b[1], b[2], b[3]];
            if little {
                u32::from_le_bytes(b)
            } else {
                u32::from_be_bytes(b)
            }
        })
    };
    let ifd = u32_at(4)? as usize;
    let entries = usize::from(u16_at(ifd)?);
    let (mut resolution, mut unit, mut orientation) = (None, 2u16, 1u16);
    for k in 0..entries.min(256) {
        let entry = ifd + 2 + 12 * k;
        let (Some(tag), Some(kind)) = (u16_at(entry), u16_at(entry + 2)) else { break };
        match (tag, kind) {
            // Orientation and ResolutionUnit are SHORTs, stored in the entry itself.
            (0x0112, 3) => orientation = u16_at(entry + 8).filter(|o| (1..=8).contains(o)).unwrap_or(1),
            (0x0128, 3) => unit = u16_at(entry + 8).unwrap_or(2),
            // XResolution is a RATIONAL, stored at an offset.
            (0x011A, 5) => {
                let at = u32_at(entry + 8)? as usize;
                let (numerator, denominator) = (u32_at(at)?, u32_at(at + 4)?);
                resolution = (denominator > 0 && numerator > 0).then(|| f64::from(numerator) / f64::from(denominator));
            }
            _ => {}
        }
    }
    let dpi = resolution.and_then(|r| match unit {
        2 => Some(r),
        3 => Some(r * 2.54),
        _ => None,
    });
    Some((dpi, orientation))
}

/// An EXIF block holding only an orientation (what `xueji generate --photos` writes to make
/// rotated photos, and what a phone writes in effect).
pub fn exif_orientation_block(orientation: u16) -> Vec<u8> {
    let mut block = b"Exif\0\0II*\0".to_vec();
    block.extend(8u32.to_le_bytes()); // IFD0 right after the header
    block.extend(1u16.to_le_bytes()); // one entry
    block.extend(0x0112u16.to_le_bytes());
    block.extend(3u16.to_le_bytes()); // SHORT
    block.extend(1u32.to_le_bytes()); // one value
    block.extend(orientation.to_le_bytes());
    block.extend([0, 0]);
    block.extend(0u32.to_le_bytes()); // no next IFD
    block
}

/// `jpeg` with an APP1 segment holding `block` inserted after its signature.
pub fn with_app1(jpeg: &[u8], block: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(jpeg.len() + block.len() + 4);
    out.extend(&jpeg[..2]);
    out.extend([0xFF, 0xE1]);
    out.extend(((block.len() + 2) as u16).to_be_bytes());
    out.extend(block);
    out.extend(&jpeg[2..]);
    out
}

/// What EXIF orientation `o` asks a viewer to do, for messages.
pub fn orientation_label(o: u16) -> &'static str {
    match o {
        2 => crate::lang::pick("水平翻转", "mirrored"),
        3 => crate::lang::pick("旋转180°", "rotated 180°"),
        4 => crate::lang::pick("垂直翻转", "flipped vertically"),
        5 => crate::lang::pick("翻转并旋转90°", "mirrored and rotated 90°"),
        6 => crate::lang::pick("顺时针旋转90°", "rotated 90° clockwise"),
        7 => crate::lang::pick("翻转并旋转270°", "mirrored and rotated 270°"),
        8 => crate::lang::pick("逆时针旋转90°", "rotated 90° anticlockwise"),
        _ => crate::lang::pick("正常", "upright"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal JPEG header: SOI, optional segments, SOF0, SOS and the given tail.
    fn jpeg(segments: &[(u8, Vec<u8>)], width: u16, height: u16, components: u8, tail: &[u8]) -> Vec<u8> {
        let mut out = vec![0xFF, 0xD8];
        let mut push = |marker: u8, body: &[u8]| {
            out.extend([0xFF, marker]);
            out.extend(((body.len() + 2) as u16).to_be_bytes());
            out.extend(body);
        };
        for (marker, body) in segments {
            push(*marker, body);
        }
        let mut sof = vec![8];
        sof.extend(height.to_be_bytes());
        sof.extend(width.to_be_bytes());
        sof.push(components);
        sof.extend(std::iter::repeat_n([1, 0x11, 0], usize::from(components)).flatten());
        push(0xC0, &sof);
        push(0xDA, &[1, 1, 0, 0, 63, 0]);
        out.extend(tail);
        out
    }

    fn jfif(units: u8, density: u16) -> (u8, Vec<u8>) {
        let mut body = b"JFIF\0\x01\x01".to_vec();
        body.push(units);
        body.extend(density.to_be_bytes());
        body.extend(density.to_be_bytes());
        body.extend([0, 0]);
        (0xE0, body)
    }

    #[test]
    fn formats_are_told_by_their_bytes_not_their_names() {
        assert_eq!(Format::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Format::Jpeg);
        assert_eq!(Format::sniff(b"\x89PNG\r\n\x1a\n"), Format::Png);
        assert_eq!(Format::sniff(b"BM\x36\x00"), Format::Bmp);
        assert_eq!(Format::sniff(b"GIF89a"), Format::Gif);
        assert_eq!(Format::sniff(b"RIFF\0\0\0\0WEBPVP8 "), Format::Webp);
        assert_eq!(Format::sniff(b"\0\0\0\x18ftypheic"), Format::Heif);
        assert_eq!(Format::sniff(b"\0\0\0\x18ftypmif1"), Format::Heif);
        assert_eq!(Format::sniff(b"II*\0"), Format::Tiff);
        assert_eq!(Format::sniff(b"%PDF-1.4"), Format::Unknown);
        assert_eq!(Format::sniff(b""), Format::Unknown);
        assert_eq!(Format::sniff(&[0xFF, 0xD8]), Format::Unknown);
    }

    #[test]
    fn frame_size_and_density_come_from_the_headers() {
        let header = read_jpeg_header(&jpeg(&[jfif(1, 300)], 307, 378, 3, &[0, 0xFF, 0xD9])).unwrap();
        assert_eq!(
            header,
            JpegHeader {
                width: 307,
                height: 378,
                components: 3,
                density: Density::Dpi(300.0),
                orientation: 1,
                complete: true
            }
        );
        // Dots per centimetre.
        let cm = read_jpeg_header(&jpeg(&[jfif(2, 118)], 10, 10, 1, &[0xFF, 0xD9])).unwrap();
        assert!(matches!(cm.density, Density::Dpi(d) if (d - 299.72).abs() < 0.01));
        assert_eq!(cm.components, 1);
        // Units 0: an aspect ratio only.
        assert_eq!(
            read_jpeg_header(&jpeg(&[jfif(0, 1)], 10, 10, 3, &[0xFF, 0xD9])).unwrap().density,
            Density::Undeclared
        );
        assert_eq!(read_jpeg_header(&jpeg(&[], 10, 10, 3, &[0xFF, 0xD9])).unwrap().density, Density::Undeclared);
    }

    #[test]
    fn a_bomb_declares_its_size_before_any_pixel() {
        let header = read_jpeg_header(&jpeg(&[], 60_000, 60_000, 3, &[])).unwrap();
        assert_eq!((header.width, header.height), (60_000, 60_000));
        assert!(!header.complete);
    }

    #[test]
    fn exif_gives_orientation_and_density() {
        let block = exif_orientation_block(6);
        let header = read_jpeg_header(&jpeg(&[(0xE1, block.clone())], 40, 30, 3, &[0xFF, 0xD9])).unwrap();
        assert_eq!(header.orientation, 6);
        // with_app1 puts the same block into an existing JPEG.
        let plain = jpeg(&[], 40, 30, 3, &[0xFF, 0xD9]);
        assert_eq!(read_jpeg_header(&with_app1(&plain, &block)).unwrap().orientation, 6);

        // Big-endian EXIF with XResolution 72/1 in inches and orientation 3.
        let mut tiff = b"MM\0*".to_vec();
        tiff.extend(8u32.to_be_bytes());
        tiff.extend(3u16.to_be_bytes());
        for (tag, kind, value) in [(0x0112u16, 3u16, 3u32 << 16), (0x011A, 5, 8 + 2 + 36 + 4), (0x0128, 3, 2 << 16)] {
            tiff.extend(tag.to_be_bytes());
            tiff.extend(kind.to_be_bytes());
            tiff.extend(1u32.to_be_bytes());
            tiff.extend(value.to_be_bytes());
        }
        tiff.extend(0u32.to_be_bytes());
        tiff.extend(72u32.to_be_bytes());
        tiff.extend(1u32.to_be_bytes());
        let mut block = b"Exif\0\0".to_vec();
        block.extend(tiff);
        let header = read_jpeg_header(&jpeg(&[(0xE1, block.clone())], 40, 30, 3, &[0xFF, 0xD9])).unwrap();
        assert_eq!((header.orientation, header.density), (3, Density::Dpi(72.0)));
        // JFIF's density wins over EXIF's.
        let both = read_jpeg_header(&jpeg(&[jfif(1, 200), (0xE1, block)], 40, 30, 3, &[0xFF, 0xD9])).unwrap();
        assert_eq!(both.density, Density::Dpi(200.0));
        // Damaged EXIF is ignored.
        let damaged =
            read_jpeg_header(&jpeg(&[(0xE1, b"Exif\0\0II*\0\xff\xff\xff\x7f".to_vec())], 4, 4, 3, &[0xFF, 0xD9]));
        assert_eq!(damaged.unwrap().orientation, 1);
    }

    #[test]
    fn truncated_and_malformed_files_are_told_apart() {
        let whole = jpeg(&[jfif(1, 300)], 200, 246, 3, &[1, 2, 3, 0xFF, 0xD9]);
        assert!(!read_jpeg_header(&whole[..whole.len() - 2]).unwrap().complete);
        // Cut inside the headers, at every length.
        for cut in 3..30 {
            assert_eq!(read_jpeg_header(&whole[..cut]), Err(HeaderError::Truncated), "cut at {cut}");
        }
        assert!(matches!(read_jpeg_header(&[0xFF, 0xD8, 0xFF, 0xD9]), Err(HeaderError::Malformed(_))));
        assert!(matches!(read_jpeg_header(&[0xFF, 0xD8, 0x12, 0x34, 0x56]), Err(HeaderError::Malformed(_))));
        let no_frame = [0xFF, 0xD8, 0xFF, 0xDA, 0, 2, 0xFF, 0xD9];
        assert!(matches!(read_jpeg_header(&no_frame), Err(HeaderError::Malformed(_))));
    }
}

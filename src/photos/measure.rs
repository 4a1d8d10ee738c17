//! What the pixels of an upright RGB portrait show: colour or grayscale, the background colour,
//! where the head is and how sharp the photo is. Pure functions over a pixel buffer.
//!
//! How the head is found: a face detector ([`super::face`]) frames the face; the chin lies
//! [`CHIN_BELOW_BOX`] boxes below the top of its box and the centre line through its middle, and
//! the crown is the first row above the face where the middle of the head stands out from the
//! background (pixels more than [`FOREGROUND_DISTANCE`] from its colour). The background colour is
//! the median of a band along the top edge and the upper half of the side edges, the head's
//! columns and everything below the chin left out (a large, capped or off-centre head reaches the
//! border). A head running out of the frame at the top is measured from the face's size, so a
//! head filling the frame is measured, not skipped. When no photographed face is found (a
//! drawing, a face turned away), the head is read from the foreground's outline
//! ([`outline_head`]), and when the border is not one colour either, nothing is said about the
//! head.

/// Sum of the absolute channel differences above which a pixel is not background: JPEG noise on a
/// flat background stays under 20; skin, hair and clothes against light blue are over 100.
pub const FOREGROUND_DISTANCE: u32 = 60;
/// Share of the border that must be the background colour for the head to be measured.
pub const UNIFORM_BORDER: f64 = 0.8;

/// A background colour as people name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backdrop {
    /// Light blue, up to the darker 证件照 blue (67, 142, 219): hue 185°–235°, saturation
    /// 0.12–0.80, value ≥ 0.55.
    LightBlue,
    White,
    Grey,
    Red,
    DarkBlue,
    Other,
}

impl Backdrop {
    pub fn of(rgb: [u8; 3]) -> Backdrop {
        let [r, g, b] = rgb.map(|c| f64::from(c) / 255.0);
        let (max, min) = (r.max(g).max(b), r.min(g).min(b));
        let (value, saturation) = (max, if max > 0.0 { (max - min) / max } else { 0.0 });
        if saturation < 0.12 {
            return if value >= 0.85 { Backdrop::White } else { Backdrop::Grey };
        }
        let delta = max - min;
        let hue = if max == r {
            60.0 * ((g - b) / delta).rem_euclid(6.0)
        } else if max == g {
            60.0 * ((b - r) / delta + 2.0)
        } else {
            60.0 * ((r - g) / delta + 4.0)
        };
        match hue {
            h if (185.0..=235.0).contains(&h) && saturation <= 0.80 && value >= 0.55 => Backdrop::LightBlue,
            h if (185.0..=250.0).contains(&h) => Backdrop::DarkBlue,
            h if !(20.0..=340.0).contains(&h) && saturation >= 0.3 => Backdrop::Red,
            _ => Backdrop::Other,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Backdrop::LightBlue => crate::lang::pick("浅蓝色", "light blue"),
            Backdrop::White => crate::lang::pick("白色", "white"),
            Backdrop::Grey => crate::lang::pick("灰色", "grey"),
            Backdrop::Red => crate::lang::pick("红色", "red"),
            Backdrop::DarkBlue => crate::lang::pick("深蓝色", "dark blue"),
            Backdrop::Other => crate::lang::pick("其他颜色", "another colour"),
        }
    }
}

/// Where the chin is below a detected face's box, and the crown above it, in box sizes: measured
/// on the real-photo test set (`tests/real_photos/`), whose chins and crowns were marked by hand.
pub const CHIN_BELOW_BOX: f64 = 1.06;
pub const CROWN_ABOVE_BOX: f64 = 0.33;

/// How the head was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadFrom {
    /// A face the detector found: chin and centre line from it, the crown from the background.
    Face,
    /// No face was found (a drawing, a face turned away): the foreground's outline.
    Outline,
}

impl HeadFrom {
    /// Its name in `photos.parquet`.
    pub fn as_str(self) -> &'static str {
        match self {
            HeadFrom::Face => "face",
            HeadFrom::Outline => "outline",
        }
    }
}

/// The head, in pixels of the upright photo. `top` is negative when the head runs out of the
/// frame at the top (then it is estimated from the face).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Head {
    pub top: f64,
    pub chin: f64,
    pub centre_x: f64,
    /// The head's outermost columns, hair and ears included.
    pub left: usize,
    pub right: usize,
    pub from: HeadFrom,
}

/// What the pixels show.
#[derive(Clone, Debug, PartialEq)]
pub struct Portrait {
    pub width: usize,
    pub height: usize,
    /// Fewer than 0.5 % of pixels have any colour (max − min channel over 24).
    pub grayscale: bool,
    pub background: [u8; 3],
    /// Share of the border (the subject's part of it left out) within [`FOREGROUND_DISTANCE`] of
    /// `background`; `None` when the subject fills nearly all of the border (then neither the
    /// background's colour nor its evenness is judged).
    pub uniformity: Option<f64>,
    pub face: Option<super::face::Face>,
    pub head: Option<Head>,
    /// See [`sharpness`]: 1 − the blur metric, over the face.
    pub sharpness: f64,
}

impl Portrait {
    /// Head height (top to chin) over photo height.
    pub fn head_share(&self) -> Option<f64> {
        self.head.map(|h| (h.chin - h.top) / self.height as f64)
    }

    /// How far the head's centre is from the photo's, over the photo's width (negative: left).
    pub fn head_offset(&self) -> Option<f64> {
        self.head.map(|h| (h.centre_x + 0.5) / self.width as f64 - 0.5)
    }
}

fn distance(a: &[u8], b: [u8; 3]) -> u32 {
    (0..3).map(|k| u32::from(a[k].abs_diff(b[k]))).sum()
}

/// Measures an upright photo of `width` × `height` pixels, `rgb` holding 3 bytes per pixel.
pub fn measure(rgb: &[u8], width: usize, height: usize) -> Portrait {
    assert_eq!(rgb.len(), width * height * 3, "RGB buffer of {width} × {height}");
    let pixel = |x: usize, y: usize| &rgb[(y * width + x) * 3..(y * width + x) * 3 + 3];

    let mut coloured = 0;
    let luma: Vec<u8> = rgb
        .chunks_exact(3)
        .map(|p| {
            let (r, g, b) = (p[0], p[1], p[2]);
            coloured += usize::from(r.max(g).max(b) - r.min(g).min(b) > 24);
            ((77 * u32::from(r) + 150 * u32::from(g) + 29 * u32::from(b)) >> 8) as u8
        })
        .collect();
    let grayscale = (coloured as f64) < 0.005 * (width * height) as f64;
    let face = super::face::find(&luma, width, height);

    // The border: a band along the top, and along both sides over the upper half; less the
    // subject where a face says where it is (a large or off-centre head reaches the border).
    // The subject: the head's columns (about 1.4 face boxes wide, hair included) up to the top
    // edge (hair, a cap or a large head may reach it), and everything below the chin.
    let subject = |x: usize, y: usize| {
        face.is_some_and(|f| {
            (x as f64 - (f.x + f.size / 2.0)).abs() < 0.7 * f.size || y as f64 > f.y + CHIN_BELOW_BOX * f.size
        })
    };
    let band_x = (width * 6 / 100).max(2).min(width);
    let band_y = (height * 5 / 100).max(2).min(height);
    let mut border: Vec<(usize, usize)> = Vec::new();
    for y in 0..band_y {
        border.extend((0..width).map(|x| (x, y)));
    }
    for y in band_y..height / 2 {
        border.extend((0..band_x).chain(width - band_x..width).map(|x| (x, y)));
    }
    let whole_border = border.len();
    border.retain(|&(x, y)| !subject(x, y));
    let mut histograms = [[0u32; 256]; 3];
    for &(x, y) in &border {
        for (k, h) in histograms.iter_mut().enumerate() {
            h[usize::from(pixel(x, y)[k])] += 1;
        }
    }
    let median = |h: &[u32; 256]| {
        let half = (border.len() as u32).div_ceil(2);
        let mut seen = 0;
        h.iter().position(|&n| {
            seen += n;
            seen >= half
        })
    };
    let background = histograms.map(|h| median(&h).unwrap_or(0) as u8);
    let uniform = border.iter().filter(|&&(x, y)| distance(pixel(x, y), background) <= FOREGROUND_DISTANCE).count();
    // Under a twentieth of the border left beside the subject: nothing to judge the background on.
    let uniformity = (border.len() * 20 >= whole_border).then(|| uniform as f64 / border.len() as f64);
    let even = uniformity.is_some_and(|u| u >= UNIFORM_BORDER);

    let head = match face {
        Some(face) => Some(head_of_face(rgb, width, height, face, even.then_some(background))),
        None if even => outline_head(rgb, width, height, background),
        None => None,
    };
    let sharpness = sharpness(&luma, width, height, face, head);
    Portrait { width, height, grayscale, background, uniformity, face, head, sharpness }
}

/// The head around a detected face: the chin and centre line from the face, the crown the first
/// row above the face where the middle of the head stands out from `background` (estimated from
/// the face when the background is not one colour, or when the head runs out at the top).
fn head_of_face(rgb: &[u8], width: usize, height: usize, face: super::face::Face, background: Option<[u8; 3]>) -> Head {
    let centre_x = face.x + face.size / 2.0;
    let chin = face.y + CHIN_BELOW_BOX * face.size;
    let estimate = face.y - CROWN_ABOVE_BOX * face.size;
    let x0 = (centre_x - 0.3 * face.size).max(0.0) as usize;
    let x1 = ((centre_x + 0.3 * face.size) as usize).min(width);
    let top = match background {
        Some(background) if x1 > x0 => {
            let above_face = (face.y.max(0.0) as usize).min(height);
            let crown = (0..above_face).find(|&y| {
                let row = &rgb[(y * width + x0) * 3..(y * width + x1) * 3];
                let standing_out =
                    row.chunks_exact(3).filter(|p| distance(p, background) > FOREGROUND_DISTANCE).count();
                standing_out * 3 >= x1 - x0
            });
            // Something at the very top is hair running out of the frame (the estimate is then
            // above it) or a background unlike the border's (a room behind curtains).
            crown.filter(|&y| y > 0).map_or(estimate, |y| y as f64)
        }
        _ => estimate,
    };
    // Its sides: the outermost foreground from the crown down to the mouth (where hair and ears
    // are widest; a collar or shoulder may rise beside the chin) within a head's width of the
    // centre line, or an estimate without a background.
    let half = 0.75 * face.size;
    let (mut left, mut right) = ((centre_x - half).max(0.0) as usize, ((centre_x + half) as usize).min(width - 1));
    if let Some(background) = background {
        let x0 = (centre_x - 2.0 * half).max(0.0) as usize;
        let x1 = ((centre_x + 2.0 * half) as usize).min(width - 1);
        let mouth = face.y + 0.7 * face.size;
        let rows = (top.max(0.0) as usize).min(height)..(mouth.max(0.0) as usize).min(height);
        let stands_out =
            |x: usize, y: usize| distance(&rgb[(y * width + x) * 3..][..3], background) > FOREGROUND_DISTANCE;
        let mut sides = rows.flat_map(|y| {
            let first = (x0..=x1).find(|&x| stands_out(x, y));
            let last = (x0..=x1).rev().find(|&x| stands_out(x, y));
            first.into_iter().chain(last)
        });
        if let Some(first) = sides.next() {
            (left, right) = sides.fold((first, first), |(l, r), x| (l.min(x), r.max(x)));
        }
    }
    Head { top, chin, centre_x, left, right, from: HeadFrom::Face }
}

impl Head {
    /// The head runs out of the frame at a side: it touches the photo's left or right edge.
    pub fn cut_at_side(&self, width: usize) -> bool {
        self.left == 0 || self.right + 1 >= width
    }
}

/// The head as the foreground's outline shows it, for photos with no face the detector finds.
/// Going down the rows, the top of the head is the first row with a run of foreground; the head
/// widens to the cheeks and narrows again into the neck; the chin is taken where the narrowing
/// reaches the neck's width (the narrowest foreground between the head and the shoulders). This
/// holds for drawn portraits, whose necks are narrow; a real neck is as wide as the jaw, which is
/// why a face, when there is one, is preferred.
fn outline_head(rgb: &[u8], width: usize, height: usize, background: [u8; 3]) -> Option<Head> {
    // Per row: foreground count, leftmost and rightmost foreground x, sum of foreground x.
    let rows: Vec<(usize, usize, usize, usize)> = rgb
        .chunks_exact(width * 3)
        .map(|row| {
            let (mut count, mut left, mut right, mut sum) = (0, usize::MAX, 0, 0);
            for (x, p) in row.chunks_exact(3).enumerate() {
                if distance(p, background) > FOREGROUND_DISTANCE {
                    count += 1;
                    left = left.min(x);
                    right = x;
                    sum += x;
                }
            }
            (count, left, right, sum)
        })
        .collect();
    let run = (width / 40).max(3);
    let top = rows.iter().position(|r| r.0 >= run)?;
    // Widths over five rows: a background close to skin leaves holes in single rows.
    let widths: Vec<usize> = (0..height)
        .map(|y| rows[y.saturating_sub(2)..(y + 3).min(height)].iter().map(|r| r.0).sum::<usize>() / 5)
        .collect();
    // Down from the top: the widest row of the head, then the narrowing below it; no head is
    // shorter than a sixth of the photo.
    let (mut peak, mut narrowing) = (0, None);
    for (y, &w) in widths.iter().enumerate().skip(top) {
        if w > peak {
            peak = w;
        } else if 4 * w < 3 * peak && y >= top + height / 6 {
            narrowing = Some(y);
            break;
        }
    }
    let narrowing = narrowing?;
    // The neck: the narrowest row before the shoulders grow wider than the head.
    let shoulders = (narrowing..height).find(|&y| widths[y] > peak).unwrap_or(height);
    let neck = (narrowing..shoulders).map(|y| widths[y]).min()?;
    if shoulders == height && widths[height - 1] <= neck {
        // Foreground ends in a narrowing with no shoulders: a head alone, not a portrait.
        return None;
    }
    let chin = (narrowing..shoulders).find(|&y| widths[y] * 20 <= neck * 23)?;
    let head_rows = &rows[top..=chin];
    let (count, sum): (usize, usize) = head_rows.iter().fold((0, 0), |(c, s), r| (c + r.0, s + r.3));
    let left = head_rows.iter().filter(|r| r.0 > 0).map(|r| r.1).min()?;
    let right = head_rows.iter().map(|r| r.2).max()?;
    Some(Head {
        top: top as f64,
        chin: (chin + 1) as f64,
        centre_x: sum as f64 / count.max(1) as f64,
        left,
        right,
        from: HeadFrom::Outline,
    })
}

/// How much detail blurring would take away: 1 − the no-reference blur metric of Crété-Roffet et
/// al. (2007, "The blur effect"). The luma is blurred once more with a 9-pixel box, across and
/// down; a sharp photo loses much of its variation between neighbours, a blurred one little.
/// It is a ratio, so it does not depend on the contrast or the texture of the face (wrinkles,
/// glasses), only on how much of its detail is left. Measured over the face (the head, or the
/// middle of the photo, when no face was found), at the photo's own pixels: the rule sets the
/// photo's size in pixels, and blur is judged against them (scaled to one face width, an enlarged
/// small photo and a blurred large one measured alike; at its own pixels they stand 0.16 apart on
/// the real-photo sets).
fn sharpness(luma: &[u8], width: usize, height: usize, face: Option<super::face::Face>, head: Option<Head>) -> f64 {
    let (x0, x1, y0, y1) = match (face, head) {
        (Some(f), _) => (f.x, f.x + f.size, f.y, f.y + f.size),
        (None, Some(h)) => (h.left as f64, h.right as f64, h.top, h.chin),
        (None, None) => (width as f64 * 0.2, width as f64 * 0.8, height as f64 * 0.2, height as f64 * 0.8),
    };
    let clamp = |v: f64, end: usize| (v.max(0.0) as usize).min(end);
    let (x0, x1, y0, y1) = (clamp(x0, width), clamp(x1, width), clamp(y0, height), clamp(y1, height));
    let (w, h) = (x1.saturating_sub(x0), y1.saturating_sub(y0));
    if w < 12 || h < 12 {
        return 0.0;
    }
    let f: Vec<f32> =
        (y0..y1).flat_map(|y| luma[y * width + x0..y * width + x1].iter().map(|&v| f32::from(v))).collect();
    // Blurred with a 9-pixel box along one direction; variation kept and lost along it.
    let blur_along = |step: usize, len: usize, lines: usize, line_step: usize| {
        let (mut total, mut lost) = (0f64, 0f64);
        let (mut prefix, mut blurred) = (vec![0f32; len + 1], vec![0f32; len]);
        for line in 0..lines {
            let at = |i: usize| f[line * line_step + i * step];
            for i in 0..len {
                prefix[i + 1] = prefix[i] + at(i);
            }
            for (i, b) in blurred.iter_mut().enumerate() {
                let (start, end) = (i.saturating_sub(4), (i + 5).min(len));
                *b = (prefix[end] - prefix[start]) / (end - start) as f32;
            }
            for i in 1..len {
                let d = (at(i) - at(i - 1)).abs();
                let db = (blurred[i] - blurred[i - 1]).abs();
                total += f64::from(d);
                lost += f64::from((d - db).max(0.0));
            }
        }
        if total == 0.0 {
            1.0
        } else {
            (total - lost) / total
        }
    };
    let across = blur_along(1, w, h, w);
    let down = blur_along(w, h, w, 1);
    1.0 - across.max(down)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLUE: [u8; 3] = [150, 200, 240];

    /// A flat photo with an elliptical head, a neck and shoulders, like the generator's (without
    /// its features and noise).
    fn portrait(width: usize, height: usize, background: [u8; 3], head_cx: f64, top: f64, chin: f64) -> Vec<u8> {
        let mut rgb = Vec::with_capacity(width * height * 3);
        let (cy, ry) = ((top + chin) / 2.0 * height as f64, (chin - top) / 2.0 * height as f64);
        let rx = ry * 0.78;
        let cx = head_cx * width as f64;
        for y in 0..height {
            for x in 0..width {
                let (fx, fy) = (x as f64 + 0.5, y as f64 + 0.5);
                let in_head = ((fx - cx) / rx).powi(2) + ((fy - cy) / ry).powi(2) <= 1.0;
                let in_neck = (fx - cx).abs() < rx * 0.45 && fy > cy && fy < cy + ry * 1.25;
                let shoulder_top = cy + ry * 1.15;
                let in_shoulders = fy > shoulder_top && (fx - cx).abs() < rx * 1.2 + (fy - shoulder_top) * 3.0;
                rgb.extend(if in_head || in_neck {
                    [225, 185, 160]
                } else if in_shoulders {
                    [40, 40, 60]
                } else {
                    background
                });
            }
        }
        rgb
    }

    #[test]
    fn backdrops_are_named_by_their_colour() {
        assert_eq!(Backdrop::of(BLUE), Backdrop::LightBlue);
        assert_eq!(Backdrop::of([67, 142, 219]), Backdrop::LightBlue);
        assert_eq!(Backdrop::of([200, 230, 250]), Backdrop::LightBlue);
        assert_eq!(Backdrop::of([255, 255, 255]), Backdrop::White);
        assert_eq!(Backdrop::of([245, 245, 240]), Backdrop::White);
        assert_eq!(Backdrop::of([150, 150, 150]), Backdrop::Grey);
        assert_eq!(Backdrop::of([200, 20, 30]), Backdrop::Red);
        assert_eq!(Backdrop::of([20, 50, 140]), Backdrop::DarkBlue);
        assert_eq!(Backdrop::of([40, 160, 60]), Backdrop::Other);
        assert_eq!(Backdrop::of([0, 0, 0]), Backdrop::Grey);
    }

    #[test]
    fn a_centred_head_of_two_thirds_is_measured_as_such() {
        let (w, h) = (200, 246);
        let p = measure(&portrait(w, h, BLUE, 0.5, 0.08, 0.74), w, h);
        assert!(!p.grayscale);
        assert_eq!(p.background, BLUE);
        assert!(p.uniformity.unwrap() > 0.99);
        let share = p.head_share().unwrap();
        // The chin is read a little high (see outline_head).
        assert!((0.60..=0.67).contains(&share), "head share {share}");
        assert!(p.head_offset().unwrap().abs() < 0.01);
    }

    #[test]
    fn an_off_centre_or_small_head_is_measured_as_such() {
        let (w, h) = (200, 246);
        let p = measure(&portrait(w, h, BLUE, 0.30, 0.08, 0.74), w, h);
        assert!((p.head_offset().unwrap() + 0.20).abs() < 0.02);
        let p = measure(&portrait(w, h, BLUE, 0.5, 0.30, 0.70), w, h);
        assert!((0.36..=0.40).contains(&p.head_share().unwrap()), "{:?}", p.head_share());
    }

    #[test]
    fn no_head_is_claimed_without_a_uniform_border_or_a_neck() {
        let (w, h) = (100, 120);
        // Stripes of two colours: no background to stand out from.
        let stripes: Vec<u8> =
            (0..w * h).flat_map(|i| if (i % w) / 10 % 2 == 0 { [255, 255, 255] } else { [0, 0, 0] }).collect();
        let p = measure(&stripes, w, h);
        assert!(p.uniformity.unwrap() < UNIFORM_BORDER);
        assert_eq!(p.head, None);
        // Background only.
        let empty: Vec<u8> = (0..w * h).flat_map(|_| BLUE).collect();
        assert_eq!(measure(&empty, w, h).head, None);
        // A disc with nothing below it.
        let disc: Vec<u8> = (0..w * h)
            .flat_map(|i| {
                let (x, y) = ((i % w) as f64 - 50.0, (i / w) as f64 - 60.0);
                if x * x + y * y < 900.0 {
                    [225, 185, 160]
                } else {
                    BLUE
                }
            })
            .collect();
        assert_eq!(measure(&disc, w, h).head, None);
    }

    #[test]
    fn grayscale_is_told_from_colour() {
        let (w, h) = (60, 80);
        let gray: Vec<u8> = portrait(w, h, BLUE, 0.5, 0.08, 0.74)
            .chunks_exact(3)
            .flat_map(|p| {
                let y = ((77 * u32::from(p[0]) + 150 * u32::from(p[1]) + 29 * u32::from(p[2])) >> 8) as u8;
                [y, y, y]
            })
            .collect();
        assert!(measure(&gray, w, h).grayscale);
        assert!(!measure(&portrait(w, h, BLUE, 0.5, 0.08, 0.74), w, h).grayscale);
    }

    #[test]
    fn blur_lowers_sharpness() {
        let (w, h) = (200, 246);
        let sharp = portrait(w, h, BLUE, 0.5, 0.08, 0.74);
        // A 5 × 5 box blur.
        let mut blurred = sharp.clone();
        for y in 2..h - 2 {
            for x in 2..w - 2 {
                for k in 0..3 {
                    let mut s = 0u32;
                    for dy in 0..5 {
                        for dx in 0..5 {
                            s += u32::from(sharp[((y + dy - 2) * w + x + dx - 2) * 3 + k]);
                        }
                    }
                    blurred[(y * w + x) * 3 + k] = (s / 25) as u8;
                }
            }
        }
        let (a, b) = (measure(&sharp, w, h).sharpness, measure(&blurred, w, h).sharpness);
        assert!(b + 0.15 < a, "sharp {a}, blurred {b}");
    }
}

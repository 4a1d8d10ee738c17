//! What the pixels of an upright RGB portrait show: colour or grayscale, the background colour,
//! where the head is and how sharp the photo is. Pure functions over a pixel buffer.
//!
//! How the head is found: the background colour is the median of a band along the top edge and
//! the upper half of the side edges (the bottom edge holds the shoulders). A pixel is foreground
//! when its colour is more than [`FOREGROUND_DISTANCE`] from it. Going down the rows, the top of
//! the head is the first row with a run of foreground; the head widens to the cheeks and narrows
//! again into the neck; the chin is taken where the narrowing reaches the neck's width (the
//! narrowest foreground between the head and the shoulders). This reads the chin about 5 % of the
//! head height high on an oval face. How sure it is: when under [`UNIFORM_BORDER`] of the border
//! is the background colour (a room, a door, a shadow) or no neck is found (hair to the
//! shoulders, a crop at the chin), the head is not measured and nothing is said about it.

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

/// The head as found in the foreground, in pixels of the upright photo.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Head {
    pub top: usize,
    pub chin: usize,
    /// Mean x of the head's foreground.
    pub centre_x: f64,
    pub left: usize,
    pub right: usize,
}

/// What the pixels show.
#[derive(Clone, Debug, PartialEq)]
pub struct Portrait {
    pub width: usize,
    pub height: usize,
    /// Fewer than 0.5 % of pixels have any colour (max − min channel over 24).
    pub grayscale: bool,
    pub background: [u8; 3],
    /// Share of the border within [`FOREGROUND_DISTANCE`] of `background`.
    pub uniformity: f64,
    pub head: Option<Head>,
    /// Variance of the 4-neighbour Laplacian of the luma over the head (the middle of the photo
    /// when no head was found), after scaling the photo to 154–307 pixels wide.
    pub sharpness: f64,
}

impl Portrait {
    /// Head height (top to chin) over photo height.
    pub fn head_share(&self) -> Option<f64> {
        self.head.map(|h| (h.chin + 1 - h.top) as f64 / self.height as f64)
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

    let coloured = rgb.chunks_exact(3).filter(|p| p.iter().max().unwrap() - p.iter().min().unwrap() > 24).count();
    let grayscale = (coloured as f64) < 0.005 * (width * height) as f64;

    // The border: a band along the top, and along both sides over the upper half.
    let band_x = (width * 6 / 100).max(2).min(width);
    let band_y = (height * 5 / 100).max(2).min(height);
    let mut border: Vec<(usize, usize)> = Vec::new();
    for y in 0..band_y {
        border.extend((0..width).map(|x| (x, y)));
    }
    for y in band_y..height / 2 {
        border.extend((0..band_x).chain(width - band_x..width).map(|x| (x, y)));
    }
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
    let uniformity = if border.is_empty() { 0.0 } else { uniform as f64 / border.len() as f64 };

    let head = if uniformity >= UNIFORM_BORDER { find_head(rgb, width, height, background) } else { None };
    let sharpness = sharpness(rgb, width, height, head);
    Portrait { width, height, grayscale, background, uniformity, head, sharpness }
}

/// Per row: foreground count, leftmost and rightmost foreground x, sum of foreground x.
fn find_head(rgb: &[u8], width: usize, height: usize, background: [u8; 3]) -> Option<Head> {
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
    Some(Head { top, chin, centre_x: sum as f64 / count.max(1) as f64, left, right })
}

/// Variance of the Laplacian of the luma, on the photo scaled down by a whole factor to at most
/// 307 pixels wide (so that a 600-pixel photo is judged like a 300-pixel one), over the head.
fn sharpness(rgb: &[u8], width: usize, height: usize, head: Option<Head>) -> f64 {
    let k = (width / 154).max(1);
    let (w, h) = (width / k, height / k);
    if w < 3 || h < 3 {
        return 0.0;
    }
    let mut luma = vec![0i32; w * h];
    for y in 0..h * k {
        for x in 0..w * k {
            let p = &rgb[(y * width + x) * 3..];
            luma[(y / k) * w + x / k] += (77 * i32::from(p[0]) + 150 * i32::from(p[1]) + 29 * i32::from(p[2])) >> 8;
        }
    }
    let area = (k * k) as i32;
    luma.iter_mut().for_each(|v| *v /= area);
    let (x0, x1, y0, y1) = match head {
        Some(head) => (head.left / k, head.right / k, head.top / k, head.chin / k),
        None => (w / 5, w * 4 / 5, h / 5, h * 4 / 5),
    };
    let (x0, x1, y0, y1) = (x0.max(1), x1.min(w - 2), y0.max(1), y1.min(h - 2));
    let (mut n, mut sum, mut squares) = (0f64, 0f64, 0f64);
    for y in y0..=y1 {
        for x in x0..=x1 {
            let at = y * w + x;
            let laplacian = f64::from(luma[at - 1] + luma[at + 1] + luma[at - w] + luma[at + w] - 4 * luma[at]);
            n += 1.0;
            sum += laplacian;
            squares += laplacian * laplacian;
        }
    }
    if n < 2.0 {
        return 0.0;
    }
    squares / n - (sum / n).powi(2)
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
        assert!(p.uniformity > 0.99);
        let share = p.head_share().unwrap();
        // The chin is read a little high (see the module's note).
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
        assert!(p.uniformity < UNIFORM_BORDER);
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
        assert!(b * 4.0 < a, "sharp {a}, blurred {b}");
    }
}

//! Where the face is: SeetaFace's frontal face detector (a funnel-structured cascade, model in
//! `datasets/faces/`, run by the pure-Rust `rustface`) on the photo's luma, scaled down so that
//! the face is found in a few milliseconds whatever the photo's size.

use std::cell::RefCell;
use std::ops::Range;
use std::sync::OnceLock;

use rustface::{Detector, ImageData, Model};

/// The luma is scanned at these widths or a little more (scaled down by a whole factor), the
/// second only when the first finds no face: with the detector's 40-pixel window the first finds
/// faces wider than about 5/8 of the photo, the second down to about 2/5 (an ID photo's face is
/// 2/5 to 3/4 of its width, 3/5 typically).
pub const SCAN_WIDTHS: [usize; 2] = [64, 100];
/// The detector's score under which a window is not a face (its authors suggest 0.95–4.5).
const MIN_SCORE: f64 = 2.0;
/// The smallest face looked for, in pixels of the scan: the detector's own window, so the scan is
/// never enlarged.
const MIN_FACE: u32 = 40;

/// A face as the detector frames it, in pixels of the upright photo. SeetaFace's box is a square
/// from the eyebrows to the chin; [`super::measure`] reads the head from it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Face {
    pub x: f64,
    pub y: f64,
    pub size: f64,
    pub score: f64,
}

fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| rustface::read_model(crate::datasets::FACE_MODEL).expect("the embedded face model reads"))
}

thread_local! {
    /// One detector per thread: detecting needs `&mut`, and a model is 1.2 MB to copy.
    static DETECTOR: RefCell<Box<dyn Detector>> = RefCell::new({
        let mut detector = rustface::create_detector_with_model(model().clone());
        detector.set_score_thresh(MIN_SCORE);
        detector.set_min_face_size(MIN_FACE);
        detector.set_pyramid_scale_factor(0.8);
        detector.set_slide_window_step(4, 4);
        detector
    });
}

/// Median absolute deviation of the luma over the middle of a face under which it is drawn, not
/// photographed: a real face is shaded by its relief (14–27 levels on the real-photo test set,
/// blurred ones included), a drawn one is flat colour and sensor noise (0–2 on the drawn set).
pub const MIN_SHADING: u8 = 6;

/// The most certain photographed face in `luma` (`width` × `height`, one byte per pixel), if any.
/// The detector also fires on drawn faces, but its box is placed on a drawing unlike on a
/// photograph, so a face without shading (see [`MIN_SHADING`]) is not taken. The finer scan, for
/// smaller faces, is made only when the middle of the photo, where an ID photo's face is, is
/// shaded: a flat middle (a drawing, an empty backdrop) holds no photographed face.
pub fn find(luma: &[u8], width: usize, height: usize) -> Option<Face> {
    let [coarse, fine] = SCAN_WIDTHS;
    let face = match find_at(luma, width, height, coarse) {
        Some(face) => face,
        None => {
            // The middle: a tenth of the photo across and down either side of (1/2, 2/5).
            let middle = deviation(luma, width, width * 4 / 10..width * 6 / 10, height * 3 / 10..height * 5 / 10);
            if middle < MIN_SHADING {
                return None;
            }
            find_at(luma, width, height, fine)?
        }
    };
    (shading(luma, width, height, &face) >= MIN_SHADING).then_some(face)
}

/// Median absolute deviation of the luma over the middle half of the face's box, across and down.
fn shading(luma: &[u8], width: usize, height: usize, face: &Face) -> u8 {
    let span = |start: f64, end: usize| {
        let at = |share: f64| ((start + share * face.size).max(0.0) as usize).min(end);
        at(0.25)..at(0.75)
    };
    deviation(luma, width, span(face.x, width), span(face.y, height))
}

/// Median absolute deviation of the luma over columns `xs` of rows `ys` (0 when empty).
fn deviation(luma: &[u8], width: usize, xs: Range<usize>, ys: Range<usize>) -> u8 {
    let mut values: Vec<u8> = ys.flat_map(|y| luma[y * width..][xs.clone()].iter().copied()).collect();
    if values.is_empty() {
        return 0;
    }
    let half = values.len() / 2;
    let median = *values.select_nth_unstable(half).1;
    let mut deviations: Vec<u8> = values.iter().map(|&v| v.abs_diff(median)).collect();
    *deviations.select_nth_unstable(half).1
}

/// The most certain face on `luma` scaled down by a whole factor (averaging each block) to at
/// least `scan_width` pixels wide. (Scaled to exactly `scan_width`, the box moves by a few
/// pixels with the photo's size, and more heads are misjudged on the real-photo set.)
fn find_at(luma: &[u8], width: usize, height: usize, scan_width: usize) -> Option<Face> {
    let k = (width / scan_width).max(1);
    let (w, h) = (width / k, height / k);
    if w.min(h) < MIN_FACE as usize {
        return None;
    }
    let scan: Vec<u8> = if k == 1 {
        luma.to_vec()
    } else {
        let mut sums = vec![0u32; w * h];
        for (y, line) in luma.chunks_exact(width).take(h * k).enumerate() {
            let row = &mut sums[(y / k) * w..][..w];
            for (sum, block) in row.iter_mut().zip(line.chunks_exact(k)) {
                *sum += block.iter().map(|&v| u32::from(v)).sum::<u32>();
            }
        }
        let area = (k * k) as u32;
        sums.into_iter().map(|s| (s / area) as u8).collect()
    };
    let faces = DETECTOR.with(|detector| {
        let mut detector = detector.borrow_mut();
        detector.set_max_face_size(w.min(h) as u32);
        detector.detect(&ImageData::new(&scan, w as u32, h as u32))
    });
    faces.iter().max_by(|a, b| a.score().total_cmp(&b.score())).map(|face| {
        let b = face.bbox();
        let k = k as f64;
        Face { x: f64::from(b.x()) * k, y: f64::from(b.y()) * k, size: f64::from(b.width()) * k, score: face.score() }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deviation_is_the_median_distance_from_the_median() {
        let luma: Vec<u8> = (0..100u8).collect();
        // A 10 × 10 ramp: rows 2..4, columns 0..10 hold 20..40; their median is 30.
        assert_eq!(deviation(&luma, 10, 0..10, 2..4), 5);
        assert_eq!(deviation(&[7; 100], 10, 0..10, 0..10), 0);
        assert_eq!(deviation(&luma, 10, 3..3, 0..10), 0);
    }

    #[test]
    fn shading_is_read_over_the_middle_of_the_box_and_clamped_to_the_photo() {
        // Left half dark, right half light: the middle half of a box centred on the edge is split.
        let luma: Vec<u8> = (0..200 * 100).map(|i| if i % 200 < 100 { 40 } else { 200 }).collect();
        let face = Face { x: 60.0, y: 10.0, size: 80.0, score: 5.0 };
        assert!(shading(&luma, 200, 100, &face) >= 79);
        let flat = Face { x: 0.0, ..face };
        assert_eq!(shading(&luma, 200, 100, &flat), 0);
        // A box reaching past the photo is read where it overlaps it.
        let beyond = Face { x: 180.0, y: 80.0, size: 80.0, score: 5.0 };
        assert_eq!(shading(&luma, 200, 100, &beyond), 0);
    }

    #[test]
    fn no_face_is_found_on_flat_or_tiny_pictures() {
        let (w, h) = (358, 441);
        assert_eq!(find(&vec![180; w * h], w, h), None);
        // Noise without a face.
        let noise: Vec<u8> = (0..w * h).map(|i| (crate::rng::splitmix64(i as u64) >> 56) as u8).collect();
        assert_eq!(find(&noise, w, h), None);
        assert_eq!(find(&[0; 30 * 30], 30, 30), None);
    }
}

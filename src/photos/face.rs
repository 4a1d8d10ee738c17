//! Where the face is: SeetaFace's frontal face detector (a funnel-structured cascade, model in
//! `datasets/faces/`, run by the pure-Rust `rustface`) on the photo's luma, scaled down so that
//! the face is found in a few milliseconds whatever the photo's size.

use std::cell::RefCell;
use std::sync::OnceLock;

use rustface::{Detector, ImageData, Model};

/// The luma is scanned at about these widths, the second only when the first finds no face: an
/// ID photo's face is a third to four fifths of its width, so most are found in the first scan,
/// small ones in the second (the detector's window is 40 pixels).
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
/// photograph, so a face without shading (see [`MIN_SHADING`]) is not taken.
pub fn find(luma: &[u8], width: usize, height: usize) -> Option<Face> {
    SCAN_WIDTHS
        .iter()
        .find_map(|&scan_width| find_at(luma, width, height, scan_width))
        .filter(|face| shading(luma, width, height, face) >= MIN_SHADING)
}

/// Median absolute deviation of the luma over the middle half of the face's box, across and down.
fn shading(luma: &[u8], width: usize, height: usize, face: &Face) -> u8 {
    let span = |start: f64, end: usize| {
        let at = |share: f64| ((start + share * face.size).max(0.0) as usize).min(end);
        at(0.25)..at(0.75)
    };
    let (xs, ys) = (span(face.x, width), span(face.y, height));
    let mut middle: Vec<u8> = ys.flat_map(|y| luma[y * width..][xs.clone()].iter().copied()).collect();
    if middle.is_empty() {
        return 0;
    }
    let half = middle.len() / 2;
    let median = *middle.select_nth_unstable(half).1;
    let mut deviations: Vec<u8> = middle.iter().map(|&v| v.abs_diff(median)).collect();
    *deviations.select_nth_unstable(half).1
}

/// The most certain face on `luma` scaled down by a whole factor (averaging each block) to at
/// least `scan_width` pixels wide.
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
        for y in 0..h * k {
            for x in 0..w * k {
                sums[(y / k) * w + x / k] += u32::from(luma[y * width + x]);
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

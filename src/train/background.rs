//! Background augmentation (paper §III.A, ARCHITECTURE.md §5): cut the item out of its plain shop
//! background and paste it, at a random scale and place, onto a random scene, so a model
//! trained only on catalogue photos learns to ignore what is behind a garment in a street
//! photo.
//!
//! The cut-out follows the paper's recipe:
//! 1. estimate the background colour from the image border: the per-channel median, refined
//!    into a smooth [`BackgroundModel`] (a colour that may brighten or darken across the
//!    frame, as the light of a phone photo does) fitted to the border pixels near it;
//! 2. mark pixels far from it. A shop photo's soft shadow is the background *darkened*, so
//!    the distance is measured after the best darkening factor is taken out: a pixel is
//!    background (or shadow) when it is nearly a multiple `k ∈ [`SHADOW_MIN_K`, 1.04]` of
//!    the background colour;
//! 3. close small gaps (morphological closing);
//! 4. find the contours and keep the large outer ones, filled, so holes inside the item
//!    (a white print, a pale stripe) become item again;
//! 5. crop to the item.
//!
//! ## When the cut-out cannot be trusted
//! The recipe assumes a plain background. A phone photo of a shirt on a bed, a tiled floor
//! or a wooden table has none, and its "mask" would be the floor's pattern. [`check_cut_out`]
//! judges each photo first ([`CutoutVerdict`]): the border must read as one colour (at least
//! [`MIN_BORDER_MATCH`] of its pixels within the tolerance of its median), and the mask must
//! cover between [`MIN_MASK_SHARE`] and [`MAX_MASK_SHARE`] of the image. An unreliable photo
//! is never pasted: [`on_new_background`] returns `None` and training keeps the plain photo
//! (with regular augmentation). [`survey_cut_outs`] reports the share of a catalogue the
//! cut-out is used on (`vitrine eval cutouts`, the Train tab's cut-out check).
//!
//! ## Scenes
//! [`SceneSource`]: the bundled real photographs [`TRAINING_PHOTOS`] (the default), the demo
//! generator's procedural scenes (a fallback that needs no photo at all), or a folder of the
//! user's own photos. Each scene is a fresh random crop (position, size, mirror), so a few
//! photos give many backgrounds. The demo's street queries are drawn on a *disjoint* set of
//! photographs (`sources::demo::scenes::STREET_PHOTOS`), so street-to-shop accuracy measures
//! transfer to unseen backgrounds.

mod survey;

pub use survey::{
    CutoutCounts, CutoutSurvey, SurveyPhoto, cut_out_preview, cut_out_sheet, library_photos,
    survey_cut_outs,
};

use super::augment::Transform;
use crate::error::{Error, Result};
use crate::sources::demo::scenes::{
    BundledPhoto, bundled_photos, decode_photos, photo_scene, render_scene,
};
use image::{GrayImage, Luma, RgbImage};
use imageproc::contours::{BorderType, find_contours};
use imageproc::distance_transform::Norm;
use imageproc::drawing::draw_polygon_mut;
use imageproc::morphology::close;
use imageproc::point::Point;
use rand::Rng;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The darkest a shadow makes the background (as a factor of its colour).
pub const SHADOW_MIN_K: f32 = 0.72;
/// The largest distance (0–255 scale) from the darkened background colour that still counts
/// as background.
pub const COLOUR_TOLERANCE: f32 = 14.0;
/// The radius of the closing that joins parts of an item separated by thin pale lines.
pub const CLOSE_RADIUS_PX: u8 = 2;
/// Outer contours enclosing less than this share of the image are dust, not the item.
pub const MIN_REGION_SHARE: f32 = 0.002;
/// The least share of border pixels that must read as the border's median colour (possibly
/// shadowed) for the background to count as plain.
pub const MIN_BORDER_MATCH: f32 = 0.9;
/// The least share of the image the item's mask must cover (less: specks, not an item).
pub const MIN_MASK_SHARE: f32 = 0.03;
/// The most share of the image the item's mask may cover (more: the background's pattern
/// was taken for the item).
pub const MAX_MASK_SHARE: f32 = 0.85;

/// The bundled photographs training pastes items onto (`assets/backgrounds/train/`; sources
/// and licences in `assets/README.md`). Disjoint from the demo's street photos.
pub const TRAINING_PHOTOS: [BundledPhoto; 14] = bundled_photos!("train":
    "mate-aqua",
    "mate-blinds",
    "mate-dune",
    "mate-freshflower",
    "mate-greenmeadow",
    "mate-ladybird",
    "mate-storm",
    "mate-wood",
    "plasma-bythewater",
    "plasma-coldripple",
    "plasma-colorfulcups",
    "plasma-darkesthour",
    "plasma-kite",
    "plasma-summer-1am",
);

/// [`TRAINING_PHOTOS`], decoded once per process.
pub fn training_photos() -> Result<&'static [RgbImage]> {
    static DECODED: OnceLock<std::result::Result<Vec<RgbImage>, String>> = OnceLock::new();
    DECODED
        .get_or_init(|| decode_photos("train", &TRAINING_PHOTOS).map_err(|e| e.to_string()))
        .as_deref()
        .map_err(|e| Error::Invalid(e.clone()))
}

/// The plain background colour of a shop photo: the per-channel median of its border pixels.
pub fn border_colour(img: &RgbImage) -> [u8; 3] {
    let (w, h) = img.dimensions();
    let mut channels: [Vec<u8>; 3] = Default::default();
    let mut push = |x: u32, y: u32| {
        let p = img.get_pixel(x, y);
        for c in 0..3 {
            channels[c].push(p[c]);
        }
    };
    for x in 0..w {
        push(x, 0);
        push(x, h.saturating_sub(1));
    }
    for y in 1..h.saturating_sub(1) {
        push(0, y);
        push(w.saturating_sub(1), y);
    }
    let mut out = [255u8; 3];
    for (c, values) in channels.iter_mut().enumerate() {
        if !values.is_empty() {
            values.sort_unstable();
            out[c] = values[values.len() / 2];
        }
    }
    out
}

/// The terms of the background model at a point: 1, u, v, u², v² (u, v ∈ [-1, 1]).
const TERMS: usize = 5;

/// A photo's background: a colour that may change smoothly across the frame (a phone photo's
/// light falls off towards a corner, a lamp brightens one side), per channel
/// `c(u, v) = a + b·u + d·v + e·u² + f·v²` with `u, v ∈ [-1, 1]` across the image, fitted by
/// least squares to the border pixels that look like background. A plain shop background
/// fits as one constant colour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackgroundModel {
    /// Per channel, the coefficients of the [`TERMS`].
    coef: [[f32; TERMS]; 3],
    width: f32,
    height: f32,
}

impl BackgroundModel {
    /// One colour everywhere.
    pub fn constant(colour: [f32; 3], width: u32, height: u32) -> BackgroundModel {
        let mut coef = [[0.0; TERMS]; 3];
        for c in 0..3 {
            coef[c][0] = colour[c];
        }
        BackgroundModel {
            coef,
            width: width as f32,
            height: height as f32,
        }
    }

    /// Fits the model to the border of `img`: starting from the border's median colour,
    /// twice keeping the border pixels near the current model and fitting to them (pixels
    /// of an item that reaches the border drop out). With too few such pixels it stays the
    /// median colour.
    pub fn fit(img: &RgbImage) -> BackgroundModel {
        let (w, h) = img.dimensions();
        let mut model = Self::constant(border_colour(img).map(f32::from), w, h);
        let border: Vec<(u32, u32, [f32; 3])> = border_points(w, h)
            .map(|(x, y)| (x, y, img.get_pixel(x, y).0.map(f32::from)))
            .collect();
        for limit in [3.0 * COLOUR_TOLERANCE, 1.5 * COLOUR_TOLERANCE] {
            let near: Vec<&(u32, u32, [f32; 3])> = border
                .iter()
                .filter(|(x, y, p)| {
                    let bg = model.at(*x, *y);
                    (0..3).all(|c| (p[c] - bg[c]).abs() <= limit)
                })
                .collect();
            if near.len() < 16 || near.len() * 10 < border.len() * 3 {
                break;
            }
            match model.refit(&near) {
                Some(fitted) => model = fitted,
                None => break,
            }
        }
        model
    }

    /// Least squares on `points` (the normal equations, solved by Gaussian elimination).
    fn refit(&self, points: &[&(u32, u32, [f32; 3])]) -> Option<BackgroundModel> {
        let mut ata = [[0.0f64; TERMS]; TERMS];
        let mut atb = [[0.0f64; 3]; TERMS];
        for (x, y, p) in points {
            let t = self.terms(*x, *y);
            for i in 0..TERMS {
                for j in 0..TERMS {
                    ata[i][j] += f64::from(t[i] * t[j]);
                }
                for c in 0..3 {
                    atb[i][c] += f64::from(t[i] * p[c]);
                }
            }
        }
        let solved = solve(ata, atb)?;
        let mut coef = [[0.0f32; TERMS]; 3];
        for (i, row) in solved.iter().enumerate() {
            for c in 0..3 {
                coef[c][i] = row[c] as f32;
            }
        }
        Some(BackgroundModel { coef, ..*self })
    }

    fn terms(&self, x: u32, y: u32) -> [f32; TERMS] {
        let u = 2.0 * (x as f32 + 0.5) / self.width.max(1.0) - 1.0;
        let v = 2.0 * (y as f32 + 0.5) / self.height.max(1.0) - 1.0;
        [1.0, u, v, u * u, v * v]
    }

    /// The background colour expected at pixel (x, y).
    pub fn at(&self, x: u32, y: u32) -> [f32; 3] {
        let t = self.terms(x, y);
        self.coef
            .map(|channel| channel.iter().zip(&t).map(|(k, term)| k * term).sum())
    }
}

/// Solves `a · x = b` (three right-hand sides) by Gaussian elimination with partial
/// pivoting; `None` when `a` is singular.
fn solve(mut a: [[f64; TERMS]; TERMS], mut b: [[f64; 3]; TERMS]) -> Option<[[f64; 3]; TERMS]> {
    for col in 0..TERMS {
        let pivot = (col..TERMS).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-9 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in 0..TERMS {
            if row == col {
                continue;
            }
            let k = a[row][col] / a[col][col];
            let (pivot_a, pivot_b) = (a[col], b[col]);
            for (value, above) in a[row].iter_mut().zip(pivot_a).skip(col) {
                *value -= k * above;
            }
            for (value, above) in b[row].iter_mut().zip(pivot_b) {
                *value -= k * above;
            }
        }
    }
    let mut x = [[0.0f64; 3]; TERMS];
    for i in 0..TERMS {
        for c in 0..3 {
            x[i][c] = b[i][c] / a[i][i];
        }
    }
    Some(x)
}

/// The pixels of the image border, each once.
fn border_points(w: u32, h: u32) -> impl Iterator<Item = (u32, u32)> {
    let rows = (0..w).flat_map(move |x| {
        let bottom = (h > 1).then_some((x, h - 1));
        std::iter::once((x, 0)).chain(bottom)
    });
    let sides = (1..h.saturating_sub(1)).flat_map(move |y| {
        let right = (w > 1).then_some((w - 1, y));
        std::iter::once((0, y)).chain(right)
    });
    rows.chain(sides).filter(move |_| w > 0 && h > 0)
}

/// The share of border pixels that read as the fitted background (possibly shadowed): 1 for
/// a plain shop background, far less for a floor, a bed or a street.
pub fn border_match(img: &RgbImage) -> f32 {
    border_match_with(img, &BackgroundModel::fit(img))
}

fn border_match_with(img: &RgbImage, model: &BackgroundModel) -> f32 {
    let (w, h) = img.dimensions();
    let (mut matching, mut total) = (0usize, 0usize);
    for (x, y) in border_points(w, h) {
        total += 1;
        matching += usize::from(is_background(img.get_pixel(x, y).0, model.at(x, y)));
    }
    matching as f32 / total.max(1) as f32
}

/// Whether `p` reads as the background colour `bg`, possibly shadowed (see the module docs).
fn is_background(p: [u8; 3], bg: [f32; 3]) -> bool {
    let bg_norm2 = bg.iter().map(|v| v * v).sum::<f32>();
    let p = [f32::from(p[0]), f32::from(p[1]), f32::from(p[2])];
    let k = (p[0] * bg[0] + p[1] * bg[1] + p[2] * bg[2]) / bg_norm2.max(1.0);
    if !(SHADOW_MIN_K..=1.04).contains(&k) {
        return false;
    }
    let kc = k.min(1.0);
    (0..3).all(|c| (p[c] - kc * bg[c]).abs() <= COLOUR_TOLERANCE)
}

/// The item's mask (255 item, 0 background), the size of `img`: steps 1–4 of the module docs.
pub fn item_mask(img: &RgbImage) -> GrayImage {
    item_mask_with(img, &BackgroundModel::fit(img))
}

fn item_mask_with(img: &RgbImage, model: &BackgroundModel) -> GrayImage {
    filled_regions(&closed_foreground(img, model))
}

/// Steps 2–3: the pixels that are not background, small gaps closed. (No opening: it would
/// take thin parts of items, a strap or a chain, too.)
fn closed_foreground(img: &RgbImage, model: &BackgroundModel) -> GrayImage {
    let (w, h) = img.dimensions();
    let mut raw = GrayImage::new(w, h);
    for (x, y, p) in img.enumerate_pixels() {
        if !is_background(p.0, model.at(x, y)) {
            raw.put_pixel(x, y, Luma([255]));
        }
    }
    close(&raw, Norm::LInf, CLOSE_RADIUS_PX)
}

/// Step 4: the large outer regions, filled.
fn filled_regions(closed: &GrayImage) -> GrayImage {
    let (w, h) = closed.dimensions();
    let min_area = MIN_REGION_SHARE * (w * h) as f32;
    let mut filled = GrayImage::new(w, h);
    for contour in find_contours::<i32>(closed) {
        if contour.border_type != BorderType::Outer || contour.parent.is_some() {
            continue;
        }
        let mut points: Vec<Point<i32>> = contour.points;
        points.dedup();
        while points.len() > 1 && points.first() == points.last() {
            points.pop();
        }
        if points.len() < 3 || polygon_area(&points) < min_area {
            continue;
        }
        draw_polygon_mut(&mut filled, &points, Luma([255]));
    }
    filled
}

/// The share of a mask's pixels that are set.
fn share_set(mask: &GrayImage) -> f32 {
    let set = mask.pixels().filter(|p| p[0] > 0).count();
    set as f32 / (mask.width() as f32 * mask.height() as f32).max(1.0)
}

/// The shoelace area of a closed polygon.
fn polygon_area(points: &[Point<i32>]) -> f32 {
    let n = points.len();
    let twice: i64 = (0..n)
        .map(|i| {
            let (a, b) = (points[i], points[(i + 1) % n]);
            i64::from(a.x) * i64::from(b.y) - i64::from(b.x) * i64::from(a.y)
        })
        .sum();
    twice.unsigned_abs() as f32 / 2.0
}

/// An item cut out of its shop photo: the cropped image and its mask.
#[derive(Debug, Clone)]
pub struct Cutout {
    pub image: RgbImage,
    pub mask: GrayImage,
}

/// Whether a photo's cut-out can be trusted, and if not, why (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CutoutVerdict {
    Reliable,
    /// The border is not one plain colour (a floor, a bed, a street).
    BorderNotUniform,
    /// The mask covers too little of the image to be the item.
    MaskTooSmall,
    /// The mask covers so much that the background was taken for the item.
    MaskTooLarge,
}

impl CutoutVerdict {
    /// How the reports say it.
    pub fn describe(self) -> &'static str {
        match self {
            CutoutVerdict::Reliable => "reliable",
            CutoutVerdict::BorderNotUniform => "border not uniform",
            CutoutVerdict::MaskTooSmall => "mask too small",
            CutoutVerdict::MaskTooLarge => "mask too large",
        }
    }
}

/// What [`check_cut_out`] found.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CutoutCheck {
    pub verdict: CutoutVerdict,
    /// [`border_match`] of the photo.
    pub border_match: f32,
    /// The share of the image the mask covers; `None` when the border already failed (the
    /// mask is then not computed).
    pub mask_share: Option<f32>,
}

/// Judges the cut-out of `img` and makes it when it is reliable.
pub fn check_cut_out(img: &RgbImage) -> (CutoutCheck, Option<Cutout>) {
    let model = BackgroundModel::fit(img);
    let border = border_match_with(img, &model);
    if border < MIN_BORDER_MATCH {
        let check = CutoutCheck {
            verdict: CutoutVerdict::BorderNotUniform,
            border_match: border,
            mask_share: None,
        };
        return (check, None);
    }
    // A foreground that fills the frame has no outer contour at all: judge it before filling.
    let closed = closed_foreground(img, &model);
    let foreground = share_set(&closed);
    let mask = filled_regions(&closed);
    let share = share_set(&mask).max(foreground);
    let verdict = if share < MIN_MASK_SHARE {
        CutoutVerdict::MaskTooSmall
    } else if share > MAX_MASK_SHARE {
        CutoutVerdict::MaskTooLarge
    } else {
        CutoutVerdict::Reliable
    };
    let check = CutoutCheck {
        verdict,
        border_match: border,
        mask_share: Some(share),
    };
    let cutout = match verdict {
        CutoutVerdict::Reliable => crop_to_mask(img, mask),
        _ => None,
    };
    (check, cutout)
}

/// Cuts the item out of a shop photo (step 5 crops it); `None` when no item was found. It
/// does not judge the result: [`check_cut_out`] does.
pub fn cut_out(img: &RgbImage) -> Option<Cutout> {
    crop_to_mask(img, item_mask(img))
}

/// The image and mask cropped to the mask's bounding box; `None` for an empty mask.
fn crop_to_mask(img: &RgbImage, mask: GrayImage) -> Option<Cutout> {
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0u32, 0u32);
    for (x, y, m) in mask.enumerate_pixels() {
        if m[0] > 0 {
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
    }
    if x0 > x1 {
        return None;
    }
    let (w, h) = (x1 - x0 + 1, y1 - y0 + 1);
    Some(Cutout {
        image: image::imageops::crop_imm(img, x0, y0, w, h).to_image(),
        mask: image::imageops::crop_imm(&mask, x0, y0, w, h).to_image(),
    })
}

/// Where scenes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SceneSource {
    /// The bundled real photographs, [`TRAINING_PHOTOS`].
    Photos,
    /// The demo generator's procedural scenes (street, park, room, market).
    Procedural,
    /// Photos in a folder.
    Folder(Vec<PathBuf>),
}

impl SceneSource {
    /// The images in `dir` (by extension), sorted; an empty or unreadable folder is an error
    /// naming it.
    pub fn folder(dir: &Path) -> Result<SceneSource> {
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| crate::vision::has_image_extension(p))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(Error::file(
                dir,
                "no scene images (jpg, png, webp, bmp) in this folder",
            ));
        }
        Ok(SceneSource::Folder(files))
    }

    /// A random `side × side` scene: for photos, a random square crop (55–100 % of the
    /// shorter side, anywhere, mirrored half of the time), so each call gives a new one.
    pub fn scene(&self, rng: &mut impl Rng, side: u32) -> Result<RgbImage> {
        match self {
            SceneSource::Photos => Ok(photo_scene(training_photos()?, rng, side)),
            SceneSource::Procedural => Ok(render_scene(rng, side)),
            SceneSource::Folder(files) => {
                if files.is_empty() {
                    return Ok(render_scene(rng, side));
                }
                let path = &files[rng.random_range(0..files.len())];
                let img = crate::vision::decode(path)?;
                Ok(photo_scene(std::slice::from_ref(&img), rng, side))
            }
        }
    }
}

/// Pastes `cutout` onto `scene` at a random scale (its longer side 45–90 % of the scene's)
/// and a random place wholly inside; with a `transform`, the cut-out is first flipped,
/// rotated and sheared with it (its mask too). Returns the item's mask in the scene.
pub fn paste(
    cutout: &Cutout,
    scene: &mut RgbImage,
    transform: Option<&Transform>,
    rng: &mut impl Rng,
) -> GrayImage {
    let side = scene.width().min(scene.height());
    let (cw, ch) = cutout.image.dimensions();
    let long = cw.max(ch).max(1) as f32;
    let target = rng.random_range(0.45..0.9) * side as f32;
    let scale = target / long;
    let w = ((cw as f32 * scale).round() as u32).clamp(1, side);
    let h = ((ch as f32 * scale).round() as u32).clamp(1, side);
    let filter = image::imageops::FilterType::Triangle;
    let mut item = image::imageops::resize(&cutout.image, w, h, filter);
    let mut mask = image::imageops::resize(&cutout.mask, w, h, filter);
    if let Some(t) = transform {
        // Rotate and shear in a square frame so corners are not cut off; no shift or zoom
        // (the placement below does that).
        let frame = w.max(h) + w.max(h) / 3;
        let mut big_item = RgbImage::new(frame, frame);
        let mut big_mask = GrayImage::new(frame, frame);
        let (ox, oy) = ((frame - w) / 2, (frame - h) / 2);
        image::imageops::replace(&mut big_item, &item, i64::from(ox), i64::from(oy));
        image::imageops::replace(&mut big_mask, &mask, i64::from(ox), i64::from(oy));
        let t = Transform {
            shift: (0.0, 0.0),
            zoom: 1.0,
            ..*t
        };
        item = t.apply(&big_item, [0; 3]);
        mask = match t.projection(frame, frame) {
            Some(p) => imageproc::geometric_transformations::warp(
                &big_mask,
                p,
                imageproc::geometric_transformations::Interpolation::Bilinear,
                imageproc::geometric_transformations::Border::Constant(Luma([0])),
            ),
            None => big_mask,
        };
    }
    let (w, h) = item.dimensions();
    let x0 = if w < scene.width() {
        rng.random_range(0..=scene.width() - w)
    } else {
        0
    };
    let y0 = if h < scene.height() {
        rng.random_range(0..=scene.height() - h)
    } else {
        0
    };
    let mut placed = GrayImage::new(scene.width(), scene.height());
    for (x, y, m) in mask.enumerate_pixels() {
        let (sx, sy) = (x0 + x, y0 + y);
        if m[0] == 0 || sx >= scene.width() || sy >= scene.height() {
            continue;
        }
        let a = f32::from(m[0]) / 255.0;
        let src = item.get_pixel(x, y);
        let dst = scene.get_pixel_mut(sx, sy);
        for c in 0..3 {
            dst[c] = (a * f32::from(src[c]) + (1.0 - a) * f32::from(dst[c])).round() as u8;
        }
        placed.put_pixel(sx, sy, Luma([m[0]]));
    }
    placed
}

/// A whole background augmentation of a shop photo: cut out, paste on a new scene of
/// `side × side`. `None` when the cut-out is not reliable ([`check_cut_out`]): the caller
/// keeps the plain photo.
pub fn on_new_background(
    shop: &RgbImage,
    scenes: &SceneSource,
    side: u32,
    transform: Option<&Transform>,
    rng: &mut impl Rng,
) -> Result<Option<RgbImage>> {
    let (_, Some(cutout)) = check_cut_out(shop) else {
        return Ok(None);
    };
    let mut scene = scenes.scene(rng, side)?;
    paste(&cutout, &mut scene, transform, rng);
    Ok(Some(scene))
}

/// Intersection over union of two masks (pixels > 127 count as set).
pub fn mask_iou(a: &GrayImage, b: &GrayImage) -> f64 {
    let (mut inter, mut union) = (0u64, 0u64);
    for (pa, pb) in a.pixels().zip(b.pixels()) {
        let (x, y) = (pa[0] > 127, pb[0] > 127);
        inter += u64::from(x && y);
        union += u64::from(x || y);
    }
    if union == 0 {
        1.0
    } else {
        inter as f64 / union as f64
    }
}

#[cfg(test)]
mod tests;

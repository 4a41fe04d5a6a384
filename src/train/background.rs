//! Background augmentation (paper §III.A, DESIGN §5): cut the item out of its plain shop
//! background and paste it, at a random scale and place, onto a random scene, so a model
//! trained only on catalogue photos learns to ignore what is behind a garment in a street
//! photo.
//!
//! The cut-out follows the paper's recipe:
//! 1. estimate the background colour from the image border (per-channel median);
//! 2. mark pixels far from it. A shop photo's soft shadow is the background *darkened*, so
//!    the distance is measured after the best darkening factor is taken out: a pixel is
//!    background (or shadow) when it is nearly a multiple `k ∈ [`SHADOW_MIN_K`, 1.04]` of
//!    the background colour;
//! 3. close small gaps (morphological closing);
//! 4. find the contours and keep the large outer ones, filled, so holes inside the item
//!    (a white print, a pale stripe) become item again;
//! 5. crop to the item.
//!
//! Scenes come from a folder of photos (any decodable image, cropped to a square) or, by
//! default, from the demo generator's procedural scenes, so the app needs no download.

use super::augment::Transform;
use crate::catalog::demo::scenes::render_scene;
use crate::error::{Error, Result};
use image::{GrayImage, Luma, RgbImage};
use imageproc::contours::{BorderType, find_contours};
use imageproc::distance_transform::Norm;
use imageproc::drawing::draw_polygon_mut;
use imageproc::morphology::close;
use imageproc::point::Point;
use rand::Rng;
use std::path::{Path, PathBuf};

/// The darkest a shadow makes the background (as a factor of its colour).
pub const SHADOW_MIN_K: f32 = 0.72;
/// The largest distance (0–255 scale) from the darkened background colour that still counts
/// as background.
pub const COLOUR_TOLERANCE: f32 = 14.0;
/// The radius of the closing that joins parts of an item separated by thin pale lines.
pub const CLOSE_RADIUS_PX: u8 = 2;
/// Outer contours enclosing less than this share of the image are dust, not the item.
pub const MIN_REGION_SHARE: f32 = 0.002;

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

/// Whether `p` reads as the background colour `bg`, possibly shadowed (see the module docs).
fn is_background(p: [u8; 3], bg: [f32; 3], bg_norm2: f32) -> bool {
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
    let bg = border_colour(img).map(f32::from);
    let bg_norm2 = bg.iter().map(|v| v * v).sum::<f32>();
    let (w, h) = img.dimensions();
    let mut raw = GrayImage::new(w, h);
    for (x, y, p) in img.enumerate_pixels() {
        if !is_background(p.0, bg, bg_norm2) {
            raw.put_pixel(x, y, Luma([255]));
        }
    }
    let closed = close(&raw, Norm::LInf, CLOSE_RADIUS_PX);
    let min_area = MIN_REGION_SHARE * (w * h) as f32;
    let mut filled = GrayImage::new(w, h);
    for contour in find_contours::<i32>(&closed) {
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

/// Cuts the item out of a shop photo (step 5 crops it); `None` when no item was found.
pub fn cut_out(img: &RgbImage) -> Option<Cutout> {
    let mask = item_mask(img);
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
    /// The demo generator's procedural scenes (street, park, room, market).
    Procedural,
    /// Photos in a folder (cropped to a centred square and resized).
    Folder(Vec<PathBuf>),
}

impl SceneSource {
    /// The images in `dir` (by extension), sorted; an empty or unreadable folder is an error
    /// naming it.
    pub fn folder(dir: &Path) -> Result<SceneSource> {
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                    ["jpg", "jpeg", "png", "webp", "bmp"].contains(&e.to_ascii_lowercase().as_str())
                })
            })
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

    /// A random `side × side` scene.
    pub fn scene(&self, rng: &mut impl Rng, side: u32) -> Result<RgbImage> {
        match self {
            SceneSource::Procedural => Ok(render_scene(rng, side)),
            SceneSource::Folder(files) => {
                let path = &files[rng.random_range(0..files.len())];
                let img = crate::vision::decode(path)?;
                let (w, h) = img.dimensions();
                let s = w.min(h);
                let square = image::imageops::crop_imm(&img, (w - s) / 2, (h - s) / 2, s, s);
                Ok(image::imageops::resize(
                    &square.to_image(),
                    side,
                    side,
                    image::imageops::FilterType::Triangle,
                ))
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
/// `side × side`. `None` when no item could be cut out (the caller keeps the plain photo).
pub fn on_new_background(
    shop: &RgbImage,
    scenes: &SceneSource,
    side: u32,
    transform: Option<&Transform>,
    rng: &mut impl Rng,
) -> Result<Option<RgbImage>> {
    let Some(cutout) = cut_out(shop) else {
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
mod tests {
    use super::*;
    use crate::catalog::demo::garments::render_shop;
    use crate::catalog::demo::item_spec;
    use image::Rgb;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn rgb(c: [u8; 3]) -> Rgb<u8> {
        Rgb(c)
    }

    #[test]
    fn the_border_colour_is_the_plain_background() {
        let mut img = RgbImage::from_pixel(20, 20, rgb([240, 238, 236]));
        img.put_pixel(0, 0, rgb([0, 0, 0]));
        for y in 5..15 {
            for x in 5..15 {
                img.put_pixel(x, y, rgb([200, 10, 10]));
            }
        }
        assert_eq!(border_colour(&img), [240, 238, 236]);
        let mask = item_mask(&img);
        assert_eq!(mask.get_pixel(10, 10)[0], 255);
        assert_eq!(mask.get_pixel(2, 2)[0], 0);
        // A pale hole inside the item is filled.
        img.put_pixel(10, 10, rgb([240, 238, 236]));
        assert_eq!(item_mask(&img).get_pixel(10, 10)[0], 255);
    }

    #[test]
    fn demo_item_masks_match_the_drawn_silhouettes() {
        // The demo generator knows what it drew: its mask is the ground truth.
        let mut ious = Vec::new();
        for index in 0..16 {
            let spec = item_spec(7, index);
            let shop = render_shop(&spec, 256);
            let iou = mask_iou(&item_mask(&shop.image), &shop.mask);
            ious.push(iou);
        }
        let mean = ious.iter().sum::<f64>() / ious.len() as f64;
        eprintln!("mask IoU per item: {ious:.3?}");
        assert!(mean >= 0.9, "mean mask IoU {mean:.3}: {ious:.3?}");
        let first = ious[0];
        assert!(first >= 0.9, "item 0: {first:.3}");
    }

    #[test]
    fn pasting_puts_the_item_on_a_scene_and_stays_seeded() {
        let shop = render_shop(&item_spec(7, 3), 128);
        let scenes = SceneSource::Procedural;
        let run = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            on_new_background(&shop.image, &scenes, 96, None, &mut rng)
                .unwrap()
                .unwrap()
        };
        let a = run(1);
        assert_eq!(a.dimensions(), (96, 96));
        assert_eq!(a, run(1));
        assert_ne!(a, run(2));
        // The plain background is gone: the border is no longer one colour.
        let border = border_colour(&a);
        let differing = (0..96)
            .filter(|&x| {
                let p = a.get_pixel(x, 0).0;
                (0..3).any(|c| p[c].abs_diff(border[c]) > 20)
            })
            .count();
        assert!(differing > 5, "{differing}");
        // An image with nothing on it has nothing to cut out.
        let blank = RgbImage::from_pixel(32, 32, rgb([250, 250, 250]));
        assert!(cut_out(&blank).is_none());
    }

    #[test]
    fn a_scene_folder_must_hold_images() {
        let dir = tempfile::tempdir().unwrap();
        let err = SceneSource::folder(dir.path()).unwrap_err().to_string();
        assert!(err.contains("no scene images"), "{err}");
        RgbImage::from_pixel(40, 20, rgb([10, 200, 10]))
            .save(dir.path().join("a.png"))
            .unwrap();
        let source = SceneSource::folder(dir.path()).unwrap();
        let scene = source.scene(&mut ChaCha8Rng::seed_from_u64(0), 16).unwrap();
        assert_eq!(scene.dimensions(), (16, 16));
        assert_eq!(scene.get_pixel(8, 8).0, [10, 200, 10]);
    }
}

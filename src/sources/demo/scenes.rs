//! Scenes for the demo's street photos, and the procedural scenes training may fall back on.
//!
//! A street-to-shop query is the same item as a shop photo, re-drawn at another scale,
//! rotation and pose on a busy background, so retrieval has to find the item and ignore
//! the clutter. [`render_street`] draws the item with [`Pose::street`] over a random crop of
//! one of the [`STREET_PHOTOS`]: real photographs bundled in the binary that **training
//! never uses** (its backgrounds are a disjoint set, `train::background::TRAINING_PHOTOS`,
//! or [`render_scene`]'s procedural scenes). So `vitrine eval retrieval` on the street set
//! measures how a background augmentation *transfers* to backgrounds it has not seen, not
//! how well a model learnt one scene generator.
//!
//! [`render_scene`] draws one of four kinds of procedural scene (a street with buildings and
//! pavement, a park, a room, a market) from shapes, gradients and grain: the
//! `--background-aug procedural` source. Everything comes from the random stream passed in,
//! so the same stream gives the same pixels.

use super::draw::{
    Affine, Canvas, Paint, Pt, Rgb, Style, ellipse, hash2, mix, rounded_rect, scale, value_noise,
};
use super::garments::{GarmentSpec, Pose, Rendered, draw_item};
use crate::error::{Error, Result};
use image::RgbImage;
use rand::Rng;
use std::sync::OnceLock;

/// A real photograph compiled into the binary (`assets/README.md` names each one's source
/// package, original path and licence).
#[derive(Debug, Clone, Copy)]
pub struct BundledPhoto {
    /// The file name under `assets/backgrounds/<set>/`, without `.jpg`.
    pub name: &'static str,
    pub jpeg: &'static [u8],
}

/// The bundled photos of one set (`street` or `train`), by file name.
macro_rules! bundled_photos {
    ($set:literal: $($name:literal),+ $(,)?) => {
        [$(BundledPhoto {
            name: $name,
            jpeg: include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"), "/assets/backgrounds/", $set, "/", $name, ".jpg"
            )),
        }),+]
    };
}
pub(crate) use bundled_photos;

/// The photographs behind the demo's street queries (`assets/backgrounds/street/`); no
/// training background comes from them.
pub const STREET_PHOTOS: [BundledPhoto; 10] = bundled_photos!("street":
    "mate-garden",
    "mate-raindrops",
    "mate-twowings",
    "mate-yellowflower",
    "plasma-eveningglow",
    "plasma-fallenleaf",
    "plasma-grey",
    "plasma-onestandsout",
    "plasma-path",
    "plasma-volna",
);

/// Decodes a set of bundled photos.
pub fn decode_photos(set: &str, photos: &[BundledPhoto]) -> Result<Vec<RgbImage>> {
    photos
        .iter()
        .map(|photo| {
            image::load_from_memory_with_format(photo.jpeg, image::ImageFormat::Jpeg)
                .map(|img| img.to_rgb8())
                .map_err(|e| {
                    Error::image(
                        format!("assets/backgrounds/{set}/{}.jpg (bundled)", photo.name),
                        format!("cannot decode: {e}"),
                    )
                })
        })
        .collect()
}

/// [`STREET_PHOTOS`], decoded once per process.
pub fn street_photos() -> Result<&'static [RgbImage]> {
    static DECODED: OnceLock<std::result::Result<Vec<RgbImage>, String>> = OnceLock::new();
    DECODED
        .get_or_init(|| decode_photos("street", &STREET_PHOTOS).map_err(|e| e.to_string()))
        .as_deref()
        .map_err(|e| Error::Invalid(e.clone()))
}

/// A random `side × side` view of one of `photos`: a square crop of 55–100 % of the photo's
/// shorter side at a random place, mirrored half of the time, resized. Many distinct scenes
/// from a few photographs. An empty set gives a mid-grey square.
pub fn photo_scene(photos: &[RgbImage], rng: &mut impl Rng, side: u32) -> RgbImage {
    let side = side.max(1);
    if photos.is_empty() {
        return RgbImage::from_pixel(side, side, image::Rgb([128; 3]));
    }
    let photo = &photos[rng.random_range(0..photos.len())];
    let (w, h) = photo.dimensions();
    let short = w.min(h).max(1);
    let crop = ((short as f32 * rng.random_range(0.55..=1.0)).round() as u32).clamp(1, short);
    let x0 = rng.random_range(0..=w - crop);
    let y0 = rng.random_range(0..=h - crop);
    let square = image::imageops::crop_imm(photo, x0, y0, crop, crop).to_image();
    let mut scene =
        image::imageops::resize(&square, side, side, image::imageops::FilterType::Triangle);
    if rng.random_bool(0.5) {
        image::imageops::flip_horizontal_in_place(&mut scene);
    }
    scene
}

/// A street photo of `spec`: a random crop of a [`STREET_PHOTOS`] photograph with the item
/// drawn over it at a random street pose, then a colour cast and sensor grain over
/// everything. The mask is the item alone.
pub fn render_street(spec: &GarmentSpec, rng: &mut impl Rng, size_px: u32) -> Result<Rendered> {
    let size = size_px.max(8);
    let backdrop = photo_scene(street_photos()?, rng, size);
    let mut canvas = Canvas::new(size, size, [0.5; 3]);
    canvas.map_pixels(|x, y, _| {
        let p = backdrop.get_pixel(x, y).0;
        [
            f32::from(p[0]) / 255.0,
            f32::from(p[1]) / 255.0,
            f32::from(p[2]) / 255.0,
        ]
    });
    let pose = Pose::street(rng);
    draw_item(&mut canvas, spec, &pose);
    finish(&mut canvas, rng);
    Ok(Rendered {
        image: canvas.to_rgb_image(),
        mask: canvas.mask_image(),
    })
}

/// A random cluttered procedural scene alone (the `procedural` background augmentation).
pub fn render_scene(rng: &mut impl Rng, size_px: u32) -> image::RgbImage {
    let size = size_px.max(8);
    let mut canvas = Canvas::new(size, size, [0.5; 3]);
    draw_scene(&mut canvas, rng);
    finish(&mut canvas, rng);
    canvas.to_rgb_image()
}

/// The kinds of scene.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Street,
    Park,
    Room,
    Market,
}

fn draw_scene(c: &mut Canvas, rng: &mut impl Rng) {
    let kind = [Kind::Street, Kind::Park, Kind::Room, Kind::Market][rng.random_range(0..4)];
    let mut p = Painter {
        canvas: c,
        xf: Affine::IDENTITY,
    };
    let side = p.canvas.width().min(p.canvas.height()) as f32;
    p.xf = Affine::scale(side, side);
    match kind {
        Kind::Street => street(&mut p, rng),
        Kind::Park => park(&mut p, rng),
        Kind::Room => room(&mut p, rng),
        Kind::Market => market(&mut p, rng),
    }
}

/// A colour cast and brightness change (the light of the scene), a vignette and grain.
fn finish(c: &mut Canvas, rng: &mut impl Rng) {
    let cast = [
        rng.random_range(0.92..1.08f32),
        rng.random_range(0.94..1.06f32),
        rng.random_range(0.9..1.1f32),
    ];
    let bright = rng.random_range(0.85..1.1f32);
    let grain = rng.random_range(0.02..0.06f32);
    let seed: u32 = rng.random();
    let (w, h) = (c.width() as f32, c.height() as f32);
    c.map_pixels(|x, y, col| {
        let (dx, dy) = (x as f32 / w - 0.5, y as f32 / h - 0.5);
        let vignette = 1.0 - 0.35 * (dx * dx + dy * dy);
        let n = (hash2(x as i32, y as i32, seed) - 0.5) * grain;
        let k = bright * vignette;
        [
            col[0] * cast[0] * k + n,
            col[1] * cast[1] * k + n,
            col[2] * cast[2] * k + n,
        ]
    });
}

/// Draws in unit coordinates (0..1 across the frame).
struct Painter<'a> {
    canvas: &'a mut Canvas,
    xf: Affine,
}

impl Painter<'_> {
    fn poly(&mut self, pts: Vec<Pt>, colour: Rgb) {
        self.canvas
            .fill(&[pts], &self.xf, &Paint::Solid(colour), Style::BACKGROUND);
    }

    fn rect(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, colour: Rgb) {
        self.poly(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1)], colour);
    }

    fn blob(&mut self, c: Pt, rx: f32, ry: f32, colour: Rgb) {
        self.poly(ellipse(c, rx, ry, 28), colour);
    }

    fn shaded(&mut self, pts: Vec<Pt>, f: &dyn Fn(f32, f32) -> Rgb) {
        self.canvas
            .fill(&[pts], &self.xf, &Paint::Shader(f), Style::BACKGROUND);
    }

    fn line(&mut self, pts: Vec<Pt>, width: f32, colour: Rgb, alpha: f32) {
        self.canvas.stroke(
            &pts,
            false,
            width,
            &self.xf,
            &Paint::Solid(colour),
            Style::overlay(alpha),
        );
    }
}

fn jitter(rng: &mut impl Rng, c: Rgb, amount: f32) -> Rgb {
    let k = rng.random_range(1.0 - amount..1.0 + amount);
    [
        (c[0] * k + rng.random_range(-0.03..0.03)).clamp(0.0, 1.0),
        (c[1] * k + rng.random_range(-0.03..0.03)).clamp(0.0, 1.0),
        (c[2] * k + rng.random_range(-0.03..0.03)).clamp(0.0, 1.0),
    ]
}

fn any_colour(rng: &mut impl Rng) -> Rgb {
    [rng.random(), rng.random(), rng.random()]
}

fn sky(p: &mut Painter, rng: &mut impl Rng, horizon: f32) {
    let top = jitter(rng, [0.45, 0.65, 0.9], 0.12);
    let bottom = mix(top, [0.95, 0.93, 0.9], rng.random_range(0.4..0.8));
    let seed: u32 = rng.random();
    let cloudy = rng.random_bool(0.5);
    p.shaded(
        vec![(0.0, 0.0), (1.0, 0.0), (1.0, horizon), (0.0, horizon)],
        &move |x, y| {
            let g = mix(top, bottom, (y / horizon.max(0.01)).clamp(0.0, 1.0));
            if cloudy {
                let n = value_noise(x * 6.0, y * 12.0, seed);
                mix(g, [0.97; 3], ((n - 0.55) * 3.0).clamp(0.0, 0.8))
            } else {
                g
            }
        },
    );
}

fn street(p: &mut Painter, rng: &mut impl Rng) {
    let horizon = rng.random_range(0.3..0.5);
    let ground = rng.random_range(0.62..0.75);
    sky(p, rng, ground);
    // Buildings.
    let facades = [
        [0.62, 0.36, 0.28],
        [0.85, 0.8, 0.68],
        [0.6, 0.6, 0.62],
        [0.78, 0.7, 0.55],
        [0.5, 0.55, 0.6],
        [0.9, 0.88, 0.84],
    ];
    let mut x = rng.random_range(-0.15..0.0);
    while x < 1.0 {
        let w = rng.random_range(0.18..0.4);
        let top = rng.random_range(0.02..horizon);
        let facade = facades[rng.random_range(0..facades.len())];
        let colour = jitter(rng, facade, 0.1);
        p.rect(x, top, x + w, ground, colour);
        p.rect(x, top, x + w, top + 0.015, scale(colour, 0.7));
        let glass = jitter(rng, [0.32, 0.4, 0.5], 0.2);
        let (cols, rows) = (rng.random_range(2..5), rng.random_range(3..8));
        let (cw, rh) = (w / cols as f32, (ground - top - 0.08) / rows as f32);
        for r in 0..rows {
            for k in 0..cols {
                let wx = x + k as f32 * cw + 0.25 * cw;
                let wy = top + 0.03 + r as f32 * rh + 0.2 * rh;
                let lit = if rng.random_bool(0.2) {
                    mix(glass, [0.95, 0.85, 0.5], 0.6)
                } else {
                    glass
                };
                p.rect(
                    wx - 0.006,
                    wy - 0.006,
                    wx + 0.5 * cw + 0.006,
                    wy + 0.55 * rh + 0.006,
                    scale(colour, 1.12),
                );
                p.rect(wx, wy, wx + 0.5 * cw, wy + 0.55 * rh, lit);
            }
        }
        // A door or a shop front.
        if rng.random_bool(0.6) {
            let dx = x + rng.random_range(0.1..0.6) * w;
            p.rect(dx, ground - 0.1, dx + 0.06, ground, scale(colour, 0.45));
        }
        x += w;
    }
    // Pavement with tiles, kerb and road.
    let paving = jitter(rng, [0.66, 0.64, 0.6], 0.08);
    let tiles = scale(paving, 0.85);
    let seed: u32 = rng.random();
    p.shaded(
        vec![(0.0, ground), (1.0, ground), (1.0, 1.0), (0.0, 1.0)],
        &move |x, y| {
            let depth = (y - ground).max(0.01);
            let u = (x - 0.5) / depth * 0.1;
            let v = 1.0 / depth;
            let line = ((u * 4.0).fract().abs() < 0.05) || ((v * 0.6).fract().abs() < 0.06);
            let n = value_noise(x * 60.0, y * 60.0, seed);
            let c = scale(paving, 0.9 + 0.2 * n);
            if line { tiles } else { c }
        },
    );
    let kerb = rng.random_range(0.85..0.95);
    p.rect(0.0, kerb, 1.0, kerb + 0.015, [0.8; 3]);
    p.rect(
        0.0,
        kerb + 0.015,
        1.0,
        1.0,
        jitter(rng, [0.25, 0.25, 0.27], 0.1),
    );
    // Poles, a car, passers-by.
    for _ in 0..rng.random_range(1..4) {
        let px = rng.random_range(0.0..1.0);
        p.rect(
            px,
            rng.random_range(0.1..0.4),
            px + 0.012,
            kerb,
            [0.2, 0.22, 0.2],
        );
    }
    if rng.random_bool(0.5) {
        let cx = rng.random_range(-0.1..0.8);
        let col = any_colour(rng);
        p.poly(
            rounded_rect(cx, kerb - 0.09, cx + 0.35, kerb + 0.03, 0.03),
            col,
        );
        p.poly(
            rounded_rect(cx + 0.07, kerb - 0.15, cx + 0.26, kerb - 0.07, 0.03),
            scale(col, 0.9),
        );
        p.rect(
            cx + 0.1,
            kerb - 0.135,
            cx + 0.23,
            kerb - 0.09,
            [0.3, 0.38, 0.45],
        );
        for wx in [cx + 0.07, cx + 0.28] {
            p.blob((wx, kerb + 0.03), 0.035, 0.035, [0.08; 3]);
        }
    }
    let n = rng.random_range(1..5);
    people(p, rng, ground, n);
}

fn people(p: &mut Painter, rng: &mut impl Rng, ground: f32, n: usize) {
    for _ in 0..n {
        let x = rng.random_range(0.0..1.0);
        let h = rng.random_range(0.18..0.4);
        let foot = ground + rng.random_range(0.0..0.2);
        let coat = {
            let c = any_colour(rng);
            jitter(rng, c, 0.3)
        };
        let skin = jitter(rng, [0.75, 0.58, 0.45], 0.25);
        p.poly(
            rounded_rect(
                x - 0.06 * h / 0.3,
                foot - 0.8 * h,
                x + 0.06 * h / 0.3,
                foot - 0.35 * h,
                0.02,
            ),
            coat,
        );
        p.rect(
            x - 0.04 * h / 0.3,
            foot - 0.36 * h,
            x + 0.04 * h / 0.3,
            foot,
            scale(coat, 0.5),
        );
        p.blob((x, foot - 0.88 * h), 0.045 * h / 0.3, 0.055 * h / 0.3, skin);
    }
}

fn park(p: &mut Painter, rng: &mut impl Rng) {
    let horizon = rng.random_range(0.3..0.5);
    sky(p, rng, horizon + 0.02);
    // Distant trees.
    let far = jitter(rng, [0.3, 0.45, 0.3], 0.15);
    let mut x = -0.05;
    while x < 1.05 {
        let r = rng.random_range(0.04..0.09);
        p.blob((x, horizon - 0.3 * r), r, r * 0.9, jitter(rng, far, 0.1));
        x += r * 1.2;
    }
    let grass = jitter(rng, [0.35, 0.58, 0.25], 0.15);
    let seed: u32 = rng.random();
    p.shaded(
        vec![(0.0, horizon), (1.0, horizon), (1.0, 1.0), (0.0, 1.0)],
        &move |x, y| {
            let n = value_noise(x * 30.0, y * 60.0, seed);
            let m = value_noise(x * 4.0, y * 4.0, seed ^ 9);
            scale(grass, 0.8 + 0.25 * n + 0.2 * m)
        },
    );
    // A path.
    let px = rng.random_range(0.2..0.8);
    let path = jitter(rng, [0.78, 0.7, 0.55], 0.1);
    p.poly(
        vec![
            (px - 0.02, horizon),
            (px + 0.02, horizon),
            (px + 0.35, 1.0),
            (px - 0.3, 1.0),
        ],
        path,
    );
    // Trees.
    for _ in 0..rng.random_range(2..5) {
        let tx = rng.random_range(-0.1..1.1);
        let base = rng.random_range(horizon + 0.05..0.9);
        let h = rng.random_range(0.25..0.6);
        let trunk = jitter(rng, [0.36, 0.25, 0.16], 0.15);
        p.rect(tx - 0.015, base - h, tx + 0.015, base, trunk);
        let leaves = jitter(rng, [0.2, 0.45, 0.2], 0.2);
        for _ in 0..5 {
            let c = (
                tx + rng.random_range(-0.12..0.12),
                base - h + rng.random_range(-0.1..0.08),
            );
            let r = rng.random_range(0.06..0.13);
            p.blob(c, r, r, jitter(rng, leaves, 0.12));
        }
    }
    // A bench and flowers.
    if rng.random_bool(0.6) {
        let bx = rng.random_range(0.0..0.8);
        let by = rng.random_range(horizon + 0.1..0.85);
        let wood = jitter(rng, [0.5, 0.33, 0.2], 0.1);
        p.rect(bx, by - 0.06, bx + 0.22, by - 0.045, wood);
        p.rect(bx, by - 0.03, bx + 0.22, by - 0.015, wood);
        p.rect(bx + 0.02, by - 0.015, bx + 0.03, by + 0.03, [0.15; 3]);
        p.rect(bx + 0.19, by - 0.015, bx + 0.2, by + 0.03, [0.15; 3]);
    }
    for _ in 0..rng.random_range(10..40) {
        let c = (
            rng.random_range(0.0..1.0),
            rng.random_range(horizon + 0.05..1.0),
        );
        let r = rng.random_range(0.004..0.012);
        p.blob(c, r, r, any_colour(rng));
    }
    let n = rng.random_range(0..3);
    people(p, rng, horizon + 0.1, n);
}

fn room(p: &mut Painter, rng: &mut impl Rng) {
    let floor_y = rng.random_range(0.55..0.75);
    let walls = [
        [0.86, 0.82, 0.74],
        [0.7, 0.78, 0.8],
        [0.9, 0.75, 0.7],
        [0.75, 0.8, 0.7],
    ];
    let wall = walls[rng.random_range(0..walls.len())];
    let wall = jitter(rng, wall, 0.08);
    let stripes = rng.random_bool(0.35);
    let stripe_w = rng.random_range(0.03..0.08);
    p.shaded(
        vec![(0.0, 0.0), (1.0, 0.0), (1.0, floor_y), (0.0, floor_y)],
        &move |x, _y| {
            if stripes && (x / stripe_w).rem_euclid(2.0) < 1.0 {
                scale(wall, 0.92)
            } else {
                wall
            }
        },
    );
    // Floorboards.
    let wood = jitter(rng, [0.6, 0.45, 0.3], 0.15);
    let seed: u32 = rng.random();
    p.shaded(
        vec![(0.0, floor_y), (1.0, floor_y), (1.0, 1.0), (0.0, 1.0)],
        &move |x, y| {
            let depth = (y - floor_y).max(0.01);
            let u = (x - 0.5) / depth * 0.15;
            let plank = u.floor();
            let tone = hash2(plank as i32, 0, seed);
            let edge = (u - plank) < 0.04;
            let grain = value_noise(u * 3.0, y * 80.0, seed);
            let c = scale(wood, 0.8 + 0.25 * tone + 0.1 * grain);
            if edge { scale(c, 0.6) } else { c }
        },
    );
    p.rect(0.0, floor_y - 0.02, 1.0, floor_y, [0.93; 3]);
    // Window.
    if rng.random_bool(0.6) {
        let wx = rng.random_range(0.05..0.7);
        let wy = rng.random_range(0.05..0.2);
        p.rect(wx - 0.01, wy - 0.01, wx + 0.26, wy + 0.31, [0.95; 3]);
        p.rect(
            wx,
            wy,
            wx + 0.25,
            wy + 0.3,
            jitter(rng, [0.7, 0.82, 0.95], 0.08),
        );
        p.rect(wx + 0.12, wy, wx + 0.13, wy + 0.3, [0.95; 3]);
        p.rect(wx, wy + 0.145, wx + 0.25, wy + 0.155, [0.95; 3]);
    }
    // Pictures on the wall.
    for _ in 0..rng.random_range(1..4) {
        let (x, y) = (
            rng.random_range(0.0..0.9),
            rng.random_range(0.05..floor_y - 0.25),
        );
        let (w, h) = (rng.random_range(0.08..0.2), rng.random_range(0.08..0.2));
        p.rect(
            x - 0.012,
            y - 0.012,
            x + w + 0.012,
            y + h + 0.012,
            jitter(rng, [0.25, 0.2, 0.15], 0.3),
        );
        p.rect(x, y, x + w, y + h, any_colour(rng));
        p.blob(
            (x + 0.5 * w, y + 0.55 * h),
            0.3 * w,
            0.25 * h,
            any_colour(rng),
        );
    }
    // Sofa, table, lamp, plant.
    let sofa = {
        let c = any_colour(rng);
        jitter(rng, c, 0.2)
    };
    let sx = rng.random_range(-0.2..0.6);
    let sy = floor_y + rng.random_range(0.02..0.1);
    p.poly(
        rounded_rect(sx, sy - 0.28, sx + 0.6, sy - 0.08, 0.04),
        scale(sofa, 0.85),
    );
    p.poly(
        rounded_rect(sx - 0.03, sy - 0.14, sx + 0.63, sy + 0.02, 0.04),
        sofa,
    );
    p.poly(
        rounded_rect(sx - 0.05, sy - 0.2, sx + 0.04, sy + 0.03, 0.03),
        scale(sofa, 0.9),
    );
    p.poly(
        rounded_rect(sx + 0.56, sy - 0.2, sx + 0.65, sy + 0.03, 0.03),
        scale(sofa, 0.9),
    );
    let tx = rng.random_range(0.0..0.8);
    let ty = rng.random_range(floor_y + 0.1..0.95);
    let table = jitter(rng, [0.35, 0.25, 0.18], 0.2);
    p.rect(tx, ty - 0.12, tx + 0.25, ty - 0.1, table);
    p.rect(tx + 0.02, ty - 0.1, tx + 0.035, ty, table);
    p.rect(tx + 0.215, ty - 0.1, tx + 0.23, ty, table);
    if rng.random_bool(0.5) {
        let lx = rng.random_range(0.05..0.95);
        p.rect(
            lx - 0.005,
            floor_y - 0.35,
            lx + 0.005,
            floor_y + 0.05,
            [0.2; 3],
        );
        p.poly(
            vec![
                (lx - 0.04, floor_y - 0.45),
                (lx + 0.04, floor_y - 0.45),
                (lx + 0.07, floor_y - 0.35),
                (lx - 0.07, floor_y - 0.35),
            ],
            jitter(rng, [0.95, 0.9, 0.75], 0.05),
        );
    }
    let px = rng.random_range(0.0..1.0);
    let py = rng.random_range(floor_y..0.95);
    p.poly(
        vec![
            (px - 0.04, py - 0.08),
            (px + 0.04, py - 0.08),
            (px + 0.03, py),
            (px - 0.03, py),
        ],
        jitter(rng, [0.7, 0.4, 0.3], 0.2),
    );
    for k in 0..7 {
        let a = -2.6 + k as f32 * 0.35;
        let c = (px + 0.08 * a.cos(), py - 0.1 + 0.1 * a.sin());
        p.poly(
            ellipse(c, 0.03, 0.012, 10),
            jitter(rng, [0.2, 0.5, 0.25], 0.2),
        );
    }
}

fn market(p: &mut Painter, rng: &mut impl Rng) {
    let back = jitter(rng, [0.55, 0.5, 0.45], 0.2);
    p.rect(0.0, 0.0, 1.0, 1.0, back);
    let n = rng.random_range(3..8);
    people(p, rng, 0.55, n);
    // Stalls with striped awnings, tables of goods.
    let mut x = rng.random_range(-0.2..0.0);
    while x < 1.0 {
        let w = rng.random_range(0.3..0.5);
        let top = rng.random_range(0.0..0.2);
        let a = any_colour(rng);
        let b = [0.95, 0.94, 0.9];
        let stripe = rng.random_range(0.02..0.05);
        p.shaded(
            vec![
                (x, top),
                (x + w, top),
                (x + w + 0.03, top + 0.12),
                (x - 0.03, top + 0.12),
            ],
            &move |sx, _| {
                if (sx / stripe).rem_euclid(2.0) < 1.0 {
                    a
                } else {
                    b
                }
            },
        );
        p.rect(x, top + 0.12, x + 0.01, 0.9, [0.3; 3]);
        p.rect(x + w - 0.01, top + 0.12, x + w, 0.9, [0.3; 3]);
        let table_y = rng.random_range(0.55..0.75);
        let cloth = {
            let c = any_colour(rng);
            jitter(rng, c, 0.2)
        };
        p.rect(x - 0.02, table_y, x + w + 0.02, table_y + 0.2, cloth);
        // Goods: fruit, boxes, bottles.
        for _ in 0..rng.random_range(8..25) {
            let gx = x + rng.random_range(0.0..w);
            let gy = table_y - rng.random_range(0.0..0.08);
            let col = any_colour(rng);
            match rng.random_range(0..3) {
                0 => {
                    let r = rng.random_range(0.012..0.03);
                    p.blob((gx, gy), r, r, col);
                }
                1 => {
                    let s = rng.random_range(0.02..0.06);
                    p.rect(gx, gy - s, gx + s * 1.3, gy, col);
                }
                _ => {
                    let h = rng.random_range(0.04..0.09);
                    p.rect(gx, gy - h, gx + 0.015, gy, col);
                }
            }
        }
        x += w + rng.random_range(0.0..0.08);
    }
    let floor = jitter(rng, [0.5, 0.48, 0.45], 0.1);
    p.rect(0.0, 0.9, 1.0, 1.0, floor);
    for _ in 0..rng.random_range(5..15) {
        let y = rng.random_range(0.0..1.0);
        let x = rng.random_range(0.0..1.0);
        p.line(
            vec![
                (x, y),
                (
                    x + rng.random_range(-0.2..0.2),
                    y + rng.random_range(-0.05..0.05),
                ),
            ],
            0.006,
            any_colour(rng),
            0.6,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::demo::garments::{Colour, Subtype};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn the_same_stream_gives_the_same_street_photo() {
        let spec = GarmentSpec::plain(Subtype::Handbag, Colour::Red);
        let a = render_street(&spec, &mut ChaCha8Rng::seed_from_u64(5), 96).unwrap();
        let b = render_street(&spec, &mut ChaCha8Rng::seed_from_u64(5), 96).unwrap();
        assert_eq!(a.image.as_raw(), b.image.as_raw());
        assert_eq!(a.mask.as_raw(), b.mask.as_raw());
        let c = render_street(&spec, &mut ChaCha8Rng::seed_from_u64(6), 96).unwrap();
        assert_ne!(a.image.as_raw(), c.image.as_raw());
    }

    #[test]
    fn street_photos_show_the_item_on_a_busy_background() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for i in 0..8 {
            let spec = GarmentSpec::random(&mut rng);
            let r = render_street(&spec, &mut rng, 96).unwrap();
            let covered = r.mask.pixels().filter(|p| p.0[0] > 127).count();
            assert!(
                covered > 96 * 96 / 40,
                "street {i}: item covers {covered} pixels"
            );
            // The background is not plain: its pixels vary.
            let bg: Vec<f32> = r
                .image
                .pixels()
                .zip(r.mask.pixels())
                .filter(|(_, m)| m.0[0] == 0)
                .map(|(p, _)| p.0.iter().map(|&c| c as f32).sum::<f32>() / 3.0)
                .collect();
            let mean = bg.iter().sum::<f32>() / bg.len() as f32;
            let var = bg.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / bg.len() as f32;
            assert!(
                var.sqrt() > 10.0,
                "street {i}: background std {}",
                var.sqrt()
            );
        }
    }

    #[test]
    fn every_street_photo_decodes_and_crops_vary() {
        let photos = street_photos().unwrap();
        assert_eq!(photos.len(), STREET_PHOTOS.len());
        for (photo, bundled) in photos.iter().zip(&STREET_PHOTOS) {
            let (w, h) = photo.dimensions();
            assert!(
                w.max(h) <= 640 && w.min(h) >= 200,
                "{}: {w}×{h}",
                bundled.name
            );
        }
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let a = photo_scene(photos, &mut rng, 48);
        let b = photo_scene(photos, &mut rng, 48);
        assert_eq!(a.dimensions(), (48, 48));
        assert_ne!(a, b);
    }

    #[test]
    fn scenes_render_at_the_asked_size() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for _ in 0..8 {
            let img = render_scene(&mut rng, 64);
            assert_eq!(img.dimensions(), (64, 64));
        }
    }
}

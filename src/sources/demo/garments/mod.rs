//! The demo garments: their vocabulary, their random specs, and how each is drawn.
//!
//! A [`GarmentSpec`] is everything a label says about an item (subtype, colour, texture,
//! details, sleeve, length, fit) plus a `variant` number that nudges proportions. The
//! drawing functions turn a spec into a vector sketch in the garment's own coordinates
//! (roughly -1..1, y down), and [`draw_item`] places that sketch on a canvas with a
//! [`Pose`]. Every drawn feature follows the labels, so a `long-sleeve` shirt has long
//! sleeves and a bag labelled `buckle` shows one: the demo catalogue's labels are ground
//! truth for the recommendation and evaluation code that reads them.
//!
//! Shop photos ([`render_shop`]) show the item upright and centred on a plain light
//! background; the street scenes in `scenes` re-draw it with another pose.
//!
//! The files follow what they hold: `labels` and `spec` the vocabulary and the specs;
//! `materials` how a piece is painted, `sketch` the drawing commands and `build`'s choice
//! of drawing, `parts` the small parts many garments share; then one file per kind of
//! garment (`tops`, `dresses`, `legwear`, `skirts`, `footwear`, `bags`, `hats`, `scarves`,
//! `eyewear`). This file places a sketch on a canvas.

mod bags;
mod dresses;
mod eyewear;
mod footwear;
mod hats;
mod labels;
mod legwear;
mod materials;
mod parts;
mod scarves;
mod sketch;
mod skirts;
mod spec;
mod tops;

pub use labels::{Category, Colour, Detail, Fit, Length, Sleeve, Subtype, Texture};
pub use spec::{GarmentSpec, vocabulary};

use super::draw::{Affine, Canvas, Paint, Rgb, Style};
use materials::{Ink, Material};
use rand::Rng;
use sketch::{Cmd, Geom, Sketch, build};

/// How an item sits in the frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pose {
    /// Size relative to a shop photo (1 = the item's longer side fills 76 % of the frame).
    pub scale: f32,
    /// Rotation of the whole item, radians (clockwise on screen).
    pub rotation_rad: f32,
    /// Offset of the item's centre from the frame centre, as fractions of the frame side.
    pub offset: (f32, f32),
    /// How far sleeves, legs, skirts, straps and handles swing, radians (about ±0.35).
    pub limb_swing: f32,
    /// Horizontal shear (a cheap stand-in for perspective).
    pub shear: f32,
    /// Whether the item is mirrored left-right.
    pub mirror: bool,
}

impl Pose {
    /// A shop photo: upright, centred, filling about 76 % of the frame.
    pub fn shop() -> Pose {
        Pose {
            scale: 1.0,
            rotation_rad: 0.0,
            offset: (0.0, 0.0),
            limb_swing: 0.0,
            shear: 0.0,
            mirror: false,
        }
    }

    /// A street photo: another size, a rotation within ±25°, off-centre, limbs swung,
    /// a little shear, maybe mirrored.
    pub fn street(rng: &mut impl Rng) -> Pose {
        let scale: f32 = rng.random_range(0.5..1.08);
        let room = ((0.95 - scale * 0.76) * 0.5).max(0.0);
        Pose {
            scale,
            rotation_rad: rng.random_range(-25.0f32..25.0).to_radians(),
            offset: (
                rng.random_range(-room..=room),
                rng.random_range(-room..=room),
            ),
            limb_swing: rng.random_range(-0.35..0.35),
            shear: rng.random_range(-0.15..0.15),
            mirror: rng.random_bool(0.5),
        }
    }
}

/// A rendered item photo and its item mask.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub image: image::RgbImage,
    /// Item coverage: 0 background (and shadow), 255 item.
    pub mask: image::GrayImage,
}

/// The shop background colour.
pub const SHOP_BACKGROUND: Rgb = [0.957, 0.953, 0.945];

/// A shop photo of `spec`: the item upright and centred on a plain near-white
/// background with a soft shadow (not in the mask).
pub fn render_shop(spec: &GarmentSpec, size_px: u32) -> Rendered {
    let size = size_px.max(8);
    let mut canvas = Canvas::new(size, size, SHOP_BACKGROUND);
    let pose = Pose::shop();
    let sketch = build(spec, pose.limb_swing);
    let xf = placement(&sketch, &pose, size, size);
    // The soft shadow: the silhouette, blurred and offset down-right.
    let mut silhouette = Canvas::new(size, size, SHOP_BACKGROUND);
    for cmd in sketch.cmds.iter().filter(|c| c.mask) {
        draw_cmd(
            &mut silhouette,
            cmd,
            &cmd.part.then(xf),
            &Paint::Solid([0.0; 3]),
        );
    }
    let s = size as f32;
    canvas.shadow(&silhouette, (0.012 * s, 0.018 * s), 0.02 * s, 0.22);
    paint_sketch(&mut canvas, spec, &sketch, &xf);
    Rendered {
        image: canvas.to_rgb_image(),
        mask: canvas.mask_image(),
    }
}

/// Draws `spec` with `pose` onto `canvas` (its coverage joins the canvas's item mask).
pub fn draw_item(canvas: &mut Canvas, spec: &GarmentSpec, pose: &Pose) {
    let sketch = build(spec, pose.limb_swing);
    let xf = placement(&sketch, pose, canvas.width(), canvas.height());
    paint_sketch(canvas, spec, &sketch, &xf);
}

/// Share of the frame side the item's longer side fills at scale 1.
const FILL: f32 = 0.76;

/// Maps sketch coordinates to pixels: normalise the sketch's bounds, then apply the pose.
fn placement(sketch: &Sketch, pose: &Pose, w: u32, h: u32) -> Affine {
    let (lo, hi) = sketch.bounds();
    let centre = (0.5 * (lo.0 + hi.0), 0.5 * (lo.1 + hi.1));
    let half = (0.5 * (hi.0 - lo.0)).max(0.5 * (hi.1 - lo.1)).max(1e-3);
    let side = w.min(h) as f32;
    let mut xf =
        Affine::translate(-centre.0, -centre.1).then(Affine::scale(1.0 / half, 1.0 / half));
    if pose.mirror {
        xf = xf.then(Affine::scale(-1.0, 1.0));
    }
    let k = 0.5 * FILL * side * pose.scale;
    xf.then(Affine::shear_x(pose.shear))
        .then(Affine::rotate(pose.rotation_rad))
        .then(Affine::scale(k, k))
        .then(Affine::translate(
            0.5 * w as f32 + pose.offset.0 * side,
            0.5 * h as f32 + pose.offset.1 * side,
        ))
}

fn draw_cmd(canvas: &mut Canvas, cmd: &Cmd, xf: &Affine, paint: &Paint) {
    let style = Style {
        alpha: cmd.alpha,
        mask: cmd.mask,
    };
    match &cmd.geom {
        Geom::Fill(contours) => canvas.fill(contours, xf, paint, style),
        Geom::Stroke {
            line,
            closed,
            width,
        } => canvas.stroke(line, *closed, *width, xf, paint, style),
    }
}

fn paint_sketch(canvas: &mut Canvas, spec: &GarmentSpec, sketch: &Sketch, xf: &Affine) {
    let mat = Material::new(spec);
    for cmd in &sketch.cmds {
        let cxf = cmd.part.then(*xf);
        match cmd.ink {
            Ink::Flat(c) => draw_cmd(canvas, cmd, &cxf, &Paint::Solid(c)),
            Ink::Outline => draw_cmd(canvas, cmd, &cxf, &Paint::Solid(mat.outline)),
            ink => {
                let shader = |x: f32, y: f32| mat.ink(ink, x, y);
                draw_cmd(canvas, cmd, &cxf, &Paint::Shader(&shader));
            }
        }
    }
}

#[cfg(test)]
mod tests;

//! Small parts shared by many garments: buttons, zips, buckles, bows, logos, patch pockets
//! and sleeves.

use super::labels::{Detail, Texture};
use super::materials::Ink;
use super::sketch::{Garment, Geom, Sketch, add, lerp, mirror, mul};
use crate::sources::demo::draw::{Affine, Pt, cubic, ellipse, luma, mix, quad, rounded_rect};
use std::f32::consts::PI;

impl Garment<'_> {
    pub(super) fn has(&self, d: Detail) -> bool {
        self.spec.has(d)
    }

    pub(super) fn button(&self, s: &mut Sketch, c: Pt, r: f32) {
        let colour = if self.spec.texture == Texture::Denim {
            Ink::Metal
        } else if luma(self.spec.colour.rgb()) > 0.5 {
            Ink::Plain(mix(self.spec.colour.rgb(), [0.15; 3], 0.55))
        } else {
            Ink::Plain(mix(self.spec.colour.rgb(), [1.0; 3], 0.45))
        };
        s.shape(ellipse(c, r, r, 14), colour);
        for dx in [-0.3, 0.3] {
            s.fill(
                ellipse((c.0 + dx * r, c.1), 0.18 * r, 0.18 * r, 6),
                Ink::Outline,
            );
        }
    }

    pub(super) fn zip(&self, s: &mut Sketch, pts: Vec<Pt>) {
        let top = pts.first().copied().unwrap_or((0.0, 0.0));
        s.line(pts.clone(), 0.034, Ink::Outline);
        s.line(pts.clone(), 0.024, Ink::Metal);
        s.push(
            Geom::Stroke {
                line: pts,
                closed: false,
                width: 0.006,
            },
            Ink::Flat([0.2; 3]),
            0.8,
            false,
        );
        s.shape(
            rounded_rect(
                top.0 - 0.022,
                top.1 + 0.01,
                top.0 + 0.022,
                top.1 + 0.09,
                0.012,
            ),
            Ink::Metal,
        );
    }

    pub(super) fn buckle(&self, s: &mut Sketch, c: Pt, w: f32, h: f32) {
        let outer = rounded_rect(c.0 - w, c.1 - h, c.0 + w, c.1 + h, 0.25 * h);
        let inner = rounded_rect(
            c.0 - 0.55 * w,
            c.1 - 0.55 * h,
            c.0 + 0.55 * w,
            c.1 + 0.55 * h,
            0.12 * h,
        );
        s.shape_holes(vec![outer, inner], Ink::Metal);
        s.line(
            vec![(c.0 - 0.75 * w, c.1), (c.0 + 0.2 * w, c.1)],
            0.25 * h,
            Ink::Metal,
        );
    }

    pub(super) fn bow(&self, s: &mut Sketch, c: Pt, r: f32, ink: Ink) {
        for side in [-1.0f32, 1.0] {
            let tail = vec![
                (c.0 + side * 0.1 * r, c.1),
                (c.0 + side * 0.55 * r, c.1 + 1.1 * r),
                (c.0 + side * 0.25 * r, c.1 + 1.0 * r),
            ];
            s.shape(tail, ink);
        }
        for side in [-1.0f32, 1.0] {
            let mut lobe = vec![c];
            lobe.extend(quad(
                (c.0 + side * r, c.1 - 0.65 * r),
                (c.0 + side * 1.25 * r, c.1),
                (c.0 + side * r, c.1 + 0.65 * r),
                6,
            ));
            s.shape(lobe, ink);
            s.seam(vec![
                (c.0 + side * 0.2 * r, c.1),
                (c.0 + side * 0.7 * r, c.1 - 0.2 * r),
            ]);
        }
        s.shape(ellipse(c, 0.25 * r, 0.32 * r, 10), ink);
    }

    pub(super) fn logo(&self, s: &mut Sketch, c: Pt, r: f32) {
        let ink = Ink::Plain(self.accent);
        match self.v.pick(20, 4) {
            0 => {
                s.fill(ellipse(c, r, r, 20), ink);
                let tri = vec![
                    (c.0, c.1 - 0.6 * r),
                    (c.0 + 0.55 * r, c.1 + 0.4 * r),
                    (c.0 - 0.55 * r, c.1 + 0.4 * r),
                ];
                s.fill(tri, Ink::Main(1.0));
            }
            1 => {
                let star: Vec<Pt> = (0..10)
                    .map(|i| {
                        let a = -PI / 2.0 + i as f32 * PI / 5.0;
                        let rr = if i % 2 == 0 { r } else { 0.45 * r };
                        (c.0 + rr * a.cos(), c.1 + rr * a.sin())
                    })
                    .collect();
                s.fill(star, ink);
            }
            2 => {
                s.fill(
                    rounded_rect(
                        c.0 - 1.3 * r,
                        c.1 - 0.5 * r,
                        c.0 + 1.3 * r,
                        c.1 + 0.5 * r,
                        0.2 * r,
                    ),
                    ink,
                );
                s.fill(
                    rounded_rect(c.0 - r, c.1 - 0.15 * r, c.0 + r, c.1 + 0.15 * r, 0.1 * r),
                    Ink::Main(1.0),
                );
            }
            _ => {
                let mut swoosh = cubic(
                    (c.0 - 1.2 * r, c.1 + 0.1 * r),
                    (c.0 - 0.8 * r, c.1 + 0.9 * r),
                    (c.0 + 0.2 * r, c.1 + 0.6 * r),
                    (c.0 + 1.4 * r, c.1 - 0.6 * r),
                    10,
                );
                swoosh.extend(
                    cubic(
                        (c.0 + 1.4 * r, c.1 - 0.6 * r),
                        (c.0 + 0.1 * r, c.1 + 0.2 * r),
                        (c.0 - 0.7 * r, c.1 + 0.4 * r),
                        (c.0 - 1.2 * r, c.1 + 0.1 * r),
                        10,
                    )
                    .into_iter()
                    .skip(1),
                );
                s.fill(swoosh, ink);
            }
        }
    }

    /// A patch pocket: rectangle with a pointed or straight bottom, stitched.
    pub(super) fn patch_pocket(
        &self,
        s: &mut Sketch,
        x0: f32,
        y0: f32,
        x1: f32,
        y1: f32,
        pointed: bool,
    ) {
        let mx = 0.5 * (x0 + x1);
        let pts = if pointed {
            vec![
                (x0, y0),
                (x1, y0),
                (x1, y1 - 0.04),
                (mx, y1),
                (x0, y1 - 0.04),
            ]
        } else {
            rounded_rect(x0, y0, x1, y1, 0.015)
        };
        s.shape(pts, Ink::Main(0.97));
        s.stitch(
            &[(x0 + 0.02, y0 + 0.035), (x1 - 0.02, y0 + 0.035)],
            self.stitch,
        );
    }

    /// A sleeve hanging from shoulder `sh` and armpit `ap` (right-side coordinates, mirrored
    /// for `side` < 0), `angle` below horizontal, `len` long, `cuff` half-width at the end
    /// (see [`SleeveShape`]).
    pub(super) fn sleeve(&self, s: &mut Sketch, side: f32, shape: SleeveShape) {
        let SleeveShape {
            shoulder: sh,
            armpit: ap,
            angle,
            len,
            cuff,
            band,
        } = shape;
        let d = (angle.cos(), angle.sin());
        let n = (angle.sin(), -angle.cos());
        let m = lerp(sh, ap, 0.5);
        let c = add(m, mul(d, len));
        let outer = add(c, mul(n, cuff));
        let inner = add(c, mul(n, -cuff));
        let elbow_o = add(lerp(sh, outer, 0.5), mul(n, 0.015));
        let poly = vec![sh, elbow_o, outer, inner, ap];
        let flip = |pts: Vec<Pt>| if side < 0.0 { mirror(&pts) } else { pts };
        let pivot = if side < 0.0 { (-sh.0, sh.1) } else { sh };
        let swing = if side < 0.0 {
            -0.6 * self.swing
        } else {
            self.swing
        };
        s.with(Affine::rotate_about(pivot, swing), |s| {
            s.shape(flip(poly), Ink::Main(0.95));
            s.fold(
                flip(vec![lerp(ap, inner, 0.15), lerp(ap, inner, 0.8)]),
                true,
            );
            if let Some(ink) = band {
                let back = mul(d, -0.09);
                s.shape(
                    flip(vec![add(outer, back), outer, inner, add(inner, back)]),
                    ink,
                );
            } else {
                let back = mul(d, -0.045);
                s.stitch(&flip(vec![add(outer, back), add(inner, back)]), self.stitch);
            }
        });
    }
}

/// The shape of a sleeve ([`Garment::sleeve`]), in right-side coordinates.
#[derive(Debug, Clone, Copy)]
pub(super) struct SleeveShape {
    /// The shoulder point (`sh`), where the sleeve's outer edge starts and it swings about.
    pub shoulder: Pt,
    /// The armpit point (`ap`), where its inner edge starts.
    pub armpit: Pt,
    /// Radians below horizontal.
    pub angle: f32,
    /// How long it is, from the middle of shoulder and armpit to the cuff's centre.
    pub len: f32,
    /// Half the cuff's width.
    pub cuff: f32,
    /// A cuff band in this ink, or `None` for a stitched hem.
    pub band: Option<Ink>,
}

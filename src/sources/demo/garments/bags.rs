//! Bags: handbags, totes, backpacks and clutches.

use super::labels::{Detail as D, Subtype as S};
use super::materials::Ink;
use super::sketch::{Garment, Sketch, join, lerp};
use crate::sources::demo::draw::{Affine, Pt, arc, cubic, ellipse, quad, rgb8, rounded_rect};
use std::f32::consts::{PI, TAU};

impl Garment<'_> {
    pub(super) fn bag(&self, s: &mut Sketch) {
        match self.spec.subtype {
            S::Handbag => self.handbag(s),
            S::Tote => self.tote(s),
            S::Backpack => self.backpack(s),
            _ => self.clutch(s),
        }
    }

    fn handle(&self, s: &mut Sketch, a: Pt, b: Pt, height: f32, width: f32, ink: Ink) {
        let mid = lerp(a, b, 0.5);
        let sway = Affine::rotate_about(mid, 0.6 * self.swing);
        let pts = cubic(a, (a.0, a.1 - height), (b.0, b.1 - height), b, 16);
        s.with(sway, |s| s.band(pts, width, ink));
    }

    fn handbag(&self, s: &mut Sketch) {
        let (top, bot) = (-0.15, 0.72);
        let (wt, wb) = (0.55 + self.v.range(10, -0.05, 0.05), 0.74);
        self.handle(
            s,
            (-0.32, top + 0.02),
            (0.32, top + 0.02),
            0.95,
            0.06,
            Ink::Main(0.8),
        );
        self.handle(
            s,
            (-0.38, top + 0.04),
            (0.38, top + 0.04),
            1.05,
            0.065,
            Ink::Main(0.92),
        );
        let body = join(&[
            &[(-wt, top), (wt, top)],
            &[(wb - 0.02, bot - 0.12)],
            &quad((wb - 0.02, bot - 0.12), (wb, bot), (wb - 0.14, bot), 4)[1..],
            &[(-wb + 0.14, bot)],
            &quad((-wb + 0.14, bot), (-wb, bot), (-wb + 0.02, bot - 0.12), 4)[1..],
        ]);
        s.shape(body, Ink::Main(1.0));
        s.tint(
            vec![
                (wt - 0.1, top),
                (wt, top),
                (wb - 0.02, bot - 0.1),
                (wb - 0.16, bot),
            ],
            [0.0; 3],
            0.12,
        );
        s.stitch(
            &[(-wt + 0.04, top + 0.05), (wt - 0.04, top + 0.05)],
            self.stitch,
        );
        s.stitch(
            &[(-wb + 0.1, bot - 0.05), (wb - 0.1, bot - 0.05)],
            self.stitch,
        );
        // Handle tabs with rings.
        for x in [-0.38, 0.38] {
            s.shape(
                rounded_rect(x - 0.04, top - 0.02, x + 0.04, top + 0.1, 0.015),
                Ink::Main(0.85),
            );
            s.shape_holes(
                vec![
                    ellipse((x, top - 0.03), 0.04, 0.03, 12),
                    ellipse((x, top - 0.03), 0.025, 0.015, 10),
                ],
                Ink::Metal,
            );
        }
        if self.has(D::Zip) {
            self.zip(s, vec![(-wt + 0.1, top + 0.07), (wt - 0.1, top + 0.07)]);
        }
        if self.has(D::Buckle) {
            let flap = join(&[
                &[
                    (-wt - 0.01, top - 0.01),
                    (wt + 0.01, top - 0.01),
                    (wt + 0.04, 0.18),
                ],
                &quad((wt + 0.04, 0.18), (0.0, 0.36), (-wt - 0.04, 0.18), 10)[1..],
            ]);
            s.shape(flap, Ink::Main(0.95));
            s.shape(rounded_rect(-0.04, 0.1, 0.04, 0.42, 0.02), Ink::Main(0.85));
            self.buckle(s, (0.0, 0.3), 0.09, 0.075);
        } else if self.has(D::Logo) {
            s.shape(rounded_rect(-0.12, 0.12, 0.12, 0.2, 0.02), Ink::Metal);
        }
        if self.has(D::Logo) && self.has(D::Buckle) {
            self.logo(s, (0.0, 0.52), 0.05);
        }
        if self.has(D::Bow) {
            self.bow(s, (0.0, top + 0.14), 0.16, Ink::Main(0.88));
        }
    }

    fn tote(&self, s: &mut Sketch) {
        let (top, bot) = (-0.32, 0.85);
        let (wt, wb) = (0.7, 0.6);
        self.handle(
            s,
            (-0.28, top + 0.1),
            (0.28, top + 0.1),
            1.0,
            0.055,
            Ink::Main(0.78),
        );
        s.shape(
            vec![
                (-wt + 0.02, top - 0.08),
                (wt - 0.02, top - 0.08),
                (wt, top),
                (-wt, top),
            ],
            Ink::Inner,
        );
        let body = join(&[
            &[(-wt, top), (wt, top), (wb, bot - 0.03)],
            &quad((wb, bot - 0.03), (wb, bot), (wb - 0.05, bot), 3)[1..],
            &[(-wb + 0.05, bot)],
            &quad((-wb + 0.05, bot), (-wb, bot), (-wb, bot - 0.03), 3)[1..],
        ]);
        s.shape(body, Ink::Main(1.0));
        s.fold(vec![(-0.3, top + 0.1), (-0.25, bot - 0.1)], true);
        s.fold(vec![(0.35, top + 0.1), (0.3, bot - 0.1)], true);
        s.stitch(
            &[(-wt + 0.03, top + 0.05), (wt - 0.03, top + 0.05)],
            self.stitch,
        );
        if self.has(D::Pockets) {
            self.patch_pocket(s, -0.3, 0.25, 0.3, 0.66, false);
        }
        if self.has(D::Logo) {
            let y = if self.has(D::Pockets) { 0.06 } else { 0.3 };
            self.logo(s, (0.0, y), 0.13);
        }
        if self.has(D::Zip) {
            self.zip(s, vec![(-wt + 0.1, top + 0.015), (wt - 0.1, top + 0.015)]);
        }
        // Front strap stitched on to the body.
        self.handle(
            s,
            (-0.36, top + 0.15),
            (0.36, top + 0.15),
            1.15,
            0.06,
            Ink::Main(0.9),
        );
        for x in [-0.36f32, 0.36] {
            s.shape(
                vec![
                    (x - 0.035, top - 0.01),
                    (x + 0.035, top - 0.01),
                    (x + 0.035, top + 0.2),
                    (x - 0.035, top + 0.2),
                ],
                Ink::Main(0.9),
            );
            s.seam(vec![(x - 0.03, top + 0.05), (x + 0.03, top + 0.17)]);
            s.seam(vec![(x + 0.03, top + 0.05), (x - 0.03, top + 0.17)]);
        }
        if self.has(D::Bow) {
            self.bow(s, (-0.36, top + 0.1), 0.13, Ink::Main(0.85));
        }
    }

    fn backpack(&self, s: &mut Sketch) {
        let (x0, x1, y0, y1) = (-0.52, 0.52, -0.8, 0.85);
        // Shoulder straps curving out behind the body.
        for side in [-1.0f32, 1.0] {
            let strap = cubic(
                (side * 0.3, y0 + 0.15),
                (side * 0.85, -0.4),
                (side * 0.75, 0.4),
                (side * 0.42, y1 - 0.1),
                16,
            );
            s.with(
                Affine::rotate_about((side * 0.3, y0 + 0.15), 0.3 * self.swing),
                |s| {
                    s.band(strap, 0.13, Ink::Main(0.72));
                },
            );
        }
        // Grab handle.
        s.band(
            quad((-0.13, y0 + 0.08), (0.0, y0 - 0.32), (0.13, y0 + 0.08), 10),
            0.05,
            Ink::Main(0.8),
        );
        let body = join(&[
            &arc((0.0, y0 + 0.42), 0.52, 0.42, PI, TAU, 18),
            &[(x1, y1 - 0.12)],
            &quad((x1, y1 - 0.12), (x1, y1), (x1 - 0.12, y1), 4)[1..],
            &[(x0 + 0.12, y1)],
            &quad((x0 + 0.12, y1), (x0, y1), (x0, y1 - 0.12), 4)[1..],
        ]);
        s.shape(body, Ink::Main(1.0));
        s.fold(vec![(-0.42, -0.3), (-0.42, 0.7)], true);
        s.fold(vec![(0.44, -0.3), (0.44, 0.7)], true);
        if self.has(D::Zip) {
            let z = arc((0.0, y0 + 0.45), 0.44, 0.35, PI + 0.05, TAU - 0.05, 18);
            s.line(z.clone(), 0.03, Ink::Outline);
            s.line(z, 0.02, Ink::Metal);
            for x in [-0.15f32, 0.12] {
                let y = y0 + 0.45 - 0.35 * (1.0 - (x / 0.44).powi(2)).sqrt();
                s.shape(
                    rounded_rect(x - 0.018, y, x + 0.018, y + 0.1, 0.01),
                    Ink::Metal,
                );
            }
        }
        if self.has(D::Pockets) {
            let p = rounded_rect(-0.38, 0.15, 0.38, 0.74, 0.1);
            s.shape(p, Ink::Main(0.93));
            if self.has(D::Zip) {
                s.line(vec![(-0.3, 0.23), (0.3, 0.23)], 0.025, Ink::Metal);
                s.shape(rounded_rect(0.2, 0.23, 0.236, 0.33, 0.01), Ink::Metal);
            } else {
                s.stitch(&[(-0.32, 0.22), (0.32, 0.22)], self.stitch);
            }
        } else if !self.has(D::Zip) {
            let flap = join(&[
                &arc((0.0, y0 + 0.42), 0.5, 0.4, PI, TAU, 18),
                &quad((0.5, y0 + 0.5), (0.0, y0 + 0.85), (-0.5, y0 + 0.5), 10),
            ]);
            s.shape(flap, Ink::Main(0.92));
        }
        if self.has(D::Buckle) {
            for x in [-0.2f32, 0.2] {
                s.shape(
                    vec![
                        (x - 0.035, -0.05),
                        (x + 0.035, -0.05),
                        (x + 0.035, 0.42),
                        (x - 0.035, 0.42),
                    ],
                    Ink::Plain(rgb8(50, 42, 38)),
                );
                self.buckle(s, (x, 0.3), 0.05, 0.045);
            }
        }
        if self.has(D::Logo) {
            self.logo(s, (0.0, -0.2), 0.06);
        }
        s.stitch(
            &[(x0 + 0.05, y1 - 0.06), (x1 - 0.05, y1 - 0.06)],
            self.stitch,
        );
    }

    fn clutch(&self, s: &mut Sketch) {
        let (w, h) = (0.9, 0.4 + self.v.range(10, -0.04, 0.06));
        let body = rounded_rect(-w, -h, w, h, 0.06);
        s.shape(body, Ink::Main(1.0));
        s.stitch(&[(-w + 0.05, h - 0.05), (w - 0.05, h - 0.05)], self.stitch);
        let point = (0.0, 0.12);
        if self.has(D::Zip) {
            self.zip(s, vec![(-w + 0.1, -h + 0.07), (w - 0.1, -h + 0.07)]);
        } else {
            let flap = join(&[
                &[(-w - 0.005, -h - 0.005), (w + 0.005, -h - 0.005)],
                &quad((w, -h + 0.05), (0.3, 0.0), (0.06, point.1 - 0.02), 6),
                &quad((-0.06, point.1 - 0.02), (-0.3, 0.0), (-w, -h + 0.05), 6),
            ]);
            s.shape(flap, Ink::Main(0.93));
            s.fold(vec![(-0.7, -h + 0.1), (-0.1, 0.02)], false);
        }
        if self.has(D::Buckle) {
            self.buckle(s, point, 0.08, 0.065);
        } else if self.has(D::Bow) {
            self.bow(s, point, 0.18, Ink::Main(0.88));
        } else if self.has(D::Logo) {
            s.shape(ellipse(point, 0.08, 0.08, 18), Ink::Metal);
            self.logo(s, point, 0.05);
        } else if !self.has(D::Zip) {
            s.shape(ellipse(point, 0.04, 0.04, 12), Ink::Metal);
        }
        if self.has(D::Bow) && self.has(D::Buckle) {
            self.bow(s, (0.5, 0.22), 0.14, Ink::Main(0.85));
        }
        if self.has(D::Logo) && (self.has(D::Buckle) || self.has(D::Bow)) {
            self.logo(s, (-0.6, 0.25), 0.05);
        }
    }
}

//! Trousers and shorts.

use super::labels::{Colour, Detail as D, Fit, Subtype as S, Texture};
use super::materials::Ink;
use super::sketch::{Garment, OUT, Sketch, join, lerp, mirror};
use crate::sources::demo::draw::{Affine, Pt, ellipse, quad, rgb8};

impl Garment<'_> {
    pub(super) fn legwear(&self, s: &mut Sketch) {
        let st = self.spec.subtype;
        let slim = self.spec.fit == Some(Fit::Slim);
        let denim = self.spec.texture == Texture::Denim;
        let yw = -1.0;
        let yb = -0.9;
        let wt = 0.38;
        let hip = 0.44;
        let yc = -0.32;
        let (yh, ho, hi) = match st {
            S::StraightTrousers if slim => (1.0, 0.37, 0.1),
            S::StraightTrousers => (1.0, 0.42, 0.07),
            S::WideLegTrousers => (1.0, 0.62 + self.v.range(4, -0.04, 0.04), 0.035),
            S::SkinnyTrousers => (1.0, 0.3, 0.14),
            S::BermudaShorts => (0.4, 0.46, 0.05),
            _ => (0.02, 0.5, 0.03),
        };
        // Legs, each swinging from its hip.
        for side in [-1.0f32, 1.0] {
            let leg_r = vec![
                (0.0, yc - 0.16),
                (hip, yc - 0.16),
                (hip + 0.005, yc),
                (ho, yh),
                (hi, yh),
                (0.0, yc),
            ];
            let leg: Vec<Pt> = if side < 0.0 {
                mirror(&leg_r)
            } else {
                leg_r.clone()
            };
            let pivot = (side * 0.22, yc - 0.1);
            let rot = if side < 0.0 {
                0.45 * self.swing
            } else {
                -0.3 * self.swing
            };
            s.with(Affine::rotate_about(pivot, rot), |s| {
                s.shape(leg, Ink::Main(1.0));
                let f = |p: Pt| (side * p.0, p.1);
                s.fold(vec![f((0.04, yc + 0.05)), f((hi + 0.02, yh - 0.02))], true);
                let crease_top = f((0.23, yc + 0.02));
                let crease_bot = f((0.5 * (ho + hi), yh - 0.02));
                if denim {
                    s.fold(vec![f((0.2, yc + 0.1)), f((0.25, yc + 0.45))], false);
                    s.fold(vec![f((0.22, yc + 0.15)), f((0.26, yc + 0.5))], false);
                    for k in 0..3 {
                        let y = yc + 0.04 + 0.05 * k as f32;
                        s.fold(vec![f((0.03, y)), f((0.16, y - 0.03))], false);
                    }
                    s.stitch(
                        &[f((hip - 0.02, yc)), f((ho - 0.02, yh - 0.02))],
                        self.stitch,
                    );
                } else if yh > 0.5 {
                    s.seam(vec![crease_top, crease_bot]);
                }
                // Hem or turn-up.
                if st == S::BermudaShorts {
                    let cuff = vec![
                        f((ho + 0.01, yh - 0.1)),
                        f((ho + 0.015, yh)),
                        f((hi - 0.01, yh)),
                        f((hi - 0.005, yh - 0.1)),
                    ];
                    s.shape(cuff, Ink::Main(0.92));
                } else {
                    let t = 0.06 / (yh - yc).max(0.1);
                    let a = lerp((hip, yc), (ho, yh), 1.0 - t);
                    let b = lerp((0.0, yc), (hi, yh), 1.0 - t);
                    s.stitch(&[f(a), f(b)], self.stitch);
                }
            });
        }
        // Seat and hips.
        let mut upper = vec![(-wt, yb), (wt, yb)];
        upper.extend(
            quad((wt, yb), (hip, yb + 0.15), (hip, yc - 0.05), 6)
                .into_iter()
                .skip(1),
        );
        upper.push((hip + 0.002, yc));
        upper.push((0.0, yc));
        upper.push((-hip - 0.002, yc));
        upper.extend(quad((-hip, yc - 0.05), (-hip, yb + 0.15), (-wt, yb), 6));
        s.fill(upper.clone(), Ink::Main(1.0));
        for side in [-1.0f32, 1.0] {
            let edge: Vec<Pt> = quad((wt, yb), (hip, yb + 0.15), (hip, yc - 0.05), 6)
                .into_iter()
                .map(|p| (side * p.0, p.1))
                .collect();
            s.line(edge, OUT, Ink::Outline);
        }
        // Waistband and belt loops.
        let band = vec![(-wt - 0.01, yw), (wt + 0.01, yw), (wt, yb), (-wt, yb)];
        s.shape(band, Ink::Main(0.93));
        s.stitch(
            &[(-wt + 0.02, yb - 0.02), (wt - 0.02, yb - 0.02)],
            self.stitch,
        );
        // Fly.
        let fly = join(&[
            &[(0.07, yb)],
            &quad((0.07, yc - 0.18), (0.07, yc - 0.06), (0.0, yc - 0.04), 6),
        ]);
        if self.has(D::Zip) {
            self.zip(s, vec![(0.0, yb + 0.01), (0.0, yc - 0.06)]);
        } else {
            s.seam(vec![(0.0, yb), (0.0, yc - 0.04)]);
        }
        s.stitch(&fly, self.stitch);
        // Front pockets.
        if self.has(D::Pockets) {
            for side in [-1.0f32, 1.0] {
                let f = |p: Pt| (side * p.0, p.1);
                let opening: Vec<Pt> =
                    quad((0.22, yb), (0.24, yb + 0.2), (hip - 0.005, yb + 0.24), 8)
                        .into_iter()
                        .map(f)
                        .collect();
                let mut sliver = opening.clone();
                sliver.push(f((wt, yb)));
                s.fill(sliver, Ink::Inner);
                s.line(opening.clone(), 0.012, Ink::Outline);
                s.stitch(
                    &opening
                        .iter()
                        .map(|p| (p.0 - side * 0.02, p.1 + 0.02))
                        .collect::<Vec<_>>(),
                    self.stitch,
                );
            }
            if denim {
                let coin = vec![
                    (0.24, yb + 0.02),
                    (0.34, yb + 0.02),
                    (0.34, yb + 0.1),
                    (0.24, yb + 0.1),
                ];
                s.stitch(&coin, self.stitch);
                for side in [-1.0f32, 1.0] {
                    s.fill(ellipse((side * 0.3, yb + 0.2), 0.012, 0.012, 8), Ink::Metal);
                }
            }
        }
        // Belt loops (over the belt if there is one).
        let loop_at = |s: &mut Sketch, x: f32| {
            s.shape(
                vec![
                    (x - 0.018, yw - 0.015),
                    (x + 0.018, yw - 0.015),
                    (x + 0.018, yb + 0.03),
                    (x - 0.018, yb + 0.03),
                ],
                Ink::Main(0.9),
            );
        };
        if self.has(D::Buckle) {
            let leather = if self.spec.colour == Colour::Brown {
                rgb8(40, 30, 24)
            } else {
                rgb8(110, 70, 38)
            };
            s.shape(
                vec![
                    (-wt - 0.02, yw + 0.018),
                    (wt + 0.02, yw + 0.018),
                    (wt + 0.02, yb - 0.018),
                    (-wt - 0.02, yb - 0.018),
                ],
                Ink::Plain(leather),
            );
            self.buckle(s, (0.0, 0.5 * (yw + yb)), 0.06, 0.055);
        } else if self.has(D::Buttons) {
            self.button(s, (0.0, 0.5 * (yw + yb)), 0.026);
        }
        for x in [-0.3, -0.12, 0.12, 0.3] {
            loop_at(s, x);
        }
    }
}

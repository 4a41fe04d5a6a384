//! Eyewear (front view): sunglasses and round glasses.

use super::labels::{Colour, Detail as D, Subtype as S};
use super::materials::Ink;
use super::sketch::{Garment, Geom, OUT, Sketch, join};
use crate::sources::demo::draw::{Affine, Pt, cubic, ellipse, quad, rounded_rect};

impl Garment<'_> {
    pub(super) fn eyewear(&self, s: &mut Sketch) {
        let tilt = Affine::rotate(0.2 * self.swing);
        s.with(tilt, |s| {
            if self.spec.subtype == S::Sunglasses {
                self.sunglasses(s)
            } else {
                self.round_glasses(s)
            }
        });
    }

    fn sunglasses(&self, s: &mut Sketch) {
        let cx = 0.47;
        let lens_r = |side: f32| -> Vec<Pt> {
            let f = |p: Pt| (side * p.0, p.1);
            join(&[
                &[f((0.11, -0.2))],
                &quad(f((0.11, -0.2)), f((0.47, -0.26)), f((0.84, -0.22)), 6)[1..],
                &cubic(
                    f((0.84, -0.22)),
                    f((0.86, 0.0)),
                    f((0.8, 0.2)),
                    f((0.55, 0.22)),
                    8,
                )[1..],
                &cubic(
                    f((0.55, 0.22)),
                    f((0.3, 0.24)),
                    f((0.14, 0.15)),
                    f((0.11, -0.2)),
                    8,
                )[1..],
            ])
        };
        // Temples seen going back at the sides.
        for side in [-1.0f32, 1.0] {
            s.band(
                vec![
                    (side * 0.86, -0.17),
                    (side * 1.0, -0.12),
                    (side * 1.02, 0.02),
                ],
                0.05,
                Ink::Main(0.8),
            );
        }
        for side in [-1.0f32, 1.0] {
            let lens = lens_r(side);
            s.line(lens.clone(), 0.11, Ink::Outline);
            s.line(lens.clone(), 0.08, Ink::Main(1.0));
            s.fill(lens.clone(), Ink::Lens);
            s.push(
                Geom::Stroke {
                    line: lens,
                    closed: true,
                    width: 0.012,
                },
                Ink::Flat([0.05; 3]),
                0.8,
                false,
            );
        }
        // Brow bar and bridge.
        s.band(
            quad((-0.12, -0.17), (0.0, -0.25), (0.12, -0.17), 6),
            0.06,
            Ink::Main(1.0),
        );
        s.line(
            vec![(-0.82, -0.23), (-cx, -0.27), (-0.12, -0.21)],
            0.05,
            Ink::Main(1.05),
        );
        s.line(
            vec![(0.12, -0.21), (cx, -0.27), (0.82, -0.23)],
            0.05,
            Ink::Main(1.05),
        );
        for side in [-1.0f32, 1.0] {
            s.fill(ellipse((side * 0.78, -0.2), 0.022, 0.022, 8), Ink::Metal);
        }
        if self.has(D::Logo) {
            for side in [-1.0f32, 1.0] {
                let x = side * 0.7;
                s.shape(
                    rounded_rect(x - 0.06, -0.27, x + 0.06, -0.22, 0.012),
                    Ink::Metal,
                );
            }
        }
    }

    fn round_glasses(&self, s: &mut Sketch) {
        let r = 0.34;
        let cx = 0.46;
        let metal_frame = matches!(
            self.spec.colour,
            Colour::Yellow | Colour::Grey | Colour::White
        );
        let frame = if metal_frame {
            Ink::Metal
        } else {
            Ink::Main(1.0)
        };
        let width = if metal_frame { 0.03 } else { 0.05 };
        for side in [-1.0f32, 1.0] {
            s.band(
                vec![
                    (side * (cx + r), -0.05),
                    (side * 1.0, -0.04),
                    (side * 1.03, 0.05),
                ],
                0.025,
                frame,
            );
        }
        for side in [-1.0f32, 1.0] {
            let c = (side * cx, 0.0);
            let rim = ellipse(c, r, r, 40);
            s.push(Geom::Fill(vec![rim.clone()]), Ink::Glass, 0.35, true);
            s.push(
                Geom::Stroke {
                    line: rim.clone(),
                    closed: true,
                    width: width + 2.0 * OUT,
                },
                Ink::Outline,
                1.0,
                true,
            );
            s.push(
                Geom::Stroke {
                    line: rim,
                    closed: true,
                    width,
                },
                frame,
                1.0,
                true,
            );
            // Nose pads.
            s.shape(ellipse((side * 0.17, 0.12), 0.025, 0.045, 10), Ink::Glass);
        }
        s.band(
            quad(
                (-(cx - r) - 0.01, -0.08),
                (0.0, -0.24),
                (cx - r + 0.01, -0.08),
                8,
            ),
            width * 0.8,
            frame,
        );
        if self.has(D::Logo) {
            for side in [-1.0f32, 1.0] {
                s.shape(
                    rounded_rect(
                        side * (cx + r) - 0.03,
                        -0.09,
                        side * (cx + r) + 0.03,
                        -0.01,
                        0.01,
                    ),
                    Ink::Metal,
                );
            }
        }
    }
}

//! Shoes and boots (side view, toe to the right, ground at y = 0.35): sneakers, high heels,
//! loafers, sandals, ankle and knee boots.

use super::labels::{Colour, Detail as D, Subtype as S, Texture};
use super::materials::Ink;
use super::sketch::{Garment, Sketch, along_line, join, lerp};
use crate::sources::demo::draw::{
    Affine, Pt, Rgb, arc, cubic, ellipse, luma, mix, quad, rgb8, rounded_rect, scale,
};
use std::f32::consts::{PI, TAU};

const GROUND: f32 = 0.35;

impl Garment<'_> {
    pub(super) fn footwear(&self, s: &mut Sketch) {
        // A walking tilt: the shoe pivots about its toe.
        let tilt = Affine::rotate_about((0.9, GROUND), -0.25 * self.swing.abs());
        s.with(tilt, |s| match self.spec.subtype {
            S::Sneaker => self.sneaker(s),
            S::HighHeel => self.high_heel(s),
            S::Loafer => self.loafer(s),
            S::Sandal => self.sandal(s),
            S::KneeBoot => self.boot(s, true),
            _ => self.boot(s, false),
        });
    }

    fn sole_colour(&self) -> Rgb {
        if self.spec.colour == Colour::White || self.v.f(40) < 0.25 {
            rgb8(70, 66, 62)
        } else {
            rgb8(246, 244, 238)
        }
    }

    fn sneaker(&self, s: &mut Sketch) {
        let sole = self.sole_colour();
        let canvas = self.spec.texture != Texture::Leather;
        // Upper.
        let upper = join(&[
            &[(-0.97, 0.14)],
            &cubic(
                (-0.97, 0.14),
                (-1.02, -0.1),
                (-1.0, -0.32),
                (-0.93, -0.46),
                8,
            ),
            &quad((-0.93, -0.46), (-0.75, -0.35), (-0.52, -0.33), 6)[1..],
            &[(-0.45, -0.58), (-0.33, -0.56), (-0.27, -0.4)],
            &quad((-0.27, -0.4), (0.1, -0.2), (0.4, -0.1), 6)[1..],
            &cubic((0.4, -0.1), (0.75, -0.06), (1.0, -0.02), (1.0, 0.14), 10)[1..],
        ]);
        s.shape(upper, Ink::Main(1.0));
        // Ankle opening.
        s.fill(
            join(&[
                &quad((-0.92, -0.44), (-0.75, -0.34), (-0.52, -0.33), 6),
                &quad((-0.52, -0.33), (-0.7, -0.29), (-0.92, -0.38), 6)[1..],
            ]),
            Ink::Inner,
        );
        // Toe cap and heel counter.
        let cap_ink = if canvas {
            Ink::Plain(sole)
        } else {
            Ink::Main(0.94)
        };
        s.shape(
            join(&[
                &[(0.52, 0.14)],
                &cubic((0.52, 0.14), (0.55, -0.02), (0.75, -0.05), (0.9, -0.01), 6),
                &quad((0.9, -0.01), (1.0, 0.02), (1.0, 0.14), 4)[1..],
            ]),
            cap_ink,
        );
        s.shape(
            join(&[
                &[(-0.97, 0.14)],
                &cubic((-0.97, 0.14), (-1.02, -0.1), (-1.0, -0.2), (-0.97, -0.3), 6)[1..],
                &quad((-0.97, -0.3), (-0.75, -0.1), (-0.62, 0.14), 6)[1..],
            ]),
            Ink::Main(0.9),
        );
        // Logo stripe on the side.
        if self.has(D::Logo) {
            self.logo_stripe(s);
        }
        // Throat: laces or an elastic gusset.
        let throat = [
            (-0.28, -0.42),
            (-0.12, -0.33),
            (0.04, -0.25),
            (0.2, -0.18),
            (0.34, -0.12),
        ];
        if self.has(D::Laces) {
            let lace = Ink::Plain(if self.spec.colour == Colour::White {
                rgb8(40, 40, 44)
            } else {
                rgb8(248, 248, 246)
            });
            for p in throat {
                s.fill(
                    ellipse((p.0 - 0.01, p.1 + 0.05), 0.018, 0.018, 8),
                    Ink::Outline,
                );
            }
            for w in throat.windows(2) {
                s.band(
                    vec![
                        (w[0].0 - 0.01, w[0].1 + 0.05),
                        (w[1].0 + 0.02, w[1].1 - 0.035),
                    ],
                    0.022,
                    lace,
                );
            }
            let top = throat[0];
            s.band(quad(top, (-0.2, -0.62), (-0.1, -0.5), 6), 0.02, lace);
            s.band(quad(top, (-0.42, -0.55), (-0.35, -0.35), 6), 0.02, lace);
        } else {
            s.shape(
                vec![(-0.38, -0.5), (-0.27, -0.4), (-0.4, -0.2)],
                Ink::Rib(0.7),
            );
        }
        // Sole unit.
        let midsole = join(&[
            &[(-1.0, 0.1), (0.9, 0.1)],
            &quad((0.9, 0.1), (1.06, 0.12), (1.0, 0.24), 5)[1..],
            &quad((1.0, 0.24), (0.9, 0.33), (0.6, GROUND), 5)[1..],
            &[(-0.92, GROUND)],
            &quad((-0.92, GROUND), (-1.03, 0.33), (-1.0, 0.1), 5)[1..],
        ]);
        s.shape(midsole, Ink::Plain(sole));
        s.fill(
            vec![
                (-0.92, GROUND - 0.05),
                (0.62, GROUND - 0.05),
                (0.6, GROUND),
                (-0.92, GROUND),
            ],
            Ink::Plain(scale(sole, 0.55)),
        );
        s.seam(vec![(-0.97, 0.22), (0.98, 0.22)]);
        s.stitch(&[(-0.95, 0.07), (0.9, 0.07)], self.stitch);
    }

    fn logo_stripe(&self, s: &mut Sketch) {
        let a = (-0.62, 0.02);
        let mut stripe = cubic(a, (-0.3, 0.08), (0.0, -0.05), (0.3, -0.2), 10);
        stripe.extend(
            cubic((0.3, -0.2), (0.05, -0.02), (-0.3, 0.02), a, 10)
                .into_iter()
                .skip(1),
        );
        s.shape(stripe, Ink::Plain(self.accent));
    }

    fn high_heel(&self, s: &mut Sketch) {
        let h = self.v.range(6, 0.0, 0.12);
        let seat = -0.12 - h;
        let heel_top = (-0.95, seat);
        // Lining seen through the opening.
        let far = join(&[
            &[(0.28, -0.03)],
            &cubic(
                (0.28, -0.03),
                (0.0, -0.16),
                (-0.5, seat - 0.22),
                (-0.88, seat - 0.24),
                10,
            )[1..],
            &cubic(
                (-0.88, seat - 0.24),
                (-0.6, seat - 0.05),
                (0.0, 0.04),
                (0.28, -0.03),
                10,
            )[1..],
        ]);
        s.shape(
            far,
            Ink::Plain(mix(self.spec.colour.rgb(), rgb8(214, 190, 160), 0.7)),
        );
        let upper = join(&[
            &[(1.0, GROUND - 0.04)],
            &quad((1.0, GROUND - 0.04), (0.7, 0.1), (0.28, -0.03), 8)[1..],
            &cubic(
                (0.28, -0.03),
                (0.0, 0.06),
                (-0.6, seat - 0.03),
                (-0.9, seat - 0.24),
                10,
            )[1..],
            &quad((-0.9, seat - 0.24), (-0.99, seat - 0.12), heel_top, 4)[1..],
            &cubic(
                heel_top,
                (-0.6, seat + 0.02),
                (0.0, 0.08),
                (0.3, GROUND - 0.02),
                10,
            )[1..],
            &[(0.9, GROUND - 0.01)],
        ]);
        // The stiletto.
        let heel = vec![
            (-0.94, seat + 0.01),
            (-0.72, seat + 0.03),
            (-0.8, GROUND - 0.03),
            (-0.84, GROUND - 0.03),
        ];
        s.shape(heel, Ink::Main(0.82));
        s.fill(
            rounded_rect(-0.86, GROUND - 0.04, -0.78, GROUND, 0.01),
            Ink::Flat([0.12; 3]),
        );
        s.shape(upper, Ink::Main(1.0));
        s.line(
            cubic(
                heel_top,
                (-0.6, seat + 0.02),
                (0.0, 0.08),
                (0.3, GROUND - 0.02),
                10,
            )
            .into_iter()
            .chain([(0.9, GROUND - 0.01), (1.0, GROUND - 0.04)])
            .collect(),
            0.022,
            Ink::Flat([0.15; 3]),
        );
        s.fold(vec![(-0.3, 0.0), (0.5, 0.12)], false);
        if self.has(D::Buckle) {
            let strap = quad(
                (-0.86, seat - 0.22),
                (-0.45, seat - 0.45),
                (-0.1, -0.05),
                10,
            );
            s.band(strap, 0.035, Ink::Main(0.95));
            self.buckle(s, (-0.55, seat - 0.32), 0.04, 0.035);
        }
        if self.has(D::Bow) {
            self.bow(s, (0.36, -0.02), 0.14, Ink::Main(0.85));
        }
    }

    fn loafer(&self, s: &mut Sketch) {
        let heel_top = (-0.94, -0.24);
        let throat = (-0.08, -0.27);
        // The lining seen through the opening.
        let lining = Ink::Plain(mix(self.spec.colour.rgb(), rgb8(214, 190, 160), 0.7));
        let far = join(&[
            &quad(throat, (-0.5, -0.4), heel_top, 8),
            &quad(heel_top, (-0.5, -0.1), throat, 8)[1..],
        ]);
        s.shape(far, lining);
        let upper = join(&[
            &[(-0.97, 0.26)],
            &quad((-0.97, 0.26), (-1.01, 0.0), heel_top, 5)[1..],
            &quad(heel_top, (-0.5, -0.1), throat, 8)[1..],
            &quad(throat, (0.3, -0.36), (0.72, -0.2), 8)[1..],
            &cubic((0.72, -0.2), (0.98, -0.12), (1.06, 0.12), (0.97, 0.26), 8)[1..],
        ]);
        s.shape(upper, Ink::Main(1.0));
        s.fold(vec![(-0.8, -0.05), (-0.2, 0.0)], true);
        // Moccasin apron seam over the toe.
        let apron = cubic((0.3, -0.3), (0.5, -0.18), (0.8, -0.1), (0.98, 0.02), 10);
        s.seam(apron.clone());
        s.stitch(
            &apron
                .iter()
                .map(|p| (p.0 - 0.01, p.1 - 0.03))
                .collect::<Vec<_>>(),
            self.stitch,
        );
        s.stitch(
            &apron
                .iter()
                .map(|p| (p.0 + 0.01, p.1 + 0.03))
                .collect::<Vec<_>>(),
            self.stitch,
        );
        // Saddle strap with its slot, or a horsebit.
        let strap = vec![(-0.07, -0.28), (0.33, -0.32), (0.31, -0.1), (-0.05, -0.06)];
        s.shape(strap, Ink::Main(0.85));
        if self.has(D::Buckle) {
            s.line(vec![(0.0, -0.18), (0.26, -0.2)], 0.03, Ink::Metal);
            for x in [0.0, 0.26] {
                s.shape_holes(
                    vec![
                        ellipse((x, -0.19), 0.045, 0.045, 14),
                        ellipse((x, -0.19), 0.026, 0.026, 10),
                    ],
                    Ink::Metal,
                );
            }
        } else {
            s.fill(ellipse((0.13, -0.19), 0.09, 0.025, 14), Ink::Inner);
        }
        if self.has(D::Bow) {
            self.bow(s, (0.45, -0.26), 0.12, Ink::Main(0.8));
        }
        // Sole and stacked heel.
        let sole = rgb8(62, 42, 30);
        s.shape(
            vec![(-0.98, 0.25), (0.97, 0.25), (0.95, 0.32), (-0.98, 0.32)],
            Ink::Plain(sole),
        );
        s.shape(
            vec![
                (-0.98, 0.31),
                (-0.6, 0.31),
                (-0.62, GROUND),
                (-0.97, GROUND),
            ],
            Ink::Plain(scale(sole, 0.75)),
        );
        s.seam(vec![(-0.97, 0.33), (-0.61, 0.33)]);
        s.stitch(&[(-0.94, 0.22), (0.93, 0.22)], self.stitch);
    }

    fn sandal(&self, s: &mut Sketch) {
        let wedge = self.v.f(7) < 0.3;
        let top = if wedge { 0.06 } else { 0.2 };
        // Footbed: the sole seen slightly from above.
        let bed = join(&[
            &[(-0.97, top)],
            &quad((-0.97, top), (0.0, top + 0.04), (0.97, 0.2), 8)[1..],
            &quad((0.97, 0.2), (1.0, 0.26), (0.93, 0.28), 3)[1..],
            &[(-0.95, 0.28)],
        ]);
        s.shape(bed, Ink::Plain(rgb8(196, 160, 118)));
        let sole = if wedge {
            vec![
                (-0.97, 0.1),
                (-0.3, 0.2),
                (0.95, 0.26),
                (0.93, GROUND),
                (-0.95, GROUND),
            ]
        } else {
            vec![(-0.97, 0.26), (0.95, 0.26), (0.93, GROUND), (-0.95, GROUND)]
        };
        s.shape(sole, Ink::Plain(rgb8(92, 66, 48)));
        // Straps: toe, instep, ankle.
        let strap = |s: &mut Sketch, c: Pt, rx: f32, ry: f32, w: f32| {
            let outer = arc(c, rx, ry, PI, TAU, 14);
            let inner = arc(c, rx - w, ry - w, TAU, PI, 14);
            s.shape(join(&[&outer, &inner]), Ink::Main(1.0));
        };
        strap(s, (0.6, 0.22), 0.24, 0.3, 0.08);
        strap(s, (0.05, top + 0.05), 0.3, 0.42, 0.08);
        // Heel strap rising to the ankle strap.
        s.shape(
            vec![
                (-0.92, top + 0.02),
                (-0.78, top + 0.02),
                (-0.72, -0.42),
                (-0.84, -0.44),
            ],
            Ink::Main(0.95),
        );
        let ring = ellipse((-0.5, -0.46), 0.34, 0.085, 28);
        let hole = ellipse((-0.5, -0.46), 0.28, 0.035, 28);
        s.shape_holes(vec![ring, hole], Ink::Main(0.97));
        if self.has(D::Buckle) {
            self.buckle(s, (-0.2, -0.44), 0.045, 0.04);
        }
        if self.has(D::Bow) {
            self.bow(s, (0.6, -0.08), 0.13, Ink::Main(0.85));
        }
    }

    fn boot(&self, s: &mut Sketch, knee: bool) {
        let top = if knee {
            -2.1 - self.v.range(8, 0.0, 0.25)
        } else {
            -1.0
        };
        let heel_h = if knee {
            self.v.range(9, 0.12, 0.22)
        } else {
            self.v.range(9, 0.08, 0.16)
        };
        let sole_y = GROUND - heel_h;
        let back_x = -0.95;
        let front_top = if knee { -0.12 } else { -0.3 };
        // Shaft outline: back edge (with calf for knee boots) and front edge.
        let back: Vec<Pt> = if knee {
            join(&[
                &[(back_x - 0.04, top)],
                &cubic(
                    (back_x - 0.04, top),
                    (-1.05, -1.4),
                    (-0.9, -0.9),
                    (-0.88, -0.55),
                    10,
                )[1..],
                &cubic(
                    (-0.88, -0.55),
                    (-0.86, -0.3),
                    (-1.02, -0.1),
                    (-0.98, sole_y - 0.05),
                    8,
                )[1..],
            ])
        } else {
            join(&[
                &[(back_x + 0.02, top)],
                &cubic(
                    (back_x + 0.02, top),
                    (-0.92, -0.6),
                    (-1.02, -0.2),
                    (-0.98, sole_y - 0.05),
                    10,
                )[1..],
            ])
        };
        let front: Vec<Pt> = if knee {
            join(&[
                &[(0.25, -0.25)],
                &cubic((0.25, -0.25), (0.0, -0.5), (-0.05, -0.9), (0.02, -1.3), 10)[1..],
                &quad((0.02, -1.3), (0.05, -1.8), (front_top, top + 0.05), 8)[1..],
            ])
        } else {
            join(&[
                &[(0.2, -0.22)],
                &quad((0.2, -0.22), (-0.18, -0.4), (front_top, top + 0.02), 8)[1..],
            ])
        };
        let mut upper = vec![];
        upper.extend(back.iter().copied());
        upper.push((-0.9, sole_y));
        upper.push((0.98, sole_y));
        upper.extend(
            cubic((0.98, sole_y), (1.05, 0.0), (0.85, -0.15), (0.6, -0.17), 8)
                .into_iter()
                .skip(1),
        );
        upper.extend(
            quad((0.6, -0.17), (0.4, -0.18), (0.2, -0.22), 4)
                .into_iter()
                .skip(1),
        );
        upper.extend(front.iter().skip(1).copied());
        s.shape(upper, Ink::Main(1.0));
        // Opening at the top.
        let top_back = back.first().copied().unwrap_or((back_x, top));
        let top_front = front.last().copied().unwrap_or((front_top, top));
        let mid = lerp(top_back, top_front, 0.5);
        s.fill(
            ellipse(mid, 0.5 * (top_front.0 - top_back.0) - 0.02, 0.035, 20),
            Ink::Inner,
        );
        // Toe cap seam, heel counter.
        s.seam(cubic(
            (0.55, sole_y),
            (0.55, -0.02),
            (0.62, -0.12),
            (0.7, -0.15),
            6,
        ));
        s.fold(vec![(-0.6, -0.3), (-0.2, -0.1)], true);
        s.fold(vec![(0.05, -0.08), (0.7, -0.05)], false);
        // Shaft details.
        let along = |t: f32| along_line(&front, t);
        if self.has(D::Laces) {
            let n = if knee { 11 } else { 6 };
            let lace = Ink::Plain(if luma(self.spec.colour.rgb()) > 0.5 {
                rgb8(50, 40, 35)
            } else {
                rgb8(236, 228, 210)
            });
            // The tongue shows above the shaft.
            let t0 = along(0.9);
            s.shape(
                vec![
                    (t0.0 - 0.04, t0.1),
                    (top_front.0 + 0.02, top_front.1 - 0.08),
                    (top_front.0 + 0.1, top_front.1 - 0.06),
                    (t0.0 + 0.06, t0.1),
                ],
                Ink::Main(0.9),
            );
            let mut prev: Option<Pt> = None;
            for i in 0..n {
                let p = along(0.06 + 0.9 * i as f32 / (n - 1) as f32);
                let q = (p.0 - 0.09, p.1 + 0.01);
                s.fill(ellipse(q, 0.02, 0.02, 8), Ink::Metal);
                if let Some(pp) = prev {
                    s.band(vec![pp, (p.0 - 0.012, p.1)], 0.022, lace);
                }
                prev = Some(q);
            }
        } else if !self.has(D::Zip) && !knee {
            // Chelsea boot: elastic side gusset.
            let g = vec![(-0.62, top + 0.01), (-0.32, top + 0.01), (-0.47, -0.45)];
            s.shape(g, Ink::Rib(0.55));
        }
        if self.has(D::Zip) {
            self.zip(s, vec![(-0.55, top + 0.04), (-0.53, -0.3)]);
        }
        if self.has(D::Buckle) {
            let ys: &[f32] = if knee { &[-0.55, -1.5] } else { &[-0.5] };
            for &y in ys {
                let xb = if knee { -0.9 } else { -0.95 };
                let xf = if knee { 0.0 } else { -0.15 };
                s.shape(
                    vec![
                        (xb, y - 0.05),
                        (xf, y - 0.08),
                        (xf + 0.01, y + 0.0),
                        (xb, y + 0.03),
                    ],
                    Ink::Main(0.85),
                );
                self.buckle(s, (xf - 0.12, y - 0.025), 0.05, 0.05);
            }
        }
        // Pull tab.
        s.band(
            vec![
                (top_back.0 + 0.06, top_back.1 + 0.1),
                (top_back.0 + 0.04, top_back.1 - 0.08),
                (top_back.0 + 0.12, top_back.1 - 0.08),
                (top_back.0 + 0.13, top_back.1 + 0.05),
            ],
            0.025,
            Ink::Main(0.85),
        );
        // Sole and heel.
        s.shape(
            vec![
                (-0.96, sole_y - 0.02),
                (0.98, sole_y - 0.02),
                (0.98, sole_y + 0.06),
                (-0.96, sole_y + 0.06),
            ],
            Ink::Plain(rgb8(40, 34, 30)),
        );
        let heel_front = if knee && heel_h > 0.17 { -0.74 } else { -0.6 };
        s.shape(
            vec![
                (-0.96, sole_y),
                (heel_front, sole_y),
                (heel_front + 0.04, GROUND),
                (-0.92, GROUND),
            ],
            Ink::Plain(rgb8(48, 38, 32)),
        );
        if heel_h > 0.1 {
            // The forefoot rests on the ground ahead of the heel.
            s.shape(
                vec![
                    (0.1, sole_y + 0.04),
                    (0.98, sole_y + 0.04),
                    (0.96, GROUND),
                    (0.2, GROUND),
                ],
                Ink::Plain(rgb8(40, 34, 30)),
            );
        }
        s.stitch(
            &[(-0.93, sole_y - 0.05), (0.95, sole_y - 0.05)],
            self.stitch,
        );
    }
}

//! Skirts: mini, pleated and pencil skirts.

use super::labels::{Colour, Detail as D, Length, Subtype as S};
use super::materials::Ink;
use super::sketch::{Garment, Sketch, symmetric};
use crate::sources::demo::draw::{Affine, Pt, quad, rgb8};

impl Garment<'_> {
    pub(super) fn skirt(&self, s: &mut Sketch) {
        let st = self.spec.subtype;
        let yw = -1.0;
        let yb = -0.91;
        let wt = 0.33;
        let yh: f32 = match (st, self.spec.length) {
            (S::PencilSkirt, Some(Length::Mini)) => 0.0,
            (S::PencilSkirt, _) => 0.42,
            (_, Some(Length::Midi)) => 0.45,
            (_, Some(Length::Maxi)) => 0.95,
            _ => -0.12,
        };
        let k = yh - yb;
        let hw = match st {
            S::PencilSkirt => 0.32,
            S::PleatedSkirt => 0.5 + 0.2 * k.min(1.5) + self.v.range(5, -0.04, 0.04),
            _ => 0.6 + self.v.range(5, -0.05, 0.05),
        };
        let sway = Affine::translate(0.0, -yb)
            .then(Affine::shear_x(0.45 * self.swing))
            .then(Affine::translate(0.0, yb));
        s.with(sway, |s| {
            if st == S::PleatedSkirt {
                let n = 14;
                let hem = |t: f32| {
                    let x = -hw + 2.0 * hw * t;
                    (x, yh + 0.05 * (1.0 - (x / hw).powi(2)))
                };
                // Zig-zag hem: every other pleat edge hangs a little lower.
                let drop = |i: usize| if i % 2 == 1 { 0.025 } else { 0.0 };
                let mut poly = vec![(-wt, yb), (wt, yb)];
                for i in (0..=n).rev() {
                    let b = hem(i as f32 / n as f32);
                    poly.push((b.0, b.1 + drop(i)));
                }
                // One base fill keeps the silhouette (and mask) whole under the pleats.
                s.fill(poly.clone(), Ink::Main(1.0));
                for i in 0..n {
                    let (t0, t1) = (i as f32 / n as f32, (i + 1) as f32 / n as f32);
                    let top0 = (-wt + 2.0 * wt * t0, yb);
                    let top1 = (-wt + 2.0 * wt * t1, yb);
                    let (b0, b1) = (hem(t0), hem(t1));
                    let panel = vec![
                        top0,
                        top1,
                        (b1.0, b1.1 + drop(i + 1)),
                        (b0.0, b0.1 + drop(i)),
                    ];
                    let shade = if i % 2 == 0 { 1.0 } else { 0.84 };
                    s.fill(panel, Ink::Main(shade));
                    s.seam(vec![top0, b0]);
                }
                s.outline(poly);
            } else {
                let mut right = vec![(0.0, yb), (wt, yb)];
                if st == S::PencilSkirt {
                    right.extend(
                        quad((wt, yb), (0.39, yb + 0.2), (0.38, yb + 0.42), 6)
                            .into_iter()
                            .skip(1),
                    );
                    right.extend(
                        quad((0.38, yb + 0.42), (0.36, yh - 0.2), (hw, yh), 6)
                            .into_iter()
                            .skip(1),
                    );
                    right.push((0.0, yh));
                } else {
                    right.extend(
                        quad((wt, yb), (wt + 0.1, yb + 0.4 * k), (hw, yh), 8)
                            .into_iter()
                            .skip(1),
                    );
                    right.extend(
                        quad((hw, yh), (0.5 * hw, yh + 0.07), (0.0, yh + 0.07), 6)
                            .into_iter()
                            .skip(1),
                    );
                }
                s.shape(symmetric(&right[..right.len() - 1]), Ink::Main(1.0));
                if st == S::PencilSkirt {
                    s.shape(
                        vec![(-0.03, yh + 0.001), (0.0, yh - 0.2), (0.03, yh + 0.001)],
                        Ink::Inner,
                    );
                    for sx in [-1.0f32, 1.0] {
                        s.seam(vec![(sx * 0.16, yb + 0.02), (sx * 0.15, yb + 0.25)]);
                        s.fold(vec![(sx * 0.3, yb + 0.5), (sx * 0.28, yh - 0.05)], true);
                    }
                } else {
                    for i in 0..4 {
                        let t = (i as f32 + 0.5) / 4.0 * 2.0 - 1.0;
                        s.fold(
                            vec![(t * wt * 0.8, yb + 0.08), (t * hw * 0.85, yh + 0.03)],
                            i % 2 == 0,
                        );
                    }
                }
                s.stitch(
                    &quad(
                        (-hw + 0.04, yh - 0.04),
                        (0.0, yh + 0.02),
                        (hw - 0.04, yh - 0.04),
                        10,
                    ),
                    self.stitch,
                );
            }
            if self.has(D::Pockets) {
                for side in [-1.0f32, 1.0] {
                    let f = |p: Pt| (side * p.0, p.1);
                    let opening: Vec<Pt> = quad((0.18, yb), (0.22, yb + 0.18), (0.4, yb + 0.24), 8)
                        .into_iter()
                        .map(f)
                        .collect();
                    let mut sliver = opening.clone();
                    sliver.push(f((wt, yb)));
                    s.fill(sliver, Ink::Inner);
                    s.line(opening, 0.012, Ink::Outline);
                }
            }
            if self.has(D::Zip) {
                self.zip(s, vec![(0.0, yb + 0.01), (0.0, yb + 0.45)]);
            } else if self.has(D::Buttons) {
                s.seam(vec![(0.05, yb), (0.05, yh)]);
                let mut y = yb + 0.1;
                while y < yh - 0.05 {
                    self.button(s, (0.0, y), 0.025);
                    y += 0.17;
                }
            }
        });
        let band = vec![
            (-wt - 0.01, yw),
            (wt + 0.01, yw),
            (wt + 0.005, yb + 0.005),
            (-wt - 0.005, yb + 0.005),
        ];
        s.shape(band, Ink::Main(0.92));
        if self.has(D::Buckle) {
            let leather = if self.spec.colour == Colour::Black {
                rgb8(110, 70, 38)
            } else {
                rgb8(36, 30, 28)
            };
            s.shape(
                vec![
                    (-wt - 0.02, yw + 0.012),
                    (wt + 0.02, yw + 0.012),
                    (wt + 0.02, yb - 0.008),
                    (-wt - 0.02, yb - 0.008),
                ],
                Ink::Plain(leather),
            );
            self.buckle(s, (0.0, 0.5 * (yw + yb)), 0.06, 0.055);
        }
        if self.has(D::Bow) {
            self.bow(s, (0.18, 0.5 * (yw + yb)), 0.13, Ink::Main(0.85));
        }
    }
}

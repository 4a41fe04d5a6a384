//! Dresses: a-line, maxi and slip dresses.

use super::labels::{Detail as D, Fit, Length, Sleeve, Subtype as S};
use super::materials::Ink;
use super::parts::SleeveShape;
use super::sketch::{Garment, OUT, Sketch, join, lerp, symmetric};
use crate::sources::demo::draw::{Affine, Pt, cubic, quad};

impl Garment<'_> {
    pub(super) fn dress(&self, s: &mut Sketch) {
        let st = self.spec.subtype;
        let loose = self.spec.fit == Some(Fit::Loose);
        let sleeve = self.spec.sleeve.unwrap_or(Sleeve::Sleeveless);
        let yw = match st {
            S::MaxiDress => -0.42,
            S::SlipDress => -0.22,
            _ => -0.26,
        };
        let bust = if loose { 0.28 } else { 0.25 };
        let wh = match st {
            S::SlipDress => 0.2,
            _ if loose => 0.23,
            _ => 0.19,
        };
        let yh: f32 = match self.spec.length {
            Some(Length::Mini) => 0.28,
            Some(Length::Maxi) => 1.3,
            _ => 0.75,
        };
        let k = yh - yw;
        let hw = match st {
            S::ALineDress => wh + (if loose { 0.5 } else { 0.4 }) * k.min(1.0),
            S::MaxiDress => wh + (if loose { 0.42 } else { 0.32 }) * k.min(1.2),
            _ => wh + 0.16 * k,
        } + self.v.range(3, -0.03, 0.03);
        let vneck = self.has(D::VNeck);

        // Skirt, swaying from the waist.
        let sway = Affine::translate(0.0, -yw)
            .then(Affine::shear_x(0.5 * self.swing))
            .then(Affine::translate(0.0, yw));
        s.with(sway, |s| {
            let mut right = vec![(0.0, yw - 0.02), (wh, yw - 0.02)];
            right.extend(
                quad(
                    (wh, yw),
                    (wh + 0.15 * (hw - wh), yw + 0.45 * k),
                    (hw, yh),
                    10,
                )
                .into_iter()
                .skip(1),
            );
            right.extend(
                quad((hw, yh), (0.55 * hw, yh + 0.08), (0.0, yh + 0.08), 8)
                    .into_iter()
                    .skip(1),
            );
            s.shape(symmetric(&right[..right.len() - 1]), Ink::Main(1.0));
            // Folds radiating from the waist.
            let folds = if st == S::SlipDress { 3 } else { 5 };
            for i in 0..folds {
                let t = (i as f32 + 0.5) / folds as f32 * 2.0 - 1.0;
                let top = (t * wh * 0.8, yw + 0.08);
                let bot = (t * hw * 0.85, yh + 0.03 - 0.05 * t * t);
                s.fold(vec![top, lerp(top, bot, 0.5), bot], i % 2 == 0);
            }
            if st == S::MaxiDress {
                for f in [0.36, 0.68] {
                    let y = yw + f * k;
                    let x = wh + (hw - wh) * f;
                    s.seam(quad((-x, y), (0.0, y + 0.05), (x, y), 8));
                }
            }
            s.stitch(
                &quad(
                    (-hw + 0.04, yh - 0.04),
                    (0.0, yh + 0.04),
                    (hw - 0.04, yh - 0.04),
                    10,
                ),
                self.stitch,
            );
            if self.has(D::Pockets) {
                for side in [-1.0f32, 1.0] {
                    let x = side * (wh + 0.15 * (hw - wh));
                    let (x0, x1) = (x.min(x - side * 0.2), x.max(x - side * 0.2));
                    self.patch_pocket(s, x0, yw + 0.15, x1, yw + 0.36, false);
                }
            }
        });

        // Bodice.
        let yt = -0.98;
        let sleeved = sleeve != Sleeve::Sleeveless;
        let ya = -0.62;
        let nw = if sleeved { 0.12 } else { 0.11 };
        let depth = if vneck {
            0.36
        } else if st == S::SlipDress {
            0.06
        } else {
            0.2
        };
        let neck_top = if st == S::SlipDress { -0.66 } else { yt };
        let neck: Vec<Pt> = if vneck {
            vec![(nw, neck_top), (0.0, neck_top + depth), (-nw, neck_top)]
        } else {
            quad(
                (nw, neck_top),
                (0.0, neck_top + 2.0 * depth),
                (-nw, neck_top),
                12,
            )
        };
        let mut right: Vec<Pt> = Vec::new();
        if st == S::SlipDress {
            right.push((0.23, -0.7));
            right.push((bust - 0.01, -0.6));
        } else if sleeved {
            right.push((nw, yt));
            right.push((0.27, yt + 0.07));
            right.push((bust, ya));
        } else {
            right.push((nw, yt));
            right.push((nw + 0.1, yt));
            right.extend(
                cubic(
                    (nw + 0.1, yt),
                    (nw + 0.1, yt + 0.2),
                    (bust - 0.03, ya - 0.05),
                    (bust, ya),
                    8,
                )
                .into_iter()
                .skip(1),
            );
        }
        right.push((bust, -0.5));
        right.extend(
            quad((bust, -0.5), (wh, yw - 0.1), (wh, yw), 6)
                .into_iter()
                .skip(1),
        );
        right.push((0.0, yw));
        if st == S::SlipDress {
            // Spaghetti straps, looping to the back.
            for side in [-1.0f32, 1.0] {
                let strap = quad(
                    (side * 0.19, -0.68),
                    (side * 0.18, -1.12),
                    (side * 0.15, -0.7),
                    10,
                );
                s.band(strap, 0.012, Ink::Main(0.95));
            }
            s.shape(
                quad((-0.2, -0.66), (0.0, -0.86), (0.2, -0.66), 10),
                Ink::Inner,
            );
        } else {
            let back = quad((-nw, neck_top), (0.0, neck_top + 0.07), (nw, neck_top), 10);
            s.shape(join(&[&back, &neck]), Ink::Inner);
        }
        if sleeved {
            let (angle, len, cuff) = if sleeve == Sleeve::ShortSleeve {
                (0.75, 0.26, 0.11)
            } else {
                (1.22, 0.84, 0.065)
            };
            let shape = SleeveShape {
                shoulder: (0.27, yt + 0.07),
                armpit: (bust - 0.01, ya),
                angle,
                len,
                cuff,
                band: None,
            };
            for side in [-1.0, 1.0] {
                self.sleeve(s, side, shape);
            }
        }
        let mut body = right.clone();
        body.extend(right.iter().rev().skip(1).map(|p| (-p.0, p.1)));
        if st == S::SlipDress {
            body.pop();
            body.extend(
                quad(
                    (-0.23, -0.7),
                    (0.0, if vneck { -0.5 } else { -0.62 }),
                    (0.23, -0.7),
                    10,
                )
                .into_iter()
                .skip(1),
            );
        } else {
            body.pop();
            body.extend(neck.iter().rev().copied());
        }
        // The bodice's outline stops at the waist: the skirt continues it.
        let waist_at = body.iter().position(|p| *p == (0.0, yw)).unwrap_or(0);
        let mut open: Vec<Pt> = body[waist_at + 1..].to_vec();
        open.extend_from_slice(&body[..waist_at]);
        s.fill(body, Ink::Main(1.0));
        s.line(open, OUT, Ink::Outline);
        for sx in [-1.0f32, 1.0] {
            s.fold(vec![(sx * 0.1, -0.58), (sx * 0.08, yw - 0.02)], true);
        }
        if st != S::SlipDress {
            s.line(neck.clone(), 0.03, Ink::Main(0.93));
        }
        if st != S::SlipDress {
            s.seam(vec![(-wh, yw), (wh, yw)]);
        }
        if self.has(D::Collar) && st != S::SlipDress {
            for side in [-1.0f32, 1.0] {
                let flap = vec![
                    (side * 0.01, neck_top + depth * 0.6),
                    (side * (nw + 0.01), neck_top - 0.03),
                    (side * (nw + 0.08), neck_top + 0.05),
                    (side * 0.11, neck_top + 0.22),
                ];
                s.shape(flap, Ink::Main(1.03));
            }
        }
        if self.has(D::Buttons) {
            let start = neck_top + depth + 0.06;
            let end = if self.has(D::Collar) {
                yh - 0.12
            } else {
                yw - 0.04
            };
            let n = (((end - start) / 0.15) as usize).max(2);
            for i in 0..n {
                let y = start + (end - start) * i as f32 / (n - 1) as f32;
                self.button(s, (0.0, y), 0.022);
            }
        }
        if self.has(D::Bow) {
            if st == S::SlipDress {
                self.bow(s, (0.0, -0.6), 0.11, Ink::Main(0.85));
            } else {
                self.bow(s, (0.0, yw), 0.14, Ink::Main(0.85));
            }
        }
    }
}

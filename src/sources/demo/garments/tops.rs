//! Tops and outerwear: t-shirts, tank tops, shirts, sweaters, hoodies, coats and jackets.

use super::labels::{Detail as D, Fit, Length, Sleeve, Subtype as S, Texture};
use super::materials::Ink;
use super::parts::SleeveShape;
use super::sketch::{Garment, Sketch, join, symmetric};
use crate::sources::demo::draw::{Pt, arc, cubic, ellipse, quad, rounded_rect};
use std::f32::consts::{PI, TAU};

impl Garment<'_> {
    pub(super) fn upper(&self, s: &mut Sketch) {
        let st = self.spec.subtype;
        let loose = self.spec.fit == Some(Fit::Loose);
        let sleeve = self.spec.sleeve.unwrap_or(Sleeve::LongSleeve);
        if st == S::TankTop {
            return self.tank(s);
        }
        let shw = match st {
            S::Coat => 0.40,
            S::Jacket => 0.45,
            S::Hoodie => 0.46,
            _ => 0.42,
        } + if loose { 0.04 } else { 0.0 }
            + self.v.range(1, -0.015, 0.015);
        let nw = match st {
            S::Shirt => 0.12,
            S::Coat => 0.13,
            S::Hoodie => 0.15,
            _ => 0.14,
        };
        let yn = -0.80;
        let ysh = yn + 0.09;
        let aw = shw - 0.025;
        let ya = -0.38;
        let yh = match st {
            S::Jacket => 0.48,
            S::Hoodie => 0.62,
            S::Shirt => 0.72,
            S::Coat => match self.spec.length {
                Some(Length::Maxi) => 1.7,
                Some(Length::Midi) => 1.25,
                _ => 0.8,
            },
            _ => 0.70,
        };
        let hw = match st {
            S::Coat => aw + 0.04 + 0.07 * (yh - 0.8),
            S::Jacket => aw,
            _ if loose => aw + 0.04,
            _ => aw - 0.03,
        };
        let waist = if !loose && matches!(st, S::TShirt | S::Shirt) {
            Some((aw - 0.06, 0.05))
        } else if st == S::Coat {
            Some((aw - 0.04, -0.05))
        } else {
            None
        };
        let vneck = self.has(D::VNeck);
        let open_front = matches!(st, S::Coat | S::Jacket) && self.has(D::Collar);
        let neck_depth = if open_front {
            0.62
        } else if vneck {
            0.34
        } else if st == S::Shirt {
            0.1
        } else {
            0.13
        };

        // Hood behind the shoulders.
        if self.has(D::Hood) {
            let hood = symmetric(&join(&[
                &[(0.0, yn - 0.42)],
                &cubic(
                    (0.0, yn - 0.42),
                    (0.24, yn - 0.42),
                    (0.34, yn - 0.2),
                    (nw + 0.14, yn + 0.08),
                    12,
                ),
            ]));
            s.shape(hood, Ink::Main(0.9));
            s.shape(ellipse((0.0, yn - 0.1), nw + 0.02, 0.2, 24), Ink::Inner);
            s.line(
                arc((0.0, yn - 0.1), nw + 0.02, 0.2, PI, TAU, 16),
                0.035,
                Ink::Main(0.85),
            );
        }

        // The inside of the back, seen through the neckline.
        let front_neck: Vec<Pt> = if vneck || open_front {
            vec![(nw, yn), (0.0, yn + neck_depth), (-nw, yn)]
        } else {
            quad((nw, yn), (0.0, yn + 2.0 * neck_depth), (-nw, yn), 12)
        };
        let back_neck = quad((-nw, yn), (0.0, yn + 0.07), (nw, yn), 10);
        s.shape(join(&[&back_neck, &front_neck]), Ink::Inner);

        // Sleeves (behind the body).
        let sh = (shw, ysh);
        let ap = (aw, ya);
        let cuff_band = match st {
            S::Sweater | S::Hoodie => Some(Ink::Rib(0.92)),
            S::Shirt | S::Coat | S::Jacket => Some(Ink::Main(0.9)),
            _ => None,
        };
        let (angle, len, cuff) = match sleeve {
            Sleeve::ShortSleeve => (0.62, if st == S::Shirt { 0.4 } else { 0.34 }, 0.14),
            Sleeve::LongSleeve => (
                1.16,
                if st == S::Coat { 1.05 } else { 1.0 },
                if st == S::Coat { 0.11 } else { 0.085 } + if loose { 0.015 } else { 0.0 },
            ),
            Sleeve::Sleeveless => (0.0, 0.0, 0.0),
        };
        if sleeve != Sleeve::Sleeveless {
            let band = if sleeve == Sleeve::LongSleeve {
                cuff_band
            } else {
                None
            };
            let shape = SleeveShape {
                shoulder: sh,
                armpit: ap,
                angle,
                len,
                cuff,
                band,
            };
            for side in [-1.0, 1.0] {
                self.sleeve(s, side, shape);
            }
        }

        // Body.
        let mut right: Vec<Pt> = vec![(nw, yn), sh, ap];
        if let Some(w) = waist {
            right.extend(quad(ap, (w.0, w.1 - 0.1), w, 6).into_iter().skip(1));
            right.extend(quad(w, (w.0, w.1 + 0.2), (hw, yh), 6).into_iter().skip(1));
        } else {
            right.push((hw, yh));
        }
        let hem: Vec<Pt> = if st == S::Shirt {
            quad((hw, yh - 0.06), (0.5 * hw, yh + 0.12), (0.0, yh + 0.05), 8)
        } else {
            vec![(0.0, yh)]
        };
        if let (S::Shirt, Some(last)) = (st, right.last_mut()) {
            last.1 = yh - 0.06;
        }
        right.extend(hem.iter().skip(if st == S::Shirt { 1 } else { 0 }));
        let mut body: Vec<Pt> = right.clone();
        body.extend(right.iter().rev().skip(1).map(|p| (-p.0, p.1)));
        body.pop(); // (-nw, yn) is the neckline's end
        body.extend(front_neck.iter().rev().copied());
        let dedup: Vec<Pt> = body;
        s.shape(dedup, Ink::Main(1.0));
        // Shading: armpit folds and side shadows.
        for sx in [-1.0, 1.0] {
            s.fold(
                vec![(sx * (aw - 0.04), ya + 0.05), (sx * (aw - 0.14), ya + 0.18)],
                true,
            );
            s.fold(
                vec![(sx * (aw - 0.03), ya + 0.3), (sx * (hw - 0.03), yh - 0.05)],
                true,
            );
        }
        s.fold(vec![(-0.1, -0.2), (-0.05, yh * 0.6)], false);

        // Neck and hem bands.
        match st {
            S::TShirt | S::Sweater | S::Hoodie if !self.has(D::Hood) || st != S::Hoodie => {
                let ink = if st == S::Sweater {
                    Ink::Rib(0.9)
                } else {
                    Ink::Main(0.92)
                };
                s.line(front_neck.clone(), 0.045, ink);
                s.seam(offset_line(&front_neck, 0.024));
            }
            _ => {}
        }
        if matches!(st, S::Sweater | S::Hoodie) {
            let band = vec![(-hw, yh - 0.1), (hw, yh - 0.1), (hw, yh), (-hw, yh)];
            s.shape(band, Ink::Rib(0.9));
        } else if st != S::Shirt {
            s.stitch(
                &[(-hw + 0.03, yh - 0.05), (hw - 0.03, yh - 0.05)],
                self.stitch,
            );
        }

        match st {
            S::TShirt => self.tshirt_details(s, yn, nw, hw, yh),
            S::Shirt => self.shirt_details(s, yn, nw, hw, yh),
            S::Sweater => self.sweater_details(s, yn, nw, yh, &front_neck),
            S::Hoodie => self.hoodie_details(s, yn, nw, hw, yh),
            _ => self.outer_details(s, yn, nw, hw, yh, open_front),
        }
    }

    fn tshirt_details(&self, s: &mut Sketch, yn: f32, _nw: f32, _hw: f32, _yh: f32) {
        if self.has(D::Pockets) {
            self.patch_pocket(s, 0.12, yn + 0.42, 0.3, yn + 0.62, false);
        }
        if self.has(D::Logo) {
            if self.has(D::Pockets) {
                self.logo(s, (-0.2, yn + 0.5), 0.06);
            } else {
                self.logo(s, (0.0, yn + 0.55), 0.15);
            }
        }
    }

    fn shirt_details(&self, s: &mut Sketch, yn: f32, nw: f32, _hw: f32, yh: f32) {
        let buttons = self.has(D::Buttons);
        if buttons {
            s.shape(
                vec![
                    (-0.04, yn + 0.1),
                    (0.04, yn + 0.1),
                    (0.04, yh + 0.05),
                    (-0.04, yh + 0.05),
                ],
                Ink::Main(0.98),
            );
            let mut y = yn + 0.18;
            while y < yh - 0.02 {
                self.button(s, (0.0, y), 0.022);
                y += 0.17;
            }
        }
        if self.has(D::Collar) {
            let band = join(&[
                &quad(
                    (-nw - 0.02, yn + 0.02),
                    (0.0, yn - 0.02),
                    (nw + 0.02, yn + 0.02),
                    8,
                ),
                &quad(
                    (nw + 0.01, yn - 0.05),
                    (0.0, yn - 0.1),
                    (-nw - 0.01, yn - 0.05),
                    8,
                ),
            ]);
            s.shape(band, Ink::Main(0.85));
            for side in [-1.0f32, 1.0] {
                let flap = vec![
                    (side * 0.01, yn + 0.12),
                    (side * (nw + 0.02), yn - 0.04),
                    (side * (nw + 0.08), yn + 0.05),
                    (side * 0.11, yn + 0.26),
                ];
                s.shape(flap, Ink::Main(1.02));
            }
        } else {
            s.line(
                quad((-nw, yn), (0.0, yn + 0.2), (nw, yn), 10),
                0.04,
                Ink::Main(0.9),
            );
        }
        if self.has(D::Pockets) {
            self.patch_pocket(s, 0.12, yn + 0.4, 0.3, yn + 0.62, true);
        }
        if self.has(D::Logo) {
            self.logo(s, (-0.2, yn + 0.48), 0.045);
        }
    }

    fn sweater_details(&self, s: &mut Sketch, yn: f32, nw: f32, yh: f32, neck: &[Pt]) {
        if self.has(D::Zip) {
            self.zip(s, vec![(0.0, yn + 0.1), (0.0, yn + 0.42)]);
            let collar = join(&[
                &[(-nw - 0.01, yn + 0.02), (nw + 0.01, yn + 0.02)],
                &[(nw + 0.02, yn - 0.08), (-nw - 0.02, yn - 0.08)],
            ]);
            s.shape(collar, Ink::Rib(0.9));
        }
        if self.has(D::Buttons) {
            let start = neck.iter().map(|p| p.1).fold(yn, f32::max);
            s.seam(vec![(0.0, start), (0.0, yh - 0.1)]);
            let mut y = start + 0.08;
            while y < yh - 0.12 {
                self.button(s, (0.03, y), 0.024);
                y += 0.2;
            }
        }
        if self.has(D::Logo) {
            self.logo(s, (-0.2, yn + 0.5), 0.06);
        }
    }

    fn hoodie_details(&self, s: &mut Sketch, yn: f32, nw: f32, hw: f32, yh: f32) {
        let zip = self.has(D::Zip);
        if self.has(D::Pockets) {
            let (top, bot) = (yh - 0.52, yh - 0.14);
            if zip {
                for side in [-1.0f32, 1.0] {
                    let p = vec![
                        (side * 0.03, top),
                        (side * 0.2, top),
                        (side * 0.32, bot),
                        (side * 0.03, bot),
                    ];
                    s.shape(p, Ink::Main(0.97));
                }
            } else {
                let p = vec![(-0.2, top), (0.2, top), (0.32, bot), (-0.32, bot)];
                s.shape(p, Ink::Main(0.97));
                s.seam(vec![(0.2, top), (0.32, bot)]);
                s.seam(vec![(-0.2, top), (-0.32, bot)]);
            }
        }
        if zip {
            self.zip(s, vec![(0.0, yn + 0.1), (0.0, yh)]);
        }
        // Drawstrings.
        let cord = Ink::Plain(self.accent);
        for side in [-1.0f32, 1.0] {
            let x = side * (nw - 0.05);
            let len = if side < 0.0 { 0.36 } else { 0.3 };
            s.band(
                quad(
                    (x, yn + 0.08),
                    (x + side * 0.03, yn + 0.25),
                    (x + side * 0.01, yn + 0.08 + len),
                    6,
                ),
                0.018,
                cord,
            );
            s.shape(
                rounded_rect(
                    x + side * 0.01 - 0.012,
                    yn + 0.08 + len,
                    x + side * 0.01 + 0.012,
                    yn + 0.14 + len,
                    0.005,
                ),
                Ink::Metal,
            );
        }
        if self.has(D::Logo) {
            let y = if self.has(D::Pockets) {
                yn + 0.5
            } else {
                yn + 0.58
            };
            if zip {
                self.logo(s, (-0.2, y), 0.06);
            } else {
                self.logo(s, (0.0, y), 0.12);
            }
        }
        let _ = hw;
    }

    fn outer_details(&self, s: &mut Sketch, yn: f32, nw: f32, hw: f32, yh: f32, open: bool) {
        let st = self.spec.subtype;
        let zip = self.has(D::Zip);
        let buttons = self.has(D::Buttons);
        let double = st == S::Coat && buttons && !zip && self.v.f(30) < 0.6;
        let top_y = if open { yn + 0.62 } else { yn + 0.14 };
        // Front edge (the opening), unless a zip covers it.
        let front_x = if double { 0.1 } else { 0.0 };
        if !zip {
            s.seam(vec![(front_x, top_y), (front_x, yh)]);
        }
        // Denim and leather jackets: a yoke seam.
        if st == S::Jacket {
            s.stitch(
                &[(-hw, yn + 0.3), (-0.0, yn + 0.36), (hw, yn + 0.3)],
                self.stitch,
            );
            let band = vec![(-hw, yh - 0.1), (hw, yh - 0.1), (hw, yh), (-hw, yh)];
            s.shape(band, Ink::Main(0.92));
        }
        if self.has(D::Buckle) {
            let yb = if st == S::Coat { -0.05 } else { yh - 0.05 };
            let belt = vec![
                (-hw - 0.01, yb - 0.045),
                (hw + 0.01, yb - 0.045),
                (hw + 0.01, yb + 0.045),
                (-hw - 0.01, yb + 0.045),
            ];
            s.shape(belt, Ink::Main(0.88));
            self.buckle(s, (0.0, yb), 0.07, 0.065);
        }
        if self.has(D::Pockets) {
            if st == S::Jacket && self.spec.texture == Texture::Denim {
                for side in [-1.0f32, 1.0] {
                    let x0 = side * 0.12;
                    let x1 = side * 0.32;
                    self.patch_pocket(s, x0.min(x1), yn + 0.42, x0.max(x1), yn + 0.64, true);
                    let flap = vec![
                        (x0, yn + 0.4),
                        (x1, yn + 0.4),
                        (x1, yn + 0.47),
                        (0.5 * (x0 + x1), yn + 0.5),
                        (x0, yn + 0.47),
                    ];
                    s.shape(flap, Ink::Main(0.95));
                    self.button(s, (0.5 * (x0 + x1), yn + 0.47), 0.018);
                }
            } else {
                let y = if st == S::Coat { 0.22 } else { yh - 0.3 };
                for side in [-1.0f32, 1.0] {
                    let x0 = side * 0.1;
                    let x1 = side * (hw - 0.06);
                    let flap = rounded_rect(x0.min(x1), y, x0.max(x1), y + 0.09, 0.015);
                    s.shape(flap, Ink::Main(0.93));
                }
            }
        }
        if open {
            // Lapels (or a shirt-style collar for short jackets).
            for side in [-1.0f32, 1.0] {
                let lapel = vec![
                    (side * nw, yn - 0.02),
                    (side * (nw + 0.07), yn + 0.04),
                    (side * 0.22, yn + 0.3),
                    (side * 0.18, yn + 0.33),
                    (side * 0.27, yn + 0.36),
                    (side * 0.02, yn + 0.64),
                ];
                s.shape(lapel, Ink::Main(1.04));
                s.fold(
                    vec![(side * (nw + 0.02), yn + 0.03), (side * 0.05, yn + 0.58)],
                    true,
                );
            }
            let band = join(&[
                &quad(
                    (-nw - 0.02, yn + 0.01),
                    (0.0, yn - 0.02),
                    (nw + 0.02, yn + 0.01),
                    8,
                ),
                &quad((nw, yn - 0.06), (0.0, yn - 0.1), (-nw, yn - 0.06), 8),
            ]);
            s.shape(band, Ink::Main(0.92));
        }
        if zip {
            let x = if st == S::Jacket && self.spec.texture == Texture::Leather {
                0.06
            } else {
                0.0
            };
            self.zip(s, vec![(x, top_y), (x, yh - 0.02)]);
        }
        if buttons && !zip {
            let start = top_y + 0.06;
            let end = if st == S::Coat {
                (yh - 0.2).min(0.6)
            } else {
                yh - 0.14
            };
            let n = if st == S::Coat { 3 } else { 4 };
            for i in 0..n {
                let y = start + (end - start) * i as f32 / (n - 1) as f32;
                if double {
                    self.button(s, (-0.04, y), 0.028);
                    self.button(s, (0.18, y), 0.028);
                } else {
                    self.button(s, (0.0, y), 0.026);
                }
            }
        }
    }

    fn tank(&self, s: &mut Sketch) {
        let loose = self.spec.fit == Some(Fit::Loose);
        let yt = -0.92;
        let (si, so) = (0.16, 0.26 + self.v.range(2, -0.02, 0.02));
        let aw = if loose { 0.41 } else { 0.37 };
        let yh = 0.75;
        let hw = if loose { 0.44 } else { 0.36 };
        let depth = if self.has(D::VNeck) { 0.48 } else { 0.36 };
        let neck: Vec<Pt> = if self.has(D::VNeck) {
            vec![(si, yt), (0.0, yt + depth), (-si, yt)]
        } else {
            cubic(
                (si, yt),
                (0.9 * si, yt + 1.3 * depth),
                (-0.9 * si, yt + 1.3 * depth),
                (-si, yt),
                16,
            )
        };
        let back = quad((-si, yt), (0.0, yt + 0.14), (si, yt), 10);
        s.shape(join(&[&back, &neck]), Ink::Inner);
        let mut right = vec![(si, yt), (so, yt)];
        right.extend(
            cubic(
                (so, yt),
                (so + 0.01, yt + 0.32),
                (aw - 0.14, -0.27),
                (aw, -0.25),
                10,
            )
            .into_iter()
            .skip(1),
        );
        right.extend(
            quad((aw, -0.25), (aw - 0.03, 0.15), (hw, yh), 8)
                .into_iter()
                .skip(1),
        );
        right.push((0.0, yh));
        let mut body = right.clone();
        body.extend(right.iter().rev().skip(1).map(|p| (-p.0, p.1)));
        body.pop();
        body.extend(neck.iter().rev().copied());
        s.shape(body, Ink::Main(1.0));
        s.line(neck.clone(), 0.035, Ink::Main(0.92));
        for sx in [-1.0f32, 1.0] {
            let arm = cubic(
                (sx * so, yt),
                (sx * (so + 0.01), yt + 0.32),
                (sx * (aw - 0.14), -0.27),
                (sx * aw, -0.25),
                10,
            );
            s.line(arm, 0.03, Ink::Main(0.92));
            s.fold(
                vec![(sx * (aw - 0.05), -0.2), (sx * (hw - 0.05), yh - 0.05)],
                true,
            );
        }
        s.stitch(
            &[(-hw + 0.03, yh - 0.05), (hw - 0.03, yh - 0.05)],
            self.stitch,
        );
        if self.has(D::Logo) {
            self.logo(s, (0.0, -0.05), 0.13);
        }
        if self.has(D::Bow) {
            self.bow(s, (0.0, yt + depth + 0.02), 0.12, Ink::Main(0.85));
        }
    }
}

/// `pts` shifted down by `dy` (a band's inner seam).
pub(super) fn offset_line(pts: &[Pt], dy: f32) -> Vec<Pt> {
    pts.iter().map(|p| (p.0, p.1 + dy)).collect()
}

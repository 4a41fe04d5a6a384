//! Hats: caps, beanies and sun hats.

use super::labels::{Detail as D, Subtype as S};
use super::materials::Ink;
use super::sketch::{Garment, Sketch, join};
use crate::sources::demo::draw::{
    Affine, Pt, arc, cubic, ellipse, hash2, luma, quad, rgb8, rounded_rect,
};
use std::f32::consts::{PI, TAU};

impl Garment<'_> {
    pub(super) fn hat(&self, s: &mut Sketch) {
        let tilt = Affine::rotate(0.3 * self.swing);
        s.with(tilt, |s| match self.spec.subtype {
            S::Cap => self.cap(s),
            S::Beanie => self.beanie(s),
            _ => self.sun_hat(s),
        });
    }

    fn cap(&self, s: &mut Sketch) {
        let c = (-0.2, 0.2);
        let (rx, ry) = (0.66, 0.74);
        // Visor, with its darker underside.
        let under = join(&[
            &[(0.2, 0.2)],
            &cubic((0.2, 0.2), (0.6, 0.2), (0.95, 0.3), (1.0, 0.4), 8)[1..],
            &quad((1.0, 0.4), (0.7, 0.37), (0.25, 0.3), 8)[1..],
        ]);
        s.shape(under, Ink::Main(0.6));
        let visor = join(&[
            &[(0.25, 0.1)],
            &cubic((0.25, 0.1), (0.6, 0.12), (0.95, 0.22), (1.02, 0.36), 8)[1..],
            &quad((1.02, 0.36), (0.7, 0.28), (0.22, 0.23), 8)[1..],
        ]);
        s.shape(visor, Ink::Main(0.95));
        s.stitch(
            &cubic((0.3, 0.15), (0.6, 0.17), (0.85, 0.24), (0.95, 0.31), 8),
            self.stitch,
        );
        // Crown.
        let crown = join(&[
            &arc(c, rx, ry, PI, TAU, 24),
            &quad((c.0 + rx, c.1), (c.0, c.1 + 0.08), (c.0 - rx, c.1), 8)[1..],
        ]);
        s.shape(crown, Ink::Main(1.0));
        let top = (c.0 + 0.05, c.1 - ry);
        for (bx, k) in [(-0.62, -0.4), (-0.3, -0.1), (0.1, 0.25)] {
            s.seam(quad(
                top,
                (c.0 + bx * 0.8 + k * 0.1, c.1 - 0.4),
                (c.0 + bx + 0.2, c.1 + 0.04),
                8,
            ));
        }
        s.fill(ellipse(top, 0.06, 0.03, 12), Ink::Main(0.8));
        s.outline(ellipse(top, 0.06, 0.03, 12));
        for p in [(c.0 - 0.35, c.1 - 0.45), (c.0 + 0.15, c.1 - 0.47)] {
            s.fill(ellipse(p, 0.018, 0.018, 8), Ink::Outline);
        }
        s.fold(vec![(c.0 + 0.4, c.1 - 0.5), (c.0 + 0.55, c.1 - 0.1)], true);
        s.stitch(
            &quad(
                (c.0 - rx + 0.05, c.1 - 0.03),
                (c.0, c.1 + 0.05),
                (c.0 + rx - 0.05, c.1 - 0.03),
                8,
            ),
            self.stitch,
        );
        if self.has(D::Logo) {
            self.logo(s, (c.0 + 0.32, c.1 - 0.3), 0.12);
        }
    }

    fn beanie(&self, s: &mut Sketch) {
        let pom = self.v.f(15) < 0.5;
        if pom {
            let n = 28;
            let ring: Vec<Pt> = (0..n)
                .map(|i| {
                    let a = i as f32 / n as f32 * TAU;
                    let r = 0.2 + 0.03 * hash2(i, 7, self.spec.variant);
                    (r * a.cos(), -0.8 + r * a.sin())
                })
                .collect();
            s.shape(ring, Ink::Main(0.95));
        }
        let dome = join(&[
            &arc((0.0, 0.1), 0.64, 0.72, PI, TAU, 24),
            &[(0.64, 0.2), (-0.64, 0.2)],
        ]);
        s.shape(dome, Ink::Rib(1.0));
        for x in [-0.35f32, 0.0, 0.35] {
            s.seam(quad((0.0, -0.6), (x * 0.8, -0.4), (x * 1.3, -0.1), 6));
        }
        let cuff = rounded_rect(-0.7, 0.02, 0.7, 0.45, 0.06);
        s.shape(cuff, Ink::Rib(0.9));
        s.fold(vec![(-0.68, 0.06), (0.68, 0.06)], true);
        if self.has(D::Logo) {
            s.shape(
                rounded_rect(-0.15, 0.13, 0.15, 0.33, 0.02),
                Ink::Plain(self.accent),
            );
            self.logo(s, (0.0, 0.23), 0.06);
        }
    }

    fn sun_hat(&self, s: &mut Sketch) {
        let brim_c = (0.0, 0.22);
        let (brx, bry) = (1.0, 0.3 + self.v.range(16, -0.04, 0.04));
        s.shape(ellipse(brim_c, brx, bry, 48), Ink::Main(0.95));
        // The brim's far half seen from above is a little darker.
        s.tint(
            join(&[
                &arc(brim_c, brx, bry, PI, TAU, 24),
                &[(0.5, 0.2), (-0.5, 0.2)],
            ]),
            [0.0; 3],
            0.08,
        );
        s.stitch(&ellipse(brim_c, brx - 0.06, bry - 0.05, 48), self.stitch);
        let cc = (0.0, 0.16);
        let (crx, cry) = (0.46, 0.58);
        let crown = join(&[
            &arc(cc, crx, cry, PI, TAU, 24),
            &arc(cc, crx, 0.12, 0.0, PI, 12)[1..],
        ]);
        s.shape(crown, Ink::Main(1.0));
        s.fold(vec![(-0.2, -0.3), (-0.25, 0.1)], false);
        s.fold(vec![(0.25, -0.3), (0.32, 0.1)], true);
        // Ribbon band.
        let ribbon = if luma(self.spec.colour.rgb()) > 0.4 {
            rgb8(30, 30, 34)
        } else {
            rgb8(240, 236, 226)
        };
        let band = join(&[
            &arc(cc, crx + 0.005, 0.12, 0.0, PI, 12),
            &arc((cc.0, cc.1 - 0.12), crx - 0.005, 0.11, PI, 0.0, 12),
        ]);
        s.shape(band, Ink::Plain(ribbon));
        if self.has(D::Bow) {
            self.bow(s, (0.3, 0.1), 0.14, Ink::Plain(ribbon));
        }
    }
}

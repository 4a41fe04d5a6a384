//! Scarves: long and square ones.

use super::labels::Subtype as S;
use super::materials::Ink;
use super::sketch::{Garment, Geom, Sketch, add, lerp, mul};
use crate::sources::demo::draw::{Affine, Pt, arc, cubic, ellipse};
use std::f32::consts::PI;

impl Garment<'_> {
    pub(super) fn scarf(&self, s: &mut Sketch) {
        if self.spec.subtype == S::LongScarf {
            self.long_scarf(s)
        } else {
            self.square_scarf(s)
        }
    }

    /// A strip of fabric of width `w` along the (dense) centre line, drawn in pieces whose
    /// own coordinates run across (x) and along (y) the strip, so stripes follow it. An
    /// open strip gets fringes at both ends when `fringe` is set.
    fn strip(&self, s: &mut Sketch, centre: &[Pt], w: f32, shade: f32, closed: bool, fringe: bool) {
        let n = centre.len();
        if n < 2 {
            return;
        }
        let tangent = |i: usize| -> Pt {
            let (a, b) = if closed {
                (centre[(i + n - 1) % n], centre[(i + 1) % n])
            } else {
                (centre[i.saturating_sub(1)], centre[(i + 1).min(n - 1)])
            };
            let (dx, dy) = (b.0 - a.0, b.1 - a.1);
            let len = (dx * dx + dy * dy).sqrt().max(1e-6);
            (dx / len, dy / len)
        };
        let tangents: Vec<Pt> = (0..n).map(tangent).collect();
        let left: Vec<Pt> = (0..n)
            .map(|i| add(centre[i], mul((-tangents[i].1, tangents[i].0), 0.5 * w)))
            .collect();
        let right: Vec<Pt> = (0..n)
            .map(|i| add(centre[i], mul((-tangents[i].1, tangents[i].0), -0.5 * w)))
            .collect();
        let segments = if closed { n } else { n - 1 };
        let mut v = 0.0f32;
        for i in 0..segments {
            let (a, b) = (centre[i], centre[(i + 1) % n]);
            let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
            let t = ((a.0 + b.0) * 0.5, (a.1 + b.1) * 0.5);
            let dir = ((b.0 - a.0) / len.max(1e-6), (b.1 - a.1) / len.max(1e-6));
            let angle = dir.1.atan2(dir.0) - PI / 2.0;
            let vm = v + 0.5 * len;
            let part = Affine::translate(0.0, -vm)
                .then(Affine::rotate(angle))
                .then(Affine::translate(t.0, t.1));
            let (v0, v1) = (v - 0.015, v + len + 0.015);
            let seg = vec![(-0.5 * w, v0), (0.5 * w, v0), (0.5 * w, v1), (-0.5 * w, v1)];
            s.with(part, |s| s.fill(seg, Ink::Main(shade)));
            v += len;
        }
        if closed {
            s.outline(left);
            s.outline(right);
        } else {
            if fringe {
                for (end, dir) in [(0usize, -1.0f32), (n - 1, 1.0)] {
                    let t = tangents[end];
                    for k in 0..11 {
                        let p = lerp(left[end], right[end], (k as f32 + 0.5) / 11.0);
                        let q = add(p, mul(t, dir * 0.13));
                        s.line(vec![p, q], 0.016, Ink::Main(0.8 * shade));
                    }
                }
            }
            let mut outline = left;
            outline.extend(right.iter().rev().copied());
            s.outline(outline);
        }
    }

    fn long_scarf(&self, s: &mut Sketch) {
        let w = 0.3;
        // The loop, as if around a neck.
        let ring = ellipse((0.0, -0.58), 0.42, 0.26, 48);
        self.strip(s, &ring, w, 0.9, true, false);
        s.fold(
            arc((0.0, -0.58), 0.42, 0.26, PI * 1.15, PI * 1.85, 10),
            true,
        );
        // Two tails hanging from the front, swaying.
        let sway = Affine::translate(0.0, 0.3)
            .then(Affine::shear_x(0.5 * self.swing))
            .then(Affine::translate(0.0, -0.3));
        s.with(sway, |s| {
            let back = cubic((-0.06, -0.34), (-0.12, 0.1), (-0.34, 0.5), (-0.34, 1.0), 24);
            self.strip(s, &back, w, 0.93, false, true);
            let front = cubic((0.06, -0.34), (0.2, 0.0), (0.12, 0.5), (0.24, 0.86), 24);
            self.strip(s, &front, w, 1.0, false, true);
            s.fold(vec![(0.12, -0.1), (0.14, 0.5)], true);
        });
        // The knot.
        s.shape(ellipse((0.0, -0.33), 0.17, 0.12, 24), Ink::Main(0.96));
        s.fold(vec![(-0.1, -0.36), (0.1, -0.3)], true);
    }

    fn square_scarf(&self, s: &mut Sketch) {
        let h = 0.9;
        let fold = 0.55;
        // The square with one corner folded over.
        let body = vec![(-h, -h), (h, -h), (h, h - fold), (h - fold, h), (-h, h)];
        s.shape(body, Ink::Main(1.0));
        // Border and medallion in the accent colour.
        let b = h - 0.08;
        let b2 = h - 0.15;
        let ring = vec![
            vec![
                (-b, -b),
                (b, -b),
                (b, h - fold - 0.03),
                (h - fold - 0.03, b),
                (-b, b),
            ],
            vec![
                (-b2, -b2),
                (b2, -b2),
                (b2, h - fold - 0.1),
                (h - fold - 0.1, b2),
                (-b2, b2),
            ],
        ];
        s.push(Geom::Fill(ring), Ink::Plain(self.accent), 1.0, true);
        s.shape_holes(
            vec![
                ellipse((0.0, 0.0), 0.32, 0.32, 32),
                ellipse((0.0, 0.0), 0.24, 0.24, 32),
            ],
            Ink::Plain(self.accent),
        );
        s.fill(ellipse((0.0, 0.0), 0.1, 0.1, 16), Ink::Plain(self.accent));
        for k in 0..4 {
            let a = k as f32 * PI / 2.0 + PI / 4.0;
            s.fill(
                ellipse((0.5 * a.cos(), 0.5 * a.sin()), 0.06, 0.06, 12),
                Ink::Plain(self.accent),
            );
        }
        // The folded corner shows the back (paler).
        let flap = vec![(h, h - fold), (h - fold, h), (h - fold, h - fold)];
        s.shape(flap, Ink::Main(0.78));
        s.fold(
            vec![(h - 0.05, h - fold + 0.02), (h - fold + 0.02, h - 0.05)],
            true,
        );
        s.fold(vec![(-h + 0.1, -0.2), (0.2, h - 0.1)], true);
    }
}

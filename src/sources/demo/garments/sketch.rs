//! Sketches: a garment as drawing commands in its own coordinates, the point helpers the
//! drawings share, and `build`, which draws a spec with the function for its category.

use super::labels::{Category, Texture};
use super::materials::{Ink, Var, accent_of};
use super::spec::GarmentSpec;
use crate::sources::demo::draw::{Affine, Pt, Rgb, mix, rgb8};

#[derive(Debug, Clone)]
pub(super) enum Geom {
    Fill(Vec<Vec<Pt>>),
    Stroke {
        line: Vec<Pt>,
        closed: bool,
        width: f32,
    },
}

#[derive(Debug, Clone)]
pub(super) struct Cmd {
    pub(super) geom: Geom,
    /// Placement of this piece inside the garment (a swung sleeve, a swayed skirt).
    pub(super) part: Affine,
    pub(super) ink: Ink,
    pub(super) alpha: f32,
    pub(super) mask: bool,
}

/// Outline width, in garment units.
pub(super) const OUT: f32 = 0.016;

/// A garment as a list of drawing commands in its own coordinates.
pub(super) struct Sketch {
    pub(super) cmds: Vec<Cmd>,
    pub(super) part: Affine,
}

impl Sketch {
    fn new() -> Sketch {
        Sketch {
            cmds: Vec::new(),
            part: Affine::IDENTITY,
        }
    }

    pub(super) fn push(&mut self, geom: Geom, ink: Ink, alpha: f32, mask: bool) {
        self.cmds.push(Cmd {
            geom,
            part: self.part,
            ink,
            alpha,
            mask,
        });
    }

    /// A filled piece with its outline.
    pub(super) fn shape(&mut self, pts: Vec<Pt>, ink: Ink) {
        self.push(Geom::Fill(vec![pts.clone()]), ink, 1.0, true);
        self.outline(pts);
    }

    /// A filled piece with holes (even-odd), with outlines.
    pub(super) fn shape_holes(&mut self, contours: Vec<Vec<Pt>>, ink: Ink) {
        self.push(Geom::Fill(contours.clone()), ink, 1.0, true);
        for c in contours {
            self.outline(c);
        }
    }

    /// A filled piece without an outline.
    pub(super) fn fill(&mut self, pts: Vec<Pt>, ink: Ink) {
        self.push(Geom::Fill(vec![pts]), ink, 1.0, true);
    }

    pub(super) fn outline(&mut self, pts: Vec<Pt>) {
        self.push(
            Geom::Stroke {
                line: pts,
                closed: true,
                width: OUT,
            },
            Ink::Outline,
            1.0,
            true,
        );
    }

    /// A thick line that is part of the item.
    pub(super) fn line(&mut self, pts: Vec<Pt>, width: f32, ink: Ink) {
        self.push(
            Geom::Stroke {
                line: pts,
                closed: false,
                width,
            },
            ink,
            1.0,
            true,
        );
    }

    /// A strap or handle: a thick line with an outline.
    pub(super) fn band(&mut self, pts: Vec<Pt>, width: f32, ink: Ink) {
        self.line(pts.clone(), width + 2.0 * OUT, Ink::Outline);
        self.line(pts, width, ink);
    }

    /// A seam line drawn over the item.
    pub(super) fn seam(&mut self, pts: Vec<Pt>) {
        self.push(
            Geom::Stroke {
                line: pts,
                closed: false,
                width: 0.011,
            },
            Ink::Outline,
            0.75,
            false,
        );
    }

    /// A soft translucent shading line (a fold); `dark` false makes a highlight.
    pub(super) fn fold(&mut self, pts: Vec<Pt>, dark: bool) {
        let c = if dark { [0.0; 3] } else { [1.0; 3] };
        let a = if dark { 0.07 } else { 0.045 };
        for w in [0.08, 0.04] {
            self.push(
                Geom::Stroke {
                    line: pts.clone(),
                    closed: false,
                    width: w,
                },
                Ink::Flat(c),
                a,
                false,
            );
        }
    }

    /// A translucent shaded region (no outline, not in the mask).
    pub(super) fn tint(&mut self, pts: Vec<Pt>, c: Rgb, alpha: f32) {
        self.push(Geom::Fill(vec![pts]), Ink::Flat(c), alpha, false);
    }

    /// A dashed stitch line.
    pub(super) fn stitch(&mut self, pts: &[Pt], colour: Rgb) {
        let (dash, gap) = (0.028, 0.02);
        let mut cur: Vec<Pt> = Vec::new();
        let mut t = 0.0f32;
        let mut on = true;
        for w in pts.windows(2) {
            let (a, b) = (w[0], w[1]);
            let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
            let mut s = 0.0f32;
            while s < len {
                let limit = if on { dash } else { gap };
                let step = (limit - t).min(len - s);
                let p0 = lerp(a, b, s / len.max(1e-6));
                let p1 = lerp(a, b, (s + step) / len.max(1e-6));
                if on {
                    if cur.is_empty() {
                        cur.push(p0);
                    }
                    cur.push(p1);
                }
                s += step;
                t += step;
                if t >= limit - 1e-6 {
                    if on && cur.len() > 1 {
                        let line = std::mem::take(&mut cur);
                        self.push(
                            Geom::Stroke {
                                line,
                                closed: false,
                                width: 0.008,
                            },
                            Ink::Flat(colour),
                            0.85,
                            false,
                        );
                    }
                    cur.clear();
                    on = !on;
                    t = 0.0;
                }
            }
        }
    }

    /// Runs `f` with `part` applied (inside the current part) to what it draws.
    pub(super) fn with(&mut self, part: Affine, f: impl FnOnce(&mut Sketch)) {
        let old = self.part;
        self.part = part.then(old);
        f(self);
        self.part = old;
    }

    /// Bounds of the item pieces (what the mask will cover).
    pub(super) fn bounds(&self) -> (Pt, Pt) {
        let (mut lo, mut hi) = (
            (f32::INFINITY, f32::INFINITY),
            (f32::NEG_INFINITY, f32::NEG_INFINITY),
        );
        let mut add = |p: Pt, r: f32| {
            lo = (lo.0.min(p.0 - r), lo.1.min(p.1 - r));
            hi = (hi.0.max(p.0 + r), hi.1.max(p.1 + r));
        };
        for cmd in self.cmds.iter().filter(|c| c.mask) {
            let r = match &cmd.geom {
                Geom::Fill(_) => 0.0,
                Geom::Stroke { width, .. } => 0.5 * width * cmd.part.scale_factor(),
            };
            let pts: Box<dyn Iterator<Item = &Pt>> = match &cmd.geom {
                Geom::Fill(cs) => Box::new(cs.iter().flatten()),
                Geom::Stroke { line, .. } => Box::new(line.iter()),
            };
            for p in pts {
                add(cmd.part.apply(*p), r);
            }
        }
        if lo.0 > hi.0 {
            ((-1.0, -1.0), (1.0, 1.0))
        } else {
            (lo, hi)
        }
    }
}

/// The point a fraction `t` of the way along a polyline (by length).
pub(super) fn along_line(pts: &[Pt], t: f32) -> Pt {
    let lens: Vec<f32> = pts
        .windows(2)
        .map(|w| ((w[1].0 - w[0].0).powi(2) + (w[1].1 - w[0].1).powi(2)).sqrt())
        .collect();
    let total: f32 = lens.iter().sum();
    let mut goal = t.clamp(0.0, 1.0) * total;
    for (i, &l) in lens.iter().enumerate() {
        if goal <= l && l > 0.0 {
            return lerp(pts[i], pts[i + 1], goal / l);
        }
        goal -= l;
    }
    pts.last().copied().unwrap_or((0.0, 0.0))
}

pub(super) fn lerp(a: Pt, b: Pt, t: f32) -> Pt {
    (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t)
}

pub(super) fn add(a: Pt, b: Pt) -> Pt {
    (a.0 + b.0, a.1 + b.1)
}

pub(super) fn mul(a: Pt, k: f32) -> Pt {
    (a.0 * k, a.1 * k)
}

/// The mirror image of `pts` across x = 0.
pub(super) fn mirror(pts: &[Pt]) -> Vec<Pt> {
    pts.iter().map(|p| (-p.0, p.1)).collect()
}

/// A symmetric outline from its right half, listed from the top centre clockwise down to
/// the bottom centre.
pub(super) fn symmetric(right: &[Pt]) -> Vec<Pt> {
    let mut out = right.to_vec();
    out.extend(right.iter().rev().map(|p| (-p.0, p.1)));
    out
}

/// Concatenates point runs.
pub(super) fn join(parts: &[&[Pt]]) -> Vec<Pt> {
    parts.iter().flat_map(|p| p.iter().copied()).collect()
}

/// Builds the sketch of a garment; `swing` moves sleeves, legs, skirts and straps.
pub(super) fn build(spec: &GarmentSpec, swing: f32) -> Sketch {
    let mut s = Sketch::new();
    let g = Garment {
        spec,
        v: Var(spec.variant),
        swing,
        stitch: if spec.texture == Texture::Denim {
            rgb8(222, 160, 70)
        } else {
            mix(spec.colour.rgb(), [0.1; 3], 0.45)
        },
        accent: accent_of(spec.colour, Var(spec.variant).pick(11, 3)),
    };
    match spec.subtype.category() {
        Category::Top | Category::Outerwear => g.upper(&mut s),
        Category::Dress => g.dress(&mut s),
        Category::Trousers | Category::Shorts => g.legwear(&mut s),
        Category::Skirt => g.skirt(&mut s),
        Category::Shoes | Category::Boots => g.footwear(&mut s),
        Category::Bag => g.bag(&mut s),
        Category::Hat => g.hat(&mut s),
        Category::Scarf => g.scarf(&mut s),
        Category::Eyewear => g.eyewear(&mut s),
    }
    s
}

/// What the drawing functions need to know about the item.
pub(super) struct Garment<'a> {
    pub(super) spec: &'a GarmentSpec,
    pub(super) v: Var,
    pub(super) swing: f32,
    pub(super) stitch: Rgb,
    pub(super) accent: Rgb,
}

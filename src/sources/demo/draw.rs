//! A small anti-aliased rasteriser for the demo catalogue.
//!
//! The demo garments are vector drawings (polygons, ellipses, curves, thick lines) filled
//! with solid colours or with texture functions evaluated in the garment's own coordinates,
//! so a striped sleeve keeps its stripes when the sleeve swings. Nothing here needs a GPU or
//! a font: a scanline filler with an edge list computes exact horizontal coverage on four
//! sub-rows per pixel row, which is fast (a 256 px garment takes a few milliseconds on one
//! core) and deterministic (no threads, no clocks, no hashing of addresses).
//!
//! Besides colour, the [`Canvas`] keeps an *item mask*: the coverage of every shape drawn
//! with [`Style::mask`] set, so tests and later mask-quality checks know exactly which
//! pixels belong to the item and which to the background or its shadow.

/// A linear RGB colour with channels in 0..=1.
pub type Rgb = [f32; 3];

/// A point (x, y); y grows downwards as in images.
pub type Pt = (f32, f32);

/// The colour of 8-bit sRGB-ish values, for writing palettes as people read them.
pub const fn rgb8(r: u8, g: u8, b: u8) -> Rgb {
    [r as f32 / 255.0, g as f32 / 255.0, b as f32 / 255.0]
}

/// `a` blended towards `b` by `t` (0 → a, 1 → b).
pub fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

/// `c` with every channel multiplied by `k`.
pub fn scale(c: Rgb, k: f32) -> Rgb {
    [c[0] * k, c[1] * k, c[2] * k]
}

/// Perceived brightness of `c`, 0..=1.
pub fn luma(c: Rgb) -> f32 {
    0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
}

/// Hermite smoothstep from `e0` to `e1`.
pub fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// A well-mixed hash of a lattice point and a seed, in 0..1.
pub fn hash2(x: i32, y: i32, seed: u32) -> f32 {
    let mut h = (x as u32).wrapping_mul(0x8da6_b343)
        ^ (y as u32).wrapping_mul(0xd816_3841)
        ^ seed.wrapping_mul(0xcb1a_b31f);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2c1b_3c6d);
    h ^= h >> 12;
    h = h.wrapping_mul(0x297a_2d39);
    h ^= h >> 15;
    (h >> 8) as f32 / (1u32 << 24) as f32
}

/// Smooth value noise in 0..1 with one lattice cell per unit of `x` and `y`.
pub fn value_noise(x: f32, y: f32, seed: u32) -> f32 {
    let (fx, fy) = (x.floor(), y.floor());
    let (ix, iy) = (fx as i32, fy as i32);
    let (tx, ty) = (x - fx, y - fy);
    let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
    let a = hash2(ix, iy, seed);
    let b = hash2(ix + 1, iy, seed);
    let c = hash2(ix, iy + 1, seed);
    let d = hash2(ix + 1, iy + 1, seed);
    let top = a + (b - a) * sx;
    let bottom = c + (d - c) * sx;
    top + (bottom - top) * sy
}

/// A 2D affine transform: `x' = a·x + b·y + c`, `y' = d·x + e·y + f`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    pub m: [f32; 6],
}

impl Affine {
    /// The transform that changes nothing.
    pub const IDENTITY: Affine = Affine {
        m: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
    };

    /// A shift by (tx, ty).
    pub fn translate(tx: f32, ty: f32) -> Affine {
        Affine {
            m: [1.0, 0.0, tx, 0.0, 1.0, ty],
        }
    }

    /// A scaling about the origin.
    pub fn scale(sx: f32, sy: f32) -> Affine {
        Affine {
            m: [sx, 0.0, 0.0, 0.0, sy, 0.0],
        }
    }

    /// A rotation about the origin by `rad` (clockwise on screen, since y points down).
    pub fn rotate(rad: f32) -> Affine {
        let (s, c) = rad.sin_cos();
        Affine {
            m: [c, -s, 0.0, s, c, 0.0],
        }
    }

    /// A horizontal shear: `x' = x + k·y`.
    pub fn shear_x(k: f32) -> Affine {
        Affine {
            m: [1.0, k, 0.0, 0.0, 1.0, 0.0],
        }
    }

    /// A rotation by `rad` about `pivot`.
    pub fn rotate_about(pivot: Pt, rad: f32) -> Affine {
        Affine::translate(-pivot.0, -pivot.1)
            .then(Affine::rotate(rad))
            .then(Affine::translate(pivot.0, pivot.1))
    }

    /// `self` followed by `after`.
    pub fn then(self, after: Affine) -> Affine {
        let [a, b, c, d, e, f] = self.m;
        let [p, q, r, s, t, u] = after.m;
        Affine {
            m: [
                p * a + q * d,
                p * b + q * e,
                p * c + q * f + r,
                s * a + t * d,
                s * b + t * e,
                s * c + t * f + u,
            ],
        }
    }

    /// Where `p` goes.
    pub fn apply(&self, p: Pt) -> Pt {
        let [a, b, c, d, e, f] = self.m;
        (a * p.0 + b * p.1 + c, d * p.0 + e * p.1 + f)
    }

    /// The inverse transform (the identity for a degenerate one).
    pub fn inverse(&self) -> Affine {
        let [a, b, c, d, e, f] = self.m;
        let det = a * e - b * d;
        if det.abs() < 1e-12 {
            return Affine::IDENTITY;
        }
        let inv = 1.0 / det;
        Affine {
            m: [
                e * inv,
                -b * inv,
                (b * f - e * c) * inv,
                -d * inv,
                a * inv,
                (d * c - a * f) * inv,
            ],
        }
    }

    /// The mean length scale of the transform (square root of |det|).
    pub fn scale_factor(&self) -> f32 {
        let [a, b, _, d, e, _] = self.m;
        (a * e - b * d).abs().sqrt()
    }
}

/// What a shape is filled with.
pub enum Paint<'a> {
    /// One colour.
    Solid(Rgb),
    /// A colour per point, given in the shape's own (untransformed) coordinates.
    Shader(&'a dyn Fn(f32, f32) -> Rgb),
}

/// How a shape is composited.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Style {
    /// Opacity of the colour, 0..=1.
    pub alpha: f32,
    /// Whether the shape's coverage joins the item mask.
    pub mask: bool,
}

impl Style {
    /// Opaque and part of the item.
    pub const ITEM: Style = Style {
        alpha: 1.0,
        mask: true,
    };
    /// Opaque and not part of the item (backgrounds).
    pub const BACKGROUND: Style = Style {
        alpha: 1.0,
        mask: false,
    };

    /// Translucent and not part of the item (shading, shadows).
    pub fn overlay(alpha: f32) -> Style {
        Style { alpha, mask: false }
    }
}

/// Sub-rows sampled per pixel row.
const SUBROWS: usize = 4;

#[derive(Debug, Clone, Copy)]
struct Edge {
    y0: f32,
    y1: f32,
    x0: f32,
    dxdy: f32,
    dir: i32,
}

/// Fill rule for overlapping contours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    EvenOdd,
    NonZero,
}

/// The scanline filler's scratch buffers, reused between shapes.
#[derive(Debug, Default)]
struct Rasterizer {
    edges: Vec<Edge>,
    active: Vec<usize>,
    crossings: Vec<(f32, i32)>,
    cover: Vec<f32>,
    diff: Vec<f32>,
}

impl Rasterizer {
    /// Calls `emit(x, y, coverage)` for every pixel the device-space contours touch.
    fn raster(
        &mut self,
        contours: &[Vec<Pt>],
        rule: Rule,
        w: usize,
        h: usize,
        mut emit: impl FnMut(usize, usize, f32),
    ) {
        self.edges.clear();
        let (mut ymin, mut ymax) = (f32::INFINITY, f32::NEG_INFINITY);
        for c in contours {
            let n = c.len();
            if n < 3 {
                continue;
            }
            for i in 0..n {
                let (p, q) = (c[i], c[(i + 1) % n]);
                if !(p.0.is_finite() && p.1.is_finite() && q.0.is_finite() && q.1.is_finite()) {
                    continue;
                }
                if p.1 == q.1 {
                    continue;
                }
                let (top, bot, dir) = if p.1 < q.1 { (p, q, 1) } else { (q, p, -1) };
                self.edges.push(Edge {
                    y0: top.1,
                    y1: bot.1,
                    x0: top.0,
                    dxdy: (bot.0 - top.0) / (bot.1 - top.1),
                    dir,
                });
                ymin = ymin.min(top.1);
                ymax = ymax.max(bot.1);
            }
        }
        if self.edges.is_empty() || ymax <= 0.0 || ymin >= h as f32 {
            return;
        }
        self.edges.sort_unstable_by(|a, b| a.y0.total_cmp(&b.y0));
        if self.cover.len() < w + 2 {
            self.cover.resize(w + 2, 0.0);
            self.diff.resize(w + 2, 0.0);
        }
        let row0 = ymin.max(0.0).floor() as usize;
        let row1 = (ymax.ceil().max(0.0) as usize).min(h);
        let weight = 1.0 / SUBROWS as f32;
        let wf = w as f32;
        self.active.clear();
        let mut next = 0;
        for row in row0..row1 {
            let (mut lo, mut hi) = (usize::MAX, 0usize);
            for s in 0..SUBROWS {
                let y = row as f32 + (s as f32 + 0.5) * weight;
                while next < self.edges.len() && self.edges[next].y0 <= y {
                    self.active.push(next);
                    next += 1;
                }
                let edges = &self.edges;
                self.active.retain(|&i| edges[i].y1 > y);
                self.crossings.clear();
                for &i in &self.active {
                    let e = &edges[i];
                    if e.y0 <= y {
                        self.crossings.push((e.x0 + (y - e.y0) * e.dxdy, e.dir));
                    }
                }
                self.crossings.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
                let mut wind = 0i32;
                let mut start = 0.0f32;
                for k in 0..self.crossings.len() {
                    let (x, dir) = self.crossings[k];
                    let before = wind;
                    wind = match rule {
                        Rule::NonZero => wind + dir,
                        Rule::EvenOdd => wind ^ 1,
                    };
                    if before == 0 && wind != 0 {
                        start = x;
                    } else if before != 0 && wind == 0 {
                        let (xa, xb) = (start.clamp(0.0, wf), x.clamp(0.0, wf));
                        if xb <= xa {
                            continue;
                        }
                        let (ia, ib) = (xa as usize, xb as usize);
                        if ia == ib {
                            self.cover[ia] += (xb - xa) * weight;
                        } else {
                            self.cover[ia] += (ia as f32 + 1.0 - xa) * weight;
                            self.diff[ia + 1] += weight;
                            self.diff[ib] -= weight;
                            self.cover[ib] += (xb - ib as f32) * weight;
                        }
                        lo = lo.min(ia);
                        hi = hi.max(ib);
                    }
                }
            }
            if lo == usize::MAX {
                continue;
            }
            let mut run = 0.0;
            for x in lo..=(hi + 1).min(w + 1) {
                run += self.diff[x];
                let c = (self.cover[x] + run).min(1.0);
                self.cover[x] = 0.0;
                self.diff[x] = 0.0;
                if x < w && c > 1.0 / 512.0 {
                    emit(x, row, c);
                }
            }
        }
    }
}

/// An RGB image being drawn, with the item's coverage mask.
#[derive(Debug)]
pub struct Canvas {
    width: usize,
    height: usize,
    rgb: Vec<Rgb>,
    mask: Vec<f32>,
    ras: Rasterizer,
}

impl Canvas {
    /// A canvas filled with `background` and an empty mask.
    pub fn new(width: u32, height: u32, background: Rgb) -> Canvas {
        let (w, h) = (width as usize, height as usize);
        Canvas {
            width: w,
            height: h,
            rgb: vec![background; w * h],
            mask: vec![0.0; w * h],
            ras: Rasterizer::default(),
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width as u32
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height as u32
    }

    /// The colour at pixel (x, y), black outside the canvas.
    pub fn pixel(&self, x: u32, y: u32) -> Rgb {
        let (x, y) = (x as usize, y as usize);
        if x < self.width && y < self.height {
            self.rgb[y * self.width + x]
        } else {
            [0.0; 3]
        }
    }

    /// The item coverage at pixel (x, y), 0 outside the canvas.
    pub fn mask_at(&self, x: u32, y: u32) -> f32 {
        let (x, y) = (x as usize, y as usize);
        if x < self.width && y < self.height {
            self.mask[y * self.width + x]
        } else {
            0.0
        }
    }

    /// Rewrites every pixel with `f(x, y, colour)` (gradients, grain, colour casts).
    pub fn map_pixels(&mut self, mut f: impl FnMut(u32, u32, Rgb) -> Rgb) {
        for y in 0..self.height {
            for x in 0..self.width {
                let i = y * self.width + x;
                self.rgb[i] = f(x as u32, y as u32, self.rgb[i]);
            }
        }
    }

    /// Fills the contours (even-odd rule, so an inner contour makes a hole), given in local
    /// coordinates that `xf` maps to pixels; the paint is evaluated in local coordinates.
    pub fn fill(&mut self, contours: &[Vec<Pt>], xf: &Affine, paint: &Paint, style: Style) {
        let device: Vec<Vec<Pt>> = contours
            .iter()
            .map(|c| c.iter().map(|&p| xf.apply(p)).collect())
            .collect();
        self.fill_device(&device, Rule::EvenOdd, &xf.inverse(), paint, style);
    }

    /// Strokes a polyline (closed if `closed`) of `width` local units with round joins and
    /// caps; `xf` maps local coordinates to pixels and the paint sees local coordinates.
    pub fn stroke(
        &mut self,
        line: &[Pt],
        closed: bool,
        width: f32,
        xf: &Affine,
        paint: &Paint,
        style: Style,
    ) {
        let device: Vec<Pt> = line.iter().map(|&p| xf.apply(p)).collect();
        let half = 0.5 * width * xf.scale_factor();
        let polys = stroke_polygons(&device, closed, half);
        self.fill_device(&polys, Rule::NonZero, &xf.inverse(), paint, style);
    }

    fn fill_device(
        &mut self,
        device: &[Vec<Pt>],
        rule: Rule,
        inv: &Affine,
        paint: &Paint,
        style: Style,
    ) {
        let Canvas {
            width,
            height,
            rgb,
            mask,
            ras,
        } = self;
        let w = *width;
        let alpha = style.alpha.clamp(0.0, 1.0);
        ras.raster(device, rule, w, *height, |x, y, cov| {
            let i = y * w + x;
            let colour = match paint {
                Paint::Solid(c) => *c,
                Paint::Shader(f) => {
                    let (lx, ly) = inv.apply((x as f32 + 0.5, y as f32 + 0.5));
                    f(lx, ly)
                }
            };
            let a = cov * alpha;
            let dst = &mut rgb[i];
            for ch in 0..3 {
                dst[ch] += (colour[ch].clamp(0.0, 1.0) - dst[ch]) * a;
            }
            if style.mask {
                let m = &mut mask[i];
                *m += cov * (1.0 - *m);
            }
        });
    }

    /// Darkens the canvas under a blurred copy of `source`'s item mask shifted by `offset`
    /// pixels: a soft drop shadow. Strength 0..1 is the darkening under a solid interior;
    /// this canvas's own mask is left alone.
    pub fn shadow(&mut self, source: &Canvas, offset: (f32, f32), radius: f32, strength: f32) {
        let (w, h) = (self.width, self.height);
        if source.width != w || source.height != h || w == 0 || h == 0 {
            return;
        }
        let r = radius.round().max(1.0) as usize;
        let mut buf = source.mask.clone();
        let mut tmp = vec![0.0f32; w * h];
        for _ in 0..2 {
            box_blur(&buf, &mut tmp, w, h, r, true);
            box_blur(&tmp, &mut buf, w, h, r, false);
        }
        let (dx, dy) = (offset.0.round() as isize, offset.1.round() as isize);
        for y in 0..h {
            let sy = y as isize - dy;
            if sy < 0 || sy >= h as isize {
                continue;
            }
            for x in 0..w {
                let sx = x as isize - dx;
                if sx < 0 || sx >= w as isize {
                    continue;
                }
                let b = buf[sy as usize * w + sx as usize];
                if b > 0.0 {
                    let k = 1.0 - strength * b.min(1.0);
                    let c = &mut self.rgb[y * w + x];
                    *c = [c[0] * k, c[1] * k, c[2] * k];
                }
            }
        }
    }

    /// The colours as an 8-bit RGB image.
    pub fn to_rgb_image(&self) -> image::RgbImage {
        let mut raw = Vec::with_capacity(self.rgb.len() * 3);
        for c in &self.rgb {
            for ch in c {
                raw.push((ch.clamp(0.0, 1.0) * 255.0 + 0.5) as u8);
            }
        }
        image::RgbImage::from_raw(self.width as u32, self.height as u32, raw)
            .unwrap_or_else(|| image::RgbImage::new(self.width as u32, self.height as u32))
    }

    /// The item mask as an 8-bit image (0 background, 255 item).
    pub fn mask_image(&self) -> image::GrayImage {
        let raw = self
            .mask
            .iter()
            .map(|m| (m.clamp(0.0, 1.0) * 255.0 + 0.5) as u8)
            .collect();
        image::GrayImage::from_raw(self.width as u32, self.height as u32, raw)
            .unwrap_or_else(|| image::GrayImage::new(self.width as u32, self.height as u32))
    }
}

/// One box-blur pass of radius `r` along rows (`horizontal`) or columns, edges clamped.
fn box_blur(src: &[f32], dst: &mut [f32], w: usize, h: usize, r: usize, horizontal: bool) {
    let (lines, len, step_line, step) = if horizontal {
        (h, w, w, 1)
    } else {
        (w, h, 1, w)
    };
    let norm = 1.0 / (2 * r + 1) as f32;
    for l in 0..lines {
        let base = l * step_line;
        let at = |i: isize| src[base + (i.clamp(0, len as isize - 1) as usize) * step];
        let mut sum: f32 = (-(r as isize)..=r as isize).map(at).sum();
        for i in 0..len {
            dst[base + i * step] = sum * norm;
            let i = i as isize;
            sum += at(i + r as isize + 1) - at(i - r as isize);
        }
    }
}

/// The polygons of a round-jointed stroke of half-width `half` along `line` (device space),
/// all wound the same way so the non-zero rule unites them.
fn stroke_polygons(line: &[Pt], closed: bool, half: f32) -> Vec<Vec<Pt>> {
    let mut out = Vec::new();
    if line.is_empty() || half <= 0.0 {
        return out;
    }
    let sides = if half < 1.5 {
        6
    } else if half < 4.0 {
        10
    } else {
        16
    };
    let n = line.len();
    let segs = if closed { n } else { n.saturating_sub(1) };
    for i in 0..segs {
        let (p, q) = (line[i], line[(i + 1) % n]);
        let (dx, dy) = (q.0 - p.0, q.1 - p.1);
        let len = (dx * dx + dy * dy).sqrt();
        if len < 1e-6 {
            continue;
        }
        let (nx, ny) = (-dy / len * half, dx / len * half);
        out.push(vec![
            (p.0 + nx, p.1 + ny),
            (q.0 + nx, q.1 + ny),
            (q.0 - nx, q.1 - ny),
            (p.0 - nx, p.1 - ny),
        ]);
    }
    for &p in line {
        out.push(ellipse(p, half, half, sides));
    }
    for poly in &mut out {
        if signed_area(poly) < 0.0 {
            poly.reverse();
        }
    }
    out
}

/// Twice the signed area of a polygon.
fn signed_area(poly: &[Pt]) -> f32 {
    let n = poly.len();
    (0..n)
        .map(|i| {
            let (a, b) = (poly[i], poly[(i + 1) % n]);
            a.0 * b.1 - b.0 * a.1
        })
        .sum()
}

/// An ellipse as a polygon of `n` vertices.
pub fn ellipse(c: Pt, rx: f32, ry: f32, n: usize) -> Vec<Pt> {
    let n = n.max(3);
    (0..n)
        .map(|i| {
            let a = i as f32 / n as f32 * std::f32::consts::TAU;
            (c.0 + rx * a.cos(), c.1 + ry * a.sin())
        })
        .collect()
}

/// Points on an elliptic arc from angle `a0` to `a1` (radians, y down), `n` segments.
pub fn arc(c: Pt, rx: f32, ry: f32, a0: f32, a1: f32, n: usize) -> Vec<Pt> {
    let n = n.max(1);
    (0..=n)
        .map(|i| {
            let a = a0 + (a1 - a0) * i as f32 / n as f32;
            (c.0 + rx * a.cos(), c.1 + ry * a.sin())
        })
        .collect()
}

/// An axis-aligned rectangle with corners rounded by `r`.
pub fn rounded_rect(x0: f32, y0: f32, x1: f32, y1: f32, r: f32) -> Vec<Pt> {
    let r = r
        .min(0.5 * (x1 - x0).abs())
        .min(0.5 * (y1 - y0).abs())
        .max(0.0);
    if r <= 0.0 {
        return vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1)];
    }
    use std::f32::consts::{FRAC_PI_2, PI};
    let mut p = Vec::with_capacity(24);
    p.extend(arc((x1 - r, y0 + r), r, r, -FRAC_PI_2, 0.0, 5));
    p.extend(arc((x1 - r, y1 - r), r, r, 0.0, FRAC_PI_2, 5));
    p.extend(arc((x0 + r, y1 - r), r, r, FRAC_PI_2, PI, 5));
    p.extend(arc((x0 + r, y0 + r), r, r, PI, 1.5 * PI, 5));
    p
}

/// Points along a quadratic Bézier curve from `a` to `b` with control `c` (both ends kept).
pub fn quad(a: Pt, c: Pt, b: Pt, n: usize) -> Vec<Pt> {
    let n = n.max(1);
    (0..=n)
        .map(|i| {
            let t = i as f32 / n as f32;
            let u = 1.0 - t;
            (
                u * u * a.0 + 2.0 * u * t * c.0 + t * t * b.0,
                u * u * a.1 + 2.0 * u * t * c.1 + t * t * b.1,
            )
        })
        .collect()
}

/// Points along a cubic Bézier curve from `a` to `b` with controls `c1`, `c2`.
pub fn cubic(a: Pt, c1: Pt, c2: Pt, b: Pt, n: usize) -> Vec<Pt> {
    let n = n.max(1);
    (0..=n)
        .map(|i| {
            let t = i as f32 / n as f32;
            let u = 1.0 - t;
            let (k0, k1, k2, k3) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
            (
                k0 * a.0 + k1 * c1.0 + k2 * c2.0 + k3 * b.0,
                k0 * a.1 + k1 * c1.1 + k2 * c2.1 + k3 * b.1,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rectangle_covers_its_pixels_exactly() {
        let mut c = Canvas::new(10, 10, [1.0; 3]);
        let rect = vec![(2.0, 2.0), (6.0, 2.0), (6.0, 5.0), (2.0, 5.0)];
        c.fill(
            &[rect],
            &Affine::IDENTITY,
            &Paint::Solid([0.0; 3]),
            Style::ITEM,
        );
        assert_eq!(c.pixel(3, 3), [0.0; 3]);
        assert_eq!(c.pixel(1, 3), [1.0; 3]);
        assert_eq!(c.pixel(6, 3), [1.0; 3]);
        let total: f32 = (0..10)
            .flat_map(|y| (0..10).map(move |x| (x, y)))
            .map(|(x, y)| c.mask_at(x, y))
            .sum();
        assert!((total - 12.0).abs() < 1e-3, "{total}");
    }

    #[test]
    fn half_covered_pixels_are_blended() {
        let mut c = Canvas::new(4, 4, [1.0; 3]);
        let rect = vec![(0.0, 0.0), (1.5, 0.0), (1.5, 4.0), (0.0, 4.0)];
        c.fill(
            &[rect],
            &Affine::IDENTITY,
            &Paint::Solid([0.0; 3]),
            Style::ITEM,
        );
        assert!((c.pixel(1, 1)[0] - 0.5).abs() < 1e-3);
        assert!((c.mask_at(1, 1) - 0.5).abs() < 1e-3);
    }

    #[test]
    fn an_inner_contour_makes_a_hole() {
        let mut c = Canvas::new(20, 20, [1.0; 3]);
        let outer = ellipse((10.0, 10.0), 8.0, 8.0, 32);
        let inner = ellipse((10.0, 10.0), 4.0, 4.0, 32);
        c.fill(
            &[outer, inner],
            &Affine::IDENTITY,
            &Paint::Solid([0.0; 3]),
            Style::ITEM,
        );
        assert_eq!(c.mask_at(10, 10), 0.0);
        assert!(c.mask_at(10, 3) > 0.99);
    }

    #[test]
    fn strokes_cover_their_width_and_transforms_invert() {
        let mut c = Canvas::new(20, 20, [1.0; 3]);
        let xf = Affine::scale(2.0, 2.0).then(Affine::translate(1.0, 0.0));
        c.stroke(
            &[(1.0, 5.0), (8.0, 5.0)],
            false,
            1.0,
            &xf,
            &Paint::Solid([0.0; 3]),
            Style::ITEM,
        );
        assert!(c.mask_at(8, 10) > 0.99 && c.mask_at(8, 9) > 0.99);
        assert_eq!(c.mask_at(8, 12), 0.0);
        let r = Affine::rotate(0.7)
            .then(Affine::translate(3.0, -2.0))
            .then(Affine::shear_x(0.3));
        let p = r.inverse().apply(r.apply((1.5, -4.0)));
        assert!((p.0 - 1.5).abs() < 1e-4 && (p.1 + 4.0).abs() < 1e-4);
    }

    #[test]
    fn shaders_see_local_coordinates() {
        let mut c = Canvas::new(8, 8, [1.0; 3]);
        let xf = Affine::scale(8.0, 8.0);
        let shader = |x: f32, _y: f32| {
            if x < 0.5 {
                [1.0, 0.0, 0.0]
            } else {
                [0.0, 0.0, 1.0]
            }
        };
        let square = vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)];
        c.fill(&[square], &xf, &Paint::Shader(&shader), Style::ITEM);
        assert_eq!(c.pixel(1, 4), [1.0, 0.0, 0.0]);
        assert_eq!(c.pixel(6, 4), [0.0, 0.0, 1.0]);
    }
}

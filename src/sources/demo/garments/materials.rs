//! Materials: what a piece of a sketch is painted with (the garment's colour and texture,
//! lit; ribs, lining, metal, lenses), and `Var`, the proportions drawn from a spec's
//! variant number.

use super::labels::{Colour, Subtype as S, Texture};
use super::spec::GarmentSpec;
use crate::sources::demo::draw::{Rgb, hash2, luma, mix, rgb8, scale, smoothstep, value_noise};
use std::f32::consts::TAU;

/// What a piece of a sketch is painted with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Ink {
    /// The garment's material (colour and texture), darkened or lightened by the factor.
    Main(f32),
    /// The material with knitted ribs (cuffs, bands, beanies).
    Rib(f32),
    /// The inside of the garment (lining seen through an opening).
    Inner,
    /// A fixed colour, lit like the material.
    Plain(Rgb),
    /// A fixed colour, unlit.
    Flat(Rgb),
    /// The darker outline colour.
    Outline,
    /// Polished metal (buckles, zips, rivets).
    Metal,
    /// A tinted sunglass lens.
    Lens,
    /// A clear spectacle lens.
    Glass,
}

/// How the material's surface modulates its texture.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Finish {
    Plain,
    Knit,
    Satin,
}

pub(super) struct Material {
    base: Rgb,
    accent: Rgb,
    pub(super) outline: Rgb,
    metal: Rgb,
    texture: Texture,
    finish: Finish,
    seed: u32,
    period: f32,
    vertical: bool,
}

impl Material {
    pub(super) fn new(spec: &GarmentSpec) -> Material {
        let base = spec.colour.rgb();
        let v = Var(spec.variant);
        let accent = accent_of(spec.colour, v.pick(11, 3));
        let finish = match spec.subtype {
            S::Sweater | S::Beanie => Finish::Knit,
            S::SlipDress => Finish::Satin,
            _ => Finish::Plain,
        };
        let vertical = matches!(
            spec.subtype,
            S::Shirt
                | S::StraightTrousers
                | S::WideLegTrousers
                | S::PencilSkirt
                | S::Coat
                | S::Tote
                | S::Handbag
        ) && v.f(12) < 0.6;
        let metal = if v.f(13) < 0.5 {
            rgb8(214, 178, 86)
        } else {
            rgb8(196, 198, 204)
        };
        Material {
            base,
            accent,
            outline: if luma(base) < 0.2 {
                scale(base, 0.45)
            } else {
                mix(scale(base, 0.5), [0.1, 0.1, 0.12], 0.25)
            },
            metal,
            texture: spec.texture,
            finish,
            seed: spec.variant,
            period: v.range(14, 0.09, 0.17),
            vertical,
        }
    }

    /// Light from the top left, a soft vertical gradient.
    fn light(x: f32, y: f32) -> f32 {
        (1.0 - 0.05 * x - 0.08 * y).clamp(0.82, 1.12)
    }

    fn fabric(&self, x: f32, y: f32) -> Rgb {
        let c = self.base;
        let seed = self.seed;
        let mut out = match self.texture {
            Texture::Solid => scale(c, 0.97 + 0.06 * value_noise(x * 40.0, y * 40.0, seed)),
            Texture::Striped => {
                let u = if self.vertical { x } else { y };
                let f = (u / self.period).rem_euclid(1.0);
                let e = 0.02 / self.period;
                let band = smoothstep(0.0, e, f) - smoothstep(0.42, 0.42 + e, f);
                mix(c, self.accent, band)
            }
            Texture::Checked => {
                let p = self.period * 1.2;
                let e = 0.018 / p;
                let band = |u: f32| {
                    let f = (u / p).rem_euclid(1.0);
                    smoothstep(0.0, e, f) - smoothstep(0.5, 0.5 + e, f)
                };
                let (bx, by) = (band(x), band(y));
                let pale = mix(c, self.accent, if luma(c) > 0.8 { 0.35 } else { 0.72 });
                let mut col = mix(pale, c, 0.5 * (bx + by));
                // a thin over-check line, as in tartan
                let fx = ((x / p) + 0.75).rem_euclid(1.0);
                let fy = ((y / p) + 0.75).rem_euclid(1.0);
                let line = (1.0 - smoothstep(0.0, 0.05, (fx - 0.5).abs()))
                    .max(1.0 - smoothstep(0.0, 0.05, (fy - 0.5).abs()));
                col = mix(col, scale(c, 0.55), 0.6 * line);
                col
            }
            Texture::Dotted => {
                let p = self.period * 0.8;
                let row = (y / p).floor();
                let shift = if (row as i32) & 1 == 1 { 0.5 } else { 0.0 };
                let fx = (x / p + shift).rem_euclid(1.0) - 0.5;
                let fy = (y / p).rem_euclid(1.0) - 0.5;
                let d = (fx * fx + fy * fy).sqrt() * p;
                let r = 0.22 * p;
                let t = 1.0 - smoothstep(r - 0.006, r + 0.006, d);
                mix(c, self.accent, t)
            }
            Texture::Denim => {
                let twill = 0.5 + 0.5 * ((x * 0.6 + y) * TAU * 34.0).sin();
                let slub = value_noise(x * 55.0, y * 7.0, seed);
                let fade = value_noise(x * 3.0, y * 2.0, seed ^ 0x55);
                // Indigo warp threads tinted by the colour, pale weft threads.
                let c = mix(c, rgb8(38, 58, 110), 0.2);
                let warp = scale(c, 0.9 + 0.1 * slub);
                let weft = mix(c, [0.93, 0.94, 0.97], 0.55);
                mix(warp, weft, 0.12 + 0.22 * twill * (0.5 + slub) + 0.1 * fade)
            }
            Texture::Leather => {
                let grain = 0.95 + 0.08 * value_noise(x * 70.0, y * 70.0, seed);
                let dx = x + 0.35;
                let dy = y + 0.4;
                let sheen = (-(dx * dx + dy * dy) / 0.16).exp();
                mix(scale(c, grain), [1.0; 3], 0.06 + 0.3 * sheen)
            }
        };
        match self.finish {
            Finish::Plain => {}
            Finish::Knit => out = scale(out, 0.93 + 0.07 * (x * TAU * 26.0).cos()),
            Finish::Satin => {
                let s = 0.5 + 0.5 * (x * 7.0 + y * 1.3).sin();
                out = mix(out, [1.0; 3], 0.22 * s * s * s);
            }
        }
        out
    }

    pub(super) fn ink(&self, ink: Ink, x: f32, y: f32) -> Rgb {
        let lit = |c: Rgb| scale(c, Material::light(x, y));
        match ink {
            Ink::Main(k) => lit(scale(self.fabric(x, y), k)),
            Ink::Rib(k) => {
                let rib = 0.88 + 0.12 * (x * TAU * 32.0).cos();
                lit(scale(self.fabric(x, y), k * rib))
            }
            Ink::Inner => {
                let inner = mix(self.base, [0.08, 0.08, 0.09], 0.55);
                scale(inner, 0.9 + 0.1 * value_noise(x * 9.0, y * 9.0, 3))
            }
            Ink::Plain(c) => lit(c),
            Ink::Flat(c) => c,
            Ink::Outline => self.outline,
            Ink::Metal => {
                let band = 0.5 + 0.5 * ((x - y) * 30.0).sin();
                scale(self.metal, 0.72 + 0.45 * band)
            }
            Ink::Lens => {
                let dark = mix([0.06, 0.07, 0.08], self.base, 0.12);
                let lx = x.abs() - 0.46;
                let streak = 1.0 - smoothstep(0.0, 0.05, (lx + y + 0.12).abs());
                let grad = 1.0 + 0.9 * (y + 0.2).max(0.0);
                mix(scale(dark, grad), [0.9, 0.92, 0.95], 0.35 * streak)
            }
            Ink::Glass => {
                let lx = x.abs() - 0.46;
                let streak = 1.0 - smoothstep(0.0, 0.05, (lx + y + 0.1).abs());
                mix([0.78, 0.84, 0.88], [1.0; 3], 0.8 * streak)
            }
        }
    }
}

/// A contrasting colour for stripes, dots, checks, logos and laces.
pub(super) fn accent_of(c: Colour, k: usize) -> Rgb {
    use Colour::*;
    let light = rgb8(245, 243, 236);
    match (c, k) {
        (White, 0) => Colour::Navy.rgb(),
        (White, 1) => Colour::Red.rgb(),
        (White, _) => Colour::Black.rgb(),
        (Yellow | Pink | Grey, 0) => Colour::Navy.rgb(),
        (Yellow | Pink | Grey, _) => light,
        (Black | Navy, 2) => Colour::Red.rgb(),
        (Red | Blue | Green | Purple, 2) => Colour::Navy.rgb(),
        (Brown | Orange, 2) => rgb8(60, 40, 25),
        _ => light,
    }
}

/// Deterministic proportions from the spec's variant number.
#[derive(Debug, Clone, Copy)]
pub(super) struct Var(pub(super) u32);

impl Var {
    /// A number in 0..1 for key `k`.
    pub(super) fn f(self, k: i32) -> f32 {
        hash2(self.0 as i32, k, 0x5eed_1234)
    }
    pub(super) fn range(self, k: i32, a: f32, b: f32) -> f32 {
        a + (b - a) * self.f(k)
    }
    pub(super) fn pick(self, k: i32, n: usize) -> usize {
        ((self.f(k) * n as f32) as usize).min(n.saturating_sub(1))
    }
}

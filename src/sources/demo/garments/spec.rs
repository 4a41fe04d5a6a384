//! [`GarmentSpec`]: what the labels say about one item, drawn at random or plain, its
//! labels, and every label the generator can emit ([`vocabulary`]).

use super::labels::{Category, Colour, Detail, Fit, Length, Sleeve, Subtype, Texture};
use crate::catalog::{Label, LabelGroup};
use rand::Rng;

/// Everything the labels say about one item, plus a `variant` that drives small shape
/// proportions (hem flare, heel height, stripe width…).
#[derive(Debug, Clone, PartialEq)]
pub struct GarmentSpec {
    pub subtype: Subtype,
    pub colour: Colour,
    pub texture: Texture,
    pub details: Vec<Detail>,
    pub sleeve: Option<Sleeve>,
    pub length: Option<Length>,
    pub fit: Option<Fit>,
    pub variant: u32,
}

/// Picks one of `items` with weights `odds` (the first item if all are zero).
fn weighted<T: Copy>(rng: &mut impl Rng, items: &[T], odds: &[u32]) -> Option<T> {
    let total: u32 = odds.iter().sum();
    if total == 0 {
        return items.first().copied();
    }
    let mut x = rng.random_range(0..total);
    for (item, &w) in items.iter().zip(odds) {
        if x < w {
            return Some(*item);
        }
        x -= w;
    }
    items.last().copied()
}

fn pick<T: Copy>(rng: &mut impl Rng, items: &[T]) -> Option<T> {
    if items.is_empty() {
        None
    } else {
        Some(items[rng.random_range(0..items.len())])
    }
}

impl GarmentSpec {
    /// The item's category.
    pub fn category(&self) -> Category {
        self.subtype.category()
    }

    /// A plausible random item: textures and colours that suit the subtype (denim for
    /// jeans and jackets, leather for shoes and bags), 0–3 details that make sense on it.
    pub fn random(rng: &mut impl Rng) -> GarmentSpec {
        let subtype = pick(rng, &Subtype::ALL).unwrap_or(Subtype::TShirt);
        let texture =
            weighted(rng, &Texture::ALL, &subtype.texture_odds()).unwrap_or(Texture::Solid);
        use Colour::*;
        let colour_odds: [u32; 12] = match texture {
            // black white grey navy blue red pink green yellow orange purple brown
            Texture::Denim => [3, 2, 2, 6, 10, 1, 1, 0, 0, 0, 0, 0],
            Texture::Leather => [8, 2, 1, 1, 1, 3, 1, 1, 0, 0, 1, 8],
            _ if subtype.category() == Category::Eyewear => [8, 1, 2, 1, 1, 2, 1, 1, 1, 0, 1, 4],
            _ => [3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2],
        };
        let colour = weighted(rng, &Colour::ALL, &colour_odds).unwrap_or(Black);
        let mut details = Vec::new();
        for &(d, p) in subtype.details() {
            let clash = subtype.exclusive().iter().any(|&(x, y)| {
                (d == x && details.contains(&y)) || (d == y && details.contains(&x))
            });
            if rng.random::<f32>() < p && details.len() < 3 && !clash {
                details.push(d);
            }
        }
        GarmentSpec {
            subtype,
            colour,
            texture,
            details,
            sleeve: pick(rng, subtype.sleeves()),
            length: pick(rng, subtype.lengths()),
            fit: pick(rng, subtype.fits()),
            variant: rng.random(),
        }
    }

    /// A simple spec (solid, no details, the first sleeve/length/fit the subtype has).
    pub fn plain(subtype: Subtype, colour: Colour) -> GarmentSpec {
        GarmentSpec {
            subtype,
            colour,
            texture: Texture::Solid,
            details: Vec::new(),
            sleeve: subtype.sleeves().first().copied(),
            length: subtype.lengths().first().copied(),
            fit: subtype.fits().first().copied(),
            variant: 0,
        }
    }

    /// Whether the spec lists `d`.
    pub fn has(&self, d: Detail) -> bool {
        self.details.contains(&d)
    }

    /// The item's labels: category, subtype, colour, texture, then each detail, sleeve,
    /// length and fit it has.
    pub fn labels(&self) -> Vec<Label> {
        let mut out = vec![
            Label::new(LabelGroup::Category, self.category().as_str()),
            Label::new(LabelGroup::Subtype, self.subtype.as_str()),
            Label::new(LabelGroup::Colour, self.colour.as_str()),
            Label::new(LabelGroup::Texture, self.texture.as_str()),
        ];
        let mut details = self.details.clone();
        details.sort();
        details.dedup();
        out.extend(
            details
                .iter()
                .map(|d| Label::new(LabelGroup::Detail, d.as_str())),
        );
        if let Some(s) = self.sleeve {
            out.push(Label::new(LabelGroup::Sleeve, s.as_str()));
        }
        if let Some(l) = self.length {
            out.push(Label::new(LabelGroup::Length, l.as_str()));
        }
        if let Some(f) = self.fit {
            out.push(Label::new(LabelGroup::Fit, f.as_str()));
        }
        out
    }
}

/// Every label the demo generator can emit (83 of them).
pub fn vocabulary() -> Vec<Label> {
    let mut out = Vec::new();
    let mut add = |g: LabelGroup, names: &mut dyn Iterator<Item = &'static str>| {
        out.extend(names.map(|n| Label::new(g, n)));
    };
    add(
        LabelGroup::Category,
        &mut Category::ALL.iter().map(|x| x.as_str()),
    );
    add(
        LabelGroup::Subtype,
        &mut Subtype::ALL.iter().map(|x| x.as_str()),
    );
    add(
        LabelGroup::Colour,
        &mut Colour::ALL.iter().map(|x| x.as_str()),
    );
    add(
        LabelGroup::Texture,
        &mut Texture::ALL.iter().map(|x| x.as_str()),
    );
    add(
        LabelGroup::Detail,
        &mut Detail::ALL.iter().map(|x| x.as_str()),
    );
    add(
        LabelGroup::Sleeve,
        &mut Sleeve::ALL.iter().map(|x| x.as_str()),
    );
    add(
        LabelGroup::Length,
        &mut Length::ALL.iter().map(|x| x.as_str()),
    );
    add(LabelGroup::Fit, &mut Fit::ALL.iter().map(|x| x.as_str()));
    out
}

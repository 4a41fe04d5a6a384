//! The demo garments: their vocabulary, their random specs, and how each is drawn.
//!
//! A [`GarmentSpec`] is everything a label says about an item (subtype, colour, texture,
//! details, sleeve, length, fit) plus a `variant` number that nudges proportions. The
//! drawing functions turn a spec into a vector sketch in the garment's own coordinates
//! (roughly -1..1, y down), and [`draw_item`] places that sketch on a canvas with a
//! [`Pose`]. Every drawn feature follows the labels, so a `long-sleeve` shirt has long
//! sleeves and a bag labelled `buckle` shows one: the demo catalogue's labels are ground
//! truth for the recommendation and evaluation code that reads them.
//!
//! Shop photos ([`render_shop`]) show the item upright and centred on a plain light
//! background; the street scenes in `scenes` re-draw it with another pose.

use super::draw::{
    Affine, Canvas, Paint, Pt, Rgb, Style, arc, cubic, ellipse, hash2, luma, mix, quad, rgb8,
    rounded_rect, scale, smoothstep, value_noise,
};
use crate::catalog::{Label, LabelGroup};
use rand::Rng;
use std::f32::consts::{PI, TAU};

/// Declares a label enum with `ALL` and a lower-case, hyphenated `as_str`.
macro_rules! label_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];

            /// The label name (lower case, hyphenated).
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }
    };
}

label_enum! {
    /// What kind of item, broadly.
    Category {
        Top => "top",
        Dress => "dress",
        Trousers => "trousers",
        Shorts => "shorts",
        Skirt => "skirt",
        Outerwear => "outerwear",
        Shoes => "shoes",
        Boots => "boots",
        Bag => "bag",
        Hat => "hat",
        Scarf => "scarf",
        Eyewear => "eyewear",
    }
}

label_enum! {
    /// What kind of item, precisely; each belongs to one [`Category`].
    Subtype {
        TShirt => "t-shirt",
        TankTop => "tank-top",
        Shirt => "shirt",
        Sweater => "sweater",
        ALineDress => "a-line-dress",
        MaxiDress => "maxi-dress",
        SlipDress => "slip-dress",
        StraightTrousers => "straight-trousers",
        WideLegTrousers => "wide-leg-trousers",
        SkinnyTrousers => "skinny-trousers",
        Shorts => "shorts",
        BermudaShorts => "bermuda-shorts",
        MiniSkirt => "mini-skirt",
        PleatedSkirt => "pleated-skirt",
        PencilSkirt => "pencil-skirt",
        Coat => "coat",
        Jacket => "jacket",
        Hoodie => "hoodie",
        Sneaker => "sneaker",
        HighHeel => "high-heel",
        Loafer => "loafer",
        Sandal => "sandal",
        AnkleBoot => "ankle-boot",
        KneeBoot => "knee-boot",
        Handbag => "handbag",
        Tote => "tote",
        Backpack => "backpack",
        Clutch => "clutch",
        Cap => "cap",
        Beanie => "beanie",
        SunHat => "sun-hat",
        LongScarf => "long-scarf",
        SquareScarf => "square-scarf",
        Sunglasses => "sunglasses",
        RoundGlasses => "round-glasses",
    }
}

label_enum! {
    /// The main colour of an item.
    Colour {
        Black => "black",
        White => "white",
        Grey => "grey",
        Navy => "navy",
        Blue => "blue",
        Red => "red",
        Pink => "pink",
        Green => "green",
        Yellow => "yellow",
        Orange => "orange",
        Purple => "purple",
        Brown => "brown",
    }
}

label_enum! {
    /// The surface pattern or material.
    Texture {
        Solid => "solid",
        Striped => "striped",
        Checked => "checked",
        Dotted => "dotted",
        Denim => "denim",
        Leather => "leather",
    }
}

label_enum! {
    /// A visible construction detail.
    Detail {
        Pockets => "pockets",
        Zip => "zip",
        Buttons => "buttons",
        Collar => "collar",
        Hood => "hood",
        Laces => "laces",
        Buckle => "buckle",
        VNeck => "v-neck",
        Logo => "logo",
        Bow => "bow",
    }
}

label_enum! {
    /// Sleeve length of tops, dresses and outerwear.
    Sleeve {
        Sleeveless => "sleeveless",
        ShortSleeve => "short-sleeve",
        LongSleeve => "long-sleeve",
    }
}

label_enum! {
    /// Length of dresses, skirts and coats.
    Length {
        Mini => "mini",
        Midi => "midi",
        Maxi => "maxi",
    }
}

label_enum! {
    /// Cut of tops, trousers and dresses.
    Fit {
        Slim => "slim",
        Loose => "loose",
    }
}

impl Colour {
    /// The colour as drawn.
    pub fn rgb(self) -> Rgb {
        match self {
            Colour::Black => rgb8(34, 34, 38),
            Colour::White => rgb8(246, 246, 243),
            Colour::Grey => rgb8(150, 152, 156),
            Colour::Navy => rgb8(32, 44, 88),
            Colour::Blue => rgb8(46, 100, 196),
            Colour::Red => rgb8(200, 36, 42),
            Colour::Pink => rgb8(238, 140, 178),
            Colour::Green => rgb8(36, 128, 72),
            Colour::Yellow => rgb8(244, 204, 48),
            Colour::Orange => rgb8(240, 122, 32),
            Colour::Purple => rgb8(118, 62, 160),
            Colour::Brown => rgb8(122, 76, 42),
        }
    }
}

use Detail as D;
use Subtype as S;

impl Subtype {
    /// The category this subtype belongs to.
    pub fn category(self) -> Category {
        match self {
            S::TShirt | S::TankTop | S::Shirt | S::Sweater => Category::Top,
            S::ALineDress | S::MaxiDress | S::SlipDress => Category::Dress,
            S::StraightTrousers | S::WideLegTrousers | S::SkinnyTrousers => Category::Trousers,
            S::Shorts | S::BermudaShorts => Category::Shorts,
            S::MiniSkirt | S::PleatedSkirt | S::PencilSkirt => Category::Skirt,
            S::Coat | S::Jacket | S::Hoodie => Category::Outerwear,
            S::Sneaker | S::HighHeel | S::Loafer | S::Sandal => Category::Shoes,
            S::AnkleBoot | S::KneeBoot => Category::Boots,
            S::Handbag | S::Tote | S::Backpack | S::Clutch => Category::Bag,
            S::Cap | S::Beanie | S::SunHat => Category::Hat,
            S::LongScarf | S::SquareScarf => Category::Scarf,
            S::Sunglasses | S::RoundGlasses => Category::Eyewear,
        }
    }

    /// The details that can be drawn on this subtype, each with how often `random`
    /// picks it (intrinsic ones first and likely).
    fn details(self) -> &'static [(Detail, f32)] {
        match self {
            S::TShirt => &[(D::Logo, 0.4), (D::Pockets, 0.25), (D::VNeck, 0.3)],
            S::TankTop => &[(D::VNeck, 0.3), (D::Logo, 0.3), (D::Bow, 0.2)],
            S::Shirt => &[
                (D::Collar, 0.9),
                (D::Buttons, 0.9),
                (D::Pockets, 0.4),
                (D::Logo, 0.15),
            ],
            S::Sweater => &[
                (D::VNeck, 0.3),
                (D::Logo, 0.25),
                (D::Zip, 0.15),
                (D::Buttons, 0.15),
            ],
            S::ALineDress => &[
                (D::VNeck, 0.3),
                (D::Buttons, 0.25),
                (D::Bow, 0.25),
                (D::Pockets, 0.2),
                (D::Collar, 0.15),
            ],
            S::MaxiDress => &[(D::VNeck, 0.35), (D::Bow, 0.25), (D::Buttons, 0.2)],
            S::SlipDress => &[(D::VNeck, 0.5), (D::Bow, 0.2)],
            S::StraightTrousers | S::WideLegTrousers | S::SkinnyTrousers => &[
                (D::Pockets, 0.6),
                (D::Buttons, 0.5),
                (D::Zip, 0.3),
                (D::Buckle, 0.25),
            ],
            S::Shorts | S::BermudaShorts => &[
                (D::Pockets, 0.6),
                (D::Buttons, 0.4),
                (D::Zip, 0.25),
                (D::Buckle, 0.2),
            ],
            S::MiniSkirt => &[
                (D::Buttons, 0.3),
                (D::Zip, 0.25),
                (D::Pockets, 0.3),
                (D::Buckle, 0.2),
            ],
            S::PleatedSkirt => &[(D::Bow, 0.25), (D::Buttons, 0.2), (D::Zip, 0.15)],
            S::PencilSkirt => &[(D::Zip, 0.3), (D::Buttons, 0.25), (D::Buckle, 0.25)],
            S::Coat => &[
                (D::Buttons, 0.7),
                (D::Collar, 0.7),
                (D::Pockets, 0.5),
                (D::Buckle, 0.3),
                (D::Hood, 0.12),
                (D::Zip, 0.12),
            ],
            S::Jacket => &[
                (D::Collar, 0.5),
                (D::Zip, 0.45),
                (D::Buttons, 0.35),
                (D::Pockets, 0.45),
                (D::Hood, 0.12),
            ],
            S::Hoodie => &[
                (D::Hood, 1.0),
                (D::Pockets, 0.7),
                (D::Zip, 0.3),
                (D::Logo, 0.35),
            ],
            S::Sneaker => &[(D::Laces, 0.85), (D::Logo, 0.55)],
            S::HighHeel => &[(D::Bow, 0.25), (D::Buckle, 0.25)],
            S::Loafer => &[(D::Buckle, 0.35), (D::Bow, 0.2)],
            S::Sandal => &[(D::Buckle, 0.6), (D::Bow, 0.2)],
            S::AnkleBoot => &[(D::Laces, 0.45), (D::Zip, 0.3), (D::Buckle, 0.25)],
            S::KneeBoot => &[(D::Zip, 0.5), (D::Buckle, 0.3), (D::Laces, 0.15)],
            S::Handbag => &[
                (D::Buckle, 0.4),
                (D::Zip, 0.3),
                (D::Logo, 0.3),
                (D::Bow, 0.15),
            ],
            S::Tote => &[
                (D::Pockets, 0.3),
                (D::Logo, 0.35),
                (D::Zip, 0.2),
                (D::Bow, 0.1),
            ],
            S::Backpack => &[
                (D::Zip, 0.7),
                (D::Pockets, 0.6),
                (D::Buckle, 0.3),
                (D::Logo, 0.3),
            ],
            S::Clutch => &[
                (D::Buckle, 0.35),
                (D::Bow, 0.25),
                (D::Zip, 0.2),
                (D::Logo, 0.25),
            ],
            S::Cap => &[(D::Logo, 0.6)],
            S::Beanie => &[(D::Logo, 0.35)],
            S::SunHat => &[(D::Bow, 0.4)],
            S::LongScarf | S::SquareScarf => &[],
            S::Sunglasses | S::RoundGlasses => &[(D::Logo, 0.3)],
        }
    }

    /// Pairs of details never given together to this subtype (one would hide the other).
    fn exclusive(self) -> &'static [(Detail, Detail)] {
        match self {
            S::Sweater => &[(D::Zip, D::Buttons), (D::Zip, D::VNeck)],
            S::Coat | S::Jacket | S::Hoodie | S::MiniSkirt | S::PleatedSkirt | S::PencilSkirt => {
                &[(D::Zip, D::Buttons)]
            }
            S::StraightTrousers
            | S::WideLegTrousers
            | S::SkinnyTrousers
            | S::Shorts
            | S::BermudaShorts => &[(D::Buckle, D::Buttons)],
            _ => &[],
        }
    }

    /// The sleeve lengths this subtype comes in (empty: sleeve is not a label for it).
    fn sleeves(self) -> &'static [Sleeve] {
        use Sleeve::*;
        match self {
            S::TShirt => &[ShortSleeve, ShortSleeve, ShortSleeve, LongSleeve],
            S::TankTop | S::SlipDress => &[Sleeveless],
            S::Shirt => &[LongSleeve, LongSleeve, ShortSleeve],
            S::Sweater | S::Coat | S::Hoodie => &[LongSleeve],
            S::Jacket => &[
                LongSleeve, LongSleeve, LongSleeve, LongSleeve, LongSleeve, Sleeveless,
            ],
            S::ALineDress | S::MaxiDress => &[Sleeveless, ShortSleeve, LongSleeve],
            _ => &[],
        }
    }

    /// The lengths this subtype comes in (empty: length is not a label for it).
    fn lengths(self) -> &'static [Length] {
        use Length::*;
        match self {
            S::ALineDress => &[Mini, Midi],
            S::MaxiDress => &[Maxi],
            S::SlipDress | S::PleatedSkirt | S::Coat => &[Mini, Midi, Maxi],
            S::MiniSkirt => &[Mini],
            S::PencilSkirt => &[Midi, Midi, Mini],
            _ => &[],
        }
    }

    /// The fits this subtype comes in (empty: fit is not a label for it).
    fn fits(self) -> &'static [Fit] {
        use Fit::*;
        match self {
            S::TShirt | S::TankTop | S::Shirt | S::Sweater => &[Slim, Loose],
            S::ALineDress | S::MaxiDress => &[Slim, Loose],
            S::SlipDress | S::SkinnyTrousers => &[Slim],
            S::StraightTrousers => &[Slim, Loose],
            S::WideLegTrousers => &[Loose],
            _ => &[],
        }
    }

    /// Relative odds of each texture, in `Texture::ALL` order.
    fn texture_odds(self) -> [u32; 6] {
        // solid, striped, checked, dotted, denim, leather
        match self {
            S::TShirt | S::TankTop => [6, 3, 0, 2, 0, 0],
            S::Shirt => [5, 3, 3, 1, 2, 0],
            S::Sweater => [6, 3, 1, 1, 0, 0],
            S::ALineDress | S::MaxiDress => [5, 2, 2, 3, 1, 0],
            S::SlipDress => [6, 1, 0, 2, 0, 0],
            S::StraightTrousers | S::SkinnyTrousers => [4, 1, 1, 0, 6, 1],
            S::WideLegTrousers => [5, 2, 2, 0, 3, 1],
            S::Shorts | S::BermudaShorts => [4, 2, 2, 1, 5, 0],
            S::MiniSkirt => [4, 1, 2, 1, 4, 2],
            S::PleatedSkirt => [4, 2, 4, 1, 0, 0],
            S::PencilSkirt => [5, 1, 2, 1, 1, 3],
            S::Coat => [6, 0, 3, 0, 0, 2],
            S::Jacket => [3, 0, 1, 0, 4, 4],
            S::Hoodie => [7, 2, 0, 0, 0, 0],
            S::Sneaker => [5, 1, 0, 0, 1, 4],
            S::HighHeel => [3, 0, 0, 1, 0, 6],
            S::Loafer => [1, 0, 0, 0, 0, 8],
            S::Sandal => [3, 0, 0, 0, 0, 6],
            S::AnkleBoot | S::KneeBoot => [2, 0, 0, 0, 1, 8],
            S::Handbag | S::Clutch => [3, 1, 1, 1, 0, 6],
            S::Tote => [4, 3, 2, 1, 1, 3],
            S::Backpack => [5, 1, 1, 0, 1, 2],
            S::Cap => [6, 1, 2, 0, 2, 0],
            S::Beanie => [6, 3, 1, 0, 0, 0],
            S::SunHat => [6, 1, 1, 1, 1, 0],
            S::LongScarf => [3, 4, 4, 1, 0, 0],
            S::SquareScarf => [2, 2, 3, 4, 0, 0],
            S::Sunglasses | S::RoundGlasses => [8, 1, 0, 0, 0, 0],
        }
    }
}

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

/// How an item sits in the frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pose {
    /// Size relative to a shop photo (1 = the item's longer side fills 76 % of the frame).
    pub scale: f32,
    /// Rotation of the whole item, radians (clockwise on screen).
    pub rotation_rad: f32,
    /// Offset of the item's centre from the frame centre, as fractions of the frame side.
    pub offset: (f32, f32),
    /// How far sleeves, legs, skirts, straps and handles swing, radians (about ±0.35).
    pub limb_swing: f32,
    /// Horizontal shear (a cheap stand-in for perspective).
    pub shear: f32,
    /// Whether the item is mirrored left-right.
    pub mirror: bool,
}

impl Pose {
    /// A shop photo: upright, centred, filling about 76 % of the frame.
    pub fn shop() -> Pose {
        Pose {
            scale: 1.0,
            rotation_rad: 0.0,
            offset: (0.0, 0.0),
            limb_swing: 0.0,
            shear: 0.0,
            mirror: false,
        }
    }

    /// A street photo: another size, a rotation within ±25°, off-centre, limbs swung,
    /// a little shear, maybe mirrored.
    pub fn street(rng: &mut impl Rng) -> Pose {
        let scale: f32 = rng.random_range(0.5..1.08);
        let room = ((0.95 - scale * 0.76) * 0.5).max(0.0);
        Pose {
            scale,
            rotation_rad: rng.random_range(-25.0f32..25.0).to_radians(),
            offset: (
                rng.random_range(-room..=room),
                rng.random_range(-room..=room),
            ),
            limb_swing: rng.random_range(-0.35..0.35),
            shear: rng.random_range(-0.15..0.15),
            mirror: rng.random_bool(0.5),
        }
    }
}

/// A rendered item photo and its item mask.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub image: image::RgbImage,
    /// Item coverage: 0 background (and shadow), 255 item.
    pub mask: image::GrayImage,
}

/// The shop background colour.
pub const SHOP_BACKGROUND: Rgb = [0.957, 0.953, 0.945];

/// A shop photo of `spec`: the item upright and centred on a plain near-white
/// background with a soft shadow (not in the mask).
pub fn render_shop(spec: &GarmentSpec, size_px: u32) -> Rendered {
    let size = size_px.max(8);
    let mut canvas = Canvas::new(size, size, SHOP_BACKGROUND);
    let pose = Pose::shop();
    let sketch = build(spec, pose.limb_swing);
    let xf = placement(&sketch, &pose, size, size);
    // The soft shadow: the silhouette, blurred and offset down-right.
    let mut silhouette = Canvas::new(size, size, SHOP_BACKGROUND);
    for cmd in sketch.cmds.iter().filter(|c| c.mask) {
        draw_cmd(
            &mut silhouette,
            cmd,
            &cmd.part.then(xf),
            &Paint::Solid([0.0; 3]),
        );
    }
    let s = size as f32;
    canvas.shadow(&silhouette, (0.012 * s, 0.018 * s), 0.02 * s, 0.22);
    paint_sketch(&mut canvas, spec, &sketch, &xf);
    Rendered {
        image: canvas.to_rgb_image(),
        mask: canvas.mask_image(),
    }
}

/// Draws `spec` with `pose` onto `canvas` (its coverage joins the canvas's item mask).
pub fn draw_item(canvas: &mut Canvas, spec: &GarmentSpec, pose: &Pose) {
    let sketch = build(spec, pose.limb_swing);
    let xf = placement(&sketch, pose, canvas.width(), canvas.height());
    paint_sketch(canvas, spec, &sketch, &xf);
}

/// Share of the frame side the item's longer side fills at scale 1.
const FILL: f32 = 0.76;

/// Maps sketch coordinates to pixels: normalise the sketch's bounds, then apply the pose.
fn placement(sketch: &Sketch, pose: &Pose, w: u32, h: u32) -> Affine {
    let (lo, hi) = sketch.bounds();
    let centre = (0.5 * (lo.0 + hi.0), 0.5 * (lo.1 + hi.1));
    let half = (0.5 * (hi.0 - lo.0)).max(0.5 * (hi.1 - lo.1)).max(1e-3);
    let side = w.min(h) as f32;
    let mut xf =
        Affine::translate(-centre.0, -centre.1).then(Affine::scale(1.0 / half, 1.0 / half));
    if pose.mirror {
        xf = xf.then(Affine::scale(-1.0, 1.0));
    }
    let k = 0.5 * FILL * side * pose.scale;
    xf.then(Affine::shear_x(pose.shear))
        .then(Affine::rotate(pose.rotation_rad))
        .then(Affine::scale(k, k))
        .then(Affine::translate(
            0.5 * w as f32 + pose.offset.0 * side,
            0.5 * h as f32 + pose.offset.1 * side,
        ))
}

fn draw_cmd(canvas: &mut Canvas, cmd: &Cmd, xf: &Affine, paint: &Paint) {
    let style = Style {
        alpha: cmd.alpha,
        mask: cmd.mask,
    };
    match &cmd.geom {
        Geom::Fill(contours) => canvas.fill(contours, xf, paint, style),
        Geom::Stroke {
            line,
            closed,
            width,
        } => canvas.stroke(line, *closed, *width, xf, paint, style),
    }
}

fn paint_sketch(canvas: &mut Canvas, spec: &GarmentSpec, sketch: &Sketch, xf: &Affine) {
    let mat = Material::new(spec);
    for cmd in &sketch.cmds {
        let cxf = cmd.part.then(*xf);
        match cmd.ink {
            Ink::Flat(c) => draw_cmd(canvas, cmd, &cxf, &Paint::Solid(c)),
            Ink::Outline => draw_cmd(canvas, cmd, &cxf, &Paint::Solid(mat.outline)),
            ink => {
                let shader = |x: f32, y: f32| mat.ink(ink, x, y);
                draw_cmd(canvas, cmd, &cxf, &Paint::Shader(&shader));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Materials

/// What a piece of a sketch is painted with.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ink {
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

struct Material {
    base: Rgb,
    accent: Rgb,
    outline: Rgb,
    metal: Rgb,
    texture: Texture,
    finish: Finish,
    seed: u32,
    period: f32,
    vertical: bool,
}

impl Material {
    fn new(spec: &GarmentSpec) -> Material {
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

    fn ink(&self, ink: Ink, x: f32, y: f32) -> Rgb {
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
fn accent_of(c: Colour, k: usize) -> Rgb {
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
struct Var(u32);

impl Var {
    /// A number in 0..1 for key `k`.
    fn f(self, k: i32) -> f32 {
        hash2(self.0 as i32, k, 0x5eed_1234)
    }
    fn range(self, k: i32, a: f32, b: f32) -> f32 {
        a + (b - a) * self.f(k)
    }
    fn pick(self, k: i32, n: usize) -> usize {
        ((self.f(k) * n as f32) as usize).min(n.saturating_sub(1))
    }
}

// ---------------------------------------------------------------------------------------
// Sketches

#[derive(Debug, Clone)]
enum Geom {
    Fill(Vec<Vec<Pt>>),
    Stroke {
        line: Vec<Pt>,
        closed: bool,
        width: f32,
    },
}

#[derive(Debug, Clone)]
struct Cmd {
    geom: Geom,
    /// Placement of this piece inside the garment (a swung sleeve, a swayed skirt).
    part: Affine,
    ink: Ink,
    alpha: f32,
    mask: bool,
}

/// Outline width, in garment units.
const OUT: f32 = 0.016;

/// A garment as a list of drawing commands in its own coordinates.
struct Sketch {
    cmds: Vec<Cmd>,
    part: Affine,
}

impl Sketch {
    fn new() -> Sketch {
        Sketch {
            cmds: Vec::new(),
            part: Affine::IDENTITY,
        }
    }

    fn push(&mut self, geom: Geom, ink: Ink, alpha: f32, mask: bool) {
        self.cmds.push(Cmd {
            geom,
            part: self.part,
            ink,
            alpha,
            mask,
        });
    }

    /// A filled piece with its outline.
    fn shape(&mut self, pts: Vec<Pt>, ink: Ink) {
        self.push(Geom::Fill(vec![pts.clone()]), ink, 1.0, true);
        self.outline(pts);
    }

    /// A filled piece with holes (even-odd), with outlines.
    fn shape_holes(&mut self, contours: Vec<Vec<Pt>>, ink: Ink) {
        self.push(Geom::Fill(contours.clone()), ink, 1.0, true);
        for c in contours {
            self.outline(c);
        }
    }

    /// A filled piece without an outline.
    fn fill(&mut self, pts: Vec<Pt>, ink: Ink) {
        self.push(Geom::Fill(vec![pts]), ink, 1.0, true);
    }

    fn outline(&mut self, pts: Vec<Pt>) {
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
    fn line(&mut self, pts: Vec<Pt>, width: f32, ink: Ink) {
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
    fn band(&mut self, pts: Vec<Pt>, width: f32, ink: Ink) {
        self.line(pts.clone(), width + 2.0 * OUT, Ink::Outline);
        self.line(pts, width, ink);
    }

    /// A seam line drawn over the item.
    fn seam(&mut self, pts: Vec<Pt>) {
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
    fn fold(&mut self, pts: Vec<Pt>, dark: bool) {
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
    fn tint(&mut self, pts: Vec<Pt>, c: Rgb, alpha: f32) {
        self.push(Geom::Fill(vec![pts]), Ink::Flat(c), alpha, false);
    }

    /// A dashed stitch line.
    fn stitch(&mut self, pts: &[Pt], colour: Rgb) {
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
    fn with(&mut self, part: Affine, f: impl FnOnce(&mut Sketch)) {
        let old = self.part;
        self.part = part.then(old);
        f(self);
        self.part = old;
    }

    /// Bounds of the item pieces (what the mask will cover).
    fn bounds(&self) -> (Pt, Pt) {
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
fn along_line(pts: &[Pt], t: f32) -> Pt {
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

fn lerp(a: Pt, b: Pt, t: f32) -> Pt {
    (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t)
}

fn add(a: Pt, b: Pt) -> Pt {
    (a.0 + b.0, a.1 + b.1)
}

fn mul(a: Pt, k: f32) -> Pt {
    (a.0 * k, a.1 * k)
}

/// The mirror image of `pts` across x = 0.
fn mirror(pts: &[Pt]) -> Vec<Pt> {
    pts.iter().map(|p| (-p.0, p.1)).collect()
}

/// A symmetric outline from its right half, listed from the top centre clockwise down to
/// the bottom centre.
fn symmetric(right: &[Pt]) -> Vec<Pt> {
    let mut out = right.to_vec();
    out.extend(right.iter().rev().map(|p| (-p.0, p.1)));
    out
}

/// Concatenates point runs.
fn join(parts: &[&[Pt]]) -> Vec<Pt> {
    parts.iter().flat_map(|p| p.iter().copied()).collect()
}

/// Builds the sketch of a garment; `swing` moves sleeves, legs, skirts and straps.
fn build(spec: &GarmentSpec, swing: f32) -> Sketch {
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
struct Garment<'a> {
    spec: &'a GarmentSpec,
    v: Var,
    swing: f32,
    stitch: Rgb,
    accent: Rgb,
}

// ---------------------------------------------------------------------------------------
// Small parts shared by many garments

impl Garment<'_> {
    fn has(&self, d: Detail) -> bool {
        self.spec.has(d)
    }

    fn button(&self, s: &mut Sketch, c: Pt, r: f32) {
        let colour = if self.spec.texture == Texture::Denim {
            Ink::Metal
        } else if luma(self.spec.colour.rgb()) > 0.5 {
            Ink::Plain(mix(self.spec.colour.rgb(), [0.15; 3], 0.55))
        } else {
            Ink::Plain(mix(self.spec.colour.rgb(), [1.0; 3], 0.45))
        };
        s.shape(ellipse(c, r, r, 14), colour);
        for dx in [-0.3, 0.3] {
            s.fill(
                ellipse((c.0 + dx * r, c.1), 0.18 * r, 0.18 * r, 6),
                Ink::Outline,
            );
        }
    }

    fn zip(&self, s: &mut Sketch, pts: Vec<Pt>) {
        let top = pts.first().copied().unwrap_or((0.0, 0.0));
        s.line(pts.clone(), 0.034, Ink::Outline);
        s.line(pts.clone(), 0.024, Ink::Metal);
        s.push(
            Geom::Stroke {
                line: pts,
                closed: false,
                width: 0.006,
            },
            Ink::Flat([0.2; 3]),
            0.8,
            false,
        );
        s.shape(
            rounded_rect(
                top.0 - 0.022,
                top.1 + 0.01,
                top.0 + 0.022,
                top.1 + 0.09,
                0.012,
            ),
            Ink::Metal,
        );
    }

    fn buckle(&self, s: &mut Sketch, c: Pt, w: f32, h: f32) {
        let outer = rounded_rect(c.0 - w, c.1 - h, c.0 + w, c.1 + h, 0.25 * h);
        let inner = rounded_rect(
            c.0 - 0.55 * w,
            c.1 - 0.55 * h,
            c.0 + 0.55 * w,
            c.1 + 0.55 * h,
            0.12 * h,
        );
        s.shape_holes(vec![outer, inner], Ink::Metal);
        s.line(
            vec![(c.0 - 0.75 * w, c.1), (c.0 + 0.2 * w, c.1)],
            0.25 * h,
            Ink::Metal,
        );
    }

    fn bow(&self, s: &mut Sketch, c: Pt, r: f32, ink: Ink) {
        for side in [-1.0f32, 1.0] {
            let tail = vec![
                (c.0 + side * 0.1 * r, c.1),
                (c.0 + side * 0.55 * r, c.1 + 1.1 * r),
                (c.0 + side * 0.25 * r, c.1 + 1.0 * r),
            ];
            s.shape(tail, ink);
        }
        for side in [-1.0f32, 1.0] {
            let mut lobe = vec![c];
            lobe.extend(quad(
                (c.0 + side * r, c.1 - 0.65 * r),
                (c.0 + side * 1.25 * r, c.1),
                (c.0 + side * r, c.1 + 0.65 * r),
                6,
            ));
            s.shape(lobe, ink);
            s.seam(vec![
                (c.0 + side * 0.2 * r, c.1),
                (c.0 + side * 0.7 * r, c.1 - 0.2 * r),
            ]);
        }
        s.shape(ellipse(c, 0.25 * r, 0.32 * r, 10), ink);
    }

    fn logo(&self, s: &mut Sketch, c: Pt, r: f32) {
        let ink = Ink::Plain(self.accent);
        match self.v.pick(20, 4) {
            0 => {
                s.fill(ellipse(c, r, r, 20), ink);
                let tri = vec![
                    (c.0, c.1 - 0.6 * r),
                    (c.0 + 0.55 * r, c.1 + 0.4 * r),
                    (c.0 - 0.55 * r, c.1 + 0.4 * r),
                ];
                s.fill(tri, Ink::Main(1.0));
            }
            1 => {
                let star: Vec<Pt> = (0..10)
                    .map(|i| {
                        let a = -PI / 2.0 + i as f32 * PI / 5.0;
                        let rr = if i % 2 == 0 { r } else { 0.45 * r };
                        (c.0 + rr * a.cos(), c.1 + rr * a.sin())
                    })
                    .collect();
                s.fill(star, ink);
            }
            2 => {
                s.fill(
                    rounded_rect(
                        c.0 - 1.3 * r,
                        c.1 - 0.5 * r,
                        c.0 + 1.3 * r,
                        c.1 + 0.5 * r,
                        0.2 * r,
                    ),
                    ink,
                );
                s.fill(
                    rounded_rect(c.0 - r, c.1 - 0.15 * r, c.0 + r, c.1 + 0.15 * r, 0.1 * r),
                    Ink::Main(1.0),
                );
            }
            _ => {
                let mut swoosh = cubic(
                    (c.0 - 1.2 * r, c.1 + 0.1 * r),
                    (c.0 - 0.8 * r, c.1 + 0.9 * r),
                    (c.0 + 0.2 * r, c.1 + 0.6 * r),
                    (c.0 + 1.4 * r, c.1 - 0.6 * r),
                    10,
                );
                swoosh.extend(
                    cubic(
                        (c.0 + 1.4 * r, c.1 - 0.6 * r),
                        (c.0 + 0.1 * r, c.1 + 0.2 * r),
                        (c.0 - 0.7 * r, c.1 + 0.4 * r),
                        (c.0 - 1.2 * r, c.1 + 0.1 * r),
                        10,
                    )
                    .into_iter()
                    .skip(1),
                );
                s.fill(swoosh, ink);
            }
        }
    }

    /// A patch pocket: rectangle with a pointed or straight bottom, stitched.
    fn patch_pocket(&self, s: &mut Sketch, x0: f32, y0: f32, x1: f32, y1: f32, pointed: bool) {
        let mx = 0.5 * (x0 + x1);
        let pts = if pointed {
            vec![
                (x0, y0),
                (x1, y0),
                (x1, y1 - 0.04),
                (mx, y1),
                (x0, y1 - 0.04),
            ]
        } else {
            rounded_rect(x0, y0, x1, y1, 0.015)
        };
        s.shape(pts, Ink::Main(0.97));
        s.stitch(
            &[(x0 + 0.02, y0 + 0.035), (x1 - 0.02, y0 + 0.035)],
            self.stitch,
        );
    }

    /// A sleeve hanging from shoulder `sh` and armpit `ap` (right-side coordinates, mirrored
    /// for `side` < 0), `angle` below horizontal, `len` long, `cuff` half-width at the end.
    #[allow(clippy::too_many_arguments)]
    fn sleeve(
        &self,
        s: &mut Sketch,
        side: f32,
        sh: Pt,
        ap: Pt,
        angle: f32,
        len: f32,
        cuff: f32,
        band: Option<Ink>,
    ) {
        let d = (angle.cos(), angle.sin());
        let n = (angle.sin(), -angle.cos());
        let m = lerp(sh, ap, 0.5);
        let c = add(m, mul(d, len));
        let outer = add(c, mul(n, cuff));
        let inner = add(c, mul(n, -cuff));
        let elbow_o = add(lerp(sh, outer, 0.5), mul(n, 0.015));
        let poly = vec![sh, elbow_o, outer, inner, ap];
        let flip = |pts: Vec<Pt>| if side < 0.0 { mirror(&pts) } else { pts };
        let pivot = if side < 0.0 { (-sh.0, sh.1) } else { sh };
        let swing = if side < 0.0 {
            -0.6 * self.swing
        } else {
            self.swing
        };
        s.with(Affine::rotate_about(pivot, swing), |s| {
            s.shape(flip(poly), Ink::Main(0.95));
            s.fold(
                flip(vec![lerp(ap, inner, 0.15), lerp(ap, inner, 0.8)]),
                true,
            );
            if let Some(ink) = band {
                let back = mul(d, -0.09);
                s.shape(
                    flip(vec![add(outer, back), outer, inner, add(inner, back)]),
                    ink,
                );
            } else {
                let back = mul(d, -0.045);
                s.stitch(&flip(vec![add(outer, back), add(inner, back)]), self.stitch);
            }
        });
    }
}

// ---------------------------------------------------------------------------------------
// Tops and outerwear

impl Garment<'_> {
    fn upper(&self, s: &mut Sketch) {
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
            for side in [-1.0, 1.0] {
                self.sleeve(s, side, sh, ap, angle, len, cuff, band);
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
fn offset_line(pts: &[Pt], dy: f32) -> Vec<Pt> {
    pts.iter().map(|p| (p.0, p.1 + dy)).collect()
}

// ---------------------------------------------------------------------------------------
// Dresses

impl Garment<'_> {
    fn dress(&self, s: &mut Sketch) {
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
            for side in [-1.0, 1.0] {
                self.sleeve(
                    s,
                    side,
                    (0.27, yt + 0.07),
                    (bust - 0.01, ya),
                    angle,
                    len,
                    cuff,
                    None,
                );
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

// ---------------------------------------------------------------------------------------
// Trousers and shorts

impl Garment<'_> {
    fn legwear(&self, s: &mut Sketch) {
        let st = self.spec.subtype;
        let slim = self.spec.fit == Some(Fit::Slim);
        let denim = self.spec.texture == Texture::Denim;
        let yw = -1.0;
        let yb = -0.9;
        let wt = 0.38;
        let hip = 0.44;
        let yc = -0.32;
        let (yh, ho, hi) = match st {
            S::StraightTrousers if slim => (1.0, 0.37, 0.1),
            S::StraightTrousers => (1.0, 0.42, 0.07),
            S::WideLegTrousers => (1.0, 0.62 + self.v.range(4, -0.04, 0.04), 0.035),
            S::SkinnyTrousers => (1.0, 0.3, 0.14),
            S::BermudaShorts => (0.4, 0.46, 0.05),
            _ => (0.02, 0.5, 0.03),
        };
        // Legs, each swinging from its hip.
        for side in [-1.0f32, 1.0] {
            let leg_r = vec![
                (0.0, yc - 0.16),
                (hip, yc - 0.16),
                (hip + 0.005, yc),
                (ho, yh),
                (hi, yh),
                (0.0, yc),
            ];
            let leg: Vec<Pt> = if side < 0.0 {
                mirror(&leg_r)
            } else {
                leg_r.clone()
            };
            let pivot = (side * 0.22, yc - 0.1);
            let rot = if side < 0.0 {
                0.45 * self.swing
            } else {
                -0.3 * self.swing
            };
            s.with(Affine::rotate_about(pivot, rot), |s| {
                s.shape(leg, Ink::Main(1.0));
                let f = |p: Pt| (side * p.0, p.1);
                s.fold(vec![f((0.04, yc + 0.05)), f((hi + 0.02, yh - 0.02))], true);
                let crease_top = f((0.23, yc + 0.02));
                let crease_bot = f((0.5 * (ho + hi), yh - 0.02));
                if denim {
                    s.fold(vec![f((0.2, yc + 0.1)), f((0.25, yc + 0.45))], false);
                    s.fold(vec![f((0.22, yc + 0.15)), f((0.26, yc + 0.5))], false);
                    for k in 0..3 {
                        let y = yc + 0.04 + 0.05 * k as f32;
                        s.fold(vec![f((0.03, y)), f((0.16, y - 0.03))], false);
                    }
                    s.stitch(
                        &[f((hip - 0.02, yc)), f((ho - 0.02, yh - 0.02))],
                        self.stitch,
                    );
                } else if yh > 0.5 {
                    s.seam(vec![crease_top, crease_bot]);
                }
                // Hem or turn-up.
                if st == S::BermudaShorts {
                    let cuff = vec![
                        f((ho + 0.01, yh - 0.1)),
                        f((ho + 0.015, yh)),
                        f((hi - 0.01, yh)),
                        f((hi - 0.005, yh - 0.1)),
                    ];
                    s.shape(cuff, Ink::Main(0.92));
                } else {
                    let t = 0.06 / (yh - yc).max(0.1);
                    let a = lerp((hip, yc), (ho, yh), 1.0 - t);
                    let b = lerp((0.0, yc), (hi, yh), 1.0 - t);
                    s.stitch(&[f(a), f(b)], self.stitch);
                }
            });
        }
        // Seat and hips.
        let mut upper = vec![(-wt, yb), (wt, yb)];
        upper.extend(
            quad((wt, yb), (hip, yb + 0.15), (hip, yc - 0.05), 6)
                .into_iter()
                .skip(1),
        );
        upper.push((hip + 0.002, yc));
        upper.push((0.0, yc));
        upper.push((-hip - 0.002, yc));
        upper.extend(quad((-hip, yc - 0.05), (-hip, yb + 0.15), (-wt, yb), 6));
        s.fill(upper.clone(), Ink::Main(1.0));
        for side in [-1.0f32, 1.0] {
            let edge: Vec<Pt> = quad((wt, yb), (hip, yb + 0.15), (hip, yc - 0.05), 6)
                .into_iter()
                .map(|p| (side * p.0, p.1))
                .collect();
            s.line(edge, OUT, Ink::Outline);
        }
        // Waistband and belt loops.
        let band = vec![(-wt - 0.01, yw), (wt + 0.01, yw), (wt, yb), (-wt, yb)];
        s.shape(band, Ink::Main(0.93));
        s.stitch(
            &[(-wt + 0.02, yb - 0.02), (wt - 0.02, yb - 0.02)],
            self.stitch,
        );
        // Fly.
        let fly = join(&[
            &[(0.07, yb)],
            &quad((0.07, yc - 0.18), (0.07, yc - 0.06), (0.0, yc - 0.04), 6),
        ]);
        if self.has(D::Zip) {
            self.zip(s, vec![(0.0, yb + 0.01), (0.0, yc - 0.06)]);
        } else {
            s.seam(vec![(0.0, yb), (0.0, yc - 0.04)]);
        }
        s.stitch(&fly, self.stitch);
        // Front pockets.
        if self.has(D::Pockets) {
            for side in [-1.0f32, 1.0] {
                let f = |p: Pt| (side * p.0, p.1);
                let opening: Vec<Pt> =
                    quad((0.22, yb), (0.24, yb + 0.2), (hip - 0.005, yb + 0.24), 8)
                        .into_iter()
                        .map(f)
                        .collect();
                let mut sliver = opening.clone();
                sliver.push(f((wt, yb)));
                s.fill(sliver, Ink::Inner);
                s.line(opening.clone(), 0.012, Ink::Outline);
                s.stitch(
                    &opening
                        .iter()
                        .map(|p| (p.0 - side * 0.02, p.1 + 0.02))
                        .collect::<Vec<_>>(),
                    self.stitch,
                );
            }
            if denim {
                let coin = vec![
                    (0.24, yb + 0.02),
                    (0.34, yb + 0.02),
                    (0.34, yb + 0.1),
                    (0.24, yb + 0.1),
                ];
                s.stitch(&coin, self.stitch);
                for side in [-1.0f32, 1.0] {
                    s.fill(ellipse((side * 0.3, yb + 0.2), 0.012, 0.012, 8), Ink::Metal);
                }
            }
        }
        // Belt loops (over the belt if there is one).
        let loop_at = |s: &mut Sketch, x: f32| {
            s.shape(
                vec![
                    (x - 0.018, yw - 0.015),
                    (x + 0.018, yw - 0.015),
                    (x + 0.018, yb + 0.03),
                    (x - 0.018, yb + 0.03),
                ],
                Ink::Main(0.9),
            );
        };
        if self.has(D::Buckle) {
            let leather = if self.spec.colour == Colour::Brown {
                rgb8(40, 30, 24)
            } else {
                rgb8(110, 70, 38)
            };
            s.shape(
                vec![
                    (-wt - 0.02, yw + 0.018),
                    (wt + 0.02, yw + 0.018),
                    (wt + 0.02, yb - 0.018),
                    (-wt - 0.02, yb - 0.018),
                ],
                Ink::Plain(leather),
            );
            self.buckle(s, (0.0, 0.5 * (yw + yb)), 0.06, 0.055);
        } else if self.has(D::Buttons) {
            self.button(s, (0.0, 0.5 * (yw + yb)), 0.026);
        }
        for x in [-0.3, -0.12, 0.12, 0.3] {
            loop_at(s, x);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Skirts

impl Garment<'_> {
    fn skirt(&self, s: &mut Sketch) {
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

// ---------------------------------------------------------------------------------------
// Shoes and boots (side view, toe to the right, ground at y = 0.35)

const GROUND: f32 = 0.35;

impl Garment<'_> {
    fn footwear(&self, s: &mut Sketch) {
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

// ---------------------------------------------------------------------------------------
// Bags

impl Garment<'_> {
    fn bag(&self, s: &mut Sketch) {
        match self.spec.subtype {
            S::Handbag => self.handbag(s),
            S::Tote => self.tote(s),
            S::Backpack => self.backpack(s),
            _ => self.clutch(s),
        }
    }

    fn handle(&self, s: &mut Sketch, a: Pt, b: Pt, height: f32, width: f32, ink: Ink) {
        let mid = lerp(a, b, 0.5);
        let sway = Affine::rotate_about(mid, 0.6 * self.swing);
        let pts = cubic(a, (a.0, a.1 - height), (b.0, b.1 - height), b, 16);
        s.with(sway, |s| s.band(pts, width, ink));
    }

    fn handbag(&self, s: &mut Sketch) {
        let (top, bot) = (-0.15, 0.72);
        let (wt, wb) = (0.55 + self.v.range(10, -0.05, 0.05), 0.74);
        self.handle(
            s,
            (-0.32, top + 0.02),
            (0.32, top + 0.02),
            0.95,
            0.06,
            Ink::Main(0.8),
        );
        self.handle(
            s,
            (-0.38, top + 0.04),
            (0.38, top + 0.04),
            1.05,
            0.065,
            Ink::Main(0.92),
        );
        let body = join(&[
            &[(-wt, top), (wt, top)],
            &[(wb - 0.02, bot - 0.12)],
            &quad((wb - 0.02, bot - 0.12), (wb, bot), (wb - 0.14, bot), 4)[1..],
            &[(-wb + 0.14, bot)],
            &quad((-wb + 0.14, bot), (-wb, bot), (-wb + 0.02, bot - 0.12), 4)[1..],
        ]);
        s.shape(body, Ink::Main(1.0));
        s.tint(
            vec![
                (wt - 0.1, top),
                (wt, top),
                (wb - 0.02, bot - 0.1),
                (wb - 0.16, bot),
            ],
            [0.0; 3],
            0.12,
        );
        s.stitch(
            &[(-wt + 0.04, top + 0.05), (wt - 0.04, top + 0.05)],
            self.stitch,
        );
        s.stitch(
            &[(-wb + 0.1, bot - 0.05), (wb - 0.1, bot - 0.05)],
            self.stitch,
        );
        // Handle tabs with rings.
        for x in [-0.38, 0.38] {
            s.shape(
                rounded_rect(x - 0.04, top - 0.02, x + 0.04, top + 0.1, 0.015),
                Ink::Main(0.85),
            );
            s.shape_holes(
                vec![
                    ellipse((x, top - 0.03), 0.04, 0.03, 12),
                    ellipse((x, top - 0.03), 0.025, 0.015, 10),
                ],
                Ink::Metal,
            );
        }
        if self.has(D::Zip) {
            self.zip(s, vec![(-wt + 0.1, top + 0.07), (wt - 0.1, top + 0.07)]);
        }
        if self.has(D::Buckle) {
            let flap = join(&[
                &[
                    (-wt - 0.01, top - 0.01),
                    (wt + 0.01, top - 0.01),
                    (wt + 0.04, 0.18),
                ],
                &quad((wt + 0.04, 0.18), (0.0, 0.36), (-wt - 0.04, 0.18), 10)[1..],
            ]);
            s.shape(flap, Ink::Main(0.95));
            s.shape(rounded_rect(-0.04, 0.1, 0.04, 0.42, 0.02), Ink::Main(0.85));
            self.buckle(s, (0.0, 0.3), 0.09, 0.075);
        } else if self.has(D::Logo) {
            s.shape(rounded_rect(-0.12, 0.12, 0.12, 0.2, 0.02), Ink::Metal);
        }
        if self.has(D::Logo) && self.has(D::Buckle) {
            self.logo(s, (0.0, 0.52), 0.05);
        }
        if self.has(D::Bow) {
            self.bow(s, (0.0, top + 0.14), 0.16, Ink::Main(0.88));
        }
    }

    fn tote(&self, s: &mut Sketch) {
        let (top, bot) = (-0.32, 0.85);
        let (wt, wb) = (0.7, 0.6);
        self.handle(
            s,
            (-0.28, top + 0.1),
            (0.28, top + 0.1),
            1.0,
            0.055,
            Ink::Main(0.78),
        );
        s.shape(
            vec![
                (-wt + 0.02, top - 0.08),
                (wt - 0.02, top - 0.08),
                (wt, top),
                (-wt, top),
            ],
            Ink::Inner,
        );
        let body = join(&[
            &[(-wt, top), (wt, top), (wb, bot - 0.03)],
            &quad((wb, bot - 0.03), (wb, bot), (wb - 0.05, bot), 3)[1..],
            &[(-wb + 0.05, bot)],
            &quad((-wb + 0.05, bot), (-wb, bot), (-wb, bot - 0.03), 3)[1..],
        ]);
        s.shape(body, Ink::Main(1.0));
        s.fold(vec![(-0.3, top + 0.1), (-0.25, bot - 0.1)], true);
        s.fold(vec![(0.35, top + 0.1), (0.3, bot - 0.1)], true);
        s.stitch(
            &[(-wt + 0.03, top + 0.05), (wt - 0.03, top + 0.05)],
            self.stitch,
        );
        if self.has(D::Pockets) {
            self.patch_pocket(s, -0.3, 0.25, 0.3, 0.66, false);
        }
        if self.has(D::Logo) {
            let y = if self.has(D::Pockets) { 0.06 } else { 0.3 };
            self.logo(s, (0.0, y), 0.13);
        }
        if self.has(D::Zip) {
            self.zip(s, vec![(-wt + 0.1, top + 0.015), (wt - 0.1, top + 0.015)]);
        }
        // Front strap stitched on to the body.
        self.handle(
            s,
            (-0.36, top + 0.15),
            (0.36, top + 0.15),
            1.15,
            0.06,
            Ink::Main(0.9),
        );
        for x in [-0.36f32, 0.36] {
            s.shape(
                vec![
                    (x - 0.035, top - 0.01),
                    (x + 0.035, top - 0.01),
                    (x + 0.035, top + 0.2),
                    (x - 0.035, top + 0.2),
                ],
                Ink::Main(0.9),
            );
            s.seam(vec![(x - 0.03, top + 0.05), (x + 0.03, top + 0.17)]);
            s.seam(vec![(x + 0.03, top + 0.05), (x - 0.03, top + 0.17)]);
        }
        if self.has(D::Bow) {
            self.bow(s, (-0.36, top + 0.1), 0.13, Ink::Main(0.85));
        }
    }

    fn backpack(&self, s: &mut Sketch) {
        let (x0, x1, y0, y1) = (-0.52, 0.52, -0.8, 0.85);
        // Shoulder straps curving out behind the body.
        for side in [-1.0f32, 1.0] {
            let strap = cubic(
                (side * 0.3, y0 + 0.15),
                (side * 0.85, -0.4),
                (side * 0.75, 0.4),
                (side * 0.42, y1 - 0.1),
                16,
            );
            s.with(
                Affine::rotate_about((side * 0.3, y0 + 0.15), 0.3 * self.swing),
                |s| {
                    s.band(strap, 0.13, Ink::Main(0.72));
                },
            );
        }
        // Grab handle.
        s.band(
            quad((-0.13, y0 + 0.08), (0.0, y0 - 0.32), (0.13, y0 + 0.08), 10),
            0.05,
            Ink::Main(0.8),
        );
        let body = join(&[
            &arc((0.0, y0 + 0.42), 0.52, 0.42, PI, TAU, 18),
            &[(x1, y1 - 0.12)],
            &quad((x1, y1 - 0.12), (x1, y1), (x1 - 0.12, y1), 4)[1..],
            &[(x0 + 0.12, y1)],
            &quad((x0 + 0.12, y1), (x0, y1), (x0, y1 - 0.12), 4)[1..],
        ]);
        s.shape(body, Ink::Main(1.0));
        s.fold(vec![(-0.42, -0.3), (-0.42, 0.7)], true);
        s.fold(vec![(0.44, -0.3), (0.44, 0.7)], true);
        if self.has(D::Zip) {
            let z = arc((0.0, y0 + 0.45), 0.44, 0.35, PI + 0.05, TAU - 0.05, 18);
            s.line(z.clone(), 0.03, Ink::Outline);
            s.line(z, 0.02, Ink::Metal);
            for x in [-0.15f32, 0.12] {
                let y = y0 + 0.45 - 0.35 * (1.0 - (x / 0.44).powi(2)).sqrt();
                s.shape(
                    rounded_rect(x - 0.018, y, x + 0.018, y + 0.1, 0.01),
                    Ink::Metal,
                );
            }
        }
        if self.has(D::Pockets) {
            let p = rounded_rect(-0.38, 0.15, 0.38, 0.74, 0.1);
            s.shape(p, Ink::Main(0.93));
            if self.has(D::Zip) {
                s.line(vec![(-0.3, 0.23), (0.3, 0.23)], 0.025, Ink::Metal);
                s.shape(rounded_rect(0.2, 0.23, 0.236, 0.33, 0.01), Ink::Metal);
            } else {
                s.stitch(&[(-0.32, 0.22), (0.32, 0.22)], self.stitch);
            }
        } else if !self.has(D::Zip) {
            let flap = join(&[
                &arc((0.0, y0 + 0.42), 0.5, 0.4, PI, TAU, 18),
                &quad((0.5, y0 + 0.5), (0.0, y0 + 0.85), (-0.5, y0 + 0.5), 10),
            ]);
            s.shape(flap, Ink::Main(0.92));
        }
        if self.has(D::Buckle) {
            for x in [-0.2f32, 0.2] {
                s.shape(
                    vec![
                        (x - 0.035, -0.05),
                        (x + 0.035, -0.05),
                        (x + 0.035, 0.42),
                        (x - 0.035, 0.42),
                    ],
                    Ink::Plain(rgb8(50, 42, 38)),
                );
                self.buckle(s, (x, 0.3), 0.05, 0.045);
            }
        }
        if self.has(D::Logo) {
            self.logo(s, (0.0, -0.2), 0.06);
        }
        s.stitch(
            &[(x0 + 0.05, y1 - 0.06), (x1 - 0.05, y1 - 0.06)],
            self.stitch,
        );
    }

    fn clutch(&self, s: &mut Sketch) {
        let (w, h) = (0.9, 0.4 + self.v.range(10, -0.04, 0.06));
        let body = rounded_rect(-w, -h, w, h, 0.06);
        s.shape(body, Ink::Main(1.0));
        s.stitch(&[(-w + 0.05, h - 0.05), (w - 0.05, h - 0.05)], self.stitch);
        let point = (0.0, 0.12);
        if self.has(D::Zip) {
            self.zip(s, vec![(-w + 0.1, -h + 0.07), (w - 0.1, -h + 0.07)]);
        } else {
            let flap = join(&[
                &[(-w - 0.005, -h - 0.005), (w + 0.005, -h - 0.005)],
                &quad((w, -h + 0.05), (0.3, 0.0), (0.06, point.1 - 0.02), 6),
                &quad((-0.06, point.1 - 0.02), (-0.3, 0.0), (-w, -h + 0.05), 6),
            ]);
            s.shape(flap, Ink::Main(0.93));
            s.fold(vec![(-0.7, -h + 0.1), (-0.1, 0.02)], false);
        }
        if self.has(D::Buckle) {
            self.buckle(s, point, 0.08, 0.065);
        } else if self.has(D::Bow) {
            self.bow(s, point, 0.18, Ink::Main(0.88));
        } else if self.has(D::Logo) {
            s.shape(ellipse(point, 0.08, 0.08, 18), Ink::Metal);
            self.logo(s, point, 0.05);
        } else if !self.has(D::Zip) {
            s.shape(ellipse(point, 0.04, 0.04, 12), Ink::Metal);
        }
        if self.has(D::Bow) && self.has(D::Buckle) {
            self.bow(s, (0.5, 0.22), 0.14, Ink::Main(0.85));
        }
        if self.has(D::Logo) && (self.has(D::Buckle) || self.has(D::Bow)) {
            self.logo(s, (-0.6, 0.25), 0.05);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Hats

impl Garment<'_> {
    fn hat(&self, s: &mut Sketch) {
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

// ---------------------------------------------------------------------------------------
// Scarves

impl Garment<'_> {
    fn scarf(&self, s: &mut Sketch) {
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

// ---------------------------------------------------------------------------------------
// Eyewear (front view)

impl Garment<'_> {
    fn eyewear(&self, s: &mut Sketch) {
        let tilt = Affine::rotate(0.2 * self.swing);
        s.with(tilt, |s| {
            if self.spec.subtype == S::Sunglasses {
                self.sunglasses(s)
            } else {
                self.round_glasses(s)
            }
        });
    }

    fn sunglasses(&self, s: &mut Sketch) {
        let cx = 0.47;
        let lens_r = |side: f32| -> Vec<Pt> {
            let f = |p: Pt| (side * p.0, p.1);
            join(&[
                &[f((0.11, -0.2))],
                &quad(f((0.11, -0.2)), f((0.47, -0.26)), f((0.84, -0.22)), 6)[1..],
                &cubic(
                    f((0.84, -0.22)),
                    f((0.86, 0.0)),
                    f((0.8, 0.2)),
                    f((0.55, 0.22)),
                    8,
                )[1..],
                &cubic(
                    f((0.55, 0.22)),
                    f((0.3, 0.24)),
                    f((0.14, 0.15)),
                    f((0.11, -0.2)),
                    8,
                )[1..],
            ])
        };
        // Temples seen going back at the sides.
        for side in [-1.0f32, 1.0] {
            s.band(
                vec![
                    (side * 0.86, -0.17),
                    (side * 1.0, -0.12),
                    (side * 1.02, 0.02),
                ],
                0.05,
                Ink::Main(0.8),
            );
        }
        for side in [-1.0f32, 1.0] {
            let lens = lens_r(side);
            s.line(lens.clone(), 0.11, Ink::Outline);
            s.line(lens.clone(), 0.08, Ink::Main(1.0));
            s.fill(lens.clone(), Ink::Lens);
            s.push(
                Geom::Stroke {
                    line: lens,
                    closed: true,
                    width: 0.012,
                },
                Ink::Flat([0.05; 3]),
                0.8,
                false,
            );
        }
        // Brow bar and bridge.
        s.band(
            quad((-0.12, -0.17), (0.0, -0.25), (0.12, -0.17), 6),
            0.06,
            Ink::Main(1.0),
        );
        s.line(
            vec![(-0.82, -0.23), (-cx, -0.27), (-0.12, -0.21)],
            0.05,
            Ink::Main(1.05),
        );
        s.line(
            vec![(0.12, -0.21), (cx, -0.27), (0.82, -0.23)],
            0.05,
            Ink::Main(1.05),
        );
        for side in [-1.0f32, 1.0] {
            s.fill(ellipse((side * 0.78, -0.2), 0.022, 0.022, 8), Ink::Metal);
        }
        if self.has(D::Logo) {
            for side in [-1.0f32, 1.0] {
                let x = side * 0.7;
                s.shape(
                    rounded_rect(x - 0.06, -0.27, x + 0.06, -0.22, 0.012),
                    Ink::Metal,
                );
            }
        }
    }

    fn round_glasses(&self, s: &mut Sketch) {
        let r = 0.34;
        let cx = 0.46;
        let metal_frame = matches!(
            self.spec.colour,
            Colour::Yellow | Colour::Grey | Colour::White
        );
        let frame = if metal_frame {
            Ink::Metal
        } else {
            Ink::Main(1.0)
        };
        let width = if metal_frame { 0.03 } else { 0.05 };
        for side in [-1.0f32, 1.0] {
            s.band(
                vec![
                    (side * (cx + r), -0.05),
                    (side * 1.0, -0.04),
                    (side * 1.03, 0.05),
                ],
                0.025,
                frame,
            );
        }
        for side in [-1.0f32, 1.0] {
            let c = (side * cx, 0.0);
            let rim = ellipse(c, r, r, 40);
            s.push(Geom::Fill(vec![rim.clone()]), Ink::Glass, 0.35, true);
            s.push(
                Geom::Stroke {
                    line: rim.clone(),
                    closed: true,
                    width: width + 2.0 * OUT,
                },
                Ink::Outline,
                1.0,
                true,
            );
            s.push(
                Geom::Stroke {
                    line: rim,
                    closed: true,
                    width,
                },
                frame,
                1.0,
                true,
            );
            // Nose pads.
            s.shape(ellipse((side * 0.17, 0.12), 0.025, 0.045, 10), Ink::Glass);
        }
        s.band(
            quad(
                (-(cx - r) - 0.01, -0.08),
                (0.0, -0.24),
                (cx - r + 0.01, -0.08),
                8,
            ),
            width * 0.8,
            frame,
        );
        if self.has(D::Logo) {
            for side in [-1.0f32, 1.0] {
                s.shape(
                    rounded_rect(
                        side * (cx + r) - 0.03,
                        -0.09,
                        side * (cx + r) + 0.03,
                        -0.01,
                        0.01,
                    ),
                    Ink::Metal,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use std::collections::HashSet;

    fn every_subtype() -> Vec<GarmentSpec> {
        Subtype::ALL
            .iter()
            .enumerate()
            .map(|(i, &st)| {
                let mut spec = GarmentSpec::plain(st, Colour::ALL[i % 12]);
                spec.details = st.details().iter().map(|d| d.0).take(3).collect();
                spec.variant = i as u32 * 7919;
                spec
            })
            .collect()
    }

    #[test]
    fn the_vocabulary_is_as_listed() {
        assert_eq!(Category::ALL.len(), 12);
        assert!(Subtype::ALL.len() >= 35);
        assert_eq!(Colour::ALL.len(), 12);
        assert_eq!(Texture::ALL.len(), 6);
        assert_eq!(Detail::ALL.len(), 10);
        let vocab = vocabulary();
        let distinct: HashSet<_> = vocab.iter().collect();
        assert_eq!(distinct.len(), vocab.len());
        assert!(distinct.len() >= 80, "{}", distinct.len());
        for l in &vocab {
            assert_eq!(Label::new(l.group, &l.name), *l, "{l} is not normalised");
        }
    }

    #[test]
    fn random_specs_are_labelled_within_the_vocabulary() {
        let vocab: HashSet<Label> = vocabulary().into_iter().collect();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut seen = HashSet::new();
        for _ in 0..3000 {
            let spec = GarmentSpec::random(&mut rng);
            let labels = spec.labels();
            assert!(labels.contains(&Label::new(LabelGroup::Category, spec.category().as_str())));
            assert!(labels.contains(&Label::new(LabelGroup::Subtype, spec.subtype.as_str())));
            assert!(spec.details.len() <= 3);
            for d in &spec.details {
                assert!(spec.subtype.details().iter().any(|x| x.0 == *d), "{spec:?}");
            }
            for &(x, y) in spec.subtype.exclusive() {
                assert!(!(spec.has(x) && spec.has(y)), "{spec:?}");
            }
            let cat = spec.category();
            assert_eq!(
                spec.sleeve.is_some(),
                matches!(cat, Category::Top | Category::Dress | Category::Outerwear),
                "{spec:?}"
            );
            for l in labels {
                assert!(vocab.contains(&l), "{l} not in the vocabulary");
                seen.insert(l);
            }
        }
        // Every detail and subtype actually occurs.
        for d in Detail::ALL {
            assert!(
                seen.contains(&Label::new(LabelGroup::Detail, d.as_str())),
                "{d:?}"
            );
        }
        assert!(seen.len() >= 80, "{}", seen.len());
    }

    #[test]
    fn rendering_is_deterministic() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for _ in 0..6 {
            let spec = GarmentSpec::random(&mut rng);
            let a = render_shop(&spec, 96);
            let b = render_shop(&spec, 96);
            assert_eq!(a.image.as_raw(), b.image.as_raw());
            assert_eq!(a.mask.as_raw(), b.mask.as_raw());
        }
    }

    #[test]
    fn every_subtype_renders_centred_inside_the_frame() {
        let size = 128u32;
        for spec in every_subtype() {
            let r = render_shop(&spec, size);
            assert_eq!(r.image.dimensions(), (size, size));
            let (mut n, mut lo, mut hi) = (0u32, (size, size), (0u32, 0u32));
            for (x, y, p) in r.mask.enumerate_pixels() {
                if p.0[0] > 127 {
                    n += 1;
                    lo = (lo.0.min(x), lo.1.min(y));
                    hi = (hi.0.max(x), hi.1.max(y));
                }
            }
            assert!(
                n > size * size / 20,
                "{:?}: mask has {n} pixels",
                spec.subtype
            );
            assert!(
                lo.0 > 2 && lo.1 > 2 && hi.0 < size - 3 && hi.1 < size - 3,
                "{:?} touches the border",
                spec.subtype
            );
            // Fills most of the frame along its longer side.
            let extent = (hi.0 - lo.0).max(hi.1 - lo.1) as f32 / size as f32;
            assert!(
                (0.65..0.85).contains(&extent),
                "{:?}: extent {extent}",
                spec.subtype
            );
            for (x, y) in [(0, 0), (size - 1, 0), (0, size - 1), (size - 1, size - 1)] {
                let p = r.image.get_pixel(x, y).0;
                assert!(
                    p.iter().all(|&c| c >= 225),
                    "{:?}: corner {p:?}",
                    spec.subtype
                );
                assert_eq!(r.mask.get_pixel(x, y).0[0], 0);
            }
        }
    }

    #[test]
    fn white_items_stand_out_from_the_background() {
        let spec = GarmentSpec::plain(Subtype::TShirt, Colour::White);
        let r = render_shop(&spec, 128);
        let edge_dark = r
            .image
            .pixels()
            .zip(r.mask.pixels())
            .filter(|(_, m)| m.0[0] > 200)
            .filter(|(p, _)| p.0.iter().all(|&c| c < 170))
            .count();
        assert!(edge_dark > 60, "only {edge_dark} dark outline pixels");
    }

    #[test]
    fn labels_follow_the_spec() {
        let mut spec = GarmentSpec::plain(Subtype::Shirt, Colour::Red);
        spec.details = vec![Detail::Collar, Detail::Buttons];
        spec.sleeve = Some(Sleeve::LongSleeve);
        let names: Vec<String> = spec.labels().iter().map(|l| l.to_string()).collect();
        for want in [
            "category:top",
            "subtype:shirt",
            "colour:red",
            "texture:solid",
            "detail:collar",
            "detail:buttons",
            "sleeve:long-sleeve",
            "fit:slim",
        ] {
            assert!(
                names.iter().any(|n| n == want),
                "{want} missing from {names:?}"
            );
        }
        assert!(names.iter().all(|n| !n.starts_with("length:")));
    }

    #[test]
    fn street_poses_stay_in_range() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..200 {
            let p = Pose::street(&mut rng);
            assert!(p.rotation_rad.abs() <= 25f32.to_radians() + 1e-6);
            assert!((0.5..1.08).contains(&p.scale));
            assert!(p.limb_swing.abs() <= 0.35 && p.shear.abs() <= 0.15);
        }
        let shop = Pose::shop();
        assert_eq!(
            (shop.scale, shop.rotation_rad, shop.mirror),
            (1.0, 0.0, false)
        );
    }
}

//! The label vocabulary of the demo garments (category, subtype, colour, texture, detail,
//! sleeve, length, fit) and, per subtype, which details, sleeves, lengths, fits and textures
//! it comes in and how often. Mostly tabular data.

use crate::sources::demo::draw::{Rgb, rgb8};

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
    pub(super) fn details(self) -> &'static [(Detail, f32)] {
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
    pub(super) fn exclusive(self) -> &'static [(Detail, Detail)] {
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
    pub(super) fn sleeves(self) -> &'static [Sleeve] {
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
    pub(super) fn lengths(self) -> &'static [Length] {
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
    pub(super) fn fits(self) -> &'static [Fit] {
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
    pub(super) fn texture_odds(self) -> [u32; 6] {
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

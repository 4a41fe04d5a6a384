//! The catalogue's vocabulary: items, their multi-labels and where each came from. Pure
//! types that the store saves; the demo generator and the importers that fill a catalogue
//! live in [`crate::sources`].
//!
//! An *item* is one catalogue image with its labels. Several images of one product (the
//! views of a DeepFashion item, say) are several items that share a `product` key.

pub mod vocabulary;

use serde::{Deserialize, Serialize};
use std::fmt;

/// What aspect of an item a label describes. The paper's scoring criteria (category,
/// subtype, texture, colour, details) map onto these groups, so reports can group by them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelGroup {
    Category,
    Subtype,
    Colour,
    Texture,
    Detail,
    Sleeve,
    Length,
    Fit,
    Gender,
    Season,
    Usage,
    Brand,
    /// A named attribute from a dataset's attribute list (DeepFashion).
    Attribute,
    /// A word from a product title (Amazon), kept when frequent enough.
    Word,
}

impl LabelGroup {
    pub const ALL: [LabelGroup; 14] = [
        LabelGroup::Category,
        LabelGroup::Subtype,
        LabelGroup::Colour,
        LabelGroup::Texture,
        LabelGroup::Detail,
        LabelGroup::Sleeve,
        LabelGroup::Length,
        LabelGroup::Fit,
        LabelGroup::Gender,
        LabelGroup::Season,
        LabelGroup::Usage,
        LabelGroup::Brand,
        LabelGroup::Attribute,
        LabelGroup::Word,
    ];

    /// The name stored in the database and shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            LabelGroup::Category => "category",
            LabelGroup::Subtype => "subtype",
            LabelGroup::Colour => "colour",
            LabelGroup::Texture => "texture",
            LabelGroup::Detail => "detail",
            LabelGroup::Sleeve => "sleeve",
            LabelGroup::Length => "length",
            LabelGroup::Fit => "fit",
            LabelGroup::Gender => "gender",
            LabelGroup::Season => "season",
            LabelGroup::Usage => "usage",
            LabelGroup::Brand => "brand",
            LabelGroup::Attribute => "attribute",
            LabelGroup::Word => "word",
        }
    }

    /// The group named `name`, if it is one.
    pub fn parse(name: &str) -> Option<LabelGroup> {
        LabelGroup::ALL.into_iter().find(|g| g.as_str() == name)
    }
}

impl fmt::Display for LabelGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One label: a group and a lower-case name, e.g. `colour:red`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Label {
    pub group: LabelGroup,
    pub name: String,
}

impl Label {
    /// A label with its name normalised (trimmed, lower case, inner spaces as '-').
    pub fn new(group: LabelGroup, name: &str) -> Label {
        let name = name
            .trim()
            .to_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join("-");
        Label { group, name }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.group, self.name)
    }
}

/// Where an item came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Demo,
    Csv,
    Amazon,
    FashionProductImages,
    DeepfashionInshop,
    /// A folder of photos in category folders (`vitrine import folder`).
    Folder,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Demo => "demo",
            Source::Csv => "csv",
            Source::Amazon => "amazon",
            Source::FashionProductImages => "fashion-product-images",
            Source::DeepfashionInshop => "deepfashion-inshop",
            Source::Folder => "folder",
        }
    }

    pub fn parse(name: &str) -> Option<Source> {
        [
            Source::Demo,
            Source::Csv,
            Source::Amazon,
            Source::FashionProductImages,
            Source::DeepfashionInshop,
            Source::Folder,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// The DeepFashion-style evaluation partition an item belongs to, when its source has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Partition {
    Train,
    Query,
    Gallery,
}

impl Partition {
    pub fn as_str(self) -> &'static str {
        match self {
            Partition::Train => "train",
            Partition::Query => "query",
            Partition::Gallery => "gallery",
        }
    }

    pub fn parse(name: &str) -> Option<Partition> {
        [Partition::Train, Partition::Query, Partition::Gallery]
            .into_iter()
            .find(|p| p.as_str() == name)
    }
}

/// An item about to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewItem {
    /// The item's id in its source ("demo-000042", an ASIN, a styles.csv id …); unique.
    pub key: String,
    pub source: Source,
    pub title: String,
    /// The image path as stored: relative to the library root for images the library owns,
    /// absolute for imported images that stay where they are.
    pub image: String,
    pub width_px: u32,
    pub height_px: u32,
    /// Groups several images of one product.
    pub product: Option<String>,
    pub partition: Option<Partition>,
    pub in_stock: Option<bool>,
    pub labels: Vec<Label>,
}

/// The database id of an item.
pub type ItemId = i64;

/// A stored item with its labels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    pub id: ItemId,
    pub key: String,
    pub source: Source,
    pub title: String,
    pub image: String,
    pub width_px: u32,
    pub height_px: u32,
    pub product: Option<String>,
    pub partition: Option<Partition>,
    pub in_stock: Option<bool>,
    pub labels: Vec<Label>,
}

impl Item {
    /// The item's label in `group` (the first one if it has several).
    pub fn label_in(&self, group: LabelGroup) -> Option<&str> {
        self.labels
            .iter()
            .find(|l| l.group == group)
            .map(|l| l.name.as_str())
    }
}

//! "Why similar": where a query and a result agree, as a heatmap over each image (issue 19,
//! item 1; ARCHITECTURE.md §6).
//!
//! A search ranks by the cosine of two pooled feature vectors, so the natural question "which
//! part of the result made it similar?" has a direct answer in the same features: for each
//! location of one image's last backbone map (`C × h × w`, 7×7 for Lite0 at 224 px), the
//! cosine of its feature vector against the *other* image's pooled vector ([`agreement`]).
//! Negative cosines are clamped to 0 and the map is scaled min–max to 0..1, so the best
//! matching location is 1 and the least matching 0 (the raw cosines of non-negative ReLU6
//! features all sit in a narrow band; stretching it is what makes the map readable). It is
//! upsampled bilinearly ([`Heatmap::upsample`]) and drawn as a translucent colour map
//! ([`overlay`]).
//!
//! **What region a map covers.** The model never sees the photo itself but its letterboxed
//! square (`vision::preprocess`: resized keeping the aspect ratio, centred, padded with
//! white to `side × side`; nothing is cropped). A map covers exactly that square, padding
//! included, so it is drawn over [`model_view`] (or any letterboxed square of the same
//! image, which has the same geometry at another size).
//!
//! **Cost.** The query's map comes out of the forward pass that embeds it
//! ([`crate::model::system::System::embed_predict_and_features`]; the pooled vector is the
//! map's mean, so nothing is computed twice); a search keeps it only when asked
//! (`Searcher::query_file_explained`). Each result costs one backbone pass of its image,
//! cached by item and system fingerprint in a small LRU ([`FeatureCache`]).
//!
//! Nothing here knows of egui or of the command line: the CLI's `query --explain` and the
//! GUI's Explain overlay both call [`explain`] and [`overlay`] (or [`explain_pair`]).

mod cache;
mod overlay;
#[cfg(test)]
mod tests;

pub use cache::{FEATURE_CACHE_ITEMS, FeatureCache};
pub use overlay::{DEFAULT_OPACITY, colour_of, overlay};

use crate::catalog::ItemId;
use crate::error::{Error, Result};
use crate::model::system::System;
use candle_core::{Device, Tensor};
use image::{RgbImage, RgbaImage};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// One image's last backbone feature map, `C × h × w`, row-major, on the CPU.
#[derive(Clone, PartialEq)]
pub struct FeatureMap {
    channels: usize,
    height: usize,
    width: usize,
    values: Vec<f32>,
}

// 62,720 numbers for Lite0: a debug print shows the shape, not the values.
impl fmt::Debug for FeatureMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "FeatureMap({}×{}×{})",
            self.channels, self.height, self.width
        )
    }
}

impl FeatureMap {
    /// A map from its values, `C × h × w` row-major; refused when the sizes disagree.
    pub fn new(channels: usize, height: usize, width: usize, values: Vec<f32>) -> Result<Self> {
        if channels == 0 || height == 0 || width == 0 || values.len() != channels * height * width {
            return Err(Error::Invalid(format!(
                "a {channels}×{height}×{width} feature map cannot hold {} values",
                values.len()
            )));
        }
        Ok(FeatureMap {
            channels,
            height,
            width,
            values,
        })
    }

    /// The map of image `index` of a batch of maps, `N × C × h × w` on any device.
    pub fn from_batch(maps: &Tensor, index: usize) -> Result<Self> {
        let (_, c, h, w) = maps.dims4()?;
        let values = maps
            .narrow(0, index, 1)?
            .to_device(&Device::Cpu)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        FeatureMap::new(c, h, w, values)
    }

    pub fn channels(&self) -> usize {
        self.channels
    }

    /// `(width, height)` in map cells.
    pub fn size(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    /// The feature vector at cell `(x, y)`.
    fn at(&self, x: usize, y: usize) -> impl Iterator<Item = f32> + '_ {
        let cells = self.height * self.width;
        let offset = y * self.width + x;
        self.values.iter().skip(offset).step_by(cells).copied()
    }

    /// The global average over the cells, `C` values: the backbone's pooled features.
    pub fn pooled(&self) -> Vec<f32> {
        let cells = self.height * self.width;
        self.values
            .chunks(cells)
            .map(|plane| plane.iter().sum::<f32>() / cells as f32)
            .collect()
    }
}

/// Values in 0..1 on a `width × height` grid, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    width: usize,
    height: usize,
    values: Vec<f32>,
}

impl Heatmap {
    /// `(width, height)`.
    pub fn size(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    /// The value at `(x, y)`.
    pub fn value(&self, x: usize, y: usize) -> f32 {
        self.values[y * self.width + x]
    }

    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// The cell of the highest value (the first, in row order, on a tie).
    pub fn peak(&self) -> (usize, usize) {
        let mut best = 0;
        for (i, v) in self.values.iter().enumerate() {
            if *v > self.values[best] {
                best = i;
            }
        }
        (best % self.width, best / self.width)
    }

    /// `0, 1/(n−1), …, 1` on one row: a colour scale for a legend.
    pub fn ramp(n: usize) -> Heatmap {
        let step = 1.0 / n.saturating_sub(1).max(1) as f32;
        Heatmap {
            width: n.max(1),
            height: 1,
            values: (0..n.max(1)).map(|i| i as f32 * step).collect(),
        }
    }

    /// Bilinear resampling to `width × height` with pixel centres aligned (a cell's value
    /// sits at its centre; edges hold the border cells' values), as images are resized.
    pub fn upsample(&self, width: usize, height: usize) -> Heatmap {
        let axis = |out: usize, len: usize| -> Vec<(usize, usize, f32)> {
            (0..out)
                .map(|o| {
                    let s = ((o as f32 + 0.5) * len as f32 / out as f32 - 0.5)
                        .clamp(0.0, (len - 1) as f32);
                    let lo = s.floor() as usize;
                    (lo, (lo + 1).min(len - 1), s - lo as f32)
                })
                .collect()
        };
        let xs = axis(width, self.width);
        let ys = axis(height, self.height);
        let mut values = Vec::with_capacity(width * height);
        for &(y0, y1, ty) in &ys {
            for &(x0, x1, tx) in &xs {
                let top = self.value(x0, y0) * (1.0 - tx) + self.value(x1, y0) * tx;
                let bottom = self.value(x0, y1) * (1.0 - tx) + self.value(x1, y1) * tx;
                values.push(top * (1.0 - ty) + bottom * ty);
            }
        }
        Heatmap {
            width,
            height,
            values,
        }
    }
}

/// Where `map` agrees with `other_pooled` (another image's pooled features): the cosine at
/// every cell, clamped at 0, scaled min–max to 0..1 (all 0 when the cells agree equally).
pub fn agreement(map: &FeatureMap, other_pooled: &[f32]) -> Result<Heatmap> {
    if other_pooled.len() != map.channels {
        return Err(Error::Invalid(format!(
            "cannot compare a {}-channel feature map with {} pooled features (two systems?)",
            map.channels,
            other_pooled.len()
        )));
    }
    let other_norm = other_pooled.iter().map(|v| v * v).sum::<f32>().sqrt();
    let mut values = Vec::with_capacity(map.width * map.height);
    for y in 0..map.height {
        for x in 0..map.width {
            let (mut dot, mut norm) = (0.0f32, 0.0f32);
            for (a, b) in map.at(x, y).zip(other_pooled) {
                dot += a * b;
                norm += a * a;
            }
            let denominator = norm.sqrt() * other_norm;
            let cosine = if denominator > 0.0 {
                dot / denominator
            } else {
                0.0
            };
            values.push(cosine.max(0.0));
        }
    }
    let low = values.iter().copied().fold(f32::INFINITY, f32::min);
    let high = values.iter().copied().fold(0.0f32, f32::max);
    let span = high - low;
    for v in &mut values {
        *v = if span > f32::EPSILON {
            ((*v - low) / span).clamp(0.0, 1.0)
        } else {
            0.0
        };
    }
    Ok(Heatmap {
        width: map.width,
        height: map.height,
        values,
    })
}

/// A query–result pair's two heatmaps, each at its map's size.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// Where the query agrees with the result's pooled features.
    pub query: Heatmap,
    /// Where the result agrees with the query's pooled features.
    pub result: Heatmap,
}

/// Both heatmaps of a query and a result.
pub fn explain(query: &FeatureMap, result: &FeatureMap) -> Result<Explanation> {
    Ok(Explanation {
        query: agreement(query, &result.pooled())?,
        result: agreement(result, &query.pooled())?,
    })
}

/// The letterboxed square `system` sees of `image` (see the module docs): what a heatmap
/// covers.
pub fn model_view(system: &System, image: &RgbImage) -> RgbImage {
    let preprocess = system.preprocess();
    crate::vision::preprocess::letterbox(image, preprocess.side_px, preprocess.fill)
}

/// One backbone pass over `image` (no cache): its feature map.
pub fn features_of(system: &System, image: &RgbImage) -> Result<FeatureMap> {
    let x = system
        .preprocess()
        .to_tensor(std::slice::from_ref(image), system.device())?;
    FeatureMap::from_batch(&system.features(&x)?, 0)
}

/// The query side of [`explain_pair`]: its image, and its feature map when the search kept
/// it (otherwise it costs a pass: cached when the query is a catalogue item).
#[derive(Debug, Clone)]
pub struct QuerySide<'a> {
    pub image: &'a RgbImage,
    pub features: Option<Arc<FeatureMap>>,
    pub item: Option<ItemId>,
}

/// Both images as the model saw them with their heatmaps drawn over them.
#[derive(Debug, Clone)]
pub struct PairOverlays {
    pub query: RgbaImage,
    pub result: RgbaImage,
}

/// Explains the result `item` (image at `result_image`) of a query and draws both overlays
/// on the model's views, at `opacity`; the result's map comes through `cache`.
pub fn explain_pair(
    system: &System,
    cache: &mut FeatureCache,
    query: &QuerySide,
    (item, result_image): (ItemId, &Path),
    opacity: f32,
) -> Result<PairOverlays> {
    let query_map = match (&query.features, query.item) {
        (Some(map), _) => map.clone(),
        (None, Some(id)) => cache.features_of_image(system, id, query.image)?,
        (None, None) => Arc::new(features_of(system, query.image)?),
    };
    let decoded = crate::vision::decode(result_image)?;
    let result_map = cache.features_of_image(system, item, &decoded)?;
    let explanation = explain(&query_map, &result_map)?;
    let draw = |image: &RgbImage, heat: &Heatmap| {
        let mut view = image::DynamicImage::ImageRgb8(model_view(system, image)).to_rgba8();
        overlay(&mut view, heat, opacity);
        view
    };
    Ok(PairOverlays {
        query: draw(query.image, &explanation.query),
        result: draw(&decoded, &explanation.result),
    })
}

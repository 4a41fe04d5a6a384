//! [`FeatureCache`]: the feature maps of recently explained items, so hovering back and forth
//! over a result grid costs one backbone pass per item, not one per hover.

use super::{FeatureMap, features_of};
use crate::catalog::ItemId;
use crate::error::Result;
use crate::model::system::System;
use image::RgbImage;
use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;

/// Items a [`FeatureCache`] keeps by default: two result grids of ten, with room to spare
/// (about 250 KB each for Lite0, so some 16 MB at most).
pub const FEATURE_CACHE_ITEMS: usize = 64;

/// A small least-recently-used cache of feature maps keyed by item and system fingerprint
/// (another version of a system never reuses a map), counting the passes it ran.
#[derive(Debug)]
pub struct FeatureCache {
    capacity: usize,
    /// Most recently used last.
    entries: VecDeque<((ItemId, String), Arc<FeatureMap>)>,
    passes: usize,
}

impl Default for FeatureCache {
    fn default() -> Self {
        FeatureCache::new(FEATURE_CACHE_ITEMS)
    }
}

impl FeatureCache {
    /// A cache of at most `capacity` maps (at least one).
    pub fn new(capacity: usize) -> Self {
        FeatureCache {
            capacity: capacity.max(1),
            entries: VecDeque::new(),
            passes: 0,
        }
    }

    /// The backbone passes this cache has run (its misses).
    pub fn passes(&self) -> usize {
        self.passes
    }

    /// Maps held now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The map of `item` with `system`, decoding its image at `path` on a miss.
    pub fn features(
        &mut self,
        system: &System,
        item: ItemId,
        path: &Path,
    ) -> Result<Arc<FeatureMap>> {
        self.get_or_insert_with(system, item, || {
            features_of(system, &crate::vision::decode(path)?)
        })
    }

    /// The map of `item` with `system` from its image already decoded.
    pub fn features_of_image(
        &mut self,
        system: &System,
        item: ItemId,
        image: &RgbImage,
    ) -> Result<Arc<FeatureMap>> {
        self.get_or_insert_with(system, item, || features_of(system, image))
    }

    fn get_or_insert_with(
        &mut self,
        system: &System,
        item: ItemId,
        compute: impl FnOnce() -> Result<FeatureMap>,
    ) -> Result<Arc<FeatureMap>> {
        let key = (item, system.fingerprint().to_owned());
        if let Some(i) = self.entries.iter().position(|(k, _)| *k == key)
            && let Some(hit) = self.entries.remove(i)
        {
            let map = hit.1.clone();
            self.entries.push_back(hit);
            return Ok(map);
        }
        let map = Arc::new(compute()?);
        self.passes += 1;
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back((key, map.clone()));
        Ok(map)
    }
}

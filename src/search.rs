//! Visual search over one system's index, and its retrieval evaluation (ARCHITECTURE.md §6).
//!
//! A [`Searcher`] loads a system, its [`EmbeddingIndex`] and the metadata of every indexed
//! item (stored image, title, labels, stock) once; then each query is decode → embed →
//! exact cosine top-K ([`crate::index::scan`]). The CLI (`vitrine query`, `vitrine eval
//! retrieval`) and the GUI's Search tab share it, so both search the same way. It is `Send`:
//! the GUI opens and queries it on a worker thread.
//!
//! **One freshness policy**, [`Searcher::open_fresh`], for every command and tab that
//! searches: the index is first brought up to date with the catalogue (only new and changed
//! images are embedded, so a fresh index costs a scan of file times), then opened. A stale row
//! would silently rank the wrong picture, so [`Searcher::open`] underneath still refuses an
//! index that no longer matches: built by another version of the system, missing, or holding
//! an item whose image changed or left the catalogue. That refusal is what a read-only
//! library (which cannot be re-indexed) answers, naming the command to run. The GUI applies
//! the same policy in two visible steps ([`Searcher::open_or_needs_index`], then an index job
//! with its progress bar and cancel button, then the query again).
//!
//! **The colour ↔ shape dial** ([`SearchFilter::colour_weight`], w in 0..=1) ranks by
//! `(1 − w)·cos(embedding) + w·cos(colour)`, the colour part being the shallow branch's
//! output stored beside each row ([`crate::index::emb_file`]) and computed for a query in the
//! same pass as its embedding. w = 0, the default, is the plain scan. A system without a
//! shallow branch (`imagenet-lite0`), or an index made before the colour part existed,
//! refuses w > 0 with what to do ([`Searcher::check_colour_weight`]).
//!
//! [`crate::eval::retrieval`] measures a searcher on the library itself.

use crate::catalog::{ItemId, Label, LabelGroup, Partition};
use crate::error::{Error, Result};
use crate::explain::FeatureMap;
use crate::index::scan::{ColourWeight, Hit, top_k_weighted};
use crate::index::{self, EmbeddingIndex};
use crate::jobs::JobContext;
use crate::library::{self, Access, Library};
use crate::model::system::System;
use crate::store::ItemFilter;
use crate::vision;
use candle_core::{Device, Tensor};
use image::RgbImage;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Labels predicted for a query image.
pub const PREDICTED_LABELS: usize = 5;

/// Which items a search may return, and how much colour weighs in their ranking.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchFilter {
    /// Category label names (`dress`, `boots` …); empty allows every category.
    pub categories: Vec<String>,
    /// Items never returned (the query item itself, say).
    pub exclude: Vec<ItemId>,
    /// Only items in stock (items whose stock is unknown count as in stock).
    pub in_stock_only: bool,
    /// The colour ↔ shape dial (see the module docs): 0, the default, ranks by the embedding
    /// alone. It changes the order, never which items may be returned.
    pub colour_weight: ColourWeight,
}

impl SearchFilter {
    /// Whether the filter allows everything (no mask is needed).
    pub fn allows_all(&self) -> bool {
        self.categories.is_empty() && self.exclude.is_empty() && !self.in_stock_only
    }
}

/// One indexed item, as the searcher knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedItem {
    pub item_id: ItemId,
    /// The image file, absolute.
    pub image: PathBuf,
    pub title: String,
    /// Sorted, category first.
    pub labels: Vec<Label>,
    pub product: Option<String>,
    pub partition: Option<Partition>,
    pub in_stock: Option<bool>,
}

impl IndexedItem {
    /// The item's label in `group` (the first if it has several).
    pub fn label_in(&self, group: LabelGroup) -> Option<&str> {
        self.labels
            .iter()
            .find(|l| l.group == group)
            .map(|l| l.name.as_str())
    }
}

/// A label the system predicts for a query image, with its probability.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictedLabel {
    pub label: String,
    pub probability: f32,
}

/// Where a query's time went, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Timings {
    pub decode_ms: f64,
    pub embed_ms: f64,
    pub search_ms: f64,
    pub total_ms: f64,
}

/// One retrieved item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedItem {
    /// 1-based.
    pub rank: usize,
    pub item_id: ItemId,
    /// Cosine similarity to the query.
    pub score: f32,
    /// The item's image, absolute.
    pub image: String,
    pub title: String,
    /// `group:name`.
    pub labels: Vec<String>,
}

/// The answer to one query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryResult {
    /// The query image (a path, or a description of a pasted image).
    pub image: String,
    /// Best first.
    pub results: Vec<RankedItem>,
    /// The system's top labels for the query image, most probable first (empty for a query
    /// by a stored item).
    pub predicted_labels: Vec<PredictedLabel>,
    pub timings: Timings,
    /// The query's last backbone feature map, from the pass that embedded it, when the
    /// search was asked to keep it (`…_explained`) for [`crate::explain`]; `None` otherwise.
    #[serde(skip)]
    pub query_features: Option<Arc<FeatureMap>>,
}

/// The catalogue's own labels for a query, voted by its results: each label scores the
/// share of the results' similarity carried by the results that have it (1 when all of them
/// do), best first, at most `max`. A system whose classifier speaks another vocabulary
/// (`imagenet-lite0` names ImageNet classes: "broom", "panpipe") can still say what the query
/// is in the catalogue's words.
pub fn neighbour_labels(results: &[RankedItem], max: usize) -> Vec<PredictedLabel> {
    let weight = |r: &RankedItem| f64::from(r.score.max(0.0));
    let total: f64 = results.iter().map(weight).sum();
    if total <= 0.0 {
        return Vec::new();
    }
    let mut votes: HashMap<&str, f64> = HashMap::new();
    for r in results {
        for label in &r.labels {
            *votes.entry(label.as_str()).or_default() += weight(r);
        }
    }
    let mut labels: Vec<PredictedLabel> = votes
        .into_iter()
        .map(|(label, vote)| PredictedLabel {
            label: label.to_owned(),
            probability: (vote / total) as f32,
        })
        .collect();
    labels.sort_by(|a, b| {
        b.probability
            .total_cmp(&a.probability)
            .then_with(|| a.label.cmp(&b.label))
    });
    labels.truncate(max);
    labels
}

/// What [`Searcher::open_or_needs_index`] found.
#[derive(Debug)]
pub enum Opened {
    Ready(Box<Searcher>),
    /// The index must be built or brought up to date first; the error says why (it is the
    /// one [`Searcher::open`] returns).
    NeedsIndex(Error),
}

/// A system, its index and the indexed items' metadata, ready to answer queries.
#[derive(Debug)]
pub struct Searcher {
    system: System,
    index: EmbeddingIndex,
    /// In index row order.
    items: Vec<IndexedItem>,
    row_of: HashMap<ItemId, usize>,
}

// The GUI moves a searcher to a worker thread.
const _: fn() = || {
    fn assert_send<T: Send>() {}
    assert_send::<Searcher>();
};

impl Searcher {
    /// The way to search (see the module docs): brings the index of `system` up to date with
    /// the catalogue (a job step: progress and cancel through `ctx`), then opens it. A
    /// read-only library is opened as it is, so a stale index is refused with what to run.
    pub fn open_fresh(
        lib: &Library,
        system: &str,
        device: &Device,
        ctx: &JobContext,
    ) -> Result<Searcher> {
        if lib.access() == Access::ReadWrite {
            let loaded = System::load(lib, system, device)?;
            index::build(lib, &loaded, &index::BuildOptions::default(), ctx)?;
            ctx.check_cancelled()?;
            return match Searcher::open_loaded(lib, loaded)? {
                Opened::Ready(searcher) => Ok(*searcher),
                Opened::NeedsIndex(why) => Err(why),
            };
        }
        Searcher::open(lib, system, device)
    }

    /// Loads the system `system` on `device` and its index as they are, refusing an index that
    /// is missing, from another version of the system, or out of date with the catalogue.
    /// Commands call [`Searcher::open_fresh`]; this is its last step, and what benchmarks and
    /// tests use to open an index without touching it.
    pub fn open(lib: &Library, system: &str, device: &Device) -> Result<Searcher> {
        match Searcher::open_or_needs_index(lib, system, device)? {
            Opened::Ready(searcher) => Ok(*searcher),
            Opened::NeedsIndex(why) => Err(why),
        }
    }

    /// Like [`Searcher::open`], but an index that indexing would make or bring up to date
    /// (missing, unreadable, from another version of the system, out of date with the
    /// catalogue) is an answer rather than an error: the GUI indexes, then asks again.
    pub fn open_or_needs_index(lib: &Library, system: &str, device: &Device) -> Result<Opened> {
        Searcher::open_loaded(lib, System::load(lib, system, device)?)
    }

    /// [`Searcher::open_or_needs_index`] for a system already loaded.
    fn open_loaded(lib: &Library, system: System) -> Result<Opened> {
        let index = match index::load_for(lib.root(), &system) {
            Ok(index) => index,
            Err(why) => return Ok(Opened::NeedsIndex(why)),
        };
        let catalog: HashMap<ItemId, crate::catalog::Item> = lib
            .store
            .items(&ItemFilter::default())?
            .into_iter()
            .map(|it| (it.id, it))
            .collect();
        // In parallel: an image whose time changed (a copied library) is hashed.
        let root = lib.root();
        let checks: Vec<Option<std::io::Result<bool>>> = index
            .ids
            .par_iter()
            .enumerate()
            .map(|(row, id)| {
                let item = catalog.get(id)?;
                let image = library::resolve(root, &item.image);
                Some(
                    index.images[row]
                        .check(&item.image, &image)
                        .map(|now| now.is_some()),
                )
            })
            .collect();
        let mut items = Vec::with_capacity(index.len());
        let mut stale: Vec<String> = Vec::new();
        for (&id, check) in index.ids.iter().zip(checks) {
            let Some(item) = catalog.get(&id) else {
                stale.push(format!("item {id} left the catalogue"));
                continue;
            };
            let image = library::resolve(lib.root(), &item.image);
            match check {
                Some(Ok(true)) => {}
                Some(Ok(false)) | None => stale.push(format!("{} changed", image.display())),
                Some(Err(e)) => stale.push(format!("{}: {e}", image.display())),
            }
            items.push(IndexedItem {
                item_id: id,
                image,
                title: item.title.clone(),
                labels: item.labels.clone(),
                product: item.product.clone(),
                partition: item.partition,
                in_stock: item.in_stock,
            });
        }
        if let Some(first) = stale.first() {
            let name = system.name();
            return Ok(Opened::NeedsIndex(Error::file(
                index::index_path(lib.root(), name),
                format!(
                    "out of date: {} indexed item(s) changed since indexing (first: {first}); \
                     run `vitrine index --system {name}`",
                    stale.len()
                ),
            )));
        }
        let row_of = index
            .ids
            .iter()
            .enumerate()
            .map(|(row, &id)| (id, row))
            .collect();
        Ok(Opened::Ready(Box::new(Searcher {
            system,
            index,
            items,
            row_of,
        })))
    }

    /// The system's name.
    pub fn system_name(&self) -> &str {
        self.system.name()
    }

    /// The loaded system.
    pub fn system(&self) -> &System {
        &self.system
    }

    /// The index searched.
    pub fn index(&self) -> &EmbeddingIndex {
        &self.index
    }

    /// The same searcher with its index widened to f32 if it was made at half precision:
    /// for work that reads every row as plain numbers many times over (personalisation),
    /// where converting once beats converting per use.
    pub fn widened_to_f32(mut self) -> Searcher {
        if self.index.precision() != crate::index::Precision::F32 {
            self.index = self.index.with_precision(crate::index::Precision::F32);
        }
        self
    }

    /// The indexed items, in index row order.
    pub fn items(&self) -> &[IndexedItem] {
        &self.items
    }

    /// The index row of an item, if indexed.
    pub fn row_of(&self, item: ItemId) -> Option<usize> {
        self.row_of.get(&item).copied()
    }

    /// An error unless this searcher can rank with `weight`: any searcher can at 0; above 0
    /// the system needs a shallow branch and its index the colour part. The error names the
    /// system and what to do.
    pub fn check_colour_weight(&self, weight: ColourWeight) -> Result<()> {
        let name = self.system_name();
        if weight.is_shape_only() {
            Ok(())
        } else if self.system.colour_dim() == 0 {
            Err(Error::Invalid(format!(
                "the system {name} has no colour branch, so the colour weight must be 0 (not \
                 {weight}); train one with `vitrine train --shallow on`"
            )))
        } else if !self.index.has_colour() {
            Err(Error::Invalid(format!(
                "the index of {name} has no colour part (it was made before index format 3), \
                 so the colour weight must be 0 (not {weight}); run `vitrine index --system \
                 {name}` to add it"
            )))
        } else {
            Ok(())
        }
    }

    /// Searches with the image file at `path`: decode → embed → top `k`.
    pub fn query_file(&self, path: &Path, k: usize, filter: &SearchFilter) -> Result<QueryResult> {
        let start = Instant::now();
        let image = vision::decode(path)?;
        let decode_ms = ms_since(start);
        let mut result = self.query_image(&image, k, filter)?;
        result.image = path.display().to_string();
        result.timings.decode_ms += decode_ms;
        result.timings.total_ms = ms_since(start);
        Ok(result)
    }

    /// [`Searcher::query_file`], keeping the query's feature map for [`crate::explain`]
    /// (from the same pass: no second one).
    pub fn query_file_explained(
        &self,
        path: &Path,
        k: usize,
        filter: &SearchFilter,
    ) -> Result<QueryResult> {
        let start = Instant::now();
        let image = vision::decode(path)?;
        let decode_ms = ms_since(start);
        let mut result = self.query_image_as(&image, k, filter, FeatureMapKept::Kept)?;
        result.image = path.display().to_string();
        result.timings.decode_ms += decode_ms;
        result.timings.total_ms = ms_since(start);
        Ok(result)
    }

    /// [`Searcher::query_image`], keeping the query's feature map for [`crate::explain`].
    pub fn query_image_explained(
        &self,
        image: &RgbImage,
        k: usize,
        filter: &SearchFilter,
    ) -> Result<QueryResult> {
        self.query_image_as(image, k, filter, FeatureMapKept::Kept)
    }

    /// Searches with an image already in memory (a pasted one).
    pub fn query_image(
        &self,
        image: &RgbImage,
        k: usize,
        filter: &SearchFilter,
    ) -> Result<QueryResult> {
        self.query_image_as(image, k, filter, FeatureMapKept::Dropped)
    }

    fn query_image_as(
        &self,
        image: &RgbImage,
        k: usize,
        filter: &SearchFilter,
        map: FeatureMapKept,
    ) -> Result<QueryResult> {
        let start = Instant::now();
        let x = self
            .system
            .preprocess()
            .to_tensor(std::slice::from_ref(image), self.system.device())?;
        let decode_ms = ms_since(start);
        self.check_colour_weight(filter.colour_weight)?;
        let (embedded, colour, probabilities, query_features) = match map {
            FeatureMapKept::Dropped => {
                let (embedded, colour, probabilities) = self.system.embed_parts_and_predict(&x)?;
                (embedded, colour, probabilities, None)
            }
            FeatureMapKept::Kept => {
                let pass = self.system.embed_predict_and_features(&x)?;
                let features = Arc::new(FeatureMap::from_batch(&pass.features, 0)?);
                (
                    pass.embedded,
                    pass.colour,
                    pass.probabilities,
                    Some(features),
                )
            }
        };
        let query = embedded
            .to_device(&Device::Cpu)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let colour = match colour {
            Some(colour) => colour.to_device(&Device::Cpu)?.flatten_all()?.to_vec1()?,
            None => Vec::new(),
        };
        let predicted_labels = self.predicted_labels(&probabilities)?;
        let embed_ms = ms_since(start) - decode_ms;
        let search_start = Instant::now();
        let mask = row_mask(&self.items, filter);
        let hits = top_k_weighted(
            &self.index,
            &query,
            &colour,
            filter.colour_weight,
            k,
            mask.as_deref(),
        )?;
        let search_ms = ms_since(search_start);
        Ok(QueryResult {
            image: format!("pasted image {}×{}", image.width(), image.height()),
            results: self.ranked(&hits),
            predicted_labels,
            timings: Timings {
                decode_ms,
                embed_ms,
                search_ms,
                total_ms: ms_since(start),
            },
            query_features,
        })
    }

    /// Searches with a catalogue item's stored embedding; the item itself is never returned.
    pub fn query_item(&self, item: ItemId, k: usize, filter: &SearchFilter) -> Result<QueryResult> {
        let start = Instant::now();
        let row = self.row_of(item).ok_or_else(|| {
            Error::Invalid(format!(
                "item {item} is not in the index of {}; run `vitrine index --system {}`",
                self.system_name(),
                self.system_name()
            ))
        })?;
        self.check_colour_weight(filter.colour_weight)?;
        let mut filter = filter.clone();
        filter.exclude.push(item);
        let mask = row_mask(&self.items, &filter);
        let hits = top_k_weighted(
            &self.index,
            &self.index.row(row),
            self.index.colour_row(row),
            filter.colour_weight,
            k,
            mask.as_deref(),
        )?;
        let search_ms = ms_since(start);
        Ok(QueryResult {
            image: self.items[row].image.display().to_string(),
            results: self.ranked(&hits),
            predicted_labels: Vec::new(),
            timings: Timings {
                search_ms,
                total_ms: search_ms,
                ..Timings::default()
            },
            query_features: None,
        })
    }

    /// Embeds a batch of prepared images (N×3×side×side on the system's device) into N rows.
    pub(crate) fn embed_rows(&self, x: &Tensor) -> Result<Vec<f32>> {
        Ok(self
            .system
            .embed(x)?
            .to_device(&Device::Cpu)?
            .flatten_all()?
            .to_vec1::<f32>()?)
    }

    /// The most probable labels of one query, from its `1 × label_count` probabilities.
    fn predicted_labels(&self, probabilities: &Tensor) -> Result<Vec<PredictedLabel>> {
        let probabilities = probabilities
            .to_device(&Device::Cpu)?
            .squeeze(0)?
            .to_vec1::<f32>()?;
        let mut order: Vec<usize> = (0..probabilities.len()).collect();
        order.sort_by(|&a, &b| probabilities[b].total_cmp(&probabilities[a]));
        Ok(order
            .into_iter()
            .take(PREDICTED_LABELS)
            .map(|i| PredictedLabel {
                label: self
                    .system
                    .labels()
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| format!("label {i}")),
                probability: probabilities[i],
            })
            .collect())
    }

    fn ranked(&self, hits: &[Hit]) -> Vec<RankedItem> {
        hits.iter()
            .enumerate()
            .map(|(i, hit)| {
                let item = &self.items[hit.row];
                RankedItem {
                    rank: i + 1,
                    item_id: item.item_id,
                    score: hit.score,
                    image: item.image.display().to_string(),
                    title: item.title.clone(),
                    labels: item.labels.iter().map(Label::to_string).collect(),
                }
            })
            .collect()
    }
}

/// Whether a query keeps its feature map (the `…_explained` searches do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FeatureMapKept {
    Dropped,
    Kept,
}

/// The rows `filter` allows, or `None` when it allows every row.
pub fn row_mask(items: &[IndexedItem], filter: &SearchFilter) -> Option<Vec<bool>> {
    if filter.allows_all() {
        return None;
    }
    let categories: HashSet<String> = filter
        .categories
        .iter()
        .map(|c| Label::new(LabelGroup::Category, c).name)
        .collect();
    let exclude: HashSet<ItemId> = filter.exclude.iter().copied().collect();
    Some(
        items
            .iter()
            .map(|item| {
                let category_ok = categories.is_empty()
                    || item
                        .labels
                        .iter()
                        .any(|l| l.group == LabelGroup::Category && categories.contains(&l.name));
                let stock_ok = !filter.in_stock_only || item.in_stock != Some(false);
                category_ok && stock_ok && !exclude.contains(&item.item_id)
            })
            .collect(),
    )
}

fn ms_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: ItemId, category: &str, in_stock: Option<bool>) -> IndexedItem {
        IndexedItem {
            item_id: id,
            image: PathBuf::from(format!("/lib/{id}.png")),
            title: format!("item {id}"),
            labels: vec![
                Label::new(LabelGroup::Category, category),
                Label::new(LabelGroup::Colour, "red"),
            ],
            product: None,
            partition: None,
            in_stock,
        }
    }

    fn items() -> Vec<IndexedItem> {
        vec![
            item(1, "dress", Some(true)),
            item(2, "boots", Some(false)),
            item(3, "dress", None),
            item(4, "t-shirt", Some(true)),
        ]
    }

    #[test]
    fn an_empty_filter_needs_no_mask() {
        assert_eq!(row_mask(&items(), &SearchFilter::default()), None);
    }

    #[test]
    fn categories_match_by_normalised_name_and_any_of_them() {
        let filter = SearchFilter {
            categories: vec![" Dress ".into(), "T Shirt".into()],
            ..SearchFilter::default()
        };
        assert_eq!(
            row_mask(&items(), &filter),
            Some(vec![true, false, true, true])
        );
    }

    #[test]
    fn exclusion_and_stock_combine_with_categories() {
        let filter = SearchFilter {
            categories: vec!["dress".into()],
            exclude: vec![1],
            ..SearchFilter::default()
        };
        assert_eq!(
            row_mask(&items(), &filter),
            Some(vec![false, false, true, false])
        );
        // Unknown stock counts as in stock; only a known "out of stock" is dropped.
        let filter = SearchFilter {
            in_stock_only: true,
            ..SearchFilter::default()
        };
        assert_eq!(
            row_mask(&items(), &filter),
            Some(vec![true, false, true, true])
        );
    }

    #[test]
    fn neighbours_vote_for_the_catalogues_labels_by_similarity() {
        let ranked = |rank: usize, score: f32, labels: &[&str]| RankedItem {
            rank,
            item_id: rank as ItemId,
            score,
            image: String::new(),
            title: String::new(),
            labels: labels.iter().map(|l| l.to_string()).collect(),
        };
        let results = [
            ranked(1, 0.6, &["category:hat", "subtype:beanie", "colour:yellow"]),
            ranked(2, 0.3, &["category:hat", "subtype:beanie", "colour:black"]),
            ranked(3, 0.1, &["category:scarf", "colour:yellow"]),
        ];
        let labels = neighbour_labels(&results, 3);
        let got: Vec<(&str, f32)> = labels
            .iter()
            .map(|l| (l.label.as_str(), (l.probability * 100.0).round()))
            .collect();
        assert_eq!(
            got,
            [
                ("category:hat", 90.0),
                ("subtype:beanie", 90.0),
                ("colour:yellow", 70.0)
            ]
        );
        assert!(neighbour_labels(&[], 5).is_empty());
    }
}

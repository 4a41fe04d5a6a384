//! Visual search over one system's index, and its retrieval evaluation (DESIGN §6).
//!
//! A [`Searcher`] loads a system, its [`EmbeddingIndex`] and the metadata of every indexed
//! item (stored image, title, labels, stock) once; then each query is decode → embed →
//! exact cosine top-K ([`crate::index::scan`]). The CLI (`vitrine query`, `vitrine eval
//! retrieval`) and the GUI's Search tab share it, so both search the same way. It is `Send`:
//! the GUI opens and queries it on a worker thread.
//!
//! An index that no longer matches the catalogue is refused when the searcher opens: built by
//! another version of the system, missing, or holding an item whose image changed or left the
//! catalogue since indexing. A stale row would silently rank the wrong picture.
//!
//! [`evaluate_retrieval`] measures the system on the library itself: in-shop (every item as a
//! query, itself excluded), street-to-shop (the street query set), and DeepFashion's
//! query → gallery protocol when the library holds those partitions.

use crate::catalog::{ItemId, Label, LabelGroup, Partition};
use crate::error::{Error, Result};
use crate::index::scan::{Hit, top_k, top_k_batch};
use crate::index::{self, EmbeddingIndex};
use crate::jobs::JobContext;
use crate::library::{self, Library};
use crate::model::system::System;
use crate::store::ItemFilter;
use crate::vision::{self, preprocess::BatchLoader};
use candle_core::{Device, Tensor};
use image::RgbImage;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Labels predicted for a query image.
pub const PREDICTED_LABELS: usize = 5;

/// Which items a search may return.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchFilter {
    /// Category label names (`dress`, `boots` …); empty allows every category.
    pub categories: Vec<String>,
    /// Items never returned (the query item itself, say).
    pub exclude: Vec<ItemId>,
    /// Only items in stock (items whose stock is unknown count as in stock).
    pub in_stock_only: bool,
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
    /// Loads the system `system` on `device` and its index, refusing an index that is missing,
    /// from another version of the system, or out of date with the catalogue.
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
        let system = System::load(lib, system, device)?;
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

    /// The indexed items, in index row order.
    pub fn items(&self) -> &[IndexedItem] {
        &self.items
    }

    /// The index row of an item, if indexed.
    pub fn row_of(&self, item: ItemId) -> Option<usize> {
        self.row_of.get(&item).copied()
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

    /// Searches with an image already in memory (a pasted one).
    pub fn query_image(
        &self,
        image: &RgbImage,
        k: usize,
        filter: &SearchFilter,
    ) -> Result<QueryResult> {
        let start = Instant::now();
        let x = self
            .system
            .preprocess()
            .to_tensor(std::slice::from_ref(image), self.system.device())?;
        let decode_ms = ms_since(start);
        let (embedded, probabilities) = self.system.embed_and_predict(&x)?;
        let query = embedded
            .to_device(&Device::Cpu)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let predicted_labels = self.predicted_labels(&probabilities)?;
        let embed_ms = ms_since(start) - decode_ms;
        let search_start = Instant::now();
        let mask = row_mask(&self.items, filter);
        let hits = top_k(&self.index, &query, k, mask.as_deref())?;
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
        let mut filter = filter.clone();
        filter.exclude.push(item);
        let mask = row_mask(&self.items, &filter);
        let hits = top_k(&self.index, self.index.row(row), k, mask.as_deref())?;
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
        })
    }

    /// Embeds a batch of prepared images (N×3×side×side on the system's device) into N rows.
    fn embed_rows(&self, x: &Tensor) -> Result<Vec<f32>> {
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

/// Queries per [`top_k_batch`] call in the evaluation.
const EVAL_BATCH: usize = 256;
/// The ranks at which street-to-shop and DeepFashion accuracy are reported.
const TOP_NS: [usize; 4] = [1, 5, 10, 20];

/// In-shop retrieval: every indexed item as a query, itself excluded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InShopReport {
    pub queries: usize,
    pub k: usize,
    /// Mean intersection-over-union of the query's and each result's label sets.
    pub mean_label_iou: f64,
    /// Fraction of the top-K sharing the query's category (queries with one).
    pub category_precision: f64,
    /// Fraction of the top-K sharing the query's subtype (queries with one).
    pub subtype_precision: f64,
    /// Fraction of the top-K sharing the query's (first) colour (queries with one): what the
    /// shallow colour branch is for.
    pub colour_precision: f64,
}

/// Top-N accuracy of finding the right item (street-to-shop) or product (DeepFashion).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopNReport {
    pub queries: usize,
    /// Queries that could not be run (an unreadable street image), not counted above.
    pub skipped: usize,
    pub top1: f64,
    pub top5: f64,
    pub top10: f64,
    pub top20: f64,
}

/// What [`evaluate_retrieval`] measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetrievalReport {
    pub system: String,
    pub in_shop: InShopReport,
    /// `None` without a street query set.
    pub street_to_shop: Option<TopNReport>,
    /// `None` without DeepFashion query/gallery partitions.
    pub deepfashion: Option<TopNReport>,
}

/// Evaluates `searcher` on its own library (see the module docs); progress and the cancel
/// check come between batches.
pub fn evaluate_retrieval(
    lib: &Library,
    searcher: &Searcher,
    k: usize,
    ctx: &JobContext,
) -> Result<RetrievalReport> {
    if k == 0 {
        return Err(Error::Invalid("k must be at least 1".into()));
    }
    let in_shop = in_shop(searcher, k, ctx)?;
    let street_to_shop = street_to_shop(lib, searcher, ctx)?;
    let deepfashion = deepfashion(searcher, ctx)?;
    Ok(RetrievalReport {
        system: searcher.system_name().to_owned(),
        in_shop,
        street_to_shop,
        deepfashion,
    })
}

fn in_shop(searcher: &Searcher, k: usize, ctx: &JobContext) -> Result<InShopReport> {
    let index = &searcher.index;
    let items = &searcher.items;
    let n = index.len();
    let (mut iou_sum, mut iou_count) = (0.0f64, 0usize);
    let (mut cat_sum, mut cat_count) = (0.0f64, 0usize);
    let (mut sub_sum, mut sub_count) = (0.0f64, 0usize);
    let (mut col_sum, mut col_count) = (0.0f64, 0usize);
    let label_sets: Vec<HashSet<&Label>> =
        items.iter().map(|i| i.labels.iter().collect()).collect();
    for start in (0..n).step_by(EVAL_BATCH) {
        ctx.check_cancelled()?;
        ctx.progress(start as u64, n as u64, "in-shop queries");
        let end = (start + EVAL_BATCH).min(n);
        let queries = &index.matrix[start * index.dim..end * index.dim];
        // One more than K, then the query itself dropped: the same as excluding it.
        let batch = top_k_batch(index, queries, k + 1, None)?;
        for (offset, hits) in batch.iter().enumerate() {
            let row = start + offset;
            let hits: Vec<&Hit> = hits.iter().filter(|h| h.row != row).take(k).collect();
            if hits.is_empty() {
                continue;
            }
            let category = items[row].label_in(LabelGroup::Category);
            let subtype = items[row].label_in(LabelGroup::Subtype);
            let share = |group: LabelGroup, name: &str| {
                hits.iter()
                    .filter(|h| {
                        items[h.row]
                            .labels
                            .iter()
                            .any(|l| l.group == group && l.name == name)
                    })
                    .count() as f64
                    / hits.len() as f64
            };
            if let Some(c) = category {
                cat_sum += share(LabelGroup::Category, c);
                cat_count += 1;
            }
            if let Some(s) = subtype {
                sub_sum += share(LabelGroup::Subtype, s);
                sub_count += 1;
            }
            if let Some(c) = items[row].label_in(LabelGroup::Colour) {
                col_sum += share(LabelGroup::Colour, c);
                col_count += 1;
            }
            for h in &hits {
                iou_sum += label_iou(&label_sets[row], &label_sets[h.row]);
                iou_count += 1;
            }
        }
    }
    ctx.progress(n as u64, n as u64, "in-shop queries");
    Ok(InShopReport {
        queries: n,
        k,
        mean_label_iou: mean(iou_sum, iou_count),
        category_precision: mean(cat_sum, cat_count),
        subtype_precision: mean(sub_sum, sub_count),
        colour_precision: mean(col_sum, col_count),
    })
}

/// |A ∩ B| / |A ∪ B|; two empty sets score 0.
fn label_iou(a: &HashSet<&Label>, b: &HashSet<&Label>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(b).count() as f64 / union as f64
}

fn mean(sum: f64, count: usize) -> f64 {
    if count == 0 { 0.0 } else { sum / count as f64 }
}

fn street_to_shop(
    lib: &Library,
    searcher: &Searcher,
    ctx: &JobContext,
) -> Result<Option<TopNReport>> {
    let queries = lib.store.street_queries()?;
    if queries.is_empty() {
        return Ok(None);
    }
    let total = queries.len() as u64;
    let paths: Vec<PathBuf> = queries
        .iter()
        .map(|q| library::resolve(lib.root(), &q.image))
        .collect();
    let loader = BatchLoader::new(paths, index::BATCH_SIZE, searcher.system.preprocess(), ctx)?;
    let max_n = TOP_NS[TOP_NS.len() - 1];
    let mut ranks: Vec<Option<usize>> = Vec::with_capacity(queries.len());
    let mut skipped = 0usize;
    let mut done = 0u64;
    ctx.progress(0, total, "street-to-shop queries");
    for batch in loader {
        let batch = batch?;
        ctx.check_cancelled()?;
        skipped += batch.failures.len();
        if !batch.indices.is_empty() {
            let x = batch.tensor(searcher.system.device())?;
            let rows = searcher.embed_rows(&x)?;
            let hits = top_k_batch(&searcher.index, &rows, max_n, None)?;
            for (hits, &q) in hits.iter().zip(&batch.indices) {
                let truth = queries[q].item_id;
                ranks.push(
                    hits.iter()
                        .position(|h| searcher.items[h.row].item_id == truth),
                );
            }
        }
        done += (batch.indices.len() + batch.failures.len()) as u64;
        ctx.progress(done, total, "street-to-shop queries");
    }
    Ok(Some(top_n_report(&ranks, skipped)))
}

fn deepfashion(searcher: &Searcher, ctx: &JobContext) -> Result<Option<TopNReport>> {
    let items = &searcher.items;
    let gallery: Vec<bool> = items
        .iter()
        .map(|i| i.partition == Some(Partition::Gallery) && i.product.is_some())
        .collect();
    let query_rows: Vec<usize> = (0..items.len())
        .filter(|&r| items[r].partition == Some(Partition::Query) && items[r].product.is_some())
        .collect();
    if query_rows.is_empty() || !gallery.contains(&true) {
        return Ok(None);
    }
    let index = &searcher.index;
    let max_n = TOP_NS[TOP_NS.len() - 1];
    let mut ranks = Vec::with_capacity(query_rows.len());
    let total = query_rows.len() as u64;
    for (b, chunk) in query_rows.chunks(EVAL_BATCH).enumerate() {
        ctx.check_cancelled()?;
        ctx.progress((b * EVAL_BATCH) as u64, total, "DeepFashion queries");
        let queries: Vec<f32> = chunk
            .iter()
            .flat_map(|&r| index.row(r).iter().copied())
            .collect();
        let hits = top_k_batch(index, &queries, max_n, Some(&gallery))?;
        for (hits, &r) in hits.iter().zip(chunk) {
            let product = &items[r].product;
            ranks.push(hits.iter().position(|h| &items[h.row].product == product));
        }
    }
    ctx.progress(total, total, "DeepFashion queries");
    Ok(Some(top_n_report(&ranks, 0)))
}

/// Top-N accuracies from the 0-based rank of the first correct result of each query.
fn top_n_report(ranks: &[Option<usize>], skipped: usize) -> TopNReport {
    let at = |n: usize| {
        mean(
            ranks.iter().filter(|r| r.is_some_and(|r| r < n)).count() as f64,
            ranks.len(),
        )
    };
    TopNReport {
        queries: ranks.len(),
        skipped,
        top1: at(TOP_NS[0]),
        top5: at(TOP_NS[1]),
        top10: at(TOP_NS[2]),
        top20: at(TOP_NS[3]),
    }
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
            in_stock_only: false,
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

    #[test]
    fn label_iou_and_top_n_accuracy() {
        let a = Label::new(LabelGroup::Colour, "red");
        let b = Label::new(LabelGroup::Category, "dress");
        let c = Label::new(LabelGroup::Texture, "plain");
        let x: HashSet<&Label> = [&a, &b].into_iter().collect();
        let y: HashSet<&Label> = [&b, &c].into_iter().collect();
        assert!((label_iou(&x, &y) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(label_iou(&HashSet::new(), &HashSet::new()), 0.0);
        let report = top_n_report(&[Some(0), Some(3), Some(12), None], 1);
        assert_eq!(
            (report.top1, report.top5, report.top10, report.top20),
            (0.25, 0.5, 0.5, 0.75)
        );
        assert_eq!((report.queries, report.skipped), (4, 1));
    }
}

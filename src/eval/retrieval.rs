//! Retrieval evaluated on the library itself: in-shop (every indexed item as a query, itself
//! excluded), street-to-shop (the street query set), and DeepFashion's query → gallery
//! protocol when the library holds those partitions. [`crate::eval`] measures held-out
//! photos instead; both report from one [`Searcher`]. [`colour_dial_sweep`] measures the
//! in-shop precisions as the colour ↔ shape dial moves ([`crate::search`]).

use crate::catalog::{Label, LabelGroup, Partition};
use crate::error::{Error, Result};
use crate::index::scan::{ColourWeight, top_k_weighted_batch};
use crate::index::{self, scan::Hit, scan::top_k_batch};
use crate::jobs::JobContext;
use crate::library::{self, Library};
use crate::search::Searcher;
use crate::vision::preprocess::BatchLoader;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::PathBuf;

/// Queries per [`top_k_batch`] call in the evaluation.
const EVAL_BATCH: usize = 256;
/// The ranks at which street-to-shop and DeepFashion accuracy are reported.
const TOP_NS: [usize; 4] = [1, 5, 10, 20];

/// In-shop retrieval: every indexed item as a query, itself excluded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Queries with a colour label (0: colour precision cannot be measured here).
    pub colour_queries: usize,
    /// Queries with a subtype label (0: subtype precision cannot be measured here; reports
    /// saved before this field read as 0).
    #[serde(default)]
    pub subtype_queries: usize,
}

/// Top-N accuracy of finding the right item (street-to-shop) or product (DeepFashion).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    let in_shop = in_shop(searcher, k, ColourWeight::SHAPE_ONLY, ctx)?;
    let street_to_shop = street_to_shop(lib, searcher, ctx)?;
    let deepfashion = deepfashion(searcher, ctx)?;
    Ok(RetrievalReport {
        system: searcher.system_name().to_owned(),
        in_shop,
        street_to_shop,
        deepfashion,
    })
}

/// The in-shop precisions at one setting of the colour ↔ shape dial.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DialPoint {
    pub colour_weight: f32,
    pub in_shop: InShopReport,
}

/// In-shop retrieval (every indexed item as a query, itself excluded) at each of `weights`:
/// how colour precision and category precision trade as the dial moves. Needs a system with
/// a colour branch and an index with the colour part, unless every weight is 0.
pub fn colour_dial_sweep(
    searcher: &Searcher,
    k: usize,
    weights: &[ColourWeight],
    ctx: &JobContext,
) -> Result<Vec<DialPoint>> {
    if k == 0 {
        return Err(Error::Invalid("k must be at least 1".into()));
    }
    if weights.is_empty() {
        return Err(Error::Invalid("no colour weight to measure".into()));
    }
    for &weight in weights {
        searcher.check_colour_weight(weight)?;
    }
    weights
        .iter()
        .map(|&weight| {
            Ok(DialPoint {
                colour_weight: weight.value(),
                in_shop: in_shop(searcher, k, weight, ctx)?,
            })
        })
        .collect()
}

fn in_shop(
    searcher: &Searcher,
    k: usize,
    weight: ColourWeight,
    ctx: &JobContext,
) -> Result<InShopReport> {
    let index = searcher.index();
    // The queries are the items' own rows, as the model gave them (f32) or as stored (f16).
    let matrix = index.matrix.to_f32();
    let items = searcher.items();
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
        let queries = &matrix[start * index.dim..end * index.dim];
        let colours = &index.colour[start * index.colour_dim..end * index.colour_dim];
        // One more than K, then the query itself dropped: the same as excluding it.
        let batch = top_k_weighted_batch(index, queries, colours, weight, k + 1, None)?;
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
        colour_queries: col_count,
        subtype_queries: sub_count,
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
    let loader = BatchLoader::new(
        paths,
        index::BATCH_SIZE,
        searcher.system().preprocess(),
        ctx,
    )?;
    let max_n = TOP_NS[TOP_NS.len() - 1];
    let mut ranks: Vec<Option<usize>> = Vec::with_capacity(queries.len());
    let mut skipped = 0usize;
    let mut done = 0u64;
    ctx.progress(0, total, "street-to-shop queries");
    for batch in loader {
        let mut batch = batch?;
        ctx.check_cancelled()?;
        skipped += batch.failures.len();
        if !batch.indices.is_empty() {
            let x = batch.take_tensor(searcher.system().device())?;
            let rows = searcher.embed_rows(&x)?;
            let hits = top_k_batch(searcher.index(), &rows, max_n, None)?;
            for (hits, &q) in hits.iter().zip(&batch.indices) {
                let truth = queries[q].item_id;
                ranks.push(
                    hits.iter()
                        .position(|h| searcher.items()[h.row].item_id == truth),
                );
            }
        }
        done += (batch.indices.len() + batch.failures.len()) as u64;
        ctx.progress(done, total, "street-to-shop queries");
    }
    Ok(Some(top_n_report(&ranks, skipped)))
}

fn deepfashion(searcher: &Searcher, ctx: &JobContext) -> Result<Option<TopNReport>> {
    let items = searcher.items();
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
    let index = searcher.index();
    let max_n = TOP_NS[TOP_NS.len() - 1];
    let mut ranks = Vec::with_capacity(query_rows.len());
    let total = query_rows.len() as u64;
    for (b, chunk) in query_rows.chunks(EVAL_BATCH).enumerate() {
        ctx.check_cancelled()?;
        ctx.progress((b * EVAL_BATCH) as u64, total, "DeepFashion queries");
        let queries: Vec<f32> = chunk
            .iter()
            .flat_map(|&r| index.row(r).into_owned())
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

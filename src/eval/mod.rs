//! Evaluation on held-out photos: a labelled query set that is *not* in the catalogue, the
//! way a shop meets its customers' photos (ARCHITECTURE.md §6, §11).
//!
//! [`crate::eval::retrieval::evaluate_retrieval`] measures a system on the library itself (every
//! item a query, itself excluded). That flatters a system trained on the same items. Here the
//! queries come from a CSV file (the columns of `vitrine import csv`: `image` and
//! `category`, `subtype`, `colour`, `labels` …) or a photo folder laid out as for `vitrine
//! import folder` (`DIR/<category>/<image>`), read by the importers' own readers but never
//! stored.
//!
//! [`evaluate_held_out`] reports, over the queries with a category:
//! - **same-category precision@K**: the mean over queries of the share of the top K whose
//!   category is the query's;
//! - **kNN@K accuracy**: the share of queries whose top K *vote* for the query's category.
//!   Each result with a category gives one vote to it (results without a category do not
//!   vote); the category with the most votes wins. **Ties** go to the tied category whose
//!   best-ranked result comes first, i.e. the nearest neighbour among the tied categories
//!   decides. A query whose results carry no category counts as wrong;
//! - **nearest-neighbour accuracy**: the top 1 alone (kNN@1);
//! - **mean label IoU** of the query's and each result's label sets (every group,
//!   `category:` included), when the queries carry labels;
//! - the same per category.
//!
//! A query whose image file is also a catalogue item (a query set that overlaps the
//! catalogue) never gets that item back; the report counts such queries so the overlap is
//! seen.
//!
//! [`evaluate_classification`] runs the system's classifier head on the held-out queries, or
//! on its own test split: eq. (5) IoU / precision / recall, and **top-1 accuracy** (the most
//! probable `category:` label is the true one) when every evaluated photo has exactly one
//! category.

pub mod retrieval;

use crate::catalog::{ItemId, Label, LabelGroup};
use crate::error::{Error, Result};
use crate::index::scan::top_k_batch;
use crate::jobs::JobContext;
use crate::library::Library;
use crate::model::system::{self, IMAGENET_LITE0, System};
use crate::search::Searcher;
use crate::sources::import::csv::read_csv;
use crate::sources::import::folder::read_folder;
use crate::sources::import::{FolderSplit, Skipped};
use crate::store::ItemFilter;
use crate::train::metrics::{ClassifyMetrics, MetricsAccumulator};
use crate::train::split::Split;
use crate::vision::preprocess::BatchLoader;
use candle_core::Device;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// One labelled photo to evaluate with.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledPhoto {
    /// The image file, absolute.
    pub image: PathBuf,
    /// Its labels (not filtered by any vocabulary).
    pub labels: Vec<Label>,
}

impl LabelledPhoto {
    /// The photo's category, when it has exactly one.
    pub fn category(&self) -> Option<&str> {
        let mut categories = self
            .labels
            .iter()
            .filter(|l| l.group == LabelGroup::Category);
        match (categories.next(), categories.next()) {
            (Some(only), None) => Some(&only.name),
            _ => None,
        }
    }
}

/// A held-out query set, as read.
#[derive(Debug, Clone, PartialEq)]
pub struct QuerySet {
    /// The CSV file or folder it was read from.
    pub source: PathBuf,
    pub photos: Vec<LabelledPhoto>,
    /// Rows or files that could not be used, with the reason.
    pub skipped: Vec<Skipped>,
}

/// Reads a query set from a CSV file (columns as for `vitrine import csv`; relative images
/// against the CSV's folder) or a photo folder (layouts as for `vitrine import folder`; with
/// `split`, one split folder of a split layout).
pub fn load_queries(path: &Path, split: Option<FolderSplit>, ctx: &JobContext) -> Result<QuerySet> {
    let rows = if path.is_dir() {
        read_folder(path, split, ctx)?
    } else {
        if let Some(split) = split {
            return Err(Error::file(
                path,
                format!(
                    "a split ({}) picks a folder of a split layout; this is a file",
                    split.as_str()
                ),
            ));
        }
        read_csv(path, None, ctx)?
    };
    let (candidates, skipped) = rows.into_parts();
    let photos = candidates
        .into_iter()
        .map(|c| LabelledPhoto {
            image: c.image,
            labels: c.item.labels,
        })
        .collect();
    Ok(QuerySet {
        source: path.to_path_buf(),
        photos,
        skipped,
    })
}

/// Scores of the queries of one category (or of all of them).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryScores {
    /// Queries with this category.
    pub queries: usize,
    /// Same-category precision@K.
    pub precision: f64,
    /// kNN@K accuracy (majority vote of the top K, ties to the nearest; module docs).
    pub knn_accuracy: f64,
    /// The top 1's category is the query's.
    pub nearest_accuracy: f64,
}

/// What [`evaluate_held_out`] measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeldOutReport {
    pub system: String,
    /// The query CSV file or folder.
    pub queries_from: String,
    /// Queries searched.
    pub queries: usize,
    /// Queries that could not be used (a missing or corrupt image, a bad row), with why.
    pub skipped: Vec<Skipped>,
    pub k: usize,
    /// Items in the searched index.
    pub catalogue_items: usize,
    /// Queries whose image is itself a catalogue item (that item was left out of their
    /// results); 0 for a truly held-out set.
    pub queries_in_catalogue: usize,
    /// Over the queries with exactly one category; `None` when none has one.
    pub category: Option<CategoryScores>,
    /// Per category, by name.
    pub per_category: BTreeMap<String, CategoryScores>,
    /// Mean label IoU of query and result label sets; `None` when no query has a label.
    pub mean_label_iou: Option<f64>,
}

/// Running sums of [`CategoryScores`].
#[derive(Debug, Clone, Copy, Default)]
struct ScoreSums {
    queries: usize,
    precision: f64,
    knn: usize,
    nearest: usize,
}

impl ScoreSums {
    fn add(&mut self, precision: f64, knn: bool, nearest: bool) {
        self.queries += 1;
        self.precision += precision;
        self.knn += usize::from(knn);
        self.nearest += usize::from(nearest);
    }

    fn finish(&self) -> CategoryScores {
        let n = self.queries.max(1) as f64;
        CategoryScores {
            queries: self.queries,
            precision: self.precision / n,
            knn_accuracy: self.knn as f64 / n,
            nearest_accuracy: self.nearest as f64 / n,
        }
    }
}

/// The category the results vote for (see the module docs for the tie rule): `categories`
/// holds each result's category, best-ranked first.
pub fn knn_vote<'a>(categories: &[Option<&'a str>]) -> Option<&'a str> {
    // Per category: its votes and the rank of its best result.
    let mut tally: HashMap<&str, (usize, usize)> = HashMap::new();
    for (rank, category) in categories.iter().enumerate() {
        if let Some(c) = category {
            let entry = tally.entry(c).or_insert((0, rank));
            entry.0 += 1;
        }
    }
    tally
        .into_iter()
        .max_by(|a, b| (a.1.0, std::cmp::Reverse(a.1.1)).cmp(&(b.1.0, std::cmp::Reverse(b.1.1))))
        .map(|(c, _)| c)
}

/// Searches the catalogue with every photo of `queries` and scores the top `k` (see the
/// module docs). Progress and the cancel check come between batches.
pub fn evaluate_held_out(
    searcher: &Searcher,
    queries: &QuerySet,
    k: usize,
    ctx: &JobContext,
) -> Result<HeldOutReport> {
    if k == 0 {
        return Err(Error::Invalid("k must be at least 1".into()));
    }
    let items = searcher.items();
    let index = searcher.index();
    let system = searcher.system();
    let row_of_image: HashMap<PathBuf, usize> = items
        .iter()
        .enumerate()
        .map(|(row, item)| (canonical(&item.image), row))
        .collect();
    let item_category: Vec<Option<&str>> = items
        .iter()
        .map(|i| i.label_in(LabelGroup::Category))
        .collect();
    let item_labels: Vec<HashSet<&Label>> =
        items.iter().map(|i| i.labels.iter().collect()).collect();

    let paths: Vec<PathBuf> = queries.photos.iter().map(|p| p.image.clone()).collect();
    let total = paths.len() as u64;
    let loader = BatchLoader::new(paths, crate::index::BATCH_SIZE, system.preprocess(), ctx)?;
    let mut skipped = queries.skipped.clone();
    let (mut overall, mut per_category) = (ScoreSums::default(), BTreeMap::new());
    let (mut iou_sum, mut iou_count) = (0.0f64, 0usize);
    let (mut searched, mut in_catalogue, mut done) = (0usize, 0usize, 0u64);
    ctx.progress(0, total, "held-out queries");
    for batch in loader {
        let mut batch = batch?;
        ctx.check_cancelled()?;
        for (q, error) in &batch.failures {
            skipped.push(Skipped {
                location: queries.photos[*q].image.display().to_string(),
                reason: error.to_string(),
            });
        }
        if !batch.indices.is_empty() {
            let x = batch.take_tensor(system.device())?;
            let rows = system
                .embed(&x)?
                .to_device(&Device::Cpu)?
                .flatten_all()?
                .to_vec1::<f32>()?;
            // One more than K, so a query that is itself a catalogue item can drop it.
            let hits = top_k_batch(index, &rows, k + 1, None)?;
            for (hits, &q) in hits.iter().zip(&batch.indices) {
                let photo = &queries.photos[q];
                let own_row = row_of_image.get(&canonical(&photo.image)).copied();
                in_catalogue += usize::from(own_row.is_some());
                let top: Vec<usize> = hits
                    .iter()
                    .map(|h| h.row)
                    .filter(|&row| Some(row) != own_row)
                    .take(k)
                    .collect();
                searched += 1;
                if top.is_empty() {
                    continue;
                }
                if let Some(category) = photo.category() {
                    let found: Vec<Option<&str>> = top.iter().map(|&r| item_category[r]).collect();
                    let same = found.iter().filter(|c| **c == Some(category)).count();
                    let precision = same as f64 / top.len() as f64;
                    let knn = knn_vote(&found) == Some(category);
                    let nearest = found[0] == Some(category);
                    overall.add(precision, knn, nearest);
                    per_category
                        .entry(category.to_owned())
                        .or_insert_with(ScoreSums::default)
                        .add(precision, knn, nearest);
                }
                if !photo.labels.is_empty() {
                    let mine: HashSet<&Label> = photo.labels.iter().collect();
                    for &r in &top {
                        iou_sum += label_iou(&mine, &item_labels[r]);
                        iou_count += 1;
                    }
                }
            }
        }
        done += (batch.indices.len() + batch.failures.len()) as u64;
        ctx.progress(done, total, "held-out queries");
    }
    Ok(HeldOutReport {
        system: searcher.system_name().to_owned(),
        queries_from: queries.source.display().to_string(),
        queries: searched,
        skipped,
        k,
        catalogue_items: items.len(),
        queries_in_catalogue: in_catalogue,
        category: (overall.queries > 0).then(|| overall.finish()),
        per_category: per_category
            .into_iter()
            .map(|(c, s)| (c, s.finish()))
            .collect(),
        mean_label_iou: (iou_count > 0).then(|| iou_sum / iou_count as f64),
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

/// The path with links resolved where it exists (so two spellings of one file match).
fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// What [`evaluate_classification`] measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassifyReport {
    pub system: String,
    /// The query CSV file or folder, or `test split`.
    pub photos_from: String,
    /// Eq. (5) over the photos (labels the system does not know count as missed).
    #[serde(flatten)]
    pub metrics: ClassifyMetrics,
    /// Photos that could not be classified, with why.
    pub skipped: Vec<Skipped>,
    /// Whether every photo has exactly one category (then `top1_accuracy` is measured).
    pub single_label: bool,
    /// The share of photos whose most probable `category:` label is theirs; `None` unless
    /// `single_label` and the system knows at least one category.
    pub top1_accuracy: Option<f64>,
}

/// The photos of `system`'s own test split (its `split.json`), with their catalogue labels.
pub fn test_split_photos(lib: &Library, system: &System) -> Result<QuerySet> {
    require_classifier(system)?;
    let split_path = system::system_dir(lib.root(), system.name()).join(crate::train::SPLIT_FILE);
    let bytes = std::fs::read(&split_path).map_err(|e| Error::io(&split_path, e))?;
    let split: Split = serde_json::from_slice(&bytes)
        .map_err(|e| Error::file(&split_path, format!("not a data split: {e}")))?;
    let test: HashSet<ItemId> = split.test.iter().copied().collect();
    let photos: Vec<LabelledPhoto> = lib
        .store
        .items(&ItemFilter::default())?
        .into_iter()
        .filter(|item| test.contains(&item.id))
        .map(|item| LabelledPhoto {
            image: lib.resolve(&item.image),
            labels: item.labels,
        })
        .collect();
    if photos.is_empty() {
        return Err(Error::Invalid(format!(
            "none of the test items of {} is in the library any more",
            system.name()
        )));
    }
    Ok(QuerySet {
        source: PathBuf::from("test split"),
        photos,
        skipped: Vec::new(),
    })
}

/// Fails for the built-in system, which has no classifier for a library's labels.
fn require_classifier(system: &System) -> Result<()> {
    if system.name() == IMAGENET_LITE0 {
        return Err(Error::Invalid(format!(
            "{IMAGENET_LITE0} has no classifier for this library's labels (it predicts the 1000 \
             ImageNet classes); train a system with `vitrine train` and evaluate that"
        )));
    }
    Ok(())
}

/// Runs `system`'s classifier on `photos` (see the module docs).
pub fn evaluate_classification(
    system: &System,
    photos: &QuerySet,
    ctx: &JobContext,
) -> Result<ClassifyReport> {
    require_classifier(system)?;
    let index: HashMap<String, usize> = system
        .labels()
        .iter()
        .enumerate()
        .map(|(i, l)| (l.clone(), i))
        .collect();
    let category_columns: Vec<usize> = system
        .labels()
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("category:"))
        .map(|(i, _)| i)
        .collect();
    let single_label = photos.photos.iter().all(|p| p.category().is_some());
    let paths: Vec<PathBuf> = photos.photos.iter().map(|p| p.image.clone()).collect();
    let total = paths.len() as u64;
    let loader = BatchLoader::new(paths, crate::index::BATCH_SIZE, system.preprocess(), ctx)?;
    let mut skipped = photos.skipped.clone();
    let mut acc = MetricsAccumulator::default();
    let (mut right, mut counted, mut done) = (0usize, 0usize, 0u64);
    ctx.progress(0, total, "classifying");
    for batch in loader {
        let mut batch = batch?;
        ctx.check_cancelled()?;
        for (q, error) in &batch.failures {
            skipped.push(Skipped {
                location: photos.photos[*q].image.display().to_string(),
                reason: error.to_string(),
            });
        }
        if !batch.indices.is_empty() {
            let x = batch.take_tensor(system.device())?;
            let p = system
                .predict(&x)?
                .to_device(&Device::Cpu)?
                .to_vec2::<f32>()?;
            for (row, &q) in p.iter().zip(&batch.indices) {
                let photo = &photos.photos[q];
                let mut y = vec![0.0f32; row.len()];
                for label in &photo.labels {
                    if let Some(&i) = index.get(&label.to_string()) {
                        y[i] = 1.0;
                    }
                }
                acc.add(row, &y);
                if let Some(category) = photo.category() {
                    let best = category_columns
                        .iter()
                        .copied()
                        .max_by(|&a, &b| row[a].total_cmp(&row[b]));
                    let truth = format!("category:{category}");
                    right += usize::from(best.is_some_and(|b| system.labels()[b] == truth));
                    counted += 1;
                }
            }
        }
        done += (batch.indices.len() + batch.failures.len()) as u64;
        ctx.progress(done, total, "classifying");
    }
    let metrics = acc.finish();
    Ok(ClassifyReport {
        system: system.name().to_owned(),
        photos_from: photos.source.display().to_string(),
        metrics,
        skipped,
        single_label,
        top1_accuracy: (single_label && !category_columns.is_empty() && counted > 0)
            .then(|| right as f64 / counted as f64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_majority_wins_and_a_tie_goes_to_the_nearest() {
        let d = Some("dress");
        let s = Some("skirt");
        let h = Some("hat");
        assert_eq!(knn_vote(&[s, d, d, h, d, s]), Some("dress"));
        // 2–2: skirt's best result is first.
        assert_eq!(knn_vote(&[s, d, d, s, h]), Some("skirt"));
        assert_eq!(knn_vote(&[h, d, d, s, s]), Some("dress"));
        // Results without a category do not vote.
        assert_eq!(knn_vote(&[None, None, h]), Some("hat"));
        assert_eq!(knn_vote(&[None, None]), None);
        assert_eq!(knn_vote(&[]), None);
    }

    #[test]
    fn a_photo_has_a_category_only_when_it_has_exactly_one() {
        let photo = |labels: Vec<Label>| LabelledPhoto {
            image: PathBuf::from("/x.png"),
            labels,
        };
        let dress = Label::new(LabelGroup::Category, "Dress");
        let red = Label::new(LabelGroup::Colour, "red");
        let hat = Label::new(LabelGroup::Category, "hat");
        assert_eq!(
            photo(vec![red.clone(), dress.clone()]).category(),
            Some("dress")
        );
        assert_eq!(photo(vec![red]).category(), None);
        assert_eq!(photo(vec![dress, hat]).category(), None);
    }

    #[test]
    fn query_sets_read_a_csv_or_a_folder_and_note_what_they_skip() {
        use crate::sources::import::fixtures::write_png;
        let dir = tempfile::tempdir().unwrap();
        write_png(&dir.path().join("test/hat/a.png"));
        write_png(&dir.path().join("test/skirt/b.png"));
        write_png(&dir.path().join("train/skirt/c.png"));
        let csv = dir.path().join("test.csv");
        std::fs::write(
            &csv,
            "id,image,category\n1,test/hat/a.png,hat\n2,test/skirt/b.png,skirt\n3,gone.png\n",
        )
        .unwrap();
        let ctx = JobContext::silent();
        let from_csv = load_queries(&csv, None, &ctx).unwrap();
        assert_eq!(from_csv.photos.len(), 2);
        assert_eq!(from_csv.photos[0].category(), Some("hat"));
        assert_eq!(from_csv.skipped.len(), 1, "{:?}", from_csv.skipped);
        assert!(from_csv.skipped[0].location.ends_with("test.csv:4"));

        let from_dir = load_queries(dir.path(), Some(FolderSplit::Test), &ctx).unwrap();
        let cats: Vec<Option<&str>> = from_dir.photos.iter().map(|p| p.category()).collect();
        assert_eq!(cats, [Some("hat"), Some("skirt")]);
        let err = load_queries(&csv, Some(FolderSplit::Test), &ctx).unwrap_err();
        assert!(err.to_string().contains("test.csv"), "{err}");
    }
}

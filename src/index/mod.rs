//! Indexing: every catalogue item embedded by one system, kept up to date incrementally, in
//! `DIR/index/<system>.emb` (ARCHITECTURE.md §2, §6; the file format is in [`emb_file`]).
//!
//! [`build`] is a job (ARCHITECTURE.md §9): it lists the catalogue, keeps the rows of items whose
//! image is unchanged (same stored path, size and content: see [`ImageFingerprint::check`],
//! so a copied or moved library keeps its index) from the previous index of the same system
//! version, embeds the new and changed ones, and drops the items that left
//! the catalogue. A new version of the system (another [`System::fingerprint`]) re-embeds
//! everything, and so does an index without the colour part (format 1 or 2) for a system
//! with a shallow branch: the colour part comes from the same forward pass as the embedding
//! ([`System::embed_parts`]), so adding it costs a full pass, once, and a search (which
//! brings its index up to date first) then has the colour ↔ shape dial. Images are decoded and letterboxed one batch ahead of the model by a
//! [`BatchLoader`]; an image that cannot be read or decoded is reported (path and reason) and
//! skipped, never the end of the run. Progress and the cancel check come between batches,
//! and the index is written (atomically) only at the end, so a cancelled or failed run
//! leaves the previous index as it was.
//!
//! The rows are written at the precision asked for ([`BuildOptions::precision`]) or else at
//! the previous index's ([`rows`]): an index made at half precision stays so through every
//! update. Made f16 from full-precision rows, it also measures what rounding cost
//! ([`IndexReport::f16_recall_at_10`]); going back to f32 embeds every item again.
//!
//! The search (exact cosine top-K, ARCHITECTURE.md §6) reads the result with [`load`].

pub mod emb_file;
pub mod rows;
pub mod scan;

pub use emb_file::{EmbeddingIndex, ImageFingerprint, load};
pub use rows::{Precision, Rows};

use crate::catalog::ItemId;
use crate::error::{Error, Result};
use crate::jobs::JobContext;
use crate::library::{self, Library};
use crate::model::system::System;
use crate::vision::preprocess::BatchLoader;
use candle_core::Device;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Images per forward pass.
pub const BATCH_SIZE: usize = 32;
/// Items used as queries when an f16 index's recall against f32 is measured.
pub const RECALL_QUERIES: usize = 200;

/// The index file of `system` in the library at `root`: `DIR/index/<system>.emb`.
pub fn index_path(root: &Path, system: &str) -> PathBuf {
    root.join("index").join(format!("{system}.emb"))
}

/// How [`build`] runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOptions {
    /// Images per forward pass.
    pub batch_size: usize,
    /// Where to write (and what to update): the library's [`index_path`] when `None`.
    pub output: Option<PathBuf>,
    /// Embed every item again, whatever the previous index holds.
    pub full_rebuild: bool,
    /// The precision of the rows written: `None` keeps the previous index's (f32 for a new
    /// one), so an update never changes it behind the user's back.
    pub precision: Option<Precision>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            batch_size: BATCH_SIZE,
            output: None,
            full_rebuild: false,
            precision: None,
        }
    }
}

/// An item that could not be embedded, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexFailure {
    pub item_id: ItemId,
    /// The image file, as a path on this machine.
    pub image: PathBuf,
    pub reason: String,
}

/// What [`build`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndexReport {
    pub system: String,
    /// The index file.
    pub path: PathBuf,
    /// Items in the catalogue.
    pub items: u64,
    /// Items embedded in this run (new, changed, or all of them on a rebuild).
    pub embedded: u64,
    /// Items whose embedding was kept from the previous index.
    pub kept: u64,
    /// Items of the previous index that are no longer in the catalogue.
    pub removed: u64,
    /// Items skipped: their image is missing or cannot be decoded.
    pub failed: Vec<IndexFailure>,
    /// Why every item was embedded again, when that happened.
    pub rebuilt: Option<String>,
    /// Items in the index now.
    pub indexed: u64,
    /// The width of a row.
    pub dim: usize,
    /// Whether the file was (re)written; an unchanged index is left alone.
    pub written: bool,
    /// How the embedding rows are stored.
    pub precision: Precision,
    /// For an index written at half precision from full-precision rows (made f16, or
    /// rebuilt): the mean share of each item's 10 nearest neighbours under f32 that the f16
    /// rows find too, over up to [`RECALL_QUERIES`] items spread over the catalogue.
    pub f16_recall_at_10: Option<f64>,
    pub elapsed_secs: f64,
    /// Embedded images per second over the whole run (decode, embed, write).
    pub images_per_s: f64,
}

/// Opens the library at `root`, loads the system `system` on `device` and runs [`build`]:
/// everything a GUI or CLI job needs, from values that can move to a worker thread.
pub fn build_in(
    root: &Path,
    system: &str,
    device: &Device,
    options: &BuildOptions,
    ctx: &JobContext,
) -> Result<IndexReport> {
    let lib = Library::open(root)?;
    let system = System::load(&lib, system, device)?;
    build(&lib, &system, options, ctx)
}

/// Brings the index of `system` up to date with the catalogue of `lib` (see the module docs).
pub fn build(
    lib: &Library,
    system: &System,
    options: &BuildOptions,
    ctx: &JobContext,
) -> Result<IndexReport> {
    let start = Instant::now();
    // Each batch's activations are allocated and freed again: kept, not faulted in anew.
    let _retain = crate::RetainFreedMemory::new();
    let path = options
        .output
        .clone()
        .unwrap_or_else(|| index_path(lib.root(), system.name()));
    let dim = system.embedding_dim();
    let colour_dim = system.colour_dim();
    // The precision to write: the one asked for, else the previous index's, else f32.
    let precision = options
        .precision
        .or_else(|| emb_file::peek_precision(&path))
        .unwrap_or_default();
    ctx.progress(0, 0, "listing the catalogue");
    let items = lib.store.item_images()?;

    // The previous index, if it can be reused.
    let (previous, rebuilt) = if options.full_rebuild {
        (None, Some("a full rebuild was asked for".to_string()))
    } else if !path.exists() {
        (None, Some("there was no index yet".to_string()))
    } else {
        match emb_file::load(&path) {
            Ok(old) if old.fingerprint != system.fingerprint() || old.dim != dim => (
                None,
                Some("the system changed since the last index".to_string()),
            ),
            Ok(old) if old.colour_dim != colour_dim => (
                None,
                Some(
                    "the index has no colour part yet (it was made before index format 3)"
                        .to_string(),
                ),
            ),
            // Rounded rows cannot be made exact again: only the model can.
            Ok(old) if old.precision() == Precision::F16 && precision == Precision::F32 => (
                None,
                Some("the index was at half precision (f16) and f32 was asked for".to_string()),
            ),
            Ok(old) => (Some(old), None),
            Err(e) => (None, Some(format!("the previous index was unusable: {e}"))),
        }
    };
    let previous_rows: HashMap<ItemId, usize> = previous
        .as_ref()
        .map(|old| old.ids.iter().enumerate().map(|(i, &id)| (id, i)).collect())
        .unwrap_or_default();

    // Sort the catalogue into kept, to embed, and missing files.
    enum Source {
        Kept(usize),
        New,
        Failed,
    }
    // Fingerprints in parallel: an image whose time changed is read and hashed.
    ctx.progress(0, items.len() as u64, "checking images");
    let root = lib.root();
    let checked: Vec<std::io::Result<(ImageFingerprint, Option<usize>)>> = items
        .par_iter()
        .map(|item| {
            let resolved = library::resolve(root, &item.image);
            let row = previous_rows.get(&item.id).copied();
            if let (Some(old), Some(row)) = (&previous, row)
                && let Some(now) = old.images[row].check(&item.image, &resolved)?
            {
                return Ok((now, Some(row)));
            }
            Ok((ImageFingerprint::of_file(&item.image, &resolved)?, None))
        })
        .collect();
    let mut failed = Vec::new();
    let mut plan = Vec::with_capacity(items.len());
    let mut to_embed: Vec<usize> = Vec::new();
    for (i, (item, checked)) in items.iter().zip(checked).enumerate() {
        match checked {
            Err(e) => {
                failed.push(IndexFailure {
                    item_id: item.id,
                    image: library::resolve(lib.root(), &item.image),
                    reason: format!("cannot read the file: {e}"),
                });
                plan.push((None, Source::Failed));
            }
            Ok((image, Some(row))) => plan.push((Some(image), Source::Kept(row))),
            Ok((image, None)) => {
                to_embed.push(i);
                plan.push((Some(image), Source::New));
            }
        }
    }
    let current: std::collections::HashSet<ItemId> = items.iter().map(|it| it.id).collect();
    let removed = previous.as_ref().map_or(0, |old| {
        old.ids.iter().filter(|id| !current.contains(id)).count()
    });

    // Embed, one batch ahead in decoding.
    // Each new item's embedding and colour part.
    let mut new_rows: HashMap<usize, (Vec<f32>, Vec<f32>)> = HashMap::with_capacity(to_embed.len());
    let total = to_embed.len() as u64;
    ctx.progress(0, total, "embedding images");
    if !to_embed.is_empty() {
        let paths: Vec<PathBuf> = to_embed
            .iter()
            .map(|&i| library::resolve(lib.root(), &items[i].image))
            .collect();
        let loader = BatchLoader::new(paths, options.batch_size, system.preprocess(), ctx)?;
        let mut done = 0u64;
        for batch in loader {
            let mut batch = batch?;
            ctx.check_cancelled()?;
            for (k, error) in &batch.failures {
                let i = to_embed[*k];
                failed.push(IndexFailure {
                    item_id: items[i].id,
                    image: library::resolve(lib.root(), &items[i].image),
                    reason: match error {
                        Error::Image { reason, .. } => reason.clone(),
                        other => other.to_string(),
                    },
                });
                plan[i].1 = Source::Failed;
            }
            if !batch.indices.is_empty() {
                let x = batch.take_tensor(system.device())?;
                let (embedded, colour) = system.embed_parts(&x)?;
                let values = rows_on_cpu(&embedded)?;
                let colours = match &colour {
                    Some(colour) => rows_on_cpu(colour)?,
                    None => Vec::new(),
                };
                for (j, &k) in batch.indices.iter().enumerate() {
                    let row = values[j * dim..(j + 1) * dim].to_vec();
                    let colour = colours
                        .get(j * colour_dim..(j + 1) * colour_dim)
                        .unwrap_or_default()
                        .to_vec();
                    new_rows.insert(to_embed[k], (row, colour));
                }
            }
            done += (batch.indices.len() + batch.failures.len()) as u64;
            ctx.progress(done, total, "embedding images");
        }
    }
    ctx.check_cancelled()?;

    // The new index, in catalogue order.
    let mut index = emb_file::EmbeddingIndex::empty_with_colour(
        system.name(),
        system.fingerprint(),
        dim,
        colour_dim,
    );
    let (mut kept, mut embedded) = (0u64, 0u64);
    for (i, (image, source)) in plan.into_iter().enumerate() {
        let (Some(image), id) = (image, items[i].id) else {
            continue;
        };
        match source {
            Source::Kept(row) => {
                if let Some(old) = &previous {
                    index.push_with_colour(id, image, &old.row(row), old.colour_row(row))?;
                    kept += 1;
                }
            }
            Source::New => {
                if let Some((row, colour)) = new_rows.get(&i) {
                    index.push_with_colour(id, image, row, colour)?;
                    embedded += 1;
                }
            }
            Source::Failed => {}
        }
    }
    // At half precision, rows made from full-precision ones (a conversion, or a rebuild) show
    // what rounding costs: their neighbours under f32 and under f16 are compared.
    let mut f16_recall_at_10 = None;
    if precision == Precision::F16 {
        let exact_rows = previous
            .as_ref()
            .is_none_or(|old| old.precision() == Precision::F32);
        let half = index.to_precision(Precision::F16);
        if exact_rows && index.len() > 1 {
            ctx.progress(total, total, "measuring the recall of the f16 rows");
            let queries = RECALL_QUERIES.min(index.len());
            let rows: Vec<usize> = (0..queries).map(|j| j * index.len() / queries).collect();
            f16_recall_at_10 = Some(scan::neighbour_recall(&index, &half, &rows, 10)?);
        }
        index = half;
    }
    let unchanged = previous.as_ref().is_some_and(|old| {
        old.ids == index.ids && old.images == index.images && old.precision() == precision
    });
    if !unchanged {
        ctx.progress(total, total, "writing the index");
        index.write(&path)?;
    }
    failed.sort_by_key(|f| f.item_id);
    let elapsed_secs = start.elapsed().as_secs_f64();
    Ok(IndexReport {
        system: system.name().to_string(),
        path,
        items: items.len() as u64,
        embedded,
        kept,
        removed: removed as u64,
        failed,
        rebuilt,
        indexed: index.len() as u64,
        dim,
        written: !unchanged,
        precision,
        f16_recall_at_10,
        elapsed_secs,
        images_per_s: if elapsed_secs > 0.0 {
            embedded as f64 / elapsed_secs
        } else {
            0.0
        },
    })
}

/// A batch's rows (`N × width`, on any device) as one row-major vector.
fn rows_on_cpu(rows: &candle_core::Tensor) -> Result<Vec<f32>> {
    Ok(rows
        .to_device(&Device::Cpu)?
        .flatten_all()?
        .to_vec1::<f32>()?)
}

/// Loads the index of `system` from the library at `root`, refusing one built by another
/// version of the system.
pub fn load_for(root: &Path, system: &System) -> Result<EmbeddingIndex> {
    let path = index_path(root, system.name());
    if !path.exists() {
        return Err(Error::file(
            &path,
            format!(
                "no index of the system {} yet; run `vitrine index --system {}`",
                system.name(),
                system.name()
            ),
        ));
    }
    let index = load(&path)?;
    index.check_fingerprint(system.fingerprint(), &path)?;
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{NewItem, Source as ItemSource};
    use image::{Rgb, RgbImage};

    fn add_items(lib: &mut Library, n: usize) -> Vec<PathBuf> {
        let dir = lib.catalog_images_dir();
        let paths: Vec<PathBuf> = (0..n)
            .map(|i| {
                let path = dir.join(format!("item-{i}.png"));
                RgbImage::from_fn(40, 60, |x, y| {
                    Rgb([(x * 6) as u8, (y * 4) as u8, (i * 50) as u8])
                })
                .save(&path)
                .unwrap();
                path
            })
            .collect();
        let stored: Vec<String> = paths.iter().map(|p| lib.stored_path(p)).collect();
        lib.store
            .write(|w| {
                for (i, image) in stored.iter().enumerate() {
                    w.insert_item(&NewItem {
                        key: format!("k{i}"),
                        source: ItemSource::Csv,
                        title: String::new(),
                        image: image.clone(),
                        width_px: 40,
                        height_px: 60,
                        product: None,
                        partition: None,
                        in_stock: None,
                        labels: vec![],
                    })?;
                }
                Ok(())
            })
            .unwrap();
        paths
    }

    #[test]
    fn indexing_is_incremental_and_skips_bad_images() {
        let dir = tempfile::tempdir().unwrap();
        let mut lib = Library::open(&dir.path().join("lib")).unwrap();
        let paths = add_items(&mut lib, 4);
        let weights = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("weights")
            .join(crate::model::system::LITE0_WEIGHTS_FILE);
        let system = System::imagenet_lite0_from(&weights, &Device::Cpu).unwrap();
        let ctx = JobContext::silent();
        let options = BuildOptions {
            batch_size: 3,
            ..BuildOptions::default()
        };

        let first = build(&lib, &system, &options, &ctx).unwrap();
        assert_eq!((first.embedded, first.kept, first.removed), (4, 0, 0));
        assert!(first.failed.is_empty() && first.written);
        assert_eq!(first.rebuilt.as_deref(), Some("there was no index yet"));
        let before = load_for(lib.root(), &system).unwrap();
        let index = before.clone();
        assert_eq!(index.len(), 4);
        assert_eq!(index.dim, 1280);
        for i in 0..4 {
            let norm = index.row(i).iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-4);
        }

        let second = build(&lib, &system, &options, &ctx).unwrap();
        assert_eq!((second.embedded, second.kept), (0, 4));
        assert!(!second.written && second.rebuilt.is_none());

        // A corrupt image is reported by path and dropped; a deleted item is removed.
        std::fs::write(&paths[1], b"not a png at all").unwrap();
        let last = lib.store.item_images().unwrap()[3].id;
        assert!(lib.store.write(|w| w.delete_item(last)).unwrap());
        let third = build(&lib, &system, &options, &ctx).unwrap();
        assert_eq!((third.embedded, third.kept, third.removed), (0, 2, 1));
        assert_eq!(third.failed.len(), 1);
        assert_eq!(third.failed[0].image, paths[1]);
        let index = load(&index_path(lib.root(), IMAGENET)).unwrap();
        assert_eq!(index.len(), 2);
        // The kept rows are the same vectors as before.
        assert_eq!(index.ids, [before.ids[0], before.ids[2]]);
        assert_eq!(index.row(0), before.row(0));
        assert_eq!(index.row(1), before.row(2));

        // A missing file is a failure too; a full rebuild embeds everything again.
        std::fs::remove_file(&paths[2]).unwrap();
        let fourth = build(
            &lib,
            &system,
            &BuildOptions {
                full_rebuild: true,
                ..options.clone()
            },
            &ctx,
        )
        .unwrap();
        assert_eq!((fourth.embedded, fourth.kept), (1, 0));
        assert_eq!(fourth.failed.len(), 2);
        assert!(fourth.failed[1].reason.contains("cannot read the file"));
    }

    const IMAGENET: &str = crate::model::system::IMAGENET_LITE0;

    /// `--f16` converts the index (measuring its recall), updates keep the precision, a search
    /// over it finds what the f32 index finds, and `--f32` embeds everything again.
    #[test]
    fn an_index_at_half_precision_is_kept_and_searched() {
        let dir = tempfile::tempdir().unwrap();
        let mut lib = Library::open(&dir.path().join("lib")).unwrap();
        add_items(&mut lib, 6);
        let system = System::imagenet_lite0(&Device::Cpu).unwrap();
        let ctx = JobContext::silent();
        let path = index_path(lib.root(), IMAGENET);
        let at = |precision| BuildOptions {
            precision,
            ..BuildOptions::default()
        };

        let full = build(&lib, &system, &at(None), &ctx).unwrap();
        assert_eq!(
            (full.precision, full.f16_recall_at_10),
            (Precision::F32, None)
        );
        let full_index = load(&path).unwrap();
        let full_bytes = std::fs::metadata(&path).unwrap().len();

        // Conversion: nothing embedded again, the rows rounded, the recall measured.
        let half = build(&lib, &system, &at(Some(Precision::F16)), &ctx).unwrap();
        assert_eq!((half.embedded, half.kept), (0, 6));
        assert!(half.written && half.precision == Precision::F16);
        let recall = half.f16_recall_at_10.unwrap();
        assert!((0.5..=1.0).contains(&recall), "{recall}");
        let half_index = load(&path).unwrap();
        assert_eq!(half_index.precision(), Precision::F16);
        assert_eq!(half_index, full_index.to_precision(Precision::F16));
        let half_bytes = std::fs::metadata(&path).unwrap().len();
        assert_eq!(full_bytes - half_bytes, 6 * 1280 * 2);

        // An update keeps f16 (and has no f32 rows to measure against).
        let again = build(&lib, &system, &at(None), &ctx).unwrap();
        assert_eq!((again.precision, again.written), (Precision::F16, false));
        assert_eq!(again.f16_recall_at_10, None);

        // A search over it: each item finds itself first, as with f32.
        let searcher = crate::search::Searcher::open(&lib, IMAGENET, &Device::Cpu).unwrap();
        assert_eq!(searcher.index().precision(), Precision::F16);
        for row in 0..6 {
            let hits = scan::top_k(searcher.index(), &full_index.row(row), 3, None).unwrap();
            assert_eq!(hits[0].row, row);
        }

        // Back to f32: every item embedded again, exactly as before.
        let back = build(&lib, &system, &at(Some(Precision::F32)), &ctx).unwrap();
        assert_eq!((back.embedded, back.precision), (6, Precision::F32));
        assert!(back.rebuilt.unwrap().contains("half precision"));
        assert_eq!(load(&path).unwrap().matrix, full_index.matrix);
    }

    /// Copies a folder tree the way `cp -r` does: new files, new modification times.
    fn copy_tree(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy_tree(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), &target).unwrap();
                let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
                std::fs::File::options()
                    .write(true)
                    .open(&target)
                    .unwrap()
                    .set_modified(later)
                    .unwrap();
            }
        }
    }

    /// A library copied elsewhere (every file with a new time) and then moved keeps its
    /// index: searchable at once, and re-indexing embeds nothing.
    #[test]
    fn a_copied_or_moved_library_keeps_its_index() {
        let dir = tempfile::tempdir().unwrap();
        let original = dir.path().join("lib");
        let mut lib = Library::open(&original).unwrap();
        add_items(&mut lib, 3);
        let system = System::imagenet_lite0(&Device::Cpu).unwrap();
        let ctx = JobContext::silent();
        let first = build(&lib, &system, &BuildOptions::default(), &ctx).unwrap();
        assert_eq!(first.embedded, 3);
        drop(lib);

        let copy = dir.path().join("copy");
        copy_tree(&original, &copy);
        let lib = Library::open(&copy).unwrap();
        crate::search::Searcher::open(&lib, IMAGENET, &Device::Cpu).unwrap();
        let again = build(&lib, &system, &BuildOptions::default(), &ctx).unwrap();
        assert_eq!((again.embedded, again.kept), (0, 3), "{again:?}");
        assert!(again.rebuilt.is_none() && again.failed.is_empty());
        assert!(again.written, "the new times are recorded");
        let third = build(&lib, &system, &BuildOptions::default(), &ctx).unwrap();
        assert!(!third.written && third.embedded == 0);
        drop(lib);

        let moved = dir.path().join("moved");
        std::fs::rename(&copy, &moved).unwrap();
        let lib = Library::open(&moved).unwrap();
        crate::search::Searcher::open(&lib, IMAGENET, &Device::Cpu).unwrap();
        let after_move = build(&lib, &system, &BuildOptions::default(), &ctx).unwrap();
        assert_eq!((after_move.embedded, after_move.kept), (0, 3));
    }

    /// A system with the shallow branch, its head untrained, saved in `lib` as `name`.
    fn shallow_system(lib: &mut Library, name: &str) -> System {
        use crate::model::network::{NetworkConfig, ParallelNetwork};
        let config = NetworkConfig {
            embedding_dim: 16,
            ..NetworkConfig::lite0(2)
        };
        let varmap = candle_nn::VarMap::new();
        let weights =
            crate::model::system::find_weights(crate::model::system::LITE0_WEIGHTS_FILE).unwrap();
        let net = ParallelNetwork::fresh(&varmap, &config, &weights, &Device::Cpu).unwrap();
        let labels = ["category:top", "colour:red"].map(String::from).to_vec();
        let input = crate::vision::preprocess::Preprocess::LITE0;
        let meta = serde_json::json!({});
        System::save_trained(lib, name, &net, &input, &labels, &meta).unwrap();
        System::load(lib, name, &Device::Cpu).unwrap()
    }

    /// The colour part comes with the embedding, is kept with it, and an index without it
    /// (format 2) is embedded again once; the dial then reorders, and at 0 it is the plain
    /// ranking. The built-in system refuses it, naming itself.
    #[test]
    fn a_shallow_system_indexes_a_colour_part_that_the_dial_uses() {
        use crate::index::scan::{ColourWeight, top_k};
        use crate::search::{SearchFilter, Searcher};
        let dir = tempfile::tempdir().unwrap();
        let mut lib = Library::open(&dir.path().join("lib")).unwrap();
        add_items(&mut lib, 6);
        let system = shallow_system(&mut lib, "st");
        assert_eq!(system.colour_dim(), 64);
        let ctx = JobContext::silent();
        build(&lib, &system, &BuildOptions::default(), &ctx).unwrap();
        let index = load_for(lib.root(), &system).unwrap();
        assert_eq!((index.colour_dim, index.colour.len()), (64, 6 * 64));
        for i in 0..6 {
            let norm = index
                .colour_row(i)
                .iter()
                .map(|v| v * v)
                .sum::<f32>()
                .sqrt();
            assert!((norm - 1.0).abs() < 1e-4, "{norm}");
        }

        // The same index as format 2 wrote it (no colour part): rebuilt once, with the reason.
        let path = index_path(lib.root(), "st");
        let mut old = index.clone();
        (old.colour_dim, old.colour) = (0, Vec::new());
        old.write(&path).unwrap();
        let again = build(&lib, &system, &BuildOptions::default(), &ctx).unwrap();
        assert_eq!((again.embedded, again.kept), (6, 0));
        assert!(again.rebuilt.unwrap().contains("no colour part"));
        let rebuilt = load(&path).unwrap();
        assert_eq!(rebuilt.colour_dim, 64);
        let third = build(&lib, &system, &BuildOptions::default(), &ctx).unwrap();
        assert_eq!((third.embedded, third.kept), (0, 6));

        let searcher = Searcher::open(&lib, "st", &Device::Cpu).unwrap();
        let item = searcher.items()[2].item_id;
        let at = |w: f32| {
            let filter = SearchFilter {
                colour_weight: ColourWeight::new(w).unwrap(),
                ..SearchFilter::default()
            };
            let result = searcher.query_item(item, 5, &filter).unwrap();
            result.results.iter().map(|r| r.item_id).collect::<Vec<_>>()
        };
        let mask: Vec<bool> = searcher.items().iter().map(|i| i.item_id != item).collect();
        let plain = top_k(searcher.index(), &searcher.index().row(2), 5, Some(&mask)).unwrap();
        let plain: Vec<_> = plain
            .iter()
            .map(|h| searcher.items()[h.row].item_id)
            .collect();
        assert_eq!(at(0.0), plain, "w = 0 is the plain ranking");
        assert_eq!(at(0.0), at(-0.0));

        build(
            &lib,
            &System::imagenet_lite0(&Device::Cpu).unwrap(),
            &BuildOptions::default(),
            &ctx,
        )
        .unwrap();
        let builtin = Searcher::open(&lib, IMAGENET, &Device::Cpu).unwrap();
        let err = builtin
            .check_colour_weight(ColourWeight::new(0.5).unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("imagenet-lite0 has no colour branch"), "{err}");
        builtin
            .check_colour_weight(ColourWeight::SHAPE_ONLY)
            .unwrap();
    }

    #[test]
    fn a_cancelled_build_leaves_the_old_index() {
        let dir = tempfile::tempdir().unwrap();
        let mut lib = Library::open(&dir.path().join("lib")).unwrap();
        add_items(&mut lib, 2);
        let weights = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("weights")
            .join(crate::model::system::LITE0_WEIGHTS_FILE);
        let system = System::imagenet_lite0_from(&weights, &Device::Cpu).unwrap();
        let path = index_path(lib.root(), IMAGENET);
        std::fs::write(&path, b"the old index").unwrap();
        let root = lib.root().to_path_buf();
        drop(lib);
        let job = crate::jobs::Job::spawn("index", None, move |ctx| {
            let lib = Library::open(&root)?;
            while !ctx.is_cancelled() {
                std::thread::yield_now();
            }
            build(&lib, &system, &BuildOptions::default(), ctx)
        });
        job.cancel();
        assert!(matches!(job.wait(), Err(Error::Cancelled)));
        assert_eq!(std::fs::read(&path).unwrap(), b"the old index");
    }
}

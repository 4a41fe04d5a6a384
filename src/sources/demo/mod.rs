//! The demo catalogue: a shop drawn from scratch, so Vitrine works out of the box with no
//! dataset to download.
//!
//! `generate` draws `items` shop photos (the garment renderer in [`garments`] / [`draw`]),
//! labels each item with exactly what was drawn, simulates shoppers ([`shoppers`]: a taste that
//! persists and drifts, outfits that follow earlier purchases, a few bestsellers) who buy 5–7
//! items each and rate them, saves the oracle's rank of each shopper's last purchase (the
//! ceiling of Recall@K) as `DIR/demo-shoppers.json`, and re-draws some items at another pose on real photographs ([`scenes`])
//! as a street-to-shop query set with known answers. Everything derives from one seed: each
//! item and each street query has its own random stream, so the parallel drawing gives the
//! same pixels whatever the thread count.

pub mod draw;
pub mod garments;
pub mod scenes;
pub mod shoppers;

use crate::catalog::{LabelGroup, NewItem, Source};
use crate::error::{Error, Result};
use crate::jobs::JobContext;
use crate::library::Library;
use garments::GarmentSpec;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;
use shoppers::{ItemTraits, OracleFile, OracleUser, Shopper};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoOptions {
    pub items: usize,
    pub users: usize,
    pub street: usize,
    pub seed: u64,
    /// Side of the square shop and street images.
    pub size_px: u32,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            items: 2000,
            users: 4000,
            street: 200,
            seed: 7,
            size_px: 256,
        }
    }
}

/// What was generated, and how long it took.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DemoReport {
    pub items: u64,
    pub users: u64,
    pub ratings: u64,
    pub street_queries: u64,
    pub labels: u64,
    pub elapsed_secs: f64,
}

/// Items rendered per parallel batch (between batches: progress and the cancel check).
const BATCH: usize = 64;

/// The spec of demo item `index` for a seed: a pure function, so tests and the street set
/// can re-create any item without reading it back.
pub fn item_spec(seed: u64, index: usize) -> GarmentSpec {
    GarmentSpec::random(&mut stream(seed, 1, index))
}

/// The key of demo item `index` ("demo-000042").
pub fn item_key(index: usize) -> String {
    format!("demo-{index:06}")
}

/// The key of demo user `index` ("demo-user-00003").
pub fn user_key(index: usize) -> String {
    format!("demo-user-{index:05}")
}

/// A random stream for (seed, purpose, index): independent of drawing order and threads.
fn stream(seed: u64, purpose: u64, index: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream((purpose << 48) | index as u64);
    rng
}

/// Generates the demo catalogue into `lib`. Refuses a library that already has demo items.
/// On error or cancel, the images written so far are removed and the store is unchanged.
pub fn generate(lib: &mut Library, opts: &DemoOptions, ctx: &JobContext) -> Result<DemoReport> {
    let start = Instant::now();
    let existing = lib.store.count_items_from(Source::Demo)?;
    if existing > 0 {
        return Err(Error::Invalid(format!(
            "the library {} already has {existing} demo items; use another --library folder",
            lib.root().display()
        )));
    }
    if opts.items == 0 {
        return Err(Error::Invalid("--items must be at least 1".into()));
    }
    let mut written: Vec<PathBuf> = Vec::new();
    let result = generate_into(lib, opts, ctx, &mut written);
    if result.is_err() {
        for path in &written {
            let _ = std::fs::remove_file(path);
        }
    }
    let mut report = result?;
    report.elapsed_secs = start.elapsed().as_secs_f64();
    Ok(report)
}

struct DrawnItem {
    new: NewItem,
    spec: GarmentSpec,
}

fn generate_into(
    lib: &mut Library,
    opts: &DemoOptions,
    ctx: &JobContext,
    written: &mut Vec<PathBuf>,
) -> Result<DemoReport> {
    let street_count = opts.street.min(opts.items);
    let total = (opts.items + street_count) as u64;
    let catalog_dir = lib.catalog_images_dir();
    let street_dir = lib.street_images_dir();
    let root = lib.root().to_path_buf();

    // 1. Shop photos, in parallel batches.
    let mut drawn: Vec<DrawnItem> = Vec::with_capacity(opts.items);
    for batch_start in (0..opts.items).step_by(BATCH) {
        ctx.check_cancelled()?;
        let batch_end = (batch_start + BATCH).min(opts.items);
        let batch: Vec<Result<(DrawnItem, [PathBuf; 2])>> = (batch_start..batch_end)
            .into_par_iter()
            .map(|i| draw_shop_item(&root, &catalog_dir, opts, i))
            .collect();
        for item in batch {
            let (item, files) = item?;
            written.extend(files);
            drawn.push(item);
        }
        ctx.progress(drawn.len() as u64, total, "drawing catalogue items");
    }

    // 2. Street photos of a seeded choice of items.
    let mut chooser = stream(opts.seed, 2, 0);
    let mut chosen: Vec<usize> = (0..opts.items).collect();
    let (picked, _) = chosen.partial_shuffle(&mut chooser, street_count);
    let picked: Vec<usize> = picked.to_vec();
    let mut street: Vec<(String, usize)> = Vec::with_capacity(street_count);
    for (batch_no, batch) in picked.chunks(BATCH).enumerate() {
        ctx.check_cancelled()?;
        let drawn_batch: Vec<Result<(String, usize, [PathBuf; 2])>> = batch
            .par_iter()
            .enumerate()
            .map(|(j, &item)| {
                let q = batch_no * BATCH + j;
                let mut rng = stream(opts.seed, 3, q);
                let rendered = scenes::render_street(&drawn[item].spec, &mut rng, opts.size_px)?;
                let path = street_dir.join(format!("street-{q:05}.png"));
                let stored = stored(&root, &path);
                let thumb = crate::library::thumb_path(&root, &stored);
                save_png(&rendered.image, &path)?;
                crate::vision::write_thumbnail(&rendered.image, &thumb)?;
                Ok((stored, item, [path, thumb]))
            })
            .collect();
        for q in drawn_batch {
            let (stored, item, files) = q?;
            written.extend(files);
            street.push((stored, item));
        }
        ctx.progress(
            (drawn.len() + street.len()) as u64,
            total,
            "drawing street photos",
        );
    }

    // 3. Shoppers and their purchases, and the oracle's rank of each last purchase.
    let traits: Vec<ItemTraits> = drawn.iter().map(|d| ItemTraits::of(&d.spec)).collect();
    let shoppers = shoppers::simulate(&traits, opts.users, opts.seed, |u| stream(opts.seed, 4, u));
    let oracle_path = root.join(shoppers::ORACLE_FILE);
    let oracle = oracle_file(&drawn, &shoppers, opts.seed);
    let oracle_json = serde_json::to_vec(&oracle)
        .map_err(|e| Error::Invalid(format!("cannot encode the shoppers' oracle: {e}")))?;
    crate::atomic_file::write(&oracle_path, &oracle_json)?;
    written.push(oracle_path);

    // 4. Everything into the store in one transaction.
    ctx.check_cancelled()?;
    ctx.progress(total, total, "saving to the library");
    let (users, ratings) = lib.store.write(|w| {
        let mut ids = Vec::with_capacity(drawn.len());
        for item in &drawn {
            ids.push(w.insert_item(&item.new)?);
        }
        for (image, item) in &street {
            w.insert_street_query(image, ids[*item])?;
        }
        let mut ratings = 0u64;
        for (u, shopper) in shoppers.iter().enumerate() {
            let user = w.insert_user(&user_key(u), Source::Demo)?;
            for (seq, (item, stars)) in shopper.purchases.iter().enumerate() {
                w.insert_rating(user, ids[*item], *stars, seq as i64)?;
                ratings += 1;
            }
        }
        Ok((shoppers.len() as u64, ratings))
    })?;
    let labels = lib.store.counts()?.labels;
    Ok(DemoReport {
        items: drawn.len() as u64,
        users,
        ratings,
        street_queries: street.len() as u64,
        labels,
        elapsed_secs: 0.0,
    })
}

fn draw_shop_item(
    root: &Path,
    catalog_dir: &Path,
    opts: &DemoOptions,
    index: usize,
) -> Result<(DrawnItem, [PathBuf; 2])> {
    let spec = item_spec(opts.seed, index);
    let rendered = garments::render_shop(&spec, opts.size_px);
    let key = item_key(index);
    let path = catalog_dir.join(format!("{key}.png"));
    let stored = stored(root, &path);
    let thumb = crate::library::thumb_path(root, &stored);
    save_png(&rendered.image, &path)?;
    crate::vision::write_thumbnail(&rendered.image, &thumb)?;
    let new = NewItem {
        key,
        source: Source::Demo,
        title: title(&spec),
        image: stored,
        width_px: rendered.image.width(),
        height_px: rendered.image.height(),
        product: None,
        partition: None,
        in_stock: Some(true),
        labels: spec.labels(),
    };
    Ok((DrawnItem { new, spec }, [path, thumb]))
}

/// A shop-style title: "Red striped t-shirt with pockets".
fn title(spec: &GarmentSpec) -> String {
    let labels = spec.labels();
    let of = |g: LabelGroup| -> Vec<&str> {
        labels
            .iter()
            .filter(|l| l.group == g)
            .map(|l| l.name.as_str())
            .collect()
    };
    let mut words: Vec<String> = Vec::new();
    words.extend(of(LabelGroup::Colour).iter().map(|s| s.to_string()));
    words.extend(
        of(LabelGroup::Texture)
            .iter()
            .filter(|t| **t != "solid")
            .map(|s| s.to_string()),
    );
    words.extend(of(LabelGroup::Subtype).iter().map(|s| s.replace('-', " ")));
    let details = of(LabelGroup::Detail);
    if !details.is_empty() {
        words.push(format!("with {}", details.join(" and ").replace('-', " ")));
    }
    let mut title = words.join(" ");
    if let Some(first) = title.get(0..1) {
        title = first.to_uppercase() + &title[1..];
    }
    title
}

/// The oracle's rank of every shopper's last purchase, keyed as the store keys them.
fn oracle_file(drawn: &[DrawnItem], shoppers: &[Shopper], seed: u64) -> OracleFile {
    let users = shoppers
        .iter()
        .enumerate()
        .filter_map(|(u, s)| {
            let &(last, _) = s.purchases.last()?;
            Some(OracleUser {
                key: user_key(u),
                history: s.purchases.len() - 1,
                last_item: drawn[last].new.key.clone(),
                oracle_rank: s.last_oracle_rank,
                top_same_category: s.last_oracle_category_hit,
            })
        })
        .collect();
    OracleFile {
        format: 1,
        seed,
        items: drawn.len(),
        users,
    }
}

fn stored(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

fn save_png(img: &image::RgbImage, path: &Path) -> Result<()> {
    use image::ImageEncoder;
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut w = std::io::BufWriter::new(file);
    PngEncoder::new_with_quality(&mut w, CompressionType::Fast, FilterType::Adaptive)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| Error::image(path, format!("cannot write: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> DemoOptions {
        DemoOptions {
            items: 24,
            users: 10,
            street: 5,
            seed: 11,
            size_px: 256,
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_labels_and_pixels() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut la = Library::open(a.path()).unwrap();
        let mut lb = Library::open(b.path()).unwrap();
        let ra = generate(&mut la, &small(), &JobContext::silent()).unwrap();
        let rb = generate(&mut lb, &small(), &JobContext::silent()).unwrap();
        assert_eq!((ra.items, ra.street_queries), (24, 5));
        assert_eq!((ra.users, ra.ratings), (rb.users, rb.ratings));
        let ia = la.store.items(&Default::default()).unwrap();
        let ib = lb.store.items(&Default::default()).unwrap();
        assert_eq!(ia.len(), 24);
        for (x, y) in ia.iter().zip(&ib) {
            assert_eq!(x.labels, y.labels);
            assert_eq!(x.title, y.title);
            let px = std::fs::read(la.resolve(&x.image)).unwrap();
            let py = std::fs::read(lb.resolve(&y.image)).unwrap();
            assert_eq!(px, py, "pixels of {}", x.key);
            assert!(la.thumb_path(&x.image).is_file());
        }
        assert_eq!(
            la.store.street_queries().unwrap(),
            lb.store.street_queries().unwrap()
        );
    }

    #[test]
    fn another_seed_gives_another_catalogue() {
        let specs_a: Vec<_> = (0..20).map(|i| item_spec(1, i).labels()).collect();
        let specs_b: Vec<_> = (0..20).map(|i| item_spec(2, i).labels()).collect();
        assert_ne!(specs_a, specs_b);
    }

    #[test]
    fn users_buy_five_to_seven_items_rated_one_to_five() {
        let dir = tempfile::tempdir().unwrap();
        let mut lib = Library::open(dir.path()).unwrap();
        generate(&mut lib, &small(), &JobContext::silent()).unwrap();
        let user = lib.store.user_id("demo-user-00003").unwrap().unwrap();
        let ratings = lib.store.ratings_of(user).unwrap();
        assert!(
            shoppers::PURCHASES.contains(&ratings.len()),
            "{}",
            ratings.len()
        );
        assert!(ratings.iter().all(|r| (1..=5).contains(&r.stars)));
    }

    #[test]
    fn a_second_demo_in_the_same_library_is_refused_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut lib = Library::open(dir.path()).unwrap();
        generate(&mut lib, &small(), &JobContext::silent()).unwrap();
        let before = lib.store.counts().unwrap();
        let err = generate(&mut lib, &small(), &JobContext::silent()).unwrap_err();
        assert!(err.to_string().contains("already has"), "{err}");
        assert_eq!(lib.store.counts().unwrap(), before);
    }
}

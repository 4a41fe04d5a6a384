//! `vitrine query`: search the catalogue with image files (see [`crate::search`]), as a
//! table, as JSON (ARCHITECTURE.md §10), and optionally as a PNG contact sheet.
//!
//! One bad file never stops the run: it is reported by name, the others are searched, and
//! the exit status is non-zero at the end.

mod explain;

use super::progress::wait_with_bar;
use crate::error::{Error, Result};
use crate::index::scan::ColourWeight;
use crate::jobs::{Job, JobContext};
use crate::library::Library;
use crate::model::system::IMAGENET_LITE0;
use crate::personalize::engine::PersonalizeEngine;
use crate::search::{QueryResult, SearchFilter, Searcher};
use crate::vision::{self, preprocess::letterbox};
use anyhow::Context;
use image::{Rgb, RgbImage};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// With `--user`: how many times K visual results are re-ranked, and the weight of taste.
const RERANK_DEPTH: usize = 5;
const RERANK_WEIGHT: f32 = 0.5;

/// File extensions a folder argument is expanded to.

#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// Image files, or folders whose images are all searched (in name order).
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
    /// The system to search with (`vitrine systems` lists them).
    #[arg(long, default_value = IMAGENET_LITE0, value_name = "NAME")]
    pub system: String,
    /// Results per query.
    #[arg(short, default_value_t = 10)]
    pub k: usize,
    /// Only items of this category (repeat for several).
    #[arg(long = "category", value_name = "C")]
    pub categories: Vec<String>,
    /// Re-rank the results for this user (id or key): half photo similarity, half the
    /// user's taste (their personaliser's prediction, or their cart mean).
    #[arg(long, value_name = "ID")]
    pub user: Option<String>,
    /// The colour ↔ shape dial, 0 to 1: rank by (1 − W)·cos(embedding) + W·cos(colour).
    /// 0 (the default) ranks by the embedding alone; above 0 needs a system trained with a
    /// shallow colour branch.
    #[arg(
        long,
        default_value_t = ColourWeight::SHAPE_ONLY,
        value_name = "W",
        allow_negative_numbers = true
    )]
    pub colour_weight: ColourWeight,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write a contact sheet: one row per query, its image then its results.
    #[arg(long, value_name = "OUT.png")]
    pub grid: Option<PathBuf>,
    /// With --grid: "why similar" heatmaps (red: where the two agree most). Each query gets
    /// two rows: its results with the heatmap of where each agrees with the query, and
    /// under each result the query with the heatmap of where it agrees with that result (a
    /// colour scale under the query). Costs one backbone pass per result; none for the query.
    #[arg(long, requires = "grid")]
    pub explain: bool,
}

/// The `--json` document.
#[derive(Serialize)]
struct QueryOutput<'a> {
    system: &'a str,
    queries: &'a [QueryResult],
}

pub fn run(dir: &Path, device: &str, args: &QueryArgs) -> anyhow::Result<ExitCode> {
    if args.k == 0 {
        anyhow::bail!("-k must be at least 1");
    }
    let files = expand(&args.images)?;
    let device = crate::device::device(device)?;
    let lib = Library::open_for_reading(dir)?;
    if let Some(out) = &args.grid {
        lib.check_output_path(out)?;
    }
    // With --user, the personaliser's searcher (its index brought up to date) and the cart.
    let personal = match &args.user {
        None => None,
        Some(user) => {
            let p = PersonalizeEngine::open(dir, &args.system, &device, &JobContext::silent())
                .with_context(|| format!("cannot personalise with {}", args.system))?;
            let cart = p.user(user)?.cart.clone();
            Some((p, cart))
        }
    };
    let searcher_owned;
    let searcher: &Searcher = match &personal {
        Some((p, _)) => &p.searcher,
        None => {
            // Indexing what changed may take a while: on a worker, with a progress bar.
            let (dir, name, device) = (dir.to_path_buf(), args.system.clone(), device.clone());
            let job = Job::spawn("index", None, move |ctx| {
                Searcher::open_fresh(&Library::open_for_reading(&dir)?, &name, &device, ctx)
            });
            searcher_owned = wait_with_bar(job)
                .with_context(|| format!("cannot search with {}", args.system))?;
            &searcher_owned
        }
    };
    // Once, before any image is read: a system without a colour branch refuses the dial.
    searcher
        .check_colour_weight(args.colour_weight)
        .with_context(|| format!("cannot search with {}", args.system))?;
    // Re-ranking looks further down the visual list than the K it shows.
    let fetch = if personal.is_some() {
        (args.k * RERANK_DEPTH).max(50)
    } else {
        args.k
    };
    let filter = SearchFilter {
        categories: args.categories.clone(),
        colour_weight: args.colour_weight,
        ..SearchFilter::default()
    };
    let mut results = Vec::with_capacity(files.len());
    let mut failed = 0usize;
    for file in &files {
        let searched = if args.explain {
            searcher.query_file_explained(file, fetch, &filter)
        } else {
            searcher.query_file(file, fetch, &filter)
        };
        let outcome = searched.and_then(|mut result| {
            if let Some((p, cart)) = &personal {
                p.rerank(&mut result, cart, RERANK_WEIGHT, args.k)?;
            }
            Ok(result)
        });
        match outcome {
            Ok(result) => results.push(result),
            Err(e) => {
                failed += 1;
                eprintln!("error: cannot query {}: {e}", file.display());
            }
        }
    }
    if args.json {
        let output = QueryOutput {
            system: searcher.system_name(),
            queries: &results,
        };
        println!("{}", serde_json::to_string_pretty(&output)?);
    } else {
        for result in &results {
            print_table(result);
        }
    }
    if let Some(out) = &args.grid {
        if args.explain {
            let cost = explain::write_explained_grid(&results, args.k, searcher.system(), out)
                .with_context(|| format!("cannot write the contact sheet {}", out.display()))?;
            if !args.json {
                println!(
                    "Explained {} results ({} backbone passes) in {:.0} ms",
                    cost.results, cost.passes, cost.elapsed_ms
                );
            }
        } else {
            write_grid(&results, args.k, out)
                .with_context(|| format!("cannot write the contact sheet {}", out.display()))?;
        }
        if !args.json {
            println!("Contact sheet: {}", out.display());
        }
    }
    if failed > 0 {
        eprintln!("{failed} of {} queries failed", files.len());
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// The arguments with each folder replaced by its image files, sorted by name.
fn expand(args: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for arg in args {
        if !arg.is_dir() {
            files.push(arg.clone());
            continue;
        }
        let mut found: Vec<PathBuf> = std::fs::read_dir(arg)
            .map_err(|e| Error::io(arg, e))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && vision::has_image_extension(p))
            .collect();
        found.sort();
        if found.is_empty() {
            return Err(Error::Invalid(format!(
                "{}: the folder holds no images",
                arg.display()
            )));
        }
        files.extend(found);
    }
    Ok(files)
}

fn print_table(result: &QueryResult) {
    println!("{}", result.image);
    if !result.predicted_labels.is_empty() {
        let labels: Vec<String> = result
            .predicted_labels
            .iter()
            .map(|l| format!("{} {:.2}", l.label, l.probability))
            .collect();
        println!("  looks like: {}", labels.join(", "));
    }
    println!("  {:>4}  {:>6}  title", "rank", "score");
    for r in &result.results {
        println!("  {:>4}  {:>6.3}  {}", r.rank, r.score, r.title);
    }
    println!("  ({:.0} ms)", result.timings.total_ms);
}

/// Side of one thumbnail in the contact sheet, pixels.
const CELL_PX: u32 = 128;
/// Height of the caption band under each thumbnail.
const CAPTION_PX: u32 = 24;
/// Gap around cells.
const PAD_PX: u32 = 8;
/// Font scale: each font pixel is drawn as a SCALE×SCALE square.
const SCALE: u32 = 2;

/// The contact sheet's size for `rows` queries of `k` results: one query column, K results
/// (saturating: an impossible size is refused by its pixel count).
pub fn grid_size(rows: usize, k: usize) -> (u32, u32) {
    let to_u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let cols = to_u32(k).saturating_add(1);
    (
        cols.saturating_mul(CELL_PX + PAD_PX).saturating_add(PAD_PX),
        to_u32(rows)
            .saturating_mul(CELL_PX + CAPTION_PX + PAD_PX)
            .saturating_add(PAD_PX),
    )
}

/// The most pixels a contact sheet may have (300 MB of RGB).
pub const MAX_GRID_PIXELS: u64 = 100_000_000;

/// The size of a contact sheet of `results`, by `size(rows, columns)` with as many columns as
/// the longest result list (at most `k`); refused when it would have more than
/// [`MAX_GRID_PIXELS`].
pub fn checked_grid_size(
    results: &[QueryResult],
    k: usize,
    size: fn(usize, usize) -> (u32, u32),
) -> Result<(u32, u32)> {
    let columns = results
        .iter()
        .map(|r| r.results.len())
        .max()
        .unwrap_or(0)
        .min(k);
    let (width, height) = size(results.len(), columns);
    if u64::from(width) * u64::from(height) > MAX_GRID_PIXELS {
        return Err(Error::Invalid(format!(
            "the contact sheet would be {width}×{height} pixels, more than the \
             {MAX_GRID_PIXELS} a sheet may have (the limit); ask for fewer queries or a \
             smaller -k"
        )));
    }
    Ok((width, height))
}

/// Draws the contact sheet and writes it to `out` atomically (a temporary file, renamed). It
/// is as wide as the longest result list (at most `k`), not as `k` asks, and refused when
/// it would have more than [`MAX_GRID_PIXELS`].
fn write_grid(results: &[QueryResult], k: usize, out: &Path) -> Result<()> {
    let (width, height) = checked_grid_size(results, k, grid_size)?;
    let mut sheet = RgbImage::from_pixel(width, height, Rgb([255, 255, 255]));
    for (row, result) in results.iter().enumerate() {
        let y = PAD_PX + row as u32 * (CELL_PX + CAPTION_PX + PAD_PX);
        let query = thumbnail(Path::new(&result.image));
        place(&mut sheet, &query, PAD_PX, y);
        draw_text(&mut sheet, "Q", PAD_PX + 2, y + CELL_PX + 4, [0, 0, 160]);
        for (col, item) in result.results.iter().take(k).enumerate() {
            let x = PAD_PX + (col as u32 + 1) * (CELL_PX + PAD_PX);
            place(&mut sheet, &thumbnail(Path::new(&item.image)), x, y);
            let caption = format!("#{} {:.3}", item.rank, item.score);
            draw_text(&mut sheet, &caption, x + 2, y + CELL_PX + 4, [0, 0, 0]);
        }
    }
    crate::atomic_file::write_with(out, |file| {
        sheet
            .write_to(file, image::ImageFormat::Png)
            .map_err(|e| std::io::Error::other(format!("cannot encode the PNG: {e}")))
    })
}

/// The image at `path` fitted into a cell, or a grey cell when it cannot be read.
fn thumbnail(path: &Path) -> RgbImage {
    match vision::decode(path) {
        Ok(img) => letterbox(&img, CELL_PX, [255, 255, 255]),
        Err(_) => RgbImage::from_pixel(CELL_PX, CELL_PX, Rgb([200, 200, 200])),
    }
}

fn place(sheet: &mut RgbImage, img: &RgbImage, x: u32, y: u32) {
    image::imageops::replace(sheet, img, i64::from(x), i64::from(y));
}

/// Draws `text` with the built-in 5×7 font at (x, y), top left; unknown characters are blank.
fn draw_text(sheet: &mut RgbImage, text: &str, x: u32, y: u32, colour: [u8; 3]) {
    let advance = 6 * SCALE;
    for (i, ch) in text.chars().enumerate() {
        let Some(rows) = glyph(ch) else { continue };
        let gx = x + i as u32 * advance;
        for (ry, bits) in rows.iter().enumerate() {
            for rx in 0..5u32 {
                if bits & (0b1_0000 >> rx) == 0 {
                    continue;
                }
                for dy in 0..SCALE {
                    for dx in 0..SCALE {
                        let (px, py) = (gx + rx * SCALE + dx, y + ry as u32 * SCALE + dy);
                        if px < sheet.width() && py < sheet.height() {
                            sheet.put_pixel(px, py, Rgb(colour));
                        }
                    }
                }
            }
        }
    }
}

/// A 5×7 glyph, one row per byte (the low five bits, leftmost pixel highest).
fn glyph(ch: char) -> Option<[u8; 7]> {
    Some(match ch {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
        '-' => [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00],
        '#' => [0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        '>' => [0x10, 0x08, 0x04, 0x02, 0x04, 0x08, 0x10],
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_drawn_inside_its_box_only() {
        let mut img = RgbImage::from_pixel(40, 20, Rgb([255, 255, 255]));
        draw_text(&mut img, "#1", 1, 1, [0, 0, 0]);
        let dark: Vec<(u32, u32)> = img
            .enumerate_pixels()
            .filter(|(_, _, p)| p.0 == [0, 0, 0])
            .map(|(x, y, _)| (x, y))
            .collect();
        assert!(!dark.is_empty());
        assert!(
            dark.iter()
                .all(|&(x, y)| x < 1 + 12 * SCALE && y < 1 + 7 * SCALE)
        );
        // Every glyph the captions use exists.
        for ch in "#0123456789.-Q>".chars() {
            assert!(glyph(ch).is_some(), "{ch}");
        }
    }

    fn result(image: &str, results: usize) -> QueryResult {
        QueryResult {
            image: image.into(),
            results: (1..=results)
                .map(|rank| crate::search::RankedItem {
                    rank,
                    item_id: rank as i64,
                    score: 0.5,
                    image: format!("/nowhere/{rank}.png"),
                    title: String::new(),
                    labels: Vec::new(),
                })
                .collect(),
            predicted_labels: Vec::new(),
            query_features: None,
            timings: Default::default(),
        }
    }

    /// `query -k 1000000 --grid` on a catalogue of 3: the sheet is as wide as 3 results.
    #[test]
    fn the_grid_is_sized_by_the_results_not_by_k() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("sheet.png");
        write_grid(&[result("/nowhere/q.png", 3)], 1_000_000, &out).unwrap();
        let sheet = image::open(&out).unwrap();
        assert_eq!((sheet.width(), sheet.height()), grid_size(1, 3));
        // A sheet too large to draw is refused before any pixel is allocated.
        let many: Vec<QueryResult> = (0..100_000).map(|_| result("q", 1)).collect();
        let err = write_grid(&many, 10, &out).unwrap_err().to_string();
        assert!(
            err.contains(&format!("more than the {MAX_GRID_PIXELS}")),
            "{err}"
        );
        assert_eq!(grid_size(usize::MAX, usize::MAX), (u32::MAX, u32::MAX));
    }

    #[test]
    fn the_grid_has_one_row_per_query_and_one_column_per_result() {
        assert_eq!(grid_size(1, 5), (8 + 6 * 136, 8 + 160));
        assert_eq!(grid_size(3, 10).1, 8 + 3 * 160);
    }
}

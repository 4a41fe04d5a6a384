//! `vitrine query --grid OUT.png --explain`: the contact sheet with "why similar" heatmaps
//! ([`crate::explain`]). Each query takes two rows:
//!
//! ```text
//! [ query        ] [ result #1 + its heatmap ] [ result #2 + … ] …
//! [ colour scale ] [ query + its heatmap → #1 ] [ query → #2    ] …
//! ```
//! The top row marks where each result agrees with the query; the cell under it marks where
//! the query agrees with that result, so a pair is read top to bottom. Every image is the
//! letterboxed square the model saw, which is the region a heatmap covers.

use super::{CAPTION_PX, CELL_PX, PAD_PX, checked_grid_size, draw_text, place, thumbnail};
use crate::error::{Error, Result};
use crate::explain::{self, DEFAULT_OPACITY, FeatureCache, Heatmap};
use crate::model::system::System;
use crate::search::QueryResult;
use image::{DynamicImage, Rgb, RgbImage};
use std::path::Path;
use std::time::Instant;

/// Height of one query's two rows and the gap under them.
const BLOCK_PX: u32 = 2 * (CELL_PX + CAPTION_PX) + PAD_PX;

/// The explained sheet's size for `rows` queries of `k` results (saturating, like
/// [`super::grid_size`]).
pub fn explained_grid_size(rows: usize, k: usize) -> (u32, u32) {
    let to_u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let (width, _) = super::grid_size(rows, k);
    (
        width,
        to_u32(rows).saturating_mul(BLOCK_PX).saturating_add(PAD_PX),
    )
}

/// What explaining cost: results explained and backbone passes run, in how long.
pub struct ExplainCost {
    pub results: usize,
    pub passes: usize,
    pub elapsed_ms: f64,
}

/// Draws the explained sheet (see the module docs) and writes it atomically to `out`. Each
/// query must carry its feature map (`Searcher::query_file_explained`); each result costs a
/// backbone pass of its image (one per item, cached across queries).
pub fn write_explained_grid(
    results: &[QueryResult],
    k: usize,
    system: &System,
    out: &Path,
) -> Result<ExplainCost> {
    let (width, height) = checked_grid_size(results, k, explained_grid_size)?;
    let start = Instant::now();
    let mut cache = FeatureCache::default();
    let mut explained = 0;
    let mut sheet = RgbImage::from_pixel(width, height, Rgb([255, 255, 255]));
    for (row, result) in results.iter().enumerate() {
        let query_map = result.query_features.as_ref().ok_or_else(|| {
            Error::Invalid(format!(
                "{}: the search kept no feature map to explain",
                result.image
            ))
        })?;
        let top = PAD_PX + row as u32 * BLOCK_PX;
        let bottom = top + CELL_PX + CAPTION_PX;
        let query = thumbnail(Path::new(&result.image));
        place(&mut sheet, &query, PAD_PX, top);
        draw_text(&mut sheet, "Q", PAD_PX + 2, top + CELL_PX + 4, [0, 0, 160]);
        scale_ui(&mut sheet, PAD_PX, bottom);
        for (col, item) in result.results.iter().take(k).enumerate() {
            let x = PAD_PX + (col as u32 + 1) * (CELL_PX + PAD_PX);
            let item_map = cache.features(system, item.item_id, Path::new(&item.image))?;
            let pair = explain::explain(query_map, &item_map)?;
            explained += 1;
            place(
                &mut sheet,
                &with_heat(&thumbnail(Path::new(&item.image)), &pair.result),
                x,
                top,
            );
            let caption = format!("#{} {:.3}", item.rank, item.score);
            draw_text(&mut sheet, &caption, x + 2, top + CELL_PX + 4, [0, 0, 0]);
            place(&mut sheet, &with_heat(&query, &pair.query), x, bottom);
            let caption = format!("Q>#{}", item.rank);
            draw_text(
                &mut sheet,
                &caption,
                x + 2,
                bottom + CELL_PX + 4,
                [0, 0, 160],
            );
        }
    }
    let elapsed_ms = start.elapsed().as_secs_f64() * 1e3;
    crate::atomic_file::write_with(out, |file| {
        sheet
            .write_to(file, image::ImageFormat::Png)
            .map_err(|e| std::io::Error::other(format!("cannot encode the PNG: {e}")))
    })?;
    Ok(ExplainCost {
        results: explained,
        passes: cache.passes(),
        elapsed_ms,
    })
}

/// A letterboxed thumbnail with `heat` drawn over it.
fn with_heat(thumb: &RgbImage, heat: &Heatmap) -> RgbImage {
    let mut rgba = DynamicImage::ImageRgb8(thumb.clone()).to_rgba8();
    explain::overlay(&mut rgba, heat, DEFAULT_OPACITY);
    DynamicImage::ImageRgba8(rgba).to_rgb8()
}

/// The colour scale in the cell under the query: low agreement left, high right.
fn scale_ui(sheet: &mut RgbImage, x: u32, y: u32) {
    let (bar_w, bar_h) = (CELL_PX - 8, 20);
    let bar_y = y + CELL_PX / 2 - bar_h;
    // The bar as the overlay paints it on white, so it reads as the cells do.
    let ramp = Heatmap::ramp(bar_w as usize);
    let mut bar = image::RgbaImage::from_pixel(bar_w, 1, image::Rgba([255, 255, 255, 255]));
    explain::overlay(&mut bar, &ramp, DEFAULT_OPACITY);
    for dy in 0..bar_h {
        for dx in 0..bar_w {
            let p = bar.get_pixel(dx, 0).0;
            sheet.put_pixel(x + 4 + dx, bar_y + dy, Rgb([p[0], p[1], p[2]]));
        }
    }
    draw_text(sheet, "0", x + 4, bar_y + bar_h + 4, [0, 0, 0]);
    draw_text(sheet, "1", x + CELL_PX - 14, bar_y + bar_h + 4, [0, 0, 0]);
}

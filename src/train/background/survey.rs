//! Surveying a catalogue's photos: the share the cut-out is reliable on (overall, per
//! verdict and per category), and pictures of what background augmentation makes of them.

use super::{CutoutCheck, CutoutVerdict, SceneSource, check_cut_out, item_mask, paste};
use crate::catalog::LabelGroup;
use crate::error::Result;
use crate::jobs::JobContext;
use crate::library::Library;
use crate::store::ItemFilter;
use image::{GrayImage, RgbImage};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// How many photos of one category (or all) the cut-out is reliable on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct CutoutCounts {
    pub checked: usize,
    pub reliable: usize,
    /// `reliable / checked` (0 when nothing was checked).
    pub reliable_fraction: f64,
}

impl CutoutCounts {
    fn add(&mut self, reliable: bool) {
        self.checked += 1;
        self.reliable += usize::from(reliable);
        self.reliable_fraction = self.reliable as f64 / self.checked as f64;
    }
}

/// What [`survey_cut_outs`] found: the share of photos background augmentation would use.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CutoutSurvey {
    /// Over every readable photo checked.
    #[serde(flatten)]
    pub overall: CutoutCounts,
    /// Photos per verdict (reasons for skipping, and `reliable`).
    pub verdicts: BTreeMap<CutoutVerdict, usize>,
    /// Per category label (photos without one are under `""`).
    pub per_category: BTreeMap<String, CutoutCounts>,
    /// Photos that could not be decoded (not counted above).
    pub unreadable: usize,
}

/// One photo of a survey: where it is and what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct SurveyPhoto {
    pub image: PathBuf,
    pub category: Option<String>,
}

/// The catalogue's photos for a survey: at most `limit` (all with `None`), spread evenly over
/// the catalogue in id order so every category is represented.
pub fn library_photos(lib: &Library, limit: Option<usize>) -> Result<Vec<SurveyPhoto>> {
    let items = lib.store.items(&ItemFilter::default())?;
    let take = limit.unwrap_or(items.len()).min(items.len());
    let photos = (0..take)
        .map(|i| {
            let item = &items[i * items.len() / take.max(1)];
            SurveyPhoto {
                image: lib.resolve(&item.image),
                category: item
                    .labels
                    .iter()
                    .find(|l| l.group == LabelGroup::Category)
                    .map(|l| l.name.clone()),
            }
        })
        .collect();
    Ok(photos)
}

/// Checks the cut-out of every photo (in parallel, in chunks between which progress is
/// reported and cancellation checked): the share background augmentation uses.
pub fn survey_cut_outs(photos: &[SurveyPhoto], ctx: &JobContext) -> Result<CutoutSurvey> {
    const CHUNK: usize = 64;
    let mut survey = CutoutSurvey {
        overall: CutoutCounts::default(),
        verdicts: BTreeMap::new(),
        per_category: BTreeMap::new(),
        unreadable: 0,
    };
    let total = photos.len() as u64;
    for (c, chunk) in photos.chunks(CHUNK).enumerate() {
        ctx.check_cancelled()?;
        ctx.progress((c * CHUNK) as u64, total, "checking cut-outs");
        let checks: Vec<Option<CutoutVerdict>> = chunk
            .par_iter()
            .map(|photo| {
                crate::vision::decode(&photo.image)
                    .ok()
                    .map(|img| check_cut_out(&img).0.verdict)
            })
            .collect();
        for (photo, verdict) in chunk.iter().zip(checks) {
            let Some(verdict) = verdict else {
                survey.unreadable += 1;
                continue;
            };
            let reliable = verdict == CutoutVerdict::Reliable;
            survey.overall.add(reliable);
            *survey.verdicts.entry(verdict).or_insert(0) += 1;
            survey
                .per_category
                .entry(photo.category.clone().unwrap_or_default())
                .or_default()
                .add(reliable);
        }
    }
    ctx.progress(total, total, "checking cut-outs");
    Ok(survey)
}

/// A `side × side` picture of what background augmentation makes of `photo`: the cut-out
/// pasted on a training scene when reliable; otherwise the photo with the mask it would have
/// used tinted red (or, when the border already failed, the photo dimmed), so a person sees
/// why it was skipped.
pub fn cut_out_preview(photo: &RgbImage, side: u32, seed: u64) -> Result<(CutoutCheck, RgbImage)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (check, cutout) = check_cut_out(photo);
    if let Some(cutout) = cutout {
        let mut scene = SceneSource::Photos.scene(&mut rng, side)?;
        paste(&cutout, &mut scene, None, &mut rng);
        return Ok((check, scene));
    }
    let mask = match check.mask_share {
        Some(_) => item_mask(photo),
        None => GrayImage::new(photo.width(), photo.height()),
    };
    let mut shown = photo.clone();
    for (p, m) in shown.pixels_mut().zip(mask.pixels()) {
        for c in 0..3 {
            let v = f32::from(p[c]);
            p[c] = if m[0] > 0 {
                (0.5 * v + if c == 0 { 127.0 } else { 0.0 }) as u8
            } else {
                (0.55 * v) as u8
            };
        }
    }
    Ok((
        check,
        crate::vision::preprocess::letterbox(&shown, side, [0; 3]),
    ))
}

/// A contact sheet of [`cut_out_preview`]s of `photos`, `columns` across, tiles of `side` px
/// framed green (reliable) or red (skipped); the checks in photo order. Unreadable photos
/// are left out.
pub fn cut_out_sheet(
    photos: &[SurveyPhoto],
    columns: u32,
    side: u32,
) -> Result<(Vec<CutoutCheck>, RgbImage)> {
    const GAP: u32 = 4;
    let tiles: Vec<(CutoutCheck, RgbImage)> = photos
        .par_iter()
        .enumerate()
        .filter_map(|(i, photo)| {
            let img = crate::vision::decode(&photo.image).ok()?;
            Some(cut_out_preview(&img, side, i as u64))
        })
        .collect::<Result<_>>()?;
    let columns = columns.max(1);
    let rows = (tiles.len() as u32).div_ceil(columns).max(1);
    let cell = side + 2 * GAP;
    let mut sheet = RgbImage::from_pixel(columns * cell, rows * cell, image::Rgb([255; 3]));
    for (i, (check, tile)) in tiles.iter().enumerate() {
        let (x0, y0) = ((i as u32 % columns) * cell, (i as u32 / columns) * cell);
        let frame = match check.verdict {
            CutoutVerdict::Reliable => [40, 160, 60],
            _ => [200, 40, 40],
        };
        for y in y0..y0 + cell {
            for x in x0..x0 + cell {
                sheet.put_pixel(x, y, image::Rgb(frame));
            }
        }
        image::imageops::replace(&mut sheet, tile, i64::from(x0 + GAP), i64::from(y0 + GAP));
    }
    Ok((tiles.into_iter().map(|(c, _)| c).collect(), sheet))
}

//! Choosing what trains when the user asks for `--mode auto` (the default): the mode this
//! catalogue and this machine can afford, with the reason in words.
//!
//! Partial fine-tuning (the last blocks of the backbone, from a cached frozen prefix) is
//! what pays off on real photos (README, "On real photos"), and on a CPU it costs about what
//! head mode costs: one pass of the frozen part per cached view, then cheap epochs. So it is
//! the default wherever the backbone can be split (the Lite backbones) and the estimated run
//! fits [`BUDGET_SECS`]. The estimate comes from this machine and the chosen backbone at its
//! own side: a few real catalogue images are decoded, augmented and run through the frozen
//! prefix, and a few training steps of the trained part are timed
//! ([`super::step_throughput`]). On a GPU every weight trains.

use super::{Mode, TrainConfig, step_throughput};
use crate::error::Result;
use crate::library::Library;
use crate::model::backbone::BackboneKind;
use crate::model::network::NetworkConfig;
use crate::store::ItemFilter;
use candle_core::{Device, Tensor};
use serde::Serialize;
use std::time::Instant;

/// Blocks that train in partial mode when the mode is chosen for the user.
pub const AUTO_BLOCKS: usize = 3;

/// The longest run (estimated) for which partial mode is chosen on a CPU.
pub const BUDGET_SECS: f64 = 30.0 * 60.0;

/// The mode chosen for a run, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModePlan {
    pub mode: Mode,
    /// One sentence for the user: what trains, what it costs here, why this mode.
    pub reason: String,
    /// The estimated length of the run in partial mode, where it was measured.
    pub partial_estimate_secs: Option<f64>,
}

/// The mode for `config` (whose `mode` is ignored) on `lib`'s catalogue and `device`.
pub fn plan_mode(lib: &Library, config: &TrainConfig, device: &Device) -> Result<ModePlan> {
    let kind = BackboneKind::parse(&config.backbone)?;
    if !device.is_cpu() {
        return Ok(ModePlan {
            mode: Mode::Full,
            reason: "full: every weight trains, as the paper did; the model runs on a GPU".into(),
            partial_estimate_secs: None,
        });
    }
    if !kind.is_lite() {
        return Ok(ModePlan {
            mode: Mode::Head,
            reason: format!(
                "head: {kind} cannot be split to cache its frozen part, so partial or full \
                 training would run the whole backbone at every step on this CPU"
            ),
            partial_estimate_secs: None,
        });
    }
    let items = lib.store.items(&ItemFilter::default())?;
    let train_items = items.len() * 8 / 10;
    let variants = if config.augmenting() {
        config.variants.min(config.epochs.max(1))
    } else {
        0
    };
    let views = train_items * (1 + variants) + (items.len() - train_items);
    let blocks = kind.lite_config().map_or(0, |c| c.blocks().len());
    let caching_rate = caching_rate(lib, &items, config, device)?;
    let mode = Mode::Partial {
        blocks: AUTO_BLOCKS,
    };
    let step_rate = step_throughput(kind, mode, true, 16, 2, device)?.images_per_s;
    let caching_secs = views as f64 / caching_rate.max(1e-6);
    let epoch_secs = train_items as f64 / step_rate.max(1e-6);
    let total = caching_secs + config.epochs as f64 * epoch_secs;
    let costs = format!(
        "{views} views cached at {caching_rate:.0}/s, then {} epochs of {train_items} items at \
         {step_rate:.0}/s: about {} in all on this machine",
        config.epochs,
        minutes(total)
    );
    if total <= BUDGET_SECS {
        Ok(ModePlan {
            mode,
            reason: format!(
                "partial: the last {AUTO_BLOCKS} of {kind}'s {blocks} blocks train with the \
                 shallow branch and the head, from a cached frozen prefix ({costs}); --mode \
                 head is faster and learns less"
            ),
            partial_estimate_secs: Some(total),
        })
    } else {
        Ok(ModePlan {
            mode: Mode::Head,
            reason: format!(
                "head: partial fine-tuning would take too long here ({costs}, over the {} \
                 budget); head mode caches the backbone's features once and trains only the \
                 shallow branch and the head",
                minutes(BUDGET_SECS)
            ),
            partial_estimate_secs: Some(total),
        })
    }
}

/// Views per second of the caching pass: real catalogue images decoded, augmented and run
/// through the frozen prefix, as a run caches them (after one warm-up pass).
fn caching_rate(
    lib: &Library,
    items: &[crate::catalog::Item],
    config: &TrainConfig,
    device: &Device,
) -> Result<f64> {
    let kind = BackboneKind::parse(&config.backbone)?;
    let preprocess = config.preprocess(kind);
    let varmap = candle_nn::VarMap::new();
    let net_config = NetworkConfig {
        backbone: kind.as_str().into(),
        backbone_dim: kind.feature_dim(),
        ..NetworkConfig::lite0(2)
    };
    let weights = super::run::backbone_weights(config, kind)?;
    let net =
        crate::model::network::ParallelNetwork::fresh(&varmap, &net_config, &weights, device)?;
    let start = net
        .backbone()
        .split_blocks()
        .unwrap_or(0)
        .saturating_sub(AUTO_BLOCKS);
    let side = preprocess.side_px as usize;
    let warm = Tensor::zeros((4, 3, side, side), candle_core::DType::F32, device)?;
    net.backbone().prefix(&warm, start)?;
    let views = super::feed::Views {
        side: preprocess.side_px,
        augment: config.augment,
        scenes: config.background.scenes()?,
        ranges: config.augment_ranges(),
    };
    let sample: Vec<super::data::Sample> = items
        .iter()
        .take(16)
        .map(|item| super::data::Sample {
            id: item.id,
            path: lib.resolve(&item.image),
            targets: Vec::new(),
        })
        .collect();
    if sample.is_empty() {
        return Ok(1.0);
    }
    let timer = Instant::now();
    use rayon::prelude::*;
    let images: Vec<image::RgbImage> = sample
        .par_iter()
        .map(|s| views.load(s, config.seed, super::feed::VARIANT_STREAM, 1))
        .collect::<Result<_>>()?;
    let x = preprocess.to_tensor(&images, device)?;
    net.backbone().prefix(&x, start)?;
    net.shallow_input(&x)?;
    Ok(sample.len() as f64 / timer.elapsed().as_secs_f64().max(1e-6))
}

/// "40 s", "7 min", "1 h 35 min".
fn minutes(secs: f64) -> String {
    let secs = secs.max(0.0).round() as u64;
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs.div_ceil(60)),
        _ => format!("{} h {:02} min", secs / 3600, (secs % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(minutes(40.0), "40 s");
        assert_eq!(minutes(400.0), "7 min");
        assert_eq!(minutes(5700.0), "1 h 35 min");
    }
}

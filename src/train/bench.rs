//! `vitrine bench train`: the throughput of a mode's optimisation steps on random input,
//! and the process's peak memory while it ran.

use super::Mode;
use super::loss;
use super::optim::AdamW;
use super::trainable::{frozen_except, trainable_vars};
use crate::error::{Error, Result};
use crate::model::backbone::BackboneKind;
use crate::model::network::{NetworkConfig, ParallelNetwork};
use crate::model::system;
use candle_core::{DType, Device, Tensor};
use candle_nn::{Optimizer, ParamsAdamW, VarMap};
use serde::Serialize;
use std::time::Instant;

/// What `vitrine bench train` measures of one training mode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepBench {
    /// `head`, `partial`, `partial-cached` or `full`.
    pub mode: String,
    /// Images per second of optimisation steps (median step).
    pub images_per_s: f64,
    /// Weights the mode trains.
    pub trainable_parameters: usize,
    /// The process's peak resident memory while the mode was set up and timed (Linux; `None`
    /// elsewhere).
    pub peak_rss_bytes: Option<u64>,
}

/// Training throughput of `mode` on this machine: images per second of optimisation steps
/// (forward, eq. 3, backward, AdamW) at `batch`, on random input, after one warm-up step, as
/// the median of `steps` timed steps. Head mode reads random "cached" features and the
/// shallow branch's input; partial mode runs the frozen prefix in inference, or with
/// `cached_prefix` reads its (cached) output instead, which is what a training epoch costs
/// once the cache is built. Decoding and augmentation are excluded in every mode. `kind` is
/// one with shipped ImageNet weights (the Lite backbones), at its native side.
pub fn step_throughput(
    kind: BackboneKind,
    mode: Mode,
    cached_prefix: bool,
    batch: usize,
    steps: usize,
    device: &Device,
) -> Result<StepBench> {
    let _retain = crate::RetainFreedMemory::new();
    reset_peak_rss();
    let labels = 64;
    let config = NetworkConfig {
        backbone: kind.as_str().into(),
        backbone_dim: kind.feature_dim(),
        ..NetworkConfig::lite0(labels)
    };
    let varmap = VarMap::new();
    let file = kind.shipped_weights_file().ok_or_else(|| {
        Error::Invalid(format!(
            "{kind} has no shipped ImageNet weights to time (only the Lite backbones do)"
        ))
    })?;
    let weights = system::find_weights(file)?;
    let fresh = ParallelNetwork::fresh(&varmap, &config, &weights, device)?;
    let trainable = trainable_vars(&varmap, &fresh, mode)?;
    let trainable_parameters = trainable.iter().map(|v| v.elem_count()).sum();
    let net = match mode {
        Mode::Partial { .. } => frozen_except(&varmap, &trainable, &config, device)?,
        Mode::Head | Mode::Full | Mode::Auto => fresh,
    };
    let mut optimizer = AdamW::new(trainable, ParamsAdamW::default())?;
    let side = kind.preprocess().side_px as usize;
    let x = Tensor::rand(-1f32, 1.0, (batch, 3, side, side), device)?;
    let small = net.shallow_input(&x)?;
    let pooled = Tensor::rand(0f32, 1.0, (batch, config.backbone_dim), device)?;
    let start = match mode {
        Mode::Partial { blocks } => {
            let count = net.backbone().split_blocks().ok_or_else(|| {
                Error::Model("this backbone cannot be split for partial training".into())
            })?;
            Some(count.saturating_sub(blocks))
        }
        Mode::Head | Mode::Full | Mode::Auto => None,
    };
    let cached = match (start, cached_prefix) {
        (Some(start), true) => Some(net.backbone().prefix(&x, start)?),
        _ => None,
    };
    let targets = Tensor::rand(0f32, 1.0, (batch, labels), device)?
        .ge(0.9)?
        .to_dtype(DType::F32)?;
    let label_weights = Tensor::ones(labels, DType::F32, device)?;
    let mut times = Vec::new();
    for i in 0..=steps.max(1) {
        let step_start = Instant::now();
        let out = match (mode, start) {
            (Mode::Head | Mode::Auto, _) => {
                net.outputs_from_parts_t(&pooled, small.as_ref(), true)?
            }
            (Mode::Partial { .. }, Some(start)) => {
                let h = match &cached {
                    Some(h) => h.clone(),
                    None => net.backbone().prefix(&x, start)?,
                };
                let pooled = net.backbone().suffix_pooled_t(&h, start, true)?;
                let small = net.shallow_input(&x)?;
                net.outputs_from_parts_t(&pooled, small.as_ref(), true)?
            }
            _ => net.outputs_t(&x, true)?,
        };
        let parts = loss::paper_loss(&out.logits, &targets, &label_weights)?;
        optimizer.backward_step(&parts.loss)?;
        if i > 0 {
            times.push(step_start.elapsed().as_secs_f64());
        }
    }
    times.sort_by(f64::total_cmp);
    let name = match (mode, cached_prefix) {
        (Mode::Partial { .. }, true) => "partial-cached".to_string(),
        _ => mode.name().to_string(),
    };
    Ok(StepBench {
        mode: name,
        images_per_s: batch as f64 / times[times.len() / 2].max(1e-9),
        trainable_parameters,
        peak_rss_bytes: peak_rss_bytes(),
    })
}

/// Resets the kernel's record of this process's peak resident memory (Linux ≥ 4.0), so that
/// [`peak_rss_bytes`] measures from here on.
pub fn reset_peak_rss() {
    #[cfg(target_os = "linux")]
    {
        let _ = std::fs::write("/proc/self/clear_refs", "5");
    }
}

/// This process's peak resident memory (`VmHWM`), where the system reports it.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

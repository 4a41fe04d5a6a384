//! Which variables a mode trains, and the network in which only those are variables (the
//! frozen weights detached); the optimiser's groups and gradient accumulation over them.

use super::Mode;
use crate::error::{Error, Result};
use crate::model::network::{NetworkConfig, ParallelNetwork};
use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Shape, Tensor, TensorId, Var};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{VarBuilder, VarMap};
use std::collections::{HashMap, HashSet};

/// The trainable variables in two groups for the optimiser: the head and the shallow branch
/// at the full learning rate, the backbone's at `backbone_factor` of it.
pub(super) fn backbone_groups(
    varmap: &VarMap,
    trainable: &[Var],
    backbone_factor: f64,
) -> Result<Vec<(Vec<Var>, f64)>> {
    let backbone: HashSet<TensorId> = varmap
        .data()
        .lock()
        .map_err(|_| Error::Model("the variable map is poisoned".into()))?
        .iter()
        .filter(|(name, _)| name.starts_with("backbone."))
        .map(|(_, v)| v.as_tensor().id())
        .collect();
    let (ours, theirs): (Vec<Var>, Vec<Var>) = trainable
        .iter()
        .cloned()
        .partition(|v| !backbone.contains(&v.as_tensor().id()));
    Ok(vec![(ours, 1.0), (theirs, backbone_factor)])
}

/// `grads` added to the sums so far (`None` before the first batch), for the variables that
/// train.
pub(super) fn add_grads(
    sum: Option<GradStore>,
    grads: GradStore,
    vars: &[Var],
) -> Result<GradStore> {
    let Some(mut sum) = sum else {
        return Ok(grads);
    };
    for var in vars {
        if let Some(g) = grads.get(var.as_tensor()) {
            let total = match sum.get(var.as_tensor()) {
                Some(s) => (s + g)?,
                None => g.clone(),
            };
            sum.insert(var.as_tensor(), total);
        }
    }
    Ok(sum)
}

/// The variables `mode` trains: the head and the shallow branch always; for partial, the
/// backbone's last `blocks` blocks and every layer after them; for full, everything.
pub(super) fn trainable_vars(
    varmap: &VarMap,
    net: &ParallelNetwork,
    mode: Mode,
) -> Result<Vec<Var>> {
    let vars = varmap
        .data()
        .lock()
        .map_err(|_| Error::Model("the variable map is poisoned".into()))?;
    // Lite0 keeps its ImageNet classifier (`_fc`), which the parallel network never runs.
    let backbone_names: Vec<String> = net
        .backbone()
        .named_tensors()
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| !n.starts_with("_fc."))
        .collect();
    let trainable_backbone: Vec<String> = match mode {
        Mode::Head | Mode::Auto => Vec::new(),
        Mode::Full => backbone_names,
        Mode::Partial { blocks } => last_blocks(&backbone_names, blocks),
    };
    let mut out: Vec<(String, Var)> = vars
        .iter()
        .filter(|(name, _)| {
            // Batch norms' running averages are measured, not trained (full mode updates
            // them from each batch's statistics).
            let running = name.contains(".running_");
            !running
                && (!name.starts_with("backbone.")
                    || trainable_backbone
                        .iter()
                        .any(|b| name.strip_prefix("backbone.") == Some(b.as_str())))
        })
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out.into_iter().map(|(_, v)| v).collect())
}

/// The network over `varmap` with only `trainable` as variables: every other weight is the
/// same storage detached, so the backward pass stops where the trainable part begins
/// instead of computing gradients for frozen blocks that nothing would use. Loading a
/// checkpoint into `varmap` still updates both (they share storage). Frozen batch norms keep
/// their pretrained running averages.
pub(super) fn frozen_except(
    varmap: &VarMap,
    trainable: &[Var],
    config: &NetworkConfig,
    device: &Device,
) -> Result<ParallelNetwork> {
    let vars: HashMap<String, Var> = varmap
        .data()
        .lock()
        .map_err(|_| Error::Model("the variable map is poisoned".into()))?
        .clone();
    let trainable: HashSet<TensorId> = trainable.iter().map(|v| v.as_tensor().id()).collect();
    let backend = Freezing { vars, trainable };
    let vb = VarBuilder::from_backend(Box::new(backend), DType::F32, device.clone());
    Ok(ParallelNetwork::new(vb, config)?)
}

/// The network on `varmap`'s variables themselves (for inference after training steps on
/// a [`frozen_except`] network: Lite0's folded inference weights are cached per instance,
/// so a new instance folds the current weights).
pub(super) fn varmap_net(
    varmap: &VarMap,
    config: &NetworkConfig,
    device: &Device,
) -> Result<ParallelNetwork> {
    let vb = VarBuilder::from_varmap(varmap, DType::F32, device);
    Ok(ParallelNetwork::new(vb, config)?)
}

/// [`frozen_except`]'s variable source.
struct Freezing {
    vars: HashMap<String, Var>,
    trainable: HashSet<TensorId>,
}

impl SimpleBackend for Freezing {
    fn get(
        &self,
        shape: Shape,
        name: &str,
        _init: candle_nn::Init,
        dtype: DType,
        device: &Device,
    ) -> candle_core::Result<Tensor> {
        let t = self.get_unchecked(name, dtype, device)?;
        if t.shape() != &shape {
            candle_core::bail!("{name}: shape {:?}, expected {:?}", t.dims(), shape.dims())
        }
        Ok(t)
    }

    fn get_unchecked(
        &self,
        name: &str,
        _dtype: DType,
        _device: &Device,
    ) -> candle_core::Result<Tensor> {
        let Some(var) = self.vars.get(name) else {
            candle_core::bail!("{name}: not among the network's variables")
        };
        let t = var.as_tensor();
        Ok(if self.trainable.contains(&t.id()) {
            t.clone()
        } else {
            t.detach()
        })
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.vars.contains_key(name)
    }
}

/// The block a backbone tensor belongs to: `_blocks.7` (Lite0), `blocks.5.2` (timm
/// EfficientNet), `layer4.2` (ResNet); `None` for the stem and head layers.
pub(super) fn block_of(name: &str) -> Option<String> {
    let parts: Vec<&str> = name.split('.').collect();
    let numeric = |s: &str| s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty();
    match parts.first() {
        Some(&"_blocks") | Some(&"blocks") => {
            let n = parts[1..].iter().take_while(|p| numeric(p)).count();
            Some(parts[..=n].join("."))
        }
        Some(first) if first.starts_with("layer") && parts.len() > 1 && numeric(parts[1]) => {
            Some(parts[..2].join("."))
        }
        _ => None,
    }
}

/// The tensors (in forward order) of the last `blocks` blocks and of every layer after them.
pub(super) fn last_blocks(names: &[String], blocks: usize) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    for name in names {
        if let Some(b) = block_of(name)
            && order.last() != Some(&b)
        {
            order.push(b);
        }
    }
    let first_kept = order.len().saturating_sub(blocks);
    let Some(first_block) = order.get(first_kept) else {
        return Vec::new();
    };
    let start = names
        .iter()
        .position(|n| block_of(n).as_ref() == Some(first_block))
        .unwrap_or(names.len());
    names[start..].to_vec()
}

//! The data of a run: a new run's split and label vocabulary, and the train, validation
//! and test samples with their targets.

use super::TrainConfig;
use super::checkpoint::{self, RunState};
use super::split;
use crate::catalog::{Item, ItemId};
use crate::error::{Error, Result};
use crate::library::Library;
use candle_core::{Device, Tensor};
use std::collections::HashMap;
use std::path::PathBuf;

/// An item with what training needs of it.
#[derive(Debug, Clone)]
pub(super) struct Sample {
    pub(super) id: ItemId,
    pub(super) path: PathBuf,
    pub(super) targets: Vec<f32>,
}

/// The train, validation and test samples of a run, with their targets.
pub(super) struct Sets {
    pub(super) train: Vec<Sample>,
    pub(super) validation: Vec<Sample>,
    pub(super) test: Vec<Sample>,
}

impl Sets {
    pub(super) fn new(lib: &Library, items: &[Item], state: &RunState) -> Result<Sets> {
        let label_index: HashMap<&str, usize> = state
            .labels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.as_str(), i))
            .collect();
        let by_id: HashMap<ItemId, &Item> = items.iter().map(|i| (i.id, i)).collect();
        let samples_of = |ids: &[ItemId]| -> Result<Vec<Sample>> {
            ids.iter()
                .map(|id| {
                    let item = by_id.get(id).ok_or_else(|| {
                        Error::Invalid(format!(
                            "item {id} of the run {:?} is no longer in the library; start a new \
                             run",
                            state.config.name
                        ))
                    })?;
                    let mut targets = vec![0.0f32; label_index.len()];
                    for label in &item.labels {
                        if let Some(&i) = label_index.get(label.to_string().as_str()) {
                            targets[i] = 1.0;
                        }
                    }
                    Ok(Sample {
                        id: *id,
                        path: lib.resolve(&item.image),
                        targets,
                    })
                })
                .collect()
        };
        Ok(Sets {
            train: samples_of(&state.split.train)?,
            validation: samples_of(&state.split.validation)?,
            test: samples_of(&state.split.test)?,
        })
    }
}

/// A new run's state: the split and the label vocabulary of its training items.
pub(super) fn new_state(config: &TrainConfig, items: &[Item]) -> Result<RunState> {
    if items.len() < 10 {
        return Err(Error::Invalid(format!(
            "the library has {} items; training needs at least 10 (80/10/10 split)",
            items.len()
        )));
    }
    let pairs: Vec<(ItemId, Option<String>)> =
        items.iter().map(|i| (i.id, i.product.clone())).collect();
    let split = split::split(&pairs, config.seed);
    let by_id: HashMap<ItemId, &Item> = items.iter().map(|i| (i.id, i)).collect();
    let vocabulary = crate::catalog::vocabulary::Vocabulary::from_items(
        split
            .train
            .iter()
            .filter_map(|id| by_id.get(id).map(|i| i.labels.as_slice())),
        &crate::catalog::vocabulary::VocabularyRule::default(),
    );
    let labels: Vec<String> = vocabulary
        .ranked()
        .iter()
        .map(|(l, _)| l.to_string())
        .collect();
    if labels.is_empty() {
        return Err(Error::Invalid(
            "no label occurs on two training items: nothing to learn".into(),
        ));
    }
    Ok(RunState {
        format: checkpoint::STATE_FORMAT,
        config: config.clone(),
        split,
        labels,
        epochs_done: 0,
        best_iou: 0.0,
        best_epoch: 0,
        history: Vec::new(),
    })
}

/// The fraction of training items carrying each label (eq. 2's `f_i`).
pub(super) fn label_frequencies(set: &[Sample], labels: usize) -> Vec<f32> {
    let mut counts = vec![0.0f32; labels];
    for s in set {
        for (c, t) in counts.iter_mut().zip(&s.targets) {
            *c += t;
        }
    }
    let n = set.len().max(1) as f32;
    counts.iter().map(|c| c / n).collect()
}

pub(super) fn targets_tensor(samples: &[&Sample], device: &Device) -> Result<Tensor> {
    let labels = samples.first().map_or(0, |s| s.targets.len());
    let flat: Vec<f32> = samples
        .iter()
        .flat_map(|s| s.targets.iter().copied())
        .collect();
    Ok(Tensor::from_vec(flat, (samples.len(), labels), device)?)
}

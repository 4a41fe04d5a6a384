//! Training checkpoints: everything a run needs to continue after a crash or a cancel.
//!
//! A run lives in `DIR/train/<name>/`:
//! * `state.json`: the run's config, split, labels, history and best epoch so far
//!   ([`RunState`]);
//! * `last.safetensors`: every variable after the last finished epoch;
//! * `best.safetensors`: every variable at the best validation IoU so far;
//! * `features.safetensors`: head mode's cached backbone features (see `features`).
//!
//! Every file is written to a temporary name and renamed into place
//! (`model::weights::write_safetensors`), so a crash mid-write leaves the previous
//! checkpoint intact. The optimiser's moment estimates are not saved: a resumed run restarts
//! AdamW's averages, which re-settle within a few dozen steps.

use super::split::Split;
use super::{EpochStats, TrainConfig};
use crate::error::{Error, Result};
use crate::model::weights::write_safetensors;
use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The version of `state.json` this program writes and reads.
pub const STATE_FORMAT: u32 = 1;

/// A run's folder: `DIR/train/<name>/`.
pub fn run_dir(root: &Path, name: &str) -> PathBuf {
    root.join("train").join(name)
}

/// What `state.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    pub format: u32,
    pub config: TrainConfig,
    pub split: Split,
    /// The label vocabulary (`group:name`), in the classifier's order.
    pub labels: Vec<String>,
    /// Epochs finished (and checkpointed) so far.
    pub epochs_done: usize,
    /// The best validation IoU so far and its epoch (0 = before training).
    pub best_iou: f64,
    pub best_epoch: usize,
    pub history: Vec<EpochStats>,
}

impl RunState {
    /// Writes `state.json` atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::Invalid(format!("cannot describe the run: {e}")))?;
        crate::atomic_file::write(&dir.join("state.json"), &json)
    }

    /// Reads `state.json`; a missing run or a damaged file is an error naming the file.
    pub fn load(dir: &Path) -> Result<RunState> {
        let path = dir.join("state.json");
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let state: RunState = serde_json::from_slice(&bytes)
            .map_err(|e| Error::file(&path, format!("not a training run's state: {e}")))?;
        if state.format != STATE_FORMAT {
            return Err(Error::file(
                &path,
                format!(
                    "run format {} (this program reads {STATE_FORMAT})",
                    state.format
                ),
            ));
        }
        Ok(state)
    }
}

/// The run called `name` in the library at `root`, if one was started there: `Ok(None)` when
/// it has no `state.json` (never started, or cancelled before its first checkpoint), so a
/// caller can offer Resume only where there is something to resume; a damaged state is an
/// error naming the file.
pub fn find_run(root: &Path, name: &str) -> Result<Option<RunState>> {
    let dir = run_dir(root, name);
    if name.is_empty() || !dir.join("state.json").is_file() {
        return Ok(None);
    }
    RunState::load(&dir).map(Some)
}

impl RunState {
    /// Whether `train --resume` would train more epochs: fewer are done than the run asked
    /// for, or than `wanted` (a resumed run may only ask for more).
    pub fn can_continue(&self, wanted: usize) -> bool {
        self.epochs_done < self.config.epochs.max(wanted)
    }
}

/// Writes every variable of `varmap` to `path` (atomically).
pub fn save_vars(varmap: &VarMap, path: &Path) -> Result<()> {
    let vars = varmap
        .data()
        .lock()
        .map_err(|_| Error::Model("the variable map is poisoned".into()))?;
    let mut named: Vec<(String, Tensor)> = vars
        .iter()
        .map(|(name, var)| (name.clone(), var.as_tensor().clone()))
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    write_safetensors(&named, &BTreeMap::new(), path)?;
    Ok(())
}

/// Sets every variable of `varmap` from `path`; a variable the file lacks, or of another
/// shape, is an error naming the file.
pub fn load_vars(varmap: &VarMap, path: &Path, device: &Device) -> Result<()> {
    let data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let tensors = candle_core::safetensors::load_buffer(&data, device)
        .map_err(|e| Error::file(path, format!("not a readable checkpoint: {e}")))?;
    let vars = varmap
        .data()
        .lock()
        .map_err(|_| Error::Model("the variable map is poisoned".into()))?;
    for (name, var) in vars.iter() {
        let tensor = tensors
            .get(name)
            .ok_or_else(|| Error::file(path, format!("the checkpoint lacks {name}")))?;
        var.set(tensor)
            .map_err(|e| Error::file(path, format!("{name} does not fit: {e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::DType;
    use candle_nn::Init;

    #[test]
    fn a_run_is_found_only_where_its_state_was_saved() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(find_run(root.path(), "never-started").unwrap(), None);
        // A folder without state.json (cancelled before the first checkpoint): nothing to resume.
        std::fs::create_dir_all(run_dir(root.path(), "early")).unwrap();
        assert_eq!(find_run(root.path(), "early").unwrap(), None);
        let state = RunState {
            format: STATE_FORMAT,
            config: TrainConfig {
                name: "half".into(),
                epochs: 6,
                ..TrainConfig::default()
            },
            split: Split {
                train: vec![1, 2],
                validation: vec![3],
                test: vec![4],
            },
            labels: vec!["category:top".into()],
            epochs_done: 3,
            best_iou: 0.5,
            best_epoch: 2,
            history: Vec::new(),
        };
        state.save(&run_dir(root.path(), "half")).unwrap();
        let found = find_run(root.path(), "half").unwrap().unwrap();
        assert_eq!(found, state);
        assert!(found.can_continue(2));
        let done = RunState {
            epochs_done: 6,
            ..state
        };
        assert!(!done.can_continue(6));
        assert!(done.can_continue(8));
        // A damaged state is an error that names the file, never a quiet "nothing to resume".
        std::fs::write(run_dir(root.path(), "early").join("state.json"), b"{").unwrap();
        let err = find_run(root.path(), "early").unwrap_err().to_string();
        assert!(err.contains("state.json"), "{err}");
    }

    #[test]
    fn variables_round_trip_and_a_short_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let varmap = VarMap::new();
        let a = varmap
            .get(
                (2, 3),
                "a",
                Init::Randn {
                    mean: 0.0,
                    stdev: 1.0,
                },
                DType::F32,
                &Device::Cpu,
            )
            .unwrap();
        let path = dir.path().join("last.safetensors");
        save_vars(&varmap, &path).unwrap();
        let saved = a.to_vec2::<f32>().unwrap();
        let vars = varmap.all_vars();
        vars[0]
            .set(&Tensor::zeros((2, 3), DType::F32, &Device::Cpu).unwrap())
            .unwrap();
        load_vars(&varmap, &path, &Device::Cpu).unwrap();
        assert_eq!(varmap.all_vars()[0].to_vec2::<f32>().unwrap(), saved);
        // No temporary file is left beside the checkpoint.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);

        let other = VarMap::new();
        other
            .get(4, "b", Init::Const(0.0), DType::F32, &Device::Cpu)
            .unwrap();
        let err = load_vars(&other, &path, &Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("lacks b") && err.contains("last.safetensors"),
            "{err}"
        );
    }
}

//! Classification metrics of equation (5) (paper §IV.B): per sample, with `Y` the true labels
//! and `Ŷ` the labels predicted with probability ≥ 0.5,
//! `IoU = |Y ∩ Ŷ| / |Y ∪ Ŷ|`, `precision = |Y ∩ Ŷ| / |Ŷ|`, `recall = |Y ∩ Ŷ| / |Y|`,
//! each averaged over the samples.
//!
//! Empty sets: a sample with no true and no predicted labels is perfect (1, 1, 1); nothing
//! predicted for a labelled sample gives precision 0 (a classifier cannot score by silence),
//! and predictions for an unlabelled sample give recall 1 and IoU 0.
//!
//! [`SystemMetrics`] is what a trained system keeps of the run that trained it: written by
//! [`train`](super::train) into the system's `system.json` and its row in the store, read
//! back with [`SystemMetrics::from_json`] (a store row) or [`SystemMetrics::from_value`] (the
//! `metrics` of a [`crate::model::system::SystemFile`]).

use super::{TrainConfig, TrainReport};
use crate::error::{Error, Result};
use crate::model::network::Classifier;
use serde::{Deserialize, Serialize};

/// The threshold on a predicted probability that puts a label in `Ŷ`.
pub const THRESHOLD: f32 = 0.5;

/// Equation (5)'s averages over a set of samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassifyMetrics {
    pub iou: f64,
    pub precision: f64,
    pub recall: f64,
    /// How many samples were averaged.
    pub samples: usize,
}

/// Accumulates [`ClassifyMetrics`] over batches.
#[derive(Debug, Clone, Default)]
pub struct MetricsAccumulator {
    iou: f64,
    precision: f64,
    recall: f64,
    samples: usize,
}

impl MetricsAccumulator {
    /// Adds one sample: its probabilities and 0/1 targets (same length).
    pub fn add(&mut self, probabilities: &[f32], targets: &[f32]) {
        let (mut inter, mut predicted, mut actual) = (0usize, 0usize, 0usize);
        for (&p, &y) in probabilities.iter().zip(targets) {
            let hat = p >= THRESHOLD;
            let truth = y >= 0.5;
            inter += usize::from(hat && truth);
            predicted += usize::from(hat);
            actual += usize::from(truth);
        }
        let union = predicted + actual - inter;
        let ratio = |num: usize, den: usize, empty: f64| {
            if den == 0 {
                empty
            } else {
                num as f64 / den as f64
            }
        };
        self.iou += ratio(inter, union, 1.0);
        self.precision += ratio(inter, predicted, if actual == 0 { 1.0 } else { 0.0 });
        self.recall += ratio(inter, actual, 1.0);
        self.samples += 1;
    }

    /// Adds a batch of rows.
    pub fn add_rows(&mut self, probabilities: &[Vec<f32>], targets: &[Vec<f32>]) {
        for (p, y) in probabilities.iter().zip(targets) {
            self.add(p, y);
        }
    }

    /// The averages so far (all zero with no samples).
    pub fn finish(&self) -> ClassifyMetrics {
        let n = self.samples.max(1) as f64;
        ClassifyMetrics {
            iou: self.iou / n,
            precision: self.precision / n,
            recall: self.recall / n,
            samples: self.samples,
        }
    }
}

/// Turns probabilities into what eq. (5) scores: unchanged for the multi-label head (a label
/// is predicted at p ≥ 0.5), the most probable label alone for a single-label one.
pub(super) fn as_predictions(classifier: Classifier, rows: &mut [Vec<f32>]) {
    if classifier != Classifier::SingleLabel {
        return;
    }
    for row in rows {
        let best = row
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i);
        for (i, v) in row.iter_mut().enumerate() {
            *v = if i == best { 1.0 } else { 0.0 };
        }
    }
}

/// What a trained system keeps of the run that trained it: the `metrics` object of
/// `DIR/systems/<name>/system.json`, also the `metrics_json` of its row in the store's
/// `systems` table. The field names are the JSON keys training has always written; the
/// fields an older or hand-written file may lack read as their defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemMetrics {
    /// The mode that trained (`head`, `partial` or `full`).
    pub mode: String,
    /// Epochs run (`TrainReport::epochs_run`).
    pub epochs: usize,
    /// The epoch whose weights were saved (0: none beat the untrained network).
    #[serde(default)]
    pub best_epoch: usize,
    /// Whether regular augmentation was on.
    #[serde(default)]
    pub augment: bool,
    /// The background augmentation, as [`BackgroundAug::describe`](super::BackgroundAug::describe)
    /// says it (`off`, `real`, `procedural` or a folder).
    #[serde(default)]
    pub background_aug: String,
    /// The run's seed.
    #[serde(default)]
    pub seed: u64,
    /// Eq. (5) of the saved weights on the validation split.
    pub validation: ClassifyMetrics,
    /// Eq. (5) of the saved weights on the test split.
    pub test: ClassifyMetrics,
    /// Training images per second.
    #[serde(default)]
    pub train_images_per_s: f64,
}

impl SystemMetrics {
    /// The metrics of a finished run.
    pub fn of_run(config: &TrainConfig, report: &TrainReport) -> SystemMetrics {
        SystemMetrics {
            mode: report.mode.clone(),
            epochs: report.epochs_run,
            best_epoch: report.best_epoch,
            augment: config.augment,
            background_aug: config.background.describe(),
            seed: config.seed,
            validation: report.validation,
            test: report.test,
            train_images_per_s: report.images_per_s,
        }
    }

    /// As JSON, the way a system's description and its row store it.
    pub fn to_value(&self) -> Result<serde_json::Value> {
        serde_json::to_value(self)
            .map_err(|e| Error::Invalid(format!("cannot describe the metrics: {e}")))
    }

    /// Metrics as stored: `Ok(None)` for none (`null` or `{}`, as a system row without
    /// metrics holds), an error for JSON that is not a run's metrics.
    pub fn from_value(value: &serde_json::Value) -> Result<Option<SystemMetrics>> {
        if value.is_null() || value.as_object().is_some_and(|o| o.is_empty()) {
            return Ok(None);
        }
        SystemMetrics::deserialize(value)
            .map(Some)
            .map_err(|e| Error::Invalid(format!("not the metrics of a training run: {e}")))
    }

    /// [`SystemMetrics::from_value`] of JSON text (a system row's `metrics_json`).
    pub fn from_json(text: &str) -> Result<Option<SystemMetrics>> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| Error::Invalid(format!("the metrics are not JSON: {e}")))?;
        SystemMetrics::from_value(&value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equation_5_on_hand_computed_samples() {
        let mut acc = MetricsAccumulator::default();
        // Y = {0, 2}, Ŷ = {0, 1}: ∩ 1, ∪ 3 → IoU 1/3, precision 1/2, recall 1/2.
        acc.add(&[0.9, 0.6, 0.2], &[1.0, 0.0, 1.0]);
        // Y = {1}, Ŷ = {1} (0.5 counts as predicted): perfect.
        acc.add(&[0.1, 0.5, 0.49], &[0.0, 1.0, 0.0]);
        let m = acc.finish();
        assert_eq!(m.samples, 2);
        assert!((m.iou - (1.0 / 3.0 + 1.0) / 2.0).abs() < 1e-12);
        assert!((m.precision - 0.75).abs() < 1e-12);
        assert!((m.recall - 0.75).abs() < 1e-12);
    }

    #[test]
    fn empty_sets_follow_the_documented_conventions() {
        let mut silent = MetricsAccumulator::default();
        silent.add(&[0.1, 0.2], &[1.0, 0.0]);
        let m = silent.finish();
        assert_eq!((m.iou, m.precision, m.recall), (0.0, 0.0, 0.0));
        let mut nothing = MetricsAccumulator::default();
        nothing.add(&[0.1, 0.2], &[0.0, 0.0]);
        let m = nothing.finish();
        assert_eq!((m.iou, m.precision, m.recall), (1.0, 1.0, 1.0));
        assert_eq!(MetricsAccumulator::default().finish().samples, 0);
    }

    /// Metrics as `train` has written them so far: the keys in the order serde_json's map
    /// writes them (sorted), the text byte for byte.
    const STORED: &str = "{\"augment\":true,\"background_aug\":\"procedural\",\"best_epoch\":2,\
        \"epochs\":3,\"mode\":\"head\",\"seed\":7,\"test\":{\"iou\":0.5,\"precision\":0.625,\
        \"recall\":0.75,\"samples\":3},\"train_images_per_s\":41.5,\"validation\":{\"iou\":0.25,\
        \"precision\":0.5,\"recall\":0.375,\"samples\":3}}";

    fn stored() -> SystemMetrics {
        SystemMetrics {
            mode: "head".into(),
            epochs: 3,
            best_epoch: 2,
            augment: true,
            background_aug: "procedural".into(),
            seed: 7,
            validation: ClassifyMetrics {
                iou: 0.25,
                precision: 0.5,
                recall: 0.375,
                samples: 3,
            },
            test: ClassifyMetrics {
                iou: 0.5,
                precision: 0.625,
                recall: 0.75,
                samples: 3,
            },
            train_images_per_s: 41.5,
        }
    }

    #[test]
    fn system_metrics_read_todays_format_and_write_it_unchanged() {
        let read = SystemMetrics::from_json(STORED).unwrap().unwrap();
        assert_eq!(read, stored());
        assert_eq!(read.to_value().unwrap().to_string(), STORED);
        // What `train` built by hand before the struct, from the same run.
        let config = TrainConfig {
            augment: true,
            background: super::super::BackgroundAug::Procedural,
            seed: 7,
            ..TrainConfig::default()
        };
        let m = stored();
        let report = TrainReport {
            system: "s".into(),
            mode: m.mode.clone(),
            epochs_run: m.epochs,
            best_epoch: m.best_epoch,
            stopped_early: false,
            resumed_from: None,
            labels: 4,
            train_items: 24,
            validation_items: 3,
            test_items: 3,
            validation: m.validation,
            test: m.test,
            images_per_s: m.train_images_per_s,
            elapsed_secs: 9.0,
            history: Vec::new(),
            cache: None,
        };
        let by_hand = serde_json::json!({
            "mode": report.mode,
            "epochs": report.epochs_run,
            "best_epoch": report.best_epoch,
            "augment": config.augment,
            "background_aug": config.background.describe(),
            "seed": config.seed,
            "validation": report.validation,
            "test": report.test,
            "train_images_per_s": report.images_per_s,
        });
        let of_run = SystemMetrics::of_run(&config, &report);
        assert_eq!(of_run, m);
        assert_eq!(of_run.to_value().unwrap(), by_hand);
    }

    #[test]
    fn system_metrics_round_trip_and_tolerate_missing_fields() {
        let m = stored();
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(SystemMetrics::from_json(&text).unwrap(), Some(m.clone()));
        assert_eq!(
            SystemMetrics::from_value(&m.to_value().unwrap()).unwrap(),
            Some(m)
        );
        // No metrics at all (a row's default), and a file with only the core keys.
        assert_eq!(SystemMetrics::from_json("{}").unwrap(), None);
        assert_eq!(SystemMetrics::from_json("null").unwrap(), None);
        let core = SystemMetrics::from_json(
            r#"{"mode":"full","epochs":1,"validation":{"iou":0.1,"precision":0.2,"recall":0.3,"samples":1},"test":{"iou":0.4,"precision":0.5,"recall":0.6,"samples":1}}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!((core.mode.as_str(), core.epochs), ("full", 1));
        assert_eq!((core.best_epoch, core.seed, core.augment), (0, 0, false));
        assert_eq!(core.background_aug, "");
        assert_eq!(core.test.recall, 0.6);
        // Free-form JSON that is not a run's metrics is an error, not a default.
        assert!(SystemMetrics::from_json(r#"{"iou":0.5}"#).is_err());
        assert!(SystemMetrics::from_json("not json").is_err());
    }
}

//! Classification metrics of equation (5) (paper §IV.B): per sample, with `Y` the true labels
//! and `Ŷ` the labels predicted with probability ≥ 0.5,
//! `IoU = |Y ∩ Ŷ| / |Y ∪ Ŷ|`, `precision = |Y ∩ Ŷ| / |Ŷ|`, `recall = |Y ∩ Ŷ| / |Y|`,
//! each averaged over the samples.
//!
//! Empty sets: a sample with no true and no predicted labels is perfect (1, 1, 1); nothing
//! predicted for a labelled sample gives precision 0 (a classifier cannot score by silence),
//! and predictions for an unlabelled sample give recall 1 and IoU 0.

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
}

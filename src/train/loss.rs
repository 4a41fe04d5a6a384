//! The training loss of the paper (§III), as ARCHITECTURE.md §5 reads equations (1)–(3).
//!
//! * (1) weighted binary cross-entropy over the label set C, per sample
//!   `L = −(1/|C|) Σ_i w_i [ y_i log ŷ_i + (1 − y_i) log(1 − ŷ_i) ]`, averaged over the batch;
//! * (2) label weights from training-set label frequencies `f_i`:
//!   `w_i = max_j f_j + 0.01 − f_i`, scaled to mean 1 so the loss keeps its scale whatever
//!   the label set;
//! * (3) `L' = L · (1 − F1) · (1 − IoU)`, with F1 and IoU computed on the batch from the
//!   continuous predictions ŷ (soft counts, not thresholded), so they are differentiable and
//!   the loss shrinks smoothly as the predictions settle.
//!
//! Everything here is candle tensor arithmetic, so gradients flow through all three factors.
//! The log-probabilities come from the logits (`log σ(z) = −softplus(−z)`), which stays finite
//! where `log(sigmoid(z))` would underflow to `log 0`.

use candle_core::{D, Result, Tensor};

/// Added to denominators of the soft F1 and IoU (a sample with no labels and no predictions).
const SOFT_EPS: f64 = 1e-6;

/// Equation (2): label weights from training-set frequencies `f_i` (fractions of training
/// items carrying label i), `w_i = max_j f_j + 0.01 − f_i`, then scaled to mean 1.
pub fn label_weights(frequencies: &[f32]) -> Vec<f32> {
    let max = frequencies.iter().copied().fold(0.0f32, f32::max);
    let raw: Vec<f32> = frequencies.iter().map(|f| max + 0.01 - f).collect();
    let mean = raw.iter().sum::<f32>() / raw.len().max(1) as f32;
    if mean > 0.0 {
        raw.iter().map(|w| w / mean).collect()
    } else {
        raw
    }
}

/// `softplus(x) = log(1 + eˣ)`, computed as `max(x, 0) + log(1 + e^{−|x|})` (no overflow).
fn softplus(x: &Tensor) -> Result<Tensor> {
    let tail = (x.abs()?.neg()?.exp()? + 1.0)?.log()?;
    x.relu()? + tail
}

/// Equation (1): the weighted binary cross-entropy, `N × L` logits and 0/1 targets, `L`
/// weights; a scalar (mean over samples of the per-sample loss).
pub fn weighted_bce(logits: &Tensor, targets: &Tensor, weights: &Tensor) -> Result<Tensor> {
    // y·log σ(z) + (1 − y)·log(1 − σ(z)) = −[y·softplus(−z) + (1 − y)·softplus(z)]
    let pos = softplus(&logits.neg()?)?;
    let neg = softplus(logits)?;
    let one_minus_y = targets.affine(-1.0, 1.0)?;
    let per_label = ((targets * pos)? + (one_minus_y * neg)?)?;
    let weighted = per_label.broadcast_mul(&weights.unsqueeze(0)?)?;
    weighted.mean(D::Minus1)?.mean_all()
}

/// The soft F1 and IoU of a batch: per sample, `TP = Σ ŷ·y`, `F1 = 2TP / (Σŷ + Σy)`,
/// `IoU = TP / (Σŷ + Σy − TP)`, averaged over the samples (as eq. 5 averages). Scalars.
pub fn soft_f1_iou(probabilities: &Tensor, targets: &Tensor) -> Result<(Tensor, Tensor)> {
    let tp = (probabilities * targets)?.sum(D::Minus1)?;
    let predicted = probabilities.sum(D::Minus1)?;
    let actual = targets.sum(D::Minus1)?;
    let total = (predicted + actual)?;
    let f1 = ((&tp * 2.0)? / (&total + SOFT_EPS)?)?.mean_all()?;
    let iou = (&tp / ((total - &tp)? + SOFT_EPS)?)?.mean_all()?;
    Ok((f1, iou))
}

/// The parts of the loss, for reporting.
#[derive(Debug, Clone)]
pub struct LossParts {
    /// Equation (3), the value to minimise (a scalar tensor with its graph).
    pub loss: Tensor,
    /// Equation (1) alone.
    pub bce: f32,
    /// The batch's soft F1 and IoU.
    pub soft_f1: f32,
    pub soft_iou: f32,
}

/// Equation (3): `L' = L · (1 − F1) · (1 − IoU)` on logits, 0/1 targets and label weights.
pub fn paper_loss(logits: &Tensor, targets: &Tensor, weights: &Tensor) -> Result<LossParts> {
    let bce = weighted_bce(logits, targets, weights)?;
    let probabilities = candle_nn::ops::sigmoid(logits)?;
    let (f1, iou) = soft_f1_iou(&probabilities, targets)?;
    let loss = ((&bce * f1.affine(-1.0, 1.0)?)? * iou.affine(-1.0, 1.0)?)?;
    Ok(LossParts {
        bce: bce.to_scalar::<f32>()?,
        soft_f1: f1.to_scalar::<f32>()?,
        soft_iou: iou.to_scalar::<f32>()?,
        loss,
    })
}

/// For catalogues where every item has exactly one label (a category) the labels compete,
/// and the standard loss is the cross-entropy of a softmax over them. With label smoothing
/// `ε` the target puts `1 − ε` on the item's label and spreads `ε` over all `L` labels, which
/// keeps the logits from growing without bound (and the embedding from collapsing onto the
/// training items). The soft F1 and IoU are reported as for eq. (3); `bce` holds the
/// cross-entropy.
pub fn softmax_loss(logits: &Tensor, targets: &Tensor, smoothing: f64) -> Result<LossParts> {
    let labels = logits.dim(D::Minus1)?;
    let log_probs = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let smoothed = targets.affine(1.0 - smoothing, smoothing / labels.max(1) as f64)?;
    let loss = (smoothed * &log_probs)?.sum(D::Minus1)?.neg()?.mean_all()?;
    let (f1, iou) = soft_f1_iou(&log_probs.exp()?, targets)?;
    Ok(LossParts {
        bce: loss.to_scalar::<f32>()?,
        soft_f1: f1.to_scalar::<f32>()?,
        soft_iou: iou.to_scalar::<f32>()?,
        loss,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn t(rows: &[&[f32]]) -> Tensor {
        let n = rows.len();
        let l = rows[0].len();
        let flat: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        Tensor::from_vec(flat, (n, l), &Device::Cpu).unwrap()
    }

    fn scalar(x: &Tensor) -> f32 {
        x.to_scalar::<f32>().unwrap()
    }

    fn sigmoid(z: f32) -> f32 {
        1.0 / (1.0 + (-z).exp())
    }

    #[test]
    fn softmax_loss_is_the_smoothed_cross_entropy() {
        // Logits (0, ln 3): probabilities 1/4, 3/4; target the second label, ε = 0.1:
        // smoothed target (0.05, 0.95), loss = −(0.05 ln ¼ + 0.95 ln ¾).
        let logits = t(&[&[0.0, 3f32.ln()]]);
        let targets = t(&[&[0.0, 1.0]]);
        let parts = softmax_loss(&logits, &targets, 0.1).unwrap();
        let want = -(0.05 * 0.25f32.ln() + 0.95 * 0.75f32.ln());
        assert!((scalar(&parts.loss) - want).abs() < 1e-5);
        // Without smoothing, a confident right answer costs almost nothing.
        let sure = softmax_loss(&t(&[&[-10.0, 10.0]]), &targets, 0.0).unwrap();
        assert!(scalar(&sure.loss) < 1e-6);
    }

    #[test]
    fn label_weights_follow_equation_2_and_have_mean_one() {
        // f = (0.5, 0.1, 0.0): raw w = (0.01, 0.41, 0.51), mean 0.31.
        let w = label_weights(&[0.5, 0.1, 0.0]);
        let expected = [0.01 / 0.31, 0.41 / 0.31, 0.51 / 0.31];
        for (a, b) in w.iter().zip(expected) {
            assert!((a - b).abs() < 1e-5, "{w:?}");
        }
        assert!(w[2] > w[1] && w[1] > w[0], "rare labels weigh most");
        assert!((w.iter().sum::<f32>() / 3.0 - 1.0).abs() < 1e-5);
    }

    #[test]
    fn weighted_bce_matches_a_hand_computation() {
        let z = t(&[&[0.0, 2.0], &[-1.0, 3.0]]);
        let y = t(&[&[1.0, 0.0], &[0.0, 1.0]]);
        let w = Tensor::new(&[1.0f32, 3.0], &Device::Cpu).unwrap();
        let bce = |z: f32, y: f32| -(y * sigmoid(z).ln() + (1.0 - y) * (1.0 - sigmoid(z)).ln());
        let s1 = (1.0 * bce(0.0, 1.0) + 3.0 * bce(2.0, 0.0)) / 2.0;
        let s2 = (1.0 * bce(-1.0, 0.0) + 3.0 * bce(3.0, 1.0)) / 2.0;
        let got = scalar(&weighted_bce(&z, &y, &w).unwrap());
        assert!((got - (s1 + s2) / 2.0).abs() < 1e-5, "{got}");
        // Extreme logits stay finite.
        let big = t(&[&[100.0, -100.0]]);
        let y = t(&[&[0.0, 1.0]]);
        let w = Tensor::new(&[1.0f32, 1.0], &Device::Cpu).unwrap();
        let got = scalar(&weighted_bce(&big, &y, &w).unwrap());
        assert!((got - 100.0).abs() < 1e-3, "{got}");
    }

    #[test]
    fn soft_f1_and_iou_match_a_hand_computation() {
        let p = t(&[&[0.8, 0.5, 0.0], &[1.0, 0.0, 0.0]]);
        let y = t(&[&[1.0, 0.0, 1.0], &[1.0, 0.0, 0.0]]);
        // Sample 1: TP 0.8, Σp 1.3, Σy 2 → F1 1.6/3.3, IoU 0.8/2.5. Sample 2: perfect.
        let (f1, iou) = soft_f1_iou(&p, &y).unwrap();
        assert!((scalar(&f1) - (1.6 / 3.3 + 1.0) / 2.0).abs() < 1e-5);
        assert!((scalar(&iou) - (0.8 / 2.5 + 1.0) / 2.0).abs() < 1e-5);
    }

    #[test]
    fn equation_3_multiplies_the_three_factors() {
        let z = t(&[&[0.5, -0.5, 1.5]]);
        let y = t(&[&[1.0, 0.0, 0.0]]);
        let w = Tensor::new(&[1.0f32, 1.0, 1.0], &Device::Cpu).unwrap();
        let parts = paper_loss(&z, &y, &w).unwrap();
        let expected = parts.bce * (1.0 - parts.soft_f1) * (1.0 - parts.soft_iou);
        assert!((scalar(&parts.loss) - expected).abs() < 1e-6);
        // Soft F1 here by hand: p = σ(z); TP = p0; F1 = 2 p0 / (Σp + 1).
        let p: Vec<f32> = [0.5f32, -0.5, 1.5].iter().map(|&v| sigmoid(v)).collect();
        let f1 = 2.0 * p[0] / (p.iter().sum::<f32>() + 1.0);
        assert!((parts.soft_f1 - f1).abs() < 1e-5);
    }

    #[test]
    fn gradients_flow_through_the_f1_and_iou_factors() {
        // With L fixed, d/dp of (1 − F1)(1 − IoU) must be what autograd gives for the loss:
        // compare autograd against central finite differences of the whole eq. (3).
        let z0 = [0.3f32, -1.2, 0.7, 2.0];
        let y = t(&[&[1.0, 0.0, 1.0, 0.0]]);
        let w = Tensor::new(&[0.5f32, 1.5, 1.0, 1.0], &Device::Cpu).unwrap();
        let var = Var::from_tensor(&t(&[&z0])).unwrap();
        let loss = paper_loss(var.as_tensor(), &y, &w).unwrap().loss;
        let grads = loss.backward().unwrap();
        let g = grads
            .get(var.as_tensor())
            .unwrap()
            .to_vec2::<f32>()
            .unwrap()[0]
            .clone();
        let value = |z: &[f32]| scalar(&paper_loss(&t(&[z]), &y, &w).unwrap().loss);
        let h = 1e-2f32;
        for i in 0..z0.len() {
            let (mut up, mut down) = (z0, z0);
            up[i] += h;
            down[i] -= h;
            let numeric = (value(&up) - value(&down)) / (2.0 * h);
            assert!(
                (numeric - g[i]).abs() < 2e-3,
                "label {i}: {numeric} vs {}",
                g[i]
            );
        }
        // And the gradient is not that of the BCE alone: the F1 and IoU factors matter.
        let var2 = Var::from_tensor(&t(&[&z0])).unwrap();
        let bce_only = weighted_bce(var2.as_tensor(), &y, &w).unwrap();
        let g2 = bce_only.backward().unwrap();
        let g2 = g2.get(var2.as_tensor()).unwrap().to_vec2::<f32>().unwrap()[0].clone();
        let scale = {
            let p = paper_loss(&t(&[&z0]), &y, &w).unwrap();
            (1.0 - p.soft_f1) * (1.0 - p.soft_iou)
        };
        let differs = g.iter().zip(&g2).any(|(a, b)| (a - b * scale).abs() > 1e-4);
        assert!(differs, "{g:?} vs {g2:?} × {scale}");
    }
}

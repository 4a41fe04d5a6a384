//! The personaliser network (paper §III, §IV.C): an MLP from a cart vector (eq. (4),
//! normalised) to the embedding of the item the user buys next; recommendations are the
//! items nearest its output by cosine.
//!
//! Shape: `out = normalise(c + W₂ · dropout(relu(W₁ c + b₁)) + b₂)`. The residual connection
//! and a zero-initialised `W₂` make the untrained network exactly the cart mean, so training
//! learns a *correction* to it (what people who bought this tend to buy next) and early
//! stopping can never leave it worse than the cart mean on the validation users.
//!
//! Training ([`train`], a job): leave-last-out histories. Every prefix of a training user's
//! purchases predicts their next purchase (and, with `leave_one_out`, every purchase is
//! also predicted from the rest of the cart); validation and test users' last purchases are
//! never seen; the loss is the softmax cross-entropy of the
//! output's cosine similarities to every catalogue item (temperature τ), so the network is
//! taught to *rank* the next item first, which is what Recall@K measures. AdamW; after every
//! epoch the validation users' held-out last items are ranked and the epoch with the best
//! mean Recall@1…50 is kept; training stops when it has not improved for `patience` epochs.
//!
//! The network is bound to a system: it is saved as `DIR/index/<system>.personaliser.safetensors`
//! with the system's fingerprint, the split seed and a hash of the ratings in its metadata,
//! and a personaliser of another version of the system is refused with the command to run.

use super::Histories;
use super::UserSplit;
use super::baselines::{Recommender, content_scores};
use super::cart::{CartEntry, cart_vector, normalized};
use super::eval::{MAX_K, rank_of};
use crate::error::{Error, Result};
use crate::index::EmbeddingIndex;
use crate::jobs::JobContext;
use crate::model::weights::write_safetensors;
use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Init, Linear, Module, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The `format` in a personaliser file's metadata.
pub const FILE_FORMAT: &str = "vitrine-personaliser/1";

/// Where the personaliser of `system` lives in the library at `root`: beside its index.
pub fn personaliser_path(root: &Path, system: &str) -> PathBuf {
    root.join("index")
        .join(format!("{system}.personaliser.safetensors"))
}

/// How [`train`] runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainOptions {
    /// The most epochs.
    pub epochs: usize,
    /// Splits users and shuffles examples.
    pub seed: u64,
    pub hidden: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub dropout: f32,
    /// τ of the softmax over cosine similarities.
    pub temperature: f64,
    /// Stop after this many epochs without a better validation score.
    pub patience: usize,
    /// Also teach each training purchase from the rest of its cart: 5–7 purchases say more
    /// by what goes together than by their order.
    pub leave_one_out: bool,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            epochs: 40,
            seed: 0,
            hidden: 256,
            batch_size: 64,
            learning_rate: 3e-4,
            weight_decay: 1e-2,
            dropout: 0.5,
            temperature: 0.1,
            patience: 10,
            leave_one_out: true,
        }
    }
}

/// One epoch of training.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpochStats {
    pub epoch: usize,
    pub loss: f64,
    /// Mean Recall@1…50 on the validation users.
    pub validation_score: f64,
    pub validation_recall10: f64,
}

/// What [`train`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainReport {
    pub system: String,
    pub path: PathBuf,
    pub train_examples: usize,
    pub train_users: usize,
    pub validation_users: usize,
    pub test_users: usize,
    /// Epoch 0 is the untrained network (the cart mean).
    pub best_epoch: usize,
    pub best_validation_recall10: f64,
    pub epochs: Vec<EpochStats>,
}

/// What a saved personaliser records about itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonaliserMeta {
    pub system: String,
    pub fingerprint: String,
    pub dim: usize,
    pub hidden: usize,
    pub seed: u64,
    pub data_hash: u64,
    pub best_epoch: usize,
    pub validation_recall10: f64,
}

/// A trained personaliser, ready to predict on the CPU.
#[derive(Debug)]
pub struct Personaliser {
    first: Linear,
    second: Linear,
    pub meta: PersonaliserMeta,
}

struct Layers {
    first: Linear,
    second: Linear,
}

impl Layers {
    fn new(vb: VarBuilder, dim: usize, hidden: usize) -> candle_core::Result<Layers> {
        let first = candle_nn::linear(dim, hidden, vb.pp("hidden"))?;
        // Zero: the untrained network is the cart mean (see the module docs).
        let w = vb
            .pp("out")
            .get_with_hints((dim, hidden), "weight", Init::Const(0.0))?;
        let b = vb.pp("out").get_with_hints(dim, "bias", Init::Const(0.0))?;
        Ok(Layers {
            first,
            second: Linear::new(w, Some(b)),
        })
    }

    /// `x`: B × dim unit cart vectors → B × dim unit predictions. `dropout` is a B × hidden
    /// mask of 0 and 1/(1−p) while training (drawn from the seeded generator, so a seed
    /// gives the same network every time).
    fn forward(&self, x: &Tensor, dropout: Option<&Tensor>) -> candle_core::Result<Tensor> {
        let mut h = self.first.forward(x)?.relu()?;
        if let Some(mask) = dropout {
            h = (h * mask)?;
        }
        let out = (x + self.second.forward(&h)?)?;
        let norm = out.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        out.broadcast_div(&norm)
    }
}

impl Personaliser {
    /// The prediction for one unit cart vector: a unit vector in the embedding space.
    pub fn predict(&self, cart: &[f32]) -> Result<Vec<f32>> {
        if cart.len() != self.meta.dim {
            return Err(Error::Invalid(format!(
                "a cart vector of width {} for a personaliser of width {}",
                cart.len(),
                self.meta.dim
            )));
        }
        let x = Tensor::from_slice(cart, (1, cart.len()), &Device::Cpu)?;
        let layers = Layers {
            first: self.first.clone(),
            second: self.second.clone(),
        };
        Ok(layers.forward(&x, None)?.flatten_all()?.to_vec1::<f32>()?)
    }

    /// Writes the network and its metadata atomically to `path`.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut tensors = vec![
            ("hidden.weight".to_string(), self.first.weight().clone()),
            ("out.weight".to_string(), self.second.weight().clone()),
        ];
        if let Some(b) = self.first.bias() {
            tensors.push(("hidden.bias".into(), b.clone()));
        }
        if let Some(b) = self.second.bias() {
            tensors.push(("out.bias".into(), b.clone()));
        }
        let m = &self.meta;
        let metadata: BTreeMap<String, String> = [
            ("format", FILE_FORMAT.to_string()),
            ("system", m.system.clone()),
            ("fingerprint", m.fingerprint.clone()),
            ("dim", m.dim.to_string()),
            ("hidden", m.hidden.to_string()),
            ("seed", m.seed.to_string()),
            ("data_hash", m.data_hash.to_string()),
            ("best_epoch", m.best_epoch.to_string()),
            ("validation_recall10", m.validation_recall10.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        write_safetensors(&tensors, &metadata, path)?;
        Ok(())
    }

    /// Loads the personaliser at `path`, refusing one made for another version of the
    /// system (`fingerprint`) with the command that makes a new one.
    pub fn load(path: &Path, system: &str, fingerprint: &str) -> Result<Personaliser> {
        let data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let (_, header) = safetensors::SafeTensors::read_metadata(&data)
            .map_err(|e| Error::file(path, format!("not a readable safetensors file: {e}")))?;
        let meta = header.metadata().clone().unwrap_or_default();
        let get = |key: &str| -> Result<&String> {
            meta.get(key).ok_or_else(|| {
                Error::file(
                    path,
                    format!("not a personaliser file: no {key:?} in its metadata"),
                )
            })
        };
        let number = |key: &str| -> Result<u64> {
            get(key)?
                .parse()
                .map_err(|_| Error::file(path, format!("the metadata {key:?} is not a number")))
        };
        if get("format")? != FILE_FORMAT {
            return Err(Error::file(
                path,
                format!(
                    "a personaliser of format {:?}, not {FILE_FORMAT:?}",
                    get("format")?
                ),
            ));
        }
        if get("fingerprint")? != fingerprint {
            return Err(Error::file(
                path,
                format!(
                    "trained for another version of the system {system}; run \
                     `vitrine personalize train --system {system}`"
                ),
            ));
        }
        let meta = PersonaliserMeta {
            system: get("system")?.clone(),
            fingerprint: fingerprint.to_owned(),
            dim: number("dim")? as usize,
            hidden: number("hidden")? as usize,
            seed: number("seed")?,
            data_hash: number("data_hash")?,
            best_epoch: number("best_epoch")? as usize,
            validation_recall10: get("validation_recall10")?.parse().unwrap_or(0.0),
        };
        let tensors = candle_core::safetensors::load_buffer(&data, &Device::Cpu)
            .map_err(|e| Error::file(path, format!("not a readable safetensors file: {e}")))?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
        let layers = Layers::new(vb, meta.dim, meta.hidden)
            .map_err(|e| Error::file(path, format!("does not fit its metadata: {e}")))?;
        Ok(Personaliser {
            first: layers.first,
            second: layers.second,
            meta,
        })
    }

    /// This network as a [`Recommender`] over `index`.
    pub fn recommender<'a>(&'a self, index: &'a EmbeddingIndex) -> PersonaliserRecommender<'a> {
        PersonaliserRecommender { net: self, index }
    }
}

/// The personaliser ranking an index.
pub struct PersonaliserRecommender<'a> {
    net: &'a Personaliser,
    index: &'a EmbeddingIndex,
}

impl Recommender for PersonaliserRecommender<'_> {
    fn name(&self) -> &'static str {
        "personaliser"
    }
    fn scores(&self, cart: &[CartEntry]) -> Result<Vec<f32>> {
        let query = normalized(cart_vector(&self.index.matrix, self.index.dim, cart)?);
        content_scores(self.index, &self.net.predict(&query)?)
    }
}

/// The unit cart vector of each prefix `cart[..j]` (j ≥ 1) with its next item `cart[j]`.
fn prefixes(index: &EmbeddingIndex, cart: &[CartEntry]) -> Result<Vec<(Vec<f32>, usize)>> {
    (1..cart.len())
        .map(|j| {
            Ok((
                normalized(cart_vector(&index.matrix, index.dim, &cart[..j])?),
                cart[j].row,
            ))
        })
        .collect()
}

/// The unit cart vector of the rest of the cart for each purchase (carts of two or more).
fn leave_one_out(index: &EmbeddingIndex, cart: &[CartEntry]) -> Result<Vec<(Vec<f32>, usize)>> {
    if cart.len() < 3 {
        return Ok(Vec::new());
    }
    // The last purchase from all the others is already a prefix example.
    (0..cart.len() - 1)
        .map(|j| {
            let rest: Vec<CartEntry> = cart
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != j)
                .map(|(_, &e)| e)
                .collect();
            Ok((
                normalized(cart_vector(&index.matrix, index.dim, &rest)?),
                cart[j].row,
            ))
        })
        .collect()
}

/// Trains a personaliser for the system whose embeddings `index` holds (see the module docs).
/// `fingerprint` is the system's; the result is not saved (see [`Personaliser::save`]).
pub fn train(
    index: &EmbeddingIndex,
    fingerprint: &str,
    histories: &Histories,
    options: &TrainOptions,
    ctx: &JobContext,
) -> Result<(Personaliser, TrainReport)> {
    let split = UserSplit::by_seed(histories, options.seed);
    let (dim, n) = (index.dim, index.len());
    if n == 0 {
        return Err(Error::Invalid(format!(
            "the index of {} is empty",
            index.system
        )));
    }
    let mut inputs: Vec<f32> = Vec::new();
    let mut targets: Vec<u32> = Vec::new();
    for &u in &split.train {
        let cart = &histories.users[u].cart;
        let mut examples = prefixes(index, cart)?;
        if options.leave_one_out {
            examples.extend(leave_one_out(index, cart)?);
        }
        for (x, next) in examples {
            inputs.extend(x);
            targets.push(next as u32);
        }
    }
    let examples = targets.len();
    if examples == 0 || split.validation.is_empty() {
        return Err(Error::Invalid(format!(
            "too few purchase histories to train a personaliser: {} users with two or more \
             purchases of indexed items (at least 3 are needed)",
            split.train.len() + split.validation.len() + split.test.len()
        )));
    }
    let device = Device::Cpu;
    let inputs = Tensor::from_vec(inputs, (examples, dim), &device)?;
    let targets = Tensor::from_vec(targets, examples, &device)?;
    let catalogue_t = Tensor::from_slice(&index.matrix.to_f32(), (n, dim), &device)?.t()?;
    let validation: Vec<(Vec<f32>, usize, Vec<usize>)> = split
        .validation
        .iter()
        .map(|&u| {
            let cart = &histories.users[u].cart;
            let (history, last) = cart.split_at(cart.len() - 1);
            let x = normalized(cart_vector(&index.matrix, dim, history)?);
            Ok((x, last[0].row, history.iter().map(|e| e.row).collect()))
        })
        .collect::<Result<_>>()?;
    let val_x: Vec<f32> = validation
        .iter()
        .flat_map(|v| v.0.iter().copied())
        .collect();
    let val_x = Tensor::from_vec(val_x, (validation.len(), dim), &device)?;

    let mut varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
    let layers = Layers::new(vb, dim, options.hidden)?;
    // Candle's CPU generator cannot be seeded: the first layer starts from ours (the same
    // uniform ±1/√dim as candle's linear layers); the output layer starts at zero.
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed.wrapping_add(1));
    let bound = 1.0 / (dim as f32).sqrt();
    let mut uniform =
        |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-bound..bound)).collect() };
    let hidden = options.hidden;
    varmap.set_one(
        "hidden.weight",
        Tensor::from_vec(uniform(hidden * dim), (hidden, dim), &device)?,
    )?;
    varmap.set_one(
        "hidden.bias",
        Tensor::from_vec(uniform(hidden), hidden, &device)?,
    )?;
    let mut optimizer = AdamW::new(
        varmap.all_vars(),
        ParamsAdamW {
            lr: options.learning_rate,
            weight_decay: options.weight_decay,
            ..ParamsAdamW::default()
        },
    )?;
    let validate = |layers: &Layers| -> Result<(f64, f64)> {
        let out = layers.forward(&val_x, None)?;
        let scores = out.matmul(&catalogue_t)?.to_vec2::<f32>()?;
        let ranks: Vec<usize> = scores
            .iter()
            .zip(&validation)
            .map(|(s, (_, target, exclude))| rank_of(s, *target, exclude))
            .collect();
        let m = super::eval::MethodMetrics::from_ranks("personaliser", &ranks);
        let mean = m.recall_at.iter().sum::<f64>() / MAX_K as f64;
        Ok((mean, m.recall(10)))
    };
    let snapshot = |varmap: &VarMap| -> Result<HashMap<String, Tensor>> {
        let vars = varmap
            .data()
            .lock()
            .map_err(|_| Error::Model("the variable map is poisoned".into()))?;
        vars.iter()
            .map(|(k, v)| Ok((k.clone(), v.as_tensor().copy()?)))
            .collect()
    };

    let (score0, recall0) = validate(&layers)?;
    let mut epochs = vec![EpochStats {
        epoch: 0,
        loss: f64::NAN,
        validation_score: score0,
        validation_recall10: recall0,
    }];
    let (mut best_epoch, mut best_score, mut best_recall) = (0usize, score0, recall0);
    let mut best = snapshot(&varmap)?;
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed.wrapping_add(2));
    let mut order: Vec<u32> = (0..examples as u32).collect();
    let keep = 1.0 - options.dropout.clamp(0.0, 0.95);
    let batch = options.batch_size.max(1);
    let inv_temperature = 1.0 / options.temperature.max(1e-4);
    for epoch in 1..=options.epochs {
        order.shuffle(&mut rng);
        let (mut loss_sum, mut batches) = (0f64, 0usize);
        for chunk in order.chunks(batch) {
            ctx.check_cancelled()?;
            let idx = Tensor::from_slice(chunk, chunk.len(), &device)?;
            let x = inputs.index_select(&idx, 0)?;
            let y = targets.index_select(&idx, 0)?;
            let mask: Vec<f32> = (0..chunk.len() * hidden)
                .map(|_| {
                    if rng.random::<f32>() < keep {
                        1.0 / keep
                    } else {
                        0.0
                    }
                })
                .collect();
            let mask = Tensor::from_vec(mask, (chunk.len(), hidden), &device)?;
            let out = layers.forward(&x, Some(&mask))?;
            let logits = (out.matmul(&catalogue_t)? * inv_temperature)?;
            let loss = candle_nn::loss::cross_entropy(&logits, &y)?;
            optimizer.backward_step(&loss)?;
            loss_sum += f64::from(loss.to_scalar::<f32>()?);
            batches += 1;
        }
        let (score, recall10) = validate(&layers)?;
        let loss = loss_sum / batches.max(1) as f64;
        epochs.push(EpochStats {
            epoch,
            loss,
            validation_score: score,
            validation_recall10: recall10,
        });
        ctx.progress(
            epoch as u64,
            options.epochs as u64,
            &format!("epoch {epoch}: loss {loss:.3}, validation recall@10 {recall10:.3}"),
        );
        if score > best_score {
            (best_epoch, best_score, best_recall) = (epoch, score, recall10);
            best = snapshot(&varmap)?;
        } else if epoch - best_epoch >= options.patience {
            break;
        }
    }
    let vb = VarBuilder::from_tensors(best, DType::F32, &device);
    let layers = Layers::new(vb, dim, options.hidden)?;
    let meta = PersonaliserMeta {
        system: index.system.clone(),
        fingerprint: fingerprint.to_owned(),
        dim,
        hidden: options.hidden,
        seed: options.seed,
        data_hash: histories.data_hash,
        best_epoch,
        validation_recall10: best_recall,
    };
    let report = TrainReport {
        system: index.system.clone(),
        path: PathBuf::new(),
        train_examples: examples,
        train_users: split.train.len(),
        validation_users: split.validation.len(),
        test_users: split.test.len(),
        best_epoch,
        best_validation_recall10: best_recall,
        epochs,
    };
    Ok((
        Personaliser {
            first: layers.first,
            second: layers.second,
            meta,
        },
        report,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::personalize::UserHistory;

    /// 40 items on 4 well-apart directions in 8-D; every user buys one item of group g, then
    /// g+1, g+2, g+3 (mod 4): the next purchase is always of the *next* group, which the cart
    /// mean (nearest to the groups already bought) ranks last.
    fn toy() -> (EmbeddingIndex, Histories) {
        let dim = 8;
        let mut index = EmbeddingIndex::empty("toy", "fp", dim);
        for i in 0..40usize {
            let mut v = vec![0.05f32; dim];
            v[i % 4] = 1.0;
            v[4 + (i / 4) % 4] += 0.3;
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            let unit: Vec<f32> = v.iter().map(|x| x / n).collect();
            index.matrix.extend_from_f32(&unit);
            index.ids.push(i as i64);
        }
        let users = (0..80usize)
            .map(|u| {
                let g = u % 4;
                let cart: Vec<CartEntry> = (0..4)
                    .map(|k| CartEntry {
                        row: (g + k) % 4 + 4 * ((u / 4 + 3 * k) % 10),
                        stars: 4.0,
                    })
                    .collect();
                UserHistory {
                    user_id: u as i64,
                    key: format!("u{u}"),
                    cart,
                }
            })
            .collect();
        (
            index,
            Histories {
                users,
                unindexed_ratings: 0,
                data_hash: 42,
            },
        )
    }

    #[test]
    fn untrained_it_is_the_cart_mean_and_training_learns_what_comes_next() {
        let (index, histories) = toy();
        let options = TrainOptions {
            epochs: 30,
            hidden: 32,
            batch_size: 16,
            learning_rate: 5e-3,
            leave_one_out: false,
            patience: 30,
            ..TrainOptions::default()
        };
        let (net, report) =
            train(&index, "fp", &histories, &options, &JobContext::silent()).unwrap();
        let untrained = &report.epochs[0];
        assert!(report.best_epoch > 0, "{report:?}");
        assert!(
            report.best_validation_recall10 > untrained.validation_recall10,
            "{report:?}"
        );
        // Save, reload, same prediction; another fingerprint is refused.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.safetensors");
        net.save(&path).unwrap();
        let again = Personaliser::load(&path, "toy", "fp").unwrap();
        let q = normalized(index.row(0).to_vec());
        assert_eq!(net.predict(&q).unwrap(), again.predict(&q).unwrap());
        assert_eq!(again.meta, net.meta);
        // The same seed trains the same network.
        let (twin, _) = train(&index, "fp", &histories, &options, &JobContext::silent()).unwrap();
        assert_eq!(net.predict(&q).unwrap(), twin.predict(&q).unwrap());
        let err = Personaliser::load(&path, "toy", "other")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("vitrine personalize train --system toy"),
            "{err}"
        );
    }

    #[test]
    fn zero_output_layer_means_the_cart_mean() {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let layers = Layers::new(vb, 4, 8).unwrap();
        let x = Tensor::new(&[[0.6f32, 0.8, 0.0, 0.0]], &Device::Cpu).unwrap();
        let out = layers.forward(&x, None).unwrap().to_vec2::<f32>().unwrap();
        for (a, b) in out[0].iter().zip([0.6, 0.8, 0.0, 0.0]) {
            assert!((a - b).abs() < 1e-6);
        }
    }
}

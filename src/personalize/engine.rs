//! What the CLI and the GUI call: a system's items, embeddings, users and personaliser in
//! one place ([`PersonalizeEngine`]), per-group recommendations for a cart, a user's re-ranking
//! of a visual search, and the train and evaluate jobs.
//!
//! Opening brings the system's index up to date first ([`Searcher::open_fresh`]: only new
//! and changed images are embedded), so `personalize` never fails for want of
//! `vitrine index`; the progress shows while it runs.

use super::baselines::{
    Als, AlsOptions, CartMean, ItemKnn, Popularity, Recommender, content_scores,
};
use super::cart::{CartEntry, cart_vector, normalized};
use super::ceiling::{self, Ceiling};
use super::eval::{EvalReport, evaluate};
use super::ksplits::{KSplitsOptions, cart_neighbours, split_cart, typical_neighbour_distance};
use super::personaliser::{self, Personaliser, TrainOptions, TrainReport, personaliser_path};
use super::{Histories, UserHistory, UserSplit};
use crate::catalog::{ItemId, Label, LabelGroup};
use crate::error::{Error, Result};
use crate::jobs::JobContext;
use crate::library::Library;
use crate::search::{QueryResult, RankedItem, Searcher};
use candle_core::Device;
use serde::Serialize;
use std::path::Path;

/// Catalogue rows sampled to measure the typical distance between neighbouring items.
const FLOOR_SAMPLE: usize = 256;

/// A system ready to personalise: its searcher (items, index), every user's history, its
/// personaliser if one is saved, and the K-Splits noise floor of its embedding space.
pub struct PersonalizeEngine {
    pub searcher: Searcher,
    pub histories: Histories,
    pub personaliser: Option<Personaliser>,
    pub ksplits: KSplitsOptions,
}

/// One K-Splits group of a cart and what to recommend for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupRecommendation {
    /// The cart's items in this group.
    pub items: Vec<ItemId>,
    pub results: Vec<RankedItem>,
}

impl PersonalizeEngine {
    /// Indexes the catalogue with `system` where needed, then loads everything. A saved
    /// personaliser of another version of the system is an error naming the command to run.
    pub fn open(
        root: &Path,
        system: &str,
        device: &Device,
        ctx: &JobContext,
    ) -> Result<PersonalizeEngine> {
        let lib = Library::open(root)?;
        let searcher = Searcher::open_fresh(&lib, system, device, ctx)?;
        ctx.progress(0, 0, "reading users and ratings");
        let histories = Histories::load(&lib.store, searcher.index())?;
        let path = personaliser_path(root, system);
        let personaliser = if path.exists() {
            Some(Personaliser::load(
                &path,
                system,
                searcher.system().fingerprint(),
            )?)
        } else {
            None
        };
        // Carts split by shared catalogue neighbourhoods (see ksplits); the noise floor only
        // serves the divisive fallback: twice the typical squared distance between nearest
        // neighbours, as two items that close are one kind of thing. Measured on the
        // 2,000-item demo with imagenet-lite0, nearest neighbours lie 0.12 apart, items of one
        // subtype 0.53, of one category 0.95 and of different categories 1.24.
        let noise_floor = 2.0 * typical_neighbour_distance(searcher.index(), FLOOR_SAMPLE);
        let neighbours = cart_neighbours(searcher.index().len());
        Ok(PersonalizeEngine {
            searcher,
            histories,
            personaliser,
            ksplits: KSplitsOptions {
                noise_floor,
                neighbours,
                ..KSplitsOptions::default()
            },
        })
    }

    /// A user by database id or key, or an error listing how to find one.
    pub fn user(&self, id_or_key: &str) -> Result<&UserHistory> {
        self.histories.find(id_or_key).ok_or_else(|| {
            Error::Invalid(format!(
                "no user {id_or_key:?} with rated items in this library ({} users; ids and \
                 keys such as {})",
                self.histories.users.len(),
                self.histories
                    .users
                    .first()
                    .map_or("none".to_string(), |u| format!(
                        "{} or {}",
                        u.user_id, u.key
                    ))
            ))
        })
    }

    /// The cart as index rows (items the index lacks are left out).
    pub fn cart_of(&self, items: &[(ItemId, u8)]) -> Vec<CartEntry> {
        items
            .iter()
            .filter_map(|&(id, stars)| {
                self.searcher.row_of(id).map(|row| CartEntry {
                    row,
                    stars: f32::from(stars),
                })
            })
            .collect()
    }

    /// Where to look for a cart: the personaliser's prediction from the cart mean (eq. (4)),
    /// or the cart mean itself when no personaliser is trained. Unit length.
    pub fn query_vector(&self, cart: &[CartEntry]) -> Result<Vec<f32>> {
        let index = self.searcher.index();
        let mean = normalized(cart_vector(&index.matrix, index.dim, cart)?);
        match &self.personaliser {
            Some(net) => net.predict(&mean),
            None => Ok(mean),
        }
    }

    /// Splits the cart with K-Splits and recommends `k` items for each group, never an item
    /// already in the cart. Groups come largest first.
    pub fn recommend(&self, cart: &[CartEntry], k: usize) -> Result<Vec<GroupRecommendation>> {
        let index = self.searcher.index();
        let rows: Vec<&[f32]> = cart.iter().map(|e| index.row(e.row)).collect();
        let groups = split_cart(&rows, &index.matrix, index.dim, &self.ksplits);
        let exclude: Vec<usize> = cart.iter().map(|e| e.row).collect();
        groups
            .into_iter()
            .map(|group| {
                let sub: Vec<CartEntry> = group.iter().map(|&g| cart[g]).collect();
                let query = self.query_vector(&sub)?;
                let scores = content_scores(index, &query)?;
                Ok(GroupRecommendation {
                    items: sub.iter().map(|e| index.ids[e.row]).collect(),
                    results: self.top(&scores, k, &exclude),
                })
            })
            .collect()
    }

    /// Re-ranks a visual search for a shopper: each result's score becomes
    /// `(1 − weight) · similarity to the photo + weight · similarity to the shopper's query
    /// vector`, best first, then the list is cut to `k`.
    pub fn rerank(
        &self,
        result: &mut QueryResult,
        cart: &[CartEntry],
        weight: f32,
        k: usize,
    ) -> Result<()> {
        let user = self.query_vector(cart)?;
        let index = self.searcher.index();
        for item in &mut result.results {
            if let Some(row) = self.searcher.row_of(item.item_id) {
                let personal: f32 = index.row(row).iter().zip(&user).map(|(a, b)| a * b).sum();
                item.score = (1.0 - weight) * item.score + weight * personal;
            }
        }
        result
            .results
            .sort_by(|a, b| b.score.total_cmp(&a.score).then(a.item_id.cmp(&b.item_id)));
        result.results.truncate(k);
        for (i, item) in result.results.iter_mut().enumerate() {
            item.rank = i + 1;
        }
        Ok(())
    }

    fn top(&self, scores: &[f32], k: usize, exclude: &[usize]) -> Vec<RankedItem> {
        let mut order: Vec<usize> = (0..scores.len()).filter(|r| !exclude.contains(r)).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        order
            .into_iter()
            .take(k)
            .enumerate()
            .map(|(i, row)| {
                let item = &self.searcher.items()[row];
                RankedItem {
                    rank: i + 1,
                    item_id: item.item_id,
                    score: scores[row],
                    image: item.image.display().to_string(),
                    title: item.title.clone(),
                    labels: item.labels.iter().map(Label::to_string).collect(),
                }
            })
            .collect()
    }
}

/// Trains a personaliser for `system` and saves it beside the system's index.
pub fn train_in(
    root: &Path,
    system: &str,
    device: &Device,
    options: &TrainOptions,
    ctx: &JobContext,
) -> Result<TrainReport> {
    let p = PersonalizeEngine::open(root, system, device, ctx)?;
    train_and_save(root, &p, options, ctx).map(|(_, report)| report)
}

fn train_and_save(
    root: &Path,
    p: &PersonalizeEngine,
    options: &TrainOptions,
    ctx: &JobContext,
) -> Result<(Personaliser, TrainReport)> {
    let fingerprint = p.searcher.system().fingerprint().to_owned();
    let (net, mut report) =
        personaliser::train(p.searcher.index(), &fingerprint, &p.histories, options, ctx)?;
    let path = personaliser_path(root, p.searcher.system_name());
    net.save(&path)?;
    report.path = path;
    Ok((net, report))
}

/// Evaluates every method on `system` (see [`super::eval`]); [`evaluate_with`] on a freshly
/// opened [`PersonalizeEngine`].
pub fn evaluate_in(
    root: &Path,
    system: &str,
    device: &Device,
    options: &TrainOptions,
    ctx: &JobContext,
) -> Result<(EvalReport, Option<TrainReport>)> {
    let mut p = PersonalizeEngine::open(root, system, device, ctx)?;
    evaluate_with(root, &mut p, options, ctx)
}

/// Evaluates every method with `p`. The personaliser is `p`'s when it was trained with this
/// `seed` on the current ratings (so its test users are unseen); otherwise one is trained
/// with `options`, saved, and put into `p` first (its report returned).
pub fn evaluate_with(
    root: &Path,
    p: &mut PersonalizeEngine,
    options: &TrainOptions,
    ctx: &JobContext,
) -> Result<(EvalReport, Option<TrainReport>)> {
    let reusable = p.personaliser.as_ref().is_some_and(|net| {
        net.meta.seed == options.seed && net.meta.data_hash == p.histories.data_hash
    });
    let trained = if reusable {
        None
    } else {
        let (net, report) = train_and_save(root, p, options, ctx)?;
        p.personaliser = Some(net);
        Some(report)
    };
    let net = p
        .personaliser
        .as_ref()
        .ok_or_else(|| Error::Invalid("no personaliser after training".into()))?;
    let split = UserSplit::by_seed(&p.histories, options.seed);
    if split.test.is_empty() {
        return Err(Error::Invalid(
            "no test users: at least 3 users need two or more purchases of indexed items".into(),
        ));
    }
    let index = p.searcher.index();
    let ratings = split.training_ratings(&p.histories);
    ctx.progress(0, 0, "fitting the baselines");
    let popularity = Popularity::fit(index.len(), &ratings);
    let knn = ItemKnn::fit(index.len(), &ratings);
    let als = Als::fit(
        index.len(),
        &ratings,
        &AlsOptions {
            seed: options.seed,
            ..AlsOptions::default()
        },
    );
    let cart_mean = CartMean { index };
    let personal = net.recommender(index);
    let methods: [&dyn Recommender; 5] = [&popularity, &knn, &als, &cart_mean, &personal];
    let categories: Vec<Option<String>> = p
        .searcher
        .items()
        .iter()
        .map(|item| item.label_in(LabelGroup::Category).map(str::to_owned))
        .collect();
    let mut report = evaluate(
        p.searcher.system_name(),
        &p.histories,
        &split,
        &methods,
        &categories,
        ctx,
    )?;
    let lib = Library::open_for_reading(root)?;
    let keys = ceiling::row_keys(&lib.store, &index.ids)?;
    match ceiling::oracle_ceiling(root, &p.histories, &split, &keys)? {
        Ceiling::None => {}
        Ceiling::Measured(oracle) => report.ceiling = Some(oracle),
        Ceiling::Missing(why) => report.ceiling_missing = Some(why),
    }
    Ok((report, trained))
}

/// How well K-Splits sorts carts by garment category, over every user's whole cart.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SplitQuality {
    /// Carts of two or more items measured.
    pub carts: usize,
    /// Share of grouped items whose `category` label is their group's most common one.
    pub purity: f64,
    /// Share of same-category item pairs within a cart that K-Splits keeps in one group.
    pub pair_recall: f64,
    /// Mean number of groups per cart.
    pub groups_per_cart: f64,
}

impl PersonalizeEngine {
    /// Measures [`SplitQuality`] of this system's K-Splits on every user's cart (items with
    /// no category label count as a category of their own).
    pub fn split_quality(&self) -> SplitQuality {
        let index = self.searcher.index();
        self.split_quality_with(|rows| split_cart(rows, &index.matrix, index.dim, &self.ksplits))
    }

    /// [`PersonalizeEngine::split_quality`] of ARCHITECTURE.md §7's principal-axis K-Splits alone
    /// (no catalogue neighbourhoods): the baseline the cart method is measured against.
    pub fn split_quality_principal_axis(&self) -> SplitQuality {
        self.split_quality_with(|rows| super::ksplits::ksplits(rows, &self.ksplits))
    }

    fn split_quality_with(&self, split: impl Fn(&[&[f32]]) -> Vec<Vec<usize>>) -> SplitQuality {
        let index = self.searcher.index();
        let category = |row: usize| -> Option<&str> {
            self.searcher.items()[row]
                .labels
                .iter()
                .find(|l| l.group == crate::catalog::LabelGroup::Category)
                .map(|l| l.name.as_str())
        };
        let (mut carts, mut items, mut pure) = (0usize, 0usize, 0usize);
        let (mut pairs, mut kept, mut groups_total) = (0usize, 0usize, 0usize);
        for user in &self.histories.users {
            if user.cart.len() < 2 {
                continue;
            }
            let rows: Vec<&[f32]> = user.cart.iter().map(|e| index.row(e.row)).collect();
            let cats: Vec<Option<&str>> = user.cart.iter().map(|e| category(e.row)).collect();
            let groups = split(&rows);
            carts += 1;
            groups_total += groups.len();
            let mut group_of = vec![0usize; rows.len()];
            for (g, members) in groups.iter().enumerate() {
                for &m in members {
                    group_of[m] = g;
                }
                let majority = members
                    .iter()
                    .map(|&m| members.iter().filter(|&&o| cats[o] == cats[m]).count())
                    .max()
                    .unwrap_or(0);
                items += members.len();
                pure += majority;
            }
            for i in 0..rows.len() {
                for j in i + 1..rows.len() {
                    if cats[i] == cats[j] {
                        pairs += 1;
                        kept += usize::from(group_of[i] == group_of[j]);
                    }
                }
            }
        }
        let share = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
        SplitQuality {
            carts,
            purity: share(pure, items),
            pair_recall: share(kept, pairs),
            groups_per_cart: if carts == 0 {
                0.0
            } else {
                groups_total as f64 / carts as f64
            },
        }
    }
}

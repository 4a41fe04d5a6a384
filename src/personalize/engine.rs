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
        let mut p = PersonalizeEngine::from_searcher(&lib, searcher)?;
        p.personaliser = saved_personaliser(root, &p.searcher)?;
        Ok(p)
    }

    /// The engine of an index already open (as it is: nothing is indexed), without a
    /// personaliser ([`saved_personaliser`] reads the saved one).
    pub fn from_searcher(lib: &Library, searcher: Searcher) -> Result<PersonalizeEngine> {
        // Carts, splits and the personaliser read rows as f32, many times over.
        let searcher = searcher.widened_to_f32();
        let histories = Histories::load(&lib.store, searcher.index())?;
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
            personaliser: None,
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

    /// The cart split by K-Splits into sub-carts of one kind each, largest first.
    pub fn split(&self, cart: &[CartEntry]) -> Vec<Vec<CartEntry>> {
        let index = self.searcher.index();
        let rows: Vec<_> = cart.iter().map(|e| index.row(e.row)).collect();
        let rows: Vec<&[f32]> = rows.iter().map(|r| r.as_ref()).collect();
        split_cart(&rows, &index.matrix.to_f32(), index.dim, &self.ksplits)
            .into_iter()
            .map(|group| group.iter().map(|&g| cart[g]).collect())
            .collect()
    }

    /// Splits the cart with K-Splits and recommends `k` items for each group, never an item
    /// already in the cart. Groups come largest first.
    pub fn recommend(&self, cart: &[CartEntry], k: usize) -> Result<Vec<GroupRecommendation>> {
        let index = self.searcher.index();
        let exclude: Vec<usize> = cart.iter().map(|e| e.row).collect();
        self.split(cart)
            .into_iter()
            .map(|sub| {
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
        ranked_rows(scores, exclude)
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

/// The rows not in `exclude`, best score first (ties to the lower row, as the search and
/// [`super::eval::rank_of`] order them).
pub fn ranked_rows(scores: &[f32], exclude: &[usize]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).filter(|r| !exclude.contains(r)).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    order
}

/// The personaliser saved beside `searcher`'s index, if any; one of another version of the
/// system is an error naming the command to run.
pub fn saved_personaliser(root: &Path, searcher: &Searcher) -> Result<Option<Personaliser>> {
    let path = personaliser_path(root, searcher.system_name());
    if !path.exists() {
        return Ok(None);
    }
    Personaliser::load(
        &path,
        searcher.system_name(),
        searcher.system().fingerprint(),
    )
    .map(Some)
}

/// A method on K-Splits groups, as [`PersonalizeEngine::recommend`] serves a cart: the cart
/// is split into sub-carts, `inner` ranks the catalogue for each (the cart mean, or the
/// personaliser), and the groups' rankings, largest group first, are merged into one list
/// by taking turns: each group's best item not yet listed, then each one's second, and so
/// on, which is the order a shopper reads the engine's groups in, one rank at a time. The
/// scores are the negated places in that list (higher is better), so [`super::eval`] ranks
/// it like any other method. Items in the cart come last.
pub struct KSplitsRecommender<'a> {
    pub engine: &'a PersonalizeEngine,
    pub inner: &'a dyn Recommender,
    /// The method's name in reports (`cart-mean + K-Splits`).
    pub name: &'static str,
}

impl Recommender for KSplitsRecommender<'_> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn scores(&self, cart: &[CartEntry]) -> Result<Vec<f32>> {
        let rows = self.engine.searcher.index().len();
        let exclude: Vec<usize> = cart.iter().map(|e| e.row).collect();
        let rankings: Vec<Vec<usize>> = self
            .engine
            .split(cart)
            .iter()
            .map(|sub| Ok(ranked_rows(&self.inner.scores(sub)?, &exclude)))
            .collect::<Result<_>>()?;
        Ok(take_turns(&rankings, rows))
    }
}

/// Merges `rankings` (each a list of rows, best first) by taking turns, first list first; a
/// row already listed is skipped. Returns a score per row of `rows`: the negated place in
/// the merged list, `-∞` for rows no list holds.
pub fn take_turns(rankings: &[Vec<usize>], rows: usize) -> Vec<f32> {
    let mut scores = vec![f32::NEG_INFINITY; rows];
    let mut place = 0usize;
    let longest = rankings.iter().map(Vec::len).max().unwrap_or(0);
    for i in 0..longest {
        for ranking in rankings {
            if let Some(&row) = ranking.get(i)
                && let Some(score) = scores.get_mut(row)
                && *score == f32::NEG_INFINITY
            {
                *score = -(place as f32);
                place += 1;
            }
        }
    }
    scores
}

/// The collaborative-filtering baselines, fitted on the ratings a split allows; they do not
/// depend on the system (its index only numbers the items).
pub struct Baselines {
    pub popularity: Popularity,
    pub knn: ItemKnn,
    pub als: Als,
}

impl Baselines {
    /// Fits every baseline on `split`'s training ratings over an index of `rows` rows.
    pub fn fit(histories: &Histories, split: &UserSplit, rows: usize, seed: u64) -> Baselines {
        let ratings = split.training_ratings(histories);
        Baselines {
            popularity: Popularity::fit(rows, &ratings),
            knn: ItemKnn::fit(rows, &ratings),
            als: Als::fit(
                rows,
                &ratings,
                &AlsOptions {
                    seed,
                    ..AlsOptions::default()
                },
            ),
        }
    }

    /// Popularity, item-kNN and ALS, in the reports' order.
    pub fn methods(&self) -> [&dyn Recommender; 3] {
        [&self.popularity, &self.knn, &self.als]
    }
}

/// The user split of `seed`, refused when it has no test users.
pub fn split_with_test_users(histories: &Histories, seed: u64) -> Result<UserSplit> {
    let split = UserSplit::by_seed(histories, seed);
    if split.test.is_empty() {
        return Err(Error::Invalid(
            "no test users: at least 3 users need two or more purchases of indexed items".into(),
        ));
    }
    Ok(split)
}

impl PersonalizeEngine {
    /// Each index row's category label, for the category accuracy.
    pub fn categories(&self) -> Vec<Option<String>> {
        self.searcher
            .items()
            .iter()
            .map(|item| item.label_in(LabelGroup::Category).map(str::to_owned))
            .collect()
    }

    /// The personaliser when it was trained with this `seed` on the current ratings, so the
    /// split's test users are unseen by it.
    pub fn personaliser_for(&self, seed: u64) -> Option<&Personaliser> {
        self.personaliser
            .as_ref()
            .filter(|net| net.meta.seed == seed && net.meta.data_hash == self.histories.data_hash)
    }

    /// The oracle ceiling on `split`'s test users (demo libraries; see [`super::ceiling`]).
    pub fn ceiling(&self, root: &Path, split: &UserSplit) -> Result<Ceiling> {
        let lib = Library::open_for_reading(root)?;
        let keys = ceiling::row_keys(&lib.store, &self.searcher.index().ids)?;
        ceiling::oracle_ceiling(root, &self.histories, split, &keys)
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
    let reusable = p.personaliser_for(options.seed).is_some();
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
    let split = split_with_test_users(&p.histories, options.seed)?;
    let index = p.searcher.index();
    ctx.progress(0, 0, "fitting the baselines");
    let baselines = Baselines::fit(&p.histories, &split, index.len(), options.seed);
    let cart_mean = CartMean { index };
    let personal = net.recommender(index);
    let [popularity, knn, als] = baselines.methods();
    let methods: [&dyn Recommender; 5] = [popularity, knn, als, &cart_mean, &personal];
    let mut report = evaluate(
        p.searcher.system_name(),
        &p.histories,
        &split,
        &methods,
        &p.categories(),
        ctx,
    )?;
    match p.ceiling(root, &split)? {
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
        let matrix = index.matrix.to_f32();
        self.split_quality_with(|rows| split_cart(rows, &matrix, index.dim, &self.ksplits))
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
            let rows: Vec<_> = user.cart.iter().map(|e| index.row(e.row)).collect();
            let rows: Vec<&[f32]> = rows.iter().map(|r| r.as_ref()).collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_turns_merges_the_groups_rankings_one_rank_at_a_time() {
        // Group 1 ranks rows 3, 1, 4; group 2 ranks 1, 2, 0: 3 (g1), 1 (g2), then g1's 1 is
        // listed already, so 2 (g2's second), 4 (g1's third), 0.
        let scores = take_turns(&[vec![3, 1, 4], vec![1, 2, 0]], 6);
        assert_eq!(scores, [-4.0, -1.0, -2.0, 0.0, -3.0, f32::NEG_INFINITY]);
        let order = ranked_rows(&scores, &[]);
        assert_eq!(order, [3, 1, 2, 4, 0, 5]);
        // One group: its own ranking.
        assert_eq!(
            ranked_rows(&take_turns(&[vec![2, 0, 1]], 3), &[]),
            [2, 0, 1]
        );
        assert_eq!(ranked_rows(&[0.5, 0.9, 0.5], &[1]), [0, 2]);
    }
}

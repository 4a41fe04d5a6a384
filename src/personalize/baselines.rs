//! The methods the personaliser is compared with (paper §IV.C, Fig. 5): popularity, item-kNN
//! collaborative filtering on co-ratings, ALS matrix factorisation (implicit feedback), and
//! the content-based cart mean of eq. (4) without the personaliser.
//!
//! Each is a [`Recommender`]: it scores every index row for a cart. The collaborative ones
//! learn only from the ratings a [`super::UserSplit`] allows (never a held-out purchase) and
//! take a new cart (a test user's history, a virtual cart in the GUI) by *folding it in*,
//! so they are tested exactly as they would serve an unseen shopper.

use super::cart::{CartEntry, cart_vector, normalized};
use crate::error::{Error, Result};
use crate::index::EmbeddingIndex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::collections::HashMap;

/// Something that ranks the catalogue for a cart.
pub trait Recommender: Sync {
    /// The method's name in reports (`popularity`, `item-knn`, `als`, `cart-mean`,
    /// `personaliser`).
    fn name(&self) -> &'static str;
    /// A score for every index row (higher is better) given the cart.
    fn scores(&self, cart: &[CartEntry]) -> Result<Vec<f32>>;
}

/// The cosine similarity of every row of `index` to the unit vector `query`.
pub fn content_scores(index: &EmbeddingIndex, query: &[f32]) -> Result<Vec<f32>> {
    if query.len() != index.dim {
        return Err(Error::Invalid(format!(
            "a query of width {} for the index of {} (width {})",
            query.len(),
            index.system,
            index.dim
        )));
    }
    Ok(index
        .matrix
        .to_f32()
        .par_chunks(index.dim.max(1))
        .map(|row| crate::simd::lane_sum(row, query, |a, b| a * b))
        .collect())
}

/// Recommends what most users bought.
#[derive(Debug, Clone)]
pub struct Popularity {
    counts: Vec<f32>,
}

impl Popularity {
    /// Counts purchases per row over `ratings` (user, purchase) in an index of `rows` rows.
    pub fn fit(rows: usize, ratings: &[(usize, CartEntry)]) -> Popularity {
        let mut counts = vec![0f32; rows];
        for (_, e) in ratings {
            if let Some(c) = counts.get_mut(e.row) {
                *c += 1.0;
            }
        }
        Popularity { counts }
    }
}

impl Recommender for Popularity {
    fn name(&self) -> &'static str {
        "popularity"
    }
    fn scores(&self, _cart: &[CartEntry]) -> Result<Vec<f32>> {
        Ok(self.counts.clone())
    }
}

/// Item-kNN collaborative filtering: items are alike when the same users rated them
/// (cosine of their rating columns); a cart scores each item by the similarity-weighted sum
/// over its `neighbours` nearest items, weighted by the cart's ratings. Items no rated item
/// is near tie at zero, broken by popularity, as is usual for this baseline.
#[derive(Debug, Clone)]
pub struct ItemKnn {
    /// Per row: its nearest rows by co-rating cosine, with the similarity.
    neighbours: Vec<Vec<(usize, f32)>>,
    tie_break: Vec<f32>,
}

/// Neighbours kept per item.
pub const KNN_NEIGHBOURS: usize = 50;

impl ItemKnn {
    pub fn fit(rows: usize, ratings: &[(usize, CartEntry)]) -> ItemKnn {
        let mut by_user: HashMap<usize, Vec<CartEntry>> = HashMap::new();
        let mut norm2 = vec![0f32; rows];
        for &(u, e) in ratings {
            if e.row < rows {
                by_user.entry(u).or_default().push(e);
                norm2[e.row] += e.stars * e.stars;
            }
        }
        // Co-rating dot products, one user at a time (carts are small).
        let mut dots: HashMap<(usize, usize), f32> = HashMap::new();
        for cart in by_user.values() {
            for a in cart {
                for b in cart {
                    if a.row != b.row {
                        *dots.entry((a.row, b.row)).or_default() += a.stars * b.stars;
                    }
                }
            }
        }
        let mut neighbours: Vec<Vec<(usize, f32)>> = vec![Vec::new(); rows];
        for ((a, b), dot) in dots {
            let sim = dot / (norm2[a].sqrt() * norm2[b].sqrt()).max(f32::MIN_POSITIVE);
            neighbours[a].push((b, sim));
        }
        for list in &mut neighbours {
            list.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
            list.truncate(KNN_NEIGHBOURS);
        }
        let popularity = Popularity::fit(rows, ratings).counts;
        let max = popularity.iter().copied().fold(0f32, f32::max).max(1.0);
        ItemKnn {
            neighbours,
            tie_break: popularity.iter().map(|c| 1e-6 * c / max).collect(),
        }
    }
}

impl Recommender for ItemKnn {
    fn name(&self) -> &'static str {
        "item-knn"
    }
    fn scores(&self, cart: &[CartEntry]) -> Result<Vec<f32>> {
        let mut scores = self.tie_break.clone();
        for e in cart {
            for &(row, sim) in self.neighbours.get(e.row).map_or(&[][..], |v| v) {
                scores[row] += sim * e.stars / 5.0;
            }
        }
        Ok(scores)
    }
}

/// How [`Als::fit`] runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlsOptions {
    pub factors: usize,
    pub iterations: usize,
    /// L2 regularisation λ.
    pub regularization: f64,
    /// Confidence of a purchase: `c = 1 + alpha · stars / 5`.
    pub alpha: f64,
    pub seed: u64,
}

impl Default for AlsOptions {
    fn default() -> Self {
        AlsOptions {
            factors: 32,
            iterations: 12,
            regularization: 0.1,
            alpha: 20.0,
            seed: 0,
        }
    }
}

/// ALS matrix factorisation for implicit feedback (Hu, Koren & Volinsky 2008): purchases are
/// preferences 1 with confidence `1 + α·stars/5`, everything else preference 0 with
/// confidence 1; user and item factors are solved in turn by small dense linear systems
/// `(YᵀY + Yᵀ(C_u − I)Y + λI) x_u = Yᵀ C_u p_u`. A cart is scored by solving its user factor
/// against the learnt item factors (fold-in).
#[derive(Debug, Clone)]
pub struct Als {
    options: AlsOptions,
    /// rows × factors.
    items: Vec<f64>,
    /// YᵀY, factors × factors.
    gram: Vec<f64>,
}

impl Als {
    pub fn fit(rows: usize, ratings: &[(usize, CartEntry)], options: &AlsOptions) -> Als {
        let f = options.factors.max(1);
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        let mut items: Vec<f64> = (0..rows * f)
            .map(|_| 0.01 * (rng.random::<f64>() - 0.5))
            .collect();
        let mut users_of: Vec<Vec<(usize, f64)>> = vec![Vec::new(); rows];
        let mut by_user: HashMap<usize, Vec<(usize, f64)>> = HashMap::new();
        for &(u, e) in ratings {
            if e.row < rows {
                let c = 1.0 + options.alpha * f64::from(e.stars) / 5.0;
                by_user.entry(u).or_default().push((e.row, c));
            }
        }
        let mut user_ids: Vec<usize> = by_user.keys().copied().collect();
        user_ids.sort_unstable();
        let user_lists: Vec<&Vec<(usize, f64)>> = user_ids.iter().map(|u| &by_user[u]).collect();
        for (k, list) in user_lists.iter().enumerate() {
            for &(row, c) in list.iter() {
                users_of[row].push((k, c));
            }
        }
        let mut users = vec![0f64; user_ids.len() * f];
        for _ in 0..options.iterations {
            let gram = gram(&items, f);
            users = user_lists
                .par_iter()
                .flat_map_iter(|list| solve_factor(&gram, &items, list, f, options.regularization))
                .collect();
            let gram = self::gram(&users, f);
            items = users_of
                .par_iter()
                .flat_map_iter(|list| solve_factor(&gram, &users, list, f, options.regularization))
                .collect();
        }
        let gram = gram(&items, f);
        Als {
            options: *options,
            items,
            gram,
        }
    }
}

impl Recommender for Als {
    fn name(&self) -> &'static str {
        "als"
    }
    fn scores(&self, cart: &[CartEntry]) -> Result<Vec<f32>> {
        let f = self.options.factors.max(1);
        let list: Vec<(usize, f64)> = cart
            .iter()
            .map(|e| (e.row, 1.0 + self.options.alpha * f64::from(e.stars) / 5.0))
            .collect();
        let x = solve_factor(
            &self.gram,
            &self.items,
            &list,
            f,
            self.options.regularization,
        );
        Ok(self
            .items
            .chunks_exact(f)
            .map(|y| y.iter().zip(&x).map(|(a, b)| a * b).sum::<f64>() as f32)
            .collect())
    }
}

/// `MᵀM` of a row-major matrix with `f` columns.
fn gram(m: &[f64], f: usize) -> Vec<f64> {
    let mut g = vec![0f64; f * f];
    for row in m.chunks_exact(f) {
        for a in 0..f {
            for b in 0..f {
                g[a * f + b] += row[a] * row[b];
            }
        }
    }
    g
}

/// One ALS step for one user (or item): `(G + Σ (c−1) y yᵀ + λI) x = Σ c y` over the
/// `(row, confidence)` pairs of `list`, rows of `other`.
fn solve_factor(
    g: &[f64],
    other: &[f64],
    list: &[(usize, f64)],
    f: usize,
    lambda: f64,
) -> Vec<f64> {
    let mut a = g.to_vec();
    let mut b = vec![0f64; f];
    for &(row, c) in list {
        let Some(y) = other.get(row * f..(row + 1) * f) else {
            continue;
        };
        for i in 0..f {
            b[i] += c * y[i];
            for j in 0..f {
                a[i * f + j] += (c - 1.0) * y[i] * y[j];
            }
        }
    }
    for i in 0..f {
        a[i * f + i] += lambda;
    }
    cholesky_solve(a, b, f)
}

/// Solves `A x = b` for a symmetric positive definite `A` (row-major, n × n) by Cholesky.
/// λ > 0 keeps ALS's systems positive definite; a pivot that is not (rounding) is clamped.
pub(crate) fn cholesky_solve(mut a: Vec<f64>, mut b: Vec<f64>, n: usize) -> Vec<f64> {
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        let d = d.max(1e-12).sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
    }
    // L y = b, then Lᵀ x = y.
    for i in 0..n {
        for k in 0..i {
            b[i] -= a[i * n + k] * b[k];
        }
        b[i] /= a[i * n + i];
    }
    for i in (0..n).rev() {
        for k in i + 1..n {
            b[i] -= a[k * n + i] * b[k];
        }
        b[i] /= a[i * n + i];
    }
    b
}

/// Eq. (4) alone: cosine search from the normalised rating-weighted cart mean.
pub struct CartMean<'a> {
    pub index: &'a EmbeddingIndex,
}

impl Recommender for CartMean<'_> {
    fn name(&self) -> &'static str {
        "cart-mean"
    }
    fn scores(&self, cart: &[CartEntry]) -> Result<Vec<f32>> {
        let query = normalized(cart_vector(&self.index.matrix, self.index.dim, cart)?);
        content_scores(self.index, &query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::personalize::eval::rank_of;

    fn e(row: usize, stars: f32) -> CartEntry {
        CartEntry { row, stars }
    }

    /// Six items, two tastes: users 0–3 buy among items 0,1,2; users 4–6 among 3,4,5.
    /// Item 0 is the most bought overall.
    fn tiny() -> Vec<(usize, CartEntry)> {
        vec![
            (0, e(0, 5.0)),
            (0, e(1, 4.0)),
            (1, e(0, 5.0)),
            (1, e(2, 5.0)),
            (2, e(0, 4.0)),
            (2, e(1, 5.0)),
            (2, e(2, 3.0)),
            (3, e(0, 5.0)),
            (4, e(3, 5.0)),
            (4, e(4, 5.0)),
            (5, e(3, 4.0)),
            (5, e(5, 5.0)),
            (6, e(4, 5.0)),
            (6, e(5, 4.0)),
        ]
    }

    #[test]
    fn popularity_counts_purchases() {
        let p = Popularity::fit(6, &tiny());
        assert_eq!(p.scores(&[]).unwrap(), vec![4.0, 2.0, 2.0, 2.0, 2.0, 2.0]);
        assert_eq!(rank_of(&p.scores(&[e(3, 5.0)]).unwrap(), 0, &[3]), 1);
    }

    #[test]
    fn item_knn_recommends_what_co_buyers_bought() {
        let knn = ItemKnn::fit(6, &tiny());
        // Someone who bought item 3 is offered 4 or 5 (bought with 3), not the popular 0.
        let s = knn.scores(&[e(3, 5.0)]).unwrap();
        assert!(s[4] > s[0] && s[5] > s[0]);
        assert!(rank_of(&s, 4, &[3]) <= 2 && rank_of(&s, 5, &[3]) <= 2);
        // Item 1 was bought with 0 and 2; its neighbours are exactly those.
        let s = knn.scores(&[e(1, 5.0)]).unwrap();
        assert!(s[0] > 0.1 && s[2] > 0.1 && s[3] < 1e-3 && s[5] < 1e-3);
    }

    #[test]
    fn als_learns_the_two_tastes() {
        let options = AlsOptions {
            factors: 2,
            iterations: 15,
            regularization: 1.0,
            ..AlsOptions::default()
        };
        let als = Als::fit(6, &tiny(), &options);
        let s = als.scores(&[e(3, 5.0), e(4, 4.0)]).unwrap();
        // Item 5 belongs to the same taste; every item of the other taste scores lower.
        assert!(s[5] > s[0] && s[5] > s[1] && s[5] > s[2], "{s:?}");
        let s = als.scores(&[e(1, 5.0)]).unwrap();
        assert!(s[0] > s[3] && s[2] > s[5], "{s:?}");
    }

    #[test]
    fn cholesky_solves_a_small_system() {
        // [[4,2],[2,3]] x = [2,1] → x = [0.5, 0].
        let x = cholesky_solve(vec![4.0, 2.0, 2.0, 3.0], vec![2.0, 1.0], 2);
        assert!((x[0] - 0.5).abs() < 1e-12 && x[1].abs() < 1e-12);
    }

    #[test]
    fn the_cart_mean_ranks_the_nearest_item_first() {
        let mut index = EmbeddingIndex::empty("t", "f", 2);
        let rows = [[1.0, 0.0], [0.0, 1.0], [0.8, 0.6], [0.6, 0.8], [-1.0, 0.0]];
        for (i, r) in rows.iter().enumerate() {
            index.matrix.extend_from_f32(r);
            index.ids.push(i as i64);
        }
        let m = CartMean { index: &index };
        // Mostly item 0, a little item 1: item 2 (closer to 0) beats item 3.
        let s = m.scores(&[e(0, 5.0), e(1, 2.0)]).unwrap();
        assert_eq!(rank_of(&s, 2, &[0, 1]), 1);
        assert_eq!(rank_of(&s, 4, &[0, 1]), 3);
        assert!(m.scores(&[]).is_err());
    }
}

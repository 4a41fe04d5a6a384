//! The demo's shoppers: purchase histories with structure a recommender can learn, and the
//! ceiling no recommender can pass (issue 16, item 4).
//!
//! Each shopper is a small, fully known random process over the catalogue:
//! - **Taste that persists**: two or three favourite categories, a favourite colour and a
//!   favourite texture, drawn once.
//! - **Taste that drifts**: after each purchase the favourite colour moves to another colour
//!   with probability [`COLOUR_DRIFT`].
//! - **Purchases that follow from earlier ones**: after the first, a purchase is with
//!   probability [`OUTFIT`] an outfit complement of the previous one ([`complements`]: a top
//!   after trousers, shoes or a bag after a dress …), and its colour leans towards the previous
//!   purchase's colour as well as the favourite one.
//! - **A few popular items**: [`BESTSELLER_SHARE`] of the catalogue are bestsellers, and a
//!   purchase is one of them with probability [`POPULAR`].
//!
//! Every purchase is drawn from an explicit probability vector over the items not yet bought
//! ([`next_purchase`]), so the generator knows, for each shopper's last purchase, what a
//! ranker that knew the shopper's hidden state would have given: the **oracle rank** of that
//! item among the items not yet bought (ties broken by catalogue order, as the evaluation
//! breaks them). `vitrine personalize eval` reads these ranks back as the oracle's Recall@K:
//! the ceiling beside the methods, which see only the purchases.

use super::garments::{Category, Colour, GarmentSpec, Texture};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Purchases per shopper (the paper kept users with 5–7 reviews).
pub const PURCHASES: std::ops::RangeInclusive<usize> = 5..=7;
/// Chance that a purchase after the first completes an outfit with the previous one.
pub const OUTFIT: f64 = 0.4;
/// Chance that the favourite colour changes after a purchase.
pub const COLOUR_DRIFT: f64 = 0.15;
/// Chance that a purchase is a bestseller, whatever the shopper's taste.
pub const POPULAR: f64 = 0.04;
/// The share of the catalogue that sells to everyone.
pub const BESTSELLER_SHARE: f64 = 0.015;

/// What a shopper's choice depends on, per item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemTraits {
    pub category: Category,
    pub colour: Colour,
    pub texture: Texture,
}

impl ItemTraits {
    pub fn of(spec: &GarmentSpec) -> ItemTraits {
        ItemTraits {
            category: spec.subtype.category(),
            colour: spec.colour,
            texture: spec.texture,
        }
    }
}

/// One simulated shopper: the purchases in order, as (item index, stars 1–5), and the
/// oracle's rank of the last purchase among the items not bought before it.
#[derive(Debug, Clone, PartialEq)]
pub struct Shopper {
    pub purchases: Vec<(usize, u8)>,
    pub last_oracle_rank: usize,
    /// Whether the oracle's top item for the last purchase has the category of the item
    /// bought (the oracle's category accuracy).
    pub last_oracle_category_hit: bool,
}

/// The categories that complete an outfit with one of `category`.
pub fn complements(category: Category) -> &'static [Category] {
    use Category as C;
    match category {
        C::Top => &[C::Trousers, C::Skirt, C::Shorts, C::Outerwear],
        C::Trousers | C::Shorts | C::Skirt => &[C::Top, C::Shoes, C::Boots],
        C::Dress => &[C::Shoes, C::Bag, C::Outerwear],
        C::Outerwear => &[C::Scarf, C::Hat, C::Boots],
        C::Shoes | C::Boots => &[C::Bag, C::Trousers, C::Dress],
        C::Bag => &[C::Eyewear, C::Scarf, C::Shoes],
        C::Hat => &[C::Scarf, C::Outerwear, C::Eyewear],
        C::Scarf => &[C::Hat, C::Outerwear],
        C::Eyewear => &[C::Hat, C::Bag],
    }
}

/// The bestsellers of a catalogue of `items` (item indices, sorted), drawn from `seed`.
pub fn bestsellers(items: usize, seed: u64) -> Vec<usize> {
    let n = ((items as f64 * BESTSELLER_SHARE).round() as usize).clamp(1, items.max(1));
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6265_7374_7365_6c6c);
    let all: Vec<usize> = (0..items).collect();
    let mut picked: Vec<usize> = all.choose_multiple(&mut rng, n).copied().collect();
    picked.sort_unstable();
    picked
}

/// A shopper's hidden state: what the oracle knows and the recommenders do not.
#[derive(Debug, Clone)]
struct Taste {
    categories: Vec<Category>,
    colour: Colour,
    texture: Texture,
}

impl Taste {
    fn random(rng: &mut ChaCha8Rng) -> Taste {
        let n = rng.random_range(2..=3);
        Taste {
            categories: Category::ALL.choose_multiple(rng, n).copied().collect(),
            colour: *Colour::ALL.choose(rng).unwrap_or(&Colour::Black),
            texture: *Texture::ALL.choose(rng).unwrap_or(&Texture::Solid),
        }
    }

    /// 0 (nothing in common) to 1.9 (everything): decides the stars.
    fn affinity(&self, item: &ItemTraits) -> f32 {
        let mut a = 0.0;
        if self.categories.contains(&item.category) {
            a += 1.0;
        }
        if item.colour == self.colour {
            a += 0.6;
        }
        if item.texture == self.texture {
            a += 0.3;
        }
        a
    }
}

/// The probability of each item being the next purchase, given the hidden taste, the previous
/// purchase and what was bought (0 for those). Sums to 1 unless everything was bought.
pub(crate) fn next_purchase(
    items: &[ItemTraits],
    bestsellers: &[usize],
    categories: &[Category],
    colour: Colour,
    texture: Texture,
    previous: Option<&ItemTraits>,
    bought: &[bool],
) -> Vec<f64> {
    let share = |n: usize| if n == 0 { 0.0 } else { 1.0 / n as f64 };
    let category_weight = |c: Category| -> f64 {
        let favourite = if categories.contains(&c) {
            share(categories.len())
        } else {
            0.0
        };
        match previous {
            None => favourite,
            Some(prev) => {
                let outfit = complements(prev.category);
                let complement = if outfit.contains(&c) {
                    share(outfit.len())
                } else {
                    0.0
                };
                OUTFIT * complement + (1.0 - OUTFIT) * favourite
            }
        }
    };
    let uniform_colour = share(Colour::ALL.len());
    let colour_weight = |c: Colour| -> f64 {
        let own = f64::from(u8::from(c == colour));
        match previous {
            None => 0.8 * own + 0.2 * uniform_colour,
            Some(prev) => {
                0.6 * own + 0.25 * f64::from(u8::from(c == prev.colour)) + 0.15 * uniform_colour
            }
        }
    };
    let texture_weight = |t: Texture| -> f64 {
        0.7 * f64::from(u8::from(t == texture)) + 0.3 * share(Texture::ALL.len())
    };
    let mut taste: Vec<f64> = items
        .iter()
        .zip(bought)
        .map(|(it, &b)| {
            if b {
                0.0
            } else {
                category_weight(it.category) * colour_weight(it.colour) * texture_weight(it.texture)
            }
        })
        .collect();
    normalise(&mut taste);
    let open: Vec<usize> = bestsellers
        .iter()
        .copied()
        .filter(|&i| !bought[i])
        .collect();
    let popular = if open.is_empty() { 0.0 } else { POPULAR };
    for p in &mut taste {
        *p *= 1.0 - popular;
    }
    for &i in &open {
        taste[i] += popular / open.len() as f64;
    }
    if taste.iter().sum::<f64>() == 0.0 {
        // A taste for nothing left in the catalogue: any item not yet bought.
        taste = bought.iter().map(|&b| f64::from(u8::from(!b))).collect();
        normalise(&mut taste);
    }
    taste
}

fn normalise(p: &mut [f64]) {
    let total: f64 = p.iter().sum();
    if total > 0.0 {
        for x in p {
            *x /= total;
        }
    }
}

/// The 1-based rank of `target` by `probability` among the items not bought (higher first,
/// ties to the lower index: the evaluation's rule).
pub fn oracle_rank(probability: &[f64], target: usize, bought: &[bool]) -> usize {
    let t = probability[target];
    1 + probability
        .iter()
        .enumerate()
        .filter(|&(i, &p)| i != target && !bought[i] && (p > t || (p == t && i < target)))
        .count()
}

/// `users` shoppers over `items`, each from its own random stream (`stream(u)`), so the
/// result does not depend on the thread count.
pub fn simulate(
    items: &[ItemTraits],
    users: usize,
    seed: u64,
    stream: impl Fn(usize) -> ChaCha8Rng + Sync,
) -> Vec<Shopper> {
    let best = bestsellers(items.len(), seed);
    (0..users)
        .into_par_iter()
        .map(|u| simulate_one(items, &best, &mut stream(u)))
        .collect()
}

fn simulate_one(items: &[ItemTraits], bestsellers: &[usize], rng: &mut ChaCha8Rng) -> Shopper {
    let mut taste = Taste::random(rng);
    let n = rng.random_range(PURCHASES).min(items.len());
    let mut bought = vec![false; items.len()];
    let mut purchases: Vec<(usize, u8)> = Vec::with_capacity(n);
    let mut last_oracle_rank = 0;
    let mut last_oracle_category_hit = false;
    while purchases.len() < n {
        let previous = purchases.last().map(|&(i, _)| &items[i]);
        let p = next_purchase(
            items,
            bestsellers,
            &taste.categories,
            taste.colour,
            taste.texture,
            previous,
            &bought,
        );
        let Some(pick) = sample(&p, rng.random::<f64>()) else {
            break;
        };
        last_oracle_rank = oracle_rank(&p, pick, &bought);
        last_oracle_category_hit =
            oracle_top(&p).is_some_and(|top| items[top].category == items[pick].category);
        bought[pick] = true;
        let noise: f32 = rng.random_range(-0.8..0.8);
        let stars = (1.5 + 1.8 * taste.affinity(&items[pick]) + noise)
            .round()
            .clamp(1.0, 5.0) as u8;
        purchases.push((pick, stars));
        if rng.random::<f64>() < COLOUR_DRIFT {
            let others: Vec<Colour> = Colour::ALL
                .iter()
                .copied()
                .filter(|&c| c != taste.colour)
                .collect();
            taste.colour = *others.choose(rng).unwrap_or(&taste.colour);
        }
    }
    Shopper {
        purchases,
        last_oracle_rank,
        last_oracle_category_hit,
    }
}

/// The oracle's first choice: the most probable item (ties to the lower index).
fn oracle_top(probability: &[f64]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, &p) in probability.iter().enumerate() {
        if p > 0.0 && best.is_none_or(|b| p > probability[b]) {
            best = Some(i);
        }
    }
    best
}

/// The index at which the running sum of `p` passes `x` (in 0..1), skipping zero entries.
fn sample(p: &[f64], x: f64) -> Option<usize> {
    let total: f64 = p.iter().sum();
    let mut left = x * total;
    let mut last = None;
    for (i, &w) in p.iter().enumerate() {
        if w <= 0.0 {
            continue;
        }
        last = Some(i);
        left -= w;
        if left <= 0.0 {
            return Some(i);
        }
    }
    last
}

/// What `vitrine personalize eval` needs to print the oracle ceiling of a demo library: saved
/// as `DIR/demo-shoppers.json` by the demo generator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OracleFile {
    pub format: u32,
    pub seed: u64,
    /// Demo catalogue items the ranks are among.
    pub items: usize,
    pub users: Vec<OracleUser>,
}

/// One shopper's last purchase and the oracle's rank of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OracleUser {
    /// The user key (`demo-user-00003`).
    pub key: String,
    /// Purchases before the last.
    pub history: usize,
    /// The item key of the last purchase (`demo-000042`).
    pub last_item: String,
    pub oracle_rank: usize,
    /// Whether the oracle's top item has the last purchase's category.
    pub top_same_category: bool,
}

/// The file name of the oracle ranks in a library folder.
pub const ORACLE_FILE: &str = "demo-shoppers.json";

impl OracleFile {
    /// Reads `DIR/demo-shoppers.json`; `Ok(None)` when the library has none (not a demo, or
    /// one drawn before shoppers had an oracle).
    pub fn load(root: &std::path::Path) -> crate::error::Result<Option<OracleFile>> {
        let path = root.join(ORACLE_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(crate::error::Error::io(&path, e)),
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            crate::error::Error::Invalid(format!("{}: not an oracle file: {e}", path.display()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue(n: usize, seed: u64) -> Vec<ItemTraits> {
        (0..n)
            .map(|i| ItemTraits::of(&super::super::item_spec(seed, i)))
            .collect()
    }

    fn stream(seed: u64) -> impl Fn(usize) -> ChaCha8Rng + Sync {
        move |u| ChaCha8Rng::seed_from_u64(seed * 1_000_003 + u as u64)
    }

    #[test]
    fn the_next_purchase_is_a_distribution_over_what_was_not_bought() {
        let items = catalogue(300, 3);
        let best = bestsellers(items.len(), 3);
        let mut bought = vec![false; items.len()];
        bought[4] = true;
        let p = next_purchase(
            &items,
            &best,
            &[Category::Top, Category::Bag],
            Colour::Red,
            Texture::Solid,
            Some(&items[4]),
            &bought,
        );
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert_eq!(p[4], 0.0);
        assert!(p.iter().all(|&x| x >= 0.0));
        // A red top outweighs a yellow top of the same texture, all else equal.
        let find = |c: Category, col: Colour| {
            (0..items.len()).find(|&i| {
                items[i].category == c
                    && items[i].colour == col
                    && items[i].texture == Texture::Solid
                    && !best.contains(&i)
            })
        };
        if let (Some(red), Some(yellow)) = (
            find(Category::Top, Colour::Red),
            find(Category::Top, Colour::Yellow),
        ) {
            assert!(p[red] > p[yellow]);
        }
    }

    #[test]
    fn outfits_follow_the_previous_purchase() {
        let items = catalogue(400, 5);
        let bought = vec![false; items.len()];
        let trousers = items
            .iter()
            .find(|t| t.category == Category::Trousers)
            .copied()
            .unwrap();
        // A shopper whose favourites hold no top still buys tops after trousers.
        let p = next_purchase(
            &items,
            &[],
            &[Category::Hat],
            Colour::Blue,
            Texture::Denim,
            Some(&trousers),
            &bought,
        );
        let tops: f64 = (0..items.len())
            .filter(|&i| items[i].category == Category::Top)
            .map(|i| p[i])
            .sum();
        assert!(tops > 0.1, "{tops}");
        let first = next_purchase(
            &items,
            &[],
            &[Category::Hat],
            Colour::Blue,
            Texture::Denim,
            None,
            &bought,
        );
        let first_tops: f64 = (0..items.len())
            .filter(|&i| items[i].category == Category::Top)
            .map(|i| first[i])
            .sum();
        assert_eq!(first_tops, 0.0);
    }

    #[test]
    fn the_oracle_rank_breaks_ties_by_index_and_skips_bought_items() {
        let p = [0.1, 0.3, 0.3, 0.2, 0.1];
        let bought = [false, true, false, false, false];
        assert_eq!(oracle_rank(&p, 2, &bought), 1);
        assert_eq!(oracle_rank(&p, 3, &bought), 2);
        assert_eq!(oracle_rank(&p, 4, &bought), 4);
        assert_eq!(oracle_rank(&p, 0, &bought), 3);
    }

    #[test]
    fn shoppers_are_reproducible_and_buy_distinct_items() {
        let items = catalogue(200, 9);
        let a = simulate(&items, 40, 9, stream(9));
        let b = simulate(&items, 40, 9, stream(9));
        assert_eq!(a, b);
        for s in &a {
            assert!(PURCHASES.contains(&s.purchases.len()));
            let mut seen: Vec<usize> = s.purchases.iter().map(|&(i, _)| i).collect();
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), s.purchases.len());
            assert!(s.purchases.iter().all(|&(_, st)| (1..=5).contains(&st)));
            assert!(s.last_oracle_rank >= 1 && s.last_oracle_rank <= items.len());
        }
    }

    /// The structure is learnable: the oracle's Recall@10 on 2,000 demo items is far above
    /// chance (10 / 2,000) and above what popularity alone can reach.
    #[test]
    fn the_oracle_ceiling_is_far_above_chance() {
        let items = catalogue(2000, 7);
        let shoppers = simulate(&items, 600, 7, stream(7));
        let at = |k: usize| {
            shoppers.iter().filter(|s| s.last_oracle_rank <= k).count() as f64
                / shoppers.len() as f64
        };
        let (r1, r10) = (at(1), at(10));
        assert!(r10 > 0.15, "oracle R@10 {r10}");
        assert!(r1 > 0.02 && r1 <= r10, "oracle R@1 {r1}");
    }
}

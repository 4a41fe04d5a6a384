//! The training / validation / test split (ARCHITECTURE.md §5): 80/10/10, deterministic from a
//! seed.
//!
//! Items that share a product (several photos of one garment) stay on one side of the split,
//! or a model would be tested on photos of garments it was trained on. The groups are shuffled
//! with the seed and dealt in order until each part holds its share of the items.

use crate::catalog::ItemId;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which part of the split an item is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    Train,
    Validation,
    Test,
}

/// Item ids per part, each in ascending order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    pub train: Vec<ItemId>,
    pub validation: Vec<ItemId>,
    pub test: Vec<ItemId>,
}

/// The fractions of the items for training and validation; the test set gets the rest.
pub const TRAIN_FRACTION: f64 = 0.8;
pub const VALIDATION_FRACTION: f64 = 0.1;

/// Splits `items` (id, product) 80/10/10 by `seed`, keeping each product's items together.
pub fn split(items: &[(ItemId, Option<String>)], seed: u64) -> Split {
    // Groups in a fixed order first (by product, or the item alone), then shuffled.
    let mut by_product: BTreeMap<&str, Vec<ItemId>> = BTreeMap::new();
    let mut groups: Vec<Vec<ItemId>> = Vec::new();
    let mut sorted: Vec<&(ItemId, Option<String>)> = items.iter().collect();
    sorted.sort_by_key(|(id, _)| *id);
    for (id, product) in sorted {
        match product.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => by_product.entry(p).or_default().push(*id),
            None => groups.push(vec![*id]),
        }
    }
    groups.extend(by_product.into_values());
    groups.sort_by_key(|g| g[0]);
    groups.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));

    let n = items.len() as f64;
    let train_until = (n * TRAIN_FRACTION).round() as usize;
    let validation_until = (n * (TRAIN_FRACTION + VALIDATION_FRACTION)).round() as usize;
    let mut out = Split::default();
    let mut dealt = 0usize;
    for group in groups {
        let part = if dealt < train_until {
            &mut out.train
        } else if dealt < validation_until {
            &mut out.validation
        } else {
            &mut out.test
        };
        dealt += group.len();
        part.extend(group);
    }
    out.train.sort_unstable();
    out.validation.sort_unstable();
    out.test.sort_unstable();
    out
}

impl Split {
    /// The part `id` is in, if any.
    pub fn part_of(&self, id: ItemId) -> Option<Part> {
        if self.train.binary_search(&id).is_ok() {
            Some(Part::Train)
        } else if self.validation.binary_search(&id).is_ok() {
            Some(Part::Validation)
        } else if self.test.binary_search(&id).is_ok() {
            Some(Part::Test)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: i64) -> Vec<(ItemId, Option<String>)> {
        (1..=n).map(|id| (id, None)).collect()
    }

    #[test]
    fn eighty_ten_ten_deterministic_by_seed_and_disjoint() {
        let all = items(1000);
        let a = split(&all, 7);
        assert_eq!(
            (a.train.len(), a.validation.len(), a.test.len()),
            (800, 100, 100)
        );
        assert_eq!(a, split(&all, 7));
        assert_ne!(a, split(&all, 8));
        let mut every: Vec<ItemId> = [&a.train[..], &a.validation[..], &a.test[..]].concat();
        every.sort_unstable();
        assert_eq!(every, (1..=1000).collect::<Vec<_>>());
        // The input order does not matter.
        let mut reversed = all.clone();
        reversed.reverse();
        assert_eq!(split(&reversed, 7), a);
        assert_eq!(a.part_of(a.test[0]), Some(Part::Test));
        assert_eq!(a.part_of(5000), None);
    }

    #[test]
    fn items_of_one_product_stay_together() {
        let all: Vec<(ItemId, Option<String>)> = (1..=300)
            .map(|id| (id, Some(format!("p{}", (id - 1) / 3))))
            .collect();
        let s = split(&all, 1);
        for chunk in all.chunks(3) {
            let parts: Vec<_> = chunk.iter().map(|(id, _)| s.part_of(*id)).collect();
            let first = parts[0];
            assert!(parts.iter().all(|p| *p == first), "{chunk:?}");
        }
        let n = s.train.len() as f64 / 300.0;
        assert!((0.75..0.85).contains(&n), "{n}");
        assert!(!s.validation.is_empty() && !s.test.is_empty());
    }
}

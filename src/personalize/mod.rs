//! Personalised recommendations (paper §III, §IV.C, Fig. 5; ARCHITECTURE.md §7).
//!
//! A user's purchases, weighted by their ratings, point to what they will like next:
//! - [`cart`]: eq. (4), the rating-weighted mean of a cart's item embeddings;
//! - [`ksplits`]: splits a mixed cart into uniform sub-carts, each recommended for apart;
//! - [`personaliser`]: an MLP from the cart vector to the embedding of the next item, trained
//!   as a job on leave-last-out histories and saved beside the system's index;
//! - [`baselines`]: popularity, item-kNN collaborative filtering, ALS matrix factorisation and
//!   the cart mean, the methods the personaliser is compared with;
//! - [`eval`]: Recall@K (K = 1…50), NDCG@10 and category accuracy on each test user's
//!   held-out last purchase; [`ceiling`]: on a demo library, the oracle's, which knows the
//!   simulated shoppers' hidden taste;
//! - [`engine`]: what the CLI and the GUI call: open a system's data, recommend per group,
//!   re-rank a visual search for a user.
//!
//! Everything works in *index rows*: a user's ratings of items the system's index lacks are
//! left out (and counted).

pub mod baselines;
pub mod cart;
pub mod ceiling;
pub mod engine;
pub mod eval;
pub mod ksplits;
pub mod personaliser;

use crate::catalog::ItemId;
use crate::error::Result;
use crate::index::EmbeddingIndex;
use crate::store::{Store, UserId};
use cart::CartEntry;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

/// One user's purchases in the order they were made, as index rows with ratings.
#[derive(Debug, Clone, PartialEq)]
pub struct UserHistory {
    pub user_id: UserId,
    pub key: String,
    pub cart: Vec<CartEntry>,
}

/// Every user's history over one index.
#[derive(Debug, Clone, PartialEq)]
pub struct Histories {
    pub users: Vec<UserHistory>,
    /// Ratings of items that are not in the index (left out).
    pub unindexed_ratings: u64,
    /// A hash of every kept (user, item, stars, order): a saved personaliser records the
    /// data it was trained on, so an evaluation never tests it on users it has seen.
    pub data_hash: u64,
}

impl Histories {
    /// Reads every user and rating from `store`, keeping the items `index` holds.
    pub fn load(store: &Store, index: &EmbeddingIndex) -> Result<Histories> {
        let row_of: HashMap<ItemId, usize> = index
            .ids
            .iter()
            .enumerate()
            .map(|(r, &id)| (id, r))
            .collect();
        let keys: HashMap<UserId, String> =
            store.users()?.into_iter().map(|u| (u.id, u.key)).collect();
        let mut users: Vec<UserHistory> = Vec::new();
        let mut unindexed = 0u64;
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let mut mix = |v: i64| {
            for b in v.to_le_bytes() {
                hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        };
        for rating in store.all_ratings()? {
            let Some(&row) = row_of.get(&rating.item_id) else {
                unindexed += 1;
                continue;
            };
            mix(rating.user_id);
            mix(rating.item_id);
            mix(i64::from(rating.stars));
            mix(rating.seq);
            if users.last().is_none_or(|u| u.user_id != rating.user_id) {
                users.push(UserHistory {
                    user_id: rating.user_id,
                    key: keys.get(&rating.user_id).cloned().unwrap_or_default(),
                    cart: Vec::new(),
                });
            }
            if let Some(user) = users.last_mut() {
                user.cart.push(CartEntry {
                    row,
                    stars: f32::from(rating.stars),
                });
            }
        }
        Ok(Histories {
            users,
            unindexed_ratings: unindexed,
            data_hash: hash,
        })
    }

    /// The history of a user, by database id or by key (`demo-user-00003`).
    pub fn find(&self, id_or_key: &str) -> Option<&UserHistory> {
        let id: Option<UserId> = id_or_key.trim().parse().ok();
        self.users
            .iter()
            .find(|u| Some(u.user_id) == id || u.key == id_or_key.trim())
    }
}

/// Which users train, which choose when to stop, and which are tested (indices into
/// [`Histories::users`]). Only users with at least two purchases (a history and a held-out
/// last item) are split; the others only ever add to the training ratings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSplit {
    pub train: Vec<usize>,
    pub validation: Vec<usize>,
    pub test: Vec<usize>,
}

/// The share of eligible users held out for validation, and again for testing.
pub const HELD_OUT_SHARE: f64 = 0.15;

impl UserSplit {
    /// A 70/15/15 split, the same for the same histories and seed.
    pub fn by_seed(histories: &Histories, seed: u64) -> UserSplit {
        let mut eligible: Vec<usize> = (0..histories.users.len())
            .filter(|&u| histories.users[u].cart.len() >= 2)
            .collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        eligible.shuffle(&mut rng);
        let n = eligible.len();
        let held = if n >= 3 {
            ((n as f64 * HELD_OUT_SHARE).round() as usize).max(1)
        } else {
            0
        };
        let test = eligible[..held].to_vec();
        let validation = eligible[held..2 * held].to_vec();
        let mut train = eligible[2 * held..].to_vec();
        train.extend((0..histories.users.len()).filter(|&u| histories.users[u].cart.len() < 2));
        let sorted = |mut v: Vec<usize>| {
            v.sort_unstable();
            v
        };
        UserSplit {
            train: sorted(train),
            validation: sorted(validation),
            test: sorted(test),
        }
    }

    /// Every rating the models may learn from: all of the training users' purchases and the
    /// validation and test users' purchases but their last (held out).
    pub fn training_ratings(&self, histories: &Histories) -> Vec<(usize, CartEntry)> {
        let mut out = Vec::new();
        for &u in &self.train {
            out.extend(histories.users[u].cart.iter().map(|&e| (u, e)));
        }
        for &u in self.validation.iter().chain(&self.test) {
            let cart = &histories.users[u].cart;
            out.extend(cart[..cart.len() - 1].iter().map(|&e| (u, e)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histories(sizes: &[usize]) -> Histories {
        Histories {
            users: sizes
                .iter()
                .enumerate()
                .map(|(u, &n)| UserHistory {
                    user_id: u as i64 + 1,
                    key: format!("u{u}"),
                    cart: (0..n)
                        .map(|i| CartEntry {
                            row: u * 10 + i,
                            stars: 3.0,
                        })
                        .collect(),
                })
                .collect(),
            unindexed_ratings: 0,
            data_hash: 0,
        }
    }

    #[test]
    fn the_split_is_deterministic_disjoint_and_holds_out_last_items() {
        let h = histories(&[5, 6, 1, 7, 5, 5, 6, 7, 5, 5, 6, 2, 5, 5, 5, 6, 7, 5, 5, 5]);
        let a = UserSplit::by_seed(&h, 3);
        assert_eq!(a, UserSplit::by_seed(&h, 3));
        assert_ne!(a, UserSplit::by_seed(&h, 4));
        assert_eq!((a.test.len(), a.validation.len()), (3, 3));
        let mut all: Vec<usize> = a
            .train
            .iter()
            .chain(&a.validation)
            .chain(&a.test)
            .copied()
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..20).collect::<Vec<_>>());
        // The one-purchase user is only ever trained on.
        assert!(a.train.contains(&2));
        let ratings = a.training_ratings(&h);
        for &u in a.test.iter().chain(&a.validation) {
            let last = *h.users[u].cart.last().unwrap();
            assert!(!ratings.iter().any(|&(v, e)| v == u && e == last));
        }
        let total: usize = h.users.iter().map(|u| u.cart.len()).sum();
        assert_eq!(ratings.len(), total - 6);
    }

    #[test]
    fn users_are_found_by_id_or_key() {
        let h = histories(&[2, 3]);
        assert_eq!(h.find("2").unwrap().key, "u1");
        assert_eq!(h.find("u0").unwrap().user_id, 1);
        assert!(h.find("nobody").is_none());
    }

    #[test]
    fn histories_come_from_the_store_in_purchase_order_over_indexed_items() {
        use crate::catalog::{NewItem, Source};
        let mut store = Store::open_in_memory().unwrap();
        let write = |store: &mut Store, stars_of_b: u8| {
            store
                .write(|w| {
                    let mut ids = Vec::new();
                    for k in ["a", "b", "c"] {
                        ids.push(w.insert_item(&NewItem {
                            key: k.into(),
                            source: Source::Csv,
                            title: k.into(),
                            image: format!("{k}.png"),
                            width_px: 1,
                            height_px: 1,
                            product: None,
                            partition: None,
                            in_stock: None,
                            labels: vec![],
                        })?);
                    }
                    let u = w.insert_user("shopper", Source::Demo)?;
                    // Bought c first, then a, then b (which the index lacks).
                    w.insert_rating(u, ids[0], 5, 2)?;
                    w.insert_rating(u, ids[2], 3, 1)?;
                    w.insert_rating(u, ids[1], stars_of_b, 3)?;
                    w.insert_user("nobody", Source::Demo)?;
                    Ok(ids)
                })
                .unwrap()
        };
        let ids = write(&mut store, 4);
        let mut index = EmbeddingIndex::empty("t", "f", 1);
        // Rows: c, a.
        index.ids = vec![ids[2], ids[0]];
        index.matrix = vec![1.0, 1.0].into();
        let h = Histories::load(&store, &index).unwrap();
        assert_eq!(h.users.len(), 1, "a user without ratings has no history");
        assert_eq!(h.users[0].key, "shopper");
        assert_eq!(
            h.users[0].cart,
            vec![
                CartEntry { row: 0, stars: 3.0 },
                CartEntry { row: 1, stars: 5.0 }
            ]
        );
        assert_eq!(h.unindexed_ratings, 1);
        let listed = store.users().unwrap();
        assert_eq!(listed.iter().map(|u| u.ratings).collect::<Vec<_>>(), [3, 0]);
        // Another rating of an indexed item changes the hash a saved personaliser records.
        let before = h.data_hash;
        store
            .write(|w| w.insert_rating(h.users[0].user_id, ids[0], 1, 2))
            .unwrap();
        assert_ne!(Histories::load(&store, &index).unwrap().data_hash, before);
    }
}

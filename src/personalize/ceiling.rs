//! The oracle ceiling of a demo library (issue 16, item 4): the Recall@K of a ranker that
//! knows each simulated shopper's hidden taste, on the evaluation's own test users.
//!
//! The demo generator saved, per shopper, the oracle's rank of the last purchase among the
//! items not bought before it ([`crate::sources::demo::shoppers`]). That is exactly what the
//! evaluation asks of every method (rank the held-out last purchase, the history excluded),
//! so those ranks *are* the oracle's, provided the library still holds what was generated:
//! every demo item indexed (no more, no fewer: the ranks are among them) and each test
//! user's history unchanged. Anything else and the ceiling is left out, with the reason.

use super::eval::MethodMetrics;
use super::{Histories, UserSplit};
use crate::catalog::ItemId;
use crate::error::Result;
use crate::sources::demo::shoppers::OracleFile;
use std::collections::HashMap;
use std::path::Path;

/// The method name the ceiling is reported under.
pub const ORACLE_NAME: &str = "oracle (ceiling)";

/// What [`oracle_ceiling`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Ceiling {
    /// Not a demo library (or one drawn before shoppers had an oracle).
    None,
    /// The oracle's metrics on the test users.
    Measured(MethodMetrics),
    /// A demo library whose data no longer matches what the generator saved.
    Missing(String),
}

/// The oracle's metrics on `split.test`, from the ranks saved in `root`. `row_keys[row]` is
/// the item key of each index row.
pub fn oracle_ceiling(
    root: &Path,
    histories: &Histories,
    split: &UserSplit,
    row_keys: &[String],
) -> Result<Ceiling> {
    let Some(file) = OracleFile::load(root)? else {
        return Ok(Ceiling::None);
    };
    let demo_rows = row_keys.iter().filter(|k| k.starts_with("demo-")).count();
    if demo_rows != file.items || row_keys.len() != file.items {
        return Ok(Ceiling::Missing(format!(
            "the index holds {} items ({demo_rows} from the demo) but the oracle ranked among \
             the demo's {}",
            row_keys.len(),
            file.items
        )));
    }
    let by_key: HashMap<&str, _> = file.users.iter().map(|u| (u.key.as_str(), u)).collect();
    let mut ranks = Vec::with_capacity(split.test.len());
    for &u in &split.test {
        let user = &histories.users[u];
        let Some(saved) = by_key.get(user.key.as_str()) else {
            return Ok(Ceiling::Missing(format!(
                "test user {} is not one of the demo's shoppers",
                user.key
            )));
        };
        let Some(last) = user.cart.last() else {
            continue;
        };
        let last_key = row_keys.get(last.row).map(String::as_str).unwrap_or("");
        if saved.history + 1 != user.cart.len() || saved.last_item != last_key {
            return Ok(Ceiling::Missing(format!(
                "the ratings of {} changed since the demo was drawn",
                user.key
            )));
        }
        ranks.push(saved.oracle_rank);
    }
    let mut metrics = MethodMetrics::from_ranks(ORACLE_NAME, &ranks);
    let hits = split
        .test
        .iter()
        .filter_map(|&u| by_key.get(histories.users[u].key.as_str()))
        .filter(|s| s.top_same_category)
        .count();
    metrics.category_accuracy = Some(hits as f64 / ranks.len().max(1) as f64);
    Ok(Ceiling::Measured(metrics))
}

/// The item key of every index row, from the store (`ids` in row order).
pub fn row_keys(store: &crate::store::Store, ids: &[ItemId]) -> Result<Vec<String>> {
    let keys: HashMap<ItemId, String> = store
        .items(&Default::default())?
        .into_iter()
        .map(|item| (item.id, item.key))
        .collect();
    Ok(ids
        .iter()
        .map(|id| keys.get(id).cloned().unwrap_or_default())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::Library;
    use crate::personalize::UserHistory;
    use crate::personalize::cart::CartEntry;
    use crate::sources::demo::shoppers::{ORACLE_FILE, OracleUser};

    fn setup(ranks: &[usize]) -> (tempfile::TempDir, Histories, UserSplit, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let row_keys: Vec<String> = (0..10).map(|i| format!("demo-{i:06}")).collect();
        let users: Vec<UserHistory> = ranks
            .iter()
            .enumerate()
            .map(|(u, _)| UserHistory {
                user_id: u as i64 + 1,
                key: format!("demo-user-{u:05}"),
                cart: vec![
                    CartEntry { row: u, stars: 4.0 },
                    CartEntry {
                        row: u + 1,
                        stars: 5.0,
                    },
                ],
            })
            .collect();
        let file = OracleFile {
            format: 1,
            seed: 1,
            items: 10,
            users: ranks
                .iter()
                .enumerate()
                .map(|(u, &r)| OracleUser {
                    key: format!("demo-user-{u:05}"),
                    history: 1,
                    last_item: format!("demo-{:06}", u + 1),
                    oracle_rank: r,
                    top_same_category: r == 1,
                })
                .collect(),
        };
        std::fs::write(
            dir.path().join(ORACLE_FILE),
            serde_json::to_vec(&file).unwrap(),
        )
        .unwrap();
        let histories = Histories {
            users,
            unindexed_ratings: 0,
            data_hash: 0,
        };
        let split = UserSplit {
            train: vec![],
            validation: vec![],
            test: (0..ranks.len()).collect(),
        };
        (dir, histories, split, row_keys)
    }

    #[test]
    fn the_saved_ranks_are_the_oracles_recall() {
        let (dir, h, split, keys) = setup(&[1, 4, 20, 2]);
        let Ceiling::Measured(m) = oracle_ceiling(dir.path(), &h, &split, &keys).unwrap() else {
            panic!("no ceiling");
        };
        assert_eq!(m.recall(1), 0.25);
        assert_eq!(m.recall(10), 0.75);
        assert_eq!(m.category_accuracy, Some(0.25));
    }

    #[test]
    fn changed_ratings_or_index_leave_the_ceiling_out_with_the_reason() {
        let (dir, mut h, split, keys) = setup(&[1, 4]);
        h.users[1].cart[1].row = 7;
        let Ceiling::Missing(why) = oracle_ceiling(dir.path(), &h, &split, &keys).unwrap() else {
            panic!("a ceiling for changed ratings");
        };
        assert!(why.contains("demo-user-00001"), "{why}");
        let (dir, h, split, mut keys) = setup(&[1, 4]);
        keys.push("shop-1".into());
        let out = oracle_ceiling(dir.path(), &h, &split, &keys).unwrap();
        assert!(
            matches!(out, Ceiling::Missing(ref w) if w.contains("11 items")),
            "{out:?}"
        );
        let plain_dir = tempfile::tempdir().unwrap();
        let plain = Library::open(plain_dir.path()).unwrap();
        assert_eq!(
            oracle_ceiling(plain.root(), &h, &split, &keys).unwrap(),
            Ceiling::None
        );
    }
}

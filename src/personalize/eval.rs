//! Recall@K and NDCG@10 on held-out purchases (paper §IV.C, Fig. 5).
//!
//! Each test user's last purchase is hidden; every method ranks the whole catalogue from the
//! rest of the user's history, with the items already in that history removed (a shop does
//! not recommend what was just bought). With one held-out item, Recall@K is the share of
//! test users whose hidden item is in the top K, and NDCG@10 is the mean of
//! `1 / log2(rank + 1)` over users whose item ranks in the top 10 (the ideal DCG is 1).
//!
//! **Category accuracy** is this project's counterpart of the paper's personaliser accuracy
//! (78.4 %, whose definition the paper does not give): the share of test users whose held-out
//! item has the category of the method's top recommendation: did the method guess *what
//! kind* of thing comes next, if not the very item. Items without a category label count as
//! misses.
//!
//! On a demo library the report also carries the **oracle ceiling**: the Recall@K of a ranker
//! that knows each simulated shopper's hidden taste (see
//! [`crate::sources::demo::shoppers`]), read from the ranks the generator saved. No method
//! that sees only purchases can expect to beat it.

use super::baselines::Recommender;
use super::cart::CartEntry;
use super::{Histories, UserSplit};
use crate::error::Result;
use crate::jobs::JobContext;
use serde::{Deserialize, Serialize};

/// Recall is measured for K = 1 … MAX_K.
pub const MAX_K: usize = 50;
/// The K values of the JSON summary.
pub const SUMMARY_KS: [usize; 5] = [1, 5, 10, 20, 50];

/// The 1-based rank of `target` among the rows not in `exclude`, by `scores` (higher is
/// better; ties go to the lower row, as the search does). `target` itself is never excluded.
pub fn rank_of(scores: &[f32], target: usize, exclude: &[usize]) -> usize {
    let t = scores[target];
    let mut ahead = 0usize;
    for (row, &s) in scores.iter().enumerate() {
        if row == target || exclude.contains(&row) {
            continue;
        }
        // NaN scores (a broken model) rank last.
        let better = if t.is_nan() {
            !s.is_nan() || row < target
        } else {
            s > t || (s == t && row < target)
        };
        if better {
            ahead += 1;
        }
    }
    ahead + 1
}

/// The metrics of one method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodMetrics {
    pub name: String,
    /// `recall_at[k - 1]` = Recall@k for k = 1 … [`MAX_K`].
    pub recall_at: Vec<f64>,
    pub ndcg10: f64,
    /// The share of users whose held-out item has the category of the top recommendation
    /// (`None` when not measured); see the module docs.
    pub category_accuracy: Option<f64>,
}

impl MethodMetrics {
    /// The metrics of the ranks a method gave each test user's held-out item.
    pub fn from_ranks(name: &str, ranks: &[usize]) -> MethodMetrics {
        let n = ranks.len().max(1) as f64;
        let recall_at = (1..=MAX_K)
            .map(|k| ranks.iter().filter(|&&r| r <= k).count() as f64 / n)
            .collect();
        let ndcg10 = ranks
            .iter()
            .filter(|&&r| r <= 10)
            .map(|&r| 1.0 / ((r + 1) as f64).log2())
            .sum::<f64>()
            / n
            + 0.0; // An empty float sum is -0.0.
        MethodMetrics {
            name: name.to_owned(),
            recall_at,
            ndcg10,
            category_accuracy: None,
        }
    }

    /// The standard error of Recall@k over `users` test users, `√(r(1−r)/n)`: the "±" of
    /// the reports.
    pub fn recall_standard_error(&self, k: usize, users: usize) -> f64 {
        let r = self.recall(k);
        (r * (1.0 - r) / users.max(1) as f64).sqrt()
    }

    /// Recall@k (0 outside 1 … MAX_K).
    pub fn recall(&self, k: usize) -> f64 {
        k.checked_sub(1)
            .and_then(|i| self.recall_at.get(i))
            .copied()
            .unwrap_or(0.0)
    }
}

/// What [`evaluate`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalReport {
    pub system: String,
    pub users_tested: usize,
    pub methods: Vec<MethodMetrics>,
    /// The oracle's metrics on the same test users (demo libraries only); see the module
    /// docs.
    pub ceiling: Option<MethodMetrics>,
    /// Why a demo library has no ceiling here (its ratings or index no longer match what
    /// the generator saved); `None` when there is a ceiling or the library is not a demo.
    pub ceiling_missing: Option<String>,
}

/// The `--json` shape (ARCHITECTURE.md §10, issue 7): summary K values only.
#[derive(Serialize)]
pub struct EvalJson<'a> {
    pub users_tested: usize,
    pub methods: Vec<MethodJson<'a>>,
    /// The oracle ceiling (demo libraries), else `null`.
    pub ceiling: Option<MethodJson<'a>>,
}

#[derive(Serialize)]
pub struct MethodJson<'a> {
    pub name: &'a str,
    pub recall: RecallJson,
    /// The standard error of Recall@10.
    pub recall10_se: f64,
    pub ndcg10: f64,
    pub category_accuracy: Option<f64>,
}

/// Recall at the [`SUMMARY_KS`], keyed by K as a string, in K order.
#[derive(Serialize)]
pub struct RecallJson {
    #[serde(rename = "1")]
    pub at1: f64,
    #[serde(rename = "5")]
    pub at5: f64,
    #[serde(rename = "10")]
    pub at10: f64,
    #[serde(rename = "20")]
    pub at20: f64,
    #[serde(rename = "50")]
    pub at50: f64,
}

impl EvalReport {
    /// The report in the JSON contract's shape.
    pub fn to_json(&self) -> EvalJson<'_> {
        let users = self.users_tested;
        EvalJson {
            users_tested: self.users_tested,
            methods: self.methods.iter().map(|m| m.summary_json(users)).collect(),
            ceiling: self.ceiling.as_ref().map(|m| m.summary_json(users)),
        }
    }

    /// The methods, then the ceiling if there is one (what tables and plots show).
    pub fn rows(&self) -> impl Iterator<Item = &MethodMetrics> {
        self.methods.iter().chain(&self.ceiling)
    }

    /// A CSV table: one row per method (and the ceiling, last); see [`metrics_csv`].
    pub fn to_csv(&self) -> String {
        metrics_csv(self.rows().map(|m| (m.name.as_str(), m)))
    }
}

/// A CSV table of `(row name, metrics)`:
/// `method,recall@1,…,recall@50,ndcg@10,category_accuracy` (empty when not measured).
pub fn metrics_csv<'a>(rows: impl IntoIterator<Item = (&'a str, &'a MethodMetrics)>) -> String {
    let mut out = String::from("method");
    for k in 1..=MAX_K {
        out.push_str(&format!(",recall@{k}"));
    }
    out.push_str(",ndcg@10,category_accuracy\n");
    for (name, m) in rows {
        out.push_str(name);
        for r in &m.recall_at {
            out.push_str(&format!(",{r:.6}"));
        }
        out.push_str(&format!(",{:.6},", m.ndcg10));
        if let Some(a) = m.category_accuracy {
            out.push_str(&format!("{a:.6}"));
        }
        out.push('\n');
    }
    out
}

impl MethodMetrics {
    /// The JSON contract's summary of this method over `users` test users.
    pub fn summary_json(&self, users: usize) -> MethodJson<'_> {
        MethodJson {
            name: &self.name,
            recall: RecallJson {
                at1: self.recall(1),
                at5: self.recall(5),
                at10: self.recall(10),
                at20: self.recall(20),
                at50: self.recall(50),
            },
            recall10_se: self.recall_standard_error(10, users),
            ndcg10: self.ndcg10,
            category_accuracy: self.category_accuracy,
        }
    }
}

/// Ranks every test user's held-out last purchase with each method (see the module docs).
/// `categories[row]` is each index row's category label, for the category accuracy.
pub fn evaluate(
    system: &str,
    histories: &Histories,
    split: &UserSplit,
    methods: &[&dyn Recommender],
    categories: &[Option<String>],
    ctx: &JobContext,
) -> Result<EvalReport> {
    let total = (methods.len() * split.test.len()) as u64;
    let mut done = 0u64;
    let mut out = Vec::with_capacity(methods.len());
    for method in methods {
        let mut ranks = Vec::with_capacity(split.test.len());
        let mut category_hits = 0usize;
        for &u in &split.test {
            ctx.check_cancelled()?;
            let cart = &histories.users[u].cart;
            let (history, last) = cart.split_at(cart.len() - 1);
            let scores = method.scores(history)?;
            let exclude: Vec<usize> = history.iter().map(|e: &CartEntry| e.row).collect();
            ranks.push(rank_of(&scores, last[0].row, &exclude));
            if let Some(top) = top_row(&scores, &exclude)
                && same_category(categories, top, last[0].row)
            {
                category_hits += 1;
            }
            done += 1;
            if done.is_multiple_of(16) {
                ctx.progress(done, total, &format!("testing {}", method.name()));
            }
        }
        let mut metrics = MethodMetrics::from_ranks(method.name(), &ranks);
        metrics.category_accuracy = Some(category_hits as f64 / split.test.len().max(1) as f64);
        out.push(metrics);
    }
    ctx.progress(total, total, "done");
    Ok(EvalReport {
        system: system.to_owned(),
        users_tested: split.test.len(),
        methods: out,
        ceiling: None,
        ceiling_missing: None,
    })
}

/// The best-scored row not in `exclude` (ties to the lower row, NaN last), as [`rank_of`]
/// orders them.
pub fn top_row(scores: &[f32], exclude: &[usize]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (row, &s) in scores.iter().enumerate() {
        if exclude.contains(&row) || s.is_nan() {
            continue;
        }
        if best.is_none_or(|b| s > scores[b]) {
            best = Some(row);
        }
    }
    best.or_else(|| (0..scores.len()).find(|r| !exclude.contains(r)))
}

/// Whether two rows have the same (known) category.
fn same_category(categories: &[Option<String>], a: usize, b: usize) -> bool {
    match (categories.get(a), categories.get(b)) {
        (Some(Some(x)), Some(Some(y))) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_skip_the_history_and_break_ties_by_row() {
        let scores = [0.9, 0.5, 0.7, 0.7, 0.1];
        assert_eq!(rank_of(&scores, 0, &[]), 1);
        assert_eq!(rank_of(&scores, 2, &[]), 2);
        // Row 3 ties with row 2, which comes first.
        assert_eq!(rank_of(&scores, 3, &[]), 3);
        // Excluding the bought items moves the target up.
        assert_eq!(rank_of(&scores, 3, &[0, 2]), 1);
        assert_eq!(rank_of(&scores, 4, &[0]), 4);
    }

    #[test]
    fn the_top_row_skips_the_history_and_nan_and_breaks_ties_by_row() {
        assert_eq!(top_row(&[0.2, 0.9, 0.9, 0.1], &[]), Some(1));
        assert_eq!(top_row(&[0.2, 0.9, 0.9, 0.1], &[1]), Some(2));
        assert_eq!(top_row(&[f32::NAN, 0.1], &[]), Some(1));
        assert_eq!(top_row(&[f32::NAN, f32::NAN], &[0]), Some(1));
        assert_eq!(top_row(&[0.5], &[0]), None);
    }

    struct Fixed(Vec<f32>);

    impl Recommender for Fixed {
        fn name(&self) -> &'static str {
            "fixed"
        }
        fn scores(&self, _cart: &[CartEntry]) -> Result<Vec<f32>> {
            Ok(self.0.clone())
        }
    }

    #[test]
    fn category_accuracy_is_the_share_whose_top_item_shares_the_held_out_category() {
        use super::super::{Histories, UserHistory};
        let entry = |row| CartEntry { row, stars: 4.0 };
        // Rows 0–1 are tops, 2–3 bags, 4 has no category.
        let categories: Vec<Option<String>> = ["top", "top", "bag", "bag"]
            .iter()
            .map(|c| Some(c.to_string()))
            .chain([None])
            .collect();
        let users = vec![
            // Bought row 0, then row 1 (a top): the top recommendation is row 2 (a bag).
            UserHistory {
                user_id: 1,
                key: "a".into(),
                cart: vec![entry(0), entry(1)],
            },
            // Bought row 3, then row 2 (a bag): a hit.
            UserHistory {
                user_id: 2,
                key: "b".into(),
                cart: vec![entry(3), entry(2)],
            },
        ];
        let histories = Histories {
            users,
            unindexed_ratings: 0,
            data_hash: 0,
        };
        let split = UserSplit {
            train: vec![],
            validation: vec![],
            test: vec![0, 1],
        };
        let method = Fixed(vec![0.1, 0.2, 0.9, 0.3, 0.0]);
        let report = evaluate(
            "s",
            &histories,
            &split,
            &[&method],
            &categories,
            &JobContext::silent(),
        )
        .unwrap();
        assert_eq!(report.methods[0].category_accuracy, Some(0.5));
        assert_eq!(report.methods[0].recall(1), 0.5);
    }

    #[test]
    fn recall_and_ndcg_on_a_hand_made_example() {
        // Four users whose held-out items ranked 1, 3, 12 and 60.
        let m = MethodMetrics::from_ranks("x", &[1, 3, 12, 60]);
        assert_eq!(m.recall(1), 0.25);
        assert_eq!(m.recall(2), 0.25);
        assert_eq!(m.recall(3), 0.5);
        assert_eq!(m.recall(10), 0.5);
        assert_eq!(m.recall(12), 0.75);
        assert_eq!(m.recall(50), 0.75);
        assert_eq!(m.recall_at.len(), MAX_K);
        // NDCG@10: (1/log2(2) + 1/log2(4)) / 4 = (1 + 0.5) / 4.
        assert!((m.ndcg10 - 0.375).abs() < 1e-12);
        // Recall never falls as K grows.
        assert!(m.recall_at.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn json_has_the_contracted_keys_and_csv_every_k() {
        let report = EvalReport {
            system: "s".into(),
            users_tested: 4,
            methods: vec![MethodMetrics::from_ranks("popularity", &[1, 3, 12, 60])],
            ceiling: Some(MethodMetrics::from_ranks("oracle", &[1, 1, 2, 3])),
            ceiling_missing: None,
        };
        let json = serde_json::to_value(report.to_json()).unwrap();
        assert_eq!(json["users_tested"], 4);
        let recall = json["methods"][0]["recall"].as_object().unwrap();
        let keys: Vec<&str> = recall.keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 5);
        for k in ["1", "5", "10", "20", "50"] {
            assert!(keys.contains(&k));
        }
        assert_eq!(json["methods"][0]["recall"]["10"], 0.5);
        assert_eq!(json["methods"][0]["ndcg10"], 0.375);
        let csv = report.to_csv();
        let header = csv.lines().next().unwrap();
        assert_eq!(header.split(',').count(), 1 + MAX_K + 2);
        assert_eq!(json["ceiling"]["recall"]["1"], 0.5);
        // √(0.5 · 0.5 / 4) = 0.25.
        assert_eq!(json["methods"][0]["recall10_se"], 0.25);
        assert!(csv.lines().nth(2).unwrap().starts_with("oracle,0.500000,"));
        assert!(
            csv.lines()
                .nth(1)
                .unwrap()
                .starts_with("popularity,0.250000,")
        );
    }
}

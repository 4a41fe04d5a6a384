//! Fig. 5: feature extractors compared by the Recall@K (K = 1…50) of the cart-based
//! recommender, beside the collaborative-filtering baselines (paper §IV.C).
//!
//! For each system (feature extractor) with an index in the library, the cart mean of eq. (4)
//! (rating-weighted mean embedding, cosine ranking: [`CartMean`]) is measured twice: on the
//! whole cart, and on its K-Splits groups with their rankings merged as the engine serves
//! them ([`KSplitsRecommender`]). A personaliser saved for the system is measured the same
//! two ways when it was trained with this seed on these ratings (it is never trained here).
//! Popularity, item-kNN and ALS do not depend on the extractor and are measured once, and on
//! a demo library so is the oracle ceiling. Everything goes through
//! [`crate::personalize::eval::evaluate`] with the user split of
//! [`crate::personalize::UserSplit::by_seed`], so each number is the one
//! `vitrine personalize eval` reports for the same system and seed.
//!
//! The last run is saved as `DIR/experiments/fig5.json` ([`fig5_path`]), which the GUI shows
//! until the next one.

use crate::error::{Error, Result};
use crate::jobs::JobContext;
use crate::library::Library;
use crate::model::system::System;
use crate::personalize::baselines::{CartMean, Recommender};
use crate::personalize::ceiling::Ceiling;
use crate::personalize::engine::{
    Baselines, KSplitsRecommender, PersonalizeEngine, saved_personaliser, split_with_test_users,
};
use crate::personalize::eval::{MethodJson, MethodMetrics, evaluate};
use crate::search::{Opened, Searcher};
use candle_core::Device;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where the last run is saved, relative to the library.
pub const FIG5_FILE: &str = "experiments/fig5.json";

/// The saved last run of the library at `root`.
pub fn fig5_path(root: &Path) -> PathBuf {
    root.join(FIG5_FILE)
}

/// How a note that the report could not be saved begins.
pub const NOT_SAVED: &str = "not saved";

/// What to compare.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fig5Options {
    /// The systems, in this order; empty: every system whose index is up to date, the
    /// built-in one first.
    pub systems: Vec<String>,
    /// The user split (as `personalize eval --seed`).
    pub seed: u64,
}

/// What a row measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowKind {
    /// A content method on one feature extractor.
    Extractor,
    /// A collaborative-filtering baseline (no extractor).
    Baseline,
    /// The oracle ceiling of a demo library.
    Ceiling,
}

/// One curve of the figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fig5Row {
    pub kind: RowKind,
    /// The feature extractor (`None` for the baselines and the ceiling).
    pub system: Option<String>,
    /// Whether the cart was split by K-Splits first.
    pub ksplits: bool,
    pub users_tested: usize,
    /// `metrics.name` is the method's (`cart-mean`, `cart-mean + K-Splits`, `popularity` …).
    pub metrics: MethodMetrics,
}

impl Fig5Row {
    /// The row's name in tables and legends: the system, then the method.
    pub fn label(&self) -> String {
        match &self.system {
            Some(system) => format!("{system} {}", self.metrics.name),
            None => self.metrics.name.clone(),
        }
    }
}

/// A run of the experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fig5Report {
    pub seed: u64,
    /// The test users of the first system (and of the baselines and the ceiling).
    pub users_tested: usize,
    /// Each system's rows in turn, then the baselines, then the ceiling.
    pub rows: Vec<Fig5Row>,
    /// What was left out and why (systems without an index, personalisers not measured,
    /// no ceiling).
    pub notes: Vec<String>,
    pub elapsed_secs: f64,
}

/// The `--json` shape: each row's summary (K = 1, 5, 10, 20, 50) as `personalize eval
/// --json` gives it, with the row's label, system and K-Splits flag.
#[derive(Serialize)]
pub struct Fig5Json<'a> {
    pub seed: u64,
    pub users_tested: usize,
    pub rows: Vec<RowJson<'a>>,
    pub notes: &'a [String],
    pub elapsed_secs: f64,
}

#[derive(Serialize)]
pub struct RowJson<'a> {
    pub label: String,
    pub kind: RowKind,
    pub system: Option<&'a str>,
    pub ksplits: bool,
    pub users_tested: usize,
    #[serde(flatten)]
    pub metrics: MethodJson<'a>,
}

impl Fig5Report {
    /// The report in the `--json` shape.
    pub fn to_json(&self) -> Fig5Json<'_> {
        Fig5Json {
            seed: self.seed,
            users_tested: self.users_tested,
            rows: self
                .rows
                .iter()
                .map(|row| RowJson {
                    label: row.label(),
                    kind: row.kind,
                    system: row.system.as_deref(),
                    ksplits: row.ksplits,
                    users_tested: row.users_tested,
                    metrics: row.metrics.summary_json(row.users_tested),
                })
                .collect(),
            notes: &self.notes,
            elapsed_secs: self.elapsed_secs,
        }
    }

    /// Every row's Recall@1…50 and NDCG@10 as CSV, named by [`Fig5Row::label`].
    pub fn to_csv(&self) -> String {
        let labels: Vec<String> = self.rows.iter().map(Fig5Row::label).collect();
        crate::personalize::eval::metrics_csv(
            labels
                .iter()
                .map(String::as_str)
                .zip(self.rows.iter().map(|r| &r.metrics)),
        )
    }

    /// Saves the report as the library's last run ([`fig5_path`]).
    pub fn save(&self, root: &Path) -> Result<()> {
        let path = fig5_path(root);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::file(&path, format!("cannot write the report: {e}")))?;
        crate::atomic_file::write(&path, &json)
    }

    /// The library's last run, if it has one.
    pub fn load_last(root: &Path) -> Result<Option<Fig5Report>> {
        let path = fig5_path(root);
        if !path.exists() {
            return Ok(None);
        }
        let data = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        serde_json::from_slice(&data)
            .map(Some)
            .map_err(|e| Error::file(&path, format!("not a Fig. 5 report: {e}")))
    }
}

/// Runs the experiment on the library at `root` (see the module docs) and saves the report
/// (a library that cannot be written keeps nothing, and the report's notes say so).
/// Nothing is indexed or trained: a named system without an up-to-date index is an error
/// naming the command that builds it.
pub fn run(
    root: &Path,
    options: &Fig5Options,
    device: &Device,
    ctx: &JobContext,
) -> Result<Fig5Report> {
    let started = Instant::now();
    let lib = Library::open_for_reading(root)?;
    if lib.store.users()?.iter().all(|u| u.ratings == 0) {
        return Err(Error::Invalid(
            "this library has no ratings: Fig. 5 needs shoppers' purchases (`vitrine demo` \
             draws some, `vitrine import amazon --reviews` imports them)"
                .into(),
        ));
    }
    let mut notes = Vec::new();
    let names = if options.systems.is_empty() {
        System::list(&lib)?.into_iter().map(|s| s.name).collect()
    } else {
        options.systems.clone()
    };
    let mut rows = Vec::new();
    let mut users_tested = None;
    for name in &names {
        ctx.check_cancelled()?;
        ctx.progress(0, 0, &format!("opening {name}"));
        let searcher = match Searcher::open_or_needs_index(&lib, name, device) {
            Ok(Opened::Ready(searcher)) => *searcher,
            Ok(Opened::NeedsIndex(why)) | Err(why) if options.systems.is_empty() => {
                notes.push(format!("{name} left out: {why}"));
                continue;
            }
            Ok(Opened::NeedsIndex(why)) => {
                let why = why.to_string();
                let hint = if why.contains("vitrine index") {
                    String::new()
                } else {
                    format!("; run `vitrine index --system {name}`")
                };
                return Err(Error::Invalid(format!(
                    "the system {name} has no up-to-date index: {why}{hint}"
                )));
            }
            Err(e) => return Err(e),
        };
        let mut engine = PersonalizeEngine::from_searcher(&lib, searcher)?;
        load_personaliser(root, &mut engine, options.seed, &mut notes);
        let first = users_tested.is_none();
        let tested = system_rows(
            root,
            &engine,
            options.seed,
            first,
            &mut rows,
            &mut notes,
            ctx,
        )?;
        match users_tested {
            None => users_tested = Some(tested),
            Some(n) if n != tested => notes.push(format!(
                "{name} was tested on {tested} users, not {n}: its index holds other items"
            )),
            Some(_) => {}
        }
    }
    let Some(users_tested) = users_tested else {
        return Err(Error::Invalid(format!(
            "no system has an up-to-date index; build one with `vitrine index --system NAME` \
             ({})",
            notes.join("; ")
        )));
    };
    // The baselines and the ceiling (measured with the first system) go last.
    rows.sort_by_key(|r| match r.kind {
        RowKind::Extractor => 0,
        RowKind::Baseline => 1,
        RowKind::Ceiling => 2,
    });
    ctx.check_cancelled()?;
    let mut report = Fig5Report {
        seed: options.seed,
        users_tested,
        rows,
        notes,
        elapsed_secs: started.elapsed().as_secs_f64(),
    };
    // A library that cannot be written still gets its figures, with a word why they are not
    // kept.
    if let Err(e) = report.save(root) {
        report.notes.push(format!("{NOT_SAVED}: {e}"));
    }
    Ok(report)
}

/// Measures one system's rows into `rows` (and, for the `first` system, the baselines and the
/// ceiling); returns its number of test users.
fn system_rows(
    root: &Path,
    engine: &PersonalizeEngine,
    seed: u64,
    first: bool,
    rows: &mut Vec<Fig5Row>,
    notes: &mut Vec<String>,
    ctx: &JobContext,
) -> Result<usize> {
    let system = engine.searcher.system_name().to_owned();
    let split = split_with_test_users(&engine.histories, seed)?;
    let index = engine.searcher.index();
    let cart_mean = CartMean { index };
    let cart_mean_split = KSplitsRecommender {
        engine,
        inner: &cart_mean,
        name: "cart-mean + K-Splits",
    };
    let personal = engine
        .personaliser_for(seed)
        .map(|net| net.recommender(index));
    let personal_split = personal.as_ref().map(|inner| KSplitsRecommender {
        engine,
        inner,
        name: "personaliser + K-Splits",
    });
    let baselines = first.then(|| {
        ctx.progress(0, 0, "fitting the baselines");
        Baselines::fit(&engine.histories, &split, index.len(), seed)
    });
    let mut methods: Vec<(&dyn Recommender, RowKind, bool)> = vec![
        (&cart_mean, RowKind::Extractor, false),
        (&cart_mean_split, RowKind::Extractor, true),
    ];
    if let (Some(p), Some(ps)) = (&personal, &personal_split) {
        methods.push((p, RowKind::Extractor, false));
        methods.push((ps, RowKind::Extractor, true));
    }
    if let Some(b) = &baselines {
        methods.extend(b.methods().map(|m| (m, RowKind::Baseline, false)));
    }
    let recommenders: Vec<&dyn Recommender> = methods.iter().map(|m| m.0).collect();
    let report = evaluate(
        &system,
        &engine.histories,
        &split,
        &recommenders,
        &engine.categories(),
        ctx,
    )?;
    let tested = report.users_tested;
    for ((_, kind, ksplits), metrics) in methods.iter().zip(report.methods) {
        rows.push(Fig5Row {
            kind: *kind,
            system: (*kind == RowKind::Extractor).then(|| system.clone()),
            ksplits: *ksplits,
            users_tested: tested,
            metrics,
        });
    }
    if first {
        match engine.ceiling(root, &split)? {
            Ceiling::None => {}
            Ceiling::Measured(metrics) => rows.push(Fig5Row {
                kind: RowKind::Ceiling,
                system: None,
                ksplits: false,
                users_tested: tested,
                metrics,
            }),
            Ceiling::Missing(why) => notes.push(format!("no oracle ceiling: {why}")),
        }
    }
    Ok(tested)
}

/// Puts the personaliser saved for the engine's system into it; when there is none, or it
/// was not trained with `seed` on these ratings (so it may have seen the test users), a
/// note says it is left out and what would train it.
fn load_personaliser(
    root: &Path,
    engine: &mut PersonalizeEngine,
    seed: u64,
    notes: &mut Vec<String>,
) {
    let system = engine.searcher.system_name().to_owned();
    let train = format!("`vitrine personalize train --system {system} --seed {seed}`");
    match saved_personaliser(root, &engine.searcher) {
        Ok(net) => engine.personaliser = net,
        Err(e) => {
            notes.push(format!("{system}: personaliser left out: {e}"));
            return;
        }
    }
    if engine.personaliser.is_none() {
        notes.push(format!(
            "{system}: no personaliser (none is trained here; {train} trains one)"
        ));
    } else if engine.personaliser_for(seed).is_none() {
        notes.push(format!(
            "{system}: personaliser left out: trained with another seed or other ratings \
             (none is trained here; {train} trains one)"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_reads_back_as_saved_and_names_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Fig5Report::load_last(dir.path()).unwrap(), None);
        let row = |system: Option<&str>, name: &str, kind| Fig5Row {
            kind,
            system: system.map(str::to_owned),
            ksplits: name.contains("K-Splits"),
            users_tested: 4,
            metrics: MethodMetrics::from_ranks(name, &[1, 3, 12, 60]),
        };
        let report = Fig5Report {
            seed: 3,
            users_tested: 4,
            rows: vec![
                row(Some("s"), "cart-mean", RowKind::Extractor),
                row(Some("s"), "cart-mean + K-Splits", RowKind::Extractor),
                row(None, "popularity", RowKind::Baseline),
            ],
            notes: vec!["s: no personaliser".into()],
            elapsed_secs: 1.5,
        };
        report.save(dir.path()).unwrap();
        assert_eq!(
            Fig5Report::load_last(dir.path()).unwrap(),
            Some(report.clone())
        );
        let csv = report.to_csv();
        let names: Vec<&str> = csv
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap())
            .collect();
        assert_eq!(
            names,
            ["s cart-mean", "s cart-mean + K-Splits", "popularity"]
        );
        let json = serde_json::to_value(report.to_json()).unwrap();
        assert_eq!(json["rows"][1]["label"], "s cart-mean + K-Splits");
        assert_eq!(json["rows"][1]["ksplits"], true);
        assert_eq!(json["rows"][2]["kind"], "baseline");
        assert_eq!(json["rows"][0]["recall"]["10"], 0.5);
        std::fs::write(fig5_path(dir.path()), "{").unwrap();
        assert!(Fig5Report::load_last(dir.path()).is_err());
    }
}

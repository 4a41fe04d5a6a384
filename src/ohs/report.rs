//! The study's numbers (paper §IV.D, Table I): per criterion and system the mean hit rate in
//! percent, the weighted OHS, per-scorer tables, bootstrap intervals over queries, and
//! Krippendorff's α (interval metric) per criterion.
//!
//! - Hit rate of system s on criterion c: the mean of `hits / K` over every answer given for
//!   s and c (all queries, all scorers), × 100.
//! - OHS(s) = Σ_c w_c · r'_c / Σ_c w_c, where r'_c is the rate for a "more is better"
//!   criterion and 100 − rate for a "fewer is better" one. Criteria without any answer for s
//!   are left out of both sums (a half-scored study still gives a number, over what is
//!   scored); with none, there is no OHS.
//! - Test IoU (Table I's first row): eq. (5) on a trained system's test split, from its
//!   metrics; a system without (the ImageNet one) has none.
//! - Machine against people, per objective criterion ([`super::prefill::agreement`]).

use super::prefill::{MachineAgreement, agreement};
use super::{Coverage, coverage};
use crate::error::Result;
use crate::store::Store;
use crate::study::{Answer, Criterion, Direction, Study};
use crate::train::metrics::SystemMetrics;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::collections::HashMap;

/// Bootstrap resamples drawn by [`report`].
pub const BOOTSTRAP_ROUNDS: usize = 1000;

/// Why this OHS is not the paper's headline number, said wherever the table is shown.
pub const WEIGHTS_NOTE: &str = "The paper does not publish its criterion weights. Equal \
     weights on the paper's own Table I rows give an OHS of 55-61 %, not its 73-80 %, so an \
     OHS computed here with default (equal) weights is not comparable to the paper's \
     headline numbers; compare systems within one study.";

/// One answer, reduced to indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    pub query: usize,
    pub system: usize,
    pub criterion: usize,
    pub scorer: usize,
    pub hits: u32,
}

/// A study's answers as indices, ready for arithmetic.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreData {
    pub k: u32,
    pub queries: usize,
    pub systems: Vec<String>,
    pub criteria: Vec<Criterion>,
    /// By name.
    pub scorers: Vec<String>,
    pub observations: Vec<Observation>,
}

impl ScoreData {
    /// The answers of `study` that name one of its sheets and criteria.
    pub fn of(study: &Study, answers: &[Answer]) -> ScoreData {
        let mut scorers: Vec<String> = answers.iter().map(|a| a.scorer.clone()).collect();
        scorers.sort();
        scorers.dedup();
        let sheet_of: HashMap<i64, (usize, usize)> = study
            .sheets
            .iter()
            .filter_map(|s| {
                let system = study.systems.iter().position(|n| *n == s.system)?;
                Some((s.id, (s.query, system)))
            })
            .collect();
        let observations = answers
            .iter()
            .filter_map(|a| {
                let &(query, system) = sheet_of.get(&a.sheet_id)?;
                Some(Observation {
                    query,
                    system,
                    criterion: study.criterion_index(&a.criterion)?,
                    scorer: scorers.binary_search(&a.scorer).ok()?,
                    hits: a.hits,
                })
            })
            .collect();
        ScoreData {
            k: study.k,
            queries: study.queries.len(),
            systems: study.systems.clone(),
            criteria: study.criteria.clone(),
            scorers,
            observations,
        }
    }

    /// Percent hit rate per criterion (rows) and system (columns) over the observations
    /// `keep` accepts, each query counted `weight_of(query)` times (1 for the plain table;
    /// the bootstrap's multiplicities otherwise).
    fn percent_where(
        &self,
        keep: impl Fn(&Observation) -> bool,
        weight_of: impl Fn(usize) -> f64,
    ) -> Vec<Vec<Option<f64>>> {
        let (nc, ns) = (self.criteria.len(), self.systems.len());
        let mut sum = vec![vec![0.0f64; ns]; nc];
        let mut count = vec![vec![0.0f64; ns]; nc];
        for o in self.observations.iter().filter(|o| keep(o)) {
            let w = weight_of(o.query);
            sum[o.criterion][o.system] += w * f64::from(o.hits);
            count[o.criterion][o.system] += w;
        }
        let k = f64::from(self.k.max(1));
        (0..nc)
            .map(|c| {
                (0..ns)
                    .map(|s| (count[c][s] > 0.0).then(|| 100.0 * sum[c][s] / (count[c][s] * k)))
                    .collect()
            })
            .collect()
    }

    /// The Table I body: percent per criterion × system over every scorer.
    pub fn percent(&self) -> Vec<Vec<Option<f64>>> {
        self.percent_where(|_| true, |_| 1.0)
    }

    /// Answers per criterion (rows) and system (columns).
    pub fn answer_counts(&self) -> Vec<Vec<usize>> {
        let mut counts = vec![vec![0usize; self.systems.len()]; self.criteria.len()];
        for o in &self.observations {
            counts[o.criterion][o.system] += 1;
        }
        counts
    }

    /// The same table from one scorer's answers.
    pub fn percent_of_scorer(&self, scorer: usize) -> Vec<Vec<Option<f64>>> {
        self.percent_where(|o| o.scorer == scorer, |_| 1.0)
    }
}

/// OHS per system from a percent table (criterion rows), the criteria's directions and the
/// given weights (the study's, or the analyst's sliders).
pub fn ohs(
    percent: &[Vec<Option<f64>>],
    criteria: &[Criterion],
    weights: &[f64],
) -> Vec<Option<f64>> {
    let systems = percent.first().map_or(0, Vec::len);
    (0..systems)
        .map(|s| {
            let mut num = 0.0;
            let mut den = 0.0;
            for ((row, c), &w) in percent.iter().zip(criteria).zip(weights) {
                if let Some(rate) = row[s] {
                    let contribution = match c.direction {
                        Direction::More => rate,
                        Direction::Fewer => 100.0 - rate,
                    };
                    num += w * contribution;
                    den += w;
                }
            }
            (den > 0.0).then(|| num / den)
        })
        .collect()
}

/// System indices from the best OHS to the worst (systems without one last).
pub fn ranking(ohs: &[Option<f64>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..ohs.len()).collect();
    order.sort_by(|&a, &b| match (ohs[a], ohs[b]) {
        (Some(x), Some(y)) => y.total_cmp(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.cmp(&b),
    });
    order
}

/// Krippendorff's α with the interval metric δ² = (a − b)²: `units` holds, per unit (a
/// sheet), the values the coders (scorers) gave it. Units with fewer than two values are not
/// pairable and are left out. `None` when nothing is pairable or every value is the same
/// (the expected disagreement is zero and α is undefined).
///
/// α = 1 − D_o / D_e with D_o = (1/n) Σ_u 1/(m_u − 1) Σ_{i≠j} (v_ui − v_uj)² and
/// D_e = 1/(n(n − 1)) Σ_{c≠k} (v_c − v_k)² over the n pairable values (Krippendorff 2011,
/// "Computing Krippendorff's alpha-reliability").
pub fn krippendorff_alpha_interval(units: &[Vec<f64>]) -> Option<f64> {
    let pairable: Vec<&Vec<f64>> = units.iter().filter(|u| u.len() >= 2).collect();
    let n: usize = pairable.iter().map(|u| u.len()).sum();
    if n < 2 {
        return None;
    }
    let mut observed = 0.0;
    for u in &pairable {
        let m = u.len() as f64;
        let mut sq = 0.0;
        for (i, a) in u.iter().enumerate() {
            for b in &u[i + 1..] {
                sq += 2.0 * (a - b) * (a - b);
            }
        }
        observed += sq / (m - 1.0);
    }
    observed /= n as f64;
    // Σ_{c≠k} (v_c − v_k)² = 2 (n Σ v² − (Σ v)²).
    let values = pairable.iter().flat_map(|u| u.iter());
    let (sum, sum_sq) = values.fold((0.0, 0.0), |(s, q), v| (s + v, q + v * v));
    let expected = 2.0 * (n as f64 * sum_sq - sum * sum) / (n as f64 * (n as f64 - 1.0));
    if expected <= 1e-12 {
        return None;
    }
    Some(1.0 - observed / expected)
}

/// The usual reading of α (Krippendorff): ≥ 0.8 reliable, ≥ 0.667 tentative conclusions only.
pub fn alpha_reading(alpha: Option<f64>) -> &'static str {
    match alpha {
        None => "undefined (needs two scorers on a sheet, and some variation)",
        Some(a) if a >= 0.8 => "reliable",
        Some(a) if a >= 0.667 => "tentative",
        Some(_) => "unreliable",
    }
}

/// One criterion row of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CriterionReport {
    pub name: String,
    pub description: String,
    pub weight: f64,
    pub direction: Direction,
    /// Per system: the mean hit rate in percent (`None`: no answers yet).
    pub percent: Vec<Option<f64>>,
    /// Per system: the 95% bootstrap interval of the rate, over queries.
    pub ci: Vec<Option<(f64, f64)>>,
    /// Agreement between scorers on this criterion (interval metric).
    pub alpha: Option<f64>,
    /// Per system: the answers behind the rate (queries × scorers that answered).
    pub answers: Vec<usize>,
}

/// One scorer's own table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScorerReport {
    pub scorer: String,
    /// Criterion rows, system columns.
    pub percent: Vec<Vec<Option<f64>>>,
    pub ohs: Vec<Option<f64>>,
}

/// Everything the Analyze tab and `vitrine ohs report` show.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub study: String,
    pub goal: String,
    pub k: u32,
    pub systems: Vec<String>,
    pub criteria: Vec<CriterionReport>,
    pub ohs: Vec<Option<f64>>,
    pub ohs_ci: Vec<Option<(f64, f64)>>,
    pub per_scorer: Vec<ScorerReport>,
    pub coverage: Vec<Coverage>,
    pub sheets: usize,
    pub queries: usize,
    pub shop_queries: usize,
    pub street_queries: usize,
    /// Per system: its test IoU in percent (Table I's last row), when it has one.
    pub test_iou: Vec<Option<f64>>,
    /// Per objective criterion: the machine's count against people's.
    pub machine: Vec<MachineAgreement>,
    /// [`WEIGHTS_NOTE`].
    pub weights_note: &'static str,
}

impl Report {
    /// The study's shape in one line, as every view opens with it: "8 sheets: 4 queries
    /// (4 shop, 0 street) × 2 systems, hit@10".
    pub fn shape_line(&self) -> String {
        format!(
            "{} sheets: {} queries ({} shop, {} street) × {} systems, hit@{}",
            self.sheets,
            self.queries,
            self.shop_queries,
            self.street_queries,
            self.systems.len(),
            self.k
        )
    }

    /// The study's own weights, in criterion order.
    pub fn weights(&self) -> Vec<f64> {
        self.criteria.iter().map(|c| c.weight).collect()
    }

    /// The criterion rows' percents (criterion × system).
    pub fn percent_table(&self) -> Vec<Vec<Option<f64>>> {
        self.criteria.iter().map(|c| c.percent.clone()).collect()
    }

    /// OHS with other weights (the Analyze tab's sliders).
    pub fn ohs_with(&self, weights: &[f64]) -> Vec<Option<f64>> {
        let criteria: Vec<Criterion> = self
            .criteria
            .iter()
            .map(|c| Criterion {
                name: c.name.clone(),
                description: c.description.clone(),
                weight: c.weight,
                direction: c.direction,
                objective: None,
            })
            .collect();
        ohs(&self.percent_table(), &criteria, weights)
    }

    /// Whether any system has a test IoU (then the table shows its row).
    pub fn has_test_iou(&self) -> bool {
        self.test_iou.iter().any(Option::is_some)
    }
}

/// The report of `study` as the shells show it: its answers from `store`, and each system's
/// test IoU from its stored metrics.
pub fn study_report(store: &Store, study: &Study) -> Result<Report> {
    let answers = store.study_answers(study.id)?;
    let mut r = report(study, &answers, BOOTSTRAP_ROUNDS);
    r.test_iou = test_iou(store, &study.systems)?;
    Ok(r)
}

/// Each system's test IoU in percent, from its metrics (`None`: never trained here, or a
/// system no longer in the library).
pub fn test_iou(store: &Store, systems: &[String]) -> Result<Vec<Option<f64>>> {
    systems
        .iter()
        .map(|name| {
            let Some(row) = store.system(name)? else {
                return Ok(None);
            };
            // Metrics that are not a training run's (a hand-written system) have no test IoU;
            // they must not keep the study's report from showing.
            let metrics = SystemMetrics::from_json(&row.metrics_json).ok().flatten();
            Ok(metrics.map(|m| 100.0 * m.test.iou))
        })
        .collect()
}

/// The study's report, with `rounds` bootstrap resamples of the queries (seeded by the
/// study's seed, so the same answers give the same intervals).
pub fn report(study: &Study, answers: &[Answer], rounds: usize) -> Report {
    let data = ScoreData::of(study, answers);
    let weights: Vec<f64> = study.criteria.iter().map(|c| c.weight).collect();
    let percent = data.percent();
    let (criterion_ci, ohs_ci) = bootstrap(&data, &weights, rounds, study.seed);
    let alphas = alpha_per_criterion(&data);
    let counts = data.answer_counts();
    let criteria = study
        .criteria
        .iter()
        .enumerate()
        .map(|(c, crit)| CriterionReport {
            name: crit.name.clone(),
            description: crit.description.clone(),
            weight: crit.weight,
            direction: crit.direction,
            percent: percent[c].clone(),
            ci: criterion_ci[c].clone(),
            alpha: alphas[c],
            answers: counts[c].clone(),
        })
        .collect();
    let per_scorer = data
        .scorers
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let p = data.percent_of_scorer(i);
            ScorerReport {
                scorer: name.clone(),
                ohs: ohs(&p, &study.criteria, &weights),
                percent: p,
            }
        })
        .collect();
    let (shop_queries, street_queries) = study.domain_counts();
    Report {
        study: study.name.clone(),
        goal: study.goal.clone(),
        k: study.k,
        systems: study.systems.clone(),
        criteria,
        ohs: ohs(&percent, &study.criteria, &weights),
        ohs_ci,
        per_scorer,
        coverage: coverage(study, answers),
        sheets: study.sheets.len(),
        queries: study.queries.len(),
        shop_queries,
        street_queries,
        test_iou: vec![None; study.systems.len()],
        machine: agreement(study, answers),
        weights_note: WEIGHTS_NOTE,
    }
}

/// α per criterion: the units are the sheets (query × system), the coders the scorers.
fn alpha_per_criterion(data: &ScoreData) -> Vec<Option<f64>> {
    (0..data.criteria.len())
        .map(|c| {
            let mut units: HashMap<(usize, usize), Vec<f64>> = HashMap::new();
            for o in data.observations.iter().filter(|o| o.criterion == c) {
                units
                    .entry((o.query, o.system))
                    .or_default()
                    .push(f64::from(o.hits));
            }
            let units: Vec<Vec<f64>> = units.into_values().collect();
            krippendorff_alpha_interval(&units)
        })
        .collect()
}

type Interval = Option<(f64, f64)>;

/// 95% percentile intervals from resampling the queries with replacement: per criterion and
/// system, and of each system's OHS.
fn bootstrap(
    data: &ScoreData,
    weights: &[f64],
    rounds: usize,
    seed: u64,
) -> (Vec<Vec<Interval>>, Vec<Interval>) {
    let (nc, ns) = (data.criteria.len(), data.systems.len());
    let mut cells: Vec<Vec<Vec<f64>>> = vec![vec![Vec::with_capacity(rounds); ns]; nc];
    let mut totals: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); ns];
    if data.queries > 0 && !data.observations.is_empty() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_b007);
        let mut multiplicity = vec![0.0f64; data.queries];
        for _ in 0..rounds {
            multiplicity.iter_mut().for_each(|m| *m = 0.0);
            for _ in 0..data.queries {
                multiplicity[rng.random_range(0..data.queries)] += 1.0;
            }
            let percent = data.percent_where(|_| true, |q| multiplicity[q]);
            for (c, row) in percent.iter().enumerate() {
                for (s, v) in row.iter().enumerate() {
                    if let Some(v) = v {
                        cells[c][s].push(*v);
                    }
                }
            }
            for (s, v) in ohs(&percent, &data.criteria, weights)
                .into_iter()
                .enumerate()
            {
                if let Some(v) = v {
                    totals[s].push(v);
                }
            }
        }
    }
    let cells = cells
        .into_iter()
        .map(|row| row.into_iter().map(interval95).collect())
        .collect();
    let totals = totals.into_iter().map(interval95).collect();
    (cells, totals)
}

/// The 2.5th and 97.5th percentiles (linear interpolation), or `None` without samples.
fn interval95(mut samples: Vec<f64>) -> Interval {
    if samples.is_empty() {
        return None;
    }
    samples.sort_by(f64::total_cmp);
    let at = |p: f64| {
        let x = p * (samples.len() - 1) as f64;
        let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
        samples[lo] + (samples[hi] - samples[lo]) * (x - lo as f64)
    };
    Some((at(0.025), at(0.975)))
}

//! Machine pre-filled objective criteria (issue 19): where a criterion has an
//! [`ObjectiveRule`] and a sheet's query is a labelled catalogue item, the machine counts the
//! results that satisfy the rule and the sheet opens with that count suggested; the scorer
//! confirms or corrects it. The report then says how far people and machine agree.
//!
//! The counts are computed **when the study is created and frozen with the sheets**, not when
//! a sheet opens: a study is a fixed experiment (ARCHITECTURE.md §8), so a label edited or a
//! catalogue re-imported later must not change what scorers were shown; the report can set
//! every answer against the count that scorer saw without the catalogue at hand; and a
//! scorer's database merged from another machine carries the same counts.

use super::report::{alpha_reading, krippendorff_alpha_interval};
use crate::catalog::{ItemId, Label, LabelGroup};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::study::{
    Answer, Criterion, Domain, MachineCount, NewStudy, ObjectiveRule, Prefill, Study,
};
use serde::Serialize;
use std::collections::HashMap;

/// The label groups the library's catalogue has at least one item labelled in.
pub fn catalogue_groups(store: &Store) -> Result<Vec<LabelGroup>> {
    store.label_groups()
}

/// The paper's seven criteria with "category" and "colour" objective where the library's
/// catalogue has those labels: what a new study starts from, in the form and the CLI.
pub fn paper_template(store: &Store) -> Result<Vec<Criterion>> {
    Ok(crate::study::paper_criteria_with_rules(&catalogue_groups(
        store,
    )?))
}

/// Refuses an objective rule the catalogue cannot decide: one whose label group no item
/// has. The error names the criterion, the rule and the groups there are.
pub fn check_objective_rules(store: &Store, criteria: &[Criterion]) -> Result<()> {
    if criteria.iter().all(|c| c.objective.is_none()) {
        return Ok(());
    }
    check_rules_against(&catalogue_groups(store)?, criteria)
}

/// [`check_objective_rules`] against the label groups `groups` a catalogue has (the study
/// form knows them already).
pub fn check_rules_against(groups: &[LabelGroup], criteria: &[Criterion]) -> Result<()> {
    for c in criteria {
        let Some(rule) = c.objective else { continue };
        if !groups.contains(&rule.group()) {
            let names: Vec<&str> = groups.iter().map(|g| g.as_str()).collect();
            return Err(Error::Invalid(format!(
                "the criterion {:?} cannot be objective with the rule {:?}: no catalogue item \
                 has a {} label (the catalogue's label groups: {})",
                c.name,
                rule.as_str(),
                rule.group(),
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            )));
        }
    }
    Ok(())
}

/// Sets criterion `name`'s rule (`None`: no rule), as `--objective NAME=RULE` asks. An
/// unknown criterion is an error naming the ones there are.
pub fn set_objective(
    criteria: &mut [Criterion],
    name: &str,
    rule: Option<ObjectiveRule>,
) -> Result<()> {
    let names: Vec<String> = criteria.iter().map(|c| c.name.clone()).collect();
    let c = criteria
        .iter_mut()
        .find(|c| c.name == name.trim())
        .ok_or_else(|| {
            Error::Invalid(format!(
                "there is no criterion {name:?} to make objective (the criteria: {})",
                names.join(", ")
            ))
        })?;
    c.objective = rule;
    Ok(())
}

/// The machine's counts for each sheet of `new` (in its order): one per objective criterion
/// on sheets whose query is a shop photo of a catalogue item that has a label in the rule's
/// group. Street photos get none, even when the demo knows their item: a scorer judges a
/// street photo by what it shows, which the catalogue's labels of the item do not promise.
pub fn machine_counts(store: &Store, new: &NewStudy) -> Result<Vec<Vec<MachineCount>>> {
    let rules: Vec<(&str, ObjectiveRule)> = new
        .criteria
        .iter()
        .filter_map(|c| Some((c.name.as_str(), c.objective?)))
        .collect();
    if rules.is_empty() {
        return Ok(vec![Vec::new(); new.sheets.len()]);
    }
    let mut labels: HashMap<ItemId, Vec<Label>> = HashMap::new();
    let mut labels_of = |id: ItemId| -> Result<Vec<Label>> {
        if let Some(l) = labels.get(&id) {
            return Ok(l.clone());
        }
        let l = store.item(id)?.map(|it| it.labels).unwrap_or_default();
        labels.insert(id, l.clone());
        Ok(l)
    };
    let mut out = Vec::with_capacity(new.sheets.len());
    for sheet in &new.sheets {
        let query = new.queries.get(sheet.query);
        let Some(item) = query
            .filter(|q| q.domain == Domain::Shop)
            .and_then(|q| q.item_id)
        else {
            out.push(Vec::new());
            continue;
        };
        let query_labels = labels_of(item)?;
        let results: Vec<Vec<Label>> = sheet
            .items
            .iter()
            .map(|i| labels_of(i.item_id))
            .collect::<Result<_>>()?;
        let results: Vec<&[Label]> = results.iter().map(Vec::as_slice).collect();
        out.push(
            rules
                .iter()
                .filter_map(|(name, rule)| {
                    Some(MachineCount {
                        criterion: (*name).to_owned(),
                        marks: rule.hits(&query_labels, &results)?,
                    })
                })
                .collect(),
        );
    }
    Ok(out)
}

/// Machine against people on one objective criterion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MachineAgreement {
    pub criterion: String,
    pub rule: ObjectiveRule,
    /// Human answers on sheets with a machine count (each one a pair with the machine).
    pub pairs: usize,
    /// Krippendorff's α (interval, as between scorers) over those pairs, each (sheet,
    /// scorer) a unit coded by the machine and the scorer. Confirmed pre-fills agree by
    /// construction, so α measures agreement *with the suggestion in view*.
    pub alpha: Option<f64>,
    /// The mean of |human hits − machine hits| over the pairs.
    pub mean_abs_diff: Option<f64>,
    /// Pre-fills the scorer accepted as they were.
    pub confirmed: usize,
    /// Pre-fills the scorer changed.
    pub corrected: usize,
    /// Answers on sheets with a machine count given without seeing it (bulk entry, merges
    /// of answers given before pre-fills existed).
    pub unassisted: usize,
}

impl MachineAgreement {
    /// The reading of [`MachineAgreement::alpha`] ([`alpha_reading`]'s scale).
    pub fn alpha_reading(&self) -> &'static str {
        match self.alpha {
            None => "undefined (no answers on pre-filled sheets yet, or no variation)",
            Some(_) => alpha_reading(self.alpha),
        }
    }
}

/// The agreement per objective criterion of `study` (criteria without a rule get no row).
pub fn agreement(study: &Study, answers: &[Answer]) -> Vec<MachineAgreement> {
    study
        .criteria
        .iter()
        .filter_map(|c| {
            let rule = c.objective?;
            let mut units = Vec::new();
            let mut abs_sum = 0.0;
            let (mut confirmed, mut corrected, mut unassisted) = (0, 0, 0);
            for a in answers.iter().filter(|a| a.criterion == c.name) {
                let Some(machine) = study
                    .sheet(a.sheet_id)
                    .and_then(|s| s.machine_count(&c.name))
                else {
                    continue;
                };
                let (m, h) = (f64::from(machine.hits()), f64::from(a.hits));
                units.push(vec![m, h]);
                abs_sum += (h - m).abs();
                match a.prefill {
                    Prefill::Confirmed => confirmed += 1,
                    Prefill::Corrected => corrected += 1,
                    Prefill::None => unassisted += 1,
                }
            }
            let pairs = units.len();
            Some(MachineAgreement {
                criterion: c.name.clone(),
                rule,
                pairs,
                alpha: krippendorff_alpha_interval(&units),
                mean_abs_diff: (pairs > 0).then(|| abs_sum / pairs as f64),
                confirmed,
                corrected,
                unassisted,
            })
        })
        .collect()
}

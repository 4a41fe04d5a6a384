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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{NewItem, Source};
    use crate::ohs::export::{summary_csv, summary_markdown};
    use crate::ohs::report::{WEIGHTS_NOTE, report};
    use crate::ohs::session::ScorerSession;
    use crate::ohs::{check_answer, store_study};
    use crate::study::{NewQuery, NewSheet, SheetItem};

    fn label(group: LabelGroup, name: &str) -> Label {
        Label::new(group, name)
    }

    /// Six items: (category, colour) = top/red, top/blue, dress/red, top/red, dress/green,
    /// and one with no labels at all.
    fn store_with_items(groups: &[LabelGroup]) -> (Store, Vec<ItemId>) {
        let mut store = Store::open_in_memory().unwrap();
        let spec = [
            ("top", "red"),
            ("top", "blue"),
            ("dress", "red"),
            ("top", "red"),
            ("dress", "green"),
            ("", ""),
        ];
        let ids = store
            .write(|w| {
                spec.iter()
                    .enumerate()
                    .map(|(i, (cat, col))| {
                        let mut labels = Vec::new();
                        if !cat.is_empty() && groups.contains(&LabelGroup::Category) {
                            labels.push(label(LabelGroup::Category, cat));
                        }
                        if !col.is_empty() && groups.contains(&LabelGroup::Colour) {
                            labels.push(label(LabelGroup::Colour, col));
                        }
                        w.insert_item(&NewItem {
                            key: format!("it{i}"),
                            source: Source::Csv,
                            title: String::new(),
                            image: format!("images/{i}.png"),
                            width_px: 8,
                            height_px: 8,
                            product: None,
                            partition: None,
                            in_stock: None,
                            labels,
                        })
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .unwrap();
        (store, ids)
    }

    /// Query 0: item 0 (top, red) as a shop photo; query 1: the same item as a street photo;
    /// query 2: the unlabelled item as a shop photo. One system, K = 4: items 1..=4.
    fn study_of(ids: &[ItemId], criteria: Vec<Criterion>) -> NewStudy {
        let query = |item: usize, domain| NewQuery {
            image: format!("q{item}.png"),
            domain,
            item_id: Some(ids[item]),
        };
        NewStudy {
            name: "prefill".into(),
            goal: String::new(),
            k: 4,
            seed: 5,
            criteria,
            systems: vec!["a".into()],
            queries: vec![
                query(0, Domain::Shop),
                query(0, Domain::Street),
                query(5, Domain::Shop),
            ],
            sheets: (0..3)
                .map(|query| NewSheet {
                    query,
                    system: 0,
                    items: ids[1..5]
                        .iter()
                        .map(|&item_id| SheetItem {
                            item_id,
                            image: String::new(),
                        })
                        .collect(),
                })
                .collect(),
            show_explanations: false,
        }
    }

    fn objective(name: &str, rule: Option<ObjectiveRule>) -> Criterion {
        Criterion {
            objective: rule,
            ..Criterion::new(name, "")
        }
    }

    #[test]
    fn a_rule_counts_the_results_sharing_the_query_items_label_and_bad_names_are_named() {
        let q = [
            label(LabelGroup::Category, "top"),
            label(LabelGroup::Colour, "red"),
        ];
        let r1 = [label(LabelGroup::Category, "top")];
        let r2 = [
            label(LabelGroup::Category, "dress"),
            label(LabelGroup::Colour, "red"),
        ];
        let r3: [Label; 0] = [];
        let results: Vec<&[Label]> = vec![&r1, &r2, &r3];
        assert_eq!(
            ObjectiveRule::SameCategory.hits(&q, &results),
            Some(vec![1])
        );
        assert_eq!(ObjectiveRule::SameColour.hits(&q, &results), Some(vec![2]));
        // A query item without a colour label: the machine suggests nothing.
        assert_eq!(ObjectiveRule::SameColour.hits(&r1, &results), None);
        assert_eq!(
            ObjectiveRule::parse(" Colour ").unwrap(),
            ObjectiveRule::SameColour
        );
        let err = ObjectiveRule::parse("size").unwrap_err().to_string();
        assert!(
            err.contains("unknown objective rule \"size\"") && err.contains("category"),
            "{err}"
        );
        let mut criteria = crate::study::paper_criteria();
        let err = set_objective(&mut criteria, "fit", Some(ObjectiveRule::SameCategory))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no criterion \"fit\"") && err.contains("subtype"),
            "{err}"
        );
        // The paper's template is objective only where the catalogue has the labels.
        let with = |groups: &[LabelGroup]| -> Vec<(String, ObjectiveRule)> {
            crate::study::paper_criteria_with_rules(groups)
                .into_iter()
                .filter_map(|c| Some((c.name, c.objective?)))
                .collect()
        };
        assert_eq!(
            with(&[LabelGroup::Category, LabelGroup::Colour]),
            [
                ("category".to_owned(), ObjectiveRule::SameCategory),
                ("colour".to_owned(), ObjectiveRule::SameColour)
            ]
        );
        assert_eq!(
            with(&[LabelGroup::Category]),
            [("category".to_owned(), ObjectiveRule::SameCategory)]
        );
    }

    #[test]
    fn shop_sheets_freeze_the_machines_counts_and_street_or_unlabelled_queries_get_none() {
        let (mut store, ids) = store_with_items(&[LabelGroup::Category, LabelGroup::Colour]);
        let criteria = vec![
            objective("category", Some(ObjectiveRule::SameCategory)),
            objective("colour", Some(ObjectiveRule::SameColour)),
            objective("details", None),
        ];
        let study = store_study(&mut store, &study_of(&ids, criteria)).unwrap();
        // Results: top/blue, dress/red, top/red, dress/green against a top/red query.
        let shop = &study.sheets[0];
        assert_eq!(shop.machine_count("category").unwrap().marks, [1, 3]);
        assert_eq!(shop.machine_count("colour").unwrap().marks, [2, 3]);
        assert_eq!(shop.machine_count("details"), None);
        assert!(study.sheets[1].machine.is_empty(), "a street photo");
        assert!(study.sheets[2].machine.is_empty(), "an unlabelled item");
        assert_eq!(study.criteria[1].objective, Some(ObjectiveRule::SameColour));
        assert_eq!(study.criteria[2].objective, None);
    }

    #[test]
    fn a_rule_the_catalogue_cannot_decide_is_refused_by_name() {
        let (mut store, ids) = store_with_items(&[LabelGroup::Category]);
        let criteria = vec![objective("colour", Some(ObjectiveRule::SameColour))];
        let err = store_study(&mut store, &study_of(&ids, criteria))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"colour\"")
                && err.contains("no catalogue item has a colour label")
                && err.contains("label groups: category"),
            "{err}"
        );
        assert!(store.study_names().unwrap().is_empty(), "nothing stored");
    }

    #[test]
    fn a_prefill_is_saved_only_once_confirmed_or_corrected_and_says_which() {
        let (mut store, ids) = store_with_items(&[LabelGroup::Category, LabelGroup::Colour]);
        let criteria = vec![
            objective("category", Some(ObjectiveRule::SameCategory)),
            objective("colour", Some(ObjectiveRule::SameColour)),
        ];
        let study = store_study(&mut store, &study_of(&ids, criteria)).unwrap();
        let shop = study.sheets[0].id;
        let mut s = ScorerSession::start(&store, &study, "ann").unwrap();
        s.pos = s
            .order
            .iter()
            .position(|&i| study.sheets[i].id == shop)
            .unwrap();
        let sheet = s.sheet(&study).unwrap();
        assert_eq!(s.prefill_on(&study, sheet).unwrap().marks, [1, 3]);
        // Shown, not saved.
        assert!(store.study_answers(study.id).unwrap().is_empty());
        assert!(s.confirm_prefill(&mut store, &study).unwrap());
        let a = store.answer(shop, "ann", "category").unwrap().unwrap();
        assert_eq!(
            (a.hits, a.marks, a.prefill),
            (2, Some(vec![1, 3]), Prefill::Confirmed)
        );
        assert_eq!(s.prefill_on(&study, s.sheet(&study).unwrap()), None);
        assert!(
            !s.confirm_prefill(&mut store, &study).unwrap(),
            "already answered"
        );
        // Colour: a click on tile 1 starts from the machine's marks [2, 3].
        s.criterion = 1;
        s.toggle_mark(&mut store, &study, 1).unwrap();
        let a = store.answer(shop, "ann", "colour").unwrap().unwrap();
        assert_eq!(
            (a.hits, a.marks, a.prefill),
            (3, Some(vec![1, 2, 3]), Prefill::Corrected)
        );
        // A typed count equal to the machine's is a confirmation; on a street sheet, none.
        s.answer(&mut store, &study, 2, None).unwrap();
        let a = store.answer(shop, "ann", "colour").unwrap().unwrap();
        assert_eq!(a.prefill, Prefill::Confirmed);
        let street = study.sheets[1].id;
        s.pos = s
            .order
            .iter()
            .position(|&i| study.sheets[i].id == street)
            .unwrap();
        s.criterion = 0;
        assert!(!s.confirm_prefill(&mut store, &study).unwrap());
        s.answer(&mut store, &study, 2, None).unwrap();
        let a = store.answer(street, "ann", "category").unwrap().unwrap();
        assert_eq!(a.prefill, Prefill::None);
        // Undo restores the corrected answer with its outcome.
        s.undo(&mut store, &study).unwrap();
        s.undo(&mut store, &study).unwrap();
        let a = store.answer(shop, "ann", "colour").unwrap().unwrap();
        assert_eq!(a.prefill, Prefill::Corrected);
        // A "confirmed" answer must carry the machine's count, and only where there is one.
        let mut forged = a.clone();
        forged.prefill = Prefill::Confirmed;
        let err = check_answer(&study, &forged).unwrap_err().to_string();
        assert!(
            err.contains("confirmed pre-fill of 2 hits recorded as 3"),
            "{err}"
        );
        forged.sheet_id = street;
        let err = check_answer(&study, &forged).unwrap_err().to_string();
        assert!(err.contains("has no machine count"), "{err}");
    }

    #[test]
    fn agreement_is_alpha_between_machine_and_each_answer_with_the_mean_difference() {
        let (mut store, ids) = store_with_items(&[LabelGroup::Category, LabelGroup::Colour]);
        let criteria = vec![
            objective("category", Some(ObjectiveRule::SameCategory)),
            objective("details", None),
        ];
        let mut new = study_of(&ids, criteria);
        new.systems.push("b".into());
        // Sheet 3: the shop query through system b, the results reversed: the machine
        // counts 2 there too.
        let mut b = new.sheets[0].clone();
        b.system = 1;
        b.items.reverse();
        new.sheets.push(b);
        let study = store_study(&mut store, &new).unwrap();
        let (s0, s3) = (study.sheets[0].id, study.sheets[3].id);
        assert_eq!(
            study.sheets[3].machine_count("category").unwrap().marks,
            [2, 4]
        );
        let answer = |sheet_id, scorer: &str, hits, prefill| Answer {
            sheet_id,
            scorer: scorer.into(),
            criterion: "category".into(),
            hits,
            marks: None,
            given_at: String::new(),
            prefill,
        };
        let answers = vec![
            answer(s0, "ann", 2, Prefill::Confirmed),
            answer(s3, "ann", 1, Prefill::Corrected),
            answer(s0, "bob", 4, Prefill::None),
            // A street sheet has no machine count: not a pair.
            answer(study.sheets[1].id, "bob", 3, Prefill::None),
        ];
        let rows = agreement(&study, &answers);
        assert_eq!(rows.len(), 1, "only the objective criterion");
        let m = &rows[0];
        assert_eq!(
            (m.pairs, m.confirmed, m.corrected, m.unassisted),
            (3, 1, 1, 1)
        );
        // Units [2,2], [2,1], [2,4]: n = 6, Σv = 13, Σv² = 33; D_o = (0 + 2 + 8) / 6,
        // D_e = 2 (6·33 − 169) / 30 = 58/30; α = 1 − (10/6) / (58/30) = 1 − 50/58.
        let alpha = m.alpha.unwrap();
        assert!((alpha - (1.0 - 50.0 / 58.0)).abs() < 1e-12, "{alpha}");
        assert!((m.mean_abs_diff.unwrap() - 1.0).abs() < 1e-12);
        // The report carries it, and the Table I layout takes a Test IoU row.
        let mut r = report(&study, &answers, 10);
        assert_eq!(r.machine, rows);
        assert!(!r.has_test_iou());
        assert!(!summary_csv(&r).unwrap().contains("Test IoU"));
        r.test_iou = vec![Some(44.4), None];
        let csv = summary_csv(&r).unwrap();
        let last = csv.lines().last().unwrap();
        assert!(last.starts_with("Test IoU,,,44.40,,"), "{csv}");
        let md = summary_markdown(&r);
        assert!(md.contains("| Test IoU | | 44.4 % | — | |"), "{md}");
        // The shape line the CLI, the Markdown and the Analyze tab open with.
        let shape = format!(
            "{} sheets: {} queries ({} shop, {} street) × 2 systems, hit@{}",
            r.sheets, r.queries, r.shop_queries, r.street_queries, r.k
        );
        assert_eq!(r.shape_line(), shape);
        assert!(md.contains(&format!("{shape}.\n")), "{md}");
        assert!(md.contains(WEIGHTS_NOTE) && WEIGHTS_NOTE.contains("55-61 %"));
        assert!(
            md.contains("| category | same category label as the query item | 3 |"),
            "{md}"
        );
    }

    #[test]
    fn test_iou_comes_from_each_systems_metrics_in_percent() {
        let (mut store, _) = store_with_items(&[LabelGroup::Category]);
        let metrics = r#"{"mode":"head","epochs":2,"validation":{"iou":0.5,"precision":0.5,
            "recall":0.5,"samples":4},"test":{"iou":0.444,"precision":0.7,"recall":0.5,
            "samples":4}}"#;
        store
            .write(|w| {
                w.upsert_system("trained", "lite0", 16, 3, metrics)?;
                w.upsert_system("imagenet", "lite0", 16, 0, "{}")
            })
            .unwrap();
        let names = ["imagenet", "trained", "gone"].map(String::from);
        let iou = crate::ohs::report::test_iou(&store, &names).unwrap();
        assert_eq!(iou[0], None);
        assert!((iou[1].unwrap() - 44.4).abs() < 1e-9);
        assert_eq!(iou[2], None);
    }
}

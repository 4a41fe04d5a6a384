//! Machine pre-filled objective criteria in the Evaluate tab (issue 19), driven through
//! egui_kittest: the form offers the objective choice with the paper's defaults, a shop
//! sheet opens with the machine's count marked "machine", nothing is saved until the scorer
//! confirms (Enter, or the Confirm button) or corrects (a click on a tile), and SQLite
//! records which.

use super::{demo_library, harness, has_label, settle, sheet_items, shop_query};
use crate::gui::Startup;
use crate::gui::command::{AnalyzeCommand, Command, EvaluateCommand};
use crate::library::Library;
use crate::ohs;
use crate::store::ItemFilter;
use crate::study::{Criterion, NewSheet, NewStudy, ObjectiveRule, Prefill, Study};
use eframe::egui;
use eframe::egui::Role;
use egui_kittest::kittest::Queryable;

/// Two shop queries (catalogue items) × two systems, K = 5; category and colour objective,
/// details for people alone. Sheets are frozen from real catalogue items (no model needed).
fn prefill_study(lib: &mut Library) -> Study {
    let items = lib.store.items(&ItemFilter::default()).unwrap();
    let objective = |name: &str, rule| Criterion {
        objective: rule,
        ..Criterion::new(name, "")
    };
    let new = NewStudy {
        name: "prefill study".into(),
        goal: String::new(),
        k: 5,
        seed: 4,
        criteria: vec![
            objective("category", Some(ObjectiveRule::SameCategory)),
            objective("colour", Some(ObjectiveRule::SameColour)),
            objective("details", None),
        ],
        systems: vec!["imagenet-lite0".into(), "other".into()],
        queries: items[..2].iter().map(shop_query).collect(),
        sheets: (0..4)
            .map(|i| NewSheet {
                query: i / 2,
                system: i % 2,
                items: sheet_items(&items[2 + i..7 + i]),
            })
            .collect(),
        show_explanations: false,
    };
    ohs::store_study(&mut lib.store, &new).unwrap()
}

#[test]
fn a_prefilled_sheet_is_confirmed_with_enter_corrected_with_a_click_and_sqlite_says_which() {
    let dir = demo_library(12);
    let mut lib = Library::open(dir.path()).unwrap();
    let study = prefill_study(&mut lib);
    drop(lib);
    let order = study.sheet_order("ann");
    let (first, second) = (&study.sheets[order[0]], &study.sheets[order[1]]);
    let machine = |sheet: &crate::study::Sheet, c: &str| sheet.machine_count(c).unwrap().clone();
    let (category, colour) = (machine(first, "category"), machine(first, "colour"));
    assert_eq!(first.machine_count("details"), None);

    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);
    h.get_by_role_and_label(Role::Button, "Evaluate").click();
    h.run();
    // The form's template: category and colour objective, and it says so.
    h.get_by_label("New study").click();
    h.run();
    assert!(
        h.query_by_label_contains("start objective because this catalogue has those labels")
            .is_some()
    );
    let form = h.state().tabs.evaluate.form.as_ref().unwrap();
    let rules: Vec<Option<ObjectiveRule>> = form.criteria.iter().map(|c| c.objective).collect();
    assert_eq!(rules[0], Some(ObjectiveRule::SameCategory));
    assert_eq!(rules[3], Some(ObjectiveRule::SameColour));
    assert_eq!(rules.iter().flatten().count(), 2);
    assert!(has_label(&h, "Criterion 1 objective"));
    assert!(has_label(&h, "Criterion 7 objective"));
    h.get_by_label("Close the form").click();
    h.run();

    for command in [
        EvaluateCommand::SelectStudy("prefill study".into()),
        EvaluateCommand::StartScoring("ann".into()),
    ] {
        h.state_mut().rt.commands.push(Command::Evaluate(command));
    }
    settle(&mut h);
    assert!(has_label(&h, "Sheet 1 of 4"));
    // The machine's count is on show, marked as the machine's, and not saved.
    let shown = format!("Machine: {} of 5", category.hits());
    assert!(has_label(&h, &shown), "{shown}");
    assert!(has_label(&h, "Not answered yet: confirm or correct"));
    let stored = || {
        let lib = Library::open(dir.path()).unwrap();
        lib.store
            .study_answers(study.id)
            .unwrap()
            .into_iter()
            .map(|a| (a.sheet_id, a.criterion, a.hits, a.marks, a.prefill))
            .collect::<Vec<_>>()
    };
    assert_eq!(stored(), []);

    // Enter confirms it and moves on to colour, pre-filled too.
    h.key_press(egui::Key::Enter);
    h.run();
    assert!(has_label(&h, &format!("Machine: {} of 5", colour.hits())));
    // A click on tile 1 corrects the machine's colour marks.
    h.get_by_label("Result 1").click();
    h.run();
    let mut corrected = colour.marks.clone();
    match corrected.iter().position(|&r| r == 1) {
        Some(i) => {
            corrected.remove(i);
        }
        None => corrected.insert(0, 1),
    }
    assert!(has_label(&h, &format!("Hits: {} of 5", corrected.len())));
    // The next sheet's category: the Confirm button (once its pictures have loaded: on busy
    // cores they can take longer than `run`'s few frames).
    h.key_press(egui::Key::ArrowRight);
    settle(&mut h);
    assert!(has_label(&h, "Sheet 2 of 4"));
    h.get_by_role_and_label(Role::Button, "Confirm").click();
    h.run();

    let second_category = machine(second, "category");
    let mut expected = vec![
        (
            first.id,
            "category".to_owned(),
            category.hits(),
            Some(category.marks.clone()),
            Prefill::Confirmed,
        ),
        (
            first.id,
            "colour".to_owned(),
            corrected.len() as u32,
            Some(corrected),
            Prefill::Corrected,
        ),
        (
            second.id,
            "category".to_owned(),
            second_category.hits(),
            Some(second_category.marks.clone()),
            Prefill::Confirmed,
        ),
    ];
    expected.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    assert_eq!(stored(), expected);
    // On to colour (suggested), then details, which has no rule: nothing is suggested.
    assert_eq!(
        h.state().tabs.evaluate.session.as_ref().unwrap().criterion,
        1
    );
    assert!(h.query_by_label_contains("Machine").is_some());
    h.key_press(egui::Key::ArrowDown);
    h.run();
    assert!(h.query_by_label_contains("Machine").is_none());
    assert!(has_label(&h, "Not answered yet"));
    assert!(h.state().rt.errors.is_empty(), "{:?}", h.state().rt.errors);

    // The Analyze tab: machine against ann, and Table I's Test IoU row once "other" has
    // a trained system's metrics ("—" for the ImageNet one).
    let metrics = r#"{"mode":"head","epochs":1,"validation":{"iou":0.4,"precision":0.5,
        "recall":0.5,"samples":2},"test":{"iou":0.444,"precision":0.5,"recall":0.5,"samples":2}}"#;
    let mut lib = Library::open(dir.path()).unwrap();
    lib.store
        .write(|w| w.upsert_system("other", "lite0", 16, 2, metrics))
        .unwrap();
    drop(lib);
    h.get_by_role_and_label(Role::Button, "Analyze").click();
    h.state_mut()
        .rt
        .commands
        .push(Command::Analyze(AnalyzeCommand::ShowReport(
            "prefill study".into(),
        )));
    h.run();
    assert!(has_label(&h, "Machine pre-fill against scorers"));
    assert!(has_label(&h, "same colour label as the query item"));
    assert!(has_label(&h, "Test IoU"));
    assert!(has_label(&h, "44.4%") && has_label(&h, "—"));
    assert!(
        h.query_by_label_contains("does not publish its criterion weights")
            .is_some()
    );
}

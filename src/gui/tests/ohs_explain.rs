//! "Why similar" on the Evaluate sheet (issue 19): a study made without
//! `show_explanations` offers no Explain button and ignores explain requests; one made with
//! it shows the result's and the query's heatmaps after the job (never naming the system),
//! and a click on a tile still marks a hit.

use super::{demo_library, harness, has_label, run_until, settle, sheet_items, shop_query};
use crate::gui::Startup;
use crate::gui::command::{Command, EvaluateCommand};
use crate::library::Library;
use crate::ohs;
use crate::store::ItemFilter;
use crate::study::{Criterion, NewSheet, NewStudy, Study};
use eframe::egui::Role;
use egui_kittest::kittest::Queryable;

/// One shop query (a catalogue item) × the built-in system, K = 3, one criterion for people.
fn explain_study(lib: &mut Library, name: &str, show_explanations: bool) -> Study {
    let items = lib.store.items(&ItemFilter::default()).unwrap();
    let new = NewStudy {
        name: name.into(),
        goal: String::new(),
        k: 3,
        seed: 1,
        criteria: vec![Criterion::new("details", "")],
        systems: vec!["imagenet-lite0".into()],
        queries: vec![shop_query(&items[0])],
        sheets: vec![NewSheet {
            query: 0,
            system: 0,
            items: sheet_items(&items[1..4]),
        }],
        show_explanations,
    };
    ohs::store_study(&mut lib.store, &new).unwrap()
}

fn score(h: &mut egui_kittest::Harness<'_, crate::gui::App>, study: &str) {
    for command in [
        EvaluateCommand::SelectStudy(study.into()),
        EvaluateCommand::StartScoring("ann".into()),
    ] {
        h.state_mut().rt.commands.push(Command::Evaluate(command));
    }
    settle(h);
    assert!(has_label(h, "Sheet 1 of 1"));
}

/// Runs until result `rank`'s heatmaps are on show and nothing more is being explained.
fn explained(h: &mut egui_kittest::Harness<'_, crate::gui::App>, rank: usize) {
    run_until(h, "the explanation", |h| {
        let explain = &h.state().tabs.evaluate.explain;
        !explain.is_running() && explain.shown_rank() == Some(rank)
    });
    h.run();
    assert!(h.state().rt.errors.is_empty(), "{:?}", h.state().rt.errors);
}

#[test]
fn the_sheet_explains_only_where_the_study_allows_and_clicks_still_mark_hits() {
    let dir = demo_library(8);
    let mut lib = Library::open(dir.path()).unwrap();
    explain_study(&mut lib, "blind", false);
    let shown = explain_study(&mut lib, "shown", true);
    drop(lib);
    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);
    h.get_by_role_and_label(Role::Button, "Evaluate").click();
    h.run();

    // Not allowed: no button, and no request is ever made (H, or a command, does nothing).
    score(&mut h, "blind");
    assert!(h.query_by_label("Explain").is_none());
    for command in [
        EvaluateCommand::SetExplain(true),
        EvaluateCommand::Explain(1),
    ] {
        h.state_mut().rt.commands.push(command.into());
    }
    h.key_down(eframe::egui::Key::H);
    h.get_by_label("Result 1").hover();
    h.run();
    h.key_up(eframe::egui::Key::H);
    let evaluate = &h.state().tabs.evaluate;
    assert!(!evaluate.explain_on);
    assert!(evaluate.explain.wanted().is_none() && !evaluate.explain.is_running());

    // Allowed: Explain shows result 1's heatmap and the query's, after the job.
    score(&mut h, "shown");
    let result_label = "Why similar: #1 agrees with the query here";
    assert!(!has_label(&h, result_label), "no overlay before Explain");
    h.get_by_label("Explain").click();
    h.step();
    run_until(&mut h, "the explanation", |h| {
        let evaluate = &h.state().tabs.evaluate;
        evaluate.explain_on && !evaluate.explain.is_running() && evaluate.explain.wanted().is_some()
    });
    h.run();
    assert!(h.state().rt.errors.is_empty(), "{:?}", h.state().rt.errors);
    assert!(has_label(&h, result_label), "result 1 shows its heatmap");
    assert!(has_label(&h, "Why similar: the query agrees with #1 here"));
    assert!(has_label(&h, "Where it matches #1 (red: most)"));
    // The system stays hidden, heatmaps or not.
    assert!(h.query_by_label_contains("imagenet-lite0").is_none());

    // A click on a tile marks a hit exactly as without heatmaps (the pointer over it
    // explains it too).
    h.get_by_label("Result 1").click();
    explained(&mut h, 1);
    h.get_by_label("Result 3").click();
    explained(&mut h, 3);
    assert!(has_label(&h, "Hits: 2 of 3"));
    let lib = Library::open(dir.path()).unwrap();
    let answers = lib.store.study_answers(shown.id).unwrap();
    assert_eq!(answers.len(), 1);
    assert_eq!(
        (answers[0].hits, answers[0].marks.clone()),
        (2, Some(vec![1, 3]))
    );

    // Hovering another tile explains that one instead.
    h.get_by_label("Result 2").hover();
    explained(&mut h, 2);
    // The hovered heatmap's tooltip says it too.
    let shows = |h: &egui_kittest::Harness<'_, crate::gui::App>, label: &str| {
        h.query_all_by_label(label).next().is_some()
    };
    assert!(shows(&h, "Why similar: #2 agrees with the query here"));
    assert!(has_label(&h, "Where it matches #2 (red: most)"));
    assert!(!has_label(&h, result_label));

    // Off again: the thumbnails are back.
    h.get_by_label("Explain").click();
    h.run();
    assert!(!shows(&h, "Why similar: #2 agrees with the query here"));
    assert!(!has_label(&h, "Where it matches #2 (red: most)"));
}

//! The Evaluate and Analyze tabs driven through egui_kittest: a scorer fills sheets with
//! clicks on result tiles, number keys and a typed count, stops and resumes where they were,
//! and the Analyze tab shows the Table I grid with α.

use super::{demo_library, harness, has_label, run_until, run_until_job_ends, settle, sheet_items};
use crate::gui::command::AnalyzeCommand;
use crate::gui::command::Command;
use crate::gui::command::EvaluateCommand;
use crate::gui::job_slot::JobState;
use crate::gui::{App, Startup};
use crate::library::Library;
use crate::ohs;
use crate::store::ItemFilter;
use crate::study::{self, Criterion, Direction, Domain, NewQuery, NewSheet, NewStudy};
use eframe::egui;
use eframe::egui::Role;
use egui_kittest::kittest::Queryable;
use std::collections::HashMap;

/// A study over the demo library's street photos, with sheets frozen from real catalogue
/// items (no model needed): 2 queries × 2 systems, K = 5, two criteria.
fn gui_study(lib: &mut Library) -> study::Study {
    let items = lib.store.items(&ItemFilter::default()).unwrap();
    let street = lib.store.street_queries().unwrap();
    let new = NewStudy {
        name: "gui study".into(),
        goal: "street search".into(),
        k: 5,
        seed: 11,
        criteria: vec![
            Criterion {
                weight: 2.0,
                ..Criterion::new("category", "same category")
            },
            Criterion {
                direction: Direction::Fewer,
                ..Criterion::new("shape difference", "other outline")
            },
        ],
        systems: vec!["imagenet-lite0".into(), "other".into()],
        queries: street
            .iter()
            .take(2)
            .map(|q| NewQuery {
                image: q.image.clone(),
                domain: Domain::Street,
                item_id: Some(q.item_id),
            })
            .collect(),
        sheets: (0..4)
            .map(|i| NewSheet {
                query: i / 2,
                system: i % 2,
                items: sheet_items(&items[i..i + 5]),
            })
            .collect(),
        show_explanations: false,
    };
    ohs::store_study(&mut lib.store, &new).unwrap()
}

#[test]
fn a_scorer_fills_sheets_with_clicks_and_keys_and_the_analyze_tab_shows_the_table() {
    let dir = demo_library(12);
    let mut lib = Library::open(dir.path()).unwrap();
    let study = gui_study(&mut lib);
    drop(lib);
    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);
    h.get_by_role_and_label(Role::Button, "Evaluate").click();
    h.run();
    assert_eq!(h.state().tabs.evaluate.studies, ["gui study"]);

    // The creation form opens with the paper's criteria and the shop/street ratio.
    h.get_by_label("New study").click();
    h.run();
    assert!(h.query_by_label_contains("Shop/street ratio").is_some());
    assert!(has_label(&h, "Criterion 7 name"));
    h.get_by_label("Close the form").click();
    h.run();

    h.state_mut()
        .rt
        .commands
        .push(Command::Evaluate(EvaluateCommand::SelectStudy(
            "gui study".into(),
        )));
    h.run();
    h.get_by_label("Your name").focus();
    h.get_by_label("Your name").type_text("ann");
    h.run();
    h.get_by_label("Start scoring").click();
    settle(&mut h);
    assert!(has_label(&h, "Sheet 1 of 4"));
    assert!(h.query_by_label_contains("Keys: 1-9").is_some());
    // The system is hidden: neither name is on the sheet.
    assert!(h.query_by_label_contains("imagenet-lite0").is_none());
    assert!(h.query_by_label_contains("other").is_none());

    // Criterion 1: two tiles clicked. Criterion 2 (Down key): result 2 marked by its key.
    let order = study.sheet_order("ann");
    let first = &study.sheets[order[0]];
    h.get_by_label("Result 1").click();
    h.run();
    h.get_by_label("Result 3").click();
    h.run();
    assert!(has_label(&h, "Hits: 2 of 5"));
    h.key_press(egui::Key::ArrowDown);
    h.run();
    h.key_press(egui::Key::Num2);
    h.run();
    assert!(has_label(&h, "Hits: 1 of 5"));
    // 0 is result 10: not on a sheet of 5, so nothing changes.
    h.key_press(egui::Key::Num0);
    h.run();
    assert!(has_label(&h, "Hits: 1 of 5"));
    assert!(has_label(&h, "1 of 4 sheets done"));
    // Next sheet by key; its first criterion by a typed number.
    h.key_press(egui::Key::ArrowRight);
    settle(&mut h);
    assert!(has_label(&h, "Sheet 2 of 4"));
    h.get_by_label("Type the number").focus();
    h.get_by_label("Type the number").type_text("4");
    h.run();
    h.get_by_label("Set").click();
    h.run();

    // Every answer is already in SQLite.
    let lib = Library::open(dir.path()).unwrap();
    let answers = lib.store.study_answers(study.id).unwrap();
    let find = |sheet: i64, crit: &str| {
        answers
            .iter()
            .find(|a| a.sheet_id == sheet && a.criterion == crit && a.scorer == "ann")
            .cloned()
            .unwrap()
    };
    let a = find(first.id, "category");
    assert_eq!((a.hits, a.marks), (2, Some(vec![1, 3])));
    assert_eq!(find(first.id, "shape difference").hits, 1);
    assert_eq!(find(study.sheets[order[1]].id, "category").hits, 4);
    assert_eq!(answers.len(), 3);

    // Stop, resume: back on sheet 2 at its second criterion (the typed answer moved on).
    h.get_by_label("Stop scoring").click();
    h.run();
    h.get_by_label("Start scoring").click();
    h.run();
    assert!(has_label(&h, "Sheet 2 of 4"));
    let session = h.state().tabs.evaluate.session.as_ref().unwrap();
    assert_eq!((session.pos, session.criterion), (1, 1));
    // Back returns to the first sheet with its marks.
    h.get_by_label("Back").click();
    h.run();
    assert!(has_label(&h, "Sheet 1 of 4"));

    // A second scorer (on another machine, merged) answered the same first sheet.
    let mut lib = lib;
    for (crit, hits) in [("category", 3), ("shape difference", 1)] {
        let answer = study::Answer {
            sheet_id: first.id,
            scorer: "bob".into(),
            criterion: crit.into(),
            hits,
            marks: None,
            given_at: String::new(),
            prefill: Default::default(),
        };
        ohs::record_answer(&mut lib.store, &study, &answer).unwrap();
    }
    drop(lib);

    h.get_by_role_and_label(Role::Button, "Analyze").click();
    h.run();
    h.state_mut()
        .rt
        .commands
        .push(Command::Analyze(AnalyzeCommand::ShowReport(
            "gui study".into(),
        )));
    h.run();
    assert!(has_label(&h, "OHS"));
    assert!(has_label(&h, "Agreement (alpha)"));
    assert!(has_label(&h, "shape difference (fewer is better)"));
    let report = h.state().tabs.analyze.report.as_ref().unwrap();
    let system = report
        .systems
        .iter()
        .position(|s| *s == first.system)
        .unwrap();
    // category on that system: ann 2 + bob 3 on sheet 1 (+ ann's 4 if sheet 2 is the same
    // system), over K = 5.
    let expected = if study.sheets[order[1]].system == first.system {
        100.0 * 9.0 / 15.0
    } else {
        100.0 * 5.0 / 10.0
    };
    let got = report.criteria[0].percent[system].unwrap();
    assert!((got - expected).abs() < 1e-9, "{got} vs {expected}");
    assert!(has_label(&h, &format!("{got:.1}%")));
    assert!(
        h.query_by_label_contains("ann: 1 of 4 sheets done")
            .is_some()
    );
    assert!(
        h.query_by_label_contains("The ranking of systems holds")
            .is_some()
    );

    // Export opens a save dialog (File > Export or the tab's button); the path it answers
    // with, as the dialog thread sends it:
    assert!(
        h.query_by_role_and_label(Role::Button, "Export table CSV…")
            .is_some()
    );
    let chosen = dir.path().join("chosen-name.csv");
    h.state_mut()
        .rt
        .commands
        .push(Command::Analyze(AnalyzeCommand::ExportCsvTo {
            raw: false,
            path: chosen.clone(),
        }));
    h.run();
    // Written off the UI thread: wait for it.
    run_until(&mut h, "the export", |h| {
        h.state().tabs.analyze.exported.done().is_some()
    });
    assert_eq!(h.state().tabs.analyze.exported.done(), Some(&chosen));
    let text = std::fs::read_to_string(&chosen).unwrap();
    assert!(
        text.starts_with("criterion,weight,direction,imagenet-lite0,other,imagenet-lite0 95% low,"),
        "{text}"
    );

    // Scores from another machine, as a raw-score CSV: one new answer, one already here.
    let query = &study.queries[first.query].image;
    let raw = dir.path().join("dan.csv");
    std::fs::write(
        &raw,
        format!(
            "study,scorer,query,system,criterion,hits\n\
             gui study,dan,{query},{sys},category,5\n\
             gui study,bob,{query},{sys},category,3\n",
            sys = first.system
        ),
    )
    .unwrap();
    h.state_mut()
        .rt
        .commands
        .push(Command::Analyze(AnalyzeCommand::MergeFrom(raw)));
    // Merged off the UI thread: wait for it.
    run_until(&mut h, "the merge", |h| {
        h.state().tabs.analyze.merged.is_some()
    });
    h.run();
    assert!(
        h.query_by_label_contains("1 answers added, 1 duplicates skipped")
            .is_some()
    );
    let report = h.state().tabs.analyze.report.as_ref().unwrap();
    assert!(report.coverage.iter().any(|c| c.scorer == "dan"));

    // The saved UI state brings the scorer back to their sheet when the library reopens.
    assert!(h.state().state.ohs.scoring);
    h.state_mut()
        .rt
        .commands
        .push(Command::OpenLibrary(dir.path().to_path_buf()));
    h.run();
    let session = h.state().tabs.evaluate.session.as_ref().unwrap();
    assert_eq!(session.scorer, "ann");
    assert_eq!((session.pos, session.criterion), (0, 0));
    assert_eq!(
        h.state().tabs.analyze.report.as_ref().unwrap().study,
        "gui study"
    );
}

#[test]
fn a_study_is_created_from_the_form_as_a_background_job() {
    use crate::device::device;
    use crate::model::network::{NetworkConfig, ParallelNetwork};
    use crate::model::system::{LITE0_WEIGHTS_FILE, System, find_weights};
    let dir = demo_library(14);
    let mut lib = Library::open(dir.path()).unwrap();
    // A second system: Lite0 with a fresh (untrained) head.
    let config = NetworkConfig {
        embedding_dim: 16,
        ..NetworkConfig::lite0(2)
    };
    let weights = find_weights(LITE0_WEIGHTS_FILE).unwrap();
    let cpu = device("cpu").unwrap();
    let net = ParallelNetwork::fresh(&candle_nn::VarMap::new(), &config, &weights, &cpu).unwrap();
    let labels = vec!["category:top".to_string(), "colour:red".to_string()];
    let input = crate::vision::preprocess::Preprocess::LITE0;
    System::save_trained(
        &mut lib,
        "fresh",
        &net,
        &input,
        &labels,
        &serde_json::json!({}),
    )
    .unwrap();
    drop(lib);

    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);
    h.get_by_role_and_label(Role::Button, "Evaluate").click();
    h.run();
    h.get_by_label("New study").click();
    h.run();
    // Without a name the form says what is missing and cannot be sent.
    assert!(has_label(&h, "Give the study a name."));
    h.get_by_label("Name").focus();
    h.get_by_label("Name").type_text("form study");
    h.run();
    // The paper's 2/3 mix by default: every street photo (3) and 2 shop items.
    assert!(
        h.query_by_label_contains("Shop/street ratio: 2 / 3")
            .is_some()
    );
    h.query_all_by_label("Remove").next().unwrap().click(); // the first criterion goes
    h.run();
    assert_eq!(
        h.state()
            .tabs
            .evaluate
            .form
            .as_ref()
            .unwrap()
            .criteria
            .len(),
        6
    );
    // The button is below seven criteria cards: scroll to it first.
    h.get_by_label("Create study").scroll_to_me();
    h.run();
    h.get_by_label("Create study").click();
    h.step();
    run_until_job_ends(&mut h, "the study job");
    h.run();
    assert!(
        matches!(&h.state().rt.jobs.current, JobState::Done { summary, .. } if summary.contains("10 sheets")),
        "{:?}",
        h.state().rt.errors
    );
    let study = h.state().tabs.evaluate.study.as_ref().unwrap();
    assert_eq!(study.name, "form study");
    assert_eq!(study.systems, ["imagenet-lite0", "fresh"]);
    assert_eq!(study.criteria.len(), 6);
    assert_eq!(study.criteria[0].name, "subtype");
    assert_eq!(study.domain_counts(), (2, 3));
    assert!(h.state().tabs.evaluate.form.is_none());
    assert_eq!(h.state().tabs.evaluate.studies, ["form study"]);
}

/// A key as a real keyboard sends it: egui-winit puts the key press and its text in the same
/// frame (kittest's `type_text` sends the text alone).
fn key_events(key: egui::Key, text: Option<&str>) -> Vec<egui::Event> {
    let key_event = |pressed| egui::Event::Key {
        key,
        physical_key: Some(key),
        pressed,
        repeat: false,
        modifiers: egui::Modifiers::NONE,
    };
    let mut events = vec![key_event(true)];
    events.extend(text.map(|t| egui::Event::Text(t.to_owned())));
    events.push(key_event(false));
    events
}

/// One frame holding `events` (a real window batches everything that arrived while the
/// previous frame was drawn), then frames until the app settles.
fn one_frame(h: &mut egui_kittest::Harness<'_, App>, events: Vec<egui::Event>) {
    h.input_mut().events.extend(events);
    h.step();
    h.run();
}

/// A click on the middle of `rect`: move, press, release.
fn click_events(rect: egui::Rect) -> Vec<egui::Event> {
    let pos = rect.center();
    let button = |pressed| egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed,
        modifiers: egui::Modifiers::NONE,
    };
    vec![egui::Event::PointerMoved(pos), button(true), button(false)]
}

#[test]
fn a_typed_count_is_saved_as_typed_and_toggles_no_tile() {
    let dir = demo_library(12);
    let mut lib = Library::open(dir.path()).unwrap();
    let study = gui_study(&mut lib);
    drop(lib);
    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);
    h.get_by_role_and_label(Role::Button, "Evaluate").click();
    h.run();
    h.state_mut()
        .rt
        .commands
        .push(Command::Evaluate(EvaluateCommand::SelectStudy(
            "gui study".into(),
        )));
    h.state_mut()
        .rt
        .commands
        .push(Command::Evaluate(EvaluateCommand::StartScoring(
            "ann".into(),
        )));
    settle(&mut h);
    assert!(has_label(&h, "Sheet 1 of 4"));
    let sheet = study.sheets[study.sheet_order("ann")[0]].id;
    let field_rect = |h: &egui_kittest::Harness<'_, App>| {
        h.get_by_role_and_label(Role::TextInput, "Type the number")
            .rect()
    };

    // As a person does it in a busy window: the click on the field and the key "4" (press
    // and text) arrive in the same frame; then Enter.
    let mut events = click_events(field_rect(&h));
    events.extend(key_events(egui::Key::Num4, Some("4")));
    one_frame(&mut h, events);
    assert!(
        h.get_by_role_and_label(Role::TextInput, "Type the number")
            .is_focused()
    );
    assert_eq!(
        h.state().tabs.evaluate.session.as_ref().unwrap().answers,
        HashMap::new(),
        "the 4 meant for the field toggled a tile"
    );
    // The 4 typed in the click's own frame reaches the field (egui handles a field's text
    // before its click, so a text edit alone would drop it).
    assert_eq!(
        h.state().tabs.evaluate.hits_input,
        "4",
        "the field shows the 4"
    );
    one_frame(&mut h, key_events(egui::Key::Enter, None));
    // Enter moved on and the field keeps the keyboard for the next count: "1", an "s" that
    // must not skip the sheet, two Backspaces, "0", Enter.
    assert!(
        h.get_by_role_and_label(Role::TextInput, "Type the number")
            .is_focused()
    );
    one_frame(&mut h, key_events(egui::Key::Num1, Some("1")));
    one_frame(&mut h, key_events(egui::Key::S, Some("s")));
    one_frame(&mut h, key_events(egui::Key::Backspace, None));
    one_frame(&mut h, key_events(egui::Key::Backspace, None));
    one_frame(&mut h, key_events(egui::Key::Num0, Some("0")));
    one_frame(&mut h, key_events(egui::Key::Enter, None));

    // Clicking the field's label gives the field the keyboard, as a form's label does.
    h.get_by_label_contains("Type the number").click();
    h.run();
    one_frame(&mut h, key_events(egui::Key::Num2, Some("2")));
    assert_eq!(h.state().tabs.evaluate.hits_input, "2");
    one_frame(&mut h, key_events(egui::Key::Escape, None));

    let lib = Library::open(dir.path()).unwrap();
    let answers = lib.store.study_answers(study.id).unwrap();
    let stored: Vec<(i64, &str, u32, Option<Vec<u32>>)> = answers
        .iter()
        .map(|a| (a.sheet_id, a.criterion.as_str(), a.hits, a.marks.clone()))
        .collect();
    // Exactly the typed counts, with no marked tiles behind them.
    assert_eq!(
        stored,
        [
            (sheet, "category", 4, None),
            (sheet, "shape difference", 0, None)
        ]
    );
    // The last Enter moved on to the next sheet; the "s" typed into the field skipped
    // nothing, and no tile was marked.
    assert!(has_label(&h, "Sheet 2 of 4"));
    let session = h.state().tabs.evaluate.session.as_ref().unwrap();
    assert_eq!((session.pos, session.criterion), (1, 0));
    assert!(
        session.answers.values().all(|(_, marks)| marks.is_none()),
        "a tile was toggled: {:?}",
        session.answers
    );
}

/// Scoring with the "gui study" as `scorer`, on the Evaluate tab.
fn scoring(dir: &std::path::Path, scorer: &str) -> egui_kittest::Harness<'static, App> {
    let mut h = harness(dir, Startup::AsIs);
    settle(&mut h);
    h.get_by_role_and_label(Role::Button, "Evaluate").click();
    h.run();
    h.state_mut()
        .rt
        .commands
        .push(Command::Evaluate(EvaluateCommand::SelectStudy(
            "gui study".into(),
        )));
    h.state_mut()
        .rt
        .commands
        .push(Command::Evaluate(EvaluateCommand::StartScoring(
            scorer.into(),
        )));
    settle(&mut h);
    h
}

#[test]
fn ctrl_z_takes_back_the_last_answer_in_sqlite() {
    let dir = demo_library(12);
    let mut lib = Library::open(dir.path()).unwrap();
    let study = gui_study(&mut lib);
    drop(lib);
    let mut h = scoring(dir.path(), "ann");
    let sheet = study.sheets[study.sheet_order("ann")[0]].id;
    let stored = || {
        let lib = Library::open(dir.path()).unwrap();
        lib.store
            .study_answers(study.id)
            .unwrap()
            .into_iter()
            .map(|a| (a.sheet_id, a.criterion, a.hits, a.marks))
            .collect::<Vec<_>>()
    };
    let ctrl_z = egui::Modifiers::COMMAND;
    // Two tiles for "category", then a typed 1 replaces that answer and moves on.
    h.get_by_label("Result 1").click();
    h.run();
    h.get_by_label("Result 2").click();
    h.run();
    let field = h
        .get_by_role_and_label(Role::TextInput, "Type the number")
        .rect();
    let mut events = click_events(field);
    events.extend(key_events(egui::Key::Num1, Some("1")));
    one_frame(&mut h, events);
    one_frame(&mut h, key_events(egui::Key::Enter, None));
    one_frame(&mut h, key_events(egui::Key::Escape, None));
    assert_eq!(stored(), [(sheet, "category".into(), 1, None)]);

    // Ctrl+Z: the two marked tiles come back, in SQLite and on the sheet, at "category".
    let undo = |h: &mut egui_kittest::Harness<'_, App>| {
        let z = |pressed| egui::Event::Key {
            key: egui::Key::Z,
            physical_key: Some(egui::Key::Z),
            pressed,
            repeat: false,
            modifiers: ctrl_z,
        };
        one_frame(h, vec![z(true), z(false)]);
    };
    undo(&mut h);
    assert_eq!(stored(), [(sheet, "category".into(), 2, Some(vec![1, 2]))]);
    assert!(has_label(&h, "Hits: 2 of 5"));
    let session = h.state().tabs.evaluate.session.as_ref().unwrap();
    assert_eq!((session.pos, session.criterion), (0, 0));
    // Twice more: one tile, then no answer at all (the row is deleted).
    undo(&mut h);
    assert_eq!(stored(), [(sheet, "category".into(), 1, Some(vec![1]))]);
    undo(&mut h);
    assert_eq!(stored(), []);
    assert!(has_label(&h, "Not answered yet"));
    // Nothing left to undo: nothing happens.
    undo(&mut h);
    assert!(h.state().rt.errors.is_empty(), "{:?}", h.state().rt.errors);
}

#[test]
fn scorers_read_each_criterions_guidelines_beside_the_sheet() {
    let dir = demo_library(12);
    let mut lib = Library::open(dir.path()).unwrap();
    let mut new_study = {
        let study = gui_study(&mut lib);
        // A second study with guidelines written as an author would, on several lines.
        let mut spec = NewStudy {
            name: "guided".into(),
            goal: String::new(),
            k: study.k,
            seed: 3,
            criteria: study.criteria.clone(),
            systems: study.systems.clone(),
            queries: study
                .queries
                .iter()
                .map(|q| NewQuery {
                    image: q.image.clone(),
                    domain: q.domain,
                    item_id: q.item_id,
                })
                .collect(),
            sheets: Vec::new(),
            show_explanations: false,
        };
        spec.sheets = study
            .sheets
            .iter()
            .map(|s| NewSheet {
                query: s.query,
                system: study.systems.iter().position(|n| *n == s.system).unwrap(),
                items: s.items.clone(),
            })
            .collect();
        spec
    };
    new_study.criteria[0].description =
        "Same category as the query.\nExample: a boot for a boot is a hit.".into();
    ohs::store_study(&mut lib.store, &new_study).unwrap();
    drop(lib);
    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);
    h.get_by_role_and_label(Role::Button, "Evaluate").click();
    h.state_mut()
        .rt
        .commands
        .push(Command::Evaluate(EvaluateCommand::SelectStudy(
            "guided".into(),
        )));
    h.state_mut()
        .rt
        .commands
        .push(Command::Evaluate(EvaluateCommand::StartScoring(
            "bea".into(),
        )));
    settle(&mut h);
    assert!(has_label(&h, "Guidelines"));
    assert!(
        h.query_by_label_contains("Example: a boot for a boot is a hit.")
            .is_some()
    );
    // Every criterion's guidelines, under a fold.
    h.get_by_label("Every criterion's guidelines").click();
    h.run();
    assert!(has_label(&h, "other outline"));
}

#[test]
fn the_new_study_form_has_wide_fields_and_multi_line_guidelines() {
    let dir = demo_library(6);
    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);
    h.get_by_role_and_label(Role::Button, "Evaluate").click();
    h.run();
    h.get_by_label("New study").click();
    h.run();
    let name = h
        .get_by_role_and_label(Role::TextInput, "Criterion 1 name")
        .rect();
    let guidelines = h.get_by_role_and_label(Role::MultilineTextInput, "Criterion 1 guidelines");
    // Was about 4 characters; now a name reads whole and guidelines take the form's width.
    assert!(name.width() >= 200.0, "{name:?}");
    assert!(
        guidelines.rect().width() >= 600.0,
        "{:?}",
        guidelines.rect()
    );
    assert!(
        guidelines.rect().height() >= 50.0,
        "several lines: {:?}",
        guidelines.rect()
    );
    // They take several lines: Enter is a new line, not the end of the field.
    guidelines.focus();
    h.run();
    let form_guidelines = |h: &egui_kittest::Harness<'_, App>| {
        h.state().tabs.evaluate.form.as_ref().unwrap().criteria[0]
            .description
            .clone()
    };
    let before = form_guidelines(&h);
    let node = h.get_by_role_and_label(Role::MultilineTextInput, "Criterion 1 guidelines");
    node.type_text("\nExample: a boot for a boot.");
    h.run();
    assert_eq!(
        form_guidelines(&h),
        format!("{before}\nExample: a boot for a boot.")
    );
    assert!(
        h.get_by_role_and_label(Role::MultilineTextInput, "Goal")
            .rect()
            .width()
            >= 500.0
    );
}

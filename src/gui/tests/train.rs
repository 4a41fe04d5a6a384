//! The Train tab driven through egui_kittest: a tiny run started from the panel, its
//! progress and plots, the resulting system in the runs table and in search, and the
//! augmentation preview.

use super::{demo_library, harness, has_label, run_until, settle};
use crate::gui::Startup;
use crate::gui::command::Tab;
use crate::gui::command::{QuerySource, SearchCommand};
use crate::gui::job_slot::JobState;
use crate::gui::progress;
use crate::library::Library;
use crate::store::ItemFilter;
use eframe::egui::Role;
use egui_kittest::kittest::Queryable;

#[test]
fn a_tiny_run_from_the_train_panel_shows_progress_and_its_system() {
    let dir = demo_library(20);
    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);
    h.get_by_role_and_label(Role::Button, "Train").click();
    settle(&mut h);
    assert!(has_label(&h, "Training run"));
    assert!(has_label(&h, "No trained system yet."));
    {
        let form = &mut h.state_mut().tabs.train.form;
        form.name = "gui-run".into();
        form.epochs = 2;
        form.batch = 8;
    }
    h.get_by_role_and_label(Role::Button, "Start training")
        .click();
    // The job runs: the panel shows its events as they come, then the result. Its progress
    // is phases (caching features, then the epochs), each bar only ever moving forward.
    run_until(&mut h, "training to start", |h| {
        matches!(h.state().rt.jobs.current, JobState::Running(_))
    });
    let mut seen: Vec<(String, f32)> = Vec::new();
    run_until(&mut h, "training to end", |h| {
        if let JobState::Running(job) = &h.state().rt.jobs.current {
            for phase in &job.phases.phases {
                match seen.iter_mut().find(|(name, _)| *name == phase.name) {
                    Some((_, fraction)) => {
                        assert!(
                            phase.fraction >= *fraction,
                            "{} went back from {fraction} to {}",
                            phase.name,
                            phase.fraction
                        );
                        *fraction = phase.fraction;
                    }
                    None => seen.push((phase.name.clone(), phase.fraction)),
                }
            }
        }
        !matches!(h.state().rt.jobs.current, JobState::Running(_))
    });
    let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, [progress::CACHING, progress::TRAINING]);
    h.step();
    let (rt, tabs) = (&h.state().rt, &h.state().tabs);
    assert!(
        matches!(&rt.jobs.current, JobState::Done { summary, .. } if summary.contains("Trained gui-run")),
        "the job ended otherwise"
    );
    assert_eq!(tabs.train.history.len(), 2, "two epochs plotted");
    // The run's step line goes with the run.
    assert_eq!(tabs.train.latest, None);
    assert!(rt.systems.iter().any(|s| s.name == "gui-run"));
    for _ in 0..3 {
        h.step();
    }
    assert!(
        h.query_by_label_contains("Result: system gui-run")
            .is_some()
    );
    assert!(
        h.query_by_label_contains("Validation after epoch 2")
            .is_some()
    );

    // The runs table lists it; its name plots its epochs again (from the run's state).
    h.state_mut().tabs.train.history.clear();
    h.step();
    h.get_by_role_and_label(Role::Link, "gui-run").click();
    h.step();
    h.step();
    assert_eq!(
        h.state().tabs.train.history.len(),
        2,
        "{:?}",
        h.state().rt.errors
    );
    assert!(h.query_by_label("Progress per epoch: gui-run").is_some());

    // "Use" indexes the catalogue with it and switches search to it.
    h.get_by_role_and_label(Role::Button, "Use gui-run for search")
        .click();
    h.step();
    h.step();
    assert_eq!(h.state().state.system, "gui-run");
    assert_eq!(h.state().state.tab, Tab::Search);
    run_until(
        &mut h,
        "the index",
        |h| matches!(&h.state().rt.jobs.current, JobState::Done { name, .. } if name.contains("gui-run")),
    );
    // And a search runs with it at once.
    let lib = Library::open(dir.path()).unwrap();
    let first = lib.store.items(&ItemFilter::default()).unwrap()[0].clone();
    let query = SearchCommand::Query(QuerySource::item(&first));
    h.state_mut().rt.commands.push(query.into());
    h.step();
    run_until(&mut h, "the query", |h| {
        !h.state().tabs.search.is_searching() && h.state().tabs.search.shown.is_some()
    });
    let shown = h.state().tabs.search.shown.as_ref().unwrap();
    assert_eq!(shown.result.results.len(), 10);
}

#[test]
fn the_augmentation_preview_shows_cut_out_items_on_scenes() {
    let dir = demo_library(10);
    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);
    h.get_by_role_and_label(Role::Button, "Train").click();
    settle(&mut h);
    h.get_by_role_and_label(Role::Button, "Preview augmentation")
        .click();
    run_until(&mut h, "the preview", |h| {
        h.state().tabs.train.preview.len() == 8
    });
    h.step();
    assert!(h.query_by_label("augmented sample 8").is_some());
}

#[test]
fn the_ablation_and_schedule_boxes_reach_the_run_config() {
    let dir = demo_library(6);
    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);
    h.get_by_role_and_label(Role::Button, "Train").click();
    settle(&mut h);
    let before = h.state().tabs.train.form.config().unwrap();
    assert_eq!(before.lr_schedule, crate::train::LrSchedule::Constant);
    assert!(before.shallow && !before.heavy_augment);
    for label in [
        "Cosine learning-rate schedule",
        "Shallow colour branch beside the backbone (paper §III)",
        "Heavier ranges",
    ] {
        h.get_by_label(label).click();
        h.run();
    }
    let after = h.state().tabs.train.form.config().unwrap();
    assert_eq!(after.lr_schedule, crate::train::LrSchedule::Cosine);
    assert!(!after.shallow, "the shallow box");
    assert!(after.augment && after.heavy_augment, "the heavier box");
}

#[test]
fn the_backbone_choice_offers_the_shipped_lite_variants() {
    let dir = demo_library(6);
    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);
    h.get_by_role_and_label(Role::Button, "Train").click();
    settle(&mut h);
    let choose = |h: &mut egui_kittest::Harness<'static, crate::gui::App>, name: &str| {
        h.get_by_label("Backbone").click();
        h.run();
        h.get_by_label(name).click();
        h.run();
    };
    for name in ["efficientnet-lite1", "efficientnet-lite2"] {
        choose(&mut h, name);
        assert_eq!(h.state().tabs.train.form.config().unwrap().backbone, name);
        // Their weights ship: no weights field to fill in.
        assert!(h.query_by_label("Backbone weights").is_none(), "{name}");
    }
    choose(&mut h, "resnet50");
    assert!(h.query_by_label("Backbone weights").is_some());
}

#[test]
fn the_input_size_box_reaches_the_run_config_and_names_the_backbones_own() {
    let dir = demo_library(6);
    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);
    h.get_by_role_and_label(Role::Button, "Train").click();
    settle(&mut h);
    assert_eq!(
        h.state().tabs.train.form.config().unwrap().input_side_px,
        None
    );
    // Unticked, the side field appears, and its side reaches the run.
    let fields = |h: &egui_kittest::Harness<'static, crate::gui::App>| {
        h.query_all_by_role(Role::SpinButton).count()
    };
    let before = fields(&h);
    h.get_by_label("The backbone's own (224 px)").click();
    h.run();
    assert_eq!(fields(&h), before + 1, "the side field");
    h.state_mut().tabs.train.form.side_px = 160;
    assert_eq!(
        h.state().tabs.train.form.config().unwrap().input_side_px,
        Some(160)
    );
    // Lite2's own side is its own.
    h.get_by_label("Backbone").click();
    h.run();
    h.get_by_label("efficientnet-lite2").click();
    h.run();
    assert!(h.query_by_label("The backbone's own (260 px)").is_some());
}

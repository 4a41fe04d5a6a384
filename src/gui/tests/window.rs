//! The window as people use it, through egui_kittest: the top bar and status line at common
//! widths and at 2× scaling, jobs that queue instead of refusing, a Cancel that asks first
//! (and that Tab, Tab, Tab, Space cannot confirm), Resume only where a run can continue,
//! the menu bar (theme, zoom, the shortcut sheet), Search following the system, and the
//! catalogue's own words for what `imagenet-lite0` sees.

use super::{demo_library, harness, has_label, index_now, run_until, settle};
use crate::catalog::LabelGroup;
use crate::gui::command::Command;
use crate::gui::command::JobCommand;
use crate::gui::command::PersonalizeCommand;
use crate::gui::command::Tab;
use crate::gui::command::TrainCommand;
use crate::gui::command::{QuerySource, SearchCommand};
use crate::gui::job_slot::{JobKind, JobOutput, JobState};
use crate::gui::tabs::search::WaitingQuery;
use crate::gui::tabs::train::BackgroundChoice;
use crate::gui::{App, Startup, theme};
use crate::jobs::JobContext;
use crate::library::Library;
use crate::store::ItemFilter;
use eframe::egui;
use eframe::egui::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use std::path::Path;
use std::time::Duration;

/// A job that runs until it is cancelled (reporting progress), standing in for a long run.
fn slow_job(h: &mut Harness<'_, App>, kind: JobKind, name: &str) {
    h.state_mut()
        .rt
        .jobs
        .start(kind, name, |ctx: &JobContext| -> crate::Result<JobOutput> {
            let mut done = 0;
            loop {
                ctx.check_cancelled()?;
                done = (done + 1) % 100;
                ctx.progress(done, 100, "waiting");
                std::thread::sleep(Duration::from_millis(5));
            }
        });
}

fn harness_sized(dir: &Path, size: [f32; 2], pixels_per_point: f32) -> Harness<'static, App> {
    let dir = dir.to_path_buf();
    Harness::builder()
        .with_size(size)
        .with_pixels_per_point(pixels_per_point)
        .build_eframe(move |cc| App::new_with(cc, dir, Startup::AsIs))
}

/// A few frames (a job that reports progress keeps the window repainting, so `run` would
/// never settle).
fn frames(h: &mut Harness<'_, App>) {
    for _ in 0..4 {
        h.step();
    }
}

/// Opens a menu of the menu bar unless it is open already.
fn open_menu(h: &mut Harness<'_, App>, menu: &str, item: &str) {
    if h.query_by_label_contains(item).is_none() {
        h.get_by_role_and_label(Role::Button, menu).click();
        h.run();
    }
}

fn key(h: &mut Harness<'_, App>, key: egui::Key, modifiers: egui::Modifiers) {
    let event = |pressed| egui::Event::Key {
        key,
        physical_key: Some(key),
        pressed,
        repeat: false,
        modifiers,
    };
    h.input_mut().events.extend([event(true), event(false)]);
    h.step();
    h.step();
}

#[test]
fn the_top_bar_and_the_status_line_fit_without_overlap_at_1024_1280_1920_and_2x() {
    let dir = demo_library(6);
    for (size, ppp) in [
        ([1024.0, 768.0], 1.0),
        ([1280.0, 800.0], 1.0),
        ([1920.0, 1080.0], 1.0),
        // A 1600 × 1000 window at 2× scaling: 800 × 500 points.
        ([800.0, 500.0], 2.0),
    ] {
        let mut h = harness_sized(dir.path(), size, ppp);
        settle(&mut h);
        // A long job with a long name (its phases come from its progress events).
        slow_job(
            &mut h,
            JobKind::CreateStudy {
                name: "street-vs-shop-long-name".into(),
            },
            "Creating the study street-vs-shop-long-name",
        );
        h.state_mut().rt.index_system("imagenet-lite0".into());
        run_until(
            &mut h,
            "the job's progress",
            |h| matches!(&h.state().rt.jobs.current, JobState::Running(j) if !j.phases.phases.is_empty()),
        );
        for _ in 0..3 {
            h.step();
        }
        let wanted: &[(Role, &str)] = &[
            (Role::Button, "File"),
            (Role::Button, "View"),
            (Role::Button, "Help"),
            (Role::Label, "Vitrine"),
            (Role::Label, "Library"),
            (Role::Button, "Open…"),
            (Role::Label, "System"),
            (Role::ComboBox, "System"),
            (Role::Button, "Index catalogue"),
            (Role::Button, "Search"),
            (Role::Button, "Catalog"),
            (Role::Button, "Train"),
            (Role::Button, "Personalize"),
            (Role::Button, "Evaluate"),
            (Role::Button, "Analyze"),
            (Role::Label, "Creating the study street-vs-shop-long-name"),
            (Role::Label, "waiting"),
            (Role::ProgressIndicator, ""),
            (Role::Button, "Cancel"),
            (Role::Label, "then: Indexing with imagenet-lite0"),
            (Role::Button, "Remove"),
        ];
        assert_fit(&h, size, ppp, wanted);

        // The Search tab's toolbar, with a query waiting for the index (its longest line).
        h.state_mut().state.tab = Tab::Search;
        h.state_mut().tabs.search.waiting = Some(WaitingQuery {
            source: QuerySource::File("a-street-photo-with-a-long-name.png".into()),
            record: true,
            systems: vec!["imagenet-lite0".into()],
        });
        for _ in 0..4 {
            h.step();
        }
        assert_fit(
            &h,
            size,
            ppp,
            &[
                (Role::Button, "Back"),
                (Role::Button, "Forward"),
                (Role::Button, "Open image…"),
                (Role::Label, "Category"),
                (Role::ComboBox, "Category"),
                (Role::Label, "Compare with"),
                (Role::ComboBox, "Compare with"),
                (Role::Label, crate::gui::tabs::search::DIAL_LABEL),
                (Role::Slider, crate::gui::tabs::search::DIAL_LABEL),
                (
                    Role::Label,
                    "a-street-photo-with-a-long-name.png waits for the index of imagenet-lite0 \
                     (queued after “Creating the study street-vs-shop-long-name”)",
                ),
            ],
        );
    }
}

/// Every widget `wanted` names is inside the window and none overlaps another.
fn assert_fit(h: &Harness<'_, App>, size: [f32; 2], ppp: f32, wanted: &[(Role, &str)]) {
    let screen = egui::Rect::from_min_size(egui::Pos2::ZERO, size.into());
    let mut rects: Vec<(String, egui::Rect)> = Vec::new();
    for (role, label) in wanted {
        // An empty label: every widget of that role (progress bars have none).
        let nodes: Vec<_> = if label.is_empty() {
            h.query_all_by_role(*role).collect()
        } else {
            h.query_all_by_role_and_label(*role, label).collect()
        };
        assert!(!nodes.is_empty(), "{size:?}@{ppp}: no {role:?} {label:?}");
        for node in nodes {
            let rect = node.rect();
            assert!(
                screen.expand(0.5).contains_rect(rect),
                "{size:?}@{ppp}: {label:?} at {rect:?} is outside the window"
            );
            rects.push((format!("{role:?} {label}"), rect));
        }
    }
    for (i, (a, ra)) in rects.iter().enumerate() {
        for (b, rb) in &rects[i + 1..] {
            let overlap = ra.intersect(*rb);
            assert!(
                !(overlap.width() > 0.5 && overlap.height() > 0.5),
                "{size:?}@{ppp}: {a} {ra:?} overlaps {b} {rb:?}"
            );
        }
    }
}

#[test]
fn jobs_queue_and_the_personalize_tab_waits_its_turn_without_an_error() {
    let dir = demo_library(10);
    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);
    slow_job(
        &mut h,
        JobKind::Train {
            system: "long".into(),
        },
        "Training long",
    );
    h.step();
    h.get_by_role_and_label(Role::Button, "Personalize").click();
    // The long job repaints on every progress event: a fixed number of frames, not `run`.
    frames(&mut h);
    // No banner the user did not cause: the tab's loading waits in the queue.
    assert!(h.state().rt.errors.is_empty(), "{:?}", h.state().rt.errors);
    assert!(
        h.query_by_label_contains("Queued: the users load as soon as “Training long” ends")
            .is_some()
    );
    assert!(has_label(&h, "then: Loading users for imagenet-lite0"));
    // Asking again queues nothing twice.
    h.state_mut()
        .rt
        .commands
        .push(Command::Personalize(PersonalizeCommand::Load));
    frames(&mut h);
    assert_eq!(h.state().rt.jobs.queue.len(), 1);
    // The long job stops; the queued one starts by itself and loads the shoppers.
    h.state_mut().apply_job_command(JobCommand::Cancel);
    h.state_mut().apply_job_command(JobCommand::ConfirmCancel);
    run_until(&mut h, "the users", |h| {
        h.state().tabs.personalize.engine.is_some()
    });
    assert!(h.state().rt.errors.is_empty(), "{:?}", h.state().rt.errors);
}

#[test]
fn cancel_asks_first_and_tab_tab_tab_space_cannot_stop_a_long_job() {
    let dir = demo_library(6);
    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);
    slow_job(
        &mut h,
        JobKind::Train {
            system: "long".into(),
        },
        "Training long",
    );
    frames(&mut h);
    // Tab through the window until the job's Cancel has the keyboard, then Space.
    let mut tabs = 0;
    while !h.get_by_role_and_label(Role::Button, "Cancel").is_focused() {
        key(&mut h, egui::Key::Tab, egui::Modifiers::NONE);
        tabs += 1;
        assert!(tabs < 80, "Tab never reached Cancel");
    }
    key(&mut h, egui::Key::Space, egui::Modifiers::NONE);
    frames(&mut h);
    // A question, not a cancel; the safe answer has the keyboard.
    assert!(matches!(&h.state().rt.jobs.current, JobState::Running(j) if !j.cancelling));
    assert!(has_label(&h, "Stop “Training long”?"));
    assert!(
        h.query_by_label_contains("there is no checkpoint to resume from")
            .is_some()
    );
    assert!(
        h.get_by_role_and_label(Role::Button, "Keep running")
            .is_focused()
    );
    // Space again (a habit) keeps it running.
    key(&mut h, egui::Key::Space, egui::Modifiers::NONE);
    frames(&mut h);
    assert!(!has_label(&h, "Stop “Training long”?"));
    assert!(matches!(&h.state().rt.jobs.current, JobState::Running(j) if !j.cancelling));
    // Escape keeps it too; only the explicit Stop stops it.
    h.get_by_role_and_label(Role::Button, "Cancel").click();
    frames(&mut h);
    key(&mut h, egui::Key::Escape, egui::Modifiers::NONE);
    frames(&mut h);
    assert!(matches!(&h.state().rt.jobs.current, JobState::Running(j) if !j.cancelling));
    h.get_by_role_and_label(Role::Button, "Cancel").click();
    frames(&mut h);
    h.get_by_role_and_label(Role::Button, "Stop Training long")
        .click();
    run_until(&mut h, "the cancel", |h| {
        matches!(h.state().rt.jobs.current, JobState::Cancelled { .. })
    });
}

#[test]
fn resume_is_offered_only_for_a_run_that_can_continue() {
    use crate::train::checkpoint::{RunState, STATE_FORMAT, run_dir};
    let dir = demo_library(6);
    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);
    h.get_by_role_and_label(Role::Button, "Train").click();
    h.run();
    h.state_mut().tabs.train.form.name = "never-started".into();
    h.run();
    let resume = |h: &Harness<'_, App>| {
        !h.get_by_role_and_label(Role::Button, "Resume")
            .accesskit_node()
            .is_disabled()
    };
    assert!(!resume(&h), "nothing to resume");
    // Asked for anyway (a stale click): words, never the OS's "No such file".
    h.state_mut()
        .rt
        .commands
        .push(TrainCommand::Start { resume: true }.into());
    h.run();
    let errors = h.state().rt.errors.join("\n");
    assert!(
        errors.contains("There is no run called never-started to resume"),
        "{errors}"
    );
    assert!(!errors.contains("No such file"), "{errors}");

    // A run stopped after 2 of 6 epochs can continue.
    let state = RunState {
        format: STATE_FORMAT,
        config: crate::train::TrainConfig {
            name: "half-done".into(),
            epochs: 6,
            ..Default::default()
        },
        split: crate::train::split::Split {
            train: vec![1],
            validation: vec![2],
            test: vec![3],
        },
        labels: vec!["category:top".into()],
        epochs_done: 2,
        best_iou: 0.1,
        best_epoch: 2,
        history: Vec::new(),
    };
    state.save(&run_dir(dir.path(), "half-done")).unwrap();
    h.state_mut().tabs.train.form.name = "half-done".into();
    h.state_mut().tabs.train.form.epochs = 6;
    h.run();
    assert!(resume(&h));
    assert!(
        h.query_by_label_contains("Resume continues half-done: 2 of 6 epochs done")
            .is_some()
    );
}

#[test]
fn a_cancelled_run_clears_its_caching_line_and_says_what_it_kept() {
    let dir = demo_library(16);
    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);
    h.get_by_role_and_label(Role::Button, "Train").click();
    h.run();
    {
        let form = &mut h.state_mut().tabs.train.form;
        form.name = "stopped".into();
        form.epochs = 50;
        form.batch = 4;
    }
    h.get_by_role_and_label(Role::Button, "Start training")
        .click();
    run_until(
        &mut h,
        "the caching phase",
        |h| matches!(&h.state().rt.jobs.current, JobState::Running(j) if !j.phases.phases.is_empty()),
    );
    frames(&mut h);
    let caching = |h: &Harness<'_, App>| h.query_all_by_label_contains("Caching features").count();
    // In the status line and in the Train tab.
    assert!(caching(&h) > 0);
    h.state_mut().apply_job_command(JobCommand::Cancel);
    h.state_mut().apply_job_command(JobCommand::ConfirmCancel);
    run_until(&mut h, "the cancel", |h| {
        matches!(h.state().rt.jobs.current, JobState::Cancelled { .. })
    });
    h.run();
    assert_eq!(caching(&h), 0);
    assert!(h.query_by_label_contains("Cancelled").is_some());
    // Resume follows the checkpoint: offered exactly when the run kept one.
    let can_resume = crate::train::checkpoint::find_run(dir.path(), "stopped")
        .unwrap()
        .is_some_and(|s| s.can_continue(50));
    let offered = !h
        .get_by_role_and_label(Role::Button, "Resume")
        .accesskit_node()
        .is_disabled();
    assert_eq!(offered, can_resume);
}

#[test]
fn the_augmentation_preview_follows_the_background_setting() {
    let dir = demo_library(8);
    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);
    h.get_by_role_and_label(Role::Button, "Train").click();
    h.run();
    h.get_by_role_and_label(Role::Button, "Preview augmentation")
        .click();
    run_until(&mut h, "the first preview", |h| {
        h.state().tabs.train.preview_settings.is_some()
    });
    h.run();
    // Real scene photos by default.
    assert!(
        h.query_by_label_contains("background augmentation real scene photos")
            .is_some()
    );
    h.get_by_role_and_label(Role::RadioButton, "Off").click();
    run_until(&mut h, "the preview drawn again", |h| {
        h.state()
            .tabs
            .train
            .preview_settings
            .as_ref()
            .is_some_and(|s| s.background == BackgroundChoice::Off)
    });
    h.run();
    assert!(
        h.query_by_label_contains("background augmentation off")
            .is_some()
    );
}

#[test]
fn the_menu_switches_theme_and_zoom_and_f1_or_a_question_mark_shows_the_keys() {
    let dir = demo_library(4);
    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);
    // Dark theme from the View menu; following the system is the default.
    assert_eq!(h.state().state.theme, theme::ThemeChoice::FollowSystem);
    open_menu(&mut h, "View", "Dark");
    h.get_by_label("Dark").click();
    h.run();
    assert_eq!(h.state().state.theme, theme::ThemeChoice::Dark);
    assert_eq!(h.ctx.theme(), egui::Theme::Dark);
    assert_eq!(
        h.ctx.style_of(egui::Theme::Dark).visuals.panel_fill,
        theme::DARK.panel
    );
    open_menu(&mut h, "View", "Follow the system");
    h.get_by_label("Follow the system").click();
    h.run();
    assert_eq!(
        h.ctx.options(|o| o.theme_preference),
        egui::ThemePreference::System
    );
    // Zoom in from the menu.
    open_menu(&mut h, "View", "Zoom in");
    h.get_by_label_contains("Zoom in").click();
    h.run();
    assert!((h.ctx.zoom_factor() - 1.1).abs() < 1e-4);
    assert!((h.state().state.zoom - 1.1).abs() < 1e-4);
    h.state_mut().rt.commands.push(Command::Zoom(0));
    h.run();
    // F1 shows every shortcut; Escape closes it.
    key(&mut h, egui::Key::F1, egui::Modifiers::NONE);
    h.run();
    assert!(has_label(&h, "Keyboard shortcuts"));
    assert!(has_label(&h, "take back the last answer"));
    key(&mut h, egui::Key::Escape, egui::Modifiers::NONE);
    h.run();
    assert!(!has_label(&h, "Keyboard shortcuts"));
    // So does `?`, except in a text field, where it is a question mark.
    key(&mut h, egui::Key::Questionmark, egui::Modifiers::SHIFT);
    h.run();
    assert!(has_label(&h, "Keyboard shortcuts"));
    h.get_by_role_and_label(Role::Button, "Close").click();
    h.run();
    h.get_by_role_and_label(Role::TextInput, "Search").click();
    h.run();
    key(&mut h, egui::Key::Questionmark, egui::Modifiers::SHIFT);
    h.run();
    assert!(!has_label(&h, "Keyboard shortcuts"));
    // Help > About.
    open_menu(&mut h, "Help", "About Vitrine");
    h.get_by_label("About Vitrine").click();
    h.run();
    assert!(h.query_by_label_contains("Version ").is_some());
}

#[test]
fn search_follows_the_system_and_imagenet_lite0_speaks_the_catalogues_words() {
    use crate::device::device;
    use crate::model::network::{NetworkConfig, ParallelNetwork};
    use crate::model::system::{System, find_weights};
    let dir = demo_library(16);
    let mut lib = Library::open(dir.path()).unwrap();
    let config = NetworkConfig {
        embedding_dim: 16,
        ..NetworkConfig::lite0(2)
    };
    let weights = find_weights(crate::model::system::LITE0_WEIGHTS_FILE).unwrap();
    let cpu = device("cpu").unwrap();
    let net = ParallelNetwork::fresh(&candle_nn::VarMap::new(), &config, &weights, &cpu).unwrap();
    let labels = vec!["category:top".to_string(), "colour:red".to_string()];
    System::save_trained(
        &mut lib,
        "fresh",
        &net,
        &crate::vision::preprocess::Preprocess::LITE0,
        &labels,
        &serde_json::json!({}),
    )
    .unwrap();
    let items = lib.store.items(&ItemFilter::default()).unwrap();
    let photo = lib.resolve(&items[4].image);
    drop(lib);
    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);
    h.state_mut()
        .rt
        .commands
        .push(SearchCommand::Query(QuerySource::File(photo.clone())).into());
    h.step();
    run_until(&mut h, "the results", |h| {
        h.state().tabs.search.shown.is_some()
    });
    settle(&mut h);
    // imagenet-lite0's own guesses are ImageNet classes: the catalogue's labels come first,
    // voted by the nearest items, and ImageNet's words are named as such.
    assert!(has_label(&h, "Catalogue labels of the nearest items"));
    let category = items[4]
        .labels
        .iter()
        .find(|l| l.group == LabelGroup::Category)
        .unwrap();
    assert!(
        has_label(&h, &format!("category: {}", category.name)),
        "the query's own category is among the voted labels"
    );
    assert!(has_label(&h, "ImageNet's words for it"));
    assert!(!has_label(&h, "The system sees"));

    // Switching the system: the old system's results go at once, and the query runs again.
    h.state_mut()
        .rt
        .commands
        .push(Command::SelectSystem("fresh".into()));
    h.step();
    h.step();
    assert!(
        h.state()
            .tabs
            .search
            .shown
            .as_ref()
            .is_none_or(|s| s.system == "fresh"),
        "results of imagenet-lite0 stayed on show"
    );
    run_until(&mut h, "the results of fresh", |h| {
        h.state()
            .tabs
            .search
            .shown
            .as_ref()
            .is_some_and(|s| s.system == "fresh")
    });
    settle(&mut h);
    // A trained system predicts the catalogue's labels itself.
    assert!(has_label(&h, "The system sees"));
    assert!(h.state().rt.errors.is_empty(), "{:?}", h.state().rt.errors);
}

#[test]
fn search_results_stay_inside_a_window_at_2x() {
    let dir = demo_library(12);
    index_now(dir.path(), "imagenet-lite0");
    let first = Library::open(dir.path())
        .unwrap()
        .store
        .items(&ItemFilter::default())
        .unwrap()[0]
        .clone();
    let mut h = harness_sized(dir.path(), [800.0, 500.0], 2.0);
    settle(&mut h);
    let query = SearchCommand::Query(QuerySource::item(&first));
    h.state_mut().rt.commands.push(query.into());
    h.step();
    run_until(&mut h, "the results", |h| {
        h.state().tabs.search.shown.is_some()
    });
    settle(&mut h);
    for rank in 1..=5 {
        let rect = h.get_by_label(&format!("#{rank}")).rect();
        assert!(
            rect.max.x <= 800.5,
            "result #{rank} at {rect:?} is past the window's edge"
        );
    }
}

#[test]
fn the_device_picker_shows_only_where_there_is_a_choice_and_refuses_an_unusable_device() {
    let dir = demo_library(4);
    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);
    // Models run on the CPU unless the picker chose another device.
    assert_eq!(h.state().rt.device, crate::device::CPU);
    let picker = |h: &Harness<'_, App>| {
        h.query_by_role_and_label(Role::ComboBox, "Device")
            .is_some()
    };
    // Only a CUDA build that finds a GPU has a choice.
    assert_eq!(picker(&h), crate::device::gpu_available());
    h.state_mut().rt.devices = vec![crate::device::CPU, crate::device::CUDA];
    h.run();
    assert!(picker(&h));
    // A device this build cannot use is refused in words; the CPU stays.
    h.state_mut()
        .rt
        .commands
        .push(Command::SelectDevice("tpu".into()));
    h.run();
    assert_eq!(h.state().rt.device, crate::device::CPU);
    let errors = h.state().rt.errors.join("\n");
    assert!(errors.contains("Cannot use the device tpu"), "{errors}");
}

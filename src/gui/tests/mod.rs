//! The real [`App`] driven through egui_kittest, by the labels a user (or a screen reader)
//! sees: tabs, filter chips, thumbnails, the detail view, the first-start demo job, and the
//! error banner. kittest also checks that every input widget has an accessible name.

mod dial;
mod explain;
mod ohs;
mod ohs_explain;
mod ohs_prefill;
mod personalize;
mod train;
mod window;

use super::job_slot::{JobKind, JobState};
use super::thumbs::ImageKey;
use super::{App, Startup};
use crate::catalog::LabelGroup;
use crate::gui::command::CatalogCommand;
use crate::gui::command::Command;
use crate::gui::command::Tab;
use crate::gui::command::{QuerySource, SearchCommand};
use crate::jobs::JobContext;
use crate::library::Library;
use crate::sources::demo::{self, DemoOptions};
use crate::store::ItemFilter;
use eframe::egui;
use eframe::egui::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(super) fn small_demo(items: usize) -> DemoOptions {
    DemoOptions {
        items,
        users: 5,
        street: 3,
        seed: 3,
        size_px: 256,
    }
}

/// The frozen results of a test sheet: these catalogue items, in order.
pub(super) fn sheet_items(items: &[crate::catalog::Item]) -> Vec<crate::study::SheetItem> {
    items
        .iter()
        .map(|it| crate::study::SheetItem {
            item_id: it.id,
            image: it.image.clone(),
        })
        .collect()
}

/// A shop query: the catalogue item's own photo.
pub(super) fn shop_query(item: &crate::catalog::Item) -> crate::study::NewQuery {
    crate::study::NewQuery {
        image: item.image.clone(),
        domain: crate::study::Domain::Shop,
        item_id: Some(item.id),
    }
}

/// A temp library holding a small demo catalogue.
pub(super) fn demo_library(items: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut lib = Library::open(dir.path()).unwrap();
    demo::generate(&mut lib, &small_demo(items), &JobContext::silent()).unwrap();
    dir
}

pub(super) fn harness(dir: &Path, startup: Startup) -> Harness<'static, App> {
    let dir = dir.to_path_buf();
    Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(move |cc| App::new_with(cc, dir, startup))
}

/// Runs frames (with short sleeps, for the worker threads) until `done` holds.
pub(super) fn run_until(
    h: &mut Harness<'_, App>,
    what: &str,
    mut done: impl FnMut(&Harness<'_, App>) -> bool,
) {
    let start = Instant::now();
    loop {
        h.step();
        if done(h) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs frames until the job slot holds no running job (the one just clicked has ended).
pub(super) fn run_until_job_ends(h: &mut Harness<'_, App>, what: &str) {
    run_until(h, what, |h| {
        !matches!(h.state().rt.jobs.current, JobState::Running(_))
    });
}

/// Indexes the library at `dir` with `system` on the CPU, as a finished index job would.
pub(super) fn index_now(dir: &Path, system: &str) {
    let device = crate::device::device("cpu").unwrap();
    crate::index::build_in(
        dir,
        system,
        &device,
        &Default::default(),
        &JobContext::silent(),
    )
    .unwrap();
}

/// Runs until every image asked for has arrived and the ui has settled (checking the
/// accessibility of what is shown).
pub(super) fn settle(h: &mut Harness<'_, App>) {
    run_until(h, "the images", |h| h.state().rt.thumbs.is_idle());
    h.run();
}

pub(super) fn has_label(h: &Harness<'_, App>, label: &str) -> bool {
    h.query_by_label(label).is_some()
}

#[test]
fn the_catalog_shows_filters_and_opens_an_item() {
    let dir = demo_library(30);
    let lib = Library::open(dir.path()).unwrap();
    let items = lib.store.items(&ItemFilter::default()).unwrap();
    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);

    // Another tab says what it will do; the Catalog tab comes back by its label.
    h.get_by_role_and_label(Role::Button, "Search").click();
    h.run();
    assert!(h.query_by_label_contains("10 most similar").is_some());
    assert_eq!(h.state().state.tab, Tab::Search);
    h.get_by_role_and_label(Role::Button, "Catalog").click();
    settle(&mut h);
    assert_eq!(h.state().state.tab, Tab::Catalog);

    // Every item, and the thumbnails arrive from the loader threads.
    assert!(has_label(&h, "30 of 30 items"));
    let first = &items[0];
    run_until(&mut h, "the thumbnails", |h| {
        h.state().rt.thumbs.is_idle()
            && h.state()
                .rt
                .thumbs
                .is_ready(&ImageKey::Thumb(first.image.clone()))
    });
    h.run();
    let first_card = format!("{} ({})", first.title, first.key);
    assert!(has_label(&h, &first_card), "no card named {first_card:?}");

    // A category chip narrows the grid to that category.
    let category = lib
        .store
        .label_counts()
        .unwrap()
        .into_iter()
        .find(|c| c.label.group == LabelGroup::Category && c.items < 30)
        .unwrap();
    h.get_by_role_and_label(
        Role::Button,
        &format!("{} {}", category.label.name, category.items),
    )
    .click();
    h.run();
    assert!(
        has_label(&h, &format!("{} of 30 items", category.items)),
        "the count should drop to {}",
        category.items
    );
    let shown = h.state().tabs.catalog.items.clone();
    assert!(shown.iter().all(|it| it.labels.contains(&category.label)));

    // Clicking a thumbnail opens its details, with its labels grouped.
    let item = &shown[0];
    h.get_by_label(&format!("{} ({})", item.title, item.key))
        .click();
    // Frames until the click lands, not `run`: loading images keep repainting, and `run`
    // gives up after a few steps on a busy machine.
    run_until(&mut h, "the selection", |h| {
        h.state().tabs.catalog.selected == Some(item.id)
    });
    settle(&mut h);
    assert!(has_label(&h, &item.key), "the detail view names the key");
    assert!(has_label(&h, "256 × 256 px"));
    for label in &item.labels {
        assert!(
            !h.query_all_by_label(&label.name)
                .collect::<Vec<_>>()
                .is_empty(),
            "the detail view lists {label}"
        );
    }
    run_until(&mut h, "the full image", |h| {
        h.state()
            .rt
            .thumbs
            .is_ready(&ImageKey::Full(item.image.clone()))
    });

    // Arrow keys move the selection; Escape closes the details.
    if shown.len() > 1 {
        h.key_press(egui::Key::ArrowRight);
        settle(&mut h);
        assert_eq!(h.state().tabs.catalog.selected, Some(shown[1].id));
    }
    h.key_press(egui::Key::Escape);
    h.run();
    assert_eq!(h.state().tabs.catalog.selected, None);
    assert!(h.query_by_role_and_label(Role::Button, "Close").is_none());

    // Clearing the filters and searching by key finds one item.
    h.get_by_role_and_label(Role::Button, "Clear filters")
        .click();
    h.run();
    assert!(has_label(&h, "30 of 30 items"));
    let search = h.get_by_role_and_label(Role::TextInput, "Search");
    search.focus();
    search.type_text(&items[7].key);
    h.run();
    assert!(has_label(&h, "1 of 30 items"));

    // Tab shortcuts.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num3);
    h.run();
    assert_eq!(h.state().state.tab, Tab::Train);
}

#[test]
fn an_unreadable_image_shows_a_warning_naming_the_file() {
    let dir = demo_library(4);
    let lib = Library::open(dir.path()).unwrap();
    let items = lib.store.items(&ItemFilter::default()).unwrap();
    let broken = &items[1];
    std::fs::write(lib.resolve(&broken.image), b"not a png").unwrap();
    std::fs::remove_file(lib.thumb_path(&broken.image)).unwrap();

    let mut h = harness(dir.path(), Startup::AsIs);
    run_until(&mut h, "the thumbnails", |h| {
        h.state().rt.thumbs.is_idle() && h.state().rt.thumbs.len() >= 4
    });
    h.run();
    assert!(
        h.state()
            .rt
            .thumbs
            .is_ready(&ImageKey::Thumb(items[0].image.clone()))
    );
    let name = format!("{} ({})", broken.title, broken.key);
    h.get_by_label(&name).hover();
    h.run();
    let file = Path::new(&broken.image)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        h.query_by_label_contains(&file).is_some(),
        "the tooltip should name {file}"
    );
}

#[test]
fn an_empty_library_draws_the_demo_catalogue_on_first_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), Startup::CreateDemoIfEmpty(small_demo(12)));
    h.step();
    assert!(has_label(&h, "Creating the demo catalogue…"));
    // One Cancel on the card, one by the job's progress bar in the status line.
    assert_eq!(
        h.query_all_by_role_and_label(Role::Button, "Cancel")
            .count(),
        2
    );
    h.check_accessibility();
    run_until(&mut h, "the demo catalogue", |h| {
        has_label(h, "12 of 12 items")
    });
    // The new catalogue is indexed by itself, as a job like any other.
    assert!(
        h.state()
            .rt
            .job_pending(|k| matches!(k, JobKind::Index { system } if system == "imagenet-lite0"))
    );
    run_until(
        &mut h,
        "the index",
        |h| matches!(&h.state().rt.jobs.current, JobState::Done { summary, .. } if summary.starts_with("Indexed 12 items")),
    );
    assert!(crate::index::index_path(dir.path(), "imagenet-lite0").is_file());
}

#[test]
fn the_first_photo_dropped_on_a_new_library_waits_for_the_index_and_finds_itself() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), Startup::CreateDemoIfEmpty(small_demo(16)));
    run_until(&mut h, "the demo catalogue", |h| {
        h.state().tabs.catalog.total_items == 16
    });
    // Dropped at once, while the catalogue is being indexed (or about to be).
    let item = h.state().tabs.catalog.items[3].clone();
    let photo = Library::open(dir.path()).unwrap().resolve(&item.image);
    drop_file(&mut h, &photo);
    h.step();
    h.step();
    assert_eq!(h.state().state.tab, Tab::Search);
    assert!(
        h.state().tabs.search.waiting.is_some(),
        "the query waits for the index"
    );
    assert!(has_label(&h, "Indexing the catalogue for this search"));
    run_until(&mut h, "the results", |h| {
        h.state().tabs.search.shown.is_some()
    });
    let shown = h.state().tabs.search.shown.as_ref().unwrap();
    assert_eq!(shown.result.results.len(), 10);
    assert_eq!(shown.result.results[0].item_id, item.id);
    // Nothing went wrong, and the window never advises a command line.
    assert!(h.state().rt.errors.is_empty(), "{:?}", h.state().rt.errors);
}

#[test]
fn a_drop_on_a_library_without_an_index_indexes_it_first_and_dragging_shows_where_to_drop() {
    let dir = demo_library(14);
    let lib = Library::open(dir.path()).unwrap();
    let items = lib.store.items(&ItemFilter::default()).unwrap();
    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);
    drop_file(&mut h, &lib.resolve(&items[2].image));
    h.step();
    run_until(&mut h, "the results", |h| {
        h.state().tabs.search.shown.is_some()
    });
    settle(&mut h);
    assert_eq!(
        h.state().tabs.search.shown.as_ref().unwrap().result.results[0].item_id,
        items[2].id
    );
    assert!(h.state().rt.errors.is_empty(), "{:?}", h.state().rt.errors);
    assert!(crate::index::index_path(dir.path(), "imagenet-lite0").is_file());

    // A file dragged over the results (not the empty drop zone) says that dropping searches.
    assert!(!has_label(&h, "Drop the photo to search for similar items"));
    // (The platform reports the hovering file every frame while it is dragged.)
    for _ in 0..2 {
        h.input_mut().hovered_files = vec![egui::HoveredFile {
            path: Some(lib.resolve(&items[5].image)),
            ..Default::default()
        }];
        h.step();
    }
    assert!(has_label(&h, "Drop the photo to search for similar items"));
    h.input_mut().hovered_files.clear();
    h.step();
    h.step();
    assert!(!has_label(&h, "Drop the photo to search for similar items"));
}

#[test]
fn cancelling_the_demo_leaves_an_empty_library_with_a_way_to_start_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path(), Startup::default());
    h.step();
    let cancel = h.query_all_by_role_and_label(Role::Button, "Cancel").next();
    cancel.unwrap().click();
    run_until(&mut h, "the cancelled job", |h| {
        matches!(h.state().rt.jobs.current, JobState::Cancelled { .. })
    });
    h.run();
    assert!(has_label(&h, "This library is empty"));
    assert!(
        h.query_by_role_and_label(Role::Button, "Create the demo catalogue")
            .is_some()
    );
    assert_eq!(
        Library::open(dir.path())
            .unwrap()
            .store
            .counts()
            .unwrap()
            .items,
        0
    );
}

#[test]
fn a_library_that_cannot_open_is_reported_once_in_a_dismissible_banner() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, b"x").unwrap();
    let mut h = harness(&file.join("lib"), Startup::default());
    h.run();
    assert!(has_label(&h, "No library is open"));
    assert!(
        h.query_by_label_contains("Cannot open the library")
            .is_some()
    );
    assert!(matches!(h.state().rt.jobs.current, JobState::Idle));
    h.get_by_role_and_label(Role::Button, "Dismiss").click();
    h.run();
    assert!(
        h.query_by_label_contains("Cannot open the library")
            .is_none()
    );
}

#[test]
fn opening_another_library_shows_its_catalogue() {
    let first = demo_library(6);
    let second = demo_library(9);
    let mut h = harness(first.path(), Startup::AsIs);
    settle(&mut h);
    assert!(has_label(&h, "6 of 6 items"));
    // What the folder picker sends once a folder is chosen.
    h.state_mut()
        .rt
        .commands
        .push(Command::OpenLibrary(second.path().to_path_buf()));
    h.step();
    settle(&mut h);
    assert!(has_label(&h, "9 of 9 items"));
    assert_eq!(h.state().rt.library_dir, second.path());
}

#[test]
fn the_window_icon_decodes() {
    let icon = super::app_icon();
    assert!(icon.width > 0 && icon.rgba.len() == (icon.width * icon.height * 4) as usize);
}

#[test]
fn the_index_button_embeds_the_catalogue_in_a_job_and_says_so() {
    let dir = demo_library(12);
    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);
    // The system picker lists the built-in system.
    assert!(
        h.state()
            .rt
            .systems
            .iter()
            .any(|s| s.name == "imagenet-lite0")
    );
    // No index yet: the Precision menu names none.
    assert!(
        h.query_by_role_and_label(Role::Button, "Precision")
            .is_some()
    );
    h.get_by_role_and_label(Role::Button, "Index catalogue")
        .click();
    h.run();
    run_until(&mut h, "the index job", |h| {
        matches!(h.state().rt.jobs.current, JobState::Done { .. })
    });
    h.run();
    assert!(
        h.query_by_label_contains("Indexed 12 items with imagenet-lite0")
            .is_some()
    );
    assert!(crate::index::index_path(dir.path(), "imagenet-lite0").is_file());

    // A second run finds nothing new to embed.
    h.get_by_role_and_label(Role::Button, "Index catalogue")
        .click();
    h.run();
    run_until(
        &mut h,
        "the second index job",
        |h| matches!(&h.state().rt.jobs.current, JobState::Done { summary, .. } if summary.contains("up to date")),
    );

    // Precision ▸ half precision: the rows are rounded (nothing embedded again) and the
    // status line says what that cost. The menu's button names the index's precision.
    h.get_by_role_and_label(Role::Button, "Precision: f32")
        .click();
    h.run();
    h.get_by_label("Index at half precision (f16)").click();
    h.run();
    run_until(
        &mut h,
        "the f16 index job",
        |h| matches!(&h.state().rt.jobs.current, JobState::Done { summary, .. } if summary.contains("half precision")),
    );
    h.run();
    assert!(h.query_by_label_contains("0 embedded, 12 kept").is_some());
    assert!(
        h.query_by_label_contains("of the 10 nearest neighbours")
            .is_some()
    );
    let path = crate::index::index_path(dir.path(), "imagenet-lite0");
    let index = crate::index::load(&path).unwrap();
    assert_eq!(index.precision(), crate::index::Precision::F16);
    assert!(
        h.query_by_role_and_label(Role::Button, "Precision: f16")
            .is_some()
    );
}

/// A file dropped on the window, as the platform integration hands it over.
#[derive(Debug)]
struct DroppedPath(std::path::PathBuf);

impl egui::DroppedFile for DroppedPath {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

fn drop_file(h: &mut Harness<'_, App>, path: &Path) {
    h.input_mut()
        .dropped_files
        .push(Arc::new(DroppedPath(path.to_path_buf())));
}

#[test]
fn a_dropped_photo_shows_ten_results_and_a_bad_drop_keeps_them() {
    let dir = demo_library(24);
    let lib = Library::open(dir.path()).unwrap();
    index_now(dir.path(), "imagenet-lite0");
    let items = lib.store.items(&ItemFilter::default()).unwrap();
    let query = lib.resolve(&items[5].image);
    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);

    drop_file(&mut h, &query);
    h.step();
    assert_eq!(h.state().state.tab, Tab::Search);
    run_until(&mut h, "the query", |h| {
        h.state().tabs.search.shown.is_some()
    });
    settle(&mut h);
    for rank in 1..=10 {
        assert!(has_label(&h, &format!("#{rank}")), "result tile #{rank}");
    }
    assert!(!has_label(&h, "#11"));
    let shown = h.state().tabs.search.shown.as_ref().unwrap();
    assert_eq!(shown.result.results.len(), 10);
    // The dropped catalogue photo finds itself first.
    assert_eq!(shown.result.results[0].item_id, items[5].id);
    // Each tile is the catalogue's own thumbnail, asked for and cached inside the library.
    for result in &shown.result.results {
        let item = items.iter().find(|i| i.id == result.item_id).unwrap();
        let key = ImageKey::Thumb(item.image.clone());
        assert!(h.state().rt.thumbs.is_ready(&key), "{key:?}");
        let asked = h.state().rt.thumbs.thumb_file(&key).unwrap();
        assert!(
            asked.starts_with(dir.path().join("thumbs")),
            "{}",
            asked.display()
        );
        assert!(lib.thumb_path(&item.image).is_file(), "{}", item.image);
    }

    // A file that is not an image: one clear message naming it; the results stay.
    let bad = dir.path().join("notes.txt");
    std::fs::write(&bad, b"not an image").unwrap();
    drop_file(&mut h, &bad);
    h.step();
    run_until(&mut h, "the failed query", |h| {
        !h.state().tabs.search.is_searching() && !h.state().rt.errors.is_empty()
    });
    settle(&mut h);
    assert!(
        h.state().rt.errors[0].contains("notes.txt"),
        "{:?}",
        h.state().rt.errors
    );
    assert!(has_label(&h, "#10"));

    // Search similar from a result, then back in the history.
    h.state_mut()
        .rt
        .commands
        .push(SearchCommand::Query(QuerySource::item(&items[2])).into());
    h.step();
    run_until(&mut h, "the item query", |h| {
        !h.state().tabs.search.is_searching()
            && h.state()
                .tabs
                .search
                .shown
                .as_ref()
                .is_some_and(|s| s.result.results.iter().all(|r| r.item_id != items[2].id))
    });
    assert!(h.state().tabs.search.can_go_back());
    h.get_by_role_and_label(Role::Button, "Back").click();
    h.step();
    run_until(&mut h, "the earlier query", |h| {
        !h.state().tabs.search.is_searching()
            && h.state()
                .tabs
                .search
                .shown
                .as_ref()
                .is_some_and(|s| s.result.results[0].item_id == items[5].id)
    });
}

#[test]
fn a_pasted_image_is_a_query() {
    let dir = demo_library(16);
    index_now(dir.path(), "imagenet-lite0");
    let lib = Library::open(dir.path()).unwrap();
    let items = lib.store.items(&ItemFilter::default()).unwrap();
    let rgb = crate::vision::decode(&lib.resolve(&items[3].image)).unwrap();
    let pasted =
        egui::ColorImage::from_rgb([rgb.width() as usize, rgb.height() as usize], rgb.as_raw());
    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);
    h.input_mut()
        .events
        .push(egui::Event::PasteImage(Arc::new(pasted)));
    h.step();
    run_until(&mut h, "the pasted query", |h| {
        h.state().tabs.search.shown.is_some()
    });
    settle(&mut h);
    let shown = h.state().tabs.search.shown.as_ref().unwrap();
    assert_eq!(shown.result.results[0].item_id, items[3].id);
    assert!(shown.pasted_texture.is_some());
    assert!(has_label(&h, "#10"));
}

/// Saves Lite0 with a fresh (untrained, randomly initialised) 32-wide head over four demo
/// labels as the system `name`: each call gives other weights.
pub(super) fn save_fresh_head(lib: &mut Library, name: &str) {
    use crate::model::network::{NetworkConfig, ParallelNetwork};
    use crate::model::system::{System, find_weights};
    let config = NetworkConfig {
        embedding_dim: 32,
        ..NetworkConfig::lite0(4)
    };
    let varmap = candle_nn::VarMap::new();
    let weights = find_weights(crate::model::system::LITE0_WEIGHTS_FILE).unwrap();
    let device = crate::device::device("cpu").unwrap();
    let net = ParallelNetwork::fresh(&varmap, &config, &weights, &device).unwrap();
    let labels: Vec<String> = [
        "category:top",
        "category:dress",
        "colour:red",
        "colour:blue",
    ]
    .map(String::from)
    .to_vec();
    let input = crate::vision::preprocess::Preprocess::LITE0;
    System::save_trained(lib, name, &net, &input, &labels, &serde_json::json!({})).unwrap();
}

#[test]
fn compare_mode_shows_two_systems_side_by_side_with_shared_items() {
    let dir = demo_library(16);
    let mut lib = Library::open(dir.path()).unwrap();
    // A second system: Lite0 with a fresh (untrained) head over the catalogue's labels.
    save_fresh_head(&mut lib, "fresh-head");
    for system in ["imagenet-lite0", "fresh-head"] {
        index_now(dir.path(), system);
    }
    let items = lib.store.items(&ItemFilter::default()).unwrap();
    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);
    h.state_mut()
        .rt
        .commands
        .push(SearchCommand::SetCompareSystem(Some("fresh-head".into())).into());
    h.state_mut()
        .rt
        .commands
        .push(SearchCommand::Query(QuerySource::item(&items[0])).into());
    h.step();
    run_until(&mut h, "the compared query", |h| {
        !h.state().tabs.search.is_searching() && h.state().tabs.search.shown.is_some()
    });
    settle(&mut h);
    let shown = h.state().tabs.search.shown.as_ref().unwrap();
    let (other, compared) = shown.compared.as_ref().expect("compare mode");
    assert_eq!(other, "fresh-head");
    assert_eq!(compared.results.len(), 10);
    assert!(has_label(&h, "fresh-head"));
    assert!(h.query_by_label_contains("are shared").is_some());
}

/// A demo library of `items` items with the system `fresh-head` ([`save_fresh_head`]) saved
/// and indexed, and a window on it with that system chosen.
pub(super) fn window_on_fresh_head(
    items: usize,
) -> (tempfile::TempDir, Library, Harness<'static, App>) {
    let dir = demo_library(items);
    let mut lib = Library::open(dir.path()).unwrap();
    save_fresh_head(&mut lib, "fresh-head");
    index_now(dir.path(), "fresh-head");
    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);
    h.state_mut()
        .rt
        .commands
        .push(Command::SelectSystem("fresh-head".into()));
    (dir, lib, h)
}

#[test]
fn a_system_saved_again_under_its_name_is_searched_with_its_new_weights() {
    use crate::model::system::System;
    let (_dir, mut lib, mut h) = window_on_fresh_head(16);
    let items = lib.store.items(&ItemFilter::default()).unwrap();
    let query = |h: &mut Harness<'_, App>, item: &crate::catalog::Item| {
        h.state_mut()
            .rt
            .commands
            .push(SearchCommand::Query(QuerySource::item(item)).into());
        h.step();
        let id = item.id;
        run_until(h, "the query", |h| {
            !h.state().tabs.search.is_searching()
                && h.state().tabs.search.waiting.is_none()
                && h.state().tabs.search.shown.as_ref().is_some_and(
                    |s| matches!(&s.source, QuerySource::Item { id: shown, .. } if *shown == id),
                )
        });
    };
    query(&mut h, &items[0]);
    let fingerprint = |h: &Harness<'_, App>| {
        h.state().tabs.search.searchers[0]
            .system()
            .fingerprint()
            .to_owned()
    };
    let first = fingerprint(&h);
    // Retrained while the window is open (from the CLI, say): other weights, same name.
    save_fresh_head(&mut lib, "fresh-head");
    let retrained = System::load(&lib, "fresh-head", &candle_core::Device::Cpu).unwrap();
    assert_ne!(retrained.fingerprint(), first);
    // The next query loads the new weights, indexes the catalogue with them and answers.
    query(&mut h, &items[1]);
    assert_eq!(fingerprint(&h), retrained.fingerprint());
    let shown = h.state().tabs.search.shown.as_ref().unwrap();
    assert_eq!(shown.result.results.len(), 10);
    assert!(h.state().rt.errors.is_empty(), "{:?}", h.state().rt.errors);
}

#[test]
fn keys_typed_into_the_filter_field_never_move_the_selection() {
    let dir = demo_library(8);
    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);
    let first = h.state().tabs.catalog.items[0].id;
    h.state_mut()
        .rt
        .commands
        .push(CatalogCommand::Select(Some(first)).into());
    settle(&mut h);
    // The click on the field and the arrow key arrive in one frame, as in a busy window.
    let field = h.get_by_role_and_label(Role::TextInput, "Search").rect();
    let pos = field.center();
    let key = |pressed| egui::Event::Key {
        key: egui::Key::ArrowRight,
        physical_key: Some(egui::Key::ArrowRight),
        pressed,
        repeat: false,
        modifiers: egui::Modifiers::NONE,
    };
    h.input_mut().events.extend([
        egui::Event::PointerMoved(pos),
        egui::Event::PointerButton {
            pos,
            button: egui::PointerButton::Primary,
            pressed: true,
            modifiers: egui::Modifiers::NONE,
        },
        egui::Event::PointerButton {
            pos,
            button: egui::PointerButton::Primary,
            pressed: false,
            modifiers: egui::Modifiers::NONE,
        },
        key(true),
        key(false),
    ]);
    h.step();
    h.run();
    assert_eq!(
        h.state().tabs.catalog.selected,
        Some(first),
        "the arrow moved the selection"
    );
    // With no field holding the keyboard (Escape lets go of it, and closes the item), the
    // arrow keys move the selection again.
    h.key_press(egui::Key::Escape);
    h.run();
    h.state_mut()
        .rt
        .commands
        .push(CatalogCommand::Select(Some(first)).into());
    h.run();
    h.key_press(egui::Key::ArrowRight);
    settle(&mut h);
    assert_eq!(
        h.state().tabs.catalog.selected,
        Some(h.state().tabs.catalog.items[1].id)
    );
}

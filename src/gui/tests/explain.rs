//! "Why similar" in the Search tab: the Explain button explains the top result on a worker
//! thread, then the result tile and the query show their heatmaps, by their labels; hovering
//! another result explains that one.

use super::{demo_library, drop_file, harness, has_label, run_until, settle};
use crate::gui::Startup;
use crate::jobs::JobContext;
use crate::library::Library;
use crate::store::ItemFilter;
use egui_kittest::kittest::Queryable;

#[test]
fn the_explain_button_shows_heatmaps_on_a_result_and_the_query() {
    let dir = demo_library(16);
    let lib = Library::open(dir.path()).unwrap();
    let device = crate::device::device("cpu").unwrap();
    crate::index::build_in(dir.path(), "imagenet-lite0", &device, &JobContext::silent()).unwrap();
    let items = lib.store.items(&ItemFilter::default()).unwrap();
    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);

    drop_file(&mut h, &lib.resolve(&items[4].image));
    h.step();
    run_until(&mut h, "the query", |h| {
        h.state().tabs.search.shown.is_some()
    });
    settle(&mut h);
    let shown = h.state().tabs.search.shown.as_ref().unwrap();
    assert!(
        shown.result.query_features.is_some(),
        "the window keeps the query's map from its search"
    );
    let result_label = "Why similar: #1 agrees with the query here";
    assert!(!has_label(&h, result_label), "no overlay before Explain");

    h.get_by_label("Explain").click();
    h.step();
    run_until(&mut h, "the explanation", |h| {
        let search = &h.state().tabs.search;
        search.explain_on && !search.explain.is_running() && search.explain.wanted().is_some()
    });
    h.run();
    assert!(h.state().rt.errors.is_empty(), "{:?}", h.state().rt.errors);
    assert!(
        has_label(&h, result_label),
        "the top result shows its heatmap"
    );
    assert!(
        has_label(
            &h,
            "Why similar: the query agrees with #1 (imagenet-lite0) here"
        ),
        "the query shows its heatmap towards #1"
    );

    // Hovering result #3 explains it instead.
    h.get_by_label("#3").hover();
    h.step();
    run_until(&mut h, "the hovered explanation", |h| {
        let search = &h.state().tabs.search;
        !search.explain.is_running() && search.explain.wanted().is_some_and(|t| t.rank == 3)
    });
    h.run();
    assert!(has_label(&h, "Why similar: #3 agrees with the query here"));
    assert!(!has_label(&h, result_label));

    // Off again: the thumbnails are back.
    h.get_by_label("Explain").click();
    h.run();
    assert!(!has_label(&h, "Why similar: #3 agrees with the query here"));
}

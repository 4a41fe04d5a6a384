//! "Why similar" in the Search tab: the Explain button explains the top result on a worker
//! thread, then the result tile and the query show their heatmaps, by their labels; hovering
//! another result explains that one.

use super::{demo_library, drop_file, harness, has_label, index_now, run_until, settle};
use crate::gui::Startup;
use crate::library::Library;
use crate::store::ItemFilter;
use egui_kittest::kittest::Queryable;

#[test]
fn the_explain_button_shows_heatmaps_on_a_result_and_the_query() {
    let dir = demo_library(16);
    let lib = Library::open(dir.path()).unwrap();
    index_now(dir.path(), "imagenet-lite0");
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

/// In compare mode each system explains its own results with its own query map: here a
/// trained system (Lite0 with a fresh head) beside the built-in one.
#[test]
fn compare_mode_explains_a_result_of_the_second_system() {
    use crate::gui::command::SearchCommand;
    use crate::model::network::{NetworkConfig, ParallelNetwork};
    use crate::model::system::{LITE0_WEIGHTS_FILE, System, find_weights};
    let dir = demo_library(12);
    let mut lib = Library::open(dir.path()).unwrap();
    let config = NetworkConfig {
        embedding_dim: 32,
        ..NetworkConfig::lite0(2)
    };
    let device = crate::device::device("cpu").unwrap();
    let weights = find_weights(LITE0_WEIGHTS_FILE).unwrap();
    let net =
        ParallelNetwork::fresh(&candle_nn::VarMap::new(), &config, &weights, &device).unwrap();
    let labels = vec!["category:top".to_owned(), "category:dress".to_owned()];
    let input = crate::vision::preprocess::Preprocess::LITE0;
    let metrics = serde_json::json!({});
    System::save_trained(&mut lib, "fresh-head", &net, &input, &labels, &metrics).unwrap();
    for system in ["imagenet-lite0", "fresh-head"] {
        index_now(dir.path(), system);
    }
    let items = lib.store.items(&ItemFilter::default()).unwrap();
    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);
    let compare = SearchCommand::SetCompareSystem(Some("fresh-head".into()));
    h.state_mut().rt.commands.push(compare.into());
    drop_file(&mut h, &lib.resolve(&items[2].image));
    h.step();
    run_until(&mut h, "the compared query", |h| {
        let search = &h.state().tabs.search;
        !search.is_searching() && search.shown.as_ref().is_some_and(|s| s.compared.is_some())
    });
    settle(&mut h);
    let shown = h.state().tabs.search.shown.as_ref().unwrap();
    let (_, compared) = shown.compared.as_ref().unwrap();
    let map = compared
        .query_features
        .as_ref()
        .expect("the trained system's query map");
    assert_eq!(map.channels(), 1280);
    let second = compared.results[1].item_id;

    let explain_on = SearchCommand::SetExplain(true);
    h.state_mut().rt.commands.push(explain_on.into());
    let explain = SearchCommand::Explain {
        system: "fresh-head".into(),
        item: second,
    };
    h.state_mut().rt.commands.push(explain.into());
    h.step();
    run_until(&mut h, "the trained system's explanation", |h| {
        let search = &h.state().tabs.search;
        !search.explain.is_running()
            && search.explain.shown_rank() == Some(2)
            && search
                .explain
                .wanted()
                .is_some_and(|t| t.system == "fresh-head")
    });
    h.run();
    assert!(h.state().rt.errors.is_empty(), "{:?}", h.state().rt.errors);
    assert!(has_label(&h, "Why similar: #2 agrees with the query here"));
    assert!(has_label(
        &h,
        "Why similar: the query agrees with #2 (fresh-head) here"
    ));
}

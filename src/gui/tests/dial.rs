//! The colour ↔ shape dial in the Search tab, driven by its accessible name: disabled (with
//! the reason) for a system without a colour branch; for one with the branch, moving it runs
//! the query on show again in another order (indexing first an index that predates the colour
//! part), and moving it back to 0 restores the order.

use super::{demo_library, harness, index_now, run_until, settle};
use crate::gui::Startup;
use crate::gui::command::{QuerySource, SearchCommand};
use crate::gui::tabs::search::DIAL_LABEL;
use crate::library::Library;
use crate::model::network::{NetworkConfig, ParallelNetwork};
use crate::model::system::{LITE0_WEIGHTS_FILE, System, find_weights};
use crate::store::ItemFilter;
use eframe::egui::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

/// The item ids on show.
fn shown_ids(h: &Harness<'_, crate::gui::App>) -> Vec<i64> {
    h.state()
        .tabs
        .search
        .shown
        .as_ref()
        .map(|shown| shown.result.results.iter().map(|r| r.item_id).collect())
        .unwrap_or_default()
}

/// Runs frames until no query runs and the ids on show satisfy `done`; returns them.
fn shown_when(
    h: &mut Harness<'_, crate::gui::App>,
    what: &str,
    done: impl Fn(&[i64]) -> bool,
) -> Vec<i64> {
    h.step();
    run_until(h, what, |h| {
        !h.state().tabs.search.is_searching() && done(&shown_ids(h))
    });
    settle(h);
    shown_ids(h)
}

#[test]
fn the_dial_reorders_the_results_and_zero_restores_them() {
    let dir = demo_library(24);
    let mut lib = Library::open(dir.path()).unwrap();
    // A system with the shallow colour branch (Lite0's default network), head untrained.
    let config = NetworkConfig {
        embedding_dim: 32,
        ..NetworkConfig::lite0(2)
    };
    assert!(config.shallow.is_some());
    let varmap = candle_nn::VarMap::new();
    let weights = find_weights(LITE0_WEIGHTS_FILE).unwrap();
    let device = crate::device::device("cpu").unwrap();
    let net = ParallelNetwork::fresh(&varmap, &config, &weights, &device).unwrap();
    let labels = ["category:top", "colour:red"].map(String::from).to_vec();
    let input = crate::vision::preprocess::Preprocess::LITE0;
    let meta = serde_json::json!({});
    System::save_trained(&mut lib, "dial", &net, &input, &labels, &meta).unwrap();
    for system in ["imagenet-lite0", "dial"] {
        index_now(dir.path(), system);
    }
    // The dial system's index as an older version left it, without the colour part: it
    // searches as it is, and the dial indexes it again first.
    let path = crate::index::index_path(dir.path(), "dial");
    let mut old = crate::index::load(&path).unwrap();
    (old.colour_dim, old.colour) = (0, Vec::new());
    old.write(&path).unwrap();
    let items = lib.store.items(&ItemFilter::default()).unwrap();
    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);

    // The built-in system has no colour branch: the dial is there, disabled.
    h.state_mut()
        .rt
        .commands
        .push(SearchCommand::Query(QuerySource::item(&items[4])).into());
    shown_when(&mut h, "the imagenet query", |ids| ids.len() == 10);
    assert!(
        h.get_by_role_and_label(Role::Slider, DIAL_LABEL)
            .accesskit_node()
            .is_disabled()
    );

    h.state_mut().select_system("dial".to_owned());
    let shape = shown_when(&mut h, "the query with the dial system", |ids| {
        ids.len() == 10
    });
    let dial = h.get_by_role_and_label(Role::Slider, DIAL_LABEL);
    assert!(!dial.accesskit_node().is_disabled());
    dial.set_value_accesskit(1.0);
    // Colour alone ranks in another order (a timeout here: it did not).
    let colour = shown_when(&mut h, "the colour query", |ids| {
        ids.len() == 10 && ids != shape.as_slice()
    });
    assert_eq!(h.state().tabs.search.colour_weight.value(), 1.0);
    assert!(crate::index::load(&path).unwrap().has_colour());
    assert!(
        !colour.contains(&items[4].id),
        "the query item stays excluded"
    );

    h.get_by_role_and_label(Role::Slider, DIAL_LABEL)
        .set_value_accesskit(0.0);
    // 0 is the original order (a timeout here: it never came back).
    shown_when(&mut h, "the shape query again", |ids| {
        ids == shape.as_slice()
    });
    assert!(h.state().tabs.search.colour_weight.is_shape_only());
}

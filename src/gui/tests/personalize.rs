//! The Personalize tab driven through egui_kittest: open a demo library, pick a user, see
//! their cart, its groups and the recommendations; edit the cart; evaluate every method.

use super::{demo_library, harness, index_now, run_until, run_until_job_ends, settle};
use crate::catalog::ItemId;
use crate::gui::Startup;
use crate::gui::thumbs::ImageKey;
use eframe::egui::Role;
use egui_kittest::kittest::Queryable;

#[test]
fn a_user_cart_its_groups_and_recommendations_then_an_edit_and_an_evaluation() {
    let dir = demo_library(40);
    index_now(dir.path(), "imagenet-lite0");
    let mut h = harness(dir.path(), Startup::AsIs);
    settle(&mut h);

    // The tab loads the users by itself.
    h.get_by_role_and_label(Role::Button, "Personalize").click();
    h.step();
    run_until(&mut h, "the users", |h| {
        h.state().tabs.personalize.engine.is_some()
    });
    settle(&mut h);
    assert!(
        h.query_by_label_contains("Loaded 5 users of imagenet-lite0")
            .is_some()
    );

    // Search for a user by key and pick them: their cart, groups and top 10 appear.
    h.get_by_label("Find user").click();
    h.run();
    h.get_by_label("Find user").type_text("00002");
    h.run();
    assert!(
        h.query_by_label_contains("demo-user-00000").is_none(),
        "the list is filtered"
    );
    h.get_by_label_contains("demo-user-00002 (").click();
    h.step();
    run_until(&mut h, "the recommendations", |h| {
        !h.state().tabs.personalize.groups.is_empty()
            && !h.state().tabs.personalize.running.is_running()
    });
    settle(&mut h);
    assert!(h.query_by_label("Cart of demo-user-00002").is_some());
    assert!(h.query_by_label("Group 1").is_some());
    let view = &h.state().tabs.personalize;
    let cart: Vec<ItemId> = view.cart.iter().map(|(id, _)| *id).collect();
    assert!((5..=7).contains(&cart.len()));
    let grouped: usize = view.groups.iter().map(|g| g.items.len()).sum();
    assert_eq!(grouped, cart.len());
    for group in &view.groups {
        assert_eq!(group.results.len(), 10);
        assert!(group.results.iter().all(|r| !cart.contains(&r.item_id)));
    }
    // Every recommended tile is the catalogue's own thumbnail, asked for and cached inside
    // the library.
    let lib = crate::library::Library::open(dir.path()).unwrap();
    for result in view.groups.iter().flat_map(|g| &g.results) {
        let stored = lib.stored_path(std::path::Path::new(&result.image));
        let key = ImageKey::Thumb(stored.clone());
        assert!(h.state().rt.thumbs.is_ready(&key), "{key:?}");
        let asked = h.state().rt.thumbs.thumb_file(&key).unwrap();
        assert!(
            asked.starts_with(dir.path().join("thumbs")),
            "{}",
            asked.display()
        );
        assert!(lib.thumb_path(&stored).is_file(), "{stored}");
    }
    let before = view.groups.clone();

    // Remove every item but the first: one group, and new recommendations.
    for _ in 1..cart.len() {
        h.get_all_by_label("Remove").nth(1).unwrap().click();
        // A step, not `run`: the recommendation job repaints until it ends.
        h.step();
        run_until(&mut h, "the new recommendations", |h| {
            !h.state().tabs.personalize.running.is_running()
        });
    }
    settle(&mut h);
    let view = &h.state().tabs.personalize;
    assert_eq!(view.cart.len(), 1);
    assert_eq!(view.groups.len(), 1);
    assert_ne!(view.groups, before);
    // Add an item back by id.
    let back = cart[1];
    h.get_by_label("Item id").click();
    h.run();
    h.get_by_label("Item id").type_text(&back.to_string());
    h.run();
    h.get_by_role_and_label(Role::Button, "Add").click();
    h.step();
    run_until(&mut h, "the cart of two", |h| {
        h.state().tabs.personalize.cart.len() == 2
            && !h.state().tabs.personalize.running.is_running()
    });

    // Evaluate: a job in the slot, then the Recall@K plot's figures.
    h.get_by_role_and_label(Role::Button, "Run evaluation")
        .click();
    h.step();
    run_until_job_ends(&mut h, "the evaluation");
    settle(&mut h);
    let report = h
        .state()
        .tabs
        .personalize
        .eval
        .as_ref()
        .expect("an evaluation");
    assert_eq!(report.methods.len(), 5);
    assert!(h.query_by_label_contains("Evaluated on").is_some());
    assert!(
        h.state()
            .tabs
            .personalize
            .engine
            .as_ref()
            .unwrap()
            .personaliser
            .is_some()
    );
}

#[test]
fn compare_extractors_plots_the_curves_and_shows_the_saved_run_when_the_tab_opens_again() {
    let dir = demo_library(40);
    index_now(dir.path(), "imagenet-lite0");
    let open_tab = |h: &mut egui_kittest::Harness<'static, crate::gui::App>| {
        settle(h);
        h.get_by_role_and_label(Role::Button, "Personalize").click();
        h.step();
        run_until(h, "the users", |h| {
            h.state().tabs.personalize.engine.is_some()
        });
        settle(h);
    };
    // With and without K-Splits, an extractor is one entry (the K-Splits line dashed).
    let legend = ["imagenet-lite0 cart-mean", "popularity", "item-knn", "als"];
    let mut h = harness(dir.path(), Startup::AsIs);
    open_tab(&mut h);
    assert!(
        h.state().tabs.personalize.fig5.is_none(),
        "no run saved yet"
    );

    h.get_by_role_and_label(Role::Button, "Compare extractors (Fig. 5)")
        .click();
    h.step();
    run_until_job_ends(&mut h, "the comparison");
    settle(&mut h);
    let report = h
        .state()
        .tabs
        .personalize
        .fig5
        .clone()
        .expect("a comparison");
    assert!(
        h.query_by_label_contains("Compared extractors on")
            .is_some()
    );
    for name in legend {
        assert!(
            h.query_by_role_and_label(Role::CheckBox, name).is_some(),
            "no legend entry {name}"
        );
    }

    // A new window on the same library shows the saved run as soon as the tab loads.
    drop(h);
    let mut h = harness(dir.path(), Startup::AsIs);
    open_tab(&mut h);
    assert_eq!(h.state().tabs.personalize.fig5.as_ref(), Some(&report));
    for name in legend {
        assert!(h.query_by_role_and_label(Role::CheckBox, name).is_some());
    }
}

#[test]
fn a_recommender_whose_system_was_saved_again_loads_afresh() {
    use super::{save_fresh_head, window_on_fresh_head};
    let (dir, mut lib, mut h) = window_on_fresh_head(40);
    h.get_by_role_and_label(Role::Button, "Personalize").click();
    h.step();
    run_until(&mut h, "the users", |h| {
        h.state().tabs.personalize.engine.is_some()
    });
    let fingerprint = |h: &egui_kittest::Harness<'_, crate::gui::App>| {
        let engine = h.state().tabs.personalize.engine.as_ref().unwrap();
        engine.searcher.system().fingerprint().to_owned()
    };
    let first = fingerprint(&h);
    // Nothing saved since: the engine stays.
    h.state_mut().tabs.personalize.drop_engine_if_saved_again();
    assert!(h.state().tabs.personalize.engine.is_some());
    // Retrained under the same name (what a finished training job then checks).
    save_fresh_head(&mut lib, "fresh-head");
    index_now(dir.path(), "fresh-head");
    h.state_mut().tabs.personalize.drop_engine_if_saved_again();
    assert!(h.state().tabs.personalize.engine.is_none());
    run_until(&mut h, "the users again", |h| {
        h.state().tabs.personalize.engine.is_some()
    });
    run_until_job_ends(&mut h, "the load");
    assert_ne!(fingerprint(&h), first);
    assert!(h.state().rt.errors.is_empty(), "{:?}", h.state().rt.errors);
}

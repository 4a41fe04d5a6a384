//! Real photos end to end (`tests/fixtures/photos`, 32 CC0 phone photos of clothes): import
//! the train split of a photo folder as the catalogue, index, train one epoch, and evaluate
//! retrieval and classification on the held-out test split, from a folder and from a CSV.

use crate::common::{json, stderr, vitrine};
use std::path::PathBuf;

fn photos() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/photos")
}

fn arg(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

fn fraction(v: &serde_json::Value, key: &str) -> f64 {
    let x = v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing: {v}"));
    assert!((0.0..=1.0).contains(&x), "{key}: {v}");
    x
}

#[test]
fn a_real_photo_folder_imports_indexes_trains_and_evaluates_on_held_out_photos() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let photos = photos();
    let test_dir = photos.join("test");

    // Import: only the train split, the folders as categories.
    let report = json(&vitrine(
        &lib,
        &[
            "import",
            "folder",
            arg(&photos),
            "--split",
            "train",
            "--json",
        ],
    ));
    assert_eq!(report["source"], "folder");
    assert_eq!(report["imported"], 24, "{report}");
    assert_eq!(report["skipped"].as_array().unwrap().len(), 0, "{report}");
    assert_eq!(report["labels_kept"], 4, "{report}");

    // The cut-out check on real photos: every photo judged, the share reported.
    let cutouts = json(&vitrine(&lib, &["eval", "cutouts", "--json"]));
    assert_eq!(cutouts["checked"], 24, "{cutouts}");
    fraction(&cutouts, "reliable_fraction");
    assert_eq!(cutouts["per_category"].as_object().unwrap().len(), 4);

    // Index with the built-in system and evaluate on the held-out folder.
    let out = vitrine(&lib, &["index"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let held_out = json(&vitrine(
        &lib,
        &[
            "eval",
            "retrieval",
            "--queries",
            arg(&test_dir),
            "-k",
            "5",
            "--json",
        ],
    ));
    assert_eq!(held_out["system"], "imagenet-lite0");
    assert_eq!(held_out["queries"], 8, "{held_out}");
    assert_eq!(held_out["k"], 5);
    assert_eq!(held_out["catalogue_items"], 24);
    assert_eq!(held_out["queries_in_catalogue"], 0);
    let category = &held_out["category"];
    assert_eq!(category["queries"], 8);
    let precision = fraction(category, "precision");
    let knn = fraction(category, "knn_accuracy");
    fraction(category, "nearest_accuracy");
    // Four balanced categories: chance is 0.25. ImageNet features tell a hat from shoes.
    assert!(precision > 0.4 && knn > 0.4, "{held_out}");
    let per_category = held_out["per_category"].as_object().unwrap();
    assert_eq!(per_category.len(), 4);
    assert!(per_category.values().all(|c| c["queries"] == 2));
    fraction(&held_out, "mean_label_iou");

    // The same queries from the CSV give the same scores.
    let from_csv = json(&vitrine(
        &lib,
        &[
            "eval",
            "retrieval",
            "--queries",
            arg(&photos.join("test.csv")),
            "-k",
            "5",
            "--json",
        ],
    ));
    assert_eq!(from_csv["category"], held_out["category"]);

    // Queries that are catalogue items are counted and never find themselves.
    let leaked = json(&vitrine(
        &lib,
        &[
            "eval",
            "retrieval",
            "--queries",
            arg(&photos),
            "--split",
            "train",
            "--json",
        ],
    ));
    assert_eq!(leaked["queries"], 24);
    assert_eq!(leaked["queries_in_catalogue"], 24);

    // Train one epoch, the fastest way: head mode, no augmentation.
    let trained = json(&vitrine(
        &lib,
        &[
            "train",
            "--mode",
            "head",
            "--epochs",
            "1",
            "--batch",
            "8",
            "--augment",
            "off",
            "--background-aug",
            "off",
            "--name",
            "photos-head",
            "--json",
        ],
    ));
    assert_eq!(trained["system"], "photos-head");
    assert_eq!(trained["labels"], 4);
    let out = vitrine(&lib, &["index", "--system", "photos-head"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let after = json(&vitrine(
        &lib,
        &[
            "eval",
            "retrieval",
            "--queries",
            arg(&test_dir),
            "--system",
            "photos-head",
            "--json",
        ],
    ));
    assert_eq!(after["system"], "photos-head");
    assert_eq!(after["queries"], 8);
    assert_eq!(after["k"], 10);
    fraction(&after["category"], "precision");
    fraction(&after["category"], "knn_accuracy");

    // Its classifier on the held-out photos: one category each, so top-1 is measured.
    let classify = json(&vitrine(
        &lib,
        &[
            "eval",
            "classify",
            "--system",
            "photos-head",
            "--queries",
            arg(&test_dir),
            "--json",
        ],
    ));
    assert_eq!(classify["samples"], 8, "{classify}");
    assert_eq!(classify["single_label"], true);
    fraction(&classify, "top1_accuracy");
    fraction(&classify, "iou");

    // The set's own CSV imports as it is (id, image relative to the CSV, category).
    let other = dir.path().join("other");
    let report = json(&vitrine(
        &other,
        &["import", "csv", arg(&photos.join("test.csv")), "--json"],
    ));
    assert_eq!(report["imported"], 8, "{report}");
    assert_eq!(report["labels_kept"], 4, "{report}");
}

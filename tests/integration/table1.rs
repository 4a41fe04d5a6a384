//! `vitrine experiment table1` from the command line: its refusals, then one variant trained
//! and measured on a small split photo folder (the `--dataset DIR` path: its train split
//! imported, its test split searched as held-out photos), the Markdown report, and `--reuse`.

use crate::common::{json, stderr, vitrine};
use image::{Rgb, RgbImage};
use std::path::Path;

/// DIR/<split>/<category>/<n>.png: plain shirts are red, trousers blue, each on white.
fn split_folder(root: &Path) {
    for (split, count) in [("train", 12), ("validation", 2), ("test", 3)] {
        for (category, colour) in [("shirt", [200, 30, 30]), ("trousers", [30, 30, 200])] {
            let dir = root.join(split).join(category);
            std::fs::create_dir_all(&dir).unwrap();
            for n in 0..count {
                let mut img = RgbImage::from_pixel(64, 64, Rgb([255, 255, 255]));
                let inset = 8 + n % 5;
                for y in inset..64 - inset {
                    for x in inset..64 - inset {
                        img.put_pixel(x, y, Rgb(colour));
                    }
                }
                img.save(dir.join(format!("{n}.png"))).unwrap();
            }
        }
    }
}

#[test]
fn table1_trains_and_measures_a_variant_on_a_split_folder() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let photos = dir.path().join("photos");
    split_folder(&photos);

    let out = vitrine(&lib, &["experiment", "table1", "--only", "V9"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("unknown variant \"V9\""),
        "{}",
        stderr(&out)
    );
    let out = vitrine(&lib, &["experiment", "table1"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no catalogue items"),
        "{}",
        stderr(&out)
    );
    // The report may not overwrite the library's own files.
    let own = lib.join("vitrine.sqlite");
    let out = vitrine(
        &lib,
        &["experiment", "table1", "--report", own.to_str().unwrap()],
    );
    assert!(!out.status.success());

    let report = dir.path().join("table1.md");
    let args = [
        "experiment",
        "table1",
        "--dataset",
        photos.to_str().unwrap(),
        "--only",
        "V2",
        "--epochs",
        "1",
        "--background-aug",
        "procedural",
        "--report",
        report.to_str().unwrap(),
        "--json",
    ];
    let first = json(&vitrine(&lib, &args));
    let row = &first["rows"][0];
    assert_eq!(row["system"], "table1-v2");
    assert_eq!(row["variant"]["shallow"], true);
    assert_eq!(first["items"], 24, "the train split is the catalogue");
    assert_eq!(row["held_out"]["queries"], 6, "the test split is searched");
    assert!(row["train_secs"].is_number());
    let md = std::fs::read_to_string(&report).unwrap();
    assert!(md.contains("| | V2 |"), "{md}");
    assert!(md.contains("held-out photos category P@10"), "{md}");
    // A folder of categories has no subtypes or colours to measure: "–", never "0.0 %".
    assert!(md.contains("| in-shop subtype P@10 | – |"), "{md}");
    assert!(md.contains("| in-shop colour P@10 | – |"), "{md}");

    // Again with --reuse: the same system measured, not trained; the catalogue not
    // imported twice.
    let mut again_args = args.to_vec();
    again_args.push("--reuse");
    let again = json(&vitrine(&lib, &again_args));
    assert_eq!(again["items"], 24);
    assert!(again["rows"][0]["train_secs"].is_null());
    assert_eq!(again["rows"][0]["test"], first["rows"][0]["test"]);
}

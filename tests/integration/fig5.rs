//! `vitrine experiment fig5` on a small demo library: its refusals (no ratings, no index, an
//! unknown system), then every row with and without K-Splits, recall that never falls as K
//! grows, and the figures `personalize eval` reports for the same system and seed.

use crate::common::{json, stderr, stdout, vitrine};

#[test]
fn fig5_compares_extractors_with_the_numbers_of_personalize_eval() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");

    // An empty library has no shoppers.
    let out = vitrine(&lib, &["experiment", "fig5"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no ratings"), "{}", stderr(&out));

    let out = vitrine(
        &lib,
        &["demo", "--items", "150", "--users", "60", "--street", "5"],
    );
    assert!(out.status.success(), "demo failed: {}", stderr(&out));
    // Nothing is indexed yet: the error names the command that builds the index.
    for args in [
        &["experiment", "fig5"][..],
        &["experiment", "fig5", "--systems", "imagenet-lite0"],
    ] {
        let out = vitrine(&lib, args);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("vitrine index --system"),
            "{}",
            stderr(&out)
        );
    }
    let out = vitrine(&lib, &["index"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = vitrine(&lib, &["experiment", "fig5", "--systems", "nope"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no system called \"nope\""),
        "{}",
        stderr(&out)
    );

    // Without a personaliser: the cart mean both ways, the baselines, the ceiling.
    let csv = dir.path().join("fig5.csv");
    let first = json(&vitrine(
        &lib,
        &[
            "experiment",
            "fig5",
            "--json",
            "--csv",
            csv.to_str().unwrap(),
        ],
    ));
    let labels = |report: &serde_json::Value| -> Vec<String> {
        report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["label"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        labels(&first),
        [
            "imagenet-lite0 cart-mean",
            "imagenet-lite0 cart-mean + K-Splits",
            "popularity",
            "item-knn",
            "als",
            "oracle (ceiling)"
        ]
    );
    let notes = first["notes"].to_string();
    assert!(notes.contains("no personaliser"), "{notes}");
    // Every K in the CSV: recall never falls as K grows.
    let table = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(table.lines().count(), 7);
    for line in table.lines().skip(1) {
        let recall: Vec<f64> = line
            .split(',')
            .skip(1)
            .take(50)
            .map(|v| v.parse().unwrap())
            .collect();
        assert!(recall.windows(2).all(|w| w[0] <= w[1]), "{line}");
    }
    assert!(lib.join("experiments/fig5.json").is_file());

    // `personalize eval` trains a personaliser with seed 0; Fig. 5 then measures it too,
    // and every row it shares with the evaluation has the evaluation's figures.
    let eval = json(&vitrine(
        &lib,
        &["personalize", "eval", "--json", "--epochs", "3"],
    ));
    let report = json(&vitrine(&lib, &["experiment", "fig5", "--json"]));
    assert_eq!(report["users_tested"], eval["users_tested"]);
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 8, "{report}");
    for (row, ksplits) in rows[..4].iter().zip([false, true, false, true]) {
        assert_eq!(row["system"], "imagenet-lite0");
        assert_eq!(row["kind"], "extractor");
        assert_eq!(row["ksplits"], ksplits, "{row}");
    }
    let by_name = |name: &str| {
        rows.iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no row {name}: {report}"))
    };
    for m in eval["methods"].as_array().unwrap() {
        let row = by_name(m["name"].as_str().unwrap());
        for key in ["recall", "recall10_se", "ndcg10", "category_accuracy"] {
            assert_eq!(row[key], m[key], "{key} of {}", m["name"]);
        }
    }
    assert_eq!(
        by_name("oracle (ceiling)")["recall"],
        eval["ceiling"]["recall"]
    );
    for row in rows {
        let recall = &row["recall"];
        let values: Vec<f64> = ["1", "5", "10", "20", "50"]
            .iter()
            .map(|k| recall[k].as_f64().unwrap())
            .collect();
        assert!(values.windows(2).all(|w| w[0] <= w[1]), "{row}");
    }

    // The table: every row, the test users and the time.
    let out = vitrine(&lib, &["experiment", "fig5", "--systems", "imagenet-lite0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("imagenet-lite0 personaliser + K-Splits"),
        "{text}"
    );
    assert!(
        text.contains(&format!("on {} test users", eval["users_tested"])),
        "{text}"
    );
}

//! The colour ↔ shape dial through the CLI: `vitrine query --colour-weight` on a tiny demo
//! library, with the built-in system (no colour branch: refused above 0) and a fresh
//! untrained system that has the shallow branch (the dial works; 0 is the default ranking),
//! and `vitrine eval retrieval --colour-weights`.

use crate::common::{json, stderr, vitrine};
use std::path::Path;

/// The item ids `vitrine query --json` ranked for its first query.
fn ranked_ids(lib: &Path, args: &[&str]) -> Vec<i64> {
    let result = json(&vitrine(lib, args));
    result["queries"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["item_id"].as_i64().unwrap())
        .collect()
}

#[test]
fn the_colour_weight_reranks_with_a_shallow_branch_and_is_refused_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let out = vitrine(
        &lib,
        &["demo", "--items", "60", "--users", "3", "--street", "2"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // A fresh system with the shallow branch (the default), trained for no epoch: small
    // and quick, and its colour part is the branch's output all the same.
    let out = vitrine(
        &lib,
        &[
            "train",
            "--epochs",
            "0",
            "--augment",
            "off",
            "--name",
            "fresh",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let query = lib.join("images/catalog/demo-000007.png");
    let query = query.to_str().unwrap();

    // imagenet-lite0: 0 is today's ranking; above 0 is refused, once, naming the system.
    let base = ["query", query, "-k", "12", "--json"];
    let plain = ranked_ids(&lib, &base);
    assert_eq!(plain.len(), 12);
    assert_eq!(
        ranked_ids(&lib, &[&base[..], &["--colour-weight", "0"]].concat()),
        plain
    );
    let out = vitrine(&lib, &["query", query, "--colour-weight", "1"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("imagenet-lite0 has no colour branch"), "{err}");
    assert!(err.contains("--shallow on"), "{err}");
    assert_eq!(err.matches("no colour branch").count(), 1, "{err}");

    // The fresh system: its index (format 3 and later) holds the colour part; 0 is the default order,
    // 1 ranks by colour alone, and still finds the query's own image first.
    let fresh = ["query", query, "-k", "12", "--json", "--system", "fresh"];
    let default = ranked_ids(&lib, &fresh);
    let zero = ranked_ids(&lib, &[&fresh[..], &["--colour-weight", "0"]].concat());
    let colour = ranked_ids(&lib, &[&fresh[..], &["--colour-weight", "1"]].concat());
    assert_eq!(zero, default);
    assert_ne!(colour, default, "the dial changes the ranking");
    assert_eq!(
        colour[0], default[0],
        "the query's own item is first either way"
    );
    let index = std::fs::read(lib.join("index/fresh.emb")).unwrap();
    assert_eq!(
        u32::from_le_bytes(index[8..12].try_into().unwrap()),
        vitrine::index::emb_file::FORMAT_VERSION
    );

    // Bad weights are clear errors.
    for bad in ["1.5", "-0.2", "nan", "blue"] {
        let out = vitrine(
            &lib,
            &["query", query, "--system", "fresh", "--colour-weight", bad],
        );
        assert!(!out.status.success(), "{bad}");
        assert!(stderr(&out).contains("from 0"), "{bad}: {}", stderr(&out));
    }

    // The measurement: one row per weight, and the sweep is refused for imagenet-lite0.
    let sweep = json(&vitrine(
        &lib,
        &[
            "eval",
            "retrieval",
            "--system",
            "fresh",
            "--colour-weights",
            "0,0.5,1",
            "--json",
        ],
    ));
    let points = sweep["points"].as_array().unwrap();
    let weights: Vec<f64> = points
        .iter()
        .map(|p| p["colour_weight"].as_f64().unwrap())
        .collect();
    assert_eq!(weights, [0.0, 0.5, 1.0]);
    for p in points {
        let colour = p["in_shop"]["colour_precision"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&colour), "{p}");
    }
    let out = vitrine(&lib, &["eval", "retrieval", "--colour-weights", "0,1"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no colour branch"),
        "{}",
        stderr(&out)
    );
}

//! Search end to end: `vitrine query` (JSON, contact sheet, bad files), `vitrine eval
//! retrieval`, a stale index brought up to date (and refused where the library is read-only),
//! on a small demo library.

use crate::common::{json, stderr, stdout, vitrine};

#[test]
fn query_grid_eval_and_a_stale_index_on_a_demo_library() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let out = vitrine(
        &lib,
        &["demo", "--items", "60", "--users", "5", "--street", "10"],
    );
    assert!(out.status.success(), "demo failed: {}", stderr(&out));
    let out = vitrine(&lib, &["index"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // An item's own image finds itself first, at cosine ≈ 1, then nine more, best first.
    let item_image = lib.join("images/catalog/demo-000003.png");
    let item_arg = item_image.to_str().unwrap();
    let result = json(&vitrine(&lib, &["query", item_arg, "-k", "10", "--json"]));
    assert_eq!(result["system"], "imagenet-lite0");
    let queries = result["queries"].as_array().unwrap();
    assert_eq!(queries.len(), 1);
    assert_eq!(queries[0]["image"], item_arg);
    let results = queries[0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 10);
    assert_eq!(results[0]["rank"], 1);
    assert_eq!(results[0]["image"], item_arg);
    assert!((results[0]["score"].as_f64().unwrap() - 1.0).abs() < 1e-3);
    let scores: Vec<f64> = results
        .iter()
        .map(|r| r["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert!(
        results[0]["labels"][0]
            .as_str()
            .unwrap()
            .starts_with("category:")
    );
    assert_eq!(queries[0]["predicted_labels"].as_array().unwrap().len(), 5);

    // The contact sheet: one row (query + 10 results of 128 px, 8 px gaps, 24 px captions).
    let grid = dir.path().join("sheet.png");
    let out = vitrine(
        &lib,
        &[
            "query",
            item_arg,
            "-k",
            "10",
            "--grid",
            grid.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("rank"), "{}", stdout(&out));
    let sheet = image::open(&grid).unwrap();
    assert_eq!((sheet.width(), sheet.height()), (8 + 11 * 136, 8 + 160));

    // A corrupt file is named; the good one is still searched; the exit status says so.
    let bad = dir.path().join("broken.png");
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\n not really").unwrap();
    let out = vitrine(
        &lib,
        &[
            "query",
            bad.to_str().unwrap(),
            item_arg,
            "-k",
            "3",
            "--json",
        ],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("broken.png"), "{}", stderr(&out));
    let partial: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(partial["queries"].as_array().unwrap().len(), 1);

    // Retrieval evaluation: every key, every value a fraction.
    let report = json(&vitrine(&lib, &["eval", "retrieval", "--json"]));
    assert_eq!(report["system"], "imagenet-lite0");
    assert_eq!(report["in_shop"]["queries"], 60);
    assert_eq!(report["in_shop"]["k"], 10);
    for key in [
        "mean_label_iou",
        "category_precision",
        "subtype_precision",
        "colour_precision",
    ] {
        let v = report["in_shop"][key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{key}: {report}");
    }
    assert_eq!(report["street_to_shop"]["queries"], 10);
    let mut last = 0.0;
    for key in ["top1", "top5", "top10", "top20"] {
        let v = report["street_to_shop"][key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v) && v >= last, "{key}: {report}");
        last = v;
    }
    assert!(report["deepfashion"].is_null(), "{report}");

    // An item image changed since indexing: a search embeds it again first, so the changed
    // item (now a copy of item 10) and item 10 both answer at cosine ≈ 1.
    let original = std::fs::read(&item_image).unwrap();
    let other = std::fs::read(lib.join("images/catalog/demo-000010.png")).unwrap();
    std::fs::write(&item_image, &other).unwrap();
    let result = json(&vitrine(&lib, &["query", item_arg, "-k", "2", "--json"]));
    let results = result["queries"][0]["results"].as_array().unwrap();
    let mut images: Vec<&str> = results
        .iter()
        .map(|r| r["image"].as_str().unwrap().rsplit('/').next().unwrap())
        .collect();
    images.sort();
    assert_eq!(images, ["demo-000003.png", "demo-000010.png"], "{result}");
    assert!((results[1]["score"].as_f64().unwrap() - 1.0).abs() < 1e-3);
    let out = vitrine(&lib, &["eval", "retrieval"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // A library that cannot be written cannot be re-indexed: a stale index is refused with
    // what to run, and so is a missing one.
    std::fs::write(&item_image, &original).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let set = |path: &std::path::Path, mode: u32| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        let db = lib.join("vitrine.sqlite");
        set(&db, 0o444);
        set(&lib, 0o555);
        let stale = vitrine(&lib, &["query", item_arg, "--json"]);
        std::fs::remove_file(lib.join("index/imagenet-lite0.emb")).unwrap();
        let missing = vitrine(&lib, &["query", item_arg]);
        set(&lib, 0o755);
        set(&db, 0o644);
        assert!(!stale.status.success());
        let err = stderr(&stale);
        assert!(err.contains("out of date"), "{err}");
        assert!(
            err.contains("vitrine index --system imagenet-lite0"),
            "{err}"
        );
        assert!(!missing.status.success());
        let err = stderr(&missing);
        assert!(
            err.contains("no index of the system imagenet-lite0"),
            "{err}"
        );
        assert_eq!(err.matches("error:").count(), 1, "printed once: {err}");
    }
}

#[test]
fn bench_search_sets_each_query_against_a_plain_read() {
    // No index in the library: the bench still times its synthetic rows, and says why there
    // is no photo-to-top-10 latency.
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let out = vitrine(
        &lib,
        &[
            "bench", "search", "--items", "3000", "--runs", "3", "--json",
        ],
    );
    let bench = json(&out);
    assert!(
        stderr(&out).contains("no query latency"),
        "{}",
        stderr(&out)
    );
    assert!(bench["query_latency"].is_null());
    assert!(bench["memory_gb_per_s"].as_f64().unwrap() > 0.0);
    let result = &bench["results"][0];
    assert_eq!(result["items"], 3000);
    for precision in ["f32", "f16"] {
        let t = &result[precision];
        for field in [
            "single_ms",
            "single_gb_per_s",
            "single_share_of_read",
            "weighted_ms",
        ] {
            let v = t[field].as_f64().unwrap_or(f64::NAN);
            assert!(
                v.is_finite() && v > 0.0,
                "{precision} {field}: {}",
                t[field]
            );
        }
        assert!(t["single_min_ms"].as_f64() <= t["single_max_ms"].as_f64());
    }
    let recall = result["f16_recall_at_10"].as_f64().unwrap();
    assert!((0.9..=1.0).contains(&recall), "f16 recall@10 {recall}");
}

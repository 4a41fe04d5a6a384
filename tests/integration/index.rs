//! Systems and indexing end to end: the real CLI on a small demo library.

use crate::common::{json, stderr, stdout, vitrine};

#[test]
fn systems_then_incremental_indexing_that_names_a_corrupt_image() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let out = vitrine(
        &lib,
        &["demo", "--items", "40", "--users", "5", "--street", "0"],
    );
    assert!(out.status.success(), "demo failed: {}", stderr(&out));

    let systems = json(&vitrine(&lib, &["systems", "--json"]));
    assert_eq!(
        systems,
        serde_json::json!([{
            "name": "imagenet-lite0",
            "backbone": "efficientnet-lite0",
            "embedding_dim": 1280,
            "label_count": 1000,
            "builtin": true,
            "colour_dim": 0
        }])
    );
    let out = vitrine(&lib, &["systems"]);
    assert!(stdout(&out).contains("imagenet-lite0"), "{}", stdout(&out));

    // First run: everything is new.
    let out = vitrine(&lib, &["index"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("embedded 40 new, kept 0, removed 0, failed 0"),
        "{}",
        stdout(&out)
    );
    let path = lib.join("index/imagenet-lite0.emb");
    let index = vitrine::index::load(&path).unwrap();
    assert_eq!((index.len(), index.dim), (40, 1280));
    assert_eq!(index.system, "imagenet-lite0");

    // Second run: nothing to do.
    let report = json(&vitrine(&lib, &["index", "--json"]));
    assert_eq!(report["embedded"], 0);
    assert_eq!(report["kept"], 40);
    assert_eq!(report["written"], false);

    // Half precision: the rows rounded without embedding again, the recall printed, and a
    // query over it ranks as over f32 at the top.
    let top_ids = |lib: &std::path::Path| -> Vec<i64> {
        let query = lib.join("images/catalog").join(
            index.images[3]
                .path
                .rsplit('/')
                .next()
                .expect("a file name"),
        );
        let out = vitrine(
            lib,
            &["query", query.to_str().unwrap(), "-k", "3", "--json"],
        );
        json(&out)["queries"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["item_id"].as_i64().unwrap())
            .collect()
    };
    let full_top = top_ids(&lib);
    let out = vitrine(&lib, &["index", "--f16"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("embedded 0 new, kept 40"), "{text}");
    assert!(
        text.contains("1280, f16)") && text.contains("recall@10"),
        "{text}"
    );
    let half = vitrine::index::load(&path).unwrap();
    assert_eq!(half.precision(), vitrine::index::Precision::F16);
    assert_eq!(top_ids(&lib)[0], full_top[0]);
    let report = json(&vitrine(&lib, &["index", "--json"]));
    assert_eq!(
        (report["precision"].as_str(), report["written"].as_bool()),
        (Some("f16"), Some(false))
    );
    let out = vitrine(&lib, &["index", "--f16", "--f32"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("cannot be used with"),
        "{}",
        stderr(&out)
    );
    // Back to f32: every item embedded again.
    let report = json(&vitrine(&lib, &["index", "--f32", "--json"]));
    assert_eq!(
        (report["embedded"].as_u64(), report["precision"].as_str()),
        (Some(40), Some("f32"))
    );
    assert_eq!(top_ids(&lib), full_top);

    // A corrupt image is re-examined (it changed), reported by path, and dropped.
    let victim = lib.join("images/catalog").join(
        index.images[7]
            .path
            .rsplit('/')
            .next()
            .expect("a file name"),
    );
    std::fs::write(&victim, b"\x89PNG\r\n\x1a\n but truncated").unwrap();
    let out = vitrine(&lib, &["index", "--json"]);
    let report = json(&out);
    assert_eq!(report["embedded"], 0);
    assert_eq!(report["kept"], 39);
    let failed = report["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    let victim_name = victim.file_name().unwrap().to_str().unwrap();
    assert!(
        failed[0]["image"].as_str().unwrap().ends_with(victim_name),
        "{report}"
    );
    assert!(stderr(&out).contains(victim_name), "{}", stderr(&out));
    assert_eq!(vitrine::index::load(&path).unwrap().len(), 39);

    // An unknown system and a device this build lacks are one clear error each.
    let out = vitrine(&lib, &["index", "--system", "nope"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no system called \"nope\""),
        "{}",
        stderr(&out)
    );
    if !cfg!(feature = "cuda") {
        let out = vitrine(&lib, &["--device", "cuda", "index"]);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("rebuild with --features cuda"),
            "{}",
            stderr(&out)
        );
    }
}

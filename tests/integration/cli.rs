//! The CLI end to end: demo, catalog, import, and the errors a person meets first.

use crate::common::{json, stderr, stdout, vitrine};

#[test]
fn demo_then_catalog_json_reports_items_labels_users_and_ratings() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let out = vitrine(
        &lib,
        &["demo", "--items", "200", "--users", "40", "--street", "20"],
    );
    assert!(out.status.success(), "demo failed: {}", stderr(&out));
    assert!(stdout(&out).contains("Drew 200 items"), "{}", stdout(&out));

    let out = vitrine(&lib, &["catalog", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let counts: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(counts["items"], 200);
    assert!(counts["labels"].as_u64().unwrap() >= 80, "{counts}");
    assert_eq!(counts["users"], 40);
    let ratings = counts["ratings"].as_u64().unwrap();
    assert!((40 * 5..=40 * 7).contains(&ratings), "{counts}");
    assert_eq!(counts["street_queries"], 20);
    assert_eq!(counts["systems"], 0);

    let out = vitrine(&lib, &["catalog"]);
    assert!(stdout(&out).contains("200 items"), "{}", stdout(&out));
    assert!(stdout(&out).contains("category"), "{}", stdout(&out));

    // A second demo into the same library is refused, and the library is unchanged.
    let out = vitrine(&lib, &["demo", "--items", "10"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("already has 200 demo items"),
        "{}",
        stderr(&out)
    );
    let out = vitrine(&lib, &["catalog", "--json"]);
    let again: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again, counts);
}

#[test]
fn an_unusable_library_folder_is_named_in_one_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, b"x").unwrap();
    let lib = file.join("lib");
    let out = vitrine(&lib, &["catalog", "--json"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("not-a-folder"), "{err}");
    assert_eq!(err.matches("error:").count(), 1, "printed once: {err}");
}

#[test]
fn without_a_display_the_app_points_to_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let out = vitrine(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no display"), "{}", stderr(&out));
    assert!(stderr(&out).contains("vitrine --help"), "{}", stderr(&out));
}

#[test]
fn a_csv_import_with_bad_rows_reports_them_and_keeps_the_good_ones() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    image::RgbImage::from_pixel(32, 48, image::Rgb([200, 30, 30]))
        .save(data.join("red.png"))
        .unwrap();
    std::fs::write(data.join("empty.png"), b"").unwrap();
    std::fs::write(
        data.join("items.csv"),
        "id,image,title,category,labels\n\
         a,red.png,Red dress,dress,colour:red\n\
         b,empty.png,Empty,dress,colour:red\n\
         c,gone.png,Missing,dress,colour:red\n",
    )
    .unwrap();
    let out = vitrine(
        &lib,
        &[
            "import",
            "csv",
            data.join("items.csv").to_str().unwrap(),
            "--min-label-count",
            "1",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Imported 1 items"),
        "{}",
        stdout(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains("items.csv:3") && err.contains("empty.png"),
        "{err}"
    );
    assert!(
        err.contains("items.csv:4") && err.contains("gone.png"),
        "{err}"
    );

    // A CSV without the image column is refused as a whole; the library keeps its item.
    std::fs::write(data.join("bad.csv"), "id,title\nx,Nothing\n").unwrap();
    let out = vitrine(
        &lib,
        &["import", "csv", data.join("bad.csv").to_str().unwrap()],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("bad.csv"), "{}", stderr(&out));
    assert!(stderr(&out).contains("image"), "{}", stderr(&out));
    let out = vitrine(&lib, &["catalog", "--json"]);
    let counts: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(counts["items"], 1);
}

/// `vitrine train --backbone lite2 --size 96`, then index and query with the system: the
/// shipped Lite2 weights are found, the size is kept with the system, and the system finds
/// a catalogue photo as its own nearest item.
#[test]
fn train_on_lite2_at_another_size_then_index_and_query() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let out = vitrine(
        &lib,
        &["demo", "--items", "30", "--users", "3", "--street", "2"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let train = [
        "train",
        "--backbone",
        "lite2",
        "--mode",
        "head",
        "--epochs",
        "1",
        "--variants",
        "1",
        "--background-aug",
        "off",
        "--name",
        "l2",
    ];
    let out = vitrine(&lib, &[&train[..], &["--size", "20"]].concat());
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("input size 20 px is out of range"), "{err}");
    let out = vitrine(&lib, &[&train[..], &["--size", "96"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(lib.join("systems/l2/system.json")).unwrap())
            .unwrap();
    assert_eq!(saved["input"]["side_px"], 96, "{saved}");
    assert_eq!(
        saved["network"]["backbone"], "efficientnet-lite2",
        "{saved}"
    );

    let out = vitrine(&lib, &["index", "--system", "l2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let query = lib.join("images/catalog/demo-000007.png");
    let result = json(&vitrine(
        &lib,
        &[
            "query",
            query.to_str().unwrap(),
            "--system",
            "l2",
            "-k",
            "3",
            "--json",
        ],
    ));
    let first = &result["queries"][0]["results"][0];
    assert!(
        first["image"]
            .as_str()
            .unwrap()
            .ends_with("demo-000007.png"),
        "{result}"
    );
}

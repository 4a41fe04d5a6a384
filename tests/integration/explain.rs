//! "Why similar" from the command line: `vitrine query --grid OUT.png --explain` on a small
//! demo library.

use crate::common::{stderr, stdout, vitrine};

#[test]
fn query_explain_draws_heatmaps_on_a_two_row_contact_sheet() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let out = vitrine(
        &lib,
        &["demo", "--items", "12", "--users", "2", "--street", "2"],
    );
    assert!(out.status.success(), "demo failed: {}", stderr(&out));
    let query = lib.join("images/catalog/demo-000003.png");
    let query = query.to_str().unwrap();

    // --explain only means something with a sheet to draw on.
    let out = vitrine(&lib, &["query", query, "--explain"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--grid"), "{}", stderr(&out));

    let plain = dir.path().join("plain.png");
    let out = vitrine(
        &lib,
        &["query", query, "-k", "3", "--grid", plain.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let explained = dir.path().join("explained.png");
    let out = vitrine(
        &lib,
        &[
            "query",
            query,
            "-k",
            "3",
            "--grid",
            explained.to_str().unwrap(),
            "--explain",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // Three results, three passes (one per result; the query's map came with its search).
    assert!(
        stdout(&out).contains("Explained 3 results (3 backbone passes)"),
        "{}",
        stdout(&out)
    );

    // One query: two rows of 128 px cells with 24 px captions, 8 px gaps; query + 3 columns.
    let plain = image::open(&plain).unwrap().to_rgb8();
    let sheet = image::open(&explained).unwrap().to_rgb8();
    assert_eq!(sheet.dimensions(), (8 + 4 * 136, 8 + 2 * 152 + 8));
    assert_eq!(plain.width(), sheet.width());
    // The query cell is the plain query; result #1's cell is the same picture tinted.
    let cell = |img: &image::RgbImage, x0: u32| -> Vec<u8> {
        (8..136)
            .flat_map(|y| (x0..x0 + 128).map(move |x| (x, y)))
            .flat_map(|(x, y)| img.get_pixel(x, y).0)
            .collect()
    };
    assert_eq!(cell(&sheet, 8), cell(&plain, 8));
    let (tinted, original) = (cell(&sheet, 144), cell(&plain, 144));
    let changed = tinted.iter().zip(&original).filter(|(a, b)| a != b).count();
    assert!(
        changed > original.len() / 2,
        "{changed} of {} values changed",
        original.len()
    );
    // The second row under result #1 is the query, tinted: not blank.
    let under = (8..136).any(|x| sheet.get_pixel(144 + x, 8 + 152 + 64).0 != [255, 255, 255]);
    assert!(under, "the query's heatmap towards #1 is drawn under it");
}

//! The OHS arithmetic on a worked example computed by hand, Krippendorff's α against his own
//! published example, CSV escaping, bulk entry, merging, and the per-scorer order.

use super::export::{
    MergeReport, escape_cell, import_raw_csv, merge_database, merge_file, raw_csv, summary_csv,
    summary_csv_with, unescape_cell,
};
use super::report::{alpha_reading, krippendorff_alpha_interval, ranking, report};
use super::*;
use crate::study::*;

/// Two systems (A, B), three queries, K = 10, three criteria with unequal weights, the last
/// "fewer is better". Items are fake ids: sheets do not need a catalogue.
pub(crate) fn worked_study() -> NewStudy {
    let criteria = vec![
        Criterion {
            weight: 2.0,
            ..Criterion::new("category", "same category")
        },
        Criterion::new("colour", "same colour"),
        Criterion {
            direction: Direction::Fewer,
            ..Criterion::new("shape difference", "other outline")
        },
    ];
    let queries = (0..3)
        .map(|q| NewQuery {
            image: format!("images/street/q{q}.png"),
            domain: if q == 0 { Domain::Shop } else { Domain::Street },
            item_id: None,
        })
        .collect();
    let mut sheets = Vec::new();
    for query in 0..3 {
        for system in 0..2 {
            sheets.push(NewSheet {
                query,
                system,
                items: (1..=10)
                    .map(|r| SheetItem {
                        item_id: (query * 100 + system * 10 + r) as i64,
                        image: format!("images/catalog/{query}-{system}-{r}.png"),
                    })
                    .collect(),
            });
        }
    }
    NewStudy {
        name: "worked".into(),
        goal: "an image search engine".into(),
        k: 10,
        seed: 7,
        criteria,
        systems: vec!["A".into(), "B".into()],
        queries,
        sheets,
        show_explanations: false,
    }
}

/// hits[scorer][system][criterion][query], as in the doc of `the_worked_example…`.
const HITS: [[[[u32; 3]; 3]; 2]; 2] = [
    // s1
    [
        [[10, 8, 9], [5, 6, 4], [2, 3, 1]], // A: category, colour, shape difference
        [[7, 6, 8], [8, 9, 7], [6, 5, 7]],  // B
    ],
    // s2
    [
        [[9, 8, 10], [5, 5, 8], [2, 2, 2]],
        [[7, 5, 9], [9, 8, 7], [5, 6, 7]],
    ],
];

pub(crate) fn score_worked(store: &mut Store, study: &Study) {
    for (si, scorer) in ["s1", "s2"].iter().enumerate() {
        for sheet in &study.sheets {
            let system = study
                .systems
                .iter()
                .position(|s| *s == sheet.system)
                .unwrap();
            for (c, crit) in study.criteria.iter().enumerate() {
                let answer = Answer {
                    sheet_id: sheet.id,
                    scorer: scorer.to_string(),
                    criterion: crit.name.clone(),
                    hits: HITS[si][system][c][sheet.query],
                    marks: None,
                    given_at: String::new(),
                    prefill: Default::default(),
                };
                record_answer(store, study, &answer).unwrap();
            }
        }
    }
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

/// By hand, each rate = Σ hits / (6 answers × 10) × 100:
/// - A: category 54 → 90 %, colour 15 + 18 = 33 → 55 %, shape 12 → 20 % (counts 80).
/// - B: category 42 → 70 %, colour 48 → 80 %, shape 36 → 60 % (counts 40).
/// - OHS A = (2·90 + 55 + 80) / 4 = 78.75; OHS B = (2·70 + 80 + 40) / 4 = 65.
/// - s1 alone: A colour 50 % → OHS (180 + 50 + 80) / 4 = 77.5; s2 alone: A colour 60 % →
///   80.0; B is 65 for both (s1: 70, 80, 60; s2: 70, 80, 60).
#[test]
fn the_worked_example_gives_the_hand_computed_table() {
    let mut store = Store::open_in_memory().unwrap();
    let study = store_study(&mut store, &worked_study()).unwrap();
    score_worked(&mut store, &study);
    let answers = store.study_answers(study.id).unwrap();
    assert_eq!(answers.len(), 2 * 6 * 3);
    let r = report(&study, &answers, 200);
    assert_eq!(r.systems, ["A", "B"]);
    let expect = [[90.0, 70.0], [55.0, 80.0], [20.0, 60.0]];
    for (c, row) in expect.iter().enumerate() {
        for (s, &v) in row.iter().enumerate() {
            assert!(
                close(r.criteria[c].percent[s], v),
                "{c} {s}: {:?}",
                r.criteria[c]
            );
        }
    }
    assert!(close(r.ohs[0], 78.75), "{:?}", r.ohs);
    assert!(close(r.ohs[1], 65.0), "{:?}", r.ohs);
    assert_eq!(ranking(&r.ohs), [0, 1]);

    let s1 = &r.per_scorer[0];
    assert_eq!(s1.scorer, "s1");
    assert!(close(s1.percent[1][0], 50.0));
    assert!(
        close(s1.ohs[0], 77.5) && close(s1.ohs[1], 65.0),
        "{:?}",
        s1.ohs
    );
    let s2 = &r.per_scorer[1];
    assert!(
        close(s2.ohs[0], 80.0) && close(s2.ohs[1], 65.0),
        "{:?}",
        s2.ohs
    );

    // Other weights: colour alone decides, and B wins.
    let colour_only = r.ohs_with(&[0.0, 1.0, 0.0]);
    assert!(close(colour_only[0], 55.0) && close(colour_only[1], 80.0));
    assert_eq!(ranking(&colour_only), [1, 0]);

    // Intervals hold their point estimate; coverage counts whole sheets.
    for c in &r.criteria {
        for (s, ci) in c.ci.iter().enumerate() {
            let (lo, hi) = ci.unwrap();
            let p = c.percent[s].unwrap();
            assert!(lo <= p + 1e-9 && p <= hi + 1e-9, "{lo} {p} {hi}");
        }
        assert!(c.alpha.is_some());
    }
    let (lo, hi) = r.ohs_ci[0].unwrap();
    assert!(lo < 78.75 && 78.75 < hi, "{lo} {hi}");
    assert_eq!(r.coverage.len(), 2);
    assert_eq!((r.coverage[0].sheets_done, r.coverage[0].answers), (6, 18));
    assert_eq!((r.shop_queries, r.street_queries), (1, 2));
    // The same answers give the same intervals (seeded).
    assert_eq!(report(&study, &answers, 200), r);
}

/// Krippendorff (2011), "Computing Krippendorff's alpha-reliability", §C: four observers,
/// twelve units, missing values; published α(interval) = 0.849.
#[test]
fn alpha_matches_krippendorffs_published_example() {
    let nan = f64::NAN;
    let data = [
        [1.0, 2.0, 3.0, 3.0, 2.0, 1.0, 4.0, 1.0, 2.0, nan, nan, nan],
        [1.0, 2.0, 3.0, 3.0, 2.0, 2.0, 4.0, 1.0, 2.0, 5.0, nan, 3.0],
        [nan, 3.0, 3.0, 3.0, 2.0, 3.0, 4.0, 2.0, 2.0, 5.0, 1.0, nan],
        [1.0, 2.0, 3.0, 3.0, 2.0, 4.0, 4.0, 1.0, 2.0, 5.0, 1.0, nan],
    ];
    let units: Vec<Vec<f64>> = (0..12)
        .map(|u| data.iter().map(|o| o[u]).filter(|v| !v.is_nan()).collect())
        .collect();
    let alpha = krippendorff_alpha_interval(&units).unwrap();
    assert!((alpha - 0.849).abs() < 0.0005, "{alpha}");
    assert_eq!(alpha_reading(Some(alpha)), "reliable");
    // Perfect agreement is 1; no pairable unit or no variation is undefined.
    assert_eq!(
        krippendorff_alpha_interval(&[vec![1.0, 1.0], vec![3.0, 3.0]]),
        Some(1.0)
    );
    assert_eq!(krippendorff_alpha_interval(&[vec![1.0], vec![3.0]]), None);
    assert_eq!(krippendorff_alpha_interval(&[vec![2.0, 2.0]]), None);
    assert_eq!(alpha_reading(Some(0.7)), "tentative");
    assert_eq!(alpha_reading(Some(0.2)), "unreliable");
}

#[test]
fn cells_that_a_spreadsheet_would_run_are_escaped_and_read_back() {
    for bad in [
        "=1+1", "+cmd", "-2", "@SUM(A1)", "\tx", "\rx", "'quoted", "'=x",
    ] {
        let escaped = escape_cell(bad);
        assert_eq!(escaped, format!("'{bad}"));
        assert_eq!(unescape_cell(&escaped), bad);
    }
    for fine in ["category", "12.50", "a=b", " spaced "] {
        assert_eq!(escape_cell(fine), fine);
        assert_eq!(unescape_cell(fine), fine);
    }

    let mut store = Store::open_in_memory().unwrap();
    let mut new = worked_study();
    new.criteria[1].name = "=HYPERLINK(\"http://x\")".into();
    let study = store_study(&mut store, &new).unwrap();
    let answer = Answer {
        sheet_id: study.sheets[0].id,
        scorer: "@mallory".into(),
        criterion: new.criteria[1].name.clone(),
        hits: 3,
        marks: Some(vec![1, 4, 9]),
        given_at: String::new(),
        prefill: Default::default(),
    };
    record_answer(&mut store, &study, &answer).unwrap();
    let answers = store.study_answers(study.id).unwrap();
    assert_eq!(answers[0].marks, Some(vec![1, 4, 9]));
    let summary = summary_csv(&report(&study, &answers, 10)).unwrap();
    let mut lines = summary.lines();
    assert_eq!(
        lines.next(),
        Some(
            "criterion,weight,direction,A,B,A 95% low,A 95% high,B 95% low,B 95% high,\
             A answers,B answers,alpha,agreement"
        )
    );
    assert!(
        summary.contains("\"'=HYPERLINK(\"\"http://x\"\")\",1,more,30.00,"),
        "{summary}"
    );
    assert!(summary.contains("\nOHS,,,30.00,,"), "{summary}");
    let raw = raw_csv(&study, &answers).unwrap();
    assert!(
        raw.contains("worked,'@mallory,images/street/q0.png,A,"),
        "{raw}"
    );
    assert!(!raw.contains(",@mallory"), "{raw}");

    // The raw CSV imports into a fresh copy of the study unchanged (quotes taken off).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raw.csv");
    std::fs::write(&path, &raw).unwrap();
    let mut other = Store::open_in_memory().unwrap();
    store_study(&mut other, &new).unwrap();
    let merged = import_raw_csv(&mut other, "worked", &path).unwrap();
    assert_eq!((merged.added, merged.duplicates), (1, 0));
    let theirs = other
        .study_answers(other.study("worked").unwrap().unwrap().id)
        .unwrap();
    assert_eq!(theirs[0].scorer, "@mallory");
    assert_eq!(theirs[0].criterion, new.criteria[1].name);
    // Importing it again finds only duplicates.
    let again = import_raw_csv(&mut other, "worked", &path).unwrap();
    assert_eq!((again.added, again.duplicates), (0, 1));
}

/// Scorer names that an export used to change, each with its own answer: they must come back
/// through the raw CSV exactly as typed, every one its own scorer (none merged into "bob").
#[test]
fn scorer_names_survive_export_and_merge_exactly_as_typed() {
    let names = [
        "bob", "'=x", "=x", "\tbob", "\rbob", " bob", "bob ", "'bob", "''bob",
    ];
    let new = worked_study();
    let mut store = Store::open_in_memory().unwrap();
    let study = store_study(&mut store, &new).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scores.csv");
    let id = study.sheets[0].id;
    for (hits, name) in names.iter().enumerate() {
        // Bulk entry stores the name as typed (it used to trim it).
        std::fs::write(
            &path,
            format!("sheet_id,criterion,hits\n{id},category,{hits}\n"),
        )
        .unwrap();
        assert_eq!(
            import_scores_csv(&mut store, &study, name, &path).unwrap(),
            1
        );
    }
    let answers = store.study_answers(study.id).unwrap();
    let mut stored: Vec<&str> = answers.iter().map(|a| a.scorer.as_str()).collect();
    stored.sort_unstable();
    let mut expected = names.to_vec();
    expected.sort_unstable();
    assert_eq!(stored, expected);

    let raw = raw_csv(&study, &answers).unwrap();
    for line in raw.lines().skip(1) {
        let scorer_cell = line.split(',').nth(1).unwrap();
        assert!(!scorer_cell.starts_with(['=', '+', '-', '@']), "{line:?}");
    }
    let raw_path = dir.path().join("raw.csv");
    std::fs::write(&raw_path, &raw).unwrap();
    let mut other = Store::open_in_memory().unwrap();
    store_study(&mut other, &new).unwrap();
    let merged = import_raw_csv(&mut other, "worked", &raw_path).unwrap();
    assert_eq!(merged.added, names.len(), "{merged:?}");
    assert!(merged.conflicts.is_empty(), "{merged:?}");
    let theirs = other
        .study_answers(other.study("worked").unwrap().unwrap().id)
        .unwrap();
    let back: std::collections::HashMap<&str, u32> =
        theirs.iter().map(|a| (a.scorer.as_str(), a.hits)).collect();
    for (hits, name) in names.iter().enumerate() {
        assert_eq!(back.get(name), Some(&(hits as u32)), "{name:?} in {back:?}");
    }
}

/// A folder of query photos with a link back to itself and a link to a sibling folder: each
/// photo is listed once and the walk ends.
#[cfg(unix)]
#[test]
fn a_query_folder_walk_survives_symlink_loops_and_lists_each_photo_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("queries");
    std::fs::create_dir_all(root.join("a/street")).unwrap();
    std::fs::create_dir_all(root.join("b")).unwrap();
    for photo in ["a/1.png", "a/street/2.png", "b/3.jpg"] {
        std::fs::write(root.join(photo), b"x").unwrap();
    }
    std::os::unix::fs::symlink(&root, root.join("a/loop")).unwrap();
    std::os::unix::fs::symlink("../b", root.join("a/street/to-b")).unwrap();
    std::os::unix::fs::symlink("1.png", root.join("a/same.png")).unwrap();
    std::os::unix::fs::symlink("missing.png", root.join("b/broken.png")).unwrap();
    let mut files = Vec::new();
    collect_images(&root, &mut files).unwrap();
    let mut found: Vec<String> = files
        .iter()
        .map(|f| std::fs::canonicalize(f).unwrap_or_else(|_| f.clone()))
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    found.sort();
    assert_eq!(found, ["1.png", "2.png", "3.jpg", "broken.png"]);
}

#[test]
fn bulk_entry_refuses_bad_rows_by_line_and_saves_nothing_then() {
    let mut store = Store::open_in_memory().unwrap();
    let study = store_study(&mut store, &worked_study()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scores.csv");
    let id = study.sheets[0].id;
    std::fs::write(
        &path,
        format!("sheet_id,criterion,hits\n{id},category,4\n{id},colour,11\n"),
    )
    .unwrap();
    let err = import_scores_csv(&mut store, &study, "ann", &path).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("scores.csv:3:") && text.contains("11 hits"),
        "{text}"
    );
    assert!(store.study_answers(study.id).unwrap().is_empty());
    std::fs::write(&path, "sheet_id,criterion,hits\n999,category,4\n").unwrap();
    let text = import_scores_csv(&mut store, &study, "ann", &path)
        .unwrap_err()
        .to_string();
    assert!(text.contains(":2:") && text.contains("sheet 999"), "{text}");
    std::fs::write(&path, format!("sheet_id,criterion,hits\n{id},nope,1\n")).unwrap();
    let text = import_scores_csv(&mut store, &study, "ann", &path)
        .unwrap_err()
        .to_string();
    assert!(text.contains(":2:") && text.contains("\"nope\""), "{text}");
    std::fs::write(
        &path,
        format!("sheet_id,criterion,hits\n{id},category,4\n{id},colour,10\n"),
    )
    .unwrap();
    assert_eq!(
        import_scores_csv(&mut store, &study, "ann", &path).unwrap(),
        2
    );
    assert_eq!(store.study_answers(study.id).unwrap().len(), 2);
}

#[test]
fn merging_another_database_adds_new_answers_and_detects_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let mine_path = dir.path().join("mine.sqlite");
    let theirs_path = dir.path().join("theirs.sqlite");
    let mut mine = Store::open(&mine_path).unwrap();
    let mut theirs = Store::open(&theirs_path).unwrap();
    // Other ids on the other machine: a second study first shifts every sheet id.
    let mut decoy = worked_study();
    decoy.name = "decoy".into();
    store_study(&mut theirs, &decoy).unwrap();
    let study = store_study(&mut mine, &worked_study()).unwrap();
    let their_study = store_study(&mut theirs, &worked_study()).unwrap();
    assert_ne!(study.sheets[0].id, their_study.sheets[0].id);
    let answer = |study: &Study, sheet: usize, scorer: &str, crit: &str, hits| Answer {
        sheet_id: study.sheets[sheet].id,
        scorer: scorer.into(),
        criterion: crit.into(),
        hits,
        marks: None,
        given_at: String::new(),
        prefill: Default::default(),
    };
    record_answer(&mut mine, &study, &answer(&study, 0, "ann", "category", 5)).unwrap();
    record_answer(&mut mine, &study, &answer(&study, 1, "ann", "category", 5)).unwrap();
    for a in [
        answer(&their_study, 0, "ann", "category", 5), // duplicate
        answer(&their_study, 1, "ann", "category", 6), // conflict
        answer(&their_study, 2, "bob", "colour", 7),   // new
        answer(&their_study, 3, "bob", "colour", 1),   // new
    ] {
        record_answer(&mut theirs, &their_study, &a).unwrap();
    }
    drop(theirs);
    let report: MergeReport = merge_database(&mut mine, "worked", &theirs_path).unwrap();
    assert_eq!(report.added, 2);
    assert_eq!(report.duplicates, 1);
    assert_eq!(report.conflicts.len(), 1, "{:?}", report.conflicts);
    assert!(report.conflicts[0].contains("kept 5, not 6"));
    assert_eq!(report.scorers, ["ann", "bob"]);
    let answers = mine.study_answers(study.id).unwrap();
    assert_eq!(answers.len(), 4);
    let bob: Vec<&Answer> = answers.iter().filter(|a| a.scorer == "bob").collect();
    assert_eq!(bob[0].sheet_id, study.sheets[2].id);
    // Merging again adds nothing.
    let again = merge_database(&mut mine, "worked", &theirs_path).unwrap();
    assert_eq!((again.added, again.duplicates), (0, 3));

    // A study that froze other items is not the same study.
    let other_path = dir.path().join("other.sqlite");
    let mut other = Store::open(&other_path).unwrap();
    let mut changed = worked_study();
    changed.sheets[0].items[0].item_id = 99_999;
    store_study(&mut other, &changed).unwrap();
    drop(other);
    let err = merge_database(&mut mine, "worked", &other_path).unwrap_err();
    assert!(err.to_string().contains("other items"), "{err}");
    let err = merge_database(&mut mine, "nope", &other_path).unwrap_err();
    assert!(err.to_string().contains("\"nope\""), "{err}");
}

#[test]
fn merge_file_reads_a_csv_by_its_extension_and_anything_else_as_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let mut mine = Store::open(&dir.path().join("mine.sqlite")).unwrap();
    let theirs_path = dir.path().join("theirs.db");
    let mut theirs = Store::open(&theirs_path).unwrap();
    let study = store_study(&mut mine, &worked_study()).unwrap();
    let their_study = store_study(&mut theirs, &worked_study()).unwrap();
    score_worked(&mut theirs, &their_study);
    let answers = theirs.study_answers(their_study.id).unwrap();
    drop(theirs);
    // A raw-score CSV, whatever the case of its extension.
    let csv = dir.path().join("scores.CSV");
    std::fs::write(&csv, raw_csv(&their_study, &answers).unwrap()).unwrap();
    let merged = merge_file(&mut mine, "worked", &csv).unwrap();
    assert_eq!(merged.added, answers.len());
    // Any other name is a database: the same answers are duplicates now.
    let again = merge_file(&mut mine, "worked", &theirs_path).unwrap();
    assert_eq!((again.added, again.duplicates), (0, answers.len()));
    assert_eq!(mine.study_answers(study.id).unwrap().len(), answers.len());
    // A CSV that is not a raw-score CSV is refused as such, not opened as a database.
    let bad = dir.path().join("other.csv");
    std::fs::write(&bad, "not,a,score\n").unwrap();
    assert!(merge_file(&mut mine, "worked", &bad).is_err());
}

#[test]
fn each_scorer_gets_their_own_stable_order_and_answers_are_checked() {
    let mut store = Store::open_in_memory().unwrap();
    let study = store_study(&mut store, &worked_study()).unwrap();
    let ann = study.sheet_order("ann");
    let mut sorted = ann.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..6).collect::<Vec<_>>());
    assert_eq!(study.sheet_order("ann"), ann);
    let differs = ["bob", "cy", "dee", "eve"]
        .iter()
        .any(|s| study.sheet_order(s) != ann);
    assert!(differs);

    save_position(&mut store, &study, "ann", 3, 2).unwrap();
    assert_eq!(
        store.scorer_position(study.id, "ann").unwrap(),
        Some((3, 2))
    );
    assert_eq!(store.scorer_position(study.id, "bob").unwrap(), None);

    let mut a = Answer {
        sheet_id: study.sheets[0].id,
        scorer: "ann".into(),
        criterion: "category".into(),
        hits: 2,
        marks: Some(vec![1, 1]),
        given_at: String::new(),
        prefill: Default::default(),
    };
    assert!(record_answer(&mut store, &study, &a).is_err());
    a.marks = Some(vec![1, 11]);
    assert!(record_answer(&mut store, &study, &a).is_err());
    a.marks = Some(vec![2, 3]);
    record_answer(&mut store, &study, &a).unwrap();
    // A second answer replaces the first.
    a.hits = 0;
    a.marks = Some(vec![]);
    record_answer(&mut store, &study, &a).unwrap();
    let answers = store.study_answers(study.id).unwrap();
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].hits, 0);
    // A taken name is refused.
    assert!(store_study(&mut store, &worked_study()).is_err());
}

#[test]
fn the_summary_csv_carries_intervals_alpha_answers_and_the_analysts_weights() {
    let mut store = Store::open_in_memory().unwrap();
    let study = store_study(&mut store, &worked_study()).unwrap();
    score_worked(&mut store, &study);
    let answers = store.study_answers(study.id).unwrap();
    let r = report(&study, &answers, 200);
    let text = summary_csv_with(&r, Some(&[1.0, 1.0, 1.0])).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "criterion",
            "weight",
            "direction",
            "A",
            "B",
            "A 95% low",
            "A 95% high",
            "B 95% low",
            "B 95% high",
            "A answers",
            "B answers",
            "alpha",
            "agreement"
        ]
    );
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    // Three criteria, the OHS, the OHS with the analyst's weights.
    assert_eq!(rows.len(), 5);
    let category = &rows[0];
    assert_eq!(&category[..5], ["category", "2", "more", "90.00", "70.00"]);
    let (low, high): (f64, f64) = (category[5].parse().unwrap(), category[6].parse().unwrap());
    assert!(low <= 90.0 && 90.0 <= high, "{category:?}");
    // 3 queries × 2 scorers answered every cell.
    assert_eq!(&category[9..11], ["6", "6"]);
    let alpha = r.criteria[0].alpha.unwrap();
    assert_eq!(category[11], format!("{alpha:.3}"));
    assert_eq!(category[12], alpha_reading(Some(alpha)));
    assert_eq!(&rows[3][..5], ["OHS", "", "", "78.75", "65.00"]);
    assert_eq!(&rows[3][9..11], ["18", "18"]);
    // Equal weights: A (90 + 55 + 80) / 3, B (70 + 80 + 40) / 3.
    let yours = &rows[4];
    assert_eq!(yours[0], "OHS (your weights)");
    assert_eq!(yours[1], "category 1; colour 1; shape difference 1");
    assert_eq!(&yours[3..5], ["75.00", "63.33"]);
    // The study's own weights add no second OHS row.
    assert_eq!(
        summary_csv_with(&r, Some(&r.weights())).unwrap(),
        summary_csv(&r).unwrap()
    );
}

#[test]
fn an_undone_answer_restores_the_one_it_replaced_or_is_deleted() {
    let mut store = Store::open_in_memory().unwrap();
    let study = store_study(&mut store, &worked_study()).unwrap();
    let first = Answer {
        sheet_id: study.sheets[0].id,
        scorer: "ann".into(),
        criterion: "colour".into(),
        hits: 2,
        marks: Some(vec![1, 4]),
        given_at: "2024-05-01T10:00:00.000Z".into(),
        prefill: Default::default(),
    };
    assert_eq!(
        record_answer_undoable(&mut store, &study, &first).unwrap(),
        None
    );
    let second = Answer {
        hits: 3,
        marks: None,
        given_at: String::new(),
        ..first.clone()
    };
    let previous = record_answer_undoable(&mut store, &study, &second).unwrap();
    assert_eq!(previous.as_ref(), Some(&first));
    let stored = |store: &Store| store.answer(first.sheet_id, "ann", "colour").unwrap();
    assert_eq!(stored(&store).unwrap().hits, 3);
    // Undo the second: the first comes back exactly, time included.
    undo_answer(&mut store, &study, &second, previous.as_ref()).unwrap();
    assert_eq!(stored(&store), Some(first.clone()));
    // Undo the first: no answer is left.
    undo_answer(&mut store, &study, &first, None).unwrap();
    assert_eq!(stored(&store), None);
    assert!(store.study_answers(study.id).unwrap().is_empty());
}

#[test]
fn criteria_files_are_read_and_bad_rows_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("criteria.csv");
    std::fs::write(
        &path,
        "name,weight,direction,description\ncategory,3,more,same category\n\
         variety,1.5,FEWER,\"novel, different\"\n",
    )
    .unwrap();
    let criteria = read_criteria_csv(&path).unwrap();
    assert_eq!(criteria.len(), 2);
    assert_eq!(criteria[1].direction, Direction::Fewer);
    assert_eq!(criteria[1].weight, 1.5);
    assert_eq!(criteria[1].description, "novel, different");
    std::fs::write(&path, "name,weight,direction\ncategory,1,up\n").unwrap();
    let err = read_criteria_csv(&path).unwrap_err().to_string();
    assert!(
        err.contains("criteria.csv:2:") && err.contains("more or fewer"),
        "{err}"
    );
    std::fs::write(&path, "name,weight,direction\ncategory,-1,more\n").unwrap();
    assert!(
        read_criteria_csv(&path)
            .unwrap_err()
            .to_string()
            .contains(":2:")
    );
    assert_eq!(paper_criteria().len(), 7);
    validate_criteria(&paper_criteria()).unwrap();
}

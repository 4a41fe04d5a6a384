//! Budgets, CSV rows that would vanish, and imports that share a library with other writers.

use super::fixtures::*;
use super::reading::quote_left_open;
use super::*;
use crate::catalog::Source;
use crate::jobs::JobContext;
use crate::library::Library;

fn ctx() -> JobContext {
    JobContext::silent()
}

/// Twenty rows, the third of which opens a quote it never closes: it is reported on its
/// line with the 17 lines it would have swallowed, and those lines are imported.
#[test]
fn an_unterminated_quote_is_reported_with_the_lines_it_swallowed() {
    let (dir, mut lib) = library();
    let folder = dir.path().join("shop");
    write_png(&folder.join("a.png"));
    let mut text = String::from("id,image,title\n");
    for row in 1..=20 {
        if row == 3 {
            text += "r3,a.png,\"Red dress\n";
        } else {
            text += &format!("r{row},a.png,Dress {row}\n");
        }
    }
    let csv = folder.join("items.csv");
    std::fs::write(&csv, &text).unwrap();

    let strict = ImportOptions {
        strict: true,
        ..keep_every_label()
    };
    let err = import_csv(&mut lib, &csv, None, &strict, &ctx())
        .unwrap_err()
        .to_string();
    assert!(err.contains("items.csv:4:"), "{err}");
    assert!(err.contains("never closed"), "{err}");
    assert_eq!(lib.store.counts().unwrap().items, 0);

    let report = import_csv(&mut lib, &csv, None, &keep_every_label(), &ctx()).unwrap();
    assert_eq!(report.imported, 19, "{:?}", report.skipped);
    assert_eq!(report.skipped.len(), 1);
    let skipped = &report.skipped[0];
    assert_eq!(skipped.location, format!("{}:4", csv.display()));
    assert!(
        skipped
            .reason
            .contains("swallow the 17 lines after it (lines 5–21)"),
        "{skipped}"
    );
    for key in ["r1", "r2", "r4", "r20"] {
        assert!(lib.store.item_id(key).unwrap().is_some(), "{key}");
    }
}

/// A quote closed on a later line makes one row of several: it is reported with the lines
/// it took, and reading goes on after its first line. A quoted field with a line break
/// that does fit the header is a good row.
#[test]
fn a_quote_closed_lines_later_is_reported_and_a_good_multiline_field_kept() {
    let (dir, mut lib) = library();
    write_png(&dir.path().join("a.png"));
    let csv = dir.path().join("items.csv");
    std::fs::write(
        &csv,
        "id,image,title\n\
         m1,a.png,\"Two\nlines\"\n\
         b1,a.png,\"Opened\n\
         r2,a.png,Fine\n\
         r3,a.png,Closed here\",x\n\
         r4,a.png,Last\n",
    )
    .unwrap();
    let report = import_csv(&mut lib, &csv, None, &keep_every_label(), &ctx()).unwrap();
    let reasons: Vec<String> = report.skipped.iter().map(|s| s.to_string()).collect();
    // b1 (line 4) takes lines 5-6; they are read again from line 5.
    assert_eq!(report.skipped.len(), 2, "{reasons:?}");
    assert!(reasons[0].contains("items.csv:4: "), "{reasons:?}");
    assert!(reasons[0].contains("2 lines"), "{reasons:?}");
    // Read again, r3's stray quote is text: a row of 4 fields.
    assert!(reasons[1].contains("items.csv:6: "), "{reasons:?}");
    assert!(reasons[1].contains("4 fields"), "{reasons:?}");
    for key in ["m1", "r2", "r4"] {
        assert!(
            lib.store.item_id(key).unwrap().is_some(),
            "{key}: {reasons:?}"
        );
    }
    let m1 = lib
        .store
        .item(lib.store.item_id("m1").unwrap().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(m1.title, "Two\nlines");
}

#[test]
fn quote_state_follows_the_csv_rules() {
    assert!(quote_left_open(b"a,\"b\nc"));
    assert!(!quote_left_open(b"a,\"b\nc\",d\n"));
    assert!(
        !quote_left_open(b"a,b\"c\nd"),
        "a quote inside a field is text"
    );
    assert!(quote_left_open(b"a,\"b\"\"c\nd"), "a doubled quote is text");
    assert!(!quote_left_open(b"\"\"\"\"\n"));
}

#[test]
fn a_long_line_is_skipped_and_the_total_read_is_bounded() {
    let text = format!("short\n{}\nafter\n", "x".repeat(100));
    let path = Path::new("t.jsonl");
    let mut lines = TextLines::with_limits(path, text.as_bytes(), u64::MAX, 10);
    assert_eq!(lines.next_line().unwrap(), Some((1, Ok("short".into()))));
    let (line, long) = lines.next_line().unwrap().unwrap();
    assert_eq!(line, 2);
    assert!(long.unwrap_err().contains("longer than 10 bytes"));
    assert_eq!(lines.next_line().unwrap(), Some((3, Ok("after".into()))));
    assert_eq!(lines.next_line().unwrap(), None);

    let mut lines = TextLines::with_limits(path, text.as_bytes(), 50, 1000);
    assert!(lines.next_line().unwrap().is_some());
    let err = lines.next_line().unwrap_err().to_string();
    assert!(err.starts_with("t.jsonl:2: "), "{err}");
    assert!(err.contains("more than 50 bytes"), "{err}");
    assert_eq!(decompressed_limit(10), MIN_DECOMPRESSED_LIMIT);
    assert_eq!(
        decompressed_limit(10 << 30),
        (10 << 30) * MAX_DECOMPRESSION_RATIO
    );
}

/// A file of more bad rows than a report lists: the rest are counted.
#[test]
fn problems_beyond_the_cap_are_counted_not_kept() {
    let (dir, mut lib) = library();
    write_png(&dir.path().join("a.png"));
    let mut text = String::from("id,image\ngood,a.png\n");
    for i in 0..MAX_PROBLEMS_KEPT + 10 {
        text += &format!("bad{i}\n");
    }
    let csv = dir.path().join("bad.csv");
    std::fs::write(&csv, text).unwrap();
    let report = import_csv(&mut lib, &csv, None, &keep_every_label(), &ctx()).unwrap();
    assert_eq!(report.imported, 1);
    assert_eq!(report.skipped.len(), MAX_PROBLEMS_KEPT);
    assert_eq!(report.skipped_unlisted, 10);
}

/// `count` candidates sharing one image, for pipeline tests.
fn candidates(dir: &Path, prefix: &str, count: usize) -> Rows {
    let image = dir.join("a.png");
    if !image.exists() {
        write_png(&image);
    }
    let mut rows = Rows::default();
    for i in 0..count {
        rows.push(Candidate {
            path: dir.join("list.csv"),
            line: i as u64 + 2,
            image: image.clone(),
            item: new_item(
                Source::Csv,
                format!("{prefix}{i}"),
                String::new(),
                vec![crate::catalog::Label::new(
                    crate::catalog::LabelGroup::Attribute,
                    prefix,
                )],
            ),
        });
    }
    rows
}

/// Items are committed a chunk at a time; when a later step fails, those already
/// committed are removed again and the library is as it was.
#[test]
fn a_failure_after_some_chunks_undoes_the_committed_items() {
    let (dir, mut lib) = library();
    let rows = candidates(dir.path(), "u", WRITE_CHUNK * 2 + 5);
    let err = run_with(
        &mut lib,
        Source::Csv,
        rows,
        &keep_every_label(),
        &ctx(),
        |w, ids| {
            assert_eq!(ids.len(), WRITE_CHUNK * 2 + 5);
            w.insert_user("ann", Source::Csv)?;
            Err(Error::Invalid("the ratings file is broken".into()))
        },
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "the ratings file is broken");
    let counts = lib.store.counts().unwrap();
    assert_eq!((counts.items, counts.labels, counts.users), (0, 0, 0));
}

/// Twenty threads open one new library at the same moment, each with its own connection.
#[test]
fn twenty_concurrent_first_opens_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("lib");
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(20));
    let threads: Vec<_> = (0..20)
        .map(|_| {
            let (root, barrier) = (root.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                Library::open(&root).map(|lib| lib.store.schema_version().unwrap())
            })
        })
        .collect();
    let versions: Vec<u32> = threads
        .into_iter()
        .map(|t| t.join().unwrap().unwrap())
        .collect();
    assert!(
        versions.iter().all(|&v| v == versions[0] && v > 0),
        "{versions:?}"
    );
}

/// Two imports of several chunks each into one library at once, and a scorer's answers
/// saved while they run: everything succeeds.
#[test]
fn two_concurrent_imports_and_an_answer_during_them_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("lib");
    let study = {
        let mut lib = Library::open(&root).unwrap();
        crate::ohs::store_study(&mut lib.store, &crate::ohs::tests::worked_study()).unwrap()
    };
    let per_import = WRITE_CHUNK * 3;
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(3));
    let imports: Vec<_> = ["x", "y"]
        .into_iter()
        .map(|prefix| {
            let (root, barrier) = (root.clone(), barrier.clone());
            let folder = dir.path().join(prefix);
            std::fs::create_dir_all(&folder).unwrap();
            let rows = candidates(&folder, prefix, per_import);
            std::thread::spawn(move || {
                let mut lib = Library::open(&root)?;
                barrier.wait();
                run(&mut lib, Source::Csv, rows, &keep_every_label(), &ctx())
            })
        })
        .collect();
    let scorer = {
        let (root, study) = (root.clone(), study.clone());
        std::thread::spawn(move || -> Result<usize> {
            let mut lib = Library::open(&root)?;
            barrier.wait();
            // Wait for the first chunk of either import, then answer.
            while lib.store.counts()?.items == 0 {
                std::thread::yield_now();
            }
            let mut saved = 0;
            for (i, sheet) in study.sheets.iter().enumerate() {
                let answer = crate::study::Answer {
                    sheet_id: sheet.id,
                    scorer: "ann".into(),
                    criterion: "category".into(),
                    hits: i as u32,
                    marks: None,
                    given_at: String::new(),
                    prefill: Default::default(),
                };
                crate::ohs::record_answer(&mut lib.store, &study, &answer)?;
                saved += 1;
            }
            Ok(saved)
        })
    };
    for import in imports {
        let report = import.join().unwrap().unwrap();
        assert_eq!(report.imported, per_import as u64, "{:?}", report.skipped);
    }
    assert_eq!(scorer.join().unwrap().unwrap(), study.sheets.len());
    let lib = Library::open(&root).unwrap();
    assert_eq!(lib.store.counts().unwrap().items, 2 * per_import as u64);
    assert_eq!(
        lib.store.study_answers(study.id).unwrap().len(),
        study.sheets.len()
    );
}

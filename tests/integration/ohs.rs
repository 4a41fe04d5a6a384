//! Studies end to end: `vitrine ohs create|sheets|score|report|merge` on a small demo library
//! with two systems, and the kill test (a scorer process killed mid-sheet loses no answer).

use crate::common::{json, stderr, stdout, vitrine};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use vitrine::library::Library;
use vitrine::ohs;
use vitrine::study::{self, Answer, Domain, NewQuery, NewSheet, NewStudy, SheetItem};

/// A second system for the demo library: Lite0 with a fresh (untrained) head, so two
/// systems with different embeddings exist without training.
pub fn add_fresh_head_system(root: &Path, name: &str) {
    add_system_with_metrics(root, name, &serde_json::json!({}));
}

/// [`add_fresh_head_system`] with `metrics` as its training run's (e.g. a test IoU).
pub fn add_system_with_metrics(root: &Path, name: &str, metrics: &serde_json::Value) {
    use vitrine::device::device;
    use vitrine::model::network::{NetworkConfig, ParallelNetwork};
    use vitrine::model::system::{LITE0_WEIGHTS_FILE, System, find_weights};
    let mut lib = Library::open(root).unwrap();
    let config = NetworkConfig {
        embedding_dim: 32,
        ..NetworkConfig::lite0(3)
    };
    let weights = find_weights(LITE0_WEIGHTS_FILE).unwrap();
    let dev = device("cpu").unwrap();
    let net = ParallelNetwork::fresh(&candle_nn::VarMap::new(), &config, &weights, &dev).unwrap();
    let labels: Vec<String> = ["category:top", "category:dress", "colour:red"]
        .map(String::from)
        .to_vec();
    let input = vitrine::vision::preprocess::Preprocess::LITE0;
    System::save_trained(&mut lib, name, &net, &input, &labels, metrics).unwrap();
}

#[test]
fn create_sheets_score_report_and_merge_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let out = vitrine(
        &lib,
        &["demo", "--items", "24", "--users", "2", "--street", "6"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    add_fresh_head_system(&lib, "fresh-head");

    // A bad request is refused before any model loads.
    let out = vitrine(
        &lib,
        &[
            "ohs",
            "create",
            "x",
            "--systems",
            "imagenet-lite0",
            "--street",
            "2",
        ],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("two or more systems"),
        "{}",
        stderr(&out)
    );

    let created = json(&vitrine(
        &lib,
        &[
            "ohs",
            "create",
            "street study",
            "--systems",
            "imagenet-lite0,fresh-head",
            "--street",
            "4",
            "--items",
            "2",
            "-k",
            "5",
            "--seed",
            "3",
            "--json",
        ],
    ));
    assert_eq!(created["study"], "street study");
    assert_eq!(
        (created["shop"].as_u64(), created["street"].as_u64()),
        (Some(2), Some(4))
    );
    assert_eq!(created["sheets"], 12);
    assert_eq!(created["criteria"].as_array().unwrap().len(), 7);
    assert_eq!(created["show_explanations"], false, "off unless asked for");

    let sheets = json(&vitrine(&lib, &["ohs", "sheets", "street study", "--json"]));
    let sheets = sheets.as_array().unwrap();
    assert_eq!(sheets.len(), 12);
    for s in sheets {
        assert_eq!(s["items"].as_array().unwrap().len(), 5);
        assert!(Path::new(s["query"].as_str().unwrap()).is_file(), "{s}");
        assert!(["shop", "street"].contains(&s["domain"].as_str().unwrap()));
        assert!(["imagenet-lite0", "fresh-head"].contains(&s["system"].as_str().unwrap()));
    }
    // A shop query is never its own result.
    let lib_handle = Library::open(&lib).unwrap();
    let study = ohs::open_study(&lib_handle.store, "street study").unwrap();
    for sheet in &study.sheets {
        let q = &study.queries[sheet.query];
        if q.domain == Domain::Shop {
            assert!(sheet.items.iter().all(|i| Some(i.item_id) != q.item_id));
        }
    }
    drop(lib_handle);

    // Two scorers, every sheet and criterion, entered in bulk; hits chosen so the expected
    // table can be recomputed here.
    let criteria = [
        "category",
        "subtype",
        "fabric/texture",
        "colour",
        "variety",
        "details",
        "shape difference",
    ];
    let hits_of = |scorer: usize, sheet: i64, c: usize| -> u32 {
        ((sheet as usize * 3 + c * 2 + scorer) % 6) as u32
    };
    let mut expected: HashMap<(String, usize), (u32, u32)> = HashMap::new();
    for (si, scorer) in ["ann", "bob"].iter().enumerate() {
        let mut csv = String::from("sheet_id,criterion,hits\n");
        for s in sheets {
            let id = s["sheet_id"].as_i64().unwrap();
            for (c, name) in criteria.iter().enumerate() {
                let h = hits_of(si, id, c);
                csv += &format!("{id},{name},{h}\n");
                let e = expected
                    .entry((s["system"].as_str().unwrap().to_owned(), c))
                    .or_default();
                e.0 += h;
                e.1 += 1;
            }
        }
        let path = dir.path().join(format!("{scorer}.csv"));
        std::fs::write(&path, csv).unwrap();
        let saved = json(&vitrine(
            &lib,
            &[
                "ohs",
                "score",
                "street study",
                "--scorer",
                scorer,
                "--csv",
                path.to_str().unwrap(),
                "--json",
            ],
        ));
        assert_eq!(saved["saved"], 12 * 7);
    }
    let bad = dir.path().join("bad.csv");
    let id = sheets[0]["sheet_id"].as_i64().unwrap();
    std::fs::write(&bad, format!("sheet_id,criterion,hits\n{id},colour,6\n")).unwrap();
    let out = vitrine(
        &lib,
        &[
            "ohs",
            "score",
            "street study",
            "--scorer",
            "cy",
            "--csv",
            bad.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("bad.csv:2:"), "{}", stderr(&out));

    let summary = dir.path().join("table.csv");
    let report = json(&vitrine(
        &lib,
        &[
            "ohs",
            "report",
            "street study",
            "--json",
            "--csv",
            summary.to_str().unwrap(),
        ],
    ));
    assert_eq!(
        report["systems"],
        serde_json::json!(["imagenet-lite0", "fresh-head"])
    );
    assert_eq!(
        (report["scorers"].as_u64(), report["sheets"].as_u64()),
        (Some(2), Some(12))
    );
    let rows = report["criteria"].as_array().unwrap();
    assert_eq!(rows.len(), 7);
    let mut ohs_expected: HashMap<&str, f64> = HashMap::new();
    for (c, row) in rows.iter().enumerate() {
        assert_eq!(row["name"], criteria[c]);
        assert_eq!(row["weight"], 1.0);
        assert_eq!(row["direction"], "more");
        assert!(row.get("alpha").is_some());
        for system in ["imagenet-lite0", "fresh-head"] {
            let (sum, n) = expected[&(system.to_owned(), c)];
            let want = 100.0 * f64::from(sum) / (f64::from(n) * 5.0);
            let got = row["percent"][system].as_f64().unwrap();
            assert!((got - want).abs() < 1e-9, "{system} {c}: {got} vs {want}");
            *ohs_expected.entry(system).or_default() += want / 7.0;
        }
    }
    for (system, want) in ohs_expected {
        let got = report["ohs"][system].as_f64().unwrap();
        assert!((got - want).abs() < 1e-9, "{system}: {got} vs {want}");
    }
    let table = std::fs::read_to_string(&summary).unwrap();
    assert!(table.starts_with("criterion,weight,direction,imagenet-lite0,fresh-head,"));
    assert!(
        table.lines().last().unwrap().starts_with("OHS,,,"),
        "{table}"
    );
    let text = stdout(&vitrine(&lib, &["ohs", "report", "street study"]));
    assert!(
        text.contains("OHS") && text.contains("ann: 12/12 sheets done"),
        "{text}"
    );
    assert!(
        text.starts_with("Study \"street study\": 12 sheets: ")
            && text
                .lines()
                .next()
                .unwrap()
                .ends_with("(2 shop, 4 street) × 2 systems, hit@5"),
        "{text}"
    );

    // A scorer on another machine: a copy of the library where cy scored two answers, one
    // of ann's answers given again there (a duplicate).
    let other = dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::copy(lib.join("vitrine.sqlite"), other.join("vitrine.sqlite")).unwrap();
    let cy = dir.path().join("cy.csv");
    std::fs::write(
        &cy,
        format!("sheet_id,criterion,hits\n{id},colour,2\n{id},variety,4\n"),
    )
    .unwrap();
    assert!(
        vitrine(
            &other,
            &[
                "ohs",
                "score",
                "street study",
                "--scorer",
                "cy",
                "--csv",
                cy.to_str().unwrap()
            ]
        )
        .status
        .success()
    );
    let merged = json(&vitrine(
        &lib,
        &[
            "ohs",
            "merge",
            "street study",
            other.join("vitrine.sqlite").to_str().unwrap(),
            "--json",
        ],
    ));
    assert_eq!(merged["added"], 2);
    assert_eq!(merged["duplicates"], 2 * 12 * 7);
    assert_eq!(merged["scorers"], serde_json::json!(["ann", "bob", "cy"]));
    let report = json(&vitrine(&lib, &["ohs", "report", "street study", "--json"]));
    assert_eq!(report["scorers"], 3);
}

const KILL_LIB_ENV: &str = "VITRINE_OHS_KILL_TEST_LIBRARY";

/// A small study with fake sheets (no model needed): 4 queries × 2 systems, K = 10.
fn kill_study() -> NewStudy {
    NewStudy {
        name: "kill".into(),
        goal: String::new(),
        k: 10,
        seed: 1,
        criteria: study::paper_criteria(),
        systems: vec!["a".into(), "b".into()],
        queries: (0..4)
            .map(|q| NewQuery {
                image: format!("q{q}.png"),
                domain: Domain::Street,
                item_id: None,
            })
            .collect(),
        sheets: (0..8)
            .map(|i| NewSheet {
                query: i / 2,
                system: i % 2,
                items: (0..10)
                    .map(|r| SheetItem {
                        item_id: (i * 10 + r) as i64,
                        image: format!("i{i}-{r}.png"),
                    })
                    .collect(),
            })
            .collect(),
        show_explanations: false,
    }
}

/// The child half of the kill test: a scorer working through their sheets in their own
/// order, one answer per line read from stdin, printing `saved SHEET CRITERION HITS` after
/// each commit. The kill test runs it in a copy of itself (see there).
fn child_scorer(root: &Path) {
    let mut lib = Library::open(root).unwrap();
    let study = ohs::open_study(&lib.store, "kill").unwrap();
    let order = study.sheet_order("kim");
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let mut stdout = std::io::stdout();
    for (pos, &sheet) in order.iter().enumerate() {
        for (c, criterion) in study.criteria.iter().enumerate() {
            if lines.next().is_none() {
                return;
            }
            let hits = ((pos + c) % 11) as u32;
            let answer = Answer {
                sheet_id: study.sheets[sheet].id,
                scorer: "kim".into(),
                criterion: criterion.name.clone(),
                hits,
                marks: None,
                given_at: String::new(),
                prefill: Default::default(),
            };
            ohs::record_answer(&mut lib.store, &study, &answer).unwrap();
            ohs::save_position(&mut lib.store, &study, "kim", pos, c).unwrap();
            writeln!(
                stdout,
                "saved {} {} {hits}",
                answer.sheet_id, criterion.name
            )
            .unwrap();
        }
    }
}

#[test]
fn killing_a_scorer_mid_sheet_loses_no_answer_already_given() {
    // The test binary re-runs this very test as the child process, with the library named
    // in the environment: the child scores, the parent kills it.
    if let Ok(root) = std::env::var(KILL_LIB_ENV) {
        return child_scorer(Path::new(&root));
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("lib");
    {
        let mut lib = Library::open(&root).unwrap();
        ohs::store_study(&mut lib.store, &kill_study()).unwrap();
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "ohs::killing_a_scorer_mid_sheet_loses_no_answer_already_given",
            "--exact",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(KILL_LIB_ENV, &root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let mut output = BufReader::new(child.stdout.take().unwrap());
    // Ten answers: the whole first sheet (7 criteria) and 3 of the second.
    let mut acknowledged: Vec<(i64, String, u32)> = Vec::new();
    let mut line = String::new();
    while acknowledged.len() < 10 {
        writeln!(input, "go").unwrap();
        input.flush().unwrap();
        loop {
            line.clear();
            assert!(
                output.read_line(&mut line).unwrap() > 0,
                "the child ended early"
            );
            // libtest may print "test NAME ... " on the same line first.
            if let Some(at) = line.find("saved ") {
                let rest = line[at + "saved ".len()..].trim();
                let parts: Vec<&str> = rest.split(' ').collect();
                let hits = parts[parts.len() - 1].parse().unwrap();
                let criterion = parts[1..parts.len() - 1].join(" ");
                acknowledged.push((parts[0].parse().unwrap(), criterion, hits));
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL on Unix: no destructor, no clean close of SQLite.
    child.wait().unwrap();

    let lib = Library::open(&root).unwrap();
    let study = ohs::open_study(&lib.store, "kill").unwrap();
    let answers = lib.store.study_answers(study.id).unwrap();
    assert_eq!(answers.len(), 10);
    for (sheet, criterion, hits) in &acknowledged {
        assert!(
            answers
                .iter()
                .any(|a| a.sheet_id == *sheet && a.criterion == *criterion && a.hits == *hits),
            "answer ({sheet}, {criterion}, {hits}) was lost"
        );
    }
    // Where the scorer stopped: the second sheet of their order, its third criterion.
    assert_eq!(
        lib.store.scorer_position(study.id, "kim").unwrap(),
        Some((1, 2))
    );
    let coverage = ohs::coverage(&study, &answers);
    assert_eq!((coverage[0].sheets_done, coverage[0].answers), (1, 10));
}

/// The "done when", end to end: a study over demo street (and shop) photos with two
/// systems (`imagenet-lite0` and a fresh-head Lite0), scored by two scorers, reported as the
/// Table I shape with α per criterion. The answers are made up around a level per system
/// (one system better on most criteria, not all), which each scorer sees give or take one.
/// It also builds the README's screenshot library: `VITRINE_SCREENSHOT_LIBRARY=DIR cargo
/// test --test integration two_scorers`, then open DIR in the app.
#[test]
fn a_study_scored_by_two_scorers_reports_table_one_with_alpha() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::env::var("VITRINE_SCREENSHOT_LIBRARY")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("lib"));
    let root = Path::new(&root);
    let out = vitrine(
        root,
        &["demo", "--items", "300", "--users", "10", "--street", "20"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    add_fresh_head_system(root, "fresh-head");
    // Weights for an image search engine: category and colour matter most, variety little,
    // and fewer results of another outline are better.
    let criteria = root.join("criteria.csv");
    std::fs::write(
        &criteria,
        "name,weight,direction,description\n\
         category,2,more,Same main category\n\
         subtype,1.5,more,Same subtype\n\
         fabric/texture,1,more,Same fabric or texture\n\
         colour,1.5,more,Same dominant colour\n\
         variety,0.5,more,Novel results\n\
         details,1,more,Same fine details\n\
         shape difference,1,fewer,Results that do not follow the outline\n",
    )
    .unwrap();
    let out = vitrine(
        root,
        &[
            "ohs",
            "create",
            "street-vs-shop",
            "--systems",
            "imagenet-lite0,fresh-head",
            "--street",
            "12",
            "--items",
            "8",
            "--goal",
            "an image search engine for street photos",
            "--criteria",
            criteria.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let mut lib = Library::open(root).unwrap();
    let study = ohs::open_study(&lib.store, "street-vs-shop").unwrap();
    // Made-up answers: per sheet and criterion a "true" count around a level per system
    // (Table I's shape: one system better on most criteria, not all), which each scorer
    // sees give or take one.
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let mut truth = HashMap::new();
    for sheet in &study.sheets {
        let levels: [i32; 7] = if sheet.system == "imagenet-lite0" {
            [9, 7, 6, 6, 3, 5, 2]
        } else {
            [8, 5, 6, 7, 4, 3, 4]
        };
        for (c, level) in levels.iter().enumerate() {
            truth.insert((sheet.id, c), level + rng.random_range(-2..=2));
        }
    }
    for scorer in ["ann", "bob"] {
        for sheet in &study.sheets {
            for (c, criterion) in study.criteria.iter().enumerate() {
                let seen = truth[&(sheet.id, c)] + rng.random_range(-1..=1);
                let answer = Answer {
                    sheet_id: sheet.id,
                    scorer: scorer.to_string(),
                    criterion: criterion.name.clone(),
                    hits: seen.clamp(0, study.k as i32) as u32,
                    marks: None,
                    given_at: String::new(),
                    prefill: Default::default(),
                };
                ohs::record_answer(&mut lib.store, &study, &answer).unwrap();
            }
        }
    }
    drop(lib);

    let report = json(&vitrine(
        root,
        &["ohs", "report", "street-vs-shop", "--json"],
    ));
    assert_eq!(report["scorers"].as_u64(), Some(2), "{report}");
    assert_eq!(report["sheets"].as_u64(), Some(40), "{report}");
    let criteria = report["criteria"].as_array().unwrap();
    assert_eq!(criteria.len(), 7);
    for c in criteria {
        // Two scorers who see the same truth give or take one agree well.
        let alpha = c["alpha"].as_f64().unwrap();
        assert!(alpha > 0.6, "{c}");
        for system in ["imagenet-lite0", "fresh-head"] {
            assert!(
                (0.0..=100.0).contains(&c["percent"][system].as_f64().unwrap()),
                "{c}"
            );
        }
    }
    // The made-up levels favour imagenet-lite0 on the heavy criteria and on shape.
    let ohs = &report["ohs"];
    assert!(
        ohs["imagenet-lite0"].as_f64().unwrap() > ohs["fresh-head"].as_f64().unwrap(),
        "{report}"
    );
}

#[test]
fn objective_criteria_are_prefilled_and_the_report_sets_the_machine_against_scorers() {
    use vitrine::ohs::report::krippendorff_alpha_interval;
    use vitrine::ohs::session::ScorerSession;
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let out = vitrine(
        &lib,
        &["demo", "--items", "24", "--users", "2", "--street", "2"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let test = serde_json::json!({"iou": 0.444, "precision": 0.731, "recall": 0.484, "samples": 3});
    let metrics =
        serde_json::json!({"mode": "head", "epochs": 1, "validation": test, "test": test});
    add_system_with_metrics(&lib, "trained-head", &metrics);
    let create = |extra: &[&str]| {
        let mut args = vec![
            "ohs",
            "create",
            "objective study",
            "--systems",
            "imagenet-lite0,trained-head",
            "--items",
            "4",
            "-k",
            "5",
        ];
        args.extend(extra);
        vitrine(&lib, &args)
    };
    // Bad input is refused, naming what was wrong.
    for (arg, wanted) in [
        ("size=category", "no criterion \"size\""),
        ("colour=shape", "unknown objective rule \"shape\""),
        ("colour", "NAME=RULE"),
    ] {
        let out = create(&["--objective", arg]);
        assert!(!out.status.success(), "{arg}");
        assert!(stderr(&out).contains(wanted), "{arg}: {}", stderr(&out));
    }
    let created = json(&create(&[
        "--objective",
        "category=category",
        "--objective",
        "colour=colour",
        "--show-explanations",
        "--json",
    ]));
    assert_eq!(created["show_explanations"], true);
    assert_eq!(
        created["objective"],
        serde_json::json!({"category": "category", "colour": "colour"})
    );
    assert_eq!(created["prefilled_sheets"], 8, "every shop sheet");

    // ann scores in the app's way: category confirmed everywhere, colour confirmed on
    // every other sheet and corrected by one on the rest. bob enters category in bulk.
    let mut handle = Library::open(&lib).unwrap();
    let study = ohs::open_study(&handle.store, "objective study").unwrap();
    let category = study.criterion_index("category").unwrap();
    let colour = study.criterion_index("colour").unwrap();
    let mut ann = ScorerSession::start(&handle.store, &study, "ann").unwrap();
    let (mut units, mut colour_diff, mut corrected) = (Vec::new(), 0.0, 0);
    let mut bob_csv = String::from("sheet_id,criterion,hits\n");
    for pos in 0..ann.order.len() {
        ann.pos = pos;
        let sheet = ann.sheet(&study).unwrap().clone();
        let machine = |c: &str| sheet.machine_count(c).unwrap().hits();
        ann.criterion = category;
        assert!(ann.confirm_prefill(&mut handle.store, &study).unwrap());
        ann.criterion = colour;
        if pos % 2 == 0 {
            assert!(ann.confirm_prefill(&mut handle.store, &study).unwrap());
        } else {
            let m = machine("colour");
            let hits = if m < study.k { m + 1 } else { m - 1 };
            ann.answer(&mut handle.store, &study, hits, None).unwrap();
            colour_diff += 1.0;
            corrected += 1;
        }
        let m = f64::from(machine("category"));
        units.push(vec![m, m]);
        units.push(vec![m, m]);
        bob_csv += &format!("{},category,{}\n", sheet.id, machine("category"));
    }
    drop(handle);
    let bob = dir.path().join("bob.csv");
    std::fs::write(&bob, bob_csv).unwrap();
    let out = vitrine(
        &lib,
        &[
            "ohs",
            "score",
            "objective study",
            "--scorer",
            "bob",
            "--csv",
            bob.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let raw = dir.path().join("raw.csv");
    let md = dir.path().join("report.md");
    let report = json(&vitrine(
        &lib,
        &[
            "ohs",
            "report",
            "objective study",
            "--json",
            "--raw-csv",
            raw.to_str().unwrap(),
            "--markdown",
            md.to_str().unwrap(),
        ],
    ));
    assert_eq!(report["show_explanations"], true);
    let machine = report["machine"].as_array().unwrap();
    assert_eq!(machine.len(), 2);
    let (cat, col) = (&machine[0], &machine[1]);
    assert_eq!(
        (cat["criterion"].as_str(), cat["rule"].as_str()),
        (Some("category"), Some("category"))
    );
    assert_eq!(
        (
            cat["pairs"].as_u64(),
            cat["confirmed"].as_u64(),
            cat["corrected"].as_u64(),
            cat["unassisted"].as_u64()
        ),
        (Some(16), Some(8), Some(0), Some(8))
    );
    assert_eq!(cat["mean_abs_diff"].as_f64(), Some(0.0));
    assert_eq!(cat["alpha"].as_f64(), krippendorff_alpha_interval(&units));
    assert_eq!(
        (
            col["pairs"].as_u64(),
            col["confirmed"].as_u64(),
            col["corrected"].as_u64()
        ),
        (Some(8), Some(8 - corrected), Some(corrected))
    );
    assert_eq!(col["mean_abs_diff"].as_f64(), Some(colour_diff / 8.0));
    // Table I's Test IoU row: the trained system's, none for the ImageNet one.
    let iou = report["test_iou"]["trained-head"].as_f64().unwrap();
    assert!((iou - 44.4).abs() < 1e-9, "{iou}");
    assert!(report["test_iou"]["imagenet-lite0"].is_null());
    assert!(report["weights_note"].as_str().unwrap().contains("55-61 %"));

    let text = stdout(&vitrine(&lib, &["ohs", "report", "objective study"]));
    assert!(
        text.contains(
            "Machine pre-fill, category (same category label as the query item): 16 answers"
        ),
        "{text}"
    );
    assert!(
        text.contains("Test IoU") && text.contains("44.4%") && text.contains("—"),
        "{text}"
    );
    assert!(
        text.contains("Note: The paper does not publish its criterion weights"),
        "{text}"
    );
    let raw = std::fs::read_to_string(&raw).unwrap();
    assert!(
        raw.starts_with("study,scorer,query,system,criterion,hits,prefill\n"),
        "{raw}"
    );
    for outcome in [",confirmed\n", ",corrected\n", ",none\n"] {
        assert!(raw.contains(outcome), "{outcome}: {raw}");
    }
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(md.contains("| Test IoU | | — | 44.4 % | |"), "{md}");
    assert!(md.contains("## Machine pre-fill against scorers"), "{md}");
}

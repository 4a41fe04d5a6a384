//! Hostile and careless use of the real CLI (issue 15): path tricks, several processes on one
//! library, damaged and read-only libraries. Every file is made by the test itself.

use crate::common::{json, stderr, vitrine};
use std::path::Path;
use std::process::{Command, Stdio};
use vitrine::library::Library;
use vitrine::ohs;
use vitrine::study::{self, Domain, NewQuery, NewSheet, NewStudy, SheetItem};

/// `train --resume --name ../../x`: refused by name before the library or anything under it
/// is touched, and nothing is registered.
#[test]
fn train_resume_with_a_path_for_a_name_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("a/b/lib");
    for args in [
        &["train", "--resume", "--name", "../../x", "--epochs", "1"][..],
        &["train", "--name", "../../x", "--epochs", "1"][..],
        &["train", "--resume", "--name", "/tmp/x"][..],
    ] {
        let out = vitrine(&lib, args);
        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains("cannot name a trained system"), "{err}");
    }
    // Not even the library folder was made, let alone ../../x or a run folder.
    assert!(!lib.exists());
    assert!(!dir.path().join("a/x").exists() && !dir.path().join("x").exists());

    // On an existing library too: no run folder, no system.
    let out = vitrine(&lib, &["catalog", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = vitrine(&lib, &["train", "--resume", "--name", "../../x"]);
    assert!(!out.status.success());
    assert!(!lib.join("train").exists());
    let systems = json(&vitrine(&lib, &["systems", "--json"]));
    assert_eq!(systems.as_array().unwrap().len(), 1, "{systems}");
}

/// Twenty processes open one new library at the same moment: all succeed.
#[test]
fn twenty_processes_opening_a_new_library_at_once_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let children: Vec<_> = (0..20)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_vitrine"))
                .arg("--library")
                .arg(&lib)
                .args(["catalog", "--json"])
                .env_remove("DISPLAY")
                .env_remove("WAYLAND_DISPLAY")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let failures: Vec<String> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .filter(|o| !o.status.success())
        .map(|o| stderr(&o))
        .collect();
    assert!(
        failures.is_empty(),
        "{} failed: {failures:?}",
        failures.len()
    );
}

/// `ohs report NAME --csv DIR/vitrine.sqlite`: refused, and the database is intact.
#[test]
fn a_report_is_never_written_over_the_library_database() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let out = vitrine(
        &lib,
        &["demo", "--items", "12", "--users", "2", "--street", "0"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let db = lib.join("vitrine.sqlite");
    let before = json(&vitrine(&lib, &["catalog", "--json"]));
    for flag in ["--csv", "--raw-csv"] {
        let out = vitrine(&lib, &["ohs", "report", "any", flag, db.to_str().unwrap()]);
        assert!(!out.status.success(), "{flag}");
        let err = stderr(&out);
        assert!(err.contains("is the library's database"), "{err}");
    }
    assert_eq!(json(&vitrine(&lib, &["catalog", "--json"])), before);
}

/// A database truncated to 0 bytes: every command says so and fails; it is not taken for a
/// new, empty library.
#[test]
fn a_database_truncated_to_zero_bytes_fails_loudly() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let out = vitrine(
        &lib,
        &["demo", "--items", "12", "--users", "2", "--street", "0"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::File::create(lib.join("vitrine.sqlite")).unwrap();
    for args in [&["catalog", "--json"][..], &["systems"][..]] {
        let out = vitrine(&lib, args);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            stderr(&out).contains("is empty (0 bytes)"),
            "{}",
            stderr(&out)
        );
    }
}

/// The names of the files in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `catalog`, `systems`, `query` and `ohs report` on a library whose folder and database
/// have no write permission: all work, and nothing in the folder changes.
#[cfg(unix)]
#[test]
fn a_read_only_library_serves_the_commands_that_only_read() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let out = vitrine(
        &lib,
        &["demo", "--items", "16", "--users", "2", "--street", "0"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = vitrine(&lib, &["index"]);
    assert!(out.status.success(), "{}", stderr(&out));
    {
        let mut handle = Library::open(&lib).unwrap();
        let study = NewStudy {
            name: "ro".into(),
            goal: String::new(),
            k: 3,
            seed: 1,
            criteria: study::paper_criteria(),
            systems: vec!["a".into(), "b".into()],
            queries: vec![NewQuery {
                image: "q.png".into(),
                domain: Domain::Street,
                item_id: None,
            }],
            sheets: (0..2)
                .map(|system| NewSheet {
                    query: 0,
                    system,
                    items: (1..=3)
                        .map(|r| SheetItem {
                            item_id: r,
                            image: format!("i{r}.png"),
                        })
                        .collect(),
                })
                .collect(),
            show_explanations: false,
        };
        ohs::store_study(&mut handle.store, &study).unwrap();
    }
    let query = lib.join("images/catalog/demo-000003.png");
    let before = names(&lib);
    let db = lib.join("vitrine.sqlite");
    let modified = std::fs::metadata(&db).unwrap().modified().unwrap();
    let set = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    set(&db, 0o444);
    set(&lib, 0o555);
    let runs: Vec<(&str, std::process::Output)> = vec![
        ("catalog", vitrine(&lib, &["catalog", "--json"])),
        ("systems", vitrine(&lib, &["systems", "--json"])),
        (
            "query",
            vitrine(
                &lib,
                &["query", query.to_str().unwrap(), "-k", "3", "--json"],
            ),
        ),
        ("report", vitrine(&lib, &["ohs", "report", "ro", "--json"])),
    ];
    let after = names(&lib);
    let modified_after = std::fs::metadata(&db).unwrap().modified().unwrap();
    set(&lib, 0o755);
    set(&db, 0o644);
    for (what, out) in &runs {
        assert!(out.status.success(), "{what}: {}", stderr(out));
    }
    assert_eq!(json(&runs[0].1)["items"], 16);
    let results = json(&runs[2].1);
    assert_eq!(
        results["queries"][0]["results"].as_array().unwrap().len(),
        3
    );
    assert_eq!(json(&runs[3].1)["sheets"], 2);
    assert_eq!(after, before, "no file appeared or went");
    assert_eq!(modified_after, modified);
}

//! The fuzz targets' seed corpus on the stable toolchain: every committed seed
//! (`fuzz/corpus/<target>/seed-*`) goes once through the same entry point its cargo-fuzz
//! target calls (`vitrine::fuzzing`), so the targets' code is built and run by `cargo test`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

#[test]
fn every_fuzz_seed_runs_through_its_target() {
    for target in vitrine::fuzzing::TARGETS {
        let dir = fuzz_dir().join("corpus").join(target);
        let mut seeds: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("seed-"))
            })
            .collect();
        seeds.sort();
        assert!(!seeds.is_empty(), "{target} has no seeds");
        for seed in seeds {
            let data = std::fs::read(&seed).unwrap();
            assert!(vitrine::fuzzing::run(target, &data), "{target}");
        }
    }
}

#[test]
fn each_fuzz_target_has_an_entry_point_and_a_corpus() {
    let files: BTreeSet<String> = std::fs::read_dir(fuzz_dir().join("fuzz_targets"))
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            path.file_stem().unwrap().to_string_lossy().into_owned()
        })
        .collect();
    let targets: BTreeSet<String> = vitrine::fuzzing::TARGETS
        .iter()
        .map(|t| t.to_string())
        .collect();
    assert_eq!(files, targets);
    assert!(!vitrine::fuzzing::run("no such target", b""));
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    for target in &targets {
        assert!(
            manifest.contains(&format!("path = \"fuzz_targets/{target}.rs\"")),
            "{target}"
        );
    }
}

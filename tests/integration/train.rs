//! Training end to end through the CLI: a tiny demo library, a head-mode run, the new system
//! listed and evaluated against an untrained head, and the errors a person meets.

use crate::common::{json, stderr, stdout, vitrine};

#[test]
fn train_head_makes_a_listed_system_that_beats_an_untrained_head() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let out = vitrine(
        &lib,
        &["demo", "--items", "120", "--users", "10", "--street", "10"],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let out = vitrine(
        &lib,
        &[
            "train",
            "--mode",
            "head",
            "--epochs",
            "3",
            "--batch",
            "8",
            "--augment",
            "off",
            "--name",
            "tiny",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["system"], "tiny");
    assert_eq!(report["epochs_run"], 3);
    assert_eq!(report["train_items"], 96);
    // One line per epoch on stderr (no terminal: plain lines).
    assert_eq!(
        stderr(&out).matches("validation IoU").count(),
        3,
        "{}",
        stderr(&out)
    );

    // The untrained baseline: the same run with no epoch, i.e. the freshly initialised head.
    let out = vitrine(
        &lib,
        &[
            "train",
            "--epochs",
            "0",
            "--augment",
            "off",
            "--name",
            "untrained",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let out = vitrine(&lib, &["systems", "--json"]);
    let systems = json(&out);
    let names: Vec<&str> = systems
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["imagenet-lite0", "tiny", "untrained"]);

    let iou = |system: &str| {
        let out = vitrine(&lib, &["eval", "classify", "--system", system, "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let m = json(&out);
        assert_eq!(m["samples"], 12, "{m}");
        m["iou"].as_f64().unwrap()
    };
    let (trained, untrained) = (iou("tiny"), iou("untrained"));
    assert!(
        trained > untrained + 0.1,
        "trained {trained} vs untrained {untrained}"
    );

    // The new system searches at once.
    let out = vitrine(&lib, &["index", "--system", "tiny"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("embedded 120 new"),
        "{}",
        stdout(&out)
    );

    // imagenet-lite0 has no classifier for the library's labels: said so, exit non-zero.
    let out = vitrine(&lib, &["eval", "classify"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no classifier"), "{}", stderr(&out));
    // Resuming a run that never started names the missing state file.
    let out = vitrine(&lib, &["train", "--resume", "--name", "nope"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("state.json"), "{}", stderr(&out));
}

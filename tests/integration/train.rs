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

/// A run killed (SIGKILL: no destructor runs) while it caches backbone features resumes:
/// `--resume` continues the cache from the rows already written and trains to the end.
#[cfg(unix)]
#[test]
fn a_run_killed_while_caching_resumes_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let out = vitrine(
        &lib,
        &["demo", "--items", "200", "--users", "4", "--street", "4"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let args = [
        "train",
        "--mode",
        "head",
        "--epochs",
        "2",
        "--variants",
        "2",
        "--background-aug",
        "procedural",
        "--name",
        "killed",
    ];
    /// The child process, killed and reaped however the test ends.
    struct Reaped(std::process::Child);
    impl Drop for Reaped {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Reaped(
        std::process::Command::new(env!("CARGO_BIN_EXE_vitrine"))
            .arg("--library")
            .arg(&lib)
            .args(args)
            .env_remove("DISPLAY")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Wait until some rows of the cache are written, but not all, then kill.
    let meta = lib.join("train/killed/cache.json");
    let started = std::time::Instant::now();
    let done_at_kill = loop {
        let rows = std::fs::read(&meta)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .map(|m| {
                (
                    m["rows_done"].as_u64().unwrap_or(0),
                    m["rows"].as_u64().unwrap_or(0),
                )
            });
        if let Some((done, total)) = rows
            && done > 0
        {
            assert!(
                done < total,
                "caching finished before the kill: make it bigger"
            );
            child.0.kill().unwrap(); // SIGKILL: no destructor, nothing flushed.
            child.0.wait().unwrap();
            break done;
        }
        assert!(
            started.elapsed().as_secs() < 300,
            "the cache never started: {:?}",
            child.0.try_wait()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let out = vitrine(&lib, &[&args[..], &["--resume", "--json"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["epochs_run"], 2, "{report}");
    assert_eq!(report["resumed_from"], 0, "{report}");
    // The resumed run kept what was cached before the kill.
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
    assert_eq!(m["rows_done"], m["rows"]);
    let reused = report["cache"]["reused"].as_u64().unwrap();
    assert!(reused >= done_at_kill && reused < report["cache"]["views"].as_u64().unwrap());
    let out = vitrine(&lib, &["systems", "--json"]);
    assert!(stdout(&out).contains("\"killed\""), "{}", stdout(&out));
}

#[test]
fn bench_train_times_the_backbone_asked_for_and_refuses_one_without_weights() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let args = [
        "bench",
        "train",
        "--backbone",
        "lite1",
        "--modes",
        "head,partial-cached",
        "--batch",
        "2",
        "--steps",
        "1",
    ];
    let out = vitrine(&lib, &[&args[..], &["--json"]].concat());
    let bench = json(&out);
    assert_eq!(bench["backbone"], "efficientnet-lite1");
    let results = bench["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[1]["mode"], "partial-cached");
    for r in results {
        assert!(r["images_per_s"].as_f64().unwrap() > 0.0, "{r}");
    }
    // Partial mode trains Lite1's last blocks: more weights than the head alone.
    assert!(
        results[1]["trainable_parameters"].as_u64() > results[0]["trainable_parameters"].as_u64()
    );
    let out = vitrine(
        &lib,
        &[
            "bench",
            "train",
            "--backbone",
            "resnet50",
            "--modes",
            "head",
        ],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("resnet50 has no shipped ImageNet weights"),
        "{}",
        stderr(&out)
    );
}

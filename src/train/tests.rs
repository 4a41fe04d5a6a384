//! The trainer end to end on a tiny demo library.

use super::metrics::SystemMetrics;
use super::optim::AdamW;
use super::run::check_finite;
use super::trainable::{block_of, frozen_except, last_blocks, trainable_vars};
use super::*;
use crate::model::network::{NetworkConfig, ParallelNetwork};
use crate::model::system::LITE0_WEIGHTS_FILE;
use crate::sources::demo::{DemoOptions, generate};
use candle_core::{Tensor, TensorId};
use candle_nn::{Optimizer, ParamsAdamW, VarMap};
use std::collections::HashSet;

fn demo_library(items: usize) -> (tempfile::TempDir, Library) {
    let dir = tempfile::tempdir().unwrap();
    let mut lib = Library::open(&dir.path().join("lib")).unwrap();
    let opts = DemoOptions {
        items,
        users: 2,
        street: 2,
        seed: 3,
        size_px: 96,
    };
    generate(&mut lib, &opts, &JobContext::silent()).unwrap();
    (dir, lib)
}

fn tiny(name: &str) -> TrainConfig {
    TrainConfig {
        name: name.into(),
        epochs: 2,
        batch_size: 8,
        embedding_dim: 32,
        variants: 1,
        background: BackgroundAug::Procedural,
        ..TrainConfig::default()
    }
}

#[test]
fn head_training_makes_a_system_and_resumes() {
    let (_dir, mut lib) = demo_library(30);
    let mut events = Vec::new();
    let report = train(
        &mut lib,
        &tiny("t1"),
        false,
        &Device::Cpu,
        &JobContext::silent(),
        &mut |e| events.push(e.clone()),
    )
    .unwrap();
    assert_eq!(report.epochs_run, 2);
    assert_eq!(report.history.len(), 2);
    assert_eq!(
        (
            report.train_items,
            report.validation_items,
            report.test_items
        ),
        (24, 3, 3)
    );
    assert!(report.history.iter().all(|h| h.train_loss.is_finite()));
    // Caching (24 × 2 + 6 views), then 3 steps per epoch, then two epochs.
    assert!(matches!(events[0], TrainEvent::Caching { .. }));
    let steps = events
        .iter()
        .filter(|e| matches!(e, TrainEvent::Step { .. }))
        .count();
    assert_eq!(steps, 6);
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, TrainEvent::Epoch(_)))
            .count(),
        2
    );
    // The system is listed and classifies its test split.
    let listed = System::list(&lib).unwrap();
    assert!(
        listed
            .iter()
            .any(|s| s.name == "t1" && s.embedding_dim == 32)
    );
    // Its metrics, in its folder and in its row, are the report's (floats to within JSON's
    // round trip).
    let expected = SystemMetrics::of_run(&tiny("t1"), &report);
    let row = lib.store.system("t1").unwrap().unwrap();
    let floats = |m: &SystemMetrics| {
        let (v, t) = (m.validation, m.test);
        [
            m.train_images_per_s,
            v.iou,
            v.precision,
            v.recall,
            t.iou,
            t.precision,
            t.recall,
        ]
    };
    let rest = |m: &SystemMetrics| {
        let (v, t) = (m.validation.samples, m.test.samples);
        (
            m.mode.clone(),
            m.epochs,
            m.best_epoch,
            m.augment,
            m.background_aug.clone(),
            m.seed,
            v,
            t,
        )
    };
    let folder = crate::model::system::system_dir(lib.root(), "t1").join("system.json");
    let file: crate::model::system::SystemFile =
        serde_json::from_slice(&std::fs::read(folder).unwrap()).unwrap();
    for metrics in [
        SystemMetrics::from_value(&file.metrics).unwrap().unwrap(),
        SystemMetrics::from_json(&row.metrics_json)
            .unwrap()
            .unwrap(),
    ] {
        assert_eq!(rest(&metrics), rest(&expected));
        for (a, b) in floats(&metrics).into_iter().zip(floats(&expected)) {
            assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{metrics:?}");
        }
    }
    let system = System::load(&lib, "t1", &Device::Cpu).unwrap();
    let test = evaluate_classification(&lib, &system, &JobContext::silent()).unwrap();
    assert_eq!(test.samples, 3);
    assert!(
        (test.iou - report.test.iou).abs() < 1e-9,
        "{test:?} vs {:?}",
        report.test
    );
    // Resuming with more epochs continues from epoch 2 and reuses the cached features.
    let mut more = tiny("t1");
    more.epochs = 3;
    let mut cached = 0;
    let resumed = train(
        &mut lib,
        &more,
        true,
        &Device::Cpu,
        &JobContext::silent(),
        &mut |e| cached += usize::from(matches!(e, TrainEvent::Caching { .. })),
    )
    .unwrap();
    assert_eq!(resumed.resumed_from, Some(2));
    assert_eq!(resumed.history.len(), 3);
    assert_eq!(cached, 0, "the features came from the cache");
    // imagenet-lite0 has no classifier for the library's labels, and says so.
    let builtin = System::imagenet_lite0(&Device::Cpu).unwrap();
    let err = evaluate_classification(&lib, &builtin, &JobContext::silent())
        .unwrap_err()
        .to_string();
    assert!(err.contains("no classifier"), "{err}");
}

#[test]
fn a_cancelled_run_keeps_its_checkpoint_and_bad_configs_are_refused() {
    let (dir, mut lib) = demo_library(20);
    // Cancel after the second epoch's first step: the first epoch's checkpoint stays, and a
    // resume continues from it.
    let root = lib.root().to_path_buf();
    let (step_tx, step_rx) = std::sync::mpsc::channel::<usize>();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let job = crate::jobs::Job::spawn("train", None, move |ctx| {
        let mut lib = Library::open(&root)?;
        let mut config = tiny("t2");
        config.epochs = 3;
        train(&mut lib, &config, false, &Device::Cpu, ctx, &mut |e| {
            if let TrainEvent::Step { epoch, .. } = e {
                let _ = step_tx.send(*epoch);
                let _ = go_rx.recv();
            }
        })
    });
    loop {
        let epoch = step_rx.recv().unwrap();
        if epoch == 2 {
            job.cancel();
        }
        go_tx.send(()).unwrap();
        if epoch == 2 {
            break;
        }
    }
    drop(go_tx);
    assert!(matches!(job.wait(), Err(Error::Cancelled)));
    let state = RunState::load(&run_dir(lib.root(), "t2")).unwrap();
    assert_eq!(state.epochs_done, 1);
    assert!(System::list(&lib).unwrap().iter().all(|s| s.name != "t2"));
    let resumed = train(
        &mut lib,
        &tiny("t2"),
        true,
        &Device::Cpu,
        &JobContext::silent(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!((resumed.resumed_from, resumed.epochs_run), (Some(1), 3));
    drop(dir);
    let job_ctx = JobContext::silent();
    let mut config = tiny("t2");
    config.name = "Bad Name".into();
    let err = train(
        &mut lib,
        &config,
        false,
        &Device::Cpu,
        &job_ctx,
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("cannot name"), "{err}");
    let err = train(
        &mut lib,
        &tiny("nothing"),
        true,
        &Device::Cpu,
        &job_ctx,
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("state.json"), "{err}");
}

#[test]
fn partial_mode_trains_the_last_blocks_only() {
    let names: Vec<String> = [
        "_conv_stem.weight",
        "_blocks.0._depthwise_conv.weight",
        "_blocks.14._project_conv.weight",
        "_blocks.15._expand_conv.weight",
        "_blocks.15._bn2.weight",
        "_conv_head.weight",
        "_bn1.weight",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(
        last_blocks(&names, 1),
        [
            "_blocks.15._expand_conv.weight",
            "_blocks.15._bn2.weight",
            "_conv_head.weight",
            "_bn1.weight"
        ]
    );
    assert_eq!(last_blocks(&names, 2).len(), 5);
    assert_eq!(
        block_of("blocks.5.2.conv_pw.weight").as_deref(),
        Some("blocks.5.2")
    );
    assert_eq!(
        block_of("layer4.2.conv3.weight").as_deref(),
        Some("layer4.2")
    );
    assert_eq!(block_of("conv_stem.weight"), None);
}

#[test]
fn each_mode_trains_its_own_variables() {
    let config = NetworkConfig {
        embedding_dim: 8,
        ..NetworkConfig::lite0(3)
    };
    let varmap = VarMap::new();
    let weights = system::find_weights(LITE0_WEIGHTS_FILE).unwrap();
    let net = ParallelNetwork::fresh(&varmap, &config, &weights, &Device::Cpu).unwrap();
    let names = |mode| -> Vec<String> {
        let ids: Vec<_> = trainable_vars(&varmap, &net, mode)
            .unwrap()
            .iter()
            .map(|v| v.as_tensor().id())
            .collect();
        let data = varmap.data().lock().unwrap();
        let mut out: Vec<String> = data
            .iter()
            .filter(|(_, v)| ids.contains(&v.as_tensor().id()))
            .map(|(n, _)| n.clone())
            .collect();
        out.sort();
        out
    };
    let head = names(Mode::Head);
    assert_eq!(
        head,
        [
            "classifier.bias",
            "classifier.weight",
            "embedding.bias",
            "embedding.weight",
            "shallow.conv1.bias",
            "shallow.conv1.weight",
            "shallow.conv2.bias",
            "shallow.conv2.weight"
        ]
    );
    let partial = names(Mode::Partial { blocks: 1 });
    assert!(
        partial
            .iter()
            .any(|n| n.starts_with("backbone._blocks.15."))
    );
    assert!(partial.iter().any(|n| n.starts_with("backbone._conv_head")));
    assert!(partial.iter().any(|n| n.starts_with("shallow.")));
    assert!(
        !partial
            .iter()
            .any(|n| n.starts_with("backbone._blocks.14."))
    );
    assert!(!partial.iter().any(|n| n.starts_with("backbone._conv_stem")));
    let full = names(Mode::Full);
    assert!(full.iter().any(|n| n.starts_with("backbone._conv_stem")));
    assert!(full.len() > partial.len());
}

#[test]
fn a_nan_or_infinite_loss_is_reported_with_where_it_happened() {
    assert!(check_finite(0.25, 1, 1).is_ok());
    for bad in [f64::NAN, f64::INFINITY] {
        let err = check_finite(bad, 3, 7).unwrap_err().to_string();
        assert!(
            err.contains("diverged") && err.contains("epoch 3, step 7"),
            "{err}"
        );
    }
}

#[test]
fn partial_mode_computes_gradients_for_its_blocks_only() {
    let config = NetworkConfig {
        embedding_dim: 8,
        ..NetworkConfig::lite0(3)
    };
    let varmap = VarMap::new();
    let weights = system::find_weights(LITE0_WEIGHTS_FILE).unwrap();
    let fresh = ParallelNetwork::fresh(&varmap, &config, &weights, &Device::Cpu).unwrap();
    let trainable = trainable_vars(&varmap, &fresh, Mode::Partial { blocks: 1 }).unwrap();
    let net = frozen_except(&varmap, &trainable, &config, &Device::Cpu).unwrap();
    let x = Tensor::rand(-1f32, 1.0, (2, 3, 64, 64), &Device::Cpu).unwrap();
    // As a run does it: the frozen prefix once, the last block and the head in training.
    let logits = |net: &ParallelNetwork| {
        let h = net.backbone().prefix(&x, 15).unwrap();
        let pooled = net.backbone().suffix_pooled_t(&h, 15, true).unwrap();
        let small = net.shallow_input(&x).unwrap();
        net.outputs_from_parts_t(&pooled, small.as_ref(), true)
            .unwrap()
            .logits
    };
    let grads = logits(&net)
        .sqr()
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let var = |name: &str| varmap.data().lock().unwrap()[name].clone();
    let last = var("backbone._blocks.15._project_conv.weight");
    let first = var("backbone._blocks.0._depthwise_conv.weight");
    assert!(grads.get(last.as_tensor()).is_some());
    assert!(grads.get(first.as_tensor()).is_none());
    // A step moves the trainable weights, and the varmap (checkpoints) sees it.
    let before = last
        .as_tensor()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let mut opt = AdamW::new(trainable, ParamsAdamW::default()).unwrap();
    opt.backward_step(&logits(&net).sqr().unwrap().sum_all().unwrap())
        .unwrap();
    let after = last
        .as_tensor()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_ne!(before, after);
}

#[test]
fn partial_training_moves_every_trainable_variable_and_accumulates() {
    let (_dir, mut lib) = demo_library(24);
    let config = TrainConfig {
        mode: Mode::Partial { blocks: 2 },
        epochs: 1,
        batch_size: 4,
        accumulate: 2,
        // Keep every epoch's weights: early stopping would not save a worse first epoch.
        patience: 10,
        ..tiny("p1")
    };
    // No epoch first: the run saves its initial weights as the best so far; the resumed run
    // starts from exactly them.
    let run = |lib: &mut Library, epochs: usize, resume: bool| {
        let config = TrainConfig {
            epochs,
            ..config.clone()
        };
        train(
            lib,
            &config,
            resume,
            &Device::Cpu,
            &JobContext::silent(),
            &mut |_| {},
        )
        .unwrap()
    };
    run(&mut lib, 0, false);
    let dir = run_dir(lib.root(), "p1");
    let read = |file: &str| candle_core::safetensors::load(dir.join(file), &Device::Cpu).unwrap();
    let before = read("best.safetensors");
    run(&mut lib, 1, true);
    let state = RunState::load(&dir).unwrap();
    assert_eq!(state.epochs_done, 1);
    let after = read("last.safetensors");
    let varmap = VarMap::new();
    let weights = system::find_weights(LITE0_WEIGHTS_FILE).unwrap();
    let net_config = NetworkConfig {
        embedding_dim: 32,
        ..NetworkConfig::lite0(state.labels.len())
    };
    let net = ParallelNetwork::fresh(&varmap, &net_config, &weights, &Device::Cpu).unwrap();
    let trainable: HashSet<TensorId> = trainable_vars(&varmap, &net, config.mode)
        .unwrap()
        .iter()
        .map(|v| v.as_tensor().id())
        .collect();
    let names: Vec<String> = varmap
        .data()
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, v)| trainable.contains(&v.as_tensor().id()))
        .map(|(n, _)| n.clone())
        .collect();
    assert!(names.iter().any(|n| n.starts_with("shallow.conv1")));
    assert!(names.iter().any(|n| n.starts_with("backbone._blocks.14.")));
    let mut moved = 0;
    for name in &names {
        let change = crate::model::test_util::max_abs_diff(&before[name], &after[name]);
        assert!(change > 0.0, "{name} did not move");
        moved += 1;
    }
    assert!(moved > 20, "{moved}");
    // Frozen weights stay as they were; so do the running averages of the trained blocks
    // (partial mode keeps the batch norms' statistics).
    for frozen in [
        "backbone._blocks.3._depthwise_conv.weight",
        "backbone._blocks.14._bn1.running_mean",
        "backbone._blocks.15._bn2.running_var",
    ] {
        assert_eq!(
            crate::model::test_util::max_abs_diff(&before[frozen], &after[frozen]),
            0.0,
            "{frozen}"
        );
    }
}

#[test]
fn auto_mode_chooses_partial_where_it_fits_and_says_why() {
    let (_dir, mut lib) = demo_library(20);
    let chosen = plan::plan_mode(&lib, &tiny("a1"), &Device::Cpu).unwrap();
    assert_eq!(
        chosen.mode,
        Mode::Partial {
            blocks: plan::AUTO_BLOCKS
        }
    );
    assert!(chosen.reason.starts_with("partial"), "{}", chosen.reason);
    assert!(chosen.partial_estimate_secs.unwrap() > 0.0);
    // A run asked for auto says what it chose first, and its state keeps the mode chosen.
    let mut events = Vec::new();
    let config = TrainConfig {
        mode: Mode::Auto,
        epochs: 1,
        ..tiny("a1")
    };
    train(
        &mut lib,
        &config,
        false,
        &Device::Cpu,
        &JobContext::silent(),
        &mut |e| events.push(e.clone()),
    )
    .unwrap();
    assert!(matches!(&events[0], TrainEvent::Plan(p) if p.mode == chosen.mode));
    let state = RunState::load(&run_dir(lib.root(), "a1")).unwrap();
    assert_eq!(state.config.mode, chosen.mode);
    // A backbone that cannot be split trains its head.
    let resnet = TrainConfig {
        backbone: "resnet50".into(),
        ..tiny("a2")
    };
    let chosen = plan::plan_mode(&lib, &resnet, &Device::Cpu).unwrap();
    assert_eq!(chosen.mode, Mode::Head);
    // A deeper Lite is costed as itself (its own blocks and side), not as Lite0.
    let lite2 = TrainConfig {
        backbone: "lite2".into(),
        ..tiny("a3")
    };
    let deeper = plan::plan_mode(&lib, &lite2, &Device::Cpu).unwrap();
    assert_eq!(
        deeper.mode,
        Mode::Partial {
            blocks: plan::AUTO_BLOCKS
        }
    );
    assert!(
        deeper.reason.contains("efficientnet-lite2's 21 blocks"),
        "{}",
        deeper.reason
    );
}

#[test]
fn without_the_shallow_branch_the_system_is_backbone_only_and_still_searches() {
    let (_dir, mut lib) = demo_library(20);
    // Trains one epoch and returns the network config the system saved.
    let mut saved_network = |config: TrainConfig| {
        let name = config.name.clone();
        train(
            &mut lib,
            &config,
            false,
            &Device::Cpu,
            &JobContext::silent(),
            &mut |_| {},
        )
        .unwrap();
        let file = lib.root().join("systems").join(name).join("system.json");
        let saved: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        saved["network"].clone()
    };
    let without = saved_network(TrainConfig {
        shallow: false,
        epochs: 1,
        ..tiny("no-shallow")
    });
    assert!(without["shallow"].is_null(), "{without}");
    // The same run with the branch has its weights.
    let with = saved_network(TrainConfig {
        epochs: 1,
        ..tiny("with-shallow")
    });
    assert!(with["shallow"].is_object(), "{with}");
    let system = System::load(&lib, "no-shallow", &Device::Cpu).unwrap();
    let side = system.preprocess().side_px as usize;
    let x = Tensor::rand(-1f32, 1.0, (2, 3, side, side), &Device::Cpu).unwrap();
    assert_eq!(system.embed(&x).unwrap().dims(), [2, 32]);
}

#[test]
fn the_cosine_schedule_falls_from_the_base_rate_to_its_floor() {
    let epochs = 20;
    let f: Vec<f64> = (1..=epochs)
        .map(|e| LrSchedule::Cosine.factor(e, epochs))
        .collect();
    assert!((f[0] - 1.0).abs() < 1e-12);
    assert!((f[epochs - 1] - COSINE_FLOOR).abs() < 1e-12);
    assert!(f.windows(2).all(|w| w[1] < w[0]), "{f:?}");
    assert!((0..=epochs).all(|e| LrSchedule::Constant.factor(e, epochs) == 1.0));
    assert_eq!(LrSchedule::Cosine.factor(1, 1), 1.0);
    assert!(LrSchedule::parse("step").is_err());
    assert_eq!(LrSchedule::parse("cosine").unwrap(), LrSchedule::Cosine);
}

#[test]
fn a_system_trained_at_another_size_keeps_it_and_embeds_at_it() {
    let (_dir, mut lib) = demo_library(20);
    let config = TrainConfig {
        input_side_px: Some(96),
        epochs: 1,
        ..tiny("small-input")
    };
    let report = train(
        &mut lib,
        &config,
        false,
        &Device::Cpu,
        &JobContext::silent(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(report.epochs_run, 1);
    let file = lib.root().join("systems/small-input/system.json");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    assert_eq!(saved["input"]["side_px"], 96, "{saved}");
    let system = System::load(&lib, "small-input", &Device::Cpu).unwrap();
    assert_eq!(system.preprocess().side_px, 96);
    // Images of the library are prepared at the system's side and embed.
    let items = lib.store.item_images().unwrap();
    let images: Vec<_> = items
        .iter()
        .take(2)
        .map(|item| system.preprocess().load(&lib.resolve(&item.image)).unwrap())
        .collect();
    assert_eq!(images[0].dimensions(), (96, 96));
    let x = system
        .preprocess()
        .to_tensor(&images, &Device::Cpu)
        .unwrap();
    assert_eq!(x.dims(), [2, 3, 96, 96]);
    assert_eq!(system.embed(&x).unwrap().dims(), [2, 32]);

    // Without a size, the backbone's own; a run's state from before the field still reads.
    assert_eq!(tiny("x").preprocess(BackboneKind::Lite0).side_px, 224);
    assert_eq!(tiny("x").input_side(BackboneKind::Lite2), 260);
    let mut old = serde_json::to_value(tiny("old")).unwrap();
    old.as_object_mut().unwrap().remove("input_side_px");
    let old: TrainConfig = serde_json::from_value(old).unwrap();
    assert_eq!(old.input_side_px, None);

    // Sizes out of range are refused before anything is read or written.
    for side in [32, 63, 641, 4096] {
        let err = train(
            &mut lib,
            &TrainConfig {
                input_side_px: Some(side),
                ..tiny("bad-size")
            },
            false,
            &Device::Cpu,
            &JobContext::silent(),
            &mut |_| {},
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains(&format!("input size {side} px")), "{err}");
        assert!(err.contains("64 to 640"), "{err}");
    }
    assert!(!lib.root().join("train/bad-size").exists());
}

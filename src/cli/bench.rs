//! `vitrine bench`: throughput on this machine, measured with the real code paths.
//!
//! `bench embed` times the `imagenet-lite0` system's forward pass (EfficientNet-Lite0 pooled
//! features, L2-normalised) at batch 1 and batch 32 on random normalised input, after a
//! warm-up (the first passes are much slower; PERF_NOTES finding 6), as the median of a few
//! passes; then a full indexing run (decode → embed → write, as `vitrine index --rebuild`
//! does it, into a temporary file) on the library's catalogue, or on a temporary 256-item
//! demo library when the library is empty. The machine may be shared: check the load.

use super::progress::wait_with_bar;
use crate::catalog::demo::{self, DemoOptions};
use crate::index::{self, BuildOptions};
use crate::jobs::Job;
use crate::library::Library;
use crate::model::system::{self, System};
use anyhow::Context;
use candle_core::{Device, Tensor};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Items of the temporary demo library used when the library is empty.
const DEMO_ITEMS: usize = 256;

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Images per second: Lite0 at batch 1 and 32, and end-to-end indexing.
    Embed {
        /// Timed passes per batch size (after the warm-up); the median is reported.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Print JSON: {"threads", "lite0_batch1_images_per_s", "lite0_batch32_images_per_s",
        /// "index_images_per_s", "items", "device", "demo_library"}.
        #[arg(long)]
        json: bool,
    },
}

/// What `bench embed` measured.
#[derive(Debug, Serialize)]
struct EmbedBench {
    threads: usize,
    lite0_batch1_images_per_s: f64,
    lite0_batch32_images_per_s: f64,
    index_images_per_s: f64,
    /// Items indexed end to end.
    items: u64,
    device: String,
    /// Whether indexing ran on a temporary demo library (the library was empty).
    demo_library: bool,
}

pub fn run(dir: &Path, device: &str, cmd: &BenchCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCommand::Embed { runs, json } => embed(dir, device, (*runs).max(1), *json),
    }
}

fn embed(dir: &Path, device_spec: &str, runs: usize, json: bool) -> anyhow::Result<ExitCode> {
    let device = system::device(device_spec)?;
    let system = System::imagenet_lite0(&device)?;
    let threads = rayon::current_num_threads();
    if !json {
        eprintln!("timing Lite0 on {device_spec} with {threads} threads …");
    }
    let batch1 = images_per_s(&system, 1, 3, runs)?;
    let batch32 = images_per_s(&system, 32, 1, runs.min(3))?;

    // End to end, on the catalogue or a temporary demo library.
    let items = Library::open(dir)?.store.counts()?.items;
    let temp = (items == 0).then(|| TempDir::new("vitrine-bench"));
    let root = match &temp {
        None => dir.to_path_buf(),
        Some(temp) => {
            let root = temp.path.clone();
            let job = Job::spawn("bench demo", None, move |ctx| {
                let mut lib = Library::open(&root)?;
                let opts = DemoOptions {
                    items: DEMO_ITEMS,
                    users: 0,
                    street: 0,
                    ..DemoOptions::default()
                };
                demo::generate(&mut lib, &opts, ctx)
            });
            wait_with_bar(job).context("cannot draw the temporary demo library")?;
            temp.path.clone()
        }
    };
    let output = std::env::temp_dir().join(format!("vitrine-bench-{}.emb", std::process::id()));
    let options = BuildOptions {
        output: Some(output.clone()),
        full_rebuild: true,
        ..BuildOptions::default()
    };
    let job = Job::spawn("bench index", None, move |ctx| {
        let lib = Library::open(&root)?;
        index::build(&lib, &system, &options, ctx)
    });
    let report = wait_with_bar(job);
    let _ = std::fs::remove_file(&output);
    let report = report.context("the indexing run failed")?;

    let result = EmbedBench {
        threads,
        lite0_batch1_images_per_s: batch1,
        lite0_batch32_images_per_s: batch32,
        index_images_per_s: report.images_per_s,
        items: report.embedded,
        device: device_spec.to_string(),
        demo_library: temp.is_some(),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        println!("Embedding throughput (imagenet-lite0 on {device_spec}, {threads} threads)");
        println!("  Lite0, batch 1:   {batch1:7.1} images/s");
        println!("  Lite0, batch 32:  {batch32:7.1} images/s");
        println!(
            "  indexing:         {:7.1} images/s ({} items{}: decode, embed, write)",
            report.images_per_s,
            report.embedded,
            if temp.is_some() {
                ", temporary demo library"
            } else {
                ""
            }
        );
        if !report.failed.is_empty() {
            println!("  ({} images could not be decoded)", report.failed.len());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Images per second of `system.embed` at `batch`: `warmup` passes, then the median of
/// `runs` timed passes, on uniform random input in −1…1 (the normalised range).
fn images_per_s(system: &System, batch: usize, warmup: usize, runs: usize) -> anyhow::Result<f64> {
    let side = system.preprocess().side_px as usize;
    let x = Tensor::rand(-1f32, 1.0, (batch, 3, side, side), system.device())?;
    let pass = || -> anyhow::Result<f64> {
        let start = Instant::now();
        // Copying the result back waits for the work, on any device.
        system.embed(&x)?.to_device(&Device::Cpu)?;
        Ok(start.elapsed().as_secs_f64())
    };
    for _ in 0..warmup {
        pass()?;
    }
    let mut times = (0..runs)
        .map(|_| pass())
        .collect::<anyhow::Result<Vec<f64>>>()?;
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    Ok(if median > 0.0 {
        batch as f64 / median
    } else {
        0.0
    })
}

/// A folder under the system's temp dir, removed when dropped.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new(prefix: &str) -> TempDir {
        TempDir {
            path: std::env::temp_dir().join(format!("{prefix}-{}", std::process::id())),
        }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

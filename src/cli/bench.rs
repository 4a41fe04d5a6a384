//! `vitrine bench`: throughput on this machine, measured with the real code paths.
//!
//! `bench embed` times the `imagenet-lite0` system's forward pass (EfficientNet-Lite0 pooled
//! features, L2-normalised; `--backbone lite1|lite2` the same on Lite1 at 240 px or Lite2 at
//! 260 px) at batch 1 and batch 32 on random normalised input, after a
//! warm-up (the first passes are much slower; ARCHITECTURE.md §13, finding 6), as the median of a
//! few passes; then a full indexing run (decode → embed → write, as `vitrine index --rebuild`
//! does it, into a temporary file) on the library's catalogue, or on a temporary 256-item
//! demo library when the library is empty. The machine may be shared: check the load.
//!
//! `bench search` times exact top-10 search alone ([`crate::index::scan`]) on synthetic
//! indexes of random unit rows (1280 wide; 100k and 1M items, the latter only when memory
//! allows): single queries (median, with the effective read bandwidth: a single query is
//! memory-bound) and batches of 100 (ms per query), the same single queries with the colour
//! ↔ shape dial turned (a 64-wide colour part read too), and all of it again on the index at
//! half precision (`vitrine index --f16`: time, GB/s, recall@10 against f32).
//!
//! `bench train` times training steps (forward, the paper's loss, backward, AdamW) per mode
//! on random input ([`crate::train::step_throughput`]).

use super::progress::wait_with_bar;
use crate::index::scan::{self, ColourWeight};
use crate::index::{self, BuildOptions, EmbeddingIndex, Precision, Rows};
use crate::jobs::Job;
use crate::library::Library;
use crate::model::backbone::BackboneKind;
use crate::model::system::{self, System};
use crate::sources::demo::{self, DemoOptions};
use anyhow::Context;
use candle_core::{Device, Tensor};
use rayon::prelude::*;
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
        /// Timed runs per batch size (after the warm-up), each of as many passes as fill
        /// 0.2 s; the median run is reported, with the slowest and fastest.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// The ImageNet backbone to time: lite0 (224 px, the built-in system), lite1 (240 px)
        /// or lite2 (260 px).
        #[arg(long, default_value = "lite0", value_name = "LITE")]
        backbone: String,
        /// Print JSON: {"cpu", "simd", "threads", "memory_gb_per_s", "fma_peak_gflop_per_s",
        /// "backbone", "side_px", "lite0_batch1_images_per_s", "lite0_batch32_images_per_s"
        /// (medians, of the backbone timed), "lite0_batch1" and "lite0_batch32" ({"median",
        /// "min", "max"}), "gmac_per_image", "batch32_share_of_peak", "index_images_per_s",
        /// "items", "device", "demo_library"}.
        #[arg(long)]
        json: bool,
    },
    /// Exact top-10 search: single queries and batches of 100 on synthetic indexes.
    Search {
        /// Index sizes to time (random unit rows, 1280 wide).
        #[arg(long, value_delimiter = ',', default_values_t = [100_000, 1_000_000])]
        items: Vec<usize>,
        /// Timed single queries per size (after a warm-up); the median is reported.
        #[arg(long, default_value_t = 10)]
        runs: usize,
        /// Print JSON: {"cpu", "simd", "threads", "memory_gb_per_s", "fma_peak_gflop_per_s",
        /// "dim", "colour_dim",
        /// "results": [{"items", "f32", "f16", "f16_recall_at_10", "load_ms"}] where "f32" and
        /// "f16" are {"single_ms", "single_min_ms", "single_max_ms", "single_gb_per_s",
        /// "single_share_of_read" (against a plain read of the f32 rows just before each
        /// query), "weighted_ms", "weighted_gb_per_s", "batch100_ms_per_query"},
        /// "f16_recall_at_10" (of the first size), "query_latency"}.
        #[arg(long)]
        json: bool,
    },
    /// Training images per second per mode (head, partial, full) on random input.
    Train {
        /// Images per step.
        #[arg(long, default_value_t = 16)]
        batch: usize,
        /// Timed steps per mode (after a warm-up); the median is reported.
        #[arg(long, default_value_t = 3)]
        steps: usize,
        /// The modes to time.
        /// (`partial-cached` times partial mode from its cached frozen prefix, as an epoch
        /// runs once the cache is built.)
        #[arg(long, value_delimiter = ',', default_values_t = ["head".to_string(), "partial".to_string(), "partial-cached".to_string(), "full".to_string()])]
        modes: Vec<String>,
        /// Backbone blocks that train in partial mode.
        #[arg(long, default_value_t = 3)]
        blocks: usize,
        /// The backbone to train: lite0 (224 px), lite1 (240 px) or lite2 (260 px), from its
        /// shipped ImageNet weights.
        #[arg(long, default_value = "lite0", value_name = "LITE")]
        backbone: String,
        /// Print JSON: {"cpu", "simd", "threads", "memory_gb_per_s", "fma_peak_gflop_per_s",
        /// "batch", "blocks", "backbone", "device",
        /// "results": [{"mode", "images_per_s", "trainable_parameters", "peak_rss_bytes"}]}.
        #[arg(long)]
        json: bool,
    },
}

/// `bench train`: optimisation steps per mode ([`crate::train::step_throughput`]).
fn train_bench(
    device_spec: &str,
    (batch, steps, blocks): (usize, usize, usize),
    modes: &[String],
    backbone: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let device = crate::device::device(device_spec)?;
    let kind = BackboneKind::parse(backbone)?;
    let mut results = Vec::new();
    for name in modes {
        let (mode, cached) = match name.as_str() {
            "partial-cached" => (crate::train::Mode::Partial { blocks }, true),
            other => (crate::train::Mode::parse(other, blocks)?, false),
        };
        let bench =
            crate::train::step_throughput(kind, mode, cached, batch.max(1), steps.max(1), &device)
                .with_context(|| format!("cannot time {name} training"))?;
        if !json {
            let memory = bench.peak_rss_bytes.map_or(String::new(), |b| {
                format!(", peak {:.2} GiB", b as f64 / (1u64 << 30) as f64)
            });
            println!(
                "train {kind} {name:14} batch {batch}: {:8.1} images/s ({} trainable \
                 weights{memory})",
                bench.images_per_s, bench.trainable_parameters
            );
        }
        results.push(bench);
    }
    if json {
        let machine = Machine::measure();
        let out = serde_json::json!({
            "cpu": machine.cpu,
            "simd": machine.simd,
            "threads": machine.threads,
            "memory_gb_per_s": machine.memory_gb_per_s,
            "fma_peak_gflop_per_s": machine.fma_peak_gflop_per_s,
            "batch": batch,
            "blocks": blocks,
            "backbone": kind.as_str(),
            "device": device_spec,
            "results": results,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// The machine every figure stands beside: a reader compares like with like.
#[derive(Debug, Serialize)]
struct Machine {
    /// `/proc/cpuinfo`'s model name (Linux).
    cpu: Option<String>,
    /// The instruction set Vitrine's own kernels use (`VITRINE_SIMD` narrows it).
    simd: &'static str,
    threads: usize,
    /// Read bandwidth of one pass over a 512 MiB buffer on every thread (best of 3), GB/s:
    /// the ceiling of a memory-bound single query.
    memory_gb_per_s: f64,
    /// Peak fused multiply-add rate on every thread, GFLOP/s ([`crate::simd::fma_peak_gflop_per_s`]):
    /// the ceiling of a compute-bound forward pass.
    fma_peak_gflop_per_s: f64,
}

impl Machine {
    fn measure() -> Machine {
        Machine {
            cpu: crate::simd::cpu_model(),
            simd: crate::simd::simd_level(),
            threads: rayon::current_num_threads(),
            memory_gb_per_s: memory_bandwidth_gb_per_s(),
            fma_peak_gflop_per_s: crate::simd::fma_peak_gflop_per_s(),
        }
    }

    fn describe(&self) -> String {
        format!(
            "{}, {} kernels, {} threads, {:.1} GB/s memory read, {:.0} GFLOP/s peak",
            self.cpu.as_deref().unwrap_or("unknown CPU"),
            self.simd,
            self.threads,
            self.memory_gb_per_s,
            self.fma_peak_gflop_per_s
        )
    }
}

/// Read bandwidth in GB/s: a parallel sum over 1 GiB of f32 ([`crate::simd::read_sum`]), each
/// thread reading one contiguous share as a search's scan does, the best of 7 passes after
/// one that faults the pages in.
fn memory_bandwidth_gb_per_s() -> f64 {
    const BYTES: usize = 1 << 30;
    let data = vec![1f32; BYTES / 4];
    read_pass_s(&data);
    let best = (0..7)
        .map(|_| read_pass_s(&data))
        .fold(f64::INFINITY, f64::min);
    BYTES as f64 / best / 1e9
}

/// Seconds to read `data` once: a parallel sum ([`crate::simd::read_sum`]), each thread
/// reading one contiguous share as a search's scan does.
fn read_pass_s(data: &[f32]) -> f64 {
    let share = data.len().div_ceil(rayon::current_num_threads()).max(1);
    let start = Instant::now();
    let sum: f32 = data.par_chunks(share).map(crate::simd::read_sum).sum();
    std::hint::black_box(sum);
    start.elapsed().as_secs_f64()
}

/// Median, minimum and maximum of a few timings (a shared machine shows in the spread).
#[derive(Debug, Clone, Copy, Serialize)]
struct Spread {
    median: f64,
    min: f64,
    max: f64,
}

impl Spread {
    fn of(mut values: Vec<f64>) -> Spread {
        values.sort_by(f64::total_cmp);
        Spread {
            median: values[values.len() / 2],
            min: values[0],
            max: values[values.len() - 1],
        }
    }

    /// The same spread of `batch / seconds`: images per second from pass times.
    fn rate(self, per: f64) -> Spread {
        let r = |s: f64| if s > 0.0 { per / s } else { 0.0 };
        Spread {
            median: r(self.median),
            min: r(self.max),
            max: r(self.min),
        }
    }
}

/// What `bench embed` measured.
#[derive(Debug, Serialize)]
struct EmbedBench {
    #[serde(flatten)]
    machine: Machine,
    /// The backbone timed, and its input side.
    backbone: &'static str,
    side_px: u32,
    /// Medians.
    lite0_batch1_images_per_s: f64,
    lite0_batch32_images_per_s: f64,
    /// Median, min and max over the timed passes.
    lite0_batch1: Spread,
    lite0_batch32: Spread,
    /// Multiply-adds per image (stem to pooled features), in billions.
    gmac_per_image: f64,
    /// Batch 32's median as a share of `fma_peak_gflop_per_s` (two FLOPs per multiply-add).
    batch32_share_of_peak: f64,
    index_images_per_s: f64,
    /// Items indexed end to end.
    items: u64,
    device: String,
    /// Whether indexing ran on a temporary demo library (the library was empty).
    demo_library: bool,
}

pub fn run(dir: &Path, device: &str, cmd: &BenchCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCommand::Embed {
            runs,
            backbone,
            json,
        } => embed(dir, device, backbone, (*runs).max(1), *json),
        BenchCommand::Search { items, runs, json } => {
            search_bench(dir, device, items, (*runs).max(1), *json)
        }
        BenchCommand::Train {
            batch,
            steps,
            modes,
            blocks,
            backbone,
            json,
        } => train_bench(device, (*batch, *steps, *blocks), modes, backbone, *json),
    }
}

fn embed(
    dir: &Path,
    device_spec: &str,
    backbone: &str,
    runs: usize,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let device = crate::device::device(device_spec)?;
    let kind = BackboneKind::parse(backbone)?;
    let system = System::imagenet_lite(kind, &device)?;
    let (name, side_px) = (kind.as_str(), system.preprocess().side_px);
    let gmac_per_image = kind
        .lite_config()
        .map_or(0.0, |c| c.multiply_adds(side_px as usize) as f64 / 1e9);
    let machine = Machine::measure();
    if !json {
        eprintln!(
            "timing {name} at {side_px} px on {device_spec}: {} …",
            machine.describe()
        );
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
        backbone: name,
        side_px,
        lite0_batch1_images_per_s: batch1.median,
        lite0_batch32_images_per_s: batch32.median,
        lite0_batch1: batch1,
        lite0_batch32: batch32,
        gmac_per_image,
        batch32_share_of_peak: batch32.median * gmac_per_image * 2.0
            / machine.fma_peak_gflop_per_s.max(f64::MIN_POSITIVE),
        index_images_per_s: report.images_per_s,
        items: report.embedded,
        device: device_spec.to_string(),
        demo_library: temp.is_some(),
        machine,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        println!("Embedding throughput ({name}, ImageNet, {side_px} px, on {device_spec})");
        println!("  {}", result.machine.describe());
        for (batch, b) in [("batch 1: ", batch1), ("batch 32:", batch32)] {
            println!(
                "  {batch}         {:7.1} images/s (median; {:.1}–{:.1})",
                b.median, b.min, b.max
            );
        }
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
        println!(
            "  compute:          {:.2} G multiply-adds per image; batch 32 runs at {:.0} GFLOP/s, \
             {:.0} % of the measured peak",
            gmac_per_image,
            batch32.median * gmac_per_image * 2.0,
            result.batch32_share_of_peak * 100.0
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Seconds a timed run of [`images_per_s`] lasts at least: a single pass at batch 1 takes
/// ~2 ms, and a median of single passes moved by a third between runs on the same VM (one
/// slow millisecond decides it); runs of ~0.2 s each hold steady. The ONNX Runtime anchor
/// (`benches/onnxruntime_reference.py`) times its runs the same way.
const RUN_S: f64 = 0.2;

/// Images per second of `system.embed` at `batch`: `warmup` passes, then the median (and
/// range) of `runs` timed runs, each of as many passes as fill [`RUN_S`] (at least one), on
/// uniform random input in −1…1 (the normalised range).
fn images_per_s(
    system: &System,
    batch: usize,
    warmup: usize,
    runs: usize,
) -> anyhow::Result<Spread> {
    let side = system.preprocess().side_px as usize;
    let x = Tensor::rand(-1f32, 1.0, (batch, 3, side, side), system.device())?;
    // Freed activations kept for the next pass, as indexing keeps them.
    let _retain = crate::RetainFreedMemory::new();
    let passes = |count: usize| -> anyhow::Result<f64> {
        let start = Instant::now();
        for _ in 0..count {
            // Copying the result back waits for the work, on any device.
            system.embed(&x)?.to_device(&Device::Cpu)?;
        }
        Ok(start.elapsed().as_secs_f64() / count as f64)
    };
    let mut pass_s = f64::INFINITY;
    for _ in 0..warmup.max(1) {
        pass_s = pass_s.min(passes(1)?);
    }
    let per_run = passes_per_run(pass_s);
    let times = (0..runs)
        .map(|_| passes(per_run))
        .collect::<anyhow::Result<Vec<f64>>>()?;
    Ok(Spread::of(times).rate(batch as f64))
}

/// Passes of `pass_s` seconds that fill a run of [`RUN_S`]: at least one, and no more than
/// 10,000 (a pass timed at zero seconds must not make the run endless).
fn passes_per_run(pass_s: f64) -> usize {
    let passes = (RUN_S / pass_s).ceil();
    if passes.is_finite() {
        (passes as usize).clamp(1, 10_000)
    } else {
        10_000
    }
}

/// The width of the synthetic rows of `bench search` (the Lite0 embedding width).
const SEARCH_DIM: usize = 1280;
/// Hits per query in `bench search`.
const SEARCH_K: usize = 10;
/// Queries per batch in `bench search`.
const SEARCH_BATCH: usize = 100;

/// The colour weight of the dial in `bench search` (any weight above 0 costs the same).
const SEARCH_DIAL: f32 = 0.3;

/// What `bench search` measured.
#[derive(Debug, Serialize)]
struct SearchBench {
    #[serde(flatten)]
    machine: Machine,
    dim: usize,
    /// The width of the colour part the dial reads (a default shallow branch's output).
    colour_dim: usize,
    results: Vec<SearchResult>,
    /// Mean share of the exact top 10 that the f16 index finds, on the first size.
    #[serde(skip_serializing_if = "Option::is_none")]
    f16_recall_at_10: Option<f64>,
    /// From a photo file to ranked ids (decode, embed, search) on this library's catalogue,
    /// with the model loaded: the median over catalogue and street photos.
    #[serde(skip_serializing_if = "Option::is_none")]
    query_latency: Option<QueryLatency>,
}

/// What a merchandiser waits for: one photo in, ten items out.
#[derive(Debug, Serialize)]
struct QueryLatency {
    system: String,
    indexed_items: usize,
    queries: usize,
    median_total_ms: f64,
    median_decode_ms: f64,
    median_embed_ms: f64,
    median_search_ms: f64,
    /// Reading (and checking) the library's index file.
    index_load_ms: f64,
}

/// Photos timed for the query latency (after one warm-up query).
const LATENCY_QUERIES: usize = 20;

/// Times queries from photo files on the library at `dir` with `imagenet-lite0`, when the
/// library has an up-to-date index of it; `None` (and why, on stderr) otherwise.
fn query_latency(dir: &Path, device_spec: &str) -> anyhow::Result<Option<QueryLatency>> {
    let lib = Library::open(dir)?;
    let device = crate::device::device(device_spec)?;
    let start = Instant::now();
    let searcher = match crate::search::Searcher::open(&lib, system::IMAGENET_LITE0, &device) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("no query latency: {e}");
            return Ok(None);
        }
    };
    let index_load_ms = start.elapsed().as_secs_f64() * 1e3;
    let mut photos: Vec<PathBuf> = lib
        .store
        .street_queries()?
        .iter()
        .map(|q| lib.resolve(&q.image))
        .take(LATENCY_QUERIES / 2)
        .collect();
    photos.extend(
        searcher
            .items()
            .iter()
            .map(|it| it.image.clone())
            .take(LATENCY_QUERIES - photos.len()),
    );
    let Some(first) = photos.first() else {
        return Ok(None);
    };
    let filter = crate::search::SearchFilter::default();
    searcher.query_file(first, SEARCH_K, &filter)?;
    let mut timings = Vec::with_capacity(photos.len());
    for photo in &photos {
        timings.push(searcher.query_file(photo, SEARCH_K, &filter)?.timings);
    }
    let median = |f: &dyn Fn(&crate::search::Timings) -> f64| {
        let mut v: Vec<f64> = timings.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Ok(Some(QueryLatency {
        system: system::IMAGENET_LITE0.to_owned(),
        indexed_items: searcher.index().len(),
        queries: timings.len(),
        median_total_ms: median(&|t| t.total_ms),
        median_decode_ms: median(&|t| t.decode_ms),
        median_embed_ms: median(&|t| t.embed_ms),
        median_search_ms: median(&|t| t.search_ms),
        index_load_ms,
    }))
}

/// The timings of one index size.
#[derive(Debug, Serialize)]
struct SearchResult {
    items: usize,
    /// The rows at full precision, and at half precision (`vitrine index --f16`).
    f32: ScanTimes,
    f16: ScanTimes,
    /// The share of the exact f32 top 10 of each single query that the f16 rows find.
    f16_recall_at_10: f64,
    /// Reading this index back from its file (and checking its checksum), for sizes up to
    /// [`LOAD_TIMED_MAX_ITEMS`].
    #[serde(skip_serializing_if = "Option::is_none")]
    load_ms: Option<f64>,
}

/// The timings of one index at one precision.
#[derive(Debug, Serialize)]
struct ScanTimes {
    /// Median of the single queries, and their range.
    single_ms: f64,
    single_min_ms: f64,
    single_max_ms: f64,
    /// Matrix bytes read per second by a single query (median): compare with the machine's
    /// `memory_gb_per_s`.
    single_gb_per_s: f64,
    /// A single query's bytes per second as a share of a plain read's (the sum of the f32
    /// rows) timed just before it: the median over the runs. The bandwidth of a shared
    /// machine drifts by a third within seconds, so the pair, not a figure taken at start-up,
    /// says how close the scan comes to the memory.
    single_share_of_read: f64,
    /// Single queries with the colour ↔ shape dial at [`SEARCH_DIAL`] (median), and the bytes
    /// of both parts read per second.
    weighted_ms: f64,
    weighted_gb_per_s: f64,
    batch100_ms_per_query: f64,
}

/// Times single queries (plain and dialled: a warm-up, then a different query each run) and
/// batches of 100 (a warm-up, the best of three) on `index`. Each plain query follows a read
/// of `probe` (the f32 rows, bigger than any cache), timed to set its speed against.
fn time_scans(
    index: &EmbeddingIndex,
    probe: &[f32],
    queries: &[f32],
    colours: &[f32],
    runs: usize,
) -> anyhow::Result<ScanTimes> {
    let (dim, colour_dim) = (index.dim, index.colour_dim);
    let dial = ColourWeight::new(SEARCH_DIAL)?;
    let single = |q: &[f32], c: &[f32], weight: ColourWeight| -> anyhow::Result<f64> {
        let start = Instant::now();
        scan::top_k_weighted(index, q, c, weight, SEARCH_K, None)?;
        Ok(start.elapsed().as_secs_f64())
    };
    let bytes = index.matrix.bytes() as f64;
    let probe_bytes = std::mem::size_of_val(probe) as f64;
    let mut spreads = Vec::new();
    let mut shares = Vec::new();
    for weight in [ColourWeight::SHAPE_ONLY, dial] {
        let pairs = || {
            queries
                .chunks_exact(dim)
                .zip(colours.chunks_exact(colour_dim))
        };
        for (q, c) in pairs().take(2) {
            single(q, c, weight)?;
        }
        let mut times = Vec::with_capacity(runs);
        for (q, c) in pairs().take(runs) {
            let read_s = (weight == ColourWeight::SHAPE_ONLY).then(|| read_pass_s(probe));
            let query_s = single(q, c, weight)?;
            if let Some(read_s) = read_s {
                shares.push((bytes / query_s) / (probe_bytes / read_s));
            }
            times.push(query_s);
        }
        spreads.push(Spread::of(times));
    }
    let batch = &queries[..SEARCH_BATCH * dim];
    scan::top_k_batch(index, batch, SEARCH_K, None)?;
    let mut batch_s = f64::INFINITY;
    for _ in 0..3 {
        let start = Instant::now();
        scan::top_k_batch(index, batch, SEARCH_K, None)?;
        batch_s = batch_s.min(start.elapsed().as_secs_f64());
    }
    let colour_bytes = (index.colour.len() * 4) as f64;
    let (plain, weighted) = (spreads[0], spreads[1]);
    Ok(ScanTimes {
        single_ms: plain.median * 1e3,
        single_min_ms: plain.min * 1e3,
        single_max_ms: plain.max * 1e3,
        single_gb_per_s: bytes / plain.median / 1e9,
        single_share_of_read: if shares.is_empty() {
            0.0
        } else {
            Spread::of(shares).median
        },
        weighted_ms: weighted.median * 1e3,
        weighted_gb_per_s: (bytes + colour_bytes) / weighted.median / 1e9,
        batch100_ms_per_query: batch_s * 1e3 / SEARCH_BATCH as f64,
    })
}

/// Index sizes whose file load is timed (a bigger file would need as much disk again).
const LOAD_TIMED_MAX_ITEMS: usize = 200_000;

/// Writes `index` (with made-up image fingerprints) to a temporary file and times loading it.
fn time_index_load(index: &EmbeddingIndex) -> anyhow::Result<f64> {
    let mut index = index.clone();
    index.images = index
        .ids
        .iter()
        .map(|id| crate::index::emb_file::ImageFingerprint {
            path: format!("images/catalog/{id}.png"),
            size_bytes: 0,
            mtime_ns: 0,
            sha256: None,
        })
        .collect();
    let dir = TempDir::new("vitrine-bench-load");
    std::fs::create_dir_all(&dir.path)?;
    let path = dir.path.join("synthetic.emb");
    index.write(&path)?;
    let start = Instant::now();
    let loaded = index::load(&path)?;
    let load_s = start.elapsed().as_secs_f64();
    anyhow::ensure!(loaded.len() == index.len(), "the index read back differs");
    Ok(load_s * 1e3)
}

fn search_bench(
    dir: &Path,
    device: &str,
    sizes: &[usize],
    runs: usize,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let query_latency = query_latency(dir, device)?;
    if let (Some(q), false) = (&query_latency, json) {
        println!(
            "query from a photo, {} items: {:.1} ms (decode {:.1}, embed {:.1}, search {:.2}); \
             index loaded in {:.0} ms",
            q.indexed_items,
            q.median_total_ms,
            q.median_decode_ms,
            q.median_embed_ms,
            q.median_search_ms,
            q.index_load_ms
        );
    }
    let machine = Machine::measure();
    if !json {
        println!("{}", machine.describe());
    }
    let available = available_memory_bytes();
    let colour_dim = crate::model::shallow::ShallowConfig::default().output_dim();
    let mut results = Vec::new();
    let mut f16_recall_at_10 = None;
    for &items in sizes {
        let bytes = items * (SEARCH_DIM + colour_dim) * 4;
        // The f32 index and its f16 copy, with room to spare.
        if let Some(available) = available
            && bytes as u64 * 2 > available
        {
            eprintln!(
                "skipping {items} items: the index needs {:.1} GB and only {:.1} GB is free",
                bytes as f64 / 1e9,
                available as f64 / 1e9
            );
            continue;
        }
        if !json {
            eprintln!("drawing {items} random rows of {SEARCH_DIM} + {colour_dim} …");
        }
        let index = random_index(items, colour_dim, 1);
        let count = runs.max(SEARCH_BATCH);
        let queries = noisy_queries(&index, count, 2);
        let colours = random_rows(count, colour_dim, 3);
        let probe = match &index.matrix {
            Rows::F32(rows) => rows.as_slice(),
            Rows::F16(_) => anyhow::bail!("the synthetic index is drawn at full precision"),
        };
        let full = time_scans(&index, probe, &queries, &colours, runs)?;

        // The same rows at half precision; its recall against the exact f32 top 10.
        let half = index.clone().with_precision(Precision::F16);
        let half_times = time_scans(&half, probe, &queries, &colours, runs)?;
        let mut found = 0usize;
        let recall_queries = runs.max(SEARCH_K);
        for q in queries.chunks_exact(SEARCH_DIM).take(recall_queries) {
            let exact = scan::top_k(&index, q, SEARCH_K, None)?;
            let approx = scan::top_k(&half, q, SEARCH_K, None)?;
            found += approx
                .iter()
                .filter(|h| exact.iter().any(|e| e.row == h.row))
                .count();
        }
        drop(half);
        let f16_recall = found as f64 / (recall_queries * SEARCH_K) as f64;
        f16_recall_at_10.get_or_insert(f16_recall);

        let load_ms = if items <= LOAD_TIMED_MAX_ITEMS {
            Some(time_index_load(&index)?)
        } else {
            None
        };
        let result = SearchResult {
            items,
            f32: full,
            f16: half_times,
            f16_recall_at_10: f16_recall,
            load_ms,
        };
        if !json {
            for (name, t) in [("f32", &result.f32), ("f16", &result.f16)] {
                println!(
                    "{items:>9} items, {name}: single {:7.2} ms ({:.2}–{:.2}; {:5.1} GB/s, \
                     {:3.0} % of a plain read), dialled {:7.2} ms ({:5.1} GB/s), \
                     batch of 100 {:6.3} ms/query",
                    t.single_ms,
                    t.single_min_ms,
                    t.single_max_ms,
                    t.single_gb_per_s,
                    t.single_share_of_read * 100.0,
                    t.weighted_ms,
                    t.weighted_gb_per_s,
                    t.batch100_ms_per_query
                );
            }
            println!(
                "{items:>9} items: f16 recall@10 against f32 {:.3}",
                result.f16_recall_at_10
            );
            if let Some(ms) = result.load_ms {
                println!("{items:>9} items: index file loaded and checked in {ms:.0} ms");
            }
        }
        results.push(result);
    }
    let threads = machine.threads;
    let bench = SearchBench {
        machine,
        dim: SEARCH_DIM,
        colour_dim,
        results,
        f16_recall_at_10,
        query_latency,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&bench)?);
    } else {
        println!(
            "({threads} threads, {SEARCH_DIM} wide, top {SEARCH_K}; queries are noisy copies of rows)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `MemAvailable` from `/proc/meminfo`, where there is one.
fn available_memory_bytes() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A fast deterministic generator (splitmix64) for synthetic rows.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Fills `row` with uniform values in −1…1 from `seed`, then scales it to unit length.
fn random_unit_row(row: &mut [f32], seed: u64) {
    let mut state = seed;
    for v in row.iter_mut() {
        *v = (splitmix(&mut state) >> 40) as f32 / (1u64 << 23) as f32 - 1.0;
    }
    let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        row.iter_mut().for_each(|v| *v /= norm);
    }
}

/// `count` random unit rows of `width`, drawn in parallel, row-major.
fn random_rows(count: usize, width: usize, seed: u64) -> Vec<f32> {
    let mut rows = vec![0f32; count * width];
    if width > 0 {
        rows.par_chunks_mut(width)
            .enumerate()
            .for_each(|(i, row)| random_unit_row(row, seed << 40 ^ i as u64));
    }
    rows
}

/// An index of `items` random unit rows with a colour part `colour_dim` wide.
fn random_index(items: usize, colour_dim: usize, seed: u64) -> EmbeddingIndex {
    let mut index =
        EmbeddingIndex::empty_with_colour("synthetic", "synthetic", SEARCH_DIM, colour_dim);
    index.ids = (0..items as i64).collect();
    index.matrix = Rows::F32(random_rows(items, SEARCH_DIM, seed));
    index.colour = random_rows(items, colour_dim, seed + 1);
    index
}

/// `count` queries, each a row of `index` plus as much noise again, at unit length.
fn noisy_queries(index: &EmbeddingIndex, count: usize, seed: u64) -> Vec<f32> {
    let mut queries = vec![0f32; count * SEARCH_DIM];
    for (i, q) in queries.chunks_exact_mut(SEARCH_DIM).enumerate() {
        random_unit_row(q, seed << 40 ^ i as u64);
        if !index.is_empty() {
            let row = index.row((i * 7919) % index.len());
            q.iter_mut().zip(row.iter()).for_each(|(v, r)| *v += r);
        }
        let norm = q.iter().map(|v| v * v).sum::<f32>().sqrt();
        q.iter_mut().for_each(|v| *v /= norm.max(f32::MIN_POSITIVE));
    }
    queries
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_repeats_short_passes_and_runs_a_long_one_once() {
        // Batch 1 (~2 ms a pass) fills the run; batch 32 (~65 ms) takes a few; a slow pass
        // (a big backbone, a debug build) runs once.
        assert_eq!(passes_per_run(0.002), 100);
        assert_eq!(passes_per_run(0.065), 4);
        assert_eq!(passes_per_run(1.5), 1);
        assert_eq!(passes_per_run(0.0), 10_000);
        assert_eq!(passes_per_run(f64::NAN), 10_000);
    }
}

//! Images per second of the EfficientNet-Lite0 backbone (pooled features, 224×224, f32, CPU).
//!
//! `cargo bench --bench embed` measures batch 1 and batch 32 with Vitrine's fused kernels and
//! with Candle's own operations, after a warm-up, on as many threads as `init_threads` gives
//! (set `RAYON_NUM_THREADS` to change it). Options, after `--`:
//! `--kernels fused|candle|both`, `--batch 1,32`, `--seconds S` (time per measurement, default
//! 5). The median pass is reported. Compare against the anchors run in the same window on the
//! same machine (`benches/onnxruntime_reference.sh`, `benches/pytorch_reference.sh`); the
//! machine is shared, so check the load (`uptime`) before trusting a number. The fused path
//! needs none of the glibc malloc settings of ARCHITECTURE.md §13 (finding 6): it runs large
//! batches a few images at a time.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use vitrine::model::lite0::{Kernels, Lite0, Lite0Config};

struct Options {
    kernels: Vec<Kernels>,
    batches: Vec<usize>,
    seconds: f64,
}

fn options() -> anyhow::Result<Options> {
    let mut options = Options {
        kernels: vec![Kernels::Fused, Kernels::Candle],
        batches: vec![1, 32],
        seconds: 5.0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            // Passed by `cargo bench` to every bench target.
            "--bench" => {}
            "--kernels" => {
                options.kernels = match args.next().as_deref() {
                    Some("fused") => vec![Kernels::Fused],
                    Some("candle") => vec![Kernels::Candle],
                    Some("both") => vec![Kernels::Fused, Kernels::Candle],
                    other => bail!("--kernels fused|candle|both, not {other:?}"),
                }
            }
            "--batch" => {
                let list = args.next().context("--batch needs a list such as 1,32")?;
                options.batches = list
                    .split(',')
                    .map(|b| b.trim().parse::<usize>())
                    .collect::<Result<_, _>>()
                    .with_context(|| format!("--batch {list}"))?;
            }
            "--seconds" => {
                let s = args.next().context("--seconds needs a number")?;
                options.seconds = s.parse().with_context(|| format!("--seconds {s}"))?;
            }
            other => bail!("unknown option {other}"),
        }
    }
    Ok(options)
}

/// Median seconds per forward pass: two warm-up passes, then passes until `budget` is spent
/// (at least three).
fn measure(model: &Lite0, x: &Tensor, budget: Duration) -> anyhow::Result<f64> {
    for _ in 0..2 {
        model.pooled(x)?;
    }
    let start = Instant::now();
    let mut times = Vec::new();
    while times.len() < 3 || start.elapsed() < budget {
        let t = Instant::now();
        let pooled = model.pooled(x)?;
        // Reading a value makes sure the work is done (Candle's CPU ops are eager anyway).
        pooled.flatten_all()?.get(0)?.to_scalar::<f32>()?;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

fn main() -> anyhow::Result<()> {
    vitrine::init_threads();
    let options = options()?;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/weights/efficientnet-lite0.safetensors"
    );
    let weights = candle_core::safetensors::load(path, &Device::Cpu).context(path)?;
    let vb = VarBuilder::from_tensors(weights, DType::F32, &Device::Cpu);
    let threads = rayon::current_num_threads();
    println!("EfficientNet-Lite0, 224×224, f32, {threads} threads");
    for &kernels in &options.kernels {
        let model = Lite0::new(vb.clone(), &Lite0Config::lite0())?.with_kernels(kernels);
        for &batch in &options.batches {
            let x = Tensor::randn(0f32, 0.5, (batch, 3, 224, 224), &Device::Cpu)?;
            let secs = measure(&model, &x, Duration::from_secs_f64(options.seconds))?;
            println!(
                "{kernels:?} batch {batch:>3}: {:>9.1} ms per batch, {:>7.1} images/s",
                secs * 1e3,
                batch as f64 / secs
            );
        }
    }
    Ok(())
}

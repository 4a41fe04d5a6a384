//! `vitrine index`: embed the catalogue with a system, incrementally (see [`crate::index`]).

use super::progress::wait_with_bar;
use crate::index::{self, BuildOptions, IndexReport, Precision};
use crate::jobs::Job;
use crate::model::system::IMAGENET_LITE0;
use anyhow::Context;
use std::path::Path;
use std::process::ExitCode;

/// Failures printed one per line before the rest are only counted.
const FAILURES_SHOWN: usize = 20;

#[derive(Debug, clap::Args)]
pub struct IndexArgs {
    /// The system to embed with (`vitrine systems` lists them).
    #[arg(long, default_value = IMAGENET_LITE0, value_name = "NAME")]
    pub system: String,
    /// Embed every item again instead of only new and changed ones.
    #[arg(long)]
    pub rebuild: bool,
    /// Store the rows at half precision: half the memory and disk, single searches about
    /// twice as fast on big catalogues; the recall@10 against f32 is measured and printed.
    /// Later updates keep the index's precision.
    #[arg(long, conflicts_with = "f32")]
    pub f16: bool,
    /// Store the rows at full precision (the default for a new index); an f16 index is
    /// embedded again, as rounded rows cannot be made exact.
    #[arg(long)]
    pub f32: bool,
    /// Print the report as JSON (failures included).
    #[arg(long)]
    pub json: bool,
}

pub fn run(dir: &Path, device: &str, args: &IndexArgs) -> anyhow::Result<ExitCode> {
    let device = crate::device::device(device)?;
    let dir = dir.to_path_buf();
    let name = args.system.clone();
    let precision = if args.f16 {
        Some(Precision::F16)
    } else if args.f32 {
        Some(Precision::F32)
    } else {
        None
    };
    let options = BuildOptions {
        full_rebuild: args.rebuild,
        precision,
        ..BuildOptions::default()
    };
    let job = Job::spawn("index", None, move |ctx| {
        index::build_in(&dir, &name, &device, &options, ctx)
    });
    let report = wait_with_bar(job)
        .with_context(|| format!("cannot index the catalogue with {}", args.system))?;
    print_failures(&report);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", summary(&report));
        if let Some(why) = &report.rebuilt {
            println!("  embedded every item: {why}");
        }
        println!(
            "  {} ({} items × {}, {})",
            report.path.display(),
            report.indexed,
            report.dim,
            report.precision
        );
        if let Some(recall) = report.f16_recall_at_10 {
            let queries = (report.indexed as usize).min(index::RECALL_QUERIES);
            println!("  {}", recall_line(recall, queries));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `Index imagenet-lite0: embedded N new, kept M, removed K, failed F, in S s, X images/s`
/// (the rate only when something was embedded).
pub fn summary(report: &IndexReport) -> String {
    let rate = if report.embedded > 0 {
        format!(", {:.1} images/s", report.images_per_s)
    } else {
        String::new()
    };
    format!(
        "Index {}: embedded {} new, kept {}, removed {}, failed {}, in {:.1} s{rate}",
        report.system,
        report.embedded,
        report.kept,
        report.removed,
        report.failed.len(),
        report.elapsed_secs,
    )
}

/// What rounding to f16 cost, in words.
pub fn recall_line(recall: f64, queries: usize) -> String {
    format!(
        "f16 rows find {:.1} % of each item's 10 nearest neighbours under f32 (recall@10, {} \
         items as queries)",
        100.0 * recall,
        queries
    )
}

/// Each failed image on stderr (path and reason), the first few by name.
fn print_failures(report: &IndexReport) {
    for failure in report.failed.iter().take(FAILURES_SHOWN) {
        eprintln!(
            "skipped item {}: {}: {}",
            failure.item_id,
            failure.image.display(),
            failure.reason
        );
    }
    if report.failed.len() > FAILURES_SHOWN {
        eprintln!(
            "… and {} more images that could not be embedded",
            report.failed.len() - FAILURES_SHOWN
        );
    }
}

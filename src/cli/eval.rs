//! `vitrine eval retrieval`: how well a system retrieves on this library (see
//! [`crate::search::evaluate_retrieval`]); `vitrine eval classify`: how well a trained
//! system predicts labels on its test split ([`crate::train::evaluate_classification`]).

use super::progress::wait_with_bar;
use crate::jobs::Job;
use crate::library::Library;
use crate::model::system::{self, IMAGENET_LITE0};
use crate::search::{self, RetrievalReport, Searcher, TopNReport};
use anyhow::Context;
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum EvalCommand {
    /// In-shop, street-to-shop and DeepFashion retrieval accuracy of a system.
    Retrieval(RetrievalArgs),
    /// Label prediction of a trained system on its test split: IoU, precision, recall (eq. 5).
    Classify(ClassifyArgs),
}

#[derive(Debug, clap::Args)]
pub struct ClassifyArgs {
    /// The trained system to evaluate (`vitrine systems` lists them).
    #[arg(long, default_value = IMAGENET_LITE0, value_name = "NAME")]
    pub system: String,
    /// Print JSON: {"system", "iou", "precision", "recall", "samples"}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct RetrievalArgs {
    /// The system to evaluate (`vitrine systems` lists them).
    #[arg(long, default_value = IMAGENET_LITE0, value_name = "NAME")]
    pub system: String,
    /// Results per in-shop query.
    #[arg(short, default_value_t = 10)]
    pub k: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(dir: &Path, device: &str, cmd: &EvalCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        EvalCommand::Retrieval(args) => retrieval(dir, device, args),
        EvalCommand::Classify(args) => classify(dir, device, args),
    }
}

fn classify(dir: &Path, device: &str, args: &ClassifyArgs) -> anyhow::Result<ExitCode> {
    let device = system::device(device)?;
    let dir = dir.to_path_buf();
    let name = args.system.clone();
    let job = Job::spawn("eval classify", None, move |ctx| {
        let lib = Library::open(&dir)?;
        let system = system::System::load(&lib, &name, &device)?;
        crate::train::evaluate_classification(&lib, &system, ctx)
    });
    let m = wait_with_bar(job)
        .with_context(|| format!("cannot evaluate classification with {}", args.system))?;
    if args.json {
        let json = serde_json::json!({
            "system": args.system,
            "iou": m.iou,
            "precision": m.precision,
            "recall": m.recall,
            "samples": m.samples,
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        println!(
            "Classification with {} on its test split ({} items): IoU {:.3}, precision {:.3}, \
             recall {:.3}",
            args.system, m.samples, m.iou, m.precision, m.recall
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn retrieval(dir: &Path, device: &str, args: &RetrievalArgs) -> anyhow::Result<ExitCode> {
    let device = system::device(device)?;
    let dir = dir.to_path_buf();
    let (name, k) = (args.system.clone(), args.k);
    let job = Job::spawn("eval retrieval", None, move |ctx| {
        let lib = Library::open(&dir)?;
        let searcher = Searcher::open(&lib, &name, &device)?;
        search::evaluate_retrieval(&lib, &searcher, k, ctx)
    });
    let report = wait_with_bar(job)
        .with_context(|| format!("cannot evaluate retrieval with {}", args.system))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(report: &RetrievalReport) {
    let s = &report.in_shop;
    println!("Retrieval with {}", report.system);
    println!(
        "  in-shop ({} queries, top {}): label IoU {:.3}, same category {:.3}, same subtype {:.3}",
        s.queries, s.k, s.mean_label_iou, s.category_precision, s.subtype_precision
    );
    let top_n = |what: &str, r: &Option<TopNReport>| match r {
        Some(r) => println!(
            "  {what} ({} queries{}): top-1 {:.3}, top-5 {:.3}, top-10 {:.3}, top-20 {:.3}",
            r.queries,
            if r.skipped > 0 {
                format!(", {} skipped", r.skipped)
            } else {
                String::new()
            },
            r.top1,
            r.top5,
            r.top10,
            r.top20
        ),
        None => println!("  {what}: no query set in this library"),
    };
    top_n("street-to-shop", &report.street_to_shop);
    top_n("DeepFashion query→gallery", &report.deepfashion);
}

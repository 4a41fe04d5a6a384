//! `vitrine eval retrieval`: how well a system retrieves on this library (see
//! [`crate::eval::retrieval::evaluate_retrieval`]) or, with `--queries`, for held-out photos that are
//! not in the catalogue ([`crate::eval::evaluate_held_out`]); `vitrine eval classify`: how
//! well a trained system's classifier labels its test split or held-out photos
//! ([`crate::eval::evaluate_classification`]).

use super::progress::wait_with_bar;
use crate::eval::retrieval::{self, RetrievalReport, TopNReport};
use crate::eval::{self, ClassifyReport, HeldOutReport};
use crate::index::scan::ColourWeight;
use crate::jobs::Job;
use crate::library::Library;
use crate::model::system::{self, IMAGENET_LITE0};
use crate::search::Searcher;
use crate::sources::import::FolderSplit;
use crate::train::background::{self, CutoutSurvey, SurveyPhoto};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum EvalCommand {
    /// Retrieval accuracy of a system: in-shop, street-to-shop and DeepFashion on this
    /// library, or with --queries on held-out labelled photos.
    Retrieval(RetrievalArgs),
    /// Label prediction of a trained system on its test split (or on --queries): IoU,
    /// precision, recall (eq. 5) and top-1 category accuracy.
    Classify(ClassifyArgs),
    /// How often the background cut-out can be trusted on this catalogue (or on --photos):
    /// the share of photos background augmentation uses, per category.
    Cutouts(CutoutArgs),
}

#[derive(Debug, clap::Args)]
pub struct CutoutArgs {
    /// Photos to check instead of the catalogue: a CSV or a folder (as for --queries).
    #[arg(long, value_name = "FILE.csv|DIR")]
    pub photos: Option<PathBuf>,
    /// Check at most this many photos, spread evenly over the catalogue.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Also write a contact sheet of the first 32 checked photos: each cut-out pasted on a
    /// training scene (green frame), or the skipped photo with its would-be mask in red.
    #[arg(long, value_name = "OUT.png")]
    pub grid: Option<PathBuf>,
    /// Print the survey as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A held-out, labelled query set.
#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// Held-out photos that are not in the catalogue: a CSV (image, category, labels …,
    /// as for `vitrine import csv`) or a folder DIR/<category>/<image>.
    #[arg(long, value_name = "FILE.csv|DIR")]
    pub queries: Option<PathBuf>,
    /// With a folder of split folders (train/validation/test): use this one.
    #[arg(long, requires = "queries", value_parser = ["train", "validation", "test"])]
    pub split: Option<String>,
}

impl QueryArgs {
    fn split(&self) -> Option<FolderSplit> {
        self.split.as_deref().and_then(FolderSplit::parse)
    }
}

#[derive(Debug, clap::Args)]
pub struct ClassifyArgs {
    /// The trained system to evaluate (`vitrine systems` lists them).
    #[arg(long, default_value = IMAGENET_LITE0, value_name = "NAME")]
    pub system: String,
    #[command(flatten)]
    pub queries: QueryArgs,
    /// Print JSON: {"system", "photos_from", "iou", "precision", "recall", "samples",
    /// "skipped", "single_label", "top1_accuracy"}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct RetrievalArgs {
    /// The system to evaluate (`vitrine systems` lists them).
    #[arg(long, default_value = IMAGENET_LITE0, value_name = "NAME")]
    pub system: String,
    /// Results per query.
    #[arg(short, default_value_t = 10)]
    pub k: usize,
    #[command(flatten)]
    pub queries: QueryArgs,
    /// Measure the colour ↔ shape dial instead: in-shop category and colour precision at
    /// top K for each of these colour weights (0 to 1, comma-separated, e.g.
    /// 0,0.25,0.5,0.75,1); needs a system with a shallow colour branch.
    #[arg(
        long,
        value_delimiter = ',',
        num_args = 1..,
        value_name = "W,…",
        conflicts_with = "queries",
        allow_negative_numbers = true
    )]
    pub colour_weights: Vec<ColourWeight>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(dir: &Path, device: &str, cmd: &EvalCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        EvalCommand::Retrieval(args) if !args.colour_weights.is_empty() => {
            colour_dial(dir, device, args)
        }
        EvalCommand::Retrieval(args) => match &args.queries.queries {
            Some(queries) => held_out(dir, device, args, queries),
            None => retrieval(dir, device, args),
        },
        EvalCommand::Classify(args) => classify(dir, device, args),
        EvalCommand::Cutouts(args) => cutouts(dir, args),
    }
}

/// Photos in the contact sheet of `eval cutouts --grid`.
const SHEET_PHOTOS: usize = 32;

fn cutouts(dir: &Path, args: &CutoutArgs) -> anyhow::Result<ExitCode> {
    let dir = dir.to_path_buf();
    let (photos_from, limit, grid) = (args.photos.clone(), args.limit, args.grid.clone());
    let job = Job::spawn("eval cutouts", None, move |ctx| {
        let photos = match &photos_from {
            Some(path) => {
                let set = eval::load_queries(path, None, ctx)?;
                let mut photos: Vec<SurveyPhoto> = set
                    .photos
                    .into_iter()
                    .map(|p| SurveyPhoto {
                        category: p.category().map(str::to_owned),
                        image: p.image,
                    })
                    .collect();
                if let Some(limit) = limit {
                    let n = photos.len();
                    let take = limit.min(n);
                    photos = (0..take)
                        .map(|i| photos[i * n / take.max(1)].clone())
                        .collect();
                }
                photos
            }
            None => background::library_photos(&Library::open(&dir)?, limit)?,
        };
        let survey = background::survey_cut_outs(&photos, ctx)?;
        if let Some(out) = &grid {
            let shown = &photos[..photos.len().min(SHEET_PHOTOS)];
            let (_, sheet) = background::cut_out_sheet(shown, 8, 128)?;
            sheet
                .save(out)
                .map_err(|e| crate::Error::image(out, format!("cannot write: {e}")))?;
        }
        Ok(survey)
    });
    let survey = wait_with_bar(job).context("cannot check the cut-outs")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&survey)?);
    } else {
        print_cutouts(&survey);
    }
    Ok(if survey.overall.checked == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn print_cutouts(s: &CutoutSurvey) {
    println!(
        "The background cut-out is reliable on {} of {} photos ({:.1} %){}",
        s.overall.reliable,
        s.overall.checked,
        100.0 * s.overall.reliable_fraction,
        if s.unreadable > 0 {
            format!("; {} could not be read", s.unreadable)
        } else {
            String::new()
        }
    );
    for (verdict, n) in &s.verdicts {
        println!("  {:<20} {n}", verdict.describe());
    }
    if s.per_category.len() > 1 {
        println!("  per category:");
        for (category, c) in &s.per_category {
            let name = if category.is_empty() {
                "(none)"
            } else {
                category
            };
            println!(
                "    {name:<16} {:>5} of {:>5} ({:.1} %)",
                c.reliable,
                c.checked,
                100.0 * c.reliable_fraction
            );
        }
    }
}

fn classify(dir: &Path, device: &str, args: &ClassifyArgs) -> anyhow::Result<ExitCode> {
    let device = crate::device::device(device)?;
    let dir = dir.to_path_buf();
    let name = args.system.clone();
    let (queries, split) = (args.queries.queries.clone(), args.queries.split());
    let job = Job::spawn("eval classify", None, move |ctx| {
        let lib = Library::open(&dir)?;
        let system = system::System::load(&lib, &name, &device)?;
        let photos = match &queries {
            Some(path) => eval::load_queries(path, split, ctx)?,
            None => eval::test_split_photos(&lib, &system)?,
        };
        eval::evaluate_classification(&system, &photos, ctx)
    });
    let report = wait_with_bar(job)
        .with_context(|| format!("cannot evaluate classification with {}", args.system))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_classify(&report);
    }
    Ok(if report.metrics.samples == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn print_classify(r: &ClassifyReport) {
    let m = &r.metrics;
    println!(
        "Classification with {} on {} ({} photos): IoU {:.3}, precision {:.3}, recall {:.3}",
        r.system, r.photos_from, m.samples, m.iou, m.precision, m.recall
    );
    match r.top1_accuracy {
        Some(top1) => println!("  top-1 category accuracy {top1:.3}"),
        None if !r.single_label => {
            println!(
                "  top-1 category accuracy: not measured (not every photo has exactly one category)"
            )
        }
        None => println!("  top-1 category accuracy: not measured (the system knows no category)"),
    }
    print_skipped(&r.skipped);
}

fn held_out(
    dir: &Path,
    device: &str,
    args: &RetrievalArgs,
    queries: &Path,
) -> anyhow::Result<ExitCode> {
    let device = crate::device::device(device)?;
    let dir = dir.to_path_buf();
    let (name, k) = (args.system.clone(), args.k);
    let (queries, split) = (queries.to_path_buf(), args.queries.split());
    let job = Job::spawn("eval retrieval", None, move |ctx| {
        let lib = Library::open(&dir)?;
        let set = eval::load_queries(&queries, split, ctx)?;
        let searcher = Searcher::open_fresh(&lib, &name, &device, ctx)?;
        eval::evaluate_held_out(&searcher, &set, k, ctx)
    });
    let report = wait_with_bar(job)
        .with_context(|| format!("cannot evaluate retrieval with {}", args.system))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_held_out(&report);
    }
    Ok(if report.queries == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn print_held_out(r: &HeldOutReport) {
    println!(
        "Retrieval with {} for {} held-out queries from {} (top {}, {} catalogue items)",
        r.system, r.queries, r.queries_from, r.k, r.catalogue_items
    );
    match &r.category {
        Some(c) => {
            println!(
                "  same-category precision@{k} {:.3}, kNN@{k} accuracy {:.3}, nearest-neighbour \
                 accuracy {:.3} ({} queries with a category)",
                c.precision,
                c.knn_accuracy,
                c.nearest_accuracy,
                c.queries,
                k = r.k
            );
            for (category, s) in &r.per_category {
                println!(
                    "    {category:<16} {:>5} queries: precision {:.3}, kNN {:.3}",
                    s.queries, s.precision, s.knn_accuracy
                );
            }
        }
        None => println!("  no query has a category: no category scores"),
    }
    if let Some(iou) = r.mean_label_iou {
        println!("  mean label IoU of the top {}: {iou:.3}", r.k);
    }
    if r.queries_in_catalogue > 0 {
        println!(
            "  note: {} queries are catalogue items themselves (left out of their own results)",
            r.queries_in_catalogue
        );
    }
    print_skipped(&r.skipped);
}

/// At most this many skipped queries are listed.
const SKIPPED_SHOWN: usize = 20;

fn print_skipped(skipped: &[crate::sources::import::Skipped]) {
    if skipped.is_empty() {
        return;
    }
    eprintln!("  {} queries skipped:", skipped.len());
    for s in skipped.iter().take(SKIPPED_SHOWN) {
        eprintln!("    {}: {}", s.location, s.reason);
    }
    if skipped.len() > SKIPPED_SHOWN {
        eprintln!("    … and {} more", skipped.len() - SKIPPED_SHOWN);
    }
}

fn retrieval(dir: &Path, device: &str, args: &RetrievalArgs) -> anyhow::Result<ExitCode> {
    let device = crate::device::device(device)?;
    let dir = dir.to_path_buf();
    let (name, k) = (args.system.clone(), args.k);
    let job = Job::spawn("eval retrieval", None, move |ctx| {
        let lib = Library::open(&dir)?;
        let searcher = Searcher::open_fresh(&lib, &name, &device, ctx)?;
        retrieval::evaluate_retrieval(&lib, &searcher, k, ctx)
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

/// `eval retrieval --colour-weights …`: the in-shop precisions at each weight.
fn colour_dial(dir: &Path, device: &str, args: &RetrievalArgs) -> anyhow::Result<ExitCode> {
    let device = crate::device::device(device)?;
    let dir = dir.to_path_buf();
    let (name, k, weights) = (args.system.clone(), args.k, args.colour_weights.clone());
    let job = Job::spawn("eval colour dial", None, move |ctx| {
        let lib = Library::open(&dir)?;
        let searcher = Searcher::open_fresh(&lib, &name, &device, ctx)?;
        retrieval::colour_dial_sweep(&searcher, k, &weights, ctx)
    });
    let points = wait_with_bar(job)
        .with_context(|| format!("cannot measure the colour dial of {}", args.system))?;
    if args.json {
        let output = serde_json::json!({ "system": args.system, "k": args.k, "points": points });
        println!("{}", serde_json::to_string_pretty(&output)?);
        return Ok(ExitCode::SUCCESS);
    }
    let queries = points.first().map_or(0, |p| p.in_shop.queries);
    println!(
        "Colour ↔ shape dial of {} (in-shop, {queries} queries, top {})",
        args.system, args.k
    );
    println!(
        "  colour weight  colour P@{k}  category P@{k}  subtype P@{k}  label IoU",
        k = args.k
    );
    for p in &points {
        let s = &p.in_shop;
        let colour = if s.colour_queries > 0 {
            format!("{:.3}", s.colour_precision)
        } else {
            "n/a".to_owned() // no item has a colour label
        };
        println!(
            "  {:>13.2}  {:>11}  {:>13.3}  {:>12.3}  {:>9.3}",
            p.colour_weight, colour, s.category_precision, s.subtype_precision, s.mean_label_iou
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(report: &RetrievalReport) {
    let s = &report.in_shop;
    println!("Retrieval with {}", report.system);
    println!(
        "  in-shop ({} queries, top {}): label IoU {:.3}, same category {:.3}, same subtype \
         {:.3}, same colour {:.3}",
        s.queries,
        s.k,
        s.mean_label_iou,
        s.category_precision,
        s.subtype_precision,
        s.colour_precision
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

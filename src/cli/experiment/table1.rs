//! `vitrine experiment table1`: trains and measures the V1–V5 analogues of the paper's
//! Table I ([`crate::experiment::table1`]) and prints them as one table.

use super::super::progress::wait_with_bar;
use crate::eval;
use crate::experiment::table1::{self, Dataset, Table1Options, Table1Report};
use crate::jobs::Job;
use crate::library::Library;
use crate::sources::import::FolderSplit;
use crate::train::{BackgroundAug, Mode};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Table1Args {
    /// What to train and measure on: the library as it is (default); `demo` (drawn first
    /// when the library is empty); or a folder split into train/validation/test (its train
    /// split imported when the library is empty, its test split searched as held-out photos).
    #[arg(long, value_name = "demo|DIR")]
    pub dataset: Option<String>,
    /// Held-out labelled photos every system also searches: a CSV or a folder (as for
    /// `vitrine eval retrieval --queries`).
    #[arg(long, value_name = "FILE.csv|DIR", conflicts_with = "dataset")]
    pub queries: Option<PathBuf>,
    /// With --queries, a folder of split folders: use this split.
    #[arg(long, requires = "queries", value_parser = ["train", "validation", "test"])]
    pub split: Option<String>,
    /// Only these variants, e.g. V1,V2 (default: all five).
    #[arg(long, value_delimiter = ',', value_name = "V1,V2,…")]
    pub only: Vec<String>,
    /// The systems are named PREFIX-v1 … PREFIX-v5; a run replaces systems of those names.
    #[arg(long, default_value = "table1")]
    pub prefix: String,
    /// Training mode of every system (head: the backbone frozen, its features cached, which
    /// makes five systems affordable on a laptop; partial or full train more of it).
    #[arg(long, default_value = "head", value_parser = ["head", "partial", "full", "auto"])]
    pub mode: String,
    /// With partial mode: the backbone's last blocks that train.
    #[arg(long, default_value_t = 3)]
    pub blocks: usize,
    /// Most epochs per system (each stops early when validation IoU stops improving).
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Background augmentation of every system (the paper's five all use it): real, off,
    /// procedural or a folder of scenes.
    #[arg(long, default_value = "real", value_name = "real|off|procedural|DIR")]
    pub background_aug: String,
    /// Decides every split and random augmentation.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Measure, without training again, systems of the table's names whose finished runs had
    /// exactly this recipe (continues an interrupted experiment).
    #[arg(long)]
    pub reuse: bool,
    /// Also write the table as Markdown to this file.
    #[arg(long, value_name = "OUT.md")]
    pub report: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(dir: &Path, device: &str, args: &Table1Args) -> anyhow::Result<ExitCode> {
    if let Some(out) = &args.report {
        crate::library::check_output_path(dir, out)?;
    }
    let device = crate::device::device(device)?;
    let mut options = Table1Options {
        prefix: args.prefix.clone(),
        only: args.only.clone(),
        reuse: args.reuse,
        ..Table1Options::default()
    };
    options.recipe.mode = Mode::parse(&args.mode, args.blocks)?;
    options.recipe.epochs = args.epochs;
    options.recipe.background = BackgroundAug::parse(&args.background_aug);
    options.recipe.seed = args.seed;
    let dataset = args
        .dataset
        .as_deref()
        .map_or(Dataset::Library, Dataset::parse);
    let queries = args.queries.clone();
    let split = args.split.as_deref().and_then(FolderSplit::parse);
    let dir = dir.to_path_buf();
    let job = Job::spawn("experiment table1", None, move |ctx| {
        let mut lib = Library::open(&dir)?;
        let mut options = options;
        options.queries = match &queries {
            Some(path) => Some(eval::load_queries(path, split, ctx)?),
            None => dataset.prepare(&mut lib, ctx)?,
        };
        table1::run(&mut lib, &options, &device, ctx)
    });
    let report = wait_with_bar(job).context("cannot run the Table I experiment")?;
    if let Some(path) = &args.report {
        write_report(path, &report)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_markdown());
    }
    Ok(ExitCode::SUCCESS)
}

fn write_report(path: &Path, report: &Table1Report) -> anyhow::Result<()> {
    let text = format!(
        "# Table I, reproduced on this library\n\n{}",
        report.to_markdown()
    );
    crate::atomic_file::write(path, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

//! The command line: argument definitions (clap derive; the doc comments are the help text)
//! and one module per subcommand. Each subcommand is a thin shell over library calls; errors
//! go back to `main`, which prints them once and exits non-zero.

mod bench;
mod catalog;
mod demo;
mod eval;
mod experiment;
mod import;
mod index;
mod ohs;
mod personalize;
mod progress;
mod query;
mod systems;
mod train;
mod weights;

use crate::error::Result;
use crate::library::Library;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Vitrine: visual fashion search, training and human evaluation.
///
/// Without a subcommand, opens the desktop app.
#[derive(Debug, Parser)]
#[command(name = "vitrine", version, about, long_about = None)]
pub struct Cli {
    /// The library folder (default: the platform data dir, e.g. ~/.local/share/vitrine/default).
    #[arg(long, global = true, value_name = "DIR")]
    pub library: Option<PathBuf>,
    /// Where models run: cpu, cuda[:N] with the `cuda` feature, or auto (a GPU if there is one).
    #[arg(long, global = true, default_value = "cpu", value_name = "DEVICE")]
    pub device: String,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the desktop app (the default).
    Gui,
    /// Draw the demo catalogue: shop photos, synthetic users with ratings, street queries.
    Demo(demo::DemoArgs),
    /// Import a real catalogue into the library.
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// Show what the library holds.
    Catalog(catalog::CatalogArgs),
    /// List the systems (named, frozen models) this library can embed and search with.
    Systems(systems::SystemsArgs),
    /// Embed the catalogue with a system; only new and changed images are embedded again.
    Index(index::IndexArgs),
    /// Search the catalogue with image files (folders: every image in them).
    Query(query::QueryArgs),
    /// Fine-tune a new system on this library's catalogue and labels.
    Train(train::TrainArgs),
    /// Measure how well a system does.
    #[command(subcommand)]
    Eval(eval::EvalCommand),
    /// Objective-guided human score studies: create, list sheets, score, report, merge.
    #[command(subcommand)]
    Ohs(ohs::OhsCommand),
    /// Personalised recommendations: train the personaliser, compare methods by Recall@K,
    /// recommend for a user.
    #[command(subcommand)]
    Personalize(personalize::PersonalizeCommand),
    /// The paper's experiments, each one command: Table I's ablation, Fig. 5's extractors.
    #[command(subcommand)]
    Experiment(experiment::ExperimentCommand),
    /// Measure throughput on this machine.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Bring pretrained weights into the form the models load.
    #[command(subcommand)]
    Weights(weights::WeightsCommand),
}

impl Cli {
    /// The library folder these arguments name.
    pub fn library_dir(&self) -> Result<PathBuf> {
        match &self.library {
            Some(dir) => Ok(dir.clone()),
            None => Library::default_dir(),
        }
    }
}

/// Runs a CLI subcommand (`Gui` and no subcommand are handled by `main`).
pub fn run(cli: &Cli) -> anyhow::Result<std::process::ExitCode> {
    let dir = cli.library_dir()?;
    match &cli.command {
        None | Some(Command::Gui) => Ok(std::process::ExitCode::SUCCESS),
        Some(Command::Demo(args)) => demo::run(&dir, args),
        Some(Command::Import(cmd)) => import::run(&dir, cmd),
        Some(Command::Catalog(args)) => catalog::run(&dir, args),
        Some(Command::Systems(args)) => systems::run(&dir, args),
        Some(Command::Index(args)) => index::run(&dir, &cli.device, args),
        Some(Command::Query(args)) => query::run(&dir, &cli.device, args),
        Some(Command::Train(args)) => train::run(&dir, &cli.device, args),
        Some(Command::Eval(cmd)) => eval::run(&dir, &cli.device, cmd),
        Some(Command::Ohs(cmd)) => ohs::run(&dir, &cli.device, cmd),
        Some(Command::Personalize(cmd)) => personalize::run(&dir, &cli.device, cmd),
        Some(Command::Experiment(cmd)) => experiment::run(&dir, &cli.device, cmd),
        Some(Command::Bench(cmd)) => bench::run(&dir, &cli.device, cmd),
        Some(Command::Weights(cmd)) => weights::run(cmd),
    }
}

//! `vitrine experiment`: the paper's experiments, each one command ([`crate::experiment`]).

mod fig5;
mod table1;

use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum ExperimentCommand {
    /// Table I: train the V1–V5 analogues the shipped weights allow and evaluate each.
    Table1(Box<table1::Table1Args>),
    /// Fig. 5: Recall@K of the cart-based recommender for each feature extractor, beside the
    /// collaborative-filtering baselines, with and without K-Splits.
    Fig5(fig5::Fig5Args),
}

pub fn run(dir: &Path, device: &str, cmd: &ExperimentCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ExperimentCommand::Table1(args) => table1::run(dir, device, args),
        ExperimentCommand::Fig5(args) => fig5::run(dir, device, args),
    }
}

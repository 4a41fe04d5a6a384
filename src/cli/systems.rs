//! `vitrine systems`: the systems this library can search with (the built-in one first).

use crate::library::Library;
use crate::model::system::System;
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct SystemsArgs {
    /// Print JSON: [{"name", "backbone", "embedding_dim", "label_count", "builtin",
    /// "colour_dim"}] (colour_dim: the colour part of its index, 0 without a shallow branch).
    #[arg(long)]
    pub json: bool,
}

pub fn run(dir: &Path, args: &SystemsArgs) -> anyhow::Result<ExitCode> {
    let lib = Library::open_for_reading(dir)?;
    let systems = System::list(&lib)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&systems)?);
        return Ok(ExitCode::SUCCESS);
    }
    let width = systems
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(0)
        .max(4);
    println!(
        "{:width$}  {:20}  {:>9}  {:>6}",
        "NAME", "BACKBONE", "EMBEDDING", "LABELS"
    );
    for s in &systems {
        println!(
            "{:width$}  {:20}  {:>9}  {:>6}{}",
            s.name,
            s.backbone,
            s.embedding_dim,
            s.label_count,
            if s.builtin { "  built-in" } else { "" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

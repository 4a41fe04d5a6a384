//! `vitrine catalog`: what the library holds.

use crate::catalog::LabelGroup;
use crate::library::Library;
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct CatalogArgs {
    /// Print counts as JSON: {"items", "labels", "users", "ratings", "systems", "street_queries"}.
    #[arg(long)]
    pub json: bool,
}

pub fn run(dir: &Path, args: &CatalogArgs) -> anyhow::Result<ExitCode> {
    let lib = Library::open_for_reading(dir)?;
    let counts = lib.store.counts()?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&counts)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("Library {}", lib.root().display());
    println!(
        "  {} items, {} labels, {} users, {} ratings, {} systems, {} street queries",
        counts.items,
        counts.labels,
        counts.users,
        counts.ratings,
        counts.systems,
        counts.street_queries
    );
    let labels = lib.store.label_counts()?;
    for group in LabelGroup::ALL {
        let in_group: Vec<String> = labels
            .iter()
            .filter(|l| l.label.group == group)
            .take(12)
            .map(|l| format!("{} ({})", l.label.name, l.items))
            .collect();
        if !in_group.is_empty() {
            let total = labels.iter().filter(|l| l.label.group == group).count();
            let more = if total > in_group.len() {
                format!(" … {} in all", total)
            } else {
                String::new()
            };
            println!("  {group:10} {}{more}", in_group.join(", "));
        }
    }
    Ok(ExitCode::SUCCESS)
}

//! `vitrine demo`: draw the demo catalogue into the library.

use super::progress::wait_with_bar;
use crate::jobs::Job;
use crate::library::Library;
use crate::sources::demo::{self, DemoOptions};
use anyhow::Context;
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Number of catalogue items to draw.
    #[arg(long, default_value_t = 2000)]
    pub items: usize,
    /// Number of simulated shoppers (each rates 5–7 items; 4,000 give 600 test users, so
    /// Recall@K is known to about ±0.02).
    #[arg(long, default_value_t = 4000)]
    pub users: usize,
    /// Number of street photos (items re-drawn on cluttered scenes) with known answers.
    #[arg(long, default_value_t = 200)]
    pub street: usize,
    /// Random seed: the same seed draws the same catalogue.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(dir: &Path, args: &DemoArgs) -> anyhow::Result<ExitCode> {
    let opts = DemoOptions {
        items: args.items,
        users: args.users,
        street: args.street,
        seed: args.seed,
        ..DemoOptions::default()
    };
    let dir = dir.to_path_buf();
    let job = Job::spawn("demo catalogue", None, move |ctx| {
        let mut lib = Library::open(&dir)?;
        demo::generate(&mut lib, &opts, ctx)
    });
    let report = wait_with_bar(job).context("cannot create the demo catalogue")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "Drew {} items ({} labels), {} users with {} ratings and {} street queries in {:.1} s.",
            report.items,
            report.labels,
            report.users,
            report.ratings,
            report.street_queries,
            report.elapsed_secs
        );
    }
    Ok(ExitCode::SUCCESS)
}

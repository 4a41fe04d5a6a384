//! `vitrine experiment fig5`: Recall@K of the cart-based recommender for each feature
//! extractor, with and without K-Splits, beside the baselines ([`crate::experiment::fig5`]).

use crate::cli::progress::wait_with_bar;
use crate::experiment::fig5::{self, Fig5Options, Fig5Report};
use crate::jobs::Job;
use crate::personalize::eval::SUMMARY_KS;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Fig5Args {
    /// The systems to compare, comma-separated (default: every system whose index is up to
    /// date, imagenet-lite0 first).
    #[arg(long, value_delimiter = ',', value_name = "A,B,…")]
    systems: Vec<String>,
    /// The user split, as `personalize eval --seed`.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print `{"seed", "users_tested", "rows":[{"label", "kind", "system", "ksplits",
    /// "users_tested", "name", "recall":{"1",…,"50"}, "recall10_se", "ndcg10",
    /// "category_accuracy"}], "notes", "elapsed_secs"}`.
    #[arg(long)]
    json: bool,
    /// Also write Recall@1…50 and NDCG@10 of every row as CSV.
    #[arg(long, value_name = "OUT.csv")]
    csv: Option<PathBuf>,
}

pub fn run(dir: &Path, device: &str, args: &Fig5Args) -> anyhow::Result<ExitCode> {
    if let Some(out) = &args.csv {
        crate::library::check_output_path(dir, out)?;
    }
    let device = crate::device::device(device)?;
    let root = dir.to_path_buf();
    let options = Fig5Options {
        systems: args.systems.iter().map(|s| s.trim().to_owned()).collect(),
        seed: args.seed,
    };
    let job = Job::spawn("experiment fig5", None, move |ctx| {
        fig5::run(&root, &options, &device, ctx)
    });
    let report = wait_with_bar(job).context("cannot run the Fig. 5 experiment")?;
    if let Some(out) = &args.csv {
        std::fs::write(out, report.to_csv())
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print_table(&report);
        if !report.notes.iter().any(|n| n.starts_with(fig5::NOT_SAVED)) {
            println!("  saved: {}", fig5::fig5_path(dir).display());
        }
        if let Some(out) = &args.csv {
            println!("  every K: {}", out.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(report: &Fig5Report) {
    println!(
        "Fig. 5: Recall@K on {} test users' last purchase (seed {}), in {:.1} s:",
        report.users_tested, report.seed, report.elapsed_secs
    );
    let width = report
        .rows
        .iter()
        .map(|r| r.label().chars().count())
        .max()
        .unwrap_or(0)
        .max(6);
    print!("  {:<width$}", "method");
    for k in SUMMARY_KS {
        print!(" {:>7}", format!("R@{k}"));
        if k == 10 {
            print!(" {:>6}", "±");
        }
    }
    println!(" {:>8}", "NDCG@10");
    for row in &report.rows {
        print!("  {:<width$}", row.label());
        for k in SUMMARY_KS {
            print!(" {:>7.3}", row.metrics.recall(k));
            if k == 10 {
                print!(
                    " {:>6.3}",
                    row.metrics.recall_standard_error(10, row.users_tested)
                );
            }
        }
        println!(" {:>8.3}", row.metrics.ndcg10);
    }
    println!("  ± is the standard error of R@10.");
    for note in &report.notes {
        println!("  {note}");
    }
}

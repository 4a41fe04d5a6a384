//! `vitrine import …`: bring a real catalogue into the library. Each importer runs in one
//! transaction; the report lists what was imported and every skipped row with its reason.

use super::progress::wait_with_bar;
use crate::catalog::vocabulary::VocabularyRule;
use crate::jobs::Job;
use crate::library::Library;
use crate::sources::import::{self, ImportOptions, ImportReport};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum ImportCommand {
    /// A folder of images and a CSV with columns image[,id,title,category,subtype,colour,labels].
    Csv {
        /// The CSV file (header row required).
        csv: PathBuf,
        /// Folder that relative image paths are resolved against (default: the CSV's folder).
        #[arg(long, value_name = "DIR")]
        images: Option<PathBuf>,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// A folder of photos: DIR/<category>/<image> (the folder is the category), a flat
    /// folder, or split folders DIR/train|validation|test/<category>/<image>.
    Folder {
        /// The photo folder.
        dir: PathBuf,
        /// Import only this split folder of a split layout (the train split as the catalogue).
        #[arg(long, value_parser = ["train", "validation", "test"])]
        split: Option<String>,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Amazon product data: metadata and reviews as JSON lines (plain or gzip).
    Amazon {
        /// Metadata JSON lines (one product per line, with "asin").
        meta: PathBuf,
        /// Reviews JSON lines: reviewers become users, reviews become ratings.
        #[arg(long, value_name = "FILE")]
        reviews: Option<PathBuf>,
        /// Folder with one image per product, named by ASIN (.jpg, .jpeg, .png or .webp).
        #[arg(long, value_name = "DIR")]
        images: PathBuf,
        /// Keep users with at least this many reviews (the paper kept 5–7).
        #[arg(long, default_value_t = 5)]
        min_reviews: usize,
        /// Keep users with at most this many reviews.
        #[arg(long, default_value_t = 7)]
        max_reviews: usize,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Kaggle's Fashion Product Images: DIR/styles.csv and DIR/images/<id>.jpg.
    FashionProductImages {
        /// The dataset folder.
        dir: PathBuf,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// DeepFashion In-shop Clothes Retrieval: list_eval_partition.txt, list_attr_items.txt, img/.
    DeepfashionInshop {
        /// The dataset folder.
        dir: PathBuf,
        #[command(flatten)]
        common: CommonArgs,
    },
}

#[derive(Debug, clap::Args)]
pub struct CommonArgs {
    /// Keep labels that at least this many items carry.
    #[arg(long, default_value_t = VocabularyRule::default().min_count)]
    pub min_label_count: u32,
    /// Keep at most this many labels, the most frequent (the paper used 1,102).
    #[arg(long, default_value_t = VocabularyRule::default().max_size)]
    pub max_labels: usize,
    /// Fail (and import nothing) if any row would be skipped.
    #[arg(long)]
    pub strict: bool,
    /// Import at most this many items.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

impl CommonArgs {
    fn options(&self) -> ImportOptions {
        ImportOptions {
            vocabulary: VocabularyRule {
                min_count: self.min_label_count,
                max_size: self.max_labels,
            },
            strict: self.strict,
            limit: self.limit,
        }
    }
}

pub fn run(dir: &Path, cmd: &ImportCommand) -> anyhow::Result<ExitCode> {
    let dir = dir.to_path_buf();
    let (common, what) = match cmd {
        ImportCommand::Csv { common, csv, .. } => (common, csv.display().to_string()),
        ImportCommand::Amazon { common, meta, .. } => (common, meta.display().to_string()),
        ImportCommand::FashionProductImages { common, dir, .. }
        | ImportCommand::DeepfashionInshop { common, dir, .. }
        | ImportCommand::Folder { common, dir, .. } => (common, dir.display().to_string()),
    };
    let opts = common.options();
    let json = common.json;
    let job = match cmd {
        ImportCommand::Csv { csv, images, .. } => {
            let (csv, images) = (csv.clone(), images.clone());
            Job::spawn("import csv", None, move |ctx| {
                let mut lib = Library::open(&dir)?;
                import::csv::import_csv(&mut lib, &csv, images.as_deref(), &opts, ctx)
            })
        }
        ImportCommand::Folder {
            dir: photos, split, ..
        } => {
            let photos = photos.clone();
            let split = split.as_deref().and_then(import::FolderSplit::parse);
            Job::spawn("import folder", None, move |ctx| {
                let mut lib = Library::open(&dir)?;
                import::import_folder(&mut lib, &photos, split, &opts, ctx)
            })
        }
        ImportCommand::Amazon {
            meta,
            reviews,
            images,
            min_reviews,
            max_reviews,
            ..
        } => {
            let (meta, reviews, images) = (meta.clone(), reviews.clone(), images.clone());
            let users = import::amazon::UserFilter {
                min_reviews: *min_reviews,
                max_reviews: *max_reviews,
            };
            Job::spawn("import amazon", None, move |ctx| {
                let mut lib = Library::open(&dir)?;
                import::amazon::import_amazon(
                    &mut lib,
                    &meta,
                    reviews.as_deref(),
                    &images,
                    users,
                    &opts,
                    ctx,
                )
            })
        }
        ImportCommand::FashionProductImages { dir: data, .. } => {
            let data = data.clone();
            Job::spawn("import fashion product images", None, move |ctx| {
                let mut lib = Library::open(&dir)?;
                import::fashion::import_fashion_product_images(&mut lib, &data, &opts, ctx)
            })
        }
        ImportCommand::DeepfashionInshop { dir: data, .. } => {
            let data = data.clone();
            Job::spawn("import deepfashion", None, move |ctx| {
                let mut lib = Library::open(&dir)?;
                import::deepfashion::import_deepfashion_inshop(&mut lib, &data, &opts, ctx)
            })
        }
    };
    let report = wait_with_bar(job).with_context(|| format!("cannot import {what}"))?;
    print_report(&report, json)?;
    Ok(if report.imported == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// At most this many skipped rows are listed in the human-readable report.
const SKIPPED_SHOWN: usize = 20;

fn print_report(report: &ImportReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
        return Ok(());
    }
    println!(
        "Imported {} items ({} labels kept, {} users, {} ratings); skipped {}.",
        report.imported,
        report.labels_kept,
        report.users,
        report.ratings,
        report.skipped.len() as u64 + report.skipped_unlisted
    );
    for s in report.skipped.iter().take(SKIPPED_SHOWN) {
        eprintln!("  skipped {}: {}", s.location, s.reason);
    }
    let more =
        (report.skipped.len().saturating_sub(SKIPPED_SHOWN)) as u64 + report.skipped_unlisted;
    if more > 0 {
        eprintln!("  … and {more} more");
    }
    if report.imported == 0 {
        eprintln!("Nothing was imported; the library is unchanged.");
    }
    Ok(())
}

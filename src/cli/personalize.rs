//! `vitrine personalize train|eval|recommend`: the personaliser, its comparison with the
//! baselines by Recall@K, and per-group recommendations for a user (see
//! [`crate::personalize`]). The system's index is brought up to date first.

use super::progress::wait_with_bar;
use crate::jobs::Job;
use crate::model::system::IMAGENET_LITE0;
use crate::personalize::engine::{self, GroupRecommendation, PersonalizeEngine};
use crate::personalize::eval::SUMMARY_KS;
use crate::personalize::personaliser::TrainOptions;
use anyhow::Context;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum PersonalizeCommand {
    /// Train the personaliser network on users' purchase histories and save it.
    Train {
        /// The system whose embeddings it works in.
        #[arg(long, default_value = IMAGENET_LITE0, value_name = "NAME")]
        system: String,
        /// The most epochs (training stops early when validation stops improving).
        #[arg(long, default_value_t = TrainOptions::default().epochs)]
        epochs: usize,
        /// Splits users into train/validation/test and shuffles examples.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Print the training report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Recall@K (K = 1…50) and NDCG@10 of every method on each test user's last purchase.
    /// Trains the personaliser first when none is saved for this seed and these ratings.
    Eval {
        #[arg(long, default_value = IMAGENET_LITE0, value_name = "NAME")]
        system: String,
        /// The user split (and the personaliser's training, if it has to be trained).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// The most epochs, if the personaliser has to be trained.
        #[arg(long, default_value_t = TrainOptions::default().epochs)]
        epochs: usize,
        /// Print `{"users_tested":N, "methods":[{"name", "recall":{"1",…,"50"}, "recall10_se",
        /// "ndcg10", "category_accuracy"}], "ceiling": <the same for the oracle, demo only>}`.
        #[arg(long)]
        json: bool,
        /// Also write Recall@1…50 and NDCG@10 of every method as CSV.
        #[arg(long, value_name = "OUT.csv")]
        csv: Option<PathBuf>,
    },
    /// How well K-Splits sorts every user's cart by garment category: purity, same-category
    /// pairs kept together, groups per cart; the cart method and the principal-axis baseline.
    Splits {
        #[arg(long, default_value = IMAGENET_LITE0, value_name = "NAME")]
        system: String,
        /// Print `{"system", "carts", "methods":[{"name", "purity", "pair_recall", "groups_per_cart"}]}`.
        #[arg(long)]
        json: bool,
    },
    /// Recommend for a user: their cart split into groups, top K per group.
    Recommend {
        /// The user's id or key (e.g. demo-user-00003).
        #[arg(long, value_name = "ID")]
        user: String,
        #[arg(long, default_value = IMAGENET_LITE0, value_name = "NAME")]
        system: String,
        /// Recommendations per group.
        #[arg(short, default_value_t = 10)]
        k: usize,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(dir: &Path, device: &str, cmd: &PersonalizeCommand) -> anyhow::Result<ExitCode> {
    let device = crate::device::device(device)?;
    let root = dir.to_path_buf();
    match cmd {
        PersonalizeCommand::Train {
            system,
            epochs,
            seed,
            json,
        } => {
            let options = train_options(*epochs, *seed);
            let name = system.clone();
            let job = Job::spawn("personalize train", None, move |ctx| {
                engine::train_in(&root, &name, &device, &options, ctx)
            });
            let report = wait_with_bar(job)
                .with_context(|| format!("cannot train a personaliser for {system}"))?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "Personaliser for {}: {} examples from {} users; best epoch {} of {}, \
                     validation recall@10 {:.3} (untrained: {:.3})",
                    report.system,
                    report.train_examples,
                    report.train_users,
                    report.best_epoch,
                    report.epochs.len() - 1,
                    report.best_validation_recall10,
                    report.epochs[0].validation_recall10
                );
                println!("  {}", report.path.display());
            }
        }
        PersonalizeCommand::Eval {
            system,
            seed,
            epochs,
            json,
            csv,
        } => {
            if let Some(out) = csv {
                crate::library::check_output_path(&root, out)?;
            }
            let options = train_options(*epochs, *seed);
            let name = system.clone();
            let job = Job::spawn("personalize eval", None, move |ctx| {
                engine::evaluate_in(&root, &name, &device, &options, ctx)
            });
            let (report, trained) = wait_with_bar(job)
                .with_context(|| format!("cannot evaluate personalisation with {system}"))?;
            if let Some(t) = &trained {
                eprintln!(
                    "trained a personaliser first (best epoch {}), saved to {}",
                    t.best_epoch,
                    t.path.display()
                );
            }
            if let Some(out) = csv {
                std::fs::write(out, report.to_csv())
                    .with_context(|| format!("cannot write {}", out.display()))?;
            }
            if *json {
                println!("{}", serde_json::to_string_pretty(&report.to_json())?);
            } else {
                println!(
                    "Recall@K on {} test users' last purchase ({}):",
                    report.users_tested, report.system
                );
                print!("  {:<17}", "method");
                for k in SUMMARY_KS {
                    print!(" {:>7}", format!("R@{k}"));
                }
                println!(" {:>8} {:>9} {:>9}", "±R@10", "NDCG@10", "category");
                for m in report.rows() {
                    print!("  {:<17}", m.name);
                    for k in SUMMARY_KS {
                        print!(" {:>7.3}", m.recall(k));
                    }
                    let category = m
                        .category_accuracy
                        .map_or_else(|| "—".to_owned(), |a| format!("{a:.3}"));
                    println!(
                        " {:>8.3} {:>9.3} {:>9}",
                        m.recall_standard_error(10, report.users_tested),
                        m.ndcg10,
                        category
                    );
                }
                println!(
                    "  ± is the standard error of R@10; category: the share of test users whose \
                     last purchase has the category of the top recommendation."
                );
                if let Some(why) = &report.ceiling_missing {
                    println!("  no oracle ceiling: {why}");
                }
                if let Some(out) = csv {
                    println!("  every K: {}", out.display());
                }
            }
        }
        PersonalizeCommand::Splits { system, json } => {
            let p = open_personalizer(root, system, device)?;
            let methods = [
                ("shared-neighbourhoods", p.split_quality()),
                ("principal-axis", p.split_quality_principal_axis()),
            ];
            let carts = methods[0].1.carts;
            if *json {
                let methods: Vec<serde_json::Value> = methods
                    .iter()
                    .map(|(name, q)| {
                        serde_json::json!({
                            "name": name,
                            "purity": q.purity,
                            "pair_recall": q.pair_recall,
                            "groups_per_cart": q.groups_per_cart,
                        })
                    })
                    .collect();
                let output = serde_json::json!({
                    "system": p.searcher.system_name(),
                    "carts": carts,
                    "methods": methods,
                });
                println!("{}", serde_json::to_string_pretty(&output)?);
            } else {
                println!(
                    "K-Splits on {} carts of two or more items ({}):",
                    carts,
                    p.searcher.system_name()
                );
                println!(
                    "  {:<22} {:>7} {:>12} {:>16}",
                    "method", "purity", "pair recall", "groups per cart"
                );
                for (name, q) in &methods {
                    println!(
                        "  {:<22} {:>7.3} {:>12.3} {:>16.2}",
                        name, q.purity, q.pair_recall, q.groups_per_cart
                    );
                }
            }
        }
        PersonalizeCommand::Recommend {
            user,
            system,
            k,
            json,
        } => {
            if *k == 0 {
                anyhow::bail!("-k must be at least 1");
            }
            let p = open_personalizer(root, system, device)?;
            let history = p.user(user)?;
            let groups = p.recommend(&history.cart, *k)?;
            if *json {
                #[derive(Serialize)]
                struct Output<'a> {
                    system: &'a str,
                    user_id: i64,
                    user: &'a str,
                    personaliser: bool,
                    cart: Vec<CartItem>,
                    groups: &'a [GroupRecommendation],
                }
                #[derive(Serialize)]
                struct CartItem {
                    item_id: i64,
                    stars: u8,
                }
                let index = p.searcher.index();
                let output = Output {
                    system: p.searcher.system_name(),
                    user_id: history.user_id,
                    user: &history.key,
                    personaliser: p.personaliser.is_some(),
                    cart: history
                        .cart
                        .iter()
                        .map(|e| CartItem {
                            item_id: index.ids[e.row],
                            stars: e.stars as u8,
                        })
                        .collect(),
                    groups: &groups,
                };
                println!("{}", serde_json::to_string_pretty(&output)?);
            } else {
                println!(
                    "User {} ({}): {} items in {} group(s), {}",
                    history.user_id,
                    history.key,
                    history.cart.len(),
                    groups.len(),
                    if p.personaliser.is_some() {
                        "personaliser"
                    } else {
                        "cart mean (no personaliser trained: `vitrine personalize train`)"
                    }
                );
                for (g, group) in groups.iter().enumerate() {
                    println!("  group {} (items {:?}):", g + 1, group.items);
                    for r in &group.results {
                        println!("    {:>3}  {:>6.3}  {}", r.rank, r.score, r.title);
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The personaliser's training options from the command line's `--epochs` and `--seed`.
fn train_options(epochs: usize, seed: u64) -> TrainOptions {
    TrainOptions {
        epochs,
        seed,
        ..TrainOptions::default()
    }
}

/// Opens the personalisation engine of `system` (bringing its index up to date) with a
/// progress bar.
fn open_personalizer(
    root: std::path::PathBuf,
    system: &str,
    device: candle_core::Device,
) -> anyhow::Result<PersonalizeEngine> {
    let name = system.to_string();
    let job = Job::spawn("personalize", None, move |ctx| {
        PersonalizeEngine::open(&root, &name, &device, ctx)
    });
    wait_with_bar(job).with_context(|| format!("cannot personalise with {system}"))
}

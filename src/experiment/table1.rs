//! Table I: the paper's five systems, V1–V5, as far as the shipped weights allow (paper §IV.B).
//!
//! The paper trains five feature extractors, all with background augmentation, and compares
//! them by test IoU and by human scores: **V1** ResNet50; **V2** ResNet50 ‖ shallow branch;
//! **V3** V2 with heavier regular augmentation; **V4** EfficientNet at 300 × 300; **V5** V4 ‖
//! shallow branch. No ImageNet-trained ResNet50 or EfficientNet-B ships with Vitrine, so the
//! analogues keep each *comparison* and change the backbones: V1–V3 use EfficientNet-Lite0 at
//! 224 px (the small network), V4–V5 the largest shipped network at its own, larger input
//! (EfficientNet-Lite2 at 260 px when its weights are there). What the table answers is the
//! paper's: what the shallow branch adds (V1 → V2, V4 → V5), what heavier augmentation adds
//! (V2 → V3), and what the larger network adds (V1 → V4).
//!
//! Each system is trained on the library's catalogue with the same recipe (mode, epochs,
//! seed, background augmentation) and measured the same ways: eq. (5) on its test split, the
//! in-shop retrieval of [`crate::eval::retrieval`] (label IoU, same-category and same-colour
//! precision of the top 10), street-to-shop top-k when the library has street queries, and,
//! given a folder of held-out real photos, their same-category precision. Human scores (the
//! OHS rows of the paper's table) come from a study over these systems: `vitrine ohs create`.

use crate::error::{Error, Result};
use crate::eval::retrieval::{self, InShopReport, TopNReport};
use crate::eval::{self, QuerySet};
use crate::index;
use crate::jobs::JobContext;
use crate::library::Library;
use crate::model::backbone::BackboneKind;
use crate::model::system::System;
use crate::search::Searcher;
use crate::sources::demo::{self, DemoOptions};
use crate::sources::import::{self, FolderSplit, ImportOptions};
use crate::train::checkpoint::{RunState, run_dir};
use crate::train::metrics::ClassifyMetrics;
use crate::train::{self, BackgroundAug, Mode, TrainConfig};
use candle_core::Device;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One of the five systems: what the paper trained and what stands in for it here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    /// `V1` … `V5`.
    pub id: String,
    /// The paper's system, in its words.
    pub paper: String,
    /// The backbone used here (`BackboneKind` name).
    pub backbone: String,
    pub shallow: bool,
    /// The heavier regular augmentation (the paper's V3).
    pub heavy_augment: bool,
}

impl Variant {
    /// The system's name in the library: `PREFIX-v1` …
    pub fn system_name(&self, prefix: &str) -> String {
        format!("{prefix}-{}", self.id.to_ascii_lowercase())
    }
}

/// The backbone that stands in for the paper's EfficientNet-B at 300 px: the largest shipped
/// Lite variant, or Lite0 when it is the only one (then V4 and V5 repeat V1 and V2, and the
/// report says so).
pub fn large_backbone() -> BackboneKind {
    BackboneKind::ALL
        .iter()
        .copied()
        .filter(|kind| kind.has_shipped_weights())
        .max_by_key(|kind| kind.input_px())
        .unwrap_or(BackboneKind::Lite0)
}

/// The five analogues, in the paper's order.
pub fn variants() -> Vec<Variant> {
    let small = BackboneKind::Lite0.as_str().to_owned();
    let large = large_backbone().as_str().to_owned();
    let v = |id: &str, paper: &str, backbone: &str, shallow, heavy_augment| Variant {
        id: id.to_owned(),
        paper: paper.to_owned(),
        backbone: backbone.to_owned(),
        shallow,
        heavy_augment,
    };
    vec![
        v("V1", "ResNet50", &small, false, false),
        v("V2", "ResNet50 + shallow", &small, true, false),
        v(
            "V3",
            "ResNet50 + shallow, heavier augmentation",
            &small,
            true,
            true,
        ),
        v("V4", "EfficientNet, 300 x 300", &large, false, false),
        v(
            "V5",
            "EfficientNet, 300 x 300, + shallow",
            &large,
            true,
            false,
        ),
    ]
}

/// What the table is measured on.
#[derive(Debug, Clone, PartialEq)]
pub enum Dataset {
    /// The library's catalogue as it is.
    Library,
    /// The demo catalogue: drawn with its defaults (2,000 items) when the library is empty.
    Demo,
    /// A folder of photos split into `train/`, `validation/` and `test/` (e.g. the clothing
    /// set): its train split is imported when the library is empty, and its test split is
    /// searched by every system as held-out photos.
    SplitFolder(PathBuf),
}

impl Dataset {
    /// `demo`, or a folder.
    pub fn parse(spec: &str) -> Dataset {
        match spec.trim() {
            "demo" => Dataset::Demo,
            dir => Dataset::SplitFolder(PathBuf::from(dir)),
        }
    }

    /// Fills an empty library from the dataset, and reads its held-out photos (if any).
    /// A library that already has items is kept as it is: the run never mixes catalogues.
    pub fn prepare(&self, lib: &mut Library, ctx: &JobContext) -> Result<Option<QuerySet>> {
        let empty = lib.store.counts()?.items == 0;
        match self {
            Dataset::Library => Ok(None),
            Dataset::Demo => {
                if empty {
                    demo::generate(
                        lib,
                        &DemoOptions::default(),
                        &ctx.within("drawing the demo"),
                    )?;
                }
                Ok(None)
            }
            Dataset::SplitFolder(dir) => {
                if empty {
                    import::import_folder(
                        lib,
                        dir,
                        Some(FolderSplit::Train),
                        &ImportOptions::default(),
                        &ctx.within("importing the train split"),
                    )?;
                }
                let queries = eval::load_queries(dir, Some(FolderSplit::Test), ctx)?;
                if queries.photos.is_empty() {
                    return Err(Error::Invalid(format!(
                        "{}: no photos in its test split (expected {}/test/<category>/<image>)",
                        dir.display(),
                        dir.display()
                    )));
                }
                Ok(Some(queries))
            }
        }
    }
}

/// How every system of the table is trained, and what else is measured.
#[derive(Debug, Clone)]
pub struct Table1Options {
    /// Systems are named `PREFIX-v1` … `PREFIX-v5` (a run replaces systems of those names).
    pub prefix: String,
    /// Only these variants (`V1` …; empty: all five).
    pub only: Vec<String>,
    /// The recipe every system shares (mode, epochs, seed, background augmentation …);
    /// each variant sets only its name, backbone, shallow branch and augmentation strength.
    pub recipe: TrainConfig,
    /// Held-out photos (e.g. the real clothing set's test split) searched by every system.
    pub queries: Option<QuerySet>,
    /// Results per query.
    pub k: usize,
    /// Measure, without training again, a system of the table's name whose finished run
    /// had exactly this recipe (an interrupted experiment continues where it stopped).
    pub reuse: bool,
}

impl Default for Table1Options {
    /// Head mode (the backbone frozen and its features cached, so five systems take minutes
    /// on a laptop), up to 10 epochs, real-scene backgrounds as in all of the paper's five.
    fn default() -> Self {
        Self {
            prefix: "table1".into(),
            only: Vec::new(),
            recipe: TrainConfig {
                mode: Mode::Head,
                epochs: 10,
                background: BackgroundAug::Real,
                ..TrainConfig::default()
            },
            queries: None,
            k: 10,
            reuse: false,
        }
    }
}

/// Same-category retrieval for held-out photos (see [`eval::evaluate_held_out`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldOutRow {
    pub queries: usize,
    /// Same-category precision of the top k.
    pub category_precision: f64,
    /// The category most of the top k share is the query's.
    pub knn_accuracy: f64,
}

/// One system's row of the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table1Row {
    pub variant: Variant,
    pub system: String,
    /// The input side the backbone ran at.
    pub input_size: u32,
    /// Eq. (5) on the system's test split.
    pub test: ClassifyMetrics,
    pub in_shop: InShopReport,
    /// `None` when the library has no street queries.
    pub street_to_shop: Option<TopNReport>,
    /// `None` without held-out photos.
    pub held_out: Option<HeldOutRow>,
    pub epochs_run: usize,
    /// `None` when the system was reused ([`Table1Options::reuse`]).
    pub train_secs: Option<f64>,
    pub index_secs: f64,
}

/// The whole table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table1Report {
    pub rows: Vec<Table1Row>,
    /// Catalogue items of the library.
    pub items: u64,
    pub mode: String,
    pub epochs: usize,
    pub background: String,
    pub seed: u64,
    /// Where the held-out photos came from.
    pub queries_from: Option<String>,
    /// Why V4/V5 repeat the small backbone, when they do.
    pub note: Option<String>,
    /// The CPU the run was measured on (`/proc/cpuinfo`), and the SIMD path used.
    pub cpu: Option<String>,
    pub simd: String,
    pub elapsed_secs: f64,
}

/// Where the last run's report is kept, for the GUI to show it again.
pub fn report_path(root: &Path) -> PathBuf {
    root.join("experiments").join("table1.json")
}

/// The report of the last run in the library at `root` (`None`: never run here).
pub fn last_report(root: &Path) -> Result<Option<Table1Report>> {
    let path = report_path(root);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| Error::file(&path, format!("not a Table I report: {e}")))
}

fn save_report(root: &Path, report: &Table1Report) -> Result<()> {
    let path = report_path(root);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let json = serde_json::to_vec_pretty(report)
        .map_err(|e| Error::Invalid(format!("cannot describe the report: {e}")))?;
    crate::atomic_file::write(&path, &json)
}

/// Trains and measures each asked-for variant in turn (progress names the variant; cancel
/// stops between and inside steps). A run replaces the systems it names; its report is kept
/// as [`report_path`].
pub fn run(
    lib: &mut Library,
    options: &Table1Options,
    device: &Device,
    ctx: &JobContext,
) -> Result<Table1Report> {
    let start = Instant::now();
    let chosen = chosen_variants(&options.only)?;
    if lib.store.counts()?.items == 0 {
        return Err(Error::Invalid(
            "the library has no catalogue items to train on: draw the demo (`vitrine demo`) or \
             import a catalogue first"
                .into(),
        ));
    }
    let mut rows = Vec::with_capacity(chosen.len());
    for (i, variant) in chosen.iter().enumerate() {
        let step = ctx.within(&format!("{} ({}/{})", variant.id, i + 1, chosen.len()));
        rows.push(run_variant(lib, variant, options, device, &step)?);
    }
    let repeats = rows.iter().any(|r| r.variant.id.as_str() >= "V4")
        && large_backbone() == BackboneKind::Lite0;
    let note = repeats.then(|| {
        "only EfficientNet-Lite0's weights are installed: V4 and V5 repeat V1 and V2".to_owned()
    });
    let report = Table1Report {
        rows,
        items: lib.store.counts()?.items,
        mode: options.recipe.mode.name().to_owned(),
        epochs: options.recipe.epochs,
        background: options.recipe.background.describe(),
        seed: options.recipe.seed,
        queries_from: options
            .queries
            .as_ref()
            .map(|q| q.source.display().to_string()),
        note,
        cpu: crate::simd::cpu_model(),
        simd: crate::simd::simd_level().to_owned(),
        elapsed_secs: start.elapsed().as_secs_f64(),
    };
    save_report(lib.root(), &report)?;
    Ok(report)
}

/// The variants `only` names (all five when empty), in the paper's order.
fn chosen_variants(only: &[String]) -> Result<Vec<Variant>> {
    let all = variants();
    for wanted in only {
        if !all.iter().any(|v| v.id.eq_ignore_ascii_case(wanted.trim())) {
            return Err(Error::Invalid(format!(
                "unknown variant {wanted:?}: Table I has V1, V2, V3, V4 and V5"
            )));
        }
    }
    Ok(all
        .into_iter()
        .filter(|v| only.is_empty() || only.iter().any(|w| v.id.eq_ignore_ascii_case(w.trim())))
        .collect())
}

/// The training recipe of one variant: the shared recipe plus what the variant changes.
pub fn train_config(variant: &Variant, options: &Table1Options) -> TrainConfig {
    TrainConfig {
        name: variant.system_name(&options.prefix),
        backbone: variant.backbone.clone(),
        backbone_weights: None,
        shallow: variant.shallow,
        augment: true,
        heavy_augment: variant.heavy_augment,
        ..options.recipe.clone()
    }
}

fn run_variant(
    lib: &mut Library,
    variant: &Variant,
    options: &Table1Options,
    device: &Device,
    ctx: &JobContext,
) -> Result<Table1Row> {
    let config = train_config(variant, options);
    let (system, epochs_run, train_secs) = match reusable(lib, &config, options, device)? {
        Some(system) => {
            let state = RunState::load(&run_dir(lib.root(), &config.name))?;
            (system, state.history.len(), None)
        }
        None => {
            let trained = train::train(
                lib,
                &config,
                false,
                device,
                &ctx.within("training"),
                &mut |_| {},
            )?;
            let system = System::load(lib, &config.name, device)?;
            (system, trained.epochs_run, Some(trained.elapsed_secs))
        }
    };
    // Measured on the saved system in both cases, as `vitrine eval classify` measures it: the
    // training run's own figure comes from its in-memory network, whose rounding differs in
    // the last bits and can flip a label that sits on the 0.5 threshold.
    let test = train::evaluate_classification(lib, &system, &ctx.within("testing"))?;
    let input_size = system.preprocess().side_px;
    let indexed = index::build(
        lib,
        &system,
        &index::BuildOptions::default(),
        &ctx.within("indexing"),
    )?;
    let searcher = Searcher::open(lib, &config.name, device)?;
    let measuring = ctx.within("measuring");
    let retrieval = retrieval::evaluate_retrieval(lib, &searcher, options.k, &measuring)?;
    let held_out = match &options.queries {
        Some(queries) => {
            let report = eval::evaluate_held_out(&searcher, queries, options.k, &measuring)?;
            report.category.map(|c| HeldOutRow {
                queries: c.queries,
                category_precision: c.precision,
                knn_accuracy: c.knn_accuracy,
            })
        }
        None => None,
    };
    Ok(Table1Row {
        variant: variant.clone(),
        system: config.name,
        input_size,
        test,
        in_shop: retrieval.in_shop,
        street_to_shop: retrieval.street_to_shop,
        held_out,
        epochs_run,
        train_secs,
        index_secs: indexed.elapsed_secs,
    })
}

/// With [`Table1Options::reuse`], the trained system of `config`'s name when its run had
/// exactly `config` (the same recipe, seed included) and finished.
fn reusable(
    lib: &Library,
    config: &TrainConfig,
    options: &Table1Options,
    device: &Device,
) -> Result<Option<System>> {
    if !options.reuse {
        return Ok(None);
    }
    let Ok(state) = RunState::load(&run_dir(lib.root(), &config.name)) else {
        return Ok(None);
    };
    if state.config != *config {
        return Ok(None);
    }
    Ok(System::load(lib, &config.name, device).ok())
}

impl Table1Report {
    /// The table shaped like the paper's Table I: one row per measure, named, with one cell
    /// per system (percentages); what the CLI prints and the Train tab shows.
    pub fn table(&self) -> Vec<(String, Vec<String>)> {
        let mut table = Vec::new();
        let mut row = |name: &str, cell: &dyn Fn(&Table1Row) -> String| {
            table.push((name.to_owned(), self.rows.iter().map(cell).collect()));
        };
        let pct = |x: f64| format!("{:.1} %", 100.0 * x);
        row("stands for (paper)", &|r| r.variant.paper.clone());
        row("backbone", &|r| {
            format!(
                "{} @ {}",
                r.variant.backbone.trim_start_matches("efficientnet-"),
                r.input_size
            )
        });
        row("shallow branch", &|r| yes_no(r.variant.shallow));
        row("heavier augmentation", &|r| yes_no(r.variant.heavy_augment));
        row("Test IoU", &|r| pct(r.test.iou));
        row("test precision", &|r| pct(r.test.precision));
        row("test recall", &|r| pct(r.test.recall));
        row("in-shop label IoU@10", &|r| pct(r.in_shop.mean_label_iou));
        row("in-shop category P@10", &|r| {
            pct(r.in_shop.category_precision)
        });
        row("in-shop subtype P@10", &|r| {
            if r.in_shop.subtype_queries == 0 {
                "–".into()
            } else {
                pct(r.in_shop.subtype_precision)
            }
        });
        row("in-shop colour P@10", &|r| {
            if r.in_shop.colour_queries == 0 {
                "–".into()
            } else {
                pct(r.in_shop.colour_precision)
            }
        });
        if self.rows.iter().any(|r| r.street_to_shop.is_some()) {
            row("street-to-shop top-1", &|r| {
                r.street_to_shop
                    .as_ref()
                    .map_or("–".into(), |s| pct(s.top1))
            });
            row("street-to-shop top-10", &|r| {
                r.street_to_shop
                    .as_ref()
                    .map_or("–".into(), |s| pct(s.top10))
            });
        }
        if self.rows.iter().any(|r| r.held_out.is_some()) {
            row("held-out photos category P@10", &|r| {
                r.held_out
                    .as_ref()
                    .map_or("–".into(), |h| pct(h.category_precision))
            });
            row("held-out photos kNN@10", &|r| {
                r.held_out
                    .as_ref()
                    .map_or("–".into(), |h| pct(h.knn_accuracy))
            });
        }
        row("epochs run", &|r| r.epochs_run.to_string());
        row("train + index time", &|r| match r.train_secs {
            Some(train) => format!("{train:.0} s + {:.0} s", r.index_secs),
            None => format!("reused + {:.0} s", r.index_secs),
        });
        table
    }

    /// One line on how the table was made: data, recipe, time and machine.
    pub fn provenance(&self) -> String {
        format!(
            "{} catalogue items; {} mode, up to {} epochs, background augmentation {}, seed \
             {}{}. {:.0} s in all on {} ({}).{}",
            self.items,
            self.mode,
            self.epochs,
            self.background,
            self.seed,
            self.queries_from
                .as_ref()
                .map(|q| format!("; held-out photos from {q}"))
                .unwrap_or_default(),
            self.elapsed_secs,
            self.cpu.as_deref().unwrap_or("an unknown CPU"),
            self.simd,
            self.note
                .as_ref()
                .map(|n| format!(" Note: {n}."))
                .unwrap_or_default()
        )
    }

    /// [`Table1Report::table`] as Markdown, then [`Table1Report::provenance`].
    pub fn to_markdown(&self) -> String {
        let header: Vec<&str> = self.rows.iter().map(|r| r.variant.id.as_str()).collect();
        let mut out = format!("| | {} |\n", header.join(" | "));
        out.push_str(&format!("|---|{}\n", "---:|".repeat(self.rows.len())));
        for (name, cells) in self.table() {
            out.push_str(&format!("| {name} | {} |\n", cells.join(" | ")));
        }
        out.push_str(&format!("\n{}\n", self.provenance()));
        out
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variants_keep_the_papers_comparisons() {
        let v = variants();
        let ids: Vec<&str> = v.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(ids, ["V1", "V2", "V3", "V4", "V5"]);
        // V1 → V2 and V4 → V5 add the shallow branch and change nothing else.
        for (without, with) in [(0, 1), (3, 4)] {
            assert!(!v[without].shallow && v[with].shallow);
            assert_eq!(v[without].backbone, v[with].backbone);
            assert_eq!(v[without].heavy_augment, v[with].heavy_augment);
        }
        // V2 → V3 only makes the augmentation heavier.
        assert!(!v[1].heavy_augment && v[2].heavy_augment);
        assert_eq!(v[1].backbone, v[2].backbone);
        assert_eq!(v[1].shallow, v[2].shallow);
        // V4's backbone is the largest shipped one, at least as large an input as V1's.
        let small = BackboneKind::parse(&v[0].backbone).unwrap();
        let large = BackboneKind::parse(&v[3].backbone).unwrap();
        assert!(large.input_px() >= small.input_px());
        assert!(large.has_shipped_weights());
    }

    #[test]
    fn a_variant_trains_with_the_shared_recipe_and_its_own_changes() {
        let mut options = Table1Options {
            prefix: "t1".into(),
            ..Table1Options::default()
        };
        options.recipe.epochs = 3;
        let v3 = &variants()[2];
        let config = train_config(v3, &options);
        assert_eq!(config.name, "t1-v3");
        assert_eq!(config.epochs, 3);
        assert!(config.shallow && config.augment && config.heavy_augment);
        assert_eq!(config.background, BackgroundAug::Real);
        let v1 = train_config(&variants()[0], &options);
        assert!(!v1.shallow && !v1.heavy_augment);
    }

    #[test]
    fn unknown_variants_are_refused_by_name() {
        let err = chosen_variants(&["V6".into()]).unwrap_err().to_string();
        assert!(err.contains("V6") && err.contains("V5"), "{err}");
        let two = chosen_variants(&["v2".into(), "V1".into()]).unwrap();
        let ids: Vec<&str> = two.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(ids, ["V1", "V2"]);
    }

    #[test]
    fn a_run_trains_measures_and_tabulates_each_variant() {
        let dir = tempfile::tempdir().unwrap();
        let mut lib = Library::open(&dir.path().join("lib")).unwrap();
        let demo = DemoOptions {
            items: 40,
            users: 2,
            street: 4,
            seed: 3,
            size_px: 96,
        };
        demo::generate(&mut lib, &demo, &JobContext::silent()).unwrap();
        let mut options = Table1Options {
            prefix: "t1".into(),
            only: vec!["v2".into(), "V1".into()],
            ..Table1Options::default()
        };
        options.recipe.epochs = 1;
        options.recipe.batch_size = 8;
        options.recipe.embedding_dim = 32;
        options.recipe.variants = 1;
        options.recipe.background = BackgroundAug::Procedural;
        let report = run(&mut lib, &options, &Device::Cpu, &JobContext::silent()).unwrap();
        let systems: Vec<&str> = report.rows.iter().map(|r| r.system.as_str()).collect();
        assert_eq!(systems, ["t1-v1", "t1-v2"]);
        for row in &report.rows {
            // Each is a real, indexed system of the library, measured on its own test split.
            let system = System::load(&lib, &row.system, &Device::Cpu).unwrap();
            assert_eq!(
                system.colour_dim() > 0,
                row.variant.shallow,
                "{}",
                row.system
            );
            assert!(row.test.samples > 0 && (0.0..=1.0).contains(&row.test.iou));
            assert_eq!(row.in_shop.queries, 40);
            assert_eq!(row.street_to_shop.as_ref().unwrap().queries, 4);
            assert_eq!(row.input_size, 224);
        }
        assert_eq!(report.items, 40);
        assert!(report.note.is_none(), "no V4/V5 row, no note on them");
        let table = report.to_markdown();
        assert!(table.starts_with("| | V1 | V2 |"), "{table}");
        assert!(table.contains("| shallow branch | no | yes |"), "{table}");
        assert!(table.contains("street-to-shop top-10"), "{table}");
        // Kept for the GUI (JSON round trips floats to the last bit or so: compare as shown).
        let kept = last_report(lib.root()).unwrap().unwrap();
        assert_eq!(kept.to_markdown(), table);

        // Reused, the same systems measure the same, and nothing trains again.
        options.reuse = true;
        let again = run(&mut lib, &options, &Device::Cpu, &JobContext::silent()).unwrap();
        for (first, second) in report.rows.iter().zip(&again.rows) {
            assert_eq!(second.train_secs, None);
            assert_eq!(first.test, second.test);
            assert_eq!(first.in_shop, second.in_shop);
            assert_eq!(first.epochs_run, second.epochs_run);
        }
        // A different recipe is not reused.
        options.recipe.seed += 1;
        options.only = vec!["V1".into()];
        let other = run(&mut lib, &options, &Device::Cpu, &JobContext::silent()).unwrap();
        assert!(other.rows[0].train_secs.is_some());
    }
}

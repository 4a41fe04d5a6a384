//! `vitrine ohs create|sheets|score|report|merge`: objective-guided human score studies from
//! the command line (see [`crate::ohs`]). Analysts script these, so the flags and JSON shapes
//! are a contract.

use super::progress::wait_with_bar;
use crate::jobs::Job;
use crate::library::Library;
use crate::ohs::export::{self, MergeReport};
use crate::ohs::prefill;
use crate::ohs::report::{self, Report};
use crate::ohs::{self, QuerySelection, StudySpec};
use crate::study::{self, DEFAULT_K};
use anyhow::Context;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum OhsCommand {
    /// Create a study: pick the queries, run them through every system, freeze the sheets.
    Create(CreateArgs),
    /// List a study's frozen sheets (query × system → its K items).
    Sheets(SheetsArgs),
    /// Enter one scorer's answers in bulk from a CSV (sheet_id,criterion,hits).
    Score(ScoreArgs),
    /// The Table I summary: hit rates per criterion and system, the weighted OHS, α.
    Report(ReportArgs),
    /// Merge the answers of the same study from another library's database (or a raw-score CSV).
    Merge(MergeArgs),
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).multiple(true)
    .args(["street", "items", "queries"])))]
pub struct CreateArgs {
    /// The study's name.
    pub name: String,
    /// The systems compared, comma-separated (two or more; `vitrine systems` lists them).
    #[arg(long, value_delimiter = ',', required = true, value_name = "A,B")]
    pub systems: Vec<String>,
    /// Queries: N photos from the demo street set.
    #[arg(long, value_name = "N")]
    pub street: Option<usize>,
    /// Queries: N catalogue items.
    #[arg(long, value_name = "N")]
    pub items: Option<usize>,
    /// Queries: every image in DIR (street photos in a subfolder named `street`).
    #[arg(long, value_name = "DIR")]
    pub queries: Option<PathBuf>,
    /// Results per sheet (hit@K).
    #[arg(short, default_value_t = DEFAULT_K)]
    pub k: u32,
    /// Criteria CSV (name,weight,direction,description[,objective]); default: the paper's
    /// seven, with category and colour objective where the catalogue has those labels.
    #[arg(long, value_name = "FILE.csv")]
    pub criteria: Option<PathBuf>,
    /// Make a criterion objective (repeatable): NAME=RULE, RULE one of `category` (a hit has
    /// the query item's category label), `colour` (its colour label) or `none` (scorers
    /// alone). On shop queries of catalogue items the sheet then opens with the machine's
    /// count for the scorer to confirm or correct. E.g. `--objective category=category
    /// --objective colour=none`.
    #[arg(long, value_name = "NAME=RULE")]
    pub objective: Vec<String>,
    /// Random seed: query choice, scorers' sheet order and the bootstrap.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// What the systems are for (shown to analysts).
    #[arg(long, default_value = "")]
    pub goal: String,
    /// Scorers may see why each result is similar (an Explain button and H on the sheet show
    /// heatmaps). Off by default because heatmaps may sway judgement.
    #[arg(long)]
    pub show_explanations: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct SheetsArgs {
    pub name: String,
    /// Print the sheets as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ScoreArgs {
    pub name: String,
    /// Who scored.
    #[arg(long, value_name = "WHO")]
    pub scorer: String,
    /// The answers: columns sheet_id,criterion,hits.
    #[arg(long, value_name = "FILE")]
    pub csv: PathBuf,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    pub name: String,
    /// Also write the summary table (Table I shape) as CSV.
    #[arg(long, value_name = "OUT")]
    pub csv: Option<PathBuf>,
    /// Also write the raw scores (study,scorer,query,system,criterion,hits,prefill) as CSV.
    #[arg(long, value_name = "OUT")]
    pub raw_csv: Option<PathBuf>,
    /// Also write the report as Markdown (Table I with the Test IoU row, the note on
    /// weights, machine-vs-human agreement).
    #[arg(long, value_name = "OUT.md")]
    pub markdown: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    pub name: String,
    /// Another library's vitrine.sqlite (or a raw-score .csv from `report --raw-csv`).
    #[arg(value_name = "OTHER.sqlite")]
    pub other: PathBuf,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(dir: &Path, device: &str, cmd: &OhsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        OhsCommand::Create(args) => create(dir, device, args),
        OhsCommand::Sheets(args) => sheets(dir, args),
        OhsCommand::Score(args) => score(dir, args),
        OhsCommand::Report(args) => report_cmd(dir, args),
        OhsCommand::Merge(args) => merge(dir, args),
    }
}

#[derive(Serialize)]
struct CreateOutput<'a> {
    study: &'a str,
    k: u32,
    systems: &'a [String],
    criteria: Vec<&'a str>,
    /// Objective criteria and their rules.
    objective: BTreeMap<&'a str, &'static str>,
    /// Sheets with a machine count (shop queries of labelled catalogue items).
    prefilled_sheets: usize,
    queries: usize,
    shop: usize,
    street: usize,
    sheets: usize,
    /// Scorers may see why each result is similar.
    show_explanations: bool,
}

/// `NAME=RULE` of `--objective`: the criterion's name and its rule (`none`: no rule).
fn parse_objective(arg: &str) -> anyhow::Result<(&str, Option<study::ObjectiveRule>)> {
    let (name, rule) = arg.split_once('=').with_context(|| {
        format!("--objective {arg:?}: write NAME=RULE, e.g. --objective colour=colour")
    })?;
    let rule = match rule.trim() {
        "none" => None,
        other => Some(
            study::ObjectiveRule::parse(other).with_context(|| format!("--objective {arg:?}"))?,
        ),
    };
    Ok((name.trim(), rule))
}

fn create(dir: &Path, device: &str, args: &CreateArgs) -> anyhow::Result<ExitCode> {
    let mut criteria = match &args.criteria {
        Some(path) => ohs::read_criteria_csv(path)?,
        None => prefill::paper_template(&Library::open_for_reading(dir)?.store)?,
    };
    for arg in &args.objective {
        let (name, rule) = parse_objective(arg)?;
        prefill::set_objective(&mut criteria, name, rule)
            .with_context(|| format!("--objective {arg:?}"))?;
    }
    let spec = StudySpec {
        name: args.name.clone(),
        goal: args.goal.clone(),
        k: args.k,
        criteria,
        systems: args.systems.iter().map(|s| s.trim().to_owned()).collect(),
        queries: QuerySelection {
            street: args.street.unwrap_or(0),
            items: args.items.unwrap_or(0),
            folder: args.queries.clone(),
        },
        seed: args.seed,
        show_explanations: args.show_explanations,
    };
    let device = crate::device::device(device)?;
    let dir = dir.to_path_buf();
    let job_spec = spec.clone();
    let job = Job::spawn("create study", None, move |ctx| {
        ohs::create_study(&dir, &job_spec, &device, ctx)
    });
    let study =
        wait_with_bar(job).with_context(|| format!("cannot create the study {:?}", spec.name))?;
    let (shop, street) = study.domain_counts();
    if args.json {
        let out = CreateOutput {
            study: &study.name,
            k: study.k,
            systems: &study.systems,
            criteria: study.criteria.iter().map(|c| c.name.as_str()).collect(),
            objective: study
                .criteria
                .iter()
                .filter_map(|c| Some((c.name.as_str(), c.objective?.as_str())))
                .collect(),
            prefilled_sheets: study
                .sheets
                .iter()
                .filter(|s| !s.machine.is_empty())
                .count(),
            queries: study.queries.len(),
            shop,
            street,
            sheets: study.sheets.len(),
            show_explanations: study.show_explanations,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "Study {:?}: {} queries ({shop} shop, {street} street) × {} systems = {} sheets of {} \
             results, {} criteria",
            study.name,
            study.queries.len(),
            study.systems.len(),
            study.sheets.len(),
            study.k,
            study.criteria.len()
        );
        let objective: Vec<String> = study
            .criteria
            .iter()
            .filter_map(|c| Some(format!("{} ({})", c.name, c.objective?.describe())))
            .collect();
        if !objective.is_empty() {
            println!(
                "Objective: {}; {} sheets open with the machine's count to confirm",
                objective.join(", "),
                study
                    .sheets
                    .iter()
                    .filter(|s| !s.machine.is_empty())
                    .count()
            );
        }
        if study.show_explanations {
            println!("Scorers may see why each result is similar (Explain, or H, on the sheet)");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct SheetOutput {
    sheet_id: i64,
    query: String,
    domain: study::Domain,
    system: String,
    items: Vec<i64>,
}

fn sheets(dir: &Path, args: &SheetsArgs) -> anyhow::Result<ExitCode> {
    let lib = Library::open(dir)?;
    let study = ohs::open_study(&lib.store, &args.name)?;
    let rows: Vec<SheetOutput> = study
        .sheets
        .iter()
        .map(|s| {
            let q = &study.queries[s.query];
            SheetOutput {
                sheet_id: s.id,
                query: lib.resolve(&q.image).display().to_string(),
                domain: q.domain,
                system: s.system.clone(),
                items: s.items.iter().map(|i| i.item_id).collect(),
            }
        })
        .collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        println!(
            "{:>8}  {:<6}  {:<20}  query",
            "sheet_id", "domain", "system"
        );
        for r in &rows {
            println!(
                "{:>8}  {:<6}  {:<20}  {}",
                r.sheet_id,
                r.domain.as_str(),
                r.system,
                r.query
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn score(dir: &Path, args: &ScoreArgs) -> anyhow::Result<ExitCode> {
    let mut lib = Library::open(dir)?;
    let study = ohs::open_study(&lib.store, &args.name)?;
    let saved = ohs::import_scores_csv(&mut lib.store, &study, &args.scorer, &args.csv)?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({"study": study.name, "scorer": args.scorer, "saved": saved})
        );
    } else {
        println!(
            "Saved {saved} answers of {:?} to the study {:?}",
            args.scorer, study.name
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The `report --json` document (ARCHITECTURE.md §10 contract).
#[derive(Serialize)]
struct ReportOutput<'a> {
    systems: &'a [String],
    criteria: Vec<CriterionOutput<'a>>,
    ohs: BTreeMap<&'a str, Option<f64>>,
    /// Per system: test IoU in percent (`null`: the system has none).
    test_iou: BTreeMap<&'a str, Option<f64>>,
    /// Per objective criterion: machine against people.
    machine: &'a [prefill::MachineAgreement],
    weights_note: &'a str,
    scorers: usize,
    sheets: usize,
    /// Scorers could see why each result is similar (their answers may lean on it).
    show_explanations: bool,
}

#[derive(Serialize)]
struct CriterionOutput<'a> {
    name: &'a str,
    weight: f64,
    direction: study::Direction,
    percent: BTreeMap<&'a str, Option<f64>>,
    alpha: Option<f64>,
}

fn by_system<'a>(systems: &'a [String], values: &[Option<f64>]) -> BTreeMap<&'a str, Option<f64>> {
    systems
        .iter()
        .map(String::as_str)
        .zip(values.iter().copied())
        .collect()
}

fn report_cmd(dir: &Path, args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let lib = Library::open_for_reading(dir)?;
    for out in args.csv.iter().chain(&args.raw_csv).chain(&args.markdown) {
        lib.check_output_path(out)?;
    }
    let study = ohs::open_study(&lib.store, &args.name)?;
    let report = report::study_report(&lib.store, &study)?;
    if let Some(out) = &args.csv {
        export::write_text(out, &export::summary_csv(&report)?)?;
    }
    if let Some(out) = &args.raw_csv {
        let answers = lib.store.study_answers(study.id)?;
        export::write_text(out, &export::raw_csv(&study, &answers)?)?;
    }
    if let Some(out) = &args.markdown {
        export::write_text(out, &export::summary_markdown(&report))?;
    }
    if args.json {
        let out = ReportOutput {
            systems: &report.systems,
            criteria: report
                .criteria
                .iter()
                .map(|c| CriterionOutput {
                    name: &c.name,
                    weight: c.weight,
                    direction: c.direction,
                    percent: by_system(&report.systems, &c.percent),
                    alpha: c.alpha,
                })
                .collect(),
            ohs: by_system(&report.systems, &report.ohs),
            test_iou: by_system(&report.systems, &report.test_iou),
            machine: &report.machine,
            weights_note: report.weights_note,
            scorers: report.coverage.len(),
            sheets: report.sheets,
            show_explanations: study.show_explanations,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", table_text(&report));
    }
    Ok(ExitCode::SUCCESS)
}

/// The report as a text table: criteria rows, systems columns, OHS last, α at the right.
fn table_text(report: &Report) -> String {
    let cell = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}%"));
    let row_name = |c: &report::CriterionReport| match c.direction {
        study::Direction::More => c.name.clone(),
        study::Direction::Fewer => format!("{} (fewer)", c.name),
    };
    let width = report
        .criteria
        .iter()
        .map(|c| row_name(c).chars().count())
        .max()
        .unwrap_or(0)
        .max(10);
    let mut out = format!("Study {:?}: {}\n", report.study, report.shape_line());
    out += &format!("{:<width$}  {:>6}  ", "criterion", "weight");
    for s in &report.systems {
        out += &format!("{s:>14}  ");
    }
    out += "alpha\n";
    for c in &report.criteria {
        out += &format!("{:<width$}  {:>6}  ", row_name(c), c.weight);
        for v in &c.percent {
            out += &format!("{:>14}  ", cell(*v));
        }
        out += &match c.alpha {
            Some(a) => format!("{a:.3} {}\n", report::alpha_reading(Some(a))),
            None => "-\n".to_owned(),
        };
    }
    out += &format!("{:<width$}  {:>6}  ", "OHS", "");
    for v in &report.ohs {
        out += &format!("{:>14}  ", cell(*v));
    }
    out.truncate(out.trim_end().len());
    out += "\n";
    if report.has_test_iou() {
        out += &format!("{:<width$}  {:>6}  ", "Test IoU", "");
        for v in &report.test_iou {
            out += &format!(
                "{:>14}  ",
                v.map_or_else(|| "—".to_owned(), |v| format!("{v:.1}%"))
            );
        }
        out.truncate(out.trim_end().len());
        out += "\n";
    }
    out += &format!("Note: {}\n", report.weights_note);
    for m in &report.machine {
        out += &format!(
            "Machine pre-fill, {} ({}): {} answers, alpha {} ({}), mean |human - machine| {}, \
             {} confirmed, {} corrected, {} without pre-fill\n",
            m.criterion,
            m.rule.describe(),
            m.pairs,
            m.alpha
                .map_or_else(|| "-".to_owned(), |a| format!("{a:.3}")),
            m.alpha_reading(),
            m.mean_abs_diff
                .map_or_else(|| "-".to_owned(), |d| format!("{d:.2} hits")),
            m.confirmed,
            m.corrected,
            m.unassisted
        );
    }
    for c in &report.coverage {
        out += &format!(
            "{}: {}/{} sheets done, {} answers\n",
            c.scorer, c.sheets_done, report.sheets, c.answers
        );
    }
    out
}

fn merge(dir: &Path, args: &MergeArgs) -> anyhow::Result<ExitCode> {
    let mut lib = Library::open(dir)?;
    let report: MergeReport = export::merge_file(&mut lib.store, &args.name, &args.other)?;
    for c in &report.conflicts {
        eprintln!("conflict: {c}");
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "Merged {}: {} answers added, {} duplicates skipped, {} conflicts (this library's \
             answers kept), scorers: {}",
            args.other.display(),
            report.added,
            report.duplicates,
            report.conflicts.len(),
            report.scorers.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

//! CSV export of a study (the Table I summary and the raw scores) and the merge of scorers'
//! work done on other machines (another library's database, or a raw-score CSV).
//!
//! Every exported cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return gets a
//! leading `'`, so a spreadsheet shows it as text instead of running it as a formula
//! (OWASP's advice against CSV injection). A cell that itself begins with `'` gets one too,
//! so the importer can always take exactly one `'` off again: every name (a scorer called
//! `'=x`, or one that begins with a tab) reads back exactly as it was typed, and is never
//! merged into another scorer's answers. Cells are read back untrimmed for the same reason.

use super::report::Report;
use super::{check_answer, open_study};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::study::{Answer, Prefill, Sheet, Study};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

/// A cell made safe for spreadsheets (see the module docs).
pub fn escape_cell(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r', '\'']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// The inverse of [`escape_cell`] for cells read back: one leading `'` is taken off.
pub fn unescape_cell(cell: &str) -> &str {
    cell.strip_prefix('\'').unwrap_or(cell)
}

fn csv_text(rows: &[Vec<String>]) -> Result<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer
            .write_record(row.iter().map(|c| escape_cell(c).into_owned()))
            .map_err(|e| Error::Invalid(format!("cannot write CSV: {e}")))?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| Error::Invalid(format!("cannot write CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| Error::Invalid(format!("cannot write CSV: {e}")))
}

fn percent_cell(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2}")).unwrap_or_default()
}

/// The summary in the shape of Table I with what the Analyze tab shows beside it (see
/// [`summary_csv_with`]), with the study's own weights only.
pub fn summary_csv(report: &Report) -> Result<String> {
    summary_csv_with(report, None)
}

/// The summary in the shape of Table I, and what the Analyze tab shows beside it:
///
/// - header `criterion,weight,direction,<systems>…` (each system's mean hit rate in percent),
///   then for each system `<system> 95% low` and `<system> 95% high` (the bootstrap interval
///   over queries), then `<system> answers` (the answers behind the rate), then `alpha` and
///   `agreement` (Krippendorff's α between scorers and its reading);
/// - one row per criterion, then `OHS` with the study's weights (and its interval);
/// - with `weights` (the analyst's own, from the Analyze tab's sliders) that differ from the
///   study's, a row `OHS (your weights)` whose weight cell lists them;
/// - when a system has a test IoU, a last row `Test IoU` (percent; empty for a system
///   without), as in Table I.
pub fn summary_csv_with(report: &Report, weights: Option<&[f64]>) -> Result<String> {
    let systems = &report.systems;
    let mut rows = Vec::with_capacity(report.criteria.len() + 3);
    let mut header: Vec<String> = ["criterion", "weight", "direction"]
        .map(String::from)
        .to_vec();
    header.extend(systems.iter().cloned());
    for s in systems {
        header.push(format!("{s} 95% low"));
        header.push(format!("{s} 95% high"));
    }
    header.extend(systems.iter().map(|s| format!("{s} answers")));
    header.extend(["alpha".to_owned(), "agreement".to_owned()]);
    rows.push(header);
    let interval_cells = |ci: &[Option<(f64, f64)>]| -> Vec<String> {
        ci.iter()
            .flat_map(|c| [percent_cell(c.map(|c| c.0)), percent_cell(c.map(|c| c.1))])
            .collect()
    };
    for c in &report.criteria {
        let mut row = vec![
            c.name.clone(),
            format!("{}", c.weight),
            c.direction.as_str().to_owned(),
        ];
        row.extend(c.percent.iter().map(|&v| percent_cell(v)));
        row.extend(interval_cells(&c.ci));
        row.extend(c.answers.iter().map(|n| n.to_string()));
        row.push(c.alpha.map(|a| format!("{a:.3}")).unwrap_or_default());
        row.push(super::report::alpha_reading(c.alpha).to_owned());
        rows.push(row);
    }
    let total_answers: Vec<String> = (0..systems.len())
        .map(|s| {
            report
                .criteria
                .iter()
                .map(|c| c.answers.get(s).copied().unwrap_or(0))
                .sum::<usize>()
                .to_string()
        })
        .collect();
    let mut last = vec!["OHS".to_owned(), String::new(), String::new()];
    last.extend(report.ohs.iter().map(|&v| percent_cell(v)));
    last.extend(interval_cells(&report.ohs_ci));
    last.extend(total_answers.iter().cloned());
    last.extend([String::new(), String::new()]);
    rows.push(last);
    if let Some(weights) = weights.filter(|w| *w != report.weights().as_slice()) {
        let listed: Vec<String> = report
            .criteria
            .iter()
            .zip(weights)
            .map(|(c, w)| format!("{} {w}", c.name))
            .collect();
        let mut yours = vec![
            "OHS (your weights)".to_owned(),
            listed.join("; "),
            String::new(),
        ];
        yours.extend(report.ohs_with(weights).iter().map(|&v| percent_cell(v)));
        // Intervals and answers belong to the study's weights; the row repeats the answers.
        yours.extend((0..2 * systems.len()).map(|_| String::new()));
        yours.extend(total_answers);
        yours.extend([String::new(), String::new()]);
        rows.push(yours);
    }
    if report.has_test_iou() {
        let mut iou = vec!["Test IoU".to_owned(), String::new(), String::new()];
        iou.extend(report.test_iou.iter().map(|&v| percent_cell(v)));
        iou.extend((0..3 * systems.len() + 2).map(|_| String::new()));
        rows.push(iou);
    }
    csv_text(&rows)
}

/// The summary as a Markdown report: Table I (criteria, OHS, Test IoU where a system has
/// one, "—" where it has none), the note on weights, and machine-vs-human agreement on the
/// objective criteria.
pub fn summary_markdown(report: &Report) -> String {
    let pct = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), |v| format!("{v:.1} %"));
    let md = |s: &str| s.replace('|', "\\|");
    let mut out = format!("# OHS study {}\n\n", md(&report.study));
    if !report.goal.is_empty() {
        out += &format!("Goal: {}\n\n", md(&report.goal));
    }
    out += &format!("{}.\n\n", report.shape_line());
    out += "| criterion | weight |";
    for s in &report.systems {
        out += &format!(" {} |", md(s));
    }
    out += " α |\n|---|---:|";
    out += &"---:|".repeat(report.systems.len());
    out += "---:|\n";
    for c in &report.criteria {
        let name = match c.direction {
            crate::study::Direction::More => md(&c.name),
            crate::study::Direction::Fewer => format!("{} (fewer)", md(&c.name)),
        };
        out += &format!("| {name} | {} |", c.weight);
        for v in &c.percent {
            out += &format!(" {} |", pct(*v));
        }
        out += &format!(
            " {} |\n",
            c.alpha.map_or("—".to_owned(), |a| format!("{a:.3}"))
        );
    }
    out += "| **OHS** | |";
    for v in &report.ohs {
        out += &format!(" **{}** |", pct(*v));
    }
    out += " |\n";
    if report.has_test_iou() {
        out += "| Test IoU | |";
        for v in &report.test_iou {
            out += &format!(" {} |", pct(*v));
        }
        out += " |\n";
    }
    out += &format!("\n{}\n", report.weights_note);
    if !report.machine.is_empty() {
        out += "\n## Machine pre-fill against scorers\n\n                | criterion | rule | answers | α (machine, human) | mean abs. difference                 | confirmed | corrected | without pre-fill |\n                |---|---|---:|---:|---:|---:|---:|---:|\n";
        for m in &report.machine {
            out += &format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
                md(&m.criterion),
                m.rule.describe(),
                m.pairs,
                m.alpha.map_or("—".to_owned(), |a| format!("{a:.3}")),
                m.mean_abs_diff
                    .map_or("—".to_owned(), |d| format!("{d:.2} hits")),
                m.confirmed,
                m.corrected,
                m.unassisted
            );
        }
    }
    out
}

/// The raw scores: one row per study, scorer, query, system, criterion, hits, and what the
/// answer did with the machine's pre-fill (`none`, `confirmed`, `corrected`).
pub fn raw_csv(study: &Study, answers: &[Answer]) -> Result<String> {
    let mut rows = vec![
        [
            "study",
            "scorer",
            "query",
            "system",
            "criterion",
            "hits",
            "prefill",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for a in answers {
        let Some(sheet) = study.sheet(a.sheet_id) else {
            continue;
        };
        rows.push(vec![
            study.name.clone(),
            a.scorer.clone(),
            study.queries[sheet.query].image.clone(),
            sheet.system.clone(),
            a.criterion.clone(),
            a.hits.to_string(),
            a.prefill.as_str().to_owned(),
        ]);
    }
    csv_text(&rows)
}

/// Writes `text` to `path`.
pub fn write_text(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

/// What a merge or import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MergeReport {
    /// Answers this library did not have.
    pub added: usize,
    /// Answers it already had, with the same hits (skipped).
    pub duplicates: usize,
    /// Answers it already had with other hits: this library's answer is kept; each line says
    /// which.
    pub conflicts: Vec<String>,
    /// Scorers the incoming answers came from.
    pub scorers: Vec<String>,
}

/// Adds `incoming` answers (already checked against the study) in one transaction, skipping
/// duplicates and keeping this library's answer where the two disagree.
fn merge_answers(store: &mut Store, study: &Study, incoming: Vec<Answer>) -> Result<MergeReport> {
    let existing: HashMap<(i64, String, String), u32> = store
        .study_answers(study.id)?
        .into_iter()
        .map(|a| ((a.sheet_id, a.scorer, a.criterion), a.hits))
        .collect();
    let mut report = MergeReport::default();
    let mut seen: HashMap<(i64, String, String), u32> = HashMap::new();
    let mut to_add = Vec::new();
    for a in incoming {
        let key = (a.sheet_id, a.scorer.clone(), a.criterion.clone());
        if !report.scorers.contains(&a.scorer) {
            report.scorers.push(a.scorer.clone());
        }
        match existing.get(&key).or_else(|| seen.get(&key)) {
            Some(&hits) if hits == a.hits => report.duplicates += 1,
            Some(&hits) => report.conflicts.push(format!(
                "sheet {} scorer {:?} criterion {:?}: kept {hits}, not {}",
                a.sheet_id, a.scorer, a.criterion, a.hits
            )),
            None => {
                seen.insert(key, a.hits);
                to_add.push(a);
            }
        }
    }
    report.scorers.sort();
    store.write(|w| {
        for a in &to_add {
            w.upsert_answer(a)?;
        }
        Ok(())
    })?;
    report.added = to_add.len();
    Ok(report)
}

/// Merges the answers of the study `name` from another library's database at `other`
/// (opened read-only). The two studies must be the same study: the same criteria, and for
/// each sheet (matched by query photo and system) the same frozen items; otherwise nothing
/// is merged and the first difference is named.
pub fn merge_database(store: &mut Store, name: &str, other: &Path) -> Result<MergeReport> {
    let study = open_study(store, name)?;
    let theirs_store = Store::open_read_only(other)?;
    let theirs = theirs_store
        .study(name)?
        .ok_or_else(|| Error::file(other, format!("holds no study called {name:?}")))?;
    let names = |s: &Study| -> Vec<String> { s.criteria.iter().map(|c| c.name.clone()).collect() };
    if names(&theirs) != names(&study) || theirs.k != study.k {
        return Err(Error::file(
            other,
            format!(
                "its study {name:?} has other criteria or K ({}; K = {}) than this one ({}; K = {})",
                names(&theirs).join(", "),
                theirs.k,
                names(&study).join(", "),
                study.k
            ),
        ));
    }
    let ours: HashMap<(&str, &str), &Sheet> = study
        .sheets
        .iter()
        .map(|s| {
            (
                (study.queries[s.query].image.as_str(), s.system.as_str()),
                s,
            )
        })
        .collect();
    let mut sheet_map: HashMap<i64, i64> = HashMap::new();
    for sheet in &theirs.sheets {
        let query = theirs.queries[sheet.query].image.as_str();
        let Some(mine) = ours.get(&(query, sheet.system.as_str())) else {
            return Err(Error::file(
                other,
                format!(
                    "its study {name:?} has a sheet ({query}, {}) this one lacks: not the same study",
                    sheet.system
                ),
            ));
        };
        let ids = |s: &Sheet| -> Vec<i64> { s.items.iter().map(|i| i.item_id).collect() };
        if ids(mine) != ids(sheet) {
            return Err(Error::file(
                other,
                format!(
                    "the sheet ({query}, {}) lists other items there: not the same study",
                    sheet.system
                ),
            ));
        }
        sheet_map.insert(sheet.id, mine.id);
    }
    let incoming: Vec<Answer> = theirs_store
        .study_answers(theirs.id)?
        .into_iter()
        .filter_map(|a| {
            Some(Answer {
                sheet_id: *sheet_map.get(&a.sheet_id)?,
                ..a
            })
        })
        .collect();
    for a in &incoming {
        check_answer(&study, a).map_err(|e| Error::file(other, e.to_string()))?;
    }
    merge_answers(store, &study, incoming)
}

/// Merges the scores in `path` into the study `name`, read by the file's extension: a
/// raw-score CSV (`.csv`, any case: what `ohs report --raw-csv` and the Analyze tab's export
/// write; see [`import_raw_csv`]) or else another library's database (its `vitrine.sqlite`;
/// see [`merge_database`]). The CLI's `ohs merge` and the Analyze tab's "Merge scores from"
/// both come here.
pub fn merge_file(store: &mut Store, name: &str, path: &Path) -> Result<MergeReport> {
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if is_csv {
        import_raw_csv(store, name, path)
    } else {
        merge_database(store, name, path)
    }
}

/// Imports a raw-score CSV (the columns [`raw_csv`] writes; `prefill` may be missing, as in
/// files written before it existed) into the study `name`. A row of another study, an
/// unknown query, system or criterion, hits outside 0..=K or an unknown pre-fill outcome
/// refuses the whole file with its line.
pub fn import_raw_csv(store: &mut Store, name: &str, path: &Path) -> Result<MergeReport> {
    let study = open_study(store, name)?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::Headers)
        .from_path(path)
        .map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    let headers = reader
        .headers()
        .map_err(|e| Error::file(path, format!("cannot read the header: {e}")))?
        .clone();
    let header: Vec<&str> = headers.iter().collect();
    let wanted = ["study", "scorer", "query", "system", "criterion", "hits"];
    let cols = crate::csv_header::required_columns(path, &header, &wanted)?;
    let prefill_col = crate::csv_header::column(&header, "prefill");
    let sheet_of: HashMap<(&str, &str), i64> = study
        .sheets
        .iter()
        .map(|s| {
            (
                (study.queries[s.query].image.as_str(), s.system.as_str()),
                s.id,
            )
        })
        .collect();
    let mut incoming = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i as u64 + 2;
        let record = record.map_err(|e| Error::format(path, line, e.to_string()))?;
        let cell = |c: usize| unescape_cell(record.get(cols[c]).unwrap_or(""));
        if cell(0) != study.name {
            return Err(Error::format(
                path,
                line,
                format!("a row of the study {:?}, not {:?}", cell(0), study.name),
            ));
        }
        let sheet_id = *sheet_of.get(&(cell(2), cell(3))).ok_or_else(|| {
            Error::format(
                path,
                line,
                format!(
                    "the study has no sheet for query {:?} and system {:?}",
                    cell(2),
                    cell(3)
                ),
            )
        })?;
        let hits: u32 = cell(5).trim().parse().map_err(|_| {
            Error::format(
                path,
                line,
                format!(
                    "hits {:?} is not a whole number from 0 to {}",
                    cell(5),
                    study.k
                ),
            )
        })?;
        let prefill_cell = prefill_col.map_or("", |c| record.get(c).unwrap_or(""));
        let prefill = Prefill::parse(prefill_cell).ok_or_else(|| {
            Error::format(
                path,
                line,
                format!("prefill {prefill_cell:?} is not none, confirmed or corrected"),
            )
        })?;
        let answer = Answer {
            sheet_id,
            scorer: cell(1).to_owned(),
            criterion: cell(4).to_owned(),
            hits,
            marks: None,
            given_at: String::new(),
            prefill,
        };
        check_answer(&study, &answer).map_err(|e| Error::format(path, line, e.to_string()))?;
        incoming.push(answer);
    }
    merge_answers(store, &study, incoming)
}

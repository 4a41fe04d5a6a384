//! Objective-guided human score (OHS) studies: the paper's answer to "recommendations have no
//! ground truth" (§IV.A, §IV.D, Table I; ARCHITECTURE.md §8).
//!
//! A [`Study`] names a goal, K, weighted criteria (the paper's seven by default), a query set
//! (shop and street photos) and the systems compared. Creating it runs every query through
//! every system once and *freezes* the sheets (query × system → its top-K items) in SQLite,
//! so retraining a system later never changes what scorers see. Scorers count hits per
//! criterion (hit@K, 0..=K) on sheets shown in an order shuffled per scorer with the system
//! hidden; every answer is its own transaction ([`record_answer`]). [`report`] turns the
//! answers into the Table I numbers, agreement and intervals; [`export`] writes CSV and
//! merges scorers' databases. [`session`] is one scorer at work: their place in their own
//! order of sheets, moving on, skipping, and taking an answer back. [`prefill`] is the
//! machine's count for objective criteria (same category, same colour), frozen with the
//! sheets, that scorers confirm or correct.

pub mod export;
pub mod prefill;
pub mod report;
pub mod session;

use crate::csv_header;
use crate::error::{Error, Result};
use crate::jobs::JobContext;
use crate::library::Library;
use crate::model::system::System;
use crate::search::{QueryResult, SearchFilter, Searcher};
use crate::store::{ItemFilter, Store};
use crate::study::{
    Answer, Criterion, Direction, Domain, MAX_K, NewQuery, NewSheet, NewStudy, ObjectiveRule,
    Prefill, SheetItem, Study, validate_criteria,
};
use candle_core::Device;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Reads criteria from a CSV file with the columns `name,weight,direction,description` and
/// an optional `objective` (direction `more` or `fewer`; objective empty, `category` or
/// `colour`). A bad row is an error naming the file and line.
pub fn read_criteria_csv(path: &Path) -> Result<Vec<Criterion>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(path)
        .map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    let headers = reader
        .headers()
        .map_err(|e| Error::file(path, format!("cannot read the header: {e}")))?
        .clone();
    let header: Vec<&str> = headers.iter().collect();
    let columns = csv_header::required_columns(path, &header, &["name", "weight", "direction"])?;
    let (name_col, weight_col, dir_col) = (columns[0], columns[1], columns[2]);
    let desc_col = csv_header::column(&header, "description");
    let objective_col = csv_header::column(&header, "objective");
    let mut criteria = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i as u64 + 2;
        let record = record.map_err(|e| Error::format(path, line, e.to_string()))?;
        let cell = |c: usize| record.get(c).unwrap_or("").to_owned();
        let name = cell(name_col);
        if name.is_empty() {
            return Err(Error::format(path, line, "the criterion has no name"));
        }
        let weight: f64 = cell(weight_col).parse().map_err(|_| {
            Error::format(
                path,
                line,
                format!("weight {:?} is not a number", cell(weight_col)),
            )
        })?;
        if !weight.is_finite() || weight < 0.0 {
            return Err(Error::format(
                path,
                line,
                format!("weight {weight} must be a number ≥ 0"),
            ));
        }
        let direction = Direction::parse(&cell(dir_col)).ok_or_else(|| {
            Error::format(
                path,
                line,
                format!("direction {:?} must be more or fewer", cell(dir_col)),
            )
        })?;
        if criteria.iter().any(|c: &Criterion| c.name == name) {
            return Err(Error::format(
                path,
                line,
                format!("the criterion {name:?} is named twice"),
            ));
        }
        let objective = match objective_col.map(cell).filter(|o| !o.is_empty()) {
            Some(o) => Some(
                ObjectiveRule::parse(&o).map_err(|e| Error::format(path, line, e.to_string()))?,
            ),
            None => None,
        };
        criteria.push(Criterion {
            name,
            description: desc_col.map(cell).unwrap_or_default(),
            weight,
            direction,
            objective,
        });
    }
    validate_criteria(&criteria).map_err(|e| Error::file(path, e.to_string()))?;
    Ok(criteria)
}

/// Which photos a new study asks about. Several sources may be combined (the paper mixed
/// shop and street photos); each is drawn at random from the seed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuerySelection {
    /// Photos from the demo street set (domain street).
    pub street: usize,
    /// Catalogue items (domain shop; the item itself is left out of its results).
    pub items: usize,
    /// Every image in a folder: domain street when a folder on its path is called `street`,
    /// shop otherwise.
    pub folder: Option<PathBuf>,
}

/// What [`create_study`] needs.
#[derive(Debug, Clone, PartialEq)]
pub struct StudySpec {
    pub name: String,
    pub goal: String,
    pub k: u32,
    pub criteria: Vec<Criterion>,
    pub systems: Vec<String>,
    pub queries: QuerySelection,
    pub seed: u64,
    /// Scorers may see why each result is similar ([`crate::study::Study::show_explanations`]).
    pub show_explanations: bool,
}

/// The queries `selection` picks from the library `lib`, street photos first.
pub fn select_queries(
    lib: &Library,
    selection: &QuerySelection,
    seed: u64,
) -> Result<Vec<NewQuery>> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut queries = Vec::new();
    if selection.street > 0 {
        let mut street = lib.store.street_queries()?;
        if street.len() < selection.street {
            return Err(Error::Invalid(format!(
                "{} street photos asked for, but the library has {} (`vitrine demo --street N` \
                 draws more)",
                selection.street,
                street.len()
            )));
        }
        street.shuffle(&mut rng);
        street.truncate(selection.street);
        street.sort_by_key(|q| q.id);
        queries.extend(street.into_iter().map(|q| NewQuery {
            image: q.image,
            domain: Domain::Street,
            item_id: Some(q.item_id),
        }));
    }
    if selection.items > 0 {
        let mut items = lib.store.items(&ItemFilter::default())?;
        if items.len() < selection.items {
            return Err(Error::Invalid(format!(
                "{} catalogue items asked for as queries, but the library has {}",
                selection.items,
                items.len()
            )));
        }
        items.shuffle(&mut rng);
        items.truncate(selection.items);
        items.sort_by_key(|it| it.id);
        queries.extend(items.into_iter().map(|it| NewQuery {
            image: it.image,
            domain: Domain::Shop,
            item_id: Some(it.id),
        }));
    }
    if let Some(folder) = &selection.folder {
        let mut files = Vec::new();
        collect_images(folder, &mut files)?;
        if files.is_empty() {
            return Err(Error::file(folder, "holds no images to use as queries"));
        }
        files.sort();
        for file in files {
            let street = file
                .strip_prefix(folder)
                .unwrap_or(&file)
                .parent()
                .into_iter()
                .flat_map(|p| p.components())
                .chain(folder.components().next_back())
                .any(|c| c.as_os_str().eq_ignore_ascii_case("street"));
            queries.push(NewQuery {
                image: lib.stored_path(&file),
                domain: if street { Domain::Street } else { Domain::Shop },
                item_id: None,
            });
        }
    }
    if queries.is_empty() {
        return Err(Error::Invalid(
            "a study needs queries: street photos, catalogue items or a folder of images".into(),
        ));
    }
    Ok(queries)
}

/// Every image file under `dir`, walked breadth-first (shallowest path first, in name order)
/// with a queue rather than recursion. Symbolic links are followed, but a folder reached
/// twice (through a link, or a link loop) is walked once and a file reached twice is listed
/// once, so a loop neither hangs nor repeats queries.
fn collect_images(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut seen_dirs = std::collections::HashSet::new();
    let mut seen_files = std::collections::HashSet::new();
    let mut pending = std::collections::VecDeque::from([dir.to_path_buf()]);
    while let Some(dir) = pending.pop_front() {
        let canonical = std::fs::canonicalize(&dir).map_err(|e| Error::io(&dir, e))?;
        if !seen_dirs.insert(canonical) {
            continue;
        }
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            entries.push(entry.map_err(|e| Error::io(&dir, e))?.path());
        }
        entries.sort();
        for path in entries {
            if std::fs::metadata(&path).is_ok_and(|m| m.is_dir()) {
                pending.push_back(path);
            } else if crate::vision::has_image_extension(&path) {
                // A broken link is listed, so the query that cannot be read is named later.
                let key = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
                if seen_files.insert(key) {
                    out.push(path);
                }
            }
        }
    }
    Ok(())
}

/// Checks a spec before any model is loaded: a name, K in 1..=[`MAX_K`], valid criteria, and
/// two or more distinct systems that exist in the library.
pub fn validate_spec(lib: &Library, spec: &StudySpec) -> Result<()> {
    if spec.name.trim().is_empty() {
        return Err(Error::Invalid("a study needs a name".into()));
    }
    if spec.k == 0 || spec.k > MAX_K {
        return Err(Error::Invalid(format!(
            "K is {}; a sheet shows 1 to {MAX_K} results",
            spec.k
        )));
    }
    validate_criteria(&spec.criteria)?;
    prefill::check_objective_rules(&lib.store, &spec.criteria)?;
    if spec.systems.len() < 2 {
        return Err(Error::Invalid(
            "a study compares two or more systems (`vitrine systems` lists them)".into(),
        ));
    }
    let known: Vec<String> = System::list(lib)?.into_iter().map(|s| s.name).collect();
    for (i, s) in spec.systems.iter().enumerate() {
        if spec.systems[..i].contains(s) {
            return Err(Error::Invalid(format!("the system {s:?} is named twice")));
        }
        if !known.contains(s) {
            return Err(Error::Invalid(format!(
                "there is no system called {s:?} in this library (known: {})",
                known.join(", ")
            )));
        }
    }
    if lib.store.study(&spec.name)?.is_some() {
        return Err(Error::Invalid(format!(
            "there is already a study called {:?}; choose another name",
            spec.name
        )));
    }
    Ok(())
}

/// Creates a study in the library at `root` (a job: progress per query, cancellable): picks
/// the queries, brings each system's index up to date ([`Searcher::open_fresh`]), runs every
/// query through every system and stores the frozen sheets in one transaction.
pub fn create_study(
    root: &Path,
    spec: &StudySpec,
    device: &Device,
    ctx: &JobContext,
) -> Result<Study> {
    let mut lib = Library::open(root)?;
    validate_spec(&lib, spec)?;
    let queries = select_queries(&lib, &spec.queries, spec.seed)?;
    let mut searchers = Vec::with_capacity(spec.systems.len());
    for name in &spec.systems {
        ctx.check_cancelled()?;
        ctx.progress(0, queries.len() as u64, &format!("indexing with {name}"));
        searchers.push(Searcher::open_fresh(&lib, name, device, ctx)?);
    }
    let k = spec.k as usize;
    let mut sheets = Vec::with_capacity(queries.len() * searchers.len());
    for (qi, query) in queries.iter().enumerate() {
        ctx.check_cancelled()?;
        ctx.progress(qi as u64, queries.len() as u64, "freezing sheets");
        for (si, searcher) in searchers.iter().enumerate() {
            let result = run_query(&lib, searcher, query, k)?;
            if result.results.len() < k {
                return Err(Error::Invalid(format!(
                    "{} returns only {} results for {}; K = {k} needs a larger catalogue",
                    searcher.system_name(),
                    result.results.len(),
                    query.image
                )));
            }
            sheets.push(NewSheet {
                query: qi,
                system: si,
                items: result
                    .results
                    .iter()
                    .map(|r| SheetItem {
                        item_id: r.item_id,
                        image: lib.stored_path(Path::new(&r.image)),
                    })
                    .collect(),
            });
        }
    }
    ctx.progress(
        queries.len() as u64,
        queries.len() as u64,
        "freezing sheets",
    );
    let new = NewStudy {
        name: spec.name.trim().to_owned(),
        goal: spec.goal.clone(),
        k: spec.k,
        seed: spec.seed,
        criteria: spec.criteria.clone(),
        systems: spec.systems.clone(),
        queries,
        sheets,
        show_explanations: spec.show_explanations,
    };
    store_study(&mut lib.store, &new)
}

/// Stores a study whose sheets are already frozen, with the machine's counts for its
/// objective criteria ([`prefill::machine_counts`]), and reads it back.
pub fn store_study(store: &mut Store, new: &NewStudy) -> Result<Study> {
    validate_criteria(&new.criteria)?;
    prefill::check_objective_rules(store, &new.criteria)?;
    let machine = prefill::machine_counts(store, new)?;
    store.write(|w| w.insert_study(new, &machine))?;
    store
        .study(&new.name)?
        .ok_or_else(|| Error::Invalid(format!("the study {:?} was not stored", new.name)))
}

/// One query through one system: a catalogue item by its stored embedding (itself left
/// out), any other photo by its file.
fn run_query(
    lib: &Library,
    searcher: &Searcher,
    query: &NewQuery,
    k: usize,
) -> Result<QueryResult> {
    match (query.domain, query.item_id) {
        (Domain::Shop, Some(item)) => searcher.query_item(item, k, &SearchFilter::default()),
        _ => searcher.query_file(&lib.resolve(&query.image), k, &SearchFilter::default()),
    }
}

/// Opens the study called `name`, or says which studies there are.
pub fn open_study(store: &Store, name: &str) -> Result<Study> {
    store.study(name)?.ok_or_else(|| {
        let known = store.study_names().unwrap_or_default();
        Error::Invalid(if known.is_empty() {
            format!(
                "there is no study called {name:?}; the library has none yet (`vitrine ohs create`)"
            )
        } else {
            format!(
                "there is no study called {name:?} (known: {})",
                known.join(", ")
            )
        })
    })
}

/// Checks one answer against the study: a sheet of it, one of its criteria, hits in 0..=K,
/// marks (if any) distinct ranks in 1..=K that add up to the hits, and a pre-fill outcome
/// only where the sheet has a machine count (a confirmed one with the machine's hits).
pub fn check_answer(study: &Study, answer: &Answer) -> Result<()> {
    if answer.scorer.trim().is_empty() {
        return Err(Error::Invalid("an answer needs the scorer's name".into()));
    }
    let Some(sheet) = study.sheet(answer.sheet_id) else {
        return Err(Error::Invalid(format!(
            "sheet {} is not in the study {:?}",
            answer.sheet_id, study.name
        )));
    };
    let machine = sheet.machine_count(&answer.criterion);
    match (answer.prefill, machine) {
        (Prefill::None, _) => {}
        (_, None) => {
            return Err(Error::Invalid(format!(
                "sheet {} has no machine count for {:?}, so the answer cannot be a {} pre-fill",
                answer.sheet_id,
                answer.criterion,
                answer.prefill.as_str()
            )));
        }
        (Prefill::Confirmed, Some(m)) if m.hits() != answer.hits => {
            return Err(Error::Invalid(format!(
                "a confirmed pre-fill of {} hits recorded as {}",
                m.hits(),
                answer.hits
            )));
        }
        _ => {}
    }
    if study.criterion_index(&answer.criterion).is_none() {
        let names: Vec<&str> = study.criteria.iter().map(|c| c.name.as_str()).collect();
        return Err(Error::Invalid(format!(
            "the study {:?} has no criterion {:?} (it has: {})",
            study.name,
            answer.criterion,
            names.join(", ")
        )));
    }
    if answer.hits > study.k {
        return Err(Error::Invalid(format!(
            "{} hits on a sheet of {} results; hits go from 0 to {}",
            answer.hits, study.k, study.k
        )));
    }
    if let Some(marks) = &answer.marks {
        let mut sorted = marks.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != marks.len()
            || sorted.iter().any(|&r| r == 0 || r > study.k)
            || marks.len() as u32 != answer.hits
        {
            return Err(Error::Invalid(format!(
                "marked results {marks:?} do not match {} hits on a sheet of {}",
                answer.hits, study.k
            )));
        }
    }
    Ok(())
}

/// Records one answer the moment it is given, in its own transaction: once this returns,
/// killing the program loses nothing (SQLite WAL commit).
pub fn record_answer(store: &mut Store, study: &Study, answer: &Answer) -> Result<()> {
    check_answer(study, answer)?;
    store.write(|w| w.upsert_answer(answer))
}

/// Records `answer` like [`record_answer`] and returns the answer it replaced (`None` for a
/// first answer), so the scorer can take it back with [`undo_answer`].
pub fn record_answer_undoable(
    store: &mut Store,
    study: &Study,
    answer: &Answer,
) -> Result<Option<Answer>> {
    check_answer(study, answer)?;
    let previous = store.answer(answer.sheet_id, &answer.scorer, &answer.criterion)?;
    store.write(|w| w.upsert_answer(answer))?;
    Ok(previous)
}

/// Takes back an answer (Ctrl+Z while scoring), in its own transaction: the `previous`
/// answer it replaced comes back as it was (hits, marks and time), or, where it was the first
/// answer for that sheet, scorer and criterion, the answer is deleted.
pub fn undo_answer(
    store: &mut Store,
    study: &Study,
    given: &Answer,
    previous: Option<&Answer>,
) -> Result<()> {
    match previous {
        Some(previous) => {
            check_answer(study, previous)?;
            store.write(|w| w.upsert_answer(previous))
        }
        None => store.write(|w| w.delete_answer(given.sheet_id, &given.scorer, &given.criterion)),
    }
}

/// Remembers where `scorer` is (their sheet position and criterion), in its own transaction.
pub fn save_position(
    store: &mut Store,
    study: &Study,
    scorer: &str,
    sheet_pos: usize,
    criterion: usize,
) -> Result<()> {
    store.write(|w| w.set_scorer_position(study.id, scorer, sheet_pos, criterion))
}

/// Reads a bulk-entry CSV (`sheet_id,criterion,hits`, e.g. typed from paper forms) for one
/// scorer and stores every row in one transaction. An unknown sheet or criterion, or hits
/// outside 0..=K, refuses the whole file with the line, so nothing is half-entered.
pub fn import_scores_csv(
    store: &mut Store,
    study: &Study,
    scorer: &str,
    path: &Path,
) -> Result<usize> {
    if scorer.trim().is_empty() {
        return Err(Error::Invalid("--scorer needs a name".into()));
    }
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    let headers = reader
        .headers()
        .map_err(|e| Error::file(path, format!("cannot read the header: {e}")))?
        .clone();
    let header: Vec<&str> = headers.iter().collect();
    let columns = csv_header::required_columns(path, &header, &["sheet_id", "criterion", "hits"])?;
    let (sheet_col, crit_col, hits_col) = (columns[0], columns[1], columns[2]);
    let mut answers = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i as u64 + 2;
        let record = record.map_err(|e| Error::format(path, line, e.to_string()))?;
        let cell = |c: usize| record.get(c).unwrap_or("");
        let sheet_id: i64 = cell(sheet_col).parse().map_err(|_| {
            Error::format(
                path,
                line,
                format!("sheet_id {:?} is not a number", cell(sheet_col)),
            )
        })?;
        let hits: u32 = cell(hits_col).parse().map_err(|_| {
            Error::format(
                path,
                line,
                format!(
                    "hits {:?} is not a whole number from 0 to {}",
                    cell(hits_col),
                    study.k
                ),
            )
        })?;
        let answer = Answer {
            sheet_id,
            scorer: scorer.to_owned(),
            criterion: export::unescape_cell(cell(crit_col)).to_owned(),
            hits,
            marks: None,
            given_at: String::new(),
            prefill: Prefill::None,
        };
        check_answer(study, &answer).map_err(|e| Error::format(path, line, e.to_string()))?;
        answers.push(answer);
    }
    store.write(|w| {
        for a in &answers {
            w.upsert_answer(a)?;
        }
        Ok(())
    })?;
    Ok(answers.len())
}

/// How far one scorer has come.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coverage {
    pub scorer: String,
    /// Sheets with an answer for every criterion.
    pub sheets_done: usize,
    pub answers: usize,
}

/// Sheets done (every criterion answered) and answers given, per scorer, by name.
pub fn coverage(study: &Study, answers: &[Answer]) -> Vec<Coverage> {
    let mut per: std::collections::BTreeMap<&str, std::collections::HashMap<i64, usize>> =
        std::collections::BTreeMap::new();
    for a in answers {
        if study.criterion_index(&a.criterion).is_some() {
            *per.entry(&a.scorer)
                .or_default()
                .entry(a.sheet_id)
                .or_default() += 1;
        }
    }
    per.into_iter()
        .map(|(scorer, sheets)| Coverage {
            scorer: scorer.to_owned(),
            sheets_done: sheets
                .values()
                .filter(|&&n| n == study.criteria.len())
                .count(),
            answers: sheets.values().sum(),
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests;

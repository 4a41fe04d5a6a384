//! Importers for real catalogue formats, and the pipeline they share.
//!
//! Each importer (a folder + [`csv`], a [`folder`] of photos in category folders, the
//! [`amazon`] product data, Kaggle's [`fashion`] product images, DeepFashion
//! [`deepfashion`] In-shop) only reads its own
//! format: it turns rows into *candidate* items (key, title, candidate labels, image path)
//! and notes the rows it cannot use. The rest is the same for every source:
//!
//! 1. candidates whose id is already in the library are skipped;
//! 2. images are checked **in parallel** (rayon) by a full [`vision::decode`], so missing,
//!    empty, corrupt, truncated and oversized images are caught now and not during training;
//!    the image's size is recorded and its canonical path stored: relative to the library
//!    when it lies inside it (so the library can be moved), absolute otherwise (imported
//!    images stay where they are);
//! 3. the label [`vocabulary`](crate::catalog::vocabulary) is counted over the items that
//!    passed and applied to each of them;
//! 4. items are written in transactions of [`WRITE_CHUNK`] items (so another process's
//!    write, a scorer's answer, waits milliseconds, not minutes), then Amazon's users and
//!    ratings in one more; if a later one fails or the import is cancelled, the items
//!    already committed are deleted again, so a failed import leaves the library as it was
//!    (a killed one leaves whole items, which importing again skips as already stored);
//! 5. an [`ImportReport`] says what was imported and what was skipped, and why.
//!
//! Progress goes to [`JobContext::progress`]; cancellation is checked between stages and
//! chunks, and a cancelled import writes nothing.
//!
//! # Skip or fail
//! The promise to the user: a clear message naming the file and line, and nothing already
//! stored is ever lost.
//! - **Whole-file problems fail** the import (`Err`, nothing written): a missing list or CSV
//!   file, a header lacking a required column (the message names the missing columns and
//!   lists those found), a header that is not UTF-8, a wrong header line in a list file.
//! - **Row problems skip the row** and are listed in [`ImportReport::skipped`] as
//!   `file:line` with a reason: missing or extra fields, a missing, empty, corrupt,
//!   truncated or oversized image, a duplicate id (in the file or already in the library),
//!   text that is not UTF-8. With [`ImportOptions::strict`] the first such problem fails
//!   the whole import instead, and nothing is written.
//! - If no row can be imported, nothing is written and the report says so (`imported: 0`).
//! - A CSV row whose opening quote is never closed would swallow every line after it: it is
//!   skipped, naming how many lines it would have swallowed, and reading goes on at the next
//!   line, so no row is lost without a word.
//!
//! # Budgets
//! Files from outside may be hostile or broken, so reading them is bounded: a line (or a CSV
//! row) longer than [`MAX_LINE_BYTES`] is skipped without being held in memory; a gzip file
//! may decompress to at most [`MAX_DECOMPRESSION_RATIO`] times its size (and at least
//! [`MIN_DECOMPRESSED_LIMIT`]) before the import fails; at most [`MAX_PROBLEMS_KEPT`] skipped
//! rows are listed in the report, the rest are counted ([`ImportReport::skipped_unlisted`]).

pub mod amazon;
pub mod csv;
pub mod deepfashion;
pub mod fashion;
pub mod folder;

pub use self::csv::import_csv;
pub use amazon::{UserFilter, import_amazon};
pub use deepfashion::import_deepfashion_inshop;
pub use fashion::import_fashion_product_images;
pub use folder::{FolderSplit, import_folder};

use crate::catalog::vocabulary::{Vocabulary, VocabularyRule};
use crate::catalog::{ItemId, Label, NewItem, Source};
use crate::error::{Error, Result};
use crate::jobs::JobContext;
use crate::library::Library;
use crate::store::Writer;
use crate::vision;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// How an import behaves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Which candidate labels are kept.
    pub vocabulary: VocabularyRule,
    /// Any skipped row makes the whole import fail (and write nothing).
    pub strict: bool,
    /// Import at most this many items (the first ones whose rows and images are good).
    pub limit: Option<usize>,
}

/// The longest line of a text file (or row of a CSV file) an importer reads; longer ones are
/// skipped.
pub const MAX_LINE_BYTES: usize = 16 << 20;
/// Skipped rows listed, with their reasons, in one report; the rest are only counted.
pub const MAX_PROBLEMS_KEPT: usize = 10_000;
/// A gzip file may decompress to at most this many times its own size …
pub const MAX_DECOMPRESSION_RATIO: u64 = 200;
/// … or to this many bytes, whichever is more.
pub const MIN_DECOMPRESSED_LIMIT: u64 = 1 << 30;

/// What an import did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportReport {
    pub source: Source,
    /// Items written to the library.
    pub imported: u64,
    /// Rows (or files) that were not imported, with the reason (at most
    /// [`MAX_PROBLEMS_KEPT`]).
    pub skipped: Vec<Skipped>,
    /// Rows skipped beyond those listed in `skipped`.
    pub skipped_unlisted: u64,
    /// Labels in the vocabulary kept by this import.
    pub labels_kept: u64,
    /// Users written (Amazon reviewers that passed the user filter).
    pub users: u64,
    /// Ratings written.
    pub ratings: u64,
}

/// A row or file that an import skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// `file:line`, or a file path when the problem is not on one line.
    pub location: String,
    pub reason: String,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.reason)
    }
}

/// A problem that skips a row (or, with no line, something about a file as a whole).
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    path: PathBuf,
    line: Option<u64>,
    reason: String,
}

impl Problem {
    /// A problem on line `line` (1-based) of `path`; line 0 is the file as a whole (a photo
    /// of a folder import).
    pub(crate) fn at(path: &Path, line: u64, reason: impl Into<String>) -> Problem {
        Problem {
            path: path.to_path_buf(),
            line: (line > 0).then_some(line),
            reason: reason.into(),
        }
    }

    fn skipped(&self) -> Skipped {
        let location = match self.line {
            Some(line) => format!("{}:{line}", self.path.display()),
            None => self.path.display().to_string(),
        };
        Skipped {
            location,
            reason: self.reason.clone(),
        }
    }

    /// The error a strict import fails with.
    fn into_error(self) -> Error {
        let reason = format!("{} (strict import: nothing was imported)", self.reason);
        match self.line {
            Some(line) => Error::format(self.path, line, reason),
            None => Error::file(self.path, reason),
        }
    }
}

/// The problems of one import: the first [`MAX_PROBLEMS_KEPT`], and a count of the rest, so a
/// file of millions of bad rows cannot fill the memory.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    kept: Vec<Problem>,
    unlisted: u64,
}

impl Problems {
    fn push(&mut self, problem: Problem) {
        if self.kept.len() < MAX_PROBLEMS_KEPT {
            self.kept.push(problem);
        } else {
            self.unlisted += 1;
        }
    }

    fn first(&self) -> Option<&Problem> {
        self.kept.first()
    }

    /// Whether no problem was recorded.
    pub(crate) fn is_empty(&self) -> bool {
        self.kept.is_empty() && self.unlisted == 0
    }

    fn extend(&mut self, other: Problems) {
        self.unlisted += other.unlisted;
        for problem in other.kept {
            self.push(problem);
        }
    }

    /// The report's `skipped` (in file order) and `skipped_unlisted`.
    fn into_report(self) -> (Vec<Skipped>, u64) {
        (in_file_order(self.kept), self.unlisted)
    }
}

/// A row turned into an item whose image is still to be checked.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    /// The data file the row is in, and its line (0: the image is a file of its own, as in
    /// a folder import), for messages.
    pub path: PathBuf,
    pub line: u64,
    /// The image file as found; the pipeline stores its canonical path.
    pub image: PathBuf,
    /// The item, with `image`, `width_px` and `height_px` still to be filled in.
    pub item: NewItem,
}

/// An item with everything but its image filled in by the importer.
pub(crate) fn new_item(source: Source, key: String, title: String, labels: Vec<Label>) -> NewItem {
    NewItem {
        key,
        source,
        title,
        image: String::new(),
        width_px: 0,
        height_px: 0,
        product: None,
        partition: None,
        in_stock: None,
        labels,
    }
}

/// What an importer read: candidate items, and the rows it had to skip.
#[derive(Debug, Default)]
pub(crate) struct Rows {
    candidates: Vec<Candidate>,
    problems: Problems,
    /// Key → line of its first row, to catch duplicates within a file.
    first_line: HashMap<String, u64>,
}

impl Rows {
    /// Adds a candidate, or skips it if its key was already seen in this import.
    pub(crate) fn push(&mut self, candidate: Candidate) {
        if let Some(first) = self.first_line.get(&candidate.item.key) {
            let reason = format!(
                "duplicate id {:?} (first at line {first}); this row was skipped",
                candidate.item.key
            );
            self.skip(Problem::at(&candidate.path, candidate.line, reason));
            return;
        }
        self.first_line
            .insert(candidate.item.key.clone(), candidate.line);
        self.candidates.push(candidate);
    }

    /// Records a row that cannot be imported.
    pub(crate) fn skip(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    /// Whether a candidate with this key was read.
    pub(crate) fn has_key(&self, key: &str) -> bool {
        self.first_line.contains_key(key)
    }

    /// The candidates, and the rows skipped so far as report entries (a held-out query set
    /// is read like an import but never stored).
    pub(crate) fn into_parts(self) -> (Vec<Candidate>, Vec<Skipped>) {
        (self.candidates, self.problems.into_report().0)
    }
}

/// How many images are checked between two cancellation checks / progress reports.
const CHUNK: usize = 256;
/// How many items are written per transaction (and between two cancellation checks and
/// progress reports).
pub const WRITE_CHUNK: usize = 1000;

/// Runs the shared pipeline (see the module docs) on what an importer read.
pub(crate) fn run(
    lib: &mut Library,
    source: Source,
    rows: Rows,
    opts: &ImportOptions,
    ctx: &JobContext,
) -> Result<ImportReport> {
    run_with(lib, source, rows, opts, ctx, |_, _| Ok((0, 0)))
}

/// [`run`], with `after_items` called in a transaction of its own once the items are stored;
/// it gets the stored items' ids by key and returns how many users and ratings it wrote.
pub(crate) fn run_with<F>(
    lib: &mut Library,
    source: Source,
    rows: Rows,
    opts: &ImportOptions,
    ctx: &JobContext,
    after_items: F,
) -> Result<ImportReport>
where
    F: FnOnce(&Writer<'_>, &HashMap<String, ItemId>) -> Result<(u64, u64)>,
{
    ctx.check_cancelled()?;
    let Rows {
        candidates,
        mut problems,
        ..
    } = rows;
    let strict = opts.strict;
    if strict && let Some(first) = problems.first() {
        return Err(first.clone().into_error());
    }

    // 1. Ids already in the library.
    let mut fresh = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        if lib.store.item_id(&candidate.item.key)?.is_some() {
            note(&mut problems, already_stored(&candidate), strict)?;
        } else {
            fresh.push(candidate);
        }
    }

    // 2. Images, in parallel, a chunk at a time, until `limit` items passed.
    let wanted = opts.limit.unwrap_or(usize::MAX);
    let total = fresh.len().min(wanted) as u64;
    let mut valid: Vec<Candidate> = Vec::with_capacity(total as usize);
    let mut checked = 0u64;
    let mut queue = fresh.into_iter();
    // Images inside the library are stored relative to it, so a moved library keeps them.
    let root = std::fs::canonicalize(lib.root()).ok();
    ctx.progress(0, total, "checking images");
    while valid.len() < wanted {
        let chunk: Vec<Candidate> = queue
            .by_ref()
            .take(CHUNK.min(wanted - valid.len()))
            .collect();
        if chunk.is_empty() {
            break;
        }
        ctx.check_cancelled()?;
        checked += chunk.len() as u64;
        let results: Vec<Result<Candidate, Problem>> = chunk
            .into_par_iter()
            .map(|candidate| check_image(candidate, root.as_deref()))
            .collect();
        for result in results {
            match result {
                Ok(candidate) => valid.push(candidate),
                Err(problem) => note(&mut problems, problem, strict)?,
            }
        }
        ctx.progress(checked.min(total), total, "checking images");
    }

    // 3. The vocabulary, over the items that passed.
    ctx.check_cancelled()?;
    ctx.progress(0, 1, "building the label vocabulary");
    let vocabulary = Vocabulary::from_items(
        valid.iter().map(|c| c.item.labels.as_slice()),
        &opts.vocabulary,
    );
    for candidate in &mut valid {
        vocabulary.filter(&mut candidate.item.labels);
    }

    let mut report = ImportReport {
        source,
        imported: 0,
        skipped: Vec::new(),
        skipped_unlisted: 0,
        labels_kept: 0,
        users: 0,
        ratings: 0,
    };
    if valid.is_empty() {
        (report.skipped, report.skipped_unlisted) = problems.into_report();
        return Ok(report);
    }

    // 4. Chunks of items, each in its own transaction, so another process's write (a
    //    scorer's answer) waits milliseconds, not the whole import; undone if a later chunk
    //    fails or the import is cancelled.
    let count = valid.len() as u64;
    let mut ids: HashMap<String, ItemId> = HashMap::with_capacity(valid.len());
    let mut late = Problems::default();
    let stored = (|| -> Result<(u64, u64)> {
        for (c, chunk) in valid.chunks(WRITE_CHUNK).enumerate() {
            ctx.check_cancelled()?;
            ctx.progress((c * WRITE_CHUNK) as u64, count, "storing items");
            let (chunk_ids, chunk_late) = lib.store.write(|w| {
                let mut chunk_ids = Vec::with_capacity(chunk.len());
                let mut chunk_late = Problems::default();
                for candidate in chunk {
                    // Another import may have stored this id since step 1.
                    if w.item_id(&candidate.item.key)?.is_some() {
                        note(&mut chunk_late, already_stored(candidate), strict)?;
                        continue;
                    }
                    let id = w.insert_item(&candidate.item)?;
                    chunk_ids.push((candidate.item.key.clone(), id));
                }
                Ok((chunk_ids, chunk_late))
            })?;
            ids.extend(chunk_ids);
            late.extend(chunk_late);
        }
        ctx.check_cancelled()?;
        lib.store.write(|w| {
            let written = after_items(w, &ids)?;
            ctx.check_cancelled()?;
            Ok(written)
        })
    })();
    let (users, ratings) = match stored {
        Ok(written) => written,
        Err(e) => return Err(undo_items(lib, ids.into_values().collect(), e)),
    };
    ctx.progress(count, count, "storing items");
    problems.extend(late);

    report.imported = ids.len() as u64;
    (report.skipped, report.skipped_unlisted) = problems.into_report();
    report.labels_kept = vocabulary.len() as u64;
    report.users = users;
    report.ratings = ratings;
    Ok(report)
}

/// Removes the items a failed or cancelled import already committed (their labels,
/// ratings and the labels no item carries any more go with them), in chunks, and returns
/// the import's error; or an error saying what is left if that fails too.
fn undo_items(lib: &mut Library, mut ids: Vec<ItemId>, error: Error) -> Error {
    ids.sort_unstable();
    let undone = ids.chunks(WRITE_CHUNK).try_for_each(|chunk| {
        lib.store.write(|w| {
            for &id in chunk {
                w.delete_item(id)?;
            }
            Ok(())
        })
    });
    let undone = undone.and_then(|()| lib.store.write(|w| w.delete_unused_labels()));
    match undone {
        Ok(_) => error,
        Err(undo) => Error::Invalid(format!(
            "{error}; the {} items it had stored could not be removed again ({undo}): delete \
             them or import again (they are then skipped as already stored)",
            ids.len()
        )),
    }
}

/// The problems as report entries, by file (in the order files first appear) and line.
fn in_file_order(problems: Vec<Problem>) -> Vec<Skipped> {
    let mut file_rank: HashMap<&Path, usize> = HashMap::new();
    for problem in &problems {
        let next = file_rank.len();
        file_rank.entry(&problem.path).or_insert(next);
    }
    let mut order: Vec<&Problem> = problems.iter().collect();
    order.sort_by_key(|p| (file_rank.get(p.path.as_path()).copied(), p.line));
    order.into_iter().map(Problem::skipped).collect()
}

/// Records a skipped row, or fails with it when the import is strict.
fn note(problems: &mut Problems, problem: Problem, strict: bool) -> Result<()> {
    if strict {
        return Err(problem.into_error());
    }
    problems.push(problem);
    Ok(())
}

fn already_stored(candidate: &Candidate) -> Problem {
    Problem::at(
        &candidate.path,
        candidate.line,
        format!(
            "an item with id {:?} is already in the library",
            candidate.item.key
        ),
    )
}

/// Decodes a candidate's image fully (catching truncated files), records its size and its
/// canonical path: relative to the library's (canonical) `root` when it lies inside it.
fn check_image(mut candidate: Candidate, root: Option<&Path>) -> Result<Candidate, Problem> {
    let at = |reason: String| Problem::at(&candidate.path, candidate.line, reason);
    let (width_px, height_px) = match vision::decode(&candidate.image) {
        Ok(img) => img.dimensions(),
        Err(e) => return Err(at(format!("image {e}"))),
    };
    let canonical = std::fs::canonicalize(&candidate.image)
        .map_err(|e| at(format!("image {}: {e}", candidate.image.display())))?;
    let inside = root.and_then(|root| canonical.strip_prefix(root).ok());
    let Some(stored) = inside.unwrap_or(&canonical).to_str() else {
        return Err(at(format!(
            "image {}: the path is not valid UTF-8, which the library cannot store",
            canonical.display()
        )));
    };
    candidate.item.image = stored.to_owned();
    candidate.item.width_px = width_px;
    candidate.item.height_px = height_px;
    Ok(candidate)
}

/// Opens a data file that must exist, with a message that says so when it does not.
pub(crate) fn open_data_file(path: &Path) -> Result<std::fs::File> {
    std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::file(path, "file not found"),
        _ => Error::io(path, e),
    })
}

/// Checks that `dir` is a folder (an images folder an importer reads from).
pub(crate) fn require_dir(dir: &Path, what: &str) -> Result<()> {
    if dir.is_dir() {
        Ok(())
    } else {
        Err(Error::file(
            dir,
            format!("{what} is missing or not a folder"),
        ))
    }
}

/// A CSV row's fields, or why they cannot be read (a field that is not UTF-8, a row whose
/// quote is never closed, a row longer than [`MAX_LINE_BYTES`]).
pub(crate) type RowFields = std::result::Result<Vec<String>, String>;

/// The file under a CSV reader, failing a read once the row being read has grown past
/// [`MAX_LINE_BYTES`] (the CSV reader has no limit of its own: an unterminated quote in a
/// large file would otherwise make one row of the whole file).
struct RowGuard<R> {
    inner: R,
    /// Bytes read from the start of the file.
    read: u64,
    /// Where the row being read starts.
    row_start: u64,
    limit: u64,
}

/// The error [`RowGuard`] fails a read with.
#[derive(Debug)]
struct RowTooLong;

impl std::fmt::Display for RowTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a row longer than {MAX_LINE_BYTES} bytes")
    }
}

impl std::error::Error for RowTooLong {}

impl<R: std::io::Read> std::io::Read for RowGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.read.saturating_sub(self.row_start) > self.limit {
            return Err(std::io::Error::other(RowTooLong));
        }
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

impl<R: std::io::Seek> std::io::Seek for RowGuard<R> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        let at = self.inner.seek(pos)?;
        self.read = at;
        self.row_start = at;
        Ok(at)
    }
}

/// A CSV file read as byte records, so that one row that is not UTF-8 skips that row only.
pub(crate) struct CsvFile {
    pub path: PathBuf,
    reader: ::csv::Reader<RowGuard<std::fs::File>>,
    /// The header's column names, trimmed.
    pub header: Vec<String>,
    record: ::csv::ByteRecord,
}

impl CsvFile {
    /// Opens `path` and reads its header line. A missing file, an empty file and a header
    /// that is not UTF-8 are errors.
    pub(crate) fn open(path: &Path) -> Result<CsvFile> {
        let file = open_data_file(path)?;
        let guard = RowGuard {
            inner: file,
            read: 0,
            row_start: 0,
            limit: MAX_LINE_BYTES as u64,
        };
        let mut reader = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(guard);
        let mut record = ::csv::ByteRecord::new();
        let read = reader
            .read_byte_record(&mut record)
            .map_err(|e| csv_error(path, e))?;
        if !read {
            return Err(Error::file(
                path,
                "the file is empty; a header line is expected",
            ));
        }
        let mut header = Vec::with_capacity(record.len());
        for (i, field) in record.iter().enumerate() {
            let name = std::str::from_utf8(field).map_err(|_| {
                Error::format(
                    path,
                    1,
                    format!("the header is not valid UTF-8 text (column {})", i + 1),
                )
            })?;
            header.push(name.trim_start_matches('\u{feff}').trim().to_owned());
        }
        Ok(CsvFile {
            path: path.to_path_buf(),
            reader,
            header,
            record,
        })
    }

    /// The index of the column named `name` (ASCII case-insensitive).
    pub(crate) fn column(&self, name: &str) -> Option<usize> {
        self.header
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name))
    }

    /// Fails naming the `required` columns the header lacks, and listing those it has.
    pub(crate) fn require_columns(&self, required: &[&str]) -> Result<()> {
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|name| self.column(name).is_none())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(Error::format(
            &self.path,
            1,
            format!(
                "the header lacks the required column{} {}; the columns found are: {}",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", "),
                if self.header.is_empty() {
                    "(none)".to_owned()
                } else {
                    self.header.join(", ")
                }
            ),
        ))
    }

    /// The next row: its line number and its fields, or a reason it cannot be read (a field
    /// that is not UTF-8; an opening quote never closed, or a row longer than
    /// [`MAX_LINE_BYTES`]: then reading goes on at the line after the row's first, so the
    /// lines it would have swallowed are read as rows). `Ok(None)` at the end of the file.
    pub(crate) fn next_row(&mut self) -> Result<Option<(u64, RowFields)>> {
        let before = self.reader.position().clone();
        self.reader.get_mut().row_start = before.byte();
        let read = match self.reader.read_byte_record(&mut self.record) {
            Ok(read) => read,
            Err(e) if is_row_too_long(&e) => {
                let (line, next) = self.row_after(&before)?;
                self.reader
                    .seek(next)
                    .map_err(|e| csv_error(&self.path, e))?;
                let reason = format!(
                    "the row is longer than {MAX_LINE_BYTES} bytes (the limit; an opening quote \
                     that is never closed?); reading went on at the next line"
                );
                return Ok(Some((line, Err(reason))));
            }
            Err(e) => return Err(csv_error(&self.path, e)),
        };
        if !read {
            return Ok(None);
        }
        let start = self.record.position().cloned().unwrap_or(before);
        let line = start.line();
        // Only a quoted field can hold a line break. A row over several lines is good when
        // its quote was closed and it has the header's width; otherwise the lines it took
        // are named, and read again as rows.
        if self.record.iter().any(|field| field.contains(&b'\n')) {
            let end = self.reader.position().byte();
            let raw = self.raw_bytes(start.byte(), end)?;
            let left_open = quote_left_open(&raw);
            let width = self.record.len();
            if left_open || width != self.header.len() {
                let body = raw.strip_suffix(b"\n").unwrap_or(&raw);
                let swallowed = body.iter().filter(|&&b| b == b'\n').count() as u64;
                let lines = format!(
                    "{swallowed} line{} after it (lines {}–{})",
                    if swallowed == 1 { "" } else { "s" },
                    line + 1,
                    line + swallowed
                );
                let reason = if left_open {
                    format!(
                        "an opening quote on this line is never closed: the row would swallow \
                         the {lines}, to the end of the file"
                    )
                } else {
                    format!(
                        "a quoted field on this line runs over the {lines} and the row then has \
                         {width} fields, the header {}: a quote closed on a later line?",
                        self.header.len()
                    )
                };
                let (_, next) = self.row_after(&start)?;
                self.reader
                    .seek(next)
                    .map_err(|e| csv_error(&self.path, e))?;
                let reason =
                    format!("{reason}; this line was skipped and the lines after it read as rows");
                return Ok(Some((line, Err(reason))));
            }
        }
        let mut fields = Vec::with_capacity(self.record.len());
        for (i, field) in self.record.iter().enumerate() {
            match std::str::from_utf8(field) {
                Ok(text) => fields.push(text.to_owned()),
                Err(_) => {
                    let column = self
                        .header
                        .get(i)
                        .map_or_else(|| format!("field {}", i + 1), |h| format!("column {h:?}"));
                    return Ok(Some((
                        line,
                        Err(format!("{column} is not valid UTF-8 text")),
                    )));
                }
            }
        }
        Ok(Some((line, Ok(fields))))
    }

    /// The bytes `start..end` of the file, read again (for a row over several lines).
    fn raw_bytes(&self, start: u64, end: u64) -> Result<Vec<u8>> {
        use std::io::{Read, Seek};
        let mut file = open_data_file(&self.path)?;
        file.seek(std::io::SeekFrom::Start(start))
            .map_err(|e| Error::io(&self.path, e))?;
        let mut raw = Vec::new();
        file.take(end.saturating_sub(start))
            .read_to_end(&mut raw)
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(raw)
    }

    /// For a row that begins at `from` (perhaps after blank lines): the line it starts on and
    /// the position of the line after that one.
    fn row_after(&self, from: &::csv::Position) -> Result<(u64, ::csv::Position)> {
        use std::io::{BufRead, Seek};
        let io = |e| Error::io(&self.path, e);
        let mut file = std::io::BufReader::new(open_data_file(&self.path)?);
        file.seek(std::io::SeekFrom::Start(from.byte()))
            .map_err(io)?;
        let (mut byte, mut line) = (from.byte(), from.line());
        // Blank lines before the row.
        loop {
            let buf = file.fill_buf().map_err(io)?;
            let blank = buf
                .iter()
                .take_while(|&&b| b == b'\n' || b == b'\r')
                .count();
            line += buf[..blank].iter().filter(|&&b| b == b'\n').count() as u64;
            byte += blank as u64;
            let more = blank > 0 && blank == buf.len();
            file.consume(blank);
            if !more {
                break;
            }
        }
        byte += skip_line(&mut file).map_err(io)?;
        let mut next = ::csv::Position::new();
        next.set_byte(byte).set_line(line + 1);
        Ok((line, next))
    }
}

/// Consumes the rest of a line (through its `\n`) without keeping it; returns its length.
fn skip_line(reader: &mut impl std::io::BufRead) -> std::io::Result<u64> {
    let mut skipped = 0u64;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(skipped);
        }
        let (n, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        reader.consume(n);
        skipped += n as u64;
        if done {
            return Ok(skipped);
        }
    }
}

/// The fuzz targets' entries: each importer's row parser over one file of arbitrary bytes
/// (see `fuzz/`). Errors are expected; a panic, a hang or unbounded memory is the bug.
#[doc(hidden)]
pub mod fuzz {
    use super::*;

    /// `file` as the CSV importers (folder + CSV, Fashion Product Images) read it: the header,
    /// then every row; returns the rows read.
    pub fn csv_rows(file: &Path) -> Result<usize> {
        let mut csv = CsvFile::open(file)?;
        let _ = csv.require_columns(&["image"]);
        let mut rows = 0;
        while let Some((_, fields)) = csv.next_row()? {
            rows += usize::from(fields.is_ok());
        }
        Ok(rows)
    }

    /// `file` as the Amazon importer reads metadata and reviews (images in `images_dir`).
    pub fn amazon_lines(file: &Path, images_dir: &Path) -> Result<usize> {
        amazon::fuzz_lines(file, images_dir)
    }

    /// `file` as the DeepFashion importer reads its attribute and partition lists.
    pub fn deepfashion_lists(dir: &Path, file: &Path) -> Result<()> {
        deepfashion::fuzz_lists(dir, file)
    }
}

/// Whether the CSV reader failed because a row grew past [`MAX_LINE_BYTES`].
fn is_row_too_long(e: &::csv::Error) -> bool {
    match e.kind() {
        ::csv::ErrorKind::Io(io) => io.get_ref().is_some_and(|inner| inner.is::<RowTooLong>()),
        _ => false,
    }
}

/// Whether the raw bytes of one CSV row end inside a quoted field (the quote was never
/// closed), following the CSV reader's rules: a `"` opens a quoted field only at the start
/// of a field, and `""` inside one is a quote.
fn quote_left_open(raw: &[u8]) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        FieldStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let mut state = State::FieldStart;
    for &b in raw {
        state = match (state, b) {
            (State::FieldStart, b'"') => State::Quoted,
            (State::FieldStart | State::Unquoted, b',' | b'\n' | b'\r') => State::FieldStart,
            (State::FieldStart | State::Unquoted, _) => State::Unquoted,
            (State::Quoted, b'"') => State::QuoteInQuoted,
            (State::Quoted, _) => State::Quoted,
            (State::QuoteInQuoted, b'"') => State::Quoted,
            (State::QuoteInQuoted, b',' | b'\n' | b'\r') => State::FieldStart,
            (State::QuoteInQuoted, _) => State::Unquoted,
        };
    }
    state == State::Quoted
}

/// A line-oriented text file read line by line as bytes, so that a line that is not UTF-8
/// skips that line only. A line longer than [`MAX_LINE_BYTES`] is skipped without being
/// held in memory, and reading more than `max_total_bytes` fails.
pub(crate) struct TextLines<R> {
    path: PathBuf,
    reader: R,
    line: u64,
    buf: Vec<u8>,
    total_bytes: u64,
    max_total_bytes: u64,
    max_line_bytes: usize,
}

impl<R: std::io::BufRead> TextLines<R> {
    /// Lines of `reader` (the file at `path`), with no limit on the total read.
    pub(crate) fn new(path: &Path, reader: R) -> TextLines<R> {
        TextLines::with_limits(path, reader, u64::MAX, MAX_LINE_BYTES)
    }

    /// Lines of `reader`, failing once more than `max_total_bytes` were read, and skipping
    /// lines longer than `max_line_bytes`.
    pub(crate) fn with_limits(
        path: &Path,
        reader: R,
        max_total_bytes: u64,
        max_line_bytes: usize,
    ) -> TextLines<R> {
        TextLines {
            path: path.to_path_buf(),
            reader,
            line: 0,
            buf: Vec::new(),
            total_bytes: 0,
            max_total_bytes,
            max_line_bytes,
        }
    }

    /// The next line's number (1-based) and text without its line ending, or the reason it
    /// is skipped (not UTF-8 text, too long); `Ok(None)` at the end. A read error (a
    /// truncated gzip stream, say) or passing the total limit fails naming the line.
    pub(crate) fn next_line(&mut self) -> Result<Option<(u64, Result<String, String>)>> {
        use std::io::{BufRead, Read};
        self.buf.clear();
        let limit = self.max_line_bytes as u64 + 1;
        let read = (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| line_error(&self.path, self.line + 1, e))?;
        if read == 0 {
            return Ok(None);
        }
        self.line += 1;
        self.add_total(read as u64)?;
        if self.buf.len() > self.max_line_bytes && self.buf.last() != Some(&b'\n') {
            // Skip the rest of the line without keeping it, a buffer at a time.
            self.buf.clear();
            loop {
                let chunk = self
                    .reader
                    .fill_buf()
                    .map_err(|e| line_error(&self.path, self.line, e))?;
                if chunk.is_empty() {
                    break;
                }
                let (n, done) = match chunk.iter().position(|&b| b == b'\n') {
                    Some(i) => (i + 1, true),
                    None => (chunk.len(), false),
                };
                self.reader.consume(n);
                self.add_total(n as u64)?;
                if done {
                    break;
                }
            }
            return Ok(Some((
                self.line,
                Err(format!(
                    "the line is longer than {} bytes (the limit); skipped",
                    self.max_line_bytes
                )),
            )));
        }
        while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
            self.buf.pop();
        }
        let text = match std::str::from_utf8(&self.buf) {
            Ok(text) => Ok(text.to_owned()),
            Err(e) => Err(format!(
                "the line is not valid UTF-8 text (bad byte at column {})",
                e.valid_up_to() + 1
            )),
        };
        Ok(Some((self.line, text)))
    }

    /// Counts `n` more bytes read, failing past the total limit.
    fn add_total(&mut self, n: u64) -> Result<()> {
        self.total_bytes = self.total_bytes.saturating_add(n);
        if self.total_bytes > self.max_total_bytes {
            return Err(Error::format(
                &self.path,
                self.line,
                format!(
                    "the file holds more than {} bytes once decompressed (the limit: {} times \
                     its size, at least {} bytes); a gzip bomb or a damaged file? refusing",
                    self.max_total_bytes, MAX_DECOMPRESSION_RATIO, MIN_DECOMPRESSED_LIMIT
                ),
            ));
        }
        Ok(())
    }
}

/// A read error on line `line` of `path`.
fn line_error(path: &Path, line: u64, e: std::io::Error) -> Error {
    Error::format(
        path,
        line,
        format!("cannot read this line (is the file corrupt or truncated?): {e}"),
    )
}

/// The most bytes a gzip file of `compressed_len` bytes may decompress to.
pub(crate) fn decompressed_limit(compressed_len: u64) -> u64 {
    compressed_len
        .saturating_mul(MAX_DECOMPRESSION_RATIO)
        .max(MIN_DECOMPRESSED_LIMIT)
}

fn csv_error(path: &Path, e: ::csv::Error) -> Error {
    let line = e.position().map(|p| p.line());
    let text = e.to_string();
    match (e.into_kind(), line) {
        (::csv::ErrorKind::Io(io), _) => Error::io(path, io),
        (_, Some(line)) => Error::format(path, line, text),
        (_, None) => Error::file(path, text),
    }
}

/// Shared test fixtures: small images (good and bad) and a library in a temp folder.
#[cfg(test)]
pub(crate) mod fixtures {
    use crate::library::Library;
    use image::{ImageEncoder, RgbImage};
    use std::path::Path;

    /// Import options that keep every label (test files hold a handful of rows).
    pub fn keep_every_label() -> super::ImportOptions {
        super::ImportOptions {
            vocabulary: crate::catalog::vocabulary::VocabularyRule {
                min_count: 1,
                max_size: 1102,
            },
            ..super::ImportOptions::default()
        }
    }

    /// A temp folder holding a library in `lib/`.
    pub fn library() -> (tempfile::TempDir, Library) {
        let dir = tempfile::tempdir().unwrap();
        let lib = Library::open(&dir.path().join("lib")).unwrap();
        (dir, lib)
    }

    /// PNG bytes of a small noisy image (noise so the compressed data is long enough to be
    /// truncated meaningfully).
    pub fn png_bytes(w: u32, h: u32, seed: u8) -> Vec<u8> {
        let img = RgbImage::from_fn(w, h, |x, y| {
            let v = (x.wrapping_mul(31) ^ y.wrapping_mul(17)).wrapping_add(seed as u32 * 7);
            image::Rgb([v as u8, (v >> 3) as u8 ^ seed, (v * 13) as u8])
        });
        let mut out = Vec::new();
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    /// Writes a good 12×8 PNG.
    pub fn write_png(path: &Path) {
        write_png_sized(path, 12, 8);
    }

    /// Writes a good PNG of the given size.
    pub fn write_png_sized(path: &Path, w: u32, h: u32) {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, png_bytes(w, h, 1)).unwrap();
    }

    /// Writes a PNG cut off half-way through its pixel data.
    pub fn write_truncated_png(path: &Path) {
        let bytes = png_bytes(64, 64, 3);
        std::fs::write(path, &bytes[..bytes.len() / 2]).unwrap();
    }

    /// Writes a PNG whose header declares 30000×30000 px (with a valid header CRC).
    pub fn write_huge_png(path: &Path) {
        let mut bytes = png_bytes(4, 4, 5);
        // Signature (8), IHDR length (4), "IHDR" at 12..16, width 16..20, height 20..24,
        // the rest of IHDR's data to 29, its CRC (over type + data) at 29..33.
        bytes[16..20].copy_from_slice(&30_000u32.to_be_bytes());
        bytes[20..24].copy_from_slice(&30_000u32.to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.sum().to_be_bytes());
        std::fs::write(path, bytes).unwrap();
    }

    /// Writes a zero-byte file.
    pub fn write_empty(path: &Path) {
        std::fs::write(path, b"").unwrap();
    }

    /// Writes bytes that are no image at all.
    pub fn write_garbage(path: &Path) {
        std::fs::write(path, b"this is not an image, just text").unwrap();
    }
}

/// Budgets, CSV rows that would vanish, and imports that share a library with other writers.
#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use crate::catalog::Source;

    fn ctx() -> JobContext {
        JobContext::silent()
    }

    /// Twenty rows, the third of which opens a quote it never closes: it is reported on its
    /// line with the 17 lines it would have swallowed, and those lines are imported.
    #[test]
    fn an_unterminated_quote_is_reported_with_the_lines_it_swallowed() {
        let (dir, mut lib) = library();
        let folder = dir.path().join("shop");
        write_png(&folder.join("a.png"));
        let mut text = String::from("id,image,title\n");
        for row in 1..=20 {
            if row == 3 {
                text += "r3,a.png,\"Red dress\n";
            } else {
                text += &format!("r{row},a.png,Dress {row}\n");
            }
        }
        let csv = folder.join("items.csv");
        std::fs::write(&csv, &text).unwrap();

        let strict = ImportOptions {
            strict: true,
            ..keep_every_label()
        };
        let err = import_csv(&mut lib, &csv, None, &strict, &ctx())
            .unwrap_err()
            .to_string();
        assert!(err.contains("items.csv:4:"), "{err}");
        assert!(err.contains("never closed"), "{err}");
        assert_eq!(lib.store.counts().unwrap().items, 0);

        let report = import_csv(&mut lib, &csv, None, &keep_every_label(), &ctx()).unwrap();
        assert_eq!(report.imported, 19, "{:?}", report.skipped);
        assert_eq!(report.skipped.len(), 1);
        let skipped = &report.skipped[0];
        assert_eq!(skipped.location, format!("{}:4", csv.display()));
        assert!(
            skipped
                .reason
                .contains("swallow the 17 lines after it (lines 5–21)"),
            "{skipped}"
        );
        for key in ["r1", "r2", "r4", "r20"] {
            assert!(lib.store.item_id(key).unwrap().is_some(), "{key}");
        }
    }

    /// A quote closed on a later line makes one row of several: it is reported with the lines
    /// it took, and reading goes on after its first line. A quoted field with a line break
    /// that does fit the header is a good row.
    #[test]
    fn a_quote_closed_lines_later_is_reported_and_a_good_multiline_field_kept() {
        let (dir, mut lib) = library();
        write_png(&dir.path().join("a.png"));
        let csv = dir.path().join("items.csv");
        std::fs::write(
            &csv,
            "id,image,title\n\
             m1,a.png,\"Two\nlines\"\n\
             b1,a.png,\"Opened\n\
             r2,a.png,Fine\n\
             r3,a.png,Closed here\",x\n\
             r4,a.png,Last\n",
        )
        .unwrap();
        let report = import_csv(&mut lib, &csv, None, &keep_every_label(), &ctx()).unwrap();
        let reasons: Vec<String> = report.skipped.iter().map(|s| s.to_string()).collect();
        // b1 (line 4) takes lines 5-6; they are read again from line 5.
        assert_eq!(report.skipped.len(), 2, "{reasons:?}");
        assert!(reasons[0].contains("items.csv:4: "), "{reasons:?}");
        assert!(reasons[0].contains("2 lines"), "{reasons:?}");
        // Read again, r3's stray quote is text: a row of 4 fields.
        assert!(reasons[1].contains("items.csv:6: "), "{reasons:?}");
        assert!(reasons[1].contains("4 fields"), "{reasons:?}");
        for key in ["m1", "r2", "r4"] {
            assert!(
                lib.store.item_id(key).unwrap().is_some(),
                "{key}: {reasons:?}"
            );
        }
        let m1 = lib
            .store
            .item(lib.store.item_id("m1").unwrap().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(m1.title, "Two\nlines");
    }

    #[test]
    fn quote_state_follows_the_csv_rules() {
        assert!(quote_left_open(b"a,\"b\nc"));
        assert!(!quote_left_open(b"a,\"b\nc\",d\n"));
        assert!(
            !quote_left_open(b"a,b\"c\nd"),
            "a quote inside a field is text"
        );
        assert!(quote_left_open(b"a,\"b\"\"c\nd"), "a doubled quote is text");
        assert!(!quote_left_open(b"\"\"\"\"\n"));
    }

    #[test]
    fn a_long_line_is_skipped_and_the_total_read_is_bounded() {
        let text = format!("short\n{}\nafter\n", "x".repeat(100));
        let path = Path::new("t.jsonl");
        let mut lines = TextLines::with_limits(path, text.as_bytes(), u64::MAX, 10);
        assert_eq!(lines.next_line().unwrap(), Some((1, Ok("short".into()))));
        let (line, long) = lines.next_line().unwrap().unwrap();
        assert_eq!(line, 2);
        assert!(long.unwrap_err().contains("longer than 10 bytes"));
        assert_eq!(lines.next_line().unwrap(), Some((3, Ok("after".into()))));
        assert_eq!(lines.next_line().unwrap(), None);

        let mut lines = TextLines::with_limits(path, text.as_bytes(), 50, 1000);
        assert!(lines.next_line().unwrap().is_some());
        let err = lines.next_line().unwrap_err().to_string();
        assert!(err.starts_with("t.jsonl:2: "), "{err}");
        assert!(err.contains("more than 50 bytes"), "{err}");
        assert_eq!(decompressed_limit(10), MIN_DECOMPRESSED_LIMIT);
        assert_eq!(
            decompressed_limit(10 << 30),
            (10 << 30) * MAX_DECOMPRESSION_RATIO
        );
    }

    /// A file of more bad rows than a report lists: the rest are counted.
    #[test]
    fn problems_beyond_the_cap_are_counted_not_kept() {
        let (dir, mut lib) = library();
        write_png(&dir.path().join("a.png"));
        let mut text = String::from("id,image\ngood,a.png\n");
        for i in 0..MAX_PROBLEMS_KEPT + 10 {
            text += &format!("bad{i}\n");
        }
        let csv = dir.path().join("bad.csv");
        std::fs::write(&csv, text).unwrap();
        let report = import_csv(&mut lib, &csv, None, &keep_every_label(), &ctx()).unwrap();
        assert_eq!(report.imported, 1);
        assert_eq!(report.skipped.len(), MAX_PROBLEMS_KEPT);
        assert_eq!(report.skipped_unlisted, 10);
    }

    /// `count` candidates sharing one image, for pipeline tests.
    fn candidates(dir: &Path, prefix: &str, count: usize) -> Rows {
        let image = dir.join("a.png");
        if !image.exists() {
            write_png(&image);
        }
        let mut rows = Rows::default();
        for i in 0..count {
            rows.push(Candidate {
                path: dir.join("list.csv"),
                line: i as u64 + 2,
                image: image.clone(),
                item: new_item(
                    Source::Csv,
                    format!("{prefix}{i}"),
                    String::new(),
                    vec![crate::catalog::Label::new(
                        crate::catalog::LabelGroup::Attribute,
                        prefix,
                    )],
                ),
            });
        }
        rows
    }

    /// Items are committed a chunk at a time; when a later step fails, those already
    /// committed are removed again and the library is as it was.
    #[test]
    fn a_failure_after_some_chunks_undoes_the_committed_items() {
        let (dir, mut lib) = library();
        let rows = candidates(dir.path(), "u", WRITE_CHUNK * 2 + 5);
        let err = run_with(
            &mut lib,
            Source::Csv,
            rows,
            &keep_every_label(),
            &ctx(),
            |w, ids| {
                assert_eq!(ids.len(), WRITE_CHUNK * 2 + 5);
                w.insert_user("ann", Source::Csv)?;
                Err(Error::Invalid("the ratings file is broken".into()))
            },
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "the ratings file is broken");
        let counts = lib.store.counts().unwrap();
        assert_eq!((counts.items, counts.labels, counts.users), (0, 0, 0));
    }

    /// Twenty threads open one new library at the same moment, each with its own connection.
    #[test]
    fn twenty_concurrent_first_opens_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("lib");
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(20));
        let threads: Vec<_> = (0..20)
            .map(|_| {
                let (root, barrier) = (root.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    Library::open(&root).map(|lib| lib.store.schema_version().unwrap())
                })
            })
            .collect();
        let versions: Vec<u32> = threads
            .into_iter()
            .map(|t| t.join().unwrap().unwrap())
            .collect();
        assert!(
            versions.iter().all(|&v| v == versions[0] && v > 0),
            "{versions:?}"
        );
    }

    /// Two imports of several chunks each into one library at once, and a scorer's answers
    /// saved while they run: everything succeeds.
    #[test]
    fn two_concurrent_imports_and_an_answer_during_them_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("lib");
        let study = {
            let mut lib = Library::open(&root).unwrap();
            crate::ohs::store_study(&mut lib.store, &crate::ohs::tests::worked_study()).unwrap()
        };
        let per_import = WRITE_CHUNK * 3;
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(3));
        let imports: Vec<_> = ["x", "y"]
            .into_iter()
            .map(|prefix| {
                let (root, barrier) = (root.clone(), barrier.clone());
                let folder = dir.path().join(prefix);
                std::fs::create_dir_all(&folder).unwrap();
                let rows = candidates(&folder, prefix, per_import);
                std::thread::spawn(move || {
                    let mut lib = Library::open(&root)?;
                    barrier.wait();
                    run(&mut lib, Source::Csv, rows, &keep_every_label(), &ctx())
                })
            })
            .collect();
        let scorer = {
            let (root, study) = (root.clone(), study.clone());
            std::thread::spawn(move || -> Result<usize> {
                let mut lib = Library::open(&root)?;
                barrier.wait();
                // Wait for the first chunk of either import, then answer.
                while lib.store.counts()?.items == 0 {
                    std::thread::yield_now();
                }
                let mut saved = 0;
                for (i, sheet) in study.sheets.iter().enumerate() {
                    let answer = crate::study::Answer {
                        sheet_id: sheet.id,
                        scorer: "ann".into(),
                        criterion: "category".into(),
                        hits: i as u32,
                        marks: None,
                        given_at: String::new(),
                    };
                    crate::ohs::record_answer(&mut lib.store, &study, &answer)?;
                    saved += 1;
                }
                Ok(saved)
            })
        };
        for import in imports {
            let report = import.join().unwrap().unwrap();
            assert_eq!(report.imported, per_import as u64, "{:?}", report.skipped);
        }
        assert_eq!(scorer.join().unwrap().unwrap(), study.sheets.len());
        let lib = Library::open(&root).unwrap();
        assert_eq!(lib.store.counts().unwrap().items, 2 * per_import as u64);
        assert_eq!(
            lib.store.study_answers(study.id).unwrap().len(),
            study.sheets.len()
        );
    }
}

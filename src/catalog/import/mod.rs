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
//!    the image's size is recorded and its absolute canonical path stored (imported images
//!    stay where they are);
//! 3. the label [`vocabulary`](crate::catalog::vocabulary) is counted over the items that
//!    passed and applied to each of them;
//! 4. everything is written in **one** [`Store::write`](crate::store::Store::write)
//!    transaction (Amazon adds its users and ratings in the same transaction);
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

/// What an import did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportReport {
    pub source: Source,
    /// Items written to the library.
    pub imported: u64,
    /// Rows (or files) that were not imported, with the reason.
    pub skipped: Vec<Skipped>,
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
    problems: Vec<Problem>,
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
        (self.candidates, in_file_order(self.problems))
    }
}

/// How many images are checked between two cancellation checks / progress reports.
const CHUNK: usize = 256;
/// How many items are written between two cancellation checks / progress reports.
const WRITE_CHUNK: usize = 1000;

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

/// [`run`], with `after_items` called inside the transaction once the items are stored; it
/// gets the stored items' ids by key and returns how many users and ratings it wrote.
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
        let results: Vec<Result<Candidate, Problem>> =
            chunk.into_par_iter().map(check_image).collect();
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
        labels_kept: 0,
        users: 0,
        ratings: 0,
    };
    if valid.is_empty() {
        report.skipped = in_file_order(problems);
        return Ok(report);
    }

    // 4. One transaction.
    let count = valid.len() as u64;
    let (ids, late, users, ratings) = lib.store.write(|w| {
        let mut ids = HashMap::with_capacity(valid.len());
        let mut late = Vec::new();
        for (i, candidate) in valid.iter().enumerate() {
            if i.is_multiple_of(WRITE_CHUNK) {
                ctx.check_cancelled()?;
                ctx.progress(i as u64, count, "storing items");
            }
            // Another import may have stored this id since step 1.
            if w.item_id(&candidate.item.key)?.is_some() {
                note(&mut late, already_stored(candidate), strict)?;
                continue;
            }
            let id = w.insert_item(&candidate.item)?;
            ids.insert(candidate.item.key.clone(), id);
        }
        ctx.check_cancelled()?;
        let (users, ratings) = after_items(w, &ids)?;
        ctx.check_cancelled()?;
        Ok((ids, late, users, ratings))
    })?;
    ctx.progress(count, count, "storing items");
    problems.extend(late);

    report.imported = ids.len() as u64;
    report.skipped = in_file_order(problems);
    report.labels_kept = vocabulary.len() as u64;
    report.users = users;
    report.ratings = ratings;
    Ok(report)
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
fn note(problems: &mut Vec<Problem>, problem: Problem, strict: bool) -> Result<()> {
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
/// canonical path.
fn check_image(mut candidate: Candidate) -> Result<Candidate, Problem> {
    let at = |reason: String| Problem::at(&candidate.path, candidate.line, reason);
    let (width_px, height_px) = match vision::decode(&candidate.image) {
        Ok(img) => img.dimensions(),
        Err(e) => return Err(at(format!("image {e}"))),
    };
    let canonical = std::fs::canonicalize(&candidate.image)
        .map_err(|e| at(format!("image {}: {e}", candidate.image.display())))?;
    let Some(stored) = canonical.to_str() else {
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

/// A CSV row's fields, or why they cannot be read (a field that is not UTF-8).
pub(crate) type RowFields = std::result::Result<Vec<String>, String>;

/// A CSV file read as byte records, so that one row that is not UTF-8 skips that row only.
pub(crate) struct CsvFile {
    pub path: PathBuf,
    reader: ::csv::Reader<std::fs::File>,
    /// The header's column names, trimmed.
    pub header: Vec<String>,
    record: ::csv::ByteRecord,
}

impl CsvFile {
    /// Opens `path` and reads its header line. A missing file, an empty file and a header
    /// that is not UTF-8 are errors.
    pub(crate) fn open(path: &Path) -> Result<CsvFile> {
        let file = open_data_file(path)?;
        let mut reader = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(file);
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

    /// The next row: its line number and its fields, or a reason naming the field that is
    /// not UTF-8. `Ok(None)` at the end of the file.
    pub(crate) fn next_row(&mut self) -> Result<Option<(u64, RowFields)>> {
        let read = self
            .reader
            .read_byte_record(&mut self.record)
            .map_err(|e| csv_error(&self.path, e))?;
        if !read {
            return Ok(None);
        }
        let line = self.record.position().map_or(0, |p| p.line());
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
}

/// A line-oriented text file read line by line as bytes, so that a line that is not UTF-8
/// skips that line only.
pub(crate) struct TextLines<R> {
    path: PathBuf,
    reader: R,
    line: u64,
    buf: Vec<u8>,
}

impl<R: std::io::BufRead> TextLines<R> {
    pub(crate) fn new(path: &Path, reader: R) -> TextLines<R> {
        TextLines {
            path: path.to_path_buf(),
            reader,
            line: 0,
            buf: Vec::new(),
        }
    }

    /// The next line's number (1-based) and text without its line ending, or the reason it
    /// is not UTF-8 text; `Ok(None)` at the end. A read error (a truncated gzip stream, say)
    /// fails naming the line.
    pub(crate) fn next_line(&mut self) -> Result<Option<(u64, Result<String, String>)>> {
        self.buf.clear();
        let read = self.reader.read_until(b'\n', &mut self.buf).map_err(|e| {
            Error::format(
                &self.path,
                self.line + 1,
                format!("cannot read this line (is the file corrupt or truncated?): {e}"),
            )
        })?;
        if read == 0 {
            return Ok(None);
        }
        self.line += 1;
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

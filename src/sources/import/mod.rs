//! Importers for real catalogue formats, and the pipeline they share.
//!
//! Each importer (a folder + [`csv`], a [`folder`] of photos in category folders, the
//! [`amazon`] product data, Kaggle's [`fashion`] product images, DeepFashion
//! [`deepfashion`] In-shop) only reads its own
//! format: it turns rows into *candidate* items (key, title, candidate labels, image path)
//! and notes the rows it cannot use. The rest is the same for every source:
//!
//! 1. candidates whose id is already in the library are skipped;
//! 2. images are checked **in parallel** (rayon) by a full
//!    [`vision::decode`](crate::vision::decode), so missing, empty, corrupt, truncated and
//!    oversized images are caught now and not during training;
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
//! Progress goes to [`JobContext::progress`](crate::jobs::JobContext::progress);
//! cancellation is checked between stages and chunks, and a cancelled import writes nothing.
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
//!
//! # Layout
//! This file holds the types the importers share (options, report, problems, candidate
//! rows); `pipeline` runs steps 1–5 and `reading` reads CSV and text files within the
//! budgets.

pub mod amazon;
pub mod csv;
pub mod deepfashion;
pub mod fashion;
pub mod folder;
mod pipeline;
mod reading;

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod tests;

pub use self::csv::import_csv;
pub use amazon::{UserFilter, import_amazon};
pub use deepfashion::import_deepfashion_inshop;
pub use fashion::import_fashion_product_images;
pub use folder::{FolderSplit, import_folder};
pub use pipeline::WRITE_CHUNK;
pub(crate) use pipeline::{run, run_with};
pub(crate) use reading::{CsvFile, TextLines, decompressed_limit, open_data_file, require_dir};

use crate::catalog::vocabulary::VocabularyRule;
use crate::catalog::{Label, NewItem, Source};
use crate::error::{Error, Result};
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

//! The pipeline every importer's rows go through (see the module docs): ids already
//! stored, the images checked in parallel, the label vocabulary, the items written in
//! chunks (and removed again if a later step fails).

use super::{Candidate, ImportOptions, ImportReport, Problem, Problems, Rows};
use crate::catalog::vocabulary::Vocabulary;
use crate::catalog::{ItemId, Source};
use crate::error::{Error, Result};
use crate::jobs::JobContext;
use crate::library::Library;
use crate::store::Writer;
use crate::vision;
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::Path;

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

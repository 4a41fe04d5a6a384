//! Import a folder of photos as a catalogue: the most common way labelled photos are laid
//! out, with no list file to write.
//!
//! Layouts (folder names are the labels; hidden files and folders are ignored):
//! - `DIR/<category>/<image>`: the folder is the item's `category:` label; a folder below
//!   it (`DIR/shoes/sneakers/<image>`) is its `subtype:` label, and deeper folders add
//!   nothing more;
//! - `DIR/<image>`: a flat folder, items without a category (images at the top of a
//!   category layout are such items too);
//! - `DIR/<split>/<category>/<image>` with split folders named `train`, `validation` (or
//!   `val`, `valid`) and `test`: every split, or with a [`FolderSplit`] only that one
//!   (import the train split as the catalogue and keep the test split as held-out queries
//!   for `vitrine eval retrieval --queries`). A folder counts as a split layout when every
//!   folder in it has a split name.
//!
//! An item's id is its image's absolute path (as for a CSV row without an `id`), its title
//! the file name. Files with another extension are ignored at the top of `DIR` and of a
//! split folder (a README, a CSV list) and skipped, with the reason, inside a category
//! folder. The images then go through the shared pipeline of [`super`] (checked in
//! parallel, one transaction, a report of what was skipped and why).

use super::{Candidate, ImportOptions, ImportReport, Problem, Rows, new_item};
use crate::catalog::{Label, LabelGroup, Source};
use crate::error::{Error, Result};
use crate::jobs::JobContext;
use crate::library::Library;
use crate::vision;
use std::path::{Path, PathBuf};

/// How deep below a category folder images are still found (subtype, then two more).
const MAX_DEPTH: usize = 3;

/// One part of a split layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FolderSplit {
    Train,
    Validation,
    Test,
}

impl FolderSplit {
    pub const ALL: [FolderSplit; 3] = [
        FolderSplit::Train,
        FolderSplit::Validation,
        FolderSplit::Test,
    ];

    /// `train`, `validation` (or `val`, `valid`) or `test`, ASCII case-insensitive.
    pub fn parse(name: &str) -> Option<FolderSplit> {
        match name.trim().to_ascii_lowercase().as_str() {
            "train" | "training" => Some(FolderSplit::Train),
            "validation" | "val" | "valid" => Some(FolderSplit::Validation),
            "test" | "testing" => Some(FolderSplit::Test),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FolderSplit::Train => "train",
            FolderSplit::Validation => "validation",
            FolderSplit::Test => "test",
        }
    }
}

/// Imports the photos under `dir` (see the module docs for the layouts); with `split`, only
/// that split folder of a split layout.
pub fn import_folder(
    lib: &mut Library,
    dir: &Path,
    split: Option<FolderSplit>,
    opts: &ImportOptions,
    ctx: &JobContext,
) -> Result<ImportReport> {
    let rows = read_folder(dir, split, ctx)?;
    super::run(lib, Source::Folder, rows, opts, ctx)
}

/// The candidate items of a photo folder (see the module docs), not yet checked or stored:
/// what [`import_folder`] imports and what a held-out query set is read from.
pub(crate) fn read_folder(
    dir: &Path,
    split: Option<FolderSplit>,
    ctx: &JobContext,
) -> Result<Rows> {
    let root = std::fs::canonicalize(dir)
        .ok()
        .filter(|d| d.is_dir())
        .ok_or_else(|| Error::file(dir, "the photo folder is missing or not a folder"))?;
    ctx.progress(0, 0, "listing the photos");
    let top = list(&root)?;
    let split_dirs: Vec<(FolderSplit, &PathBuf)> = top
        .dirs
        .iter()
        .filter_map(|d| FolderSplit::parse(&file_name(d)).map(|s| (s, d)))
        .collect();
    let is_split_layout = !top.dirs.is_empty() && split_dirs.len() == top.dirs.len();
    let mut rows = Rows::default();
    match (split, is_split_layout) {
        (Some(wanted), true) => {
            let Some((_, folder)) = split_dirs.iter().find(|(s, _)| *s == wanted) else {
                return Err(Error::file(
                    &root,
                    format!(
                        "has no {} folder; its split folders are: {}",
                        wanted.as_str(),
                        names(&top.dirs)
                    ),
                ));
            };
            read_categories(folder, &mut rows, ctx)?;
        }
        (Some(wanted), false) => {
            return Err(Error::file(
                &root,
                format!(
                    "has no split folders (train, validation, test), so --split {} cannot \
                     apply; {}",
                    wanted.as_str(),
                    if top.dirs.is_empty() {
                        "it holds no folders".to_owned()
                    } else {
                        format!("its folders are: {}", names(&top.dirs))
                    }
                ),
            ));
        }
        (None, true) => {
            for (_, folder) in &split_dirs {
                read_categories(folder, &mut rows, ctx)?;
            }
        }
        (None, false) => read_categories(&root, &mut rows, ctx)?,
    }
    if rows.candidates.is_empty() && rows.problems.is_empty() {
        return Err(Error::file(
            &root,
            format!(
                "no photos ({}) in this folder or its folders",
                vision::IMAGE_EXTENSIONS.join(", ")
            ),
        ));
    }
    Ok(rows)
}

/// The images directly in `folder` (no category) and in its category folders.
fn read_categories(folder: &Path, rows: &mut Rows, ctx: &JobContext) -> Result<()> {
    let listing = list(folder)?;
    for image in listing
        .files
        .iter()
        .filter(|f| vision::has_image_extension(f))
    {
        push(rows, image, Vec::new());
    }
    for category_dir in &listing.dirs {
        ctx.check_cancelled()?;
        let category = Label::new(LabelGroup::Category, &file_name(category_dir));
        read_below(category_dir, &[category], 0, rows)?;
    }
    Ok(())
}

/// The images in a category folder and its folders, `depth` levels below the category;
/// the first folder level below the category names the subtype.
fn read_below(folder: &Path, labels: &[Label], depth: usize, rows: &mut Rows) -> Result<()> {
    let listing = list(folder)?;
    for file in &listing.files {
        if vision::has_image_extension(file) {
            push(rows, file, labels.to_vec());
        } else {
            rows.skip(Problem::at(
                file,
                0,
                format!(
                    "not a photo (the extensions read are {})",
                    vision::IMAGE_EXTENSIONS.join(", ")
                ),
            ));
        }
    }
    if depth >= MAX_DEPTH {
        for deeper in &listing.dirs {
            rows.skip(Problem::at(
                deeper,
                0,
                format!(
                    "folders nested more than {MAX_DEPTH} levels below a category are not read"
                ),
            ));
        }
        return Ok(());
    }
    for sub in &listing.dirs {
        let mut below = labels.to_vec();
        if depth == 0 {
            below.push(Label::new(LabelGroup::Subtype, &file_name(sub)));
        }
        read_below(sub, &below, depth + 1, rows)?;
    }
    Ok(())
}

fn push(rows: &mut Rows, image: &Path, labels: Vec<Label>) {
    let key = image.to_string_lossy().into_owned();
    let title = file_name(image);
    rows.push(Candidate {
        path: image.to_path_buf(),
        line: 0,
        image: image.to_path_buf(),
        item: new_item(Source::Folder, key, title, labels),
    });
}

/// A folder's visible files and folders, each sorted by name.
struct Listing {
    files: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
}

fn list(folder: &Path) -> Result<Listing> {
    let entries = std::fs::read_dir(folder).map_err(|e| Error::io(folder, e))?;
    let mut listing = Listing {
        files: Vec::new(),
        dirs: Vec::new(),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(folder, e))?;
        let path = entry.path();
        if file_name(&path).starts_with('.') {
            continue;
        }
        // Follows symbolic links; a dangling one is a file that will fail its image check.
        if path.is_dir() {
            listing.dirs.push(path);
        } else {
            listing.files.push(path);
        }
    }
    listing.files.sort();
    listing.dirs.sort();
    Ok(listing)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn names(dirs: &[PathBuf]) -> String {
    dirs.iter()
        .map(|d| file_name(d))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use crate::store::ItemFilter;

    fn ctx() -> JobContext {
        JobContext::silent()
    }

    fn categories(lib: &Library) -> Vec<(String, Option<String>)> {
        let mut out: Vec<(String, Option<String>)> = lib
            .store
            .items(&ItemFilter::default())
            .unwrap()
            .into_iter()
            .map(|item| {
                let in_group = |g: LabelGroup| {
                    item.labels
                        .iter()
                        .find(|l| l.group == g)
                        .map(|l| l.name.clone())
                };
                (item.title.clone(), in_group(LabelGroup::Category))
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn category_folders_become_category_and_subtype_labels() {
        let (dir, mut lib) = library();
        let photos = dir.path().join("photos");
        write_png(&photos.join("Dress/a.png"));
        write_png(&photos.join("Dress/B.PNG"));
        write_png(&photos.join("shoes/sneakers/c.png"));
        write_png(&photos.join("shoes/sneakers/d.png"));
        write_png(&photos.join("loose.png"));
        write_png(&photos.join(".hidden/e.png"));
        std::fs::write(photos.join("README.md"), "about").unwrap();
        std::fs::write(photos.join("Dress/notes.txt"), "x").unwrap();
        let report = import_folder(&mut lib, &photos, None, &keep_every_label(), &ctx()).unwrap();
        assert_eq!(report.source, Source::Folder);
        assert_eq!(report.imported, 5, "{:?}", report.skipped);
        // The README at the top is ignored; the note in a category folder is named.
        assert_eq!(report.skipped.len(), 1, "{:?}", report.skipped);
        assert!(report.skipped[0].location.ends_with("notes.txt"));
        assert!(report.skipped[0].reason.contains("not a photo"));
        assert_eq!(
            categories(&lib),
            [
                ("B.PNG".to_owned(), Some("dress".to_owned())),
                ("a.png".to_owned(), Some("dress".to_owned())),
                ("c.png".to_owned(), Some("shoes".to_owned())),
                ("d.png".to_owned(), Some("shoes".to_owned())),
                ("loose.png".to_owned(), None),
            ]
        );
        let sneakers = lib
            .store
            .items(&ItemFilter {
                labels: vec![Label::new(LabelGroup::Subtype, "sneakers")],
                text: None,
            })
            .unwrap();
        assert_eq!(sneakers.len(), 2);
        // Ids are the canonical image paths, so importing again skips every photo.
        let again = import_folder(&mut lib, &photos, None, &keep_every_label(), &ctx()).unwrap();
        assert_eq!(again.imported, 0);
        assert!(
            again
                .skipped
                .iter()
                .filter(|s| s.reason.contains("already in the library"))
                .count()
                == 5,
            "{:?}",
            again.skipped
        );
    }

    #[test]
    fn a_flat_folder_imports_items_without_a_category() {
        let (dir, mut lib) = library();
        let photos = dir.path().join("flat");
        write_png(&photos.join("one.png"));
        write_png(&photos.join("two.png"));
        write_garbage(&photos.join("three.jpg"));
        let report = import_folder(&mut lib, &photos, None, &keep_every_label(), &ctx()).unwrap();
        assert_eq!(report.imported, 2);
        // A bad image is named by its path, with no line number.
        assert_eq!(report.skipped.len(), 1);
        assert_eq!(
            report.skipped[0].location,
            std::fs::canonicalize(&photos)
                .unwrap()
                .join("three.jpg")
                .display()
                .to_string()
        );
        assert_eq!(lib.store.counts().unwrap().labels, 0);
    }

    #[test]
    fn a_split_layout_imports_one_split_or_all() {
        let (dir, mut lib) = library();
        let photos = dir.path().join("set");
        for (split, n) in [("train", 3), ("validation", 1), ("test", 2)] {
            for i in 0..n {
                write_png(&photos.join(format!("{split}/hat/{split}{i}.png")));
                write_png(&photos.join(format!("{split}/skirt/{split}{i}.png")));
            }
        }
        std::fs::write(photos.join("train.csv"), "id,image,category\n").unwrap();
        let report = import_folder(
            &mut lib,
            &photos,
            Some(FolderSplit::Train),
            &keep_every_label(),
            &ctx(),
        )
        .unwrap();
        assert_eq!(report.imported, 6, "{:?}", report.skipped);
        assert!(report.skipped.is_empty(), "{:?}", report.skipped);
        let cats = categories(&lib);
        assert!(cats.iter().all(|(title, _)| title.starts_with("train")));
        assert_eq!(
            cats.iter()
                .filter(|(_, c)| c.as_deref() == Some("hat"))
                .count(),
            3
        );

        // Without --split: every split, categories from the level below the split folders.
        let (_dir2, mut all) = library();
        let report = import_folder(&mut all, &photos, None, &keep_every_label(), &ctx()).unwrap();
        assert_eq!(report.imported, 12);
        assert!(categories(&all).iter().all(|(_, c)| c.is_some()));

        // `val` is the validation split too.
        assert_eq!(FolderSplit::parse(" VAL "), Some(FolderSplit::Validation));
        assert_eq!(FolderSplit::parse("gallery"), None);
    }

    #[test]
    fn folder_errors_name_the_folder_and_say_why() {
        let (dir, mut lib) = library();
        let nowhere = dir.path().join("nowhere");
        let err = import_folder(&mut lib, &nowhere, None, &keep_every_label(), &ctx())
            .unwrap_err()
            .to_string();
        assert!(err.contains("nowhere") && err.contains("missing"), "{err}");

        let plain = dir.path().join("plain");
        write_png(&plain.join("dress/a.png"));
        let err = import_folder(
            &mut lib,
            &plain,
            Some(FolderSplit::Test),
            &keep_every_label(),
            &ctx(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("no split folders") && err.contains("dress"),
            "{err}"
        );

        let only_train = dir.path().join("only-train");
        write_png(&only_train.join("train/dress/a.png"));
        let err = import_folder(
            &mut lib,
            &only_train,
            Some(FolderSplit::Test),
            &keep_every_label(),
            &ctx(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("has no test folder"), "{err}");

        let empty = dir.path().join("empty");
        std::fs::create_dir_all(empty.join("dress")).unwrap();
        std::fs::write(empty.join("list.csv"), "x").unwrap();
        let err = import_folder(&mut lib, &empty, None, &keep_every_label(), &ctx())
            .unwrap_err()
            .to_string();
        assert!(err.contains("no photos"), "{err}");
        assert_eq!(lib.store.counts().unwrap().items, 0);
    }
}

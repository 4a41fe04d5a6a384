//! Import a folder of images described by a CSV file: the simplest way to bring a shop's own
//! catalogue into Vitrine.
//!
//! The CSV needs a header line. Columns (names are case-insensitive, order is free, unknown
//! columns are ignored):
//! - `image` (required): the image file; a relative path resolves against the images folder
//!   (by default the CSV's own folder);
//! - `id`: the item's id; without it (or when empty) the resolved image path is the id;
//! - `title`: its words become `word:` labels;
//! - `category`, `subtype`, `colour` (or `color`): one label each;
//! - `labels`: more labels separated by `|` or `;`, each `group:name` (a group such as
//!   `texture`, `detail`, `brand`) or just `name` (group `attribute`).
//!
//! Every row must have exactly as many fields as the header; other rows are skipped (see the
//! skip-or-fail policy in [`super`]).

use super::{Candidate, CsvFile, ImportOptions, ImportReport, Problem, Rows, new_item};
use crate::catalog::vocabulary::title_words;
use crate::catalog::{Label, LabelGroup, NewItem, Source};
use crate::error::{Error, Result};
use crate::jobs::JobContext;
use crate::library::Library;
use std::path::{Path, PathBuf};

/// Imports the items listed in `csv`, with images resolved against `images_dir` (default:
/// the CSV's folder). See the module docs for the columns.
pub fn import_csv(
    lib: &mut Library,
    csv: &Path,
    images_dir: Option<&Path>,
    opts: &ImportOptions,
    ctx: &JobContext,
) -> Result<ImportReport> {
    let rows = read_csv(csv, images_dir, ctx)?;
    super::run(lib, Source::Csv, rows, opts, ctx)
}

/// The candidate items a CSV file lists, not yet checked or stored: what [`import_csv`]
/// imports and what a held-out query set is read from.
pub(crate) fn read_csv(csv: &Path, images_dir: Option<&Path>, ctx: &JobContext) -> Result<Rows> {
    let mut file = CsvFile::open(csv)?;
    file.require_columns(&["image"])?;
    let images_base = images_folder(csv, images_dir)?;
    let columns = Columns {
        image: file.column("image"),
        id: file.column("id"),
        title: file.column("title"),
        category: file.column("category"),
        subtype: file.column("subtype"),
        colour: file.column("colour").or_else(|| file.column("color")),
        labels: file.column("labels"),
    };
    let width = file.header.len();
    let mut rows = Rows::default();
    let mut read = 0u64;
    while let Some((line, fields)) = file.next_row()? {
        read += 1;
        if read.is_multiple_of(10_000) {
            ctx.check_cancelled()?;
            ctx.progress(read, 0, "reading the CSV");
        }
        let fields = match fields {
            Ok(fields) => fields,
            Err(reason) => {
                rows.skip(Problem::at(csv, line, reason));
                continue;
            }
        };
        if fields.len() != width {
            rows.skip(Problem::at(
                csv,
                line,
                format!(
                    "the row has {} field{}, the header has {width}",
                    fields.len(),
                    if fields.len() == 1 { "" } else { "s" }
                ),
            ));
            continue;
        }
        match columns.candidate(&fields, &images_base) {
            Ok((image, item)) => rows.push(Candidate {
                path: csv.to_path_buf(),
                line,
                image,
                item,
            }),
            Err(reason) => rows.skip(Problem::at(csv, line, reason)),
        }
    }
    Ok(rows)
}

/// The folder relative image paths resolve against, made absolute so ids built from image
/// paths do not depend on the working directory.
fn images_folder(csv: &Path, images_dir: Option<&Path>) -> Result<PathBuf> {
    let dir = match images_dir {
        Some(dir) => dir.to_path_buf(),
        None => match csv.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        },
    };
    std::fs::canonicalize(&dir)
        .ok()
        .filter(|d| d.is_dir())
        .ok_or_else(|| Error::file(&dir, "the images folder is missing or not a folder"))
}

/// Where each known column is in a row.
struct Columns {
    image: Option<usize>,
    id: Option<usize>,
    title: Option<usize>,
    category: Option<usize>,
    subtype: Option<usize>,
    colour: Option<usize>,
    labels: Option<usize>,
}

impl Columns {
    /// The image path and the item a row describes, or why it cannot be imported.
    fn candidate(
        &self,
        fields: &[String],
        images_base: &Path,
    ) -> Result<(PathBuf, NewItem), String> {
        let get = |col: Option<usize>| col.and_then(|i| fields.get(i)).map_or("", |f| f.trim());
        let image_field = get(self.image);
        if image_field.is_empty() {
            return Err("the image column is empty".to_owned());
        }
        let image = images_base.join(image_field);
        let key = match get(self.id) {
            "" => image.to_string_lossy().into_owned(),
            id => id.to_owned(),
        };
        let title = get(self.title).to_owned();
        let mut labels = Vec::new();
        for (col, group) in [
            (self.category, LabelGroup::Category),
            (self.subtype, LabelGroup::Subtype),
            (self.colour, LabelGroup::Colour),
        ] {
            push_label(&mut labels, group, get(col));
        }
        labels.extend(parse_labels(get(self.labels)));
        labels.extend(title_words(&title));
        Ok((image, new_item(Source::Csv, key, title, labels)))
    }
}

/// Adds `group:name` unless the name is empty.
fn push_label(labels: &mut Vec<Label>, group: LabelGroup, name: &str) {
    let label = Label::new(group, name);
    if !label.name.is_empty() {
        labels.push(label);
    }
}

/// Parses a `labels` field: entries separated by `|` or `;`, each `group:name` or `name`
/// (group `attribute`). An entry whose prefix is no known group is an attribute named by the
/// whole entry.
fn parse_labels(field: &str) -> Vec<Label> {
    let mut labels = Vec::new();
    for entry in field.split(['|', ';']) {
        let entry = entry.trim();
        let (group, name) = match entry.split_once(':') {
            Some((group, name)) => match parse_group(group) {
                Some(group) => (group, name),
                None => (LabelGroup::Attribute, entry),
            },
            None => (LabelGroup::Attribute, entry),
        };
        push_label(&mut labels, group, name);
    }
    labels
}

fn parse_group(name: &str) -> Option<LabelGroup> {
    match name.trim().to_lowercase().as_str() {
        "color" => Some(LabelGroup::Colour),
        other => LabelGroup::parse(other),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use crate::store::ItemFilter;

    fn opts() -> ImportOptions {
        ImportOptions {
            vocabulary: crate::catalog::vocabulary::VocabularyRule {
                min_count: 1,
                max_size: 100,
            },
            ..ImportOptions::default()
        }
    }

    fn strict() -> ImportOptions {
        ImportOptions {
            strict: true,
            ..opts()
        }
    }

    fn ctx() -> JobContext {
        JobContext::silent()
    }

    /// Imports two good items ("first1", "first2") so later tests can check they survive.
    fn import_first(lib: &mut Library, dir: &Path) {
        let folder = dir.join("first");
        write_png(&folder.join("one.png"));
        write_png(&folder.join("two.png"));
        let csv = folder.join("items.csv");
        std::fs::write(&csv, "id,image\nfirst1,one.png\nfirst2,two.png\n").unwrap();
        let report = import_csv(lib, &csv, None, &opts(), &ctx()).unwrap();
        assert_eq!(report.imported, 2, "{:?}", report.skipped);
    }

    #[test]
    fn a_good_csv_imports_items_with_labels_sizes_and_canonical_paths() {
        let (dir, mut lib) = library();
        let images = dir.path().join("shop/images");
        write_png_sized(&images.join("a.png"), 20, 10);
        write_png(&images.join("b.png"));
        write_png(&images.join("c.png"));
        let csv = dir.path().join("shop/items.csv");
        std::fs::write(
            &csv,
            "\u{feff}ID,Image,Title,Category,Subtype,Color,Labels,ignored\n\
             a1,images/a.png,Red Silk Dress,Dress,Maxi,Red,texture:silk|detail:zip;Sleeveless,x\n\
             b1,images/b.png,Blue silk dress,dress,,blue,Texture:Silk,x\n\
             ,images/c.png,,Boots,,,,x\n",
        )
        .unwrap();
        let report = import_csv(&mut lib, &csv, None, &opts(), &ctx()).unwrap();
        assert_eq!(report.source, Source::Csv);
        assert_eq!(report.imported, 3, "{:?}", report.skipped);
        assert!(report.skipped.is_empty());
        assert!(report.labels_kept > 0);

        let a = lib
            .store
            .item(lib.store.item_id("a1").unwrap().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(a.title, "Red Silk Dress");
        assert_eq!((a.width_px, a.height_px), (20, 10));
        let canonical = std::fs::canonicalize(images.join("a.png")).unwrap();
        assert_eq!(a.image, canonical.to_str().unwrap());
        let labels: Vec<String> = a.labels.iter().map(Label::to_string).collect();
        for expected in [
            "category:dress",
            "subtype:maxi",
            "colour:red",
            "texture:silk",
            "detail:zip",
            "attribute:sleeveless",
            "word:red",
            "word:silk",
            "word:dress",
        ] {
            assert!(
                labels.iter().any(|l| l == expected),
                "{expected} in {labels:?}"
            );
        }
        // No id column value: the resolved image path is the id.
        let c_key = std::fs::canonicalize(dir.path().join("shop"))
            .unwrap()
            .join("images/c.png");
        assert!(
            lib.store
                .item_id(c_key.to_str().unwrap())
                .unwrap()
                .is_some()
        );
        let dresses = lib
            .store
            .items(&ItemFilter {
                labels: vec![Label::new(LabelGroup::Category, "dress")],
                text: None,
            })
            .unwrap();
        assert_eq!(dresses.len(), 2);
    }

    #[test]
    fn the_images_folder_argument_and_the_vocabulary_rule_apply() {
        let (dir, mut lib) = library();
        let images = dir.path().join("pics");
        for name in ["a.png", "b.png", "c.png"] {
            write_png(&images.join(name));
        }
        let csv = dir.path().join("list.csv");
        std::fs::write(
            &csv,
            "image,category,colour\na.png,dress,red\nb.png,dress,blue\nc.png,boots,red\n",
        )
        .unwrap();
        let report = import_csv(
            &mut lib,
            &csv,
            Some(&images),
            &ImportOptions::default(),
            &ctx(),
        )
        .unwrap();
        assert_eq!(report.imported, 3, "{:?}", report.skipped);
        // min_count 2: dress and red stay, blue and boots go.
        assert_eq!(report.labels_kept, 2);
        let counts: Vec<String> = lib
            .store
            .label_counts()
            .unwrap()
            .into_iter()
            .map(|c| c.label.to_string())
            .collect();
        assert_eq!(counts, ["category:dress", "colour:red"]);
    }

    #[test]
    fn limit_imports_the_first_good_rows_only() {
        let (dir, mut lib) = library();
        let csv = dir.path().join("l.csv");
        write_png(&dir.path().join("ok.png"));
        std::fs::write(
            &csv,
            "id,image\nx,missing.png\na,ok.png\nb,ok.png\nc,ok.png\n",
        )
        .unwrap();
        let report = import_csv(
            &mut lib,
            &csv,
            None,
            &ImportOptions {
                limit: Some(2),
                ..opts()
            },
            &ctx(),
        )
        .unwrap();
        assert_eq!(report.imported, 2);
        assert_eq!(report.skipped.len(), 1);
        assert!(lib.store.item_id("c").unwrap().is_none());
    }

    /// One bad row per case, after one good row: skipped by name and line without `strict`;
    /// with `strict` an error naming file and line, and the library unchanged.
    #[test]
    fn every_bad_row_is_skipped_naming_file_and_line_and_fails_a_strict_import() {
        let (dir, mut lib) = library();
        import_first(&mut lib, dir.path());
        let folder = dir.path().join("bad");
        std::fs::create_dir_all(&folder).unwrap();
        write_png(&folder.join("good.png"));
        write_empty(&folder.join("empty.png"));
        write_garbage(&folder.join("garbage.png"));
        write_truncated_png(&folder.join("truncated.png"));
        write_huge_png(&folder.join("huge.png"));
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "missing fields",
                b"b0,good.png".to_vec(),
                "2 fields, the header has 4",
            ),
            (
                "extra fields",
                b"b1,good.png,t,c,extra".to_vec(),
                "5 fields",
            ),
            ("missing image", b"b2,nope.png,t,c".to_vec(), "nope.png"),
            ("empty image", b"b3,empty.png,t,c".to_vec(), "empty.png"),
            (
                "corrupt image",
                b"b4,garbage.png,t,c".to_vec(),
                "garbage.png",
            ),
            (
                "truncated image",
                b"b5,truncated.png,t,c".to_vec(),
                "truncated.png",
            ),
            ("huge image", b"b6,huge.png,t,c".to_vec(), "30000"),
            (
                "duplicate in file",
                b"good7,good.png,t,c".to_vec(),
                "duplicate id",
            ),
            (
                "already stored",
                b"first1,good.png,t,c".to_vec(),
                "already in the library",
            ),
            (
                "not UTF-8",
                b"b9,good.png,caf\xe9,c".to_vec(),
                "not valid UTF-8",
            ),
        ];
        let mut expected_items = 2;
        for (i, (case, row, reason)) in cases.into_iter().enumerate() {
            let csv = folder.join(format!("bad{i}.csv"));
            let mut text =
                format!("id,image,title,category\ngood{i},good.png,Red dress,dress\n").into_bytes();
            text.extend_from_slice(&row);
            text.push(b'\n');
            std::fs::write(&csv, text).unwrap();

            let err = import_csv(&mut lib, &csv, None, &strict(), &ctx()).unwrap_err();
            let message = err.to_string();
            assert!(
                message.contains(&format!("bad{i}.csv:3")) && message.contains(reason),
                "{case}: {message}"
            );
            assert_eq!(lib.store.counts().unwrap().items, expected_items, "{case}");

            let report = import_csv(&mut lib, &csv, None, &opts(), &ctx()).unwrap();
            assert_eq!(report.imported, 1, "{case}: {:?}", report.skipped);
            expected_items += 1;
            assert_eq!(report.skipped.len(), 1, "{case}: {:?}", report.skipped);
            let skipped = &report.skipped[0];
            assert_eq!(skipped.location, format!("{}:3", csv.display()), "{case}");
            assert!(skipped.reason.contains(reason), "{case}: {skipped}");
            assert_eq!(lib.store.counts().unwrap().items, expected_items, "{case}");
            assert!(lib.store.item_id("first1").unwrap().is_some());
        }
    }

    #[test]
    fn a_missing_csv_is_an_error_naming_it() {
        let (dir, mut lib) = library();
        import_first(&mut lib, dir.path());
        let csv = dir.path().join("nowhere.csv");
        let err = import_csv(&mut lib, &csv, None, &opts(), &ctx()).unwrap_err();
        assert!(err.to_string().contains("nowhere.csv"), "{err}");
        assert!(err.to_string().contains("not found"), "{err}");
        assert_eq!(lib.store.counts().unwrap().items, 2);
    }

    #[test]
    fn a_header_without_the_image_column_names_what_is_missing_and_found() {
        let (dir, mut lib) = library();
        import_first(&mut lib, dir.path());
        let csv = dir.path().join("cols.csv");
        std::fs::write(&csv, "id,picture,title\n1,a.png,x\n").unwrap();
        let err = import_csv(&mut lib, &csv, None, &opts(), &ctx()).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("cols.csv:1"), "{message}");
        assert!(message.contains("column image"), "{message}");
        assert!(message.contains("id, picture, title"), "{message}");
        assert_eq!(lib.store.counts().unwrap().items, 2);
    }

    #[test]
    fn a_header_that_is_not_utf8_or_an_empty_file_is_an_error() {
        let (dir, mut lib) = library();
        import_first(&mut lib, dir.path());
        let csv = dir.path().join("latin1.csv");
        std::fs::write(&csv, b"id,image,d\xe9signation\n1,a.png,x\n").unwrap();
        let err = import_csv(&mut lib, &csv, None, &opts(), &ctx()).unwrap_err();
        assert!(err.to_string().contains("latin1.csv:1"), "{err}");
        assert!(err.to_string().contains("UTF-8"), "{err}");
        let empty = dir.path().join("empty.csv");
        std::fs::write(&empty, b"").unwrap();
        let err = import_csv(&mut lib, &empty, None, &opts(), &ctx()).unwrap_err();
        assert!(err.to_string().contains("empty.csv"), "{err}");
        assert_eq!(lib.store.counts().unwrap().items, 2);
    }

    #[test]
    fn a_missing_images_folder_is_an_error() {
        let (dir, mut lib) = library();
        let csv = dir.path().join("x.csv");
        std::fs::write(&csv, "image\na.png\n").unwrap();
        let nowhere = dir.path().join("no-such-folder");
        let err = import_csv(&mut lib, &csv, Some(&nowhere), &opts(), &ctx()).unwrap_err();
        assert!(err.to_string().contains("no-such-folder"), "{err}");
    }

    #[test]
    fn nothing_importable_writes_nothing_and_reports_why() {
        let (dir, mut lib) = library();
        import_first(&mut lib, dir.path());
        let csv = dir.path().join("none.csv");
        std::fs::write(&csv, "image\nmissing1.png\nmissing2.png\n").unwrap();
        let report = import_csv(&mut lib, &csv, None, &opts(), &ctx()).unwrap();
        assert_eq!(report.imported, 0);
        assert_eq!(report.skipped.len(), 2);
        assert!(report.skipped[1].location.ends_with("none.csv:3"));
        assert_eq!(lib.store.counts().unwrap().items, 2);
    }

    #[test]
    fn a_cancelled_import_writes_nothing() {
        let (dir, lib) = library();
        drop(lib);
        write_png(&dir.path().join("a.png"));
        let csv = dir.path().join("c.csv");
        std::fs::write(&csv, "image\na.png\n").unwrap();
        let root = dir.path().join("lib");
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let job = crate::jobs::Job::spawn("import", None, move |ctx| {
            go_rx.recv().ok();
            let mut lib = Library::open(&root)?;
            import_csv(&mut lib, &csv, None, &opts(), ctx)
        });
        job.cancel();
        go_tx.send(()).unwrap();
        assert!(matches!(job.wait(), Err(Error::Cancelled)));
        let lib = Library::open(&dir.path().join("lib")).unwrap();
        assert_eq!(lib.store.counts().unwrap().items, 0);
    }

    #[test]
    fn labels_fields_parse_groups_and_separators() {
        let labels: Vec<String> = parse_labels(" texture:Silk | color:Navy Blue;;plain ; size:10 ")
            .iter()
            .map(Label::to_string)
            .collect();
        assert_eq!(
            labels,
            [
                "texture:silk",
                "colour:navy-blue",
                "attribute:plain",
                "attribute:size:10"
            ]
        );
    }
}

//! Import the DeepFashion In-shop Clothes Retrieval benchmark (Liu et al., CVPR 2016): shop
//! photos of clothes in several views, each image tagged train, query or gallery. Importing
//! it gives the standard query → gallery retrieval benchmark next to our own evaluations.
//!
//! Layout (the list files are also found in `DIR/Eval/` and `DIR/Anno/`, as the dataset
//! ships them):
//! - `DIR/list_eval_partition.txt`: line 1 the number of images, line 2 the header
//!   `image_name item_id evaluation_status`, then one whitespace-separated row per image,
//!   e.g. `img/WOMEN/Dresses/id_00000002/02_1_front.jpg id_00000002 train`;
//! - `DIR/list_attr_items.txt` (optional): line 1 the number of items, line 2 the attribute
//!   names, then `id_00000001 -1 1 …`, one value per attribute, 1 meaning present;
//! - the images at `DIR/<image_name>`.
//!
//! Every image is one item (key: the image name; product: the item id; partition: the
//! status). Labels: gender and category from the image path (`WOMEN`, `Dresses`) and the
//! attributes marked 1. A count on line 1 that disagrees with the rows is reported as a
//! skip on line 1; a wrong header on line 2 is an error.

use super::{Candidate, ImportOptions, ImportReport, Problem, Rows, TextLines, new_item};
use crate::catalog::{Label, LabelGroup, Partition, Source};
use crate::error::{Error, Result};
use crate::jobs::JobContext;
use crate::library::Library;
use std::collections::HashMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// The header (line 2) of `list_eval_partition.txt`.
pub const PARTITION_HEADER: [&str; 3] = ["image_name", "item_id", "evaluation_status"];

/// Imports the In-shop benchmark found in `dir`.
pub fn import_deepfashion_inshop(
    lib: &mut Library,
    dir: &Path,
    opts: &ImportOptions,
    ctx: &JobContext,
) -> Result<ImportReport> {
    let list = find_list(dir, "list_eval_partition.txt", "Eval")
        .ok_or_else(|| Error::file(dir.join("list_eval_partition.txt"), "file not found"))?;
    let mut rows = Rows::default();
    let attributes = match find_list(dir, "list_attr_items.txt", "Anno") {
        Some(path) => read_attributes(&path, &mut rows)?,
        None => HashMap::new(),
    };

    read_partition(dir, &list, &attributes, &mut rows, ctx)?;
    super::run(lib, Source::DeepfashionInshop, rows, opts, ctx)
}

/// Reads `list_eval_partition.txt` into `rows` (the row parser the fuzz target runs).
fn read_partition(
    dir: &Path,
    list: &Path,
    attributes: &HashMap<String, Vec<Label>>,
    rows: &mut Rows,
    ctx: &JobContext,
) -> Result<()> {
    let list = list.to_path_buf();
    let mut lines = open_lines(&list)?;
    let declared = read_count(&list, &mut lines)?;
    let header = read_line(&list, &mut lines, 2, "the header")?;
    let header: Vec<&str> = header.split_whitespace().collect();
    if header != PARTITION_HEADER {
        return Err(Error::format(
            &list,
            2,
            format!(
                "expected the header \"{}\", found {:?}",
                PARTITION_HEADER.join(" "),
                header.join(" ")
            ),
        ));
    }
    let mut listed = 0u64;
    while let Some((line, text)) = lines.next_line()? {
        let text = match text {
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => text,
            Err(reason) => {
                listed += 1;
                rows.skip(Problem::at(&list, line, reason));
                continue;
            }
        };
        listed += 1;
        if listed.is_multiple_of(10_000) {
            ctx.check_cancelled()?;
            ctx.progress(listed, declared, "reading list_eval_partition.txt");
        }
        match candidate(dir, &list, line, &text, attributes) {
            Ok(candidate) => rows.push(candidate),
            Err(reason) => rows.skip(Problem::at(&list, line, reason)),
        }
    }
    if listed != declared {
        rows.skip(count_mismatch(&list, declared, listed, "images"));
    }
    Ok(())
}

/// The fuzz target's entry: `file` read as `list_attr_items.txt`, then as
/// `list_eval_partition.txt` with images under `dir`.
pub(crate) fn fuzz_lists(dir: &Path, file: &Path) -> Result<()> {
    let mut rows = Rows::default();
    let attributes = read_attributes(file, &mut rows).unwrap_or_default();
    read_partition(dir, file, &attributes, &mut rows, &JobContext::silent())
}

/// `dir/name`, or else `dir/sub/name`, whichever is a file.
fn find_list(dir: &Path, name: &str, sub: &str) -> Option<PathBuf> {
    [dir.join(name), dir.join(sub).join(name)]
        .into_iter()
        .find(|p| p.is_file())
}

fn open_lines(path: &Path) -> Result<TextLines<BufReader<std::fs::File>>> {
    let file = super::open_data_file(path)?;
    Ok(TextLines::new(path, BufReader::new(file)))
}

/// Line `number` of a list file, which must be there and be UTF-8.
fn read_line(
    path: &Path,
    lines: &mut TextLines<BufReader<std::fs::File>>,
    number: u64,
    what: &str,
) -> Result<String> {
    match lines.next_line()? {
        Some((_, Ok(text))) => Ok(text),
        Some((line, Err(reason))) => Err(Error::format(path, line, reason)),
        None => Err(Error::format(
            path,
            number,
            format!("the file ends before line {number} ({what})"),
        )),
    }
}

/// Line 1 of a list file: the number of rows that follow the header.
fn read_count(path: &Path, lines: &mut TextLines<BufReader<std::fs::File>>) -> Result<u64> {
    let text = read_line(path, lines, 1, "the count")?;
    text.trim().parse().map_err(|_| {
        Error::format(
            path,
            1,
            format!("expected the number of rows on line 1, found {text:?}"),
        )
    })
}

fn count_mismatch(path: &Path, declared: u64, listed: u64, what: &str) -> Problem {
    Problem::at(
        path,
        1,
        format!("line 1 declares {declared} {what} but the file lists {listed}"),
    )
}

/// One row of the partition list as a candidate item, or why it cannot be one.
fn candidate(
    dir: &Path,
    list: &Path,
    line: u64,
    text: &str,
    attributes: &HashMap<String, Vec<Label>>,
) -> Result<Candidate, String> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let [image_name, item_id, status] = fields[..] else {
        return Err(format!(
            "expected 3 fields ({}), found {}",
            PARTITION_HEADER.join(" "),
            fields.len()
        ));
    };
    let partition = Partition::parse(status).ok_or_else(|| {
        format!("unknown evaluation status {status:?} (expected train, query or gallery)")
    })?;
    let mut labels = path_labels(image_name);
    let gender = labels
        .iter()
        .find(|l| l.group == LabelGroup::Gender)
        .map(|l| l.name.clone());
    let category = labels
        .iter()
        .find(|l| l.group == LabelGroup::Category)
        .map(|l| l.name.replace('-', " "));
    let title = match (category, gender) {
        (Some(c), Some(g)) => format!("{c} ({g}), {item_id}"),
        _ => item_id.to_owned(),
    };
    if let Some(attrs) = attributes.get(item_id) {
        labels.extend(attrs.iter().cloned());
    }
    let mut item = new_item(
        Source::DeepfashionInshop,
        image_name.to_owned(),
        title,
        labels,
    );
    item.product = Some(item_id.to_owned());
    item.partition = Some(partition);
    Ok(Candidate {
        path: list.to_path_buf(),
        line,
        image: dir.join(image_name),
        item,
    })
}

/// Gender and category from an image path like `img/WOMEN/Dresses/id_…/02_1_front.jpg`.
fn path_labels(image_name: &str) -> Vec<Label> {
    let mut parts: Vec<&str> = image_name.split('/').filter(|p| !p.is_empty()).collect();
    if parts.first().is_some_and(|p| p.eq_ignore_ascii_case("img")) {
        parts.remove(0);
    }
    // gender / category / item folder / file
    if parts.len() < 4 {
        return Vec::new();
    }
    vec![
        Label::new(LabelGroup::Gender, parts[0]),
        Label::new(LabelGroup::Category, &parts[1].replace('_', " ")),
    ]
}

/// Reads `list_attr_items.txt`: item id → the attributes marked 1. Bad rows are skipped
/// into `rows`; a missing count or attribute-name line is an error.
fn read_attributes(path: &Path, rows: &mut Rows) -> Result<HashMap<String, Vec<Label>>> {
    let mut lines = open_lines(path)?;
    let declared = read_count(path, &mut lines)?;
    let names_line = read_line(path, &mut lines, 2, "the attribute names")?;
    let names: Vec<Label> = names_line
        .split_whitespace()
        .map(|n| Label::new(LabelGroup::Attribute, &n.replace('_', " ")))
        .collect();
    if names.is_empty() {
        return Err(Error::format(
            path,
            2,
            "expected the attribute names on line 2, found an empty line",
        ));
    }
    let mut attributes = HashMap::new();
    let mut first_line: HashMap<String, u64> = HashMap::new();
    let mut listed = 0u64;
    while let Some((line, text)) = lines.next_line()? {
        let text = match text {
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => text,
            Err(reason) => {
                listed += 1;
                rows.skip(Problem::at(path, line, reason));
                continue;
            }
        };
        listed += 1;
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() != names.len() + 1 {
            rows.skip(Problem::at(
                path,
                line,
                format!(
                    "expected {} fields (the item id and {} attribute values), found {}",
                    names.len() + 1,
                    names.len(),
                    fields.len()
                ),
            ));
            continue;
        }
        let item_id = fields[0];
        if let Some(first) = first_line.get(item_id) {
            rows.skip(Problem::at(
                path,
                line,
                format!("duplicate item id {item_id:?} (first at line {first})"),
            ));
            continue;
        }
        let mut present = Vec::new();
        let mut bad = None;
        for (value, name) in fields[1..].iter().zip(&names) {
            match *value {
                "1" => present.push(name.clone()),
                "0" | "-1" => {}
                other => {
                    bad = Some(format!(
                        "the value {other:?} for attribute {:?} is not 1, 0 or -1",
                        name.name
                    ));
                    break;
                }
            }
        }
        if let Some(reason) = bad {
            rows.skip(Problem::at(path, line, reason));
            continue;
        }
        first_line.insert(item_id.to_owned(), line);
        attributes.insert(item_id.to_owned(), present);
    }
    if listed != declared {
        rows.skip(count_mismatch(path, declared, listed, "items"));
    }
    Ok(attributes)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    fn opts() -> ImportOptions {
        keep_every_label()
    }

    fn strict() -> ImportOptions {
        ImportOptions {
            strict: true,
            ..opts()
        }
    }

    const IMAGES: [&str; 4] = [
        "img/WOMEN/Dresses/id_00000002/02_1_front.jpg",
        "img/WOMEN/Dresses/id_00000002/02_2_side.jpg",
        "img/MEN/Blouses_Shirts/id_00000007/01_1_front.jpg",
        "img/MEN/Blouses_Shirts/id_00000007/01_2_side.jpg",
    ];

    /// A small benchmark folder with the given partition list and images.
    fn dataset(root: &Path, partition: &str, attrs: Option<&str>) {
        std::fs::create_dir_all(root).unwrap();
        std::fs::write(root.join("list_eval_partition.txt"), partition).unwrap();
        if let Some(attrs) = attrs {
            std::fs::write(root.join("list_attr_items.txt"), attrs).unwrap();
        }
        for image in IMAGES {
            write_png(&root.join(image));
        }
    }

    const GOOD: &str = "4\nimage_name item_id evaluation_status\n\
        img/WOMEN/Dresses/id_00000002/02_1_front.jpg   id_00000002 train\n\
        img/WOMEN/Dresses/id_00000002/02_2_side.jpg    id_00000002 train\n\
        img/MEN/Blouses_Shirts/id_00000007/01_1_front.jpg id_00000007 query\n\
        img/MEN/Blouses_Shirts/id_00000007/01_2_side.jpg  id_00000007 gallery\n";

    const ATTRS: &str =
        "2\nfloral sleeveless long_sleeve\nid_00000002 1 1 -1\nid_00000007 -1 -1 1\n";

    #[test]
    fn images_become_items_with_products_partitions_and_labels() {
        let (dir, mut lib) = library();
        let root = dir.path().join("inshop");
        dataset(&root, GOOD, Some(ATTRS));
        let report =
            import_deepfashion_inshop(&mut lib, &root, &opts(), &JobContext::silent()).unwrap();
        assert_eq!(report.source, Source::DeepfashionInshop);
        assert_eq!(report.imported, 4, "{:?}", report.skipped);
        assert!(report.skipped.is_empty(), "{:?}", report.skipped);

        let id = lib.store.item_id(IMAGES[2]).unwrap().unwrap();
        let shirt = lib.store.item(id).unwrap().unwrap();
        assert_eq!(shirt.product.as_deref(), Some("id_00000007"));
        assert_eq!(shirt.partition, Some(Partition::Query));
        let labels: Vec<String> = shirt.labels.iter().map(Label::to_string).collect();
        assert_eq!(
            labels,
            [
                "category:blouses-shirts",
                "gender:men",
                "attribute:long-sleeve"
            ]
        );
        let id = lib.store.item_id(IMAGES[0]).unwrap().unwrap();
        let dress = lib.store.item(id).unwrap().unwrap();
        assert_eq!(dress.partition, Some(Partition::Train));
        assert_eq!(dress.label_in(LabelGroup::Category), Some("dresses"));
        assert!(
            dress
                .labels
                .contains(&Label::new(LabelGroup::Attribute, "floral"))
        );
        assert!(
            dress
                .labels
                .contains(&Label::new(LabelGroup::Attribute, "sleeveless"))
        );
        let partitions: Vec<Option<Partition>> = lib
            .store
            .items(&Default::default())
            .unwrap()
            .iter()
            .map(|i| i.partition)
            .collect();
        assert!(partitions.contains(&Some(Partition::Gallery)));
    }

    #[test]
    fn bad_rows_and_counts_are_skipped_by_file_and_line_and_strict_fails() {
        let (dir, mut lib) = library();
        let first = dir.path().join("first");
        dataset(&first, GOOD, None);
        import_deepfashion_inshop(&mut lib, &first, &opts(), &JobContext::silent()).unwrap();
        assert_eq!(lib.store.counts().unwrap().items, 4);

        let root = dir.path().join("bad");
        let partition = "9\nimage_name item_id evaluation_status\n\
            img/WOMEN/Dresses/id_00000002/x.jpg id_00000002\n\
            img/WOMEN/Dresses/id_00000002/y.jpg id_00000002 test\n\
            img/WOMEN/Dresses/id_00000002/missing.jpg id_00000002 train\n\
            img/WOMEN/Dresses/id_00000002/02_1_front.jpg id_00000002 train\n";
        let attrs = "2\nfloral sleeveless\nid_00000002 1\n";
        dataset(&root, partition, Some(attrs));
        // The first import's keys are image names, so the last row is already stored; give
        // this folder one more image so something can be imported.
        std::fs::write(
            root.join("list_eval_partition.txt"),
            format!(
                "{partition}img/MEN/Blouses_Shirts/id_00000007/03_1_front.jpg id_00000007 gallery\n"
            ),
        )
        .unwrap();
        write_png(&root.join("img/MEN/Blouses_Shirts/id_00000007/03_1_front.jpg"));

        let err = import_deepfashion_inshop(&mut lib, &root, &strict(), &JobContext::silent())
            .unwrap_err();
        assert!(err.to_string().contains("list_attr_items.txt:3"), "{err}");
        assert_eq!(lib.store.counts().unwrap().items, 4);

        let report =
            import_deepfashion_inshop(&mut lib, &root, &opts(), &JobContext::silent()).unwrap();
        assert_eq!(report.imported, 1, "{:?}", report.skipped);
        let skipped: Vec<String> = report.skipped.iter().map(|s| s.to_string()).collect();
        let expect = [
            ("list_attr_items.txt:3", "expected 3 fields"),
            (
                "list_attr_items.txt:1",
                "declares 2 items but the file lists 1",
            ),
            ("list_eval_partition.txt:3", "expected 3 fields"),
            ("list_eval_partition.txt:4", "\"test\""),
            (
                "list_eval_partition.txt:1",
                "declares 9 images but the file lists 5",
            ),
            ("list_eval_partition.txt:6", "already in the library"),
            ("list_eval_partition.txt:5", "missing.jpg"),
        ];
        for (location, reason) in expect {
            assert!(
                skipped
                    .iter()
                    .any(|s| s.contains(&format!("{location}: ")) && s.contains(reason)),
                "{location} {reason} in {skipped:#?}"
            );
        }
        assert_eq!(lib.store.counts().unwrap().items, 5);
    }

    #[test]
    fn a_wrong_header_a_bad_count_or_a_missing_list_is_an_error() {
        let (dir, mut lib) = library();
        let first = dir.path().join("first");
        dataset(&first, GOOD, None);
        import_deepfashion_inshop(&mut lib, &first, &opts(), &JobContext::silent()).unwrap();

        let missing = dir.path().join("missing");
        std::fs::create_dir_all(&missing).unwrap();
        let err = import_deepfashion_inshop(&mut lib, &missing, &opts(), &JobContext::silent())
            .unwrap_err();
        assert!(err.to_string().contains("list_eval_partition.txt"), "{err}");

        let header = dir.path().join("header");
        dataset(
            &header,
            "1\nimage item status\nimg/a.jpg id_1 train\n",
            None,
        );
        let err = import_deepfashion_inshop(&mut lib, &header, &opts(), &JobContext::silent())
            .unwrap_err();
        assert!(
            err.to_string().contains("list_eval_partition.txt:2"),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("image_name item_id evaluation_status")
        );

        let count = dir.path().join("count");
        dataset(&count, "many\nimage_name item_id evaluation_status\n", None);
        let err = import_deepfashion_inshop(&mut lib, &count, &opts(), &JobContext::silent())
            .unwrap_err();
        assert!(
            err.to_string().contains("list_eval_partition.txt:1"),
            "{err}"
        );
        assert_eq!(lib.store.counts().unwrap().items, 4);
    }

    #[test]
    fn the_list_files_are_also_found_in_eval_and_anno() {
        let (dir, mut lib) = library();
        let root = dir.path().join("inshop");
        dataset(&root, GOOD, None);
        std::fs::create_dir_all(root.join("Eval")).unwrap();
        std::fs::create_dir_all(root.join("Anno")).unwrap();
        std::fs::rename(
            root.join("list_eval_partition.txt"),
            root.join("Eval/list_eval_partition.txt"),
        )
        .unwrap();
        std::fs::write(root.join("Anno/list_attr_items.txt"), ATTRS).unwrap();
        let report =
            import_deepfashion_inshop(&mut lib, &root, &opts(), &JobContext::silent()).unwrap();
        assert_eq!(report.imported, 4);
        assert!(report.labels_kept >= 7, "{report:?}");
    }
}

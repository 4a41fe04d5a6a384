//! Import Kaggle's "Fashion Product Images" (Param Aggarwal): about 44,000 shop photos of
//! clothes, shoes and accessories on plain backgrounds, each with a category tree, colour,
//! season and usage. A good real catalogue for training and for the demo-to-real step.
//!
//! Layout: `DIR/styles.csv` with the header
//! `id,gender,masterCategory,subCategory,articleType,baseColour,season,year,usage,productDisplayName`
//! and the images at `DIR/images/<id>.jpg`.
//!
//! Labels: `gender`, `masterCategory` (category), `subCategory` and `articleType` (both
//! subtype), `baseColour` (colour), `season`, `usage`, and the words of
//! `productDisplayName`. Empty values and `NA` give no label.
//!
//! **Quirk of the real file:** some `productDisplayName` values contain commas but are not
//! quoted, so their rows have more fields than the header. As the name is the last column,
//! the extra trailing fields are joined back into the name (with the commas they were split
//! at). A row with too *few* fields cannot be repaired and is skipped, naming
//! `styles.csv:LINE`.

use super::{Candidate, CsvFile, ImportOptions, ImportReport, Problem, Rows, new_item};
use crate::catalog::vocabulary::title_words;
use crate::catalog::{Label, LabelGroup, Source};
use crate::error::Result;
use crate::jobs::JobContext;
use crate::library::Library;
use std::path::Path;

/// The columns of `styles.csv`, all required.
pub const STYLES_COLUMNS: [&str; 10] = [
    "id",
    "gender",
    "masterCategory",
    "subCategory",
    "articleType",
    "baseColour",
    "season",
    "year",
    "usage",
    "productDisplayName",
];

/// The columns that become labels, and their groups.
const LABEL_COLUMNS: [(&str, LabelGroup); 7] = [
    ("gender", LabelGroup::Gender),
    ("masterCategory", LabelGroup::Category),
    ("subCategory", LabelGroup::Subtype),
    ("articleType", LabelGroup::Subtype),
    ("baseColour", LabelGroup::Colour),
    ("season", LabelGroup::Season),
    ("usage", LabelGroup::Usage),
];

/// Imports `DIR/styles.csv` with its images in `DIR/images/`.
pub fn import_fashion_product_images(
    lib: &mut Library,
    dir: &Path,
    opts: &ImportOptions,
    ctx: &JobContext,
) -> Result<ImportReport> {
    let styles = dir.join("styles.csv");
    let images = dir.join("images");
    let mut file = CsvFile::open(&styles)?;
    file.require_columns(&STYLES_COLUMNS)?;
    super::require_dir(&images, "the images folder")?;
    let id_col = file.required_column("id")?;
    let name_col = file.required_column("productDisplayName")?;
    let label_cols = LABEL_COLUMNS
        .iter()
        .map(|&(name, group)| Ok((file.required_column(name)?, group)))
        .collect::<Result<Vec<_>>>()?;
    let width = file.header.len();
    // Extra fields can only be part of the name when the name is the last column.
    let name_is_last = name_col + 1 == width;

    let mut rows = Rows::default();
    let mut read = 0u64;
    while let Some((line, fields)) = file.next_row()? {
        read += 1;
        if read.is_multiple_of(10_000) {
            ctx.check_cancelled()?;
            ctx.progress(read, 0, "reading styles.csv");
        }
        let at = |reason: String| Problem::at(&styles, line, reason);
        let fields = match fields {
            Ok(fields) => fields,
            Err(reason) => {
                rows.skip(at(reason));
                continue;
            }
        };
        if fields.len() < width || (fields.len() > width && !name_is_last) {
            rows.skip(at(format!(
                "the row has {} fields, the header has {width}",
                fields.len()
            )));
            continue;
        }
        let id = fields[id_col].trim();
        if id.is_empty() || id.contains(['/', '\\']) || id == "." || id == ".." {
            rows.skip(at(format!("{id:?} is not a usable id")));
            continue;
        }
        let title = if name_is_last {
            fields[name_col..].join(",")
        } else {
            fields[name_col].clone()
        };
        let title = title.trim().to_owned();
        let mut labels: Vec<Label> = label_cols
            .iter()
            .filter_map(|&(col, group)| {
                let value = fields[col].trim();
                (!value.is_empty() && !value.eq_ignore_ascii_case("na"))
                    .then(|| Label::new(group, value))
            })
            .collect();
        labels.extend(title_words(&title));
        rows.push(Candidate {
            path: styles.clone(),
            line,
            image: images.join(format!("{id}.jpg")),
            item: new_item(Source::FashionProductImages, id.to_owned(), title, labels),
        });
    }
    super::run(lib, Source::FashionProductImages, rows, opts, ctx)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    const HEADER: &str = "id,gender,masterCategory,subCategory,articleType,baseColour,season,year,usage,productDisplayName\n";

    fn opts() -> ImportOptions {
        keep_every_label()
    }

    fn dataset(root: &Path, rows: &str, images: &[&str]) {
        std::fs::create_dir_all(root.join("images")).unwrap();
        std::fs::write(root.join("styles.csv"), format!("{HEADER}{rows}")).unwrap();
        for id in images {
            write_png(&root.join(format!("images/{id}.jpg")));
        }
    }

    fn labels_of(lib: &Library, key: &str) -> Vec<String> {
        let id = lib.store.item_id(key).unwrap().unwrap();
        let item = lib.store.item(id).unwrap().unwrap();
        item.labels.iter().map(Label::to_string).collect()
    }

    #[test]
    fn styles_rows_become_items_with_labels_and_names_with_commas_are_rejoined() {
        let (dir, mut lib) = library();
        let root = dir.path().join("fpi");
        dataset(
            &root,
            "15970,Men,Apparel,Topwear,Shirts,Navy Blue,Fall,2011,Casual,Turtle Check Men Navy Blue Shirt\n\
             59263,Women,Accessories,Watches,Watches,Silver,Winter,2016,NA,Titan Women, Silver, Watch\n",
            &["15970", "59263"],
        );
        let report =
            import_fashion_product_images(&mut lib, &root, &opts(), &JobContext::silent()).unwrap();
        assert_eq!(report.source, Source::FashionProductImages);
        assert_eq!(report.imported, 2, "{:?}", report.skipped);
        assert!(report.skipped.is_empty());
        let shirt = labels_of(&lib, "15970");
        for expected in [
            "category:apparel",
            "subtype:topwear",
            "subtype:shirts",
            "colour:navy-blue",
            "gender:men",
            "season:fall",
            "usage:casual",
            "word:turtle",
            "word:check",
        ] {
            assert!(
                shirt.iter().any(|l| l == expected),
                "{expected} in {shirt:?}"
            );
        }
        let watch = lib
            .store
            .item(lib.store.item_id("59263").unwrap().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(watch.title, "Titan Women, Silver, Watch");
        assert!(!watch.labels.iter().any(|l| l.group == LabelGroup::Usage));
        assert!(watch.labels.iter().any(|l| l.to_string() == "word:watch"));
    }

    #[test]
    fn short_rows_and_missing_images_are_skipped_by_line_and_strict_fails() {
        let (dir, mut lib) = library();
        let first = dir.path().join("first");
        dataset(
            &first,
            "1,Men,Apparel,Topwear,Shirts,Blue,Fall,2011,Casual,Blue Shirt\n",
            &["1"],
        );
        import_fashion_product_images(&mut lib, &first, &opts(), &JobContext::silent()).unwrap();

        let root = dir.path().join("fpi");
        dataset(
            &root,
            "2,Men,Apparel,Topwear,Shirts,Red,Fall,2011,Casual,Red Shirt\n\
             3,Men,Apparel\n\
             4,Women,Apparel,Topwear,Tops,Red,Fall,2011,Casual,Red Top\n\
             1,Men,Apparel,Topwear,Shirts,Blue,Fall,2011,Casual,Blue Shirt\n",
            &["2", "1"],
        );
        let strict = ImportOptions {
            strict: true,
            ..opts()
        };
        let err = import_fashion_product_images(&mut lib, &root, &strict, &JobContext::silent())
            .unwrap_err();
        assert!(err.to_string().contains("styles.csv:3"), "{err}");
        assert_eq!(lib.store.counts().unwrap().items, 1);

        let report =
            import_fashion_product_images(&mut lib, &root, &opts(), &JobContext::silent()).unwrap();
        assert_eq!(report.imported, 1);
        let skipped: Vec<String> = report.skipped.iter().map(|s| s.to_string()).collect();
        assert_eq!(skipped.len(), 3, "{skipped:?}");
        assert!(skipped[0].contains("styles.csv:3") && skipped[0].contains("3 fields"));
        assert!(skipped[1].contains("styles.csv:4") && skipped[1].contains("4.jpg"));
        assert!(skipped[2].contains("styles.csv:5") && skipped[2].contains("already"));
        assert_eq!(lib.store.counts().unwrap().items, 2);
    }

    #[test]
    fn a_missing_styles_file_or_column_is_an_error_and_changes_nothing() {
        let (dir, mut lib) = library();
        let first = dir.path().join("first");
        dataset(
            &first,
            "1,Men,Apparel,Topwear,Shirts,Blue,Fall,2011,Casual,Shirt\n",
            &["1"],
        );
        import_fashion_product_images(&mut lib, &first, &opts(), &JobContext::silent()).unwrap();

        let empty = dir.path().join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        let err = import_fashion_product_images(&mut lib, &empty, &opts(), &JobContext::silent())
            .unwrap_err();
        assert!(err.to_string().contains("styles.csv"), "{err}");

        let odd = dir.path().join("odd");
        std::fs::create_dir_all(odd.join("images")).unwrap();
        std::fs::write(odd.join("styles.csv"), "id,gender,colour\n1,Men,Blue\n").unwrap();
        let err = import_fashion_product_images(&mut lib, &odd, &opts(), &JobContext::silent())
            .unwrap_err();
        let message = err.to_string();
        assert!(message.contains("styles.csv:1"), "{message}");
        assert!(message.contains("masterCategory") && message.contains("id, gender, colour"));
        assert_eq!(lib.store.counts().unwrap().items, 1);
    }
}

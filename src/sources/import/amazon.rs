//! Import the Amazon product data (McAuley et al.), the paper's source: product metadata,
//! reviews that become users and ratings, and product images in a folder.
//!
//! Files are the 2018 release's JSON lines, each plain or gzip-compressed (recognised by its
//! first bytes, `1f 8b`, not by its name):
//! - metadata: `{"asin": …, "title": …, "category": [ … ] (or "categories": [[ … ]]),
//!   "brand": …, …}`;
//! - reviews: `{"reviewerID": …, "asin": …, "overall": 4.0, "unixReviewTime": …, …}`.
//!
//! Images are found by product id in a folder: `<asin>.jpg`, `.jpeg`, `.png` or `.webp`.
//!
//! Labels: the entries of the category path (group category; generic roots such as
//! "Clothing, Shoes & Jewelry" are dropped, and Women/Men/Girls/Boys/Baby/Unisex become
//! gender labels), the brand, and the title words, all through the vocabulary.
//!
//! Reviews of imported items make the purchase histories: a reviewer becomes a user
//! (source Amazon) when they reviewed between [`UserFilter::min_reviews`] and
//! [`UserFilter::max_reviews`] distinct imported items (5–7 by default, as in the paper);
//! each review becomes a rating (stars = `overall` rounded and clamped to 1–5, order =
//! `unixReviewTime`). A reviewer who reviewed an item twice keeps the later review.
//!
//! A line that is not JSON is skipped naming file and line; the 2014 release's lines are
//! Python literals (single quotes), and the reason then says so.

use super::{Candidate, ImportOptions, ImportReport, Problem, Rows, TextLines, new_item};
use crate::catalog::vocabulary::title_words;
use crate::catalog::{ItemId, Label, LabelGroup, Source};
use crate::error::{Error, Result};
use crate::jobs::JobContext;
use crate::library::Library;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// Which reviewers become users: those with `min_reviews..=max_reviews` reviews of imported
/// items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserFilter {
    pub min_reviews: usize,
    pub max_reviews: usize,
}

impl Default for UserFilter {
    /// 5 to 7 reviews, as the paper chose its users.
    fn default() -> Self {
        UserFilter {
            min_reviews: 5,
            max_reviews: 7,
        }
    }
}

/// Category-path entries too generic to be labels.
const GENERIC_CATEGORIES: &[&str] = &[
    "clothing, shoes & jewelry",
    "clothing, shoes &amp; jewelry",
    "amazon fashion",
    "fashion",
    "all beauty",
    "novelty & more",
    "clothing",
];

/// Category-path entries that say who an item is for.
const GENDER_CATEGORIES: &[&str] = &["women", "men", "girls", "boys", "baby", "unisex"];

/// Imports the products of `meta` that have an image in `images_dir`, and, from `reviews`,
/// the users that pass `users` with their ratings of those products.
pub fn import_amazon(
    lib: &mut Library,
    meta: &Path,
    reviews: Option<&Path>,
    images_dir: &Path,
    users: UserFilter,
    opts: &ImportOptions,
    ctx: &JobContext,
) -> Result<ImportReport> {
    if users.min_reviews > users.max_reviews {
        return Err(Error::Invalid(format!(
            "the user filter keeps {}..={} reviews, an empty range",
            users.min_reviews, users.max_reviews
        )));
    }
    super::require_dir(images_dir, "the images folder")?;
    let mut rows = Rows::default();
    read_products(meta, images_dir, &mut rows, ctx)?;
    let read = match reviews {
        Some(path) => read_reviews(path, &mut rows, ctx)?,
        None => Vec::new(),
    };

    super::run_with(lib, Source::Amazon, rows, opts, ctx, |w, ids| {
        let histories = histories(&read, ids, users);
        let (mut user_count, mut rating_count) = (0, 0);
        for (reviewer, ratings) in histories {
            let user = w.insert_user(reviewer, Source::Amazon)?;
            for (item, stars, seq) in ratings {
                w.insert_rating(user, item, stars, seq)?;
                rating_count += 1;
            }
            user_count += 1;
        }
        Ok((user_count, rating_count))
    })
}

/// Reads the metadata file's products into `rows` (the row parser the fuzz target runs).
fn read_products(meta: &Path, images_dir: &Path, rows: &mut Rows, ctx: &JobContext) -> Result<()> {
    let mut lines = open_json_lines(meta)?;
    while let Some((line, text)) = lines.next_line()? {
        if line.is_multiple_of(10_000) {
            ctx.check_cancelled()?;
            ctx.progress(line, 0, "reading product metadata");
        }
        match parse_product(meta, line, text, images_dir) {
            Ok(Some(candidate)) => rows.push(candidate),
            Ok(None) => {}
            Err(reason) => rows.skip(Problem::at(meta, line, reason)),
        }
    }
    Ok(())
}

/// The reviews of products in `rows` (bad lines are skipped into `rows`).
fn read_reviews(path: &Path, rows: &mut Rows, ctx: &JobContext) -> Result<Vec<Review>> {
    let mut read = Vec::new();
    let mut lines = open_json_lines(path)?;
    while let Some((line, text)) = lines.next_line()? {
        if line.is_multiple_of(10_000) {
            ctx.check_cancelled()?;
            ctx.progress(line, 0, "reading reviews");
        }
        match parse_review(text) {
            // Reviews of products not being imported are not needed.
            Ok(Some(review)) if rows.has_key(&review.asin) => read.push(review),
            Ok(_) => {}
            Err(reason) => rows.skip(Problem::at(path, line, reason)),
        }
    }
    Ok(read)
}

/// The fuzz target's entry: `file` read as product metadata, then as reviews, with images
/// looked for in `images_dir`.
pub(crate) fn fuzz_lines(file: &Path, images_dir: &Path) -> Result<usize> {
    let mut rows = Rows::default();
    let ctx = JobContext::silent();
    read_products(file, images_dir, &mut rows, &ctx)?;
    Ok(read_reviews(file, &mut rows, &ctx)?.len())
}

/// A review as read.
#[derive(Debug, Clone, PartialEq)]
struct Review {
    reviewer: String,
    asin: String,
    stars: u8,
    seq: i64,
}

/// One rating to store: item, stars, seq.
type Purchase = (ItemId, u8, i64);

/// The kept reviewers (sorted by id) with their ratings (item, stars, seq) of imported items,
/// in purchase order.
fn histories<'a>(
    reviews: &'a [Review],
    ids: &HashMap<String, ItemId>,
    filter: UserFilter,
) -> Vec<(&'a str, Vec<Purchase>)> {
    // Reviewer → item → (stars, seq) of the latest review (a later line wins a tie).
    let mut by_user: BTreeMap<&str, HashMap<ItemId, (u8, i64)>> = BTreeMap::new();
    for review in reviews {
        let Some(&item) = ids.get(&review.asin) else {
            continue;
        };
        let items = by_user.entry(&review.reviewer).or_default();
        let keep = items.get(&item).is_none_or(|&(_, seq)| review.seq >= seq);
        if keep {
            items.insert(item, (review.stars, review.seq));
        }
    }
    let range = filter.min_reviews..=filter.max_reviews;
    by_user
        .into_iter()
        .filter(|(_, items)| range.contains(&items.len()))
        .map(|(reviewer, items)| {
            let mut ratings: Vec<Purchase> = items
                .into_iter()
                .map(|(item, (s, q))| (item, s, q))
                .collect();
            ratings.sort_by_key(|&(item, _, seq)| (seq, item));
            (reviewer, ratings)
        })
        .collect()
}

/// Opens a JSON-lines file, decompressing it if it starts with the gzip magic bytes.
/// A gzip file may decompress to [`super::decompressed_limit`] bytes; a line longer than
/// [`super::MAX_LINE_BYTES`] is skipped.
fn open_json_lines(path: &Path) -> Result<TextLines<Box<dyn BufRead>>> {
    let file = super::open_data_file(path)?;
    let size = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut reader = BufReader::new(file);
    let head = reader.fill_buf().map_err(|e| Error::io(path, e))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        let reader: Box<dyn BufRead> =
            Box::new(BufReader::new(flate2::bufread::MultiGzDecoder::new(reader)));
        Ok(TextLines::with_limits(
            path,
            reader,
            super::decompressed_limit(size),
            super::MAX_LINE_BYTES,
        ))
    } else {
        Ok(TextLines::new(path, Box::new(reader)))
    }
}

/// Parses one JSON line into an object; blank lines give `None`.
fn parse_object(
    text: Result<String, String>,
) -> Result<Option<serde_json::Map<String, Value>>, String> {
    let text = text?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(object)) => Ok(Some(object)),
        Ok(_) => Err("expected a JSON object on this line".to_owned()),
        Err(e) if looks_like_python(&text) => Err(format!(
            "not JSON ({e}): this looks like the 2014 release's Python-literal format (single \
             quotes); use the 2018 JSON files, or convert each line with Python's \
             json.dumps(ast.literal_eval(line))"
        )),
        Err(e) => Err(format!("not JSON: {e}")),
    }
}

/// Whether a line looks like a Python dict literal (`{'asin': '…', …}`).
fn looks_like_python(text: &str) -> bool {
    let text = text.trim_start();
    text.starts_with("{'") || (text.starts_with('{') && text.contains("': "))
}

fn string_field<'a>(object: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a str> {
    object
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// One metadata line as a candidate; `Ok(None)` for a blank line.
fn parse_product(
    meta: &Path,
    line: u64,
    text: Result<String, String>,
    images_dir: &Path,
) -> Result<Option<Candidate>, String> {
    let Some(object) = parse_object(text)? else {
        return Ok(None);
    };
    let asin = string_field(&object, "asin").ok_or("the product has no \"asin\"")?;
    if asin.contains(['/', '\\']) || asin.starts_with('.') {
        return Err(format!("{asin:?} is not a usable product id"));
    }
    let image = find_image(images_dir, asin).ok_or_else(|| {
        format!(
            "no image for product {asin} in {} (looked for {asin}.jpg, .jpeg, .png, .webp)",
            images_dir.display()
        )
    })?;
    let title = string_field(&object, "title")
        .map(unescape_html)
        .unwrap_or_default();
    let mut labels = category_labels(&object);
    if let Some(brand) = string_field(&object, "brand") {
        labels.push(Label::new(LabelGroup::Brand, &unescape_html(brand)));
    }
    labels.extend(title_words(&title));
    Ok(Some(Candidate {
        path: meta.to_path_buf(),
        line,
        image,
        item: new_item(Source::Amazon, asin.to_owned(), title, labels),
    }))
}

/// Labels from `"category": [...]` (2018) or `"categories": [[...], ...]` (2014 style).
fn category_labels(object: &serde_json::Map<String, Value>) -> Vec<Label> {
    let mut entries: Vec<&str> = Vec::new();
    if let Some(Value::Array(path)) = object.get("category") {
        entries.extend(path.iter().filter_map(Value::as_str));
    }
    if let Some(Value::Array(paths)) = object.get("categories") {
        for path in paths {
            if let Value::Array(path) = path {
                entries.extend(path.iter().filter_map(Value::as_str));
            }
        }
    }
    let mut labels = Vec::new();
    for entry in entries {
        let entry = unescape_html(entry.trim());
        let lower = entry.to_lowercase();
        // Some 2018 entries are HTML debris ("</span></span>") or whole sentences.
        if entry.is_empty()
            || entry.contains(['<', '>'])
            || entry.chars().count() > 50
            || GENERIC_CATEGORIES.contains(&lower.as_str())
        {
            continue;
        }
        let group = if GENDER_CATEGORIES.contains(&lower.as_str()) {
            LabelGroup::Gender
        } else {
            LabelGroup::Category
        };
        labels.push(Label::new(group, &entry));
    }
    labels
}

/// `<asin>.<ext>` in `dir` for the first of [`crate::vision::IMAGE_EXTENSIONS`] that exists.
fn find_image(dir: &Path, asin: &str) -> Option<PathBuf> {
    crate::vision::IMAGE_EXTENSIONS
        .iter()
        .map(|ext| dir.join(format!("{asin}.{ext}")))
        .find(|p| p.is_file())
}

/// The few HTML entities the 2018 metadata carries in titles and categories.
fn unescape_html(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

/// One reviews line; `Ok(None)` for a blank line.
fn parse_review(text: Result<String, String>) -> Result<Option<Review>, String> {
    let Some(object) = parse_object(text)? else {
        return Ok(None);
    };
    let needed = "a review needs \"reviewerID\", \"asin\", \"overall\" and \"unixReviewTime\"";
    let reviewer = string_field(&object, "reviewerID").ok_or(needed)?;
    let asin = string_field(&object, "asin").ok_or(needed)?;
    let overall = object
        .get("overall")
        .and_then(Value::as_f64)
        .filter(|v| v.is_finite())
        .ok_or(needed)?;
    let seq = object
        .get("unixReviewTime")
        .and_then(Value::as_i64)
        .ok_or(needed)?;
    Ok(Some(Review {
        reviewer: reviewer.to_owned(),
        asin: asin.to_owned(),
        stars: overall.round().clamp(1.0, 5.0) as u8,
        seq,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use std::io::Write;

    fn opts() -> ImportOptions {
        keep_every_label()
    }

    fn gzip(path: &Path, text: &str) {
        let file = std::fs::File::create(path).unwrap();
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        gz.write_all(text.as_bytes()).unwrap();
        gz.finish().unwrap();
    }

    fn product(asin: &str, title: &str, categories: &str, brand: &str) -> String {
        format!(
            r#"{{"asin": "{asin}", "title": "{title}", "category": [{categories}], "brand": "{brand}", "price": "$9.99"}}"#
        ) + "\n"
    }

    fn review(user: &str, asin: &str, overall: f64, time: i64) -> String {
        format!(
            r#"{{"overall": {overall}, "verified": true, "reviewerID": "{user}", "asin": "{asin}", "unixReviewTime": {time}}}"#
        ) + "\n"
    }

    /// Ten products P0..P9 with images; reviewers with 4, 5, 7 and 8 reviews.
    fn dataset(root: &Path) -> (String, String) {
        let images = root.join("images");
        let mut meta = String::new();
        for i in 0..10 {
            let asin = format!("P{i}");
            let ext = ["jpg", "png", "jpeg", "webp"][i % 4];
            write_png(&images.join(format!("{asin}.{ext}")));
            meta += &product(
                &asin,
                "Women&#39;s Red Summer Dress",
                r#""Clothing, Shoes & Jewelry", "Women", "Clothing", "Dresses""#,
                "Acme",
            );
        }
        let mut reviews = String::new();
        for (user, count) in [("U4", 4), ("U5", 5), ("U7", 7), ("U8", 8)] {
            for i in 0..count {
                reviews += &review(user, &format!("P{i}"), 3.6, 1000 + i as i64);
            }
        }
        // A second review of P0 by U5 (later: it wins), and reviews of unknown products.
        reviews += &review("U5", "P0", 0.2, 5000);
        reviews += &review("U5", "NOPE", 5.0, 10);
        (meta, reviews)
    }

    #[test]
    fn products_users_and_ratings_import_from_plain_and_gzipped_files() {
        let (dir, mut lib) = library();
        let (meta, reviews) = dataset(dir.path());
        let meta_path = dir.path().join("meta_Clothing.json");
        std::fs::write(&meta_path, &meta).unwrap();
        // Gzip recognised by its bytes, whatever the name says.
        let reviews_path = dir.path().join("reviews.json");
        gzip(&reviews_path, &reviews);
        let report = import_amazon(
            &mut lib,
            &meta_path,
            Some(&reviews_path),
            &dir.path().join("images"),
            UserFilter::default(),
            &opts(),
            &JobContext::silent(),
        )
        .unwrap();
        assert_eq!(report.source, Source::Amazon);
        assert_eq!(report.imported, 10, "{:?}", report.skipped);
        assert!(report.skipped.is_empty(), "{:?}", report.skipped);
        assert_eq!(report.users, 2, "U5 and U7 pass the 5–7 filter");
        assert_eq!(report.ratings, 12);
        assert!(lib.store.user_id("U4").unwrap().is_none());
        assert!(lib.store.user_id("U8").unwrap().is_none());

        let u5 = lib.store.user_id("U5").unwrap().unwrap();
        let ratings = lib.store.ratings_of(u5).unwrap();
        assert_eq!(ratings.len(), 5);
        let p0 = lib.store.item_id("P0").unwrap().unwrap();
        let last = ratings.last().unwrap();
        assert_eq!((last.item_id, last.stars, last.seq), (p0, 1, 5000));
        assert_eq!(ratings[0].stars, 4);

        let item = lib.store.item(p0).unwrap().unwrap();
        assert_eq!(item.title, "Women's Red Summer Dress");
        let labels: Vec<String> = item.labels.iter().map(Label::to_string).collect();
        assert_eq!(
            labels,
            [
                "category:dresses",
                "gender:women",
                "brand:acme",
                "word:dress",
                "word:red",
                "word:summer",
                "word:women"
            ]
        );
    }

    #[test]
    fn gzipped_metadata_and_a_custom_user_filter_work() {
        let (dir, mut lib) = library();
        let (meta, reviews) = dataset(dir.path());
        let meta_path = dir.path().join("meta.json.gz");
        gzip(&meta_path, &meta);
        let reviews_path = dir.path().join("reviews.txt");
        std::fs::write(&reviews_path, &reviews).unwrap();
        let report = import_amazon(
            &mut lib,
            &meta_path,
            Some(&reviews_path),
            &dir.path().join("images"),
            UserFilter {
                min_reviews: 8,
                max_reviews: 10,
            },
            &opts(),
            &JobContext::silent(),
        )
        .unwrap();
        assert_eq!(report.imported, 10);
        assert_eq!((report.users, report.ratings), (1, 8));
        assert!(lib.store.user_id("U8").unwrap().is_some());
    }

    /// A small .gz holding one line longer than the limit between good ones: the line is
    /// skipped (read through, never held) and named; the products around it import.
    #[test]
    fn a_gzipped_line_longer_than_the_limit_is_skipped_in_bounded_memory() {
        let (dir, mut lib) = library();
        let (meta, _) = dataset(dir.path());
        let mut lines: Vec<&str> = meta.lines().collect();
        let huge = format!(
            "{{\"asin\": \"{}\"}}",
            "x".repeat(super::super::MAX_LINE_BYTES + 10)
        );
        lines.insert(5, &huge);
        let meta_path = dir.path().join("meta.json.gz");
        gzip(&meta_path, &(lines.join("\n") + "\n"));
        let compressed = std::fs::metadata(&meta_path).unwrap().len();
        assert!(compressed < 200_000, "{compressed} bytes");
        let report = import_amazon(
            &mut lib,
            &meta_path,
            None,
            &dir.path().join("images"),
            UserFilter::default(),
            &opts(),
            &JobContext::silent(),
        )
        .unwrap();
        assert_eq!(report.imported, 10);
        assert_eq!(report.skipped.len(), 1, "{:?}", report.skipped);
        assert_eq!(
            report.skipped[0].location,
            format!("{}:6", meta_path.display())
        );
        assert!(
            report.skipped[0]
                .reason
                .contains("longer than 16777216 bytes"),
            "{}",
            report.skipped[0]
        );
    }

    #[test]
    fn bad_lines_are_skipped_by_file_and_line_and_strict_fails() {
        let (dir, mut lib) = library();
        let images = dir.path().join("images");
        write_png(&images.join("OLD1.jpg"));
        write_png(&images.join("A1.jpg"));
        write_png(&images.join("A2.jpg"));
        write_empty(&images.join("EMPTY.jpg"));
        let first = dir.path().join("first.json");
        std::fs::write(&first, product("OLD1", "Old Shirt", "", "")).unwrap();
        let report = import_amazon(
            &mut lib,
            &first,
            None,
            &images,
            UserFilter::default(),
            &opts(),
            &JobContext::silent(),
        )
        .unwrap();
        assert_eq!((report.imported, report.users), (1, 0));

        let meta = dir.path().join("meta.json");
        let mut text = product("A1", "Blue Jeans", r#""Men""#, "Levi");
        text += "{'asin': 'A9', 'title': 'Python literal'}\n"; // line 2
        text += "this is not json\n"; // line 3
        text += "{\"title\": \"no asin\"}\n"; // line 4
        text += &product("MISSING", "No Image", "", ""); // line 5
        text += &product("EMPTY", "Empty Image", "", ""); // line 6
        text += &product("A1", "Duplicate", "", ""); // line 7
        text += &product("OLD1", "Already Stored", "", ""); // line 8
        text += "\n"; // line 9: blank, ignored
        text += &product("A2", "Caf", "", ""); // line 10
        let mut bytes = text.into_bytes();
        bytes.extend_from_slice(b"{\"asin\": \"A3\", \"title\": \"caf\xe9\"}\n"); // line 11
        std::fs::write(&meta, bytes).unwrap();
        let reviews = dir.path().join("reviews.json");
        let mut reviews_text = review("U1", "A1", 5.0, 1);
        reviews_text += "{\"reviewerID\": \"U1\", \"asin\": \"A1\"}\n"; // line 2
        gzip(&reviews, &reviews_text);

        let strict = ImportOptions {
            strict: true,
            ..opts()
        };
        let err = import_amazon(
            &mut lib,
            &meta,
            Some(&reviews),
            &images,
            UserFilter::default(),
            &strict,
            &JobContext::silent(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("meta.json:2"), "{err}");
        assert!(err.to_string().contains("Python-literal"), "{err}");
        assert_eq!(lib.store.counts().unwrap().items, 1);

        let report = import_amazon(
            &mut lib,
            &meta,
            Some(&reviews),
            &images,
            UserFilter::default(),
            &opts(),
            &JobContext::silent(),
        )
        .unwrap();
        assert_eq!(report.imported, 2, "{:#?}", report.skipped);
        let skipped: Vec<String> = report.skipped.iter().map(|s| s.to_string()).collect();
        let expect = [
            ("meta.json:2", "Python-literal"),
            ("meta.json:3", "not JSON"),
            ("meta.json:4", "no \"asin\""),
            ("meta.json:5", "no image for product MISSING"),
            ("meta.json:6", "EMPTY.jpg"),
            ("meta.json:7", "duplicate id \"A1\" (first at line 1)"),
            ("meta.json:8", "already in the library"),
            ("meta.json:11", "not valid UTF-8"),
            ("reviews.json:2", "a review needs"),
        ];
        for (location, reason) in expect {
            assert!(
                skipped
                    .iter()
                    .any(|s| s.contains(&format!("{location}: ")) && s.contains(reason)),
                "{location} {reason} in {skipped:#?}"
            );
        }
        assert_eq!(skipped.len(), expect.len(), "{skipped:#?}");
        assert_eq!(lib.store.counts().unwrap().items, 3);
    }

    #[test]
    fn missing_files_and_a_truncated_gzip_are_errors_that_change_nothing() {
        let (dir, mut lib) = library();
        let images = dir.path().join("images");
        write_png(&images.join("A1.jpg"));
        let good = dir.path().join("good.json");
        std::fs::write(&good, product("A1", "Shirt", "", "")).unwrap();
        import_amazon(
            &mut lib,
            &good,
            None,
            &images,
            UserFilter::default(),
            &opts(),
            &JobContext::silent(),
        )
        .unwrap();
        let run = |lib: &mut Library, meta: &Path, reviews: Option<&Path>| {
            import_amazon(
                lib,
                meta,
                reviews,
                &images,
                UserFilter::default(),
                &opts(),
                &JobContext::silent(),
            )
            .unwrap_err()
            .to_string()
        };
        let message = run(&mut lib, &dir.path().join("nope.json"), None);
        assert!(
            message.contains("nope.json") && message.contains("not found"),
            "{message}"
        );
        let message = run(&mut lib, &good, Some(&dir.path().join("no-reviews.json")));
        assert!(message.contains("no-reviews.json"), "{message}");

        let truncated = dir.path().join("cut.json.gz");
        let mut meta = String::new();
        for i in 0..2000 {
            meta += &product(&format!("B{i}"), "Some Long Title Here", r#""Women""#, "X");
        }
        gzip(&truncated, &meta);
        let bytes = std::fs::read(&truncated).unwrap();
        std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
        let message = run(&mut lib, &truncated, None);
        assert!(message.contains("cut.json.gz:"), "{message}");
        assert_eq!(lib.store.counts().unwrap().items, 1);
    }

    #[test]
    fn an_empty_user_filter_range_is_refused() {
        let (dir, mut lib) = library();
        let err = import_amazon(
            &mut lib,
            &dir.path().join("m.json"),
            None,
            dir.path(),
            UserFilter {
                min_reviews: 7,
                max_reviews: 5,
            },
            &opts(),
            &JobContext::silent(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("7..=5"), "{err}");
    }
}

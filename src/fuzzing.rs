//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz, kept outside the stable build),
//! one per reader of files from outside: the pickle reader, the `.pth` reader, the index
//! file reader and each importer's row parser. Each takes arbitrary bytes and must return
//! (an error is fine) without panicking, hanging or taking unbounded memory. The stable test
//! suite feeds every file of the seed corpus (`fuzz/corpus/<target>/`) through the same
//! functions once (`tests/integration/fuzz_corpus.rs`).

use std::path::{Path, PathBuf};

/// The names of the fuzz targets, which are also their corpus folders.
pub const TARGETS: [&str; 6] = [
    "pickle",
    "pth",
    "index_file",
    "csv_rows",
    "amazon_lines",
    "deepfashion_lists",
];

/// Runs the target called `name` on `data`; `false` for an unknown name.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "pickle" => pickle(data),
        "pth" => pth(data),
        "index_file" => index_file(data),
        "csv_rows" => csv_rows(data),
        "amazon_lines" => amazon_lines(data),
        "deepfashion_lists" => deepfashion_lists(data),
        _ => return false,
    }
    true
}

/// One pickle, as a `.pth` file's `data.pkl`.
pub fn pickle(data: &[u8]) {
    let _ = crate::model::pickle::load(data, 0, Path::new("fuzz.pkl"));
}

/// A whole `.pth` file (zip or legacy), tensors and all.
pub fn pth(data: &[u8]) {
    let _ = crate::model::weights::parse_pth(
        Path::new("fuzz.pth"),
        data,
        crate::model::weights::DEFAULT_MAX_EXPANSION,
    );
}

/// An embedding index file.
pub fn index_file(data: &[u8]) {
    let _ = crate::index::emb_file::parse(data);
}

/// A CSV file as the CSV importers read it.
pub fn csv_rows(data: &[u8]) {
    let file = scratch_file("rows.csv", data);
    let _ = crate::sources::import::fuzz::csv_rows(&file);
}

/// A JSON-lines file (plain or gzip) as the Amazon importer reads it.
pub fn amazon_lines(data: &[u8]) {
    let file = scratch_file("meta.json", data);
    let dir = file.parent().unwrap_or(Path::new("."));
    let _ = crate::sources::import::fuzz::amazon_lines(&file, dir);
}

/// A list file as the DeepFashion importer reads it.
pub fn deepfashion_lists(data: &[u8]) {
    let file = scratch_file("list_eval_partition.txt", data);
    let dir = file.parent().unwrap_or(Path::new("."));
    let _ = crate::sources::import::fuzz::deepfashion_lists(dir, &file);
}

/// `data` written to `name` in a scratch folder of this process and thread (the importers
/// read files by path).
fn scratch_file(name: &str, data: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "vitrine-fuzz-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join(name);
    let _ = std::fs::write(&file, data);
    file
}

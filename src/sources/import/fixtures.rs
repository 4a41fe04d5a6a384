//! Shared test fixtures: small images (good and bad) and a library in a temp folder.

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

//! Images in, pixels out: decoding with limits, thumbnails, and (in [`preprocess`]) the
//! model's input tensors.
//!
//! Every catalogue image passes through [`decode`], so a zero-byte file, a truncated or
//! corrupt file, or a header that declares a decompression bomb is an error naming the file,
//! never a crash or a 3 GB allocation; a phone photo stored on its side with an EXIF
//! Orientation tag comes out upright.

use crate::error::{Error, Result};
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};
use std::io::BufReader;
use std::path::Path;

pub mod preprocess;
pub mod resize;

/// The largest width or height we decode. Catalogue photos are a few thousand pixels at
/// most; a header declaring more is treated as hostile.
pub const MAX_SIDE_PX: u32 = 12_000;
/// The most decoded bytes we allow for one image (RGBA 8-bit of ~8000×8000).
pub const MAX_DECODED_BYTES: u64 = 256 * 1024 * 1024;
/// The file extensions read as images, lower case, most common first: every folder walk,
/// file dialog and importer uses this one list (the formats the `image` features enable).
pub const IMAGE_EXTENSIONS: [&str; 8] = ["jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"];

/// Whether `path` has one of [`IMAGE_EXTENSIONS`] (ASCII case-insensitive).
pub fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Thumbnails fit in a square of this side.
pub const THUMB_SIDE_PX: u32 = 160;

/// The size an image's header declares (as stored, before any EXIF rotation), checked against
/// the limits, without decoding it.
pub fn probe_size(path: &Path) -> Result<(u32, u32)> {
    let reader = open_reader(path)?;
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| Error::image(path, format!("not a readable image: {e}")))?;
    check_size(path, w, h)?;
    Ok((w, h))
}

/// Decodes an image file, refusing files that are empty, unreadable, corrupt, truncated or
/// larger than [`MAX_SIDE_PX`] / [`MAX_DECODED_BYTES`]. The EXIF orientation (JPEG, WebP,
/// TIFF) is applied, so the result is upright as a viewer shows it; alpha is composited on
/// white.
pub fn decode(path: &Path) -> Result<RgbImage> {
    probe_size(path)?;
    let mut reader = open_reader(path)?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE_PX);
    limits.max_image_height = Some(MAX_SIDE_PX);
    limits.max_alloc = Some(MAX_DECODED_BYTES);
    reader.limits(limits);
    let corrupt = |e: image::ImageError| {
        Error::image(path, format!("cannot decode (corrupt or truncated?): {e}"))
    };
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    // `ImageReader::decode` reserves the output buffer against the limits; `into_decoder`
    // does not, so check it here.
    if decoder.total_bytes() > MAX_DECODED_BYTES {
        let (w, h) = decoder.dimensions();
        return Err(Error::image(
            path,
            format!(
                "the image decodes to more than the {MAX_DECODED_BYTES} byte limit ({w}×{h} px)"
            ),
        ));
    }
    // A malformed EXIF block costs the rotation, not the image.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    img.apply_orientation(orientation);
    Ok(flatten_on_white(img))
}

/// An RGB image with any transparency composited onto white (shop photos with cut-out
/// backgrounds are transparent PNGs; white is what a shop page shows behind them).
pub fn flatten_on_white(img: DynamicImage) -> RgbImage {
    if !img.color().has_alpha() {
        return img.into_rgb8();
    }
    let rgba = img.into_rgba8();
    let mut out = RgbImage::new(rgba.width(), rgba.height());
    for (o, p) in out.pixels_mut().zip(rgba.pixels()) {
        let a = p[3] as u32;
        for c in 0..3 {
            o[c] = ((p[c] as u32 * a + 255 * (255 - a) + 127) / 255) as u8;
        }
    }
    out
}

/// A thumbnail that fits in a [`THUMB_SIDE_PX`] square, keeping the aspect ratio.
pub fn thumbnail(img: &RgbImage) -> RgbImage {
    let (w, h) = img.dimensions();
    let scale = THUMB_SIDE_PX as f32 / w.max(h).max(1) as f32;
    if scale >= 1.0 {
        return img.clone();
    }
    let (tw, th) = (
        ((w as f32 * scale).round() as u32).max(1),
        ((h as f32 * scale).round() as u32).max(1),
    );
    image::imageops::resize(img, tw, th, image::imageops::FilterType::Triangle)
}

/// Writes `thumbnail(decode(image))` to `thumb_path` as JPEG, atomically
/// ([`crate::atomic_file`]) so a reader never sees half a thumbnail.
pub fn write_thumbnail(img: &RgbImage, thumb_path: &Path) -> Result<()> {
    let thumb = thumbnail(img);
    crate::atomic_file::write_with(thumb_path, |out| {
        image::codecs::jpeg::JpegEncoder::new_with_quality(out, 88)
            .encode_image(&thumb)
            .map_err(|e| std::io::Error::other(format!("cannot write thumbnail: {e}")))
    })
}

fn open_reader(path: &Path) -> Result<ImageReader<BufReader<std::fs::File>>> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::image(path, "image file not found"),
        _ => Error::io(path, e),
    })?;
    if meta.len() == 0 {
        return Err(Error::image(path, "the image file is empty (0 bytes)"));
    }
    ImageReader::open(path)
        .map_err(|e| Error::io(path, e))?
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))
}

fn check_size(path: &Path, w: u32, h: u32) -> Result<()> {
    if w == 0 || h == 0 {
        return Err(Error::image(path, format!("the image is {w}×{h} px")));
    }
    if w > MAX_SIDE_PX || h > MAX_SIDE_PX || (w as u64) * (h as u64) * 4 > MAX_DECODED_BYTES {
        return Err(Error::image(
            path,
            format!(
                "the image declares {w}×{h} px, more than the {MAX_SIDE_PX} px / {} MB limit",
                MAX_DECODED_BYTES / (1024 * 1024)
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_refuses_bad_files_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.png");
        assert!(
            decode(&missing)
                .unwrap_err()
                .to_string()
                .contains("missing.png")
        );
        let empty = dir.path().join("empty.png");
        std::fs::write(&empty, b"").unwrap();
        assert!(decode(&empty).unwrap_err().to_string().contains("empty"));
        let garbage = dir.path().join("garbage.jpg");
        std::fs::write(&garbage, b"this is not an image at all").unwrap();
        assert!(
            decode(&garbage)
                .unwrap_err()
                .to_string()
                .contains("garbage.jpg")
        );
    }

    /// A valid 1×1 PNG whose header then claims `w`×`h` pixels (CRC fixed up).
    pub(crate) fn png_declaring(w: u32, h: u32) -> Vec<u8> {
        let mut bytes = Vec::new();
        image::RgbImage::new(1, 1)
            .write_to(
                &mut std::io::Cursor::new(&mut bytes),
                image::ImageFormat::Png,
            )
            .unwrap();
        bytes[16..20].copy_from_slice(&w.to_be_bytes());
        bytes[20..24].copy_from_slice(&h.to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.sum().to_be_bytes());
        bytes
    }

    #[test]
    fn a_decompression_bomb_is_refused_before_decoding() {
        let dir = tempfile::tempdir().unwrap();
        let bomb = dir.path().join("bomb.png");
        std::fs::write(&bomb, png_declaring(30_000, 30_000)).unwrap();
        let err = decode(&bomb).unwrap_err().to_string();
        assert!(
            err.contains("bomb.png") && err.contains("30000×30000"),
            "{err}"
        );
    }

    #[test]
    fn a_truncated_image_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.png");
        let mut bytes = Vec::new();
        image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8 * 4, y as u8 * 4, 7]))
            .write_to(
                &mut std::io::Cursor::new(&mut bytes),
                image::ImageFormat::Png,
            )
            .unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let err = decode(&path).unwrap_err().to_string();
        assert!(err.contains("cut.png"), "{err}");
    }

    #[test]
    fn alpha_is_composited_on_white() {
        let mut rgba = image::RgbaImage::new(2, 1);
        rgba.put_pixel(0, 0, image::Rgba([0, 0, 0, 0]));
        rgba.put_pixel(1, 0, image::Rgba([0, 0, 0, 255]));
        let rgb = flatten_on_white(DynamicImage::ImageRgba8(rgba));
        assert_eq!(rgb.get_pixel(0, 0).0, [255, 255, 255]);
        assert_eq!(rgb.get_pixel(1, 0).0, [0, 0, 0]);
    }

    /// `jpeg` with an EXIF APP1 segment declaring `orientation` inserted after SOI (and
    /// after JFIF APP0 when there is one): a little-endian TIFF header and one IFD entry.
    fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
        let mut tiff = Vec::new();
        tiff.extend_from_slice(b"II*\0");
        tiff.extend_from_slice(&8u32.to_le_bytes()); // offset of IFD0
        tiff.extend_from_slice(&1u16.to_le_bytes()); // one entry
        tiff.extend_from_slice(&0x0112u16.to_le_bytes()); // tag: Orientation
        tiff.extend_from_slice(&3u16.to_le_bytes()); // type: SHORT
        tiff.extend_from_slice(&1u32.to_le_bytes()); // count
        tiff.extend_from_slice(&orientation.to_le_bytes());
        tiff.extend_from_slice(&[0, 0]); // value padding
        tiff.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
        let mut app1 = vec![0xFF, 0xE1];
        let len = (2 + 6 + tiff.len()) as u16; // the length counts itself
        app1.extend_from_slice(&len.to_be_bytes());
        app1.extend_from_slice(b"Exif\0\0");
        app1.extend_from_slice(&tiff);

        assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
        let mut at = 2;
        if jpeg[2..4] == [0xFF, 0xE0] {
            at += 2 + u16::from_be_bytes([jpeg[4], jpeg[5]]) as usize;
        }
        let mut out = jpeg[..at].to_vec();
        out.extend_from_slice(&app1);
        out.extend_from_slice(&jpeg[at..]);
        out
    }

    #[test]
    fn exif_orientation_6_is_turned_upright() {
        // Stored 40×20 in four colour quadrants; Orientation 6 means "rotate 90° clockwise
        // to display": stored (x, y) is shown at (19 − y, x) in a 20×40 image.
        let [red, green, blue, white] = [[230, 20, 20], [20, 200, 20], [20, 20, 230], [255; 3]];
        let stored = RgbImage::from_fn(40, 20, |x, y| {
            image::Rgb(match (x < 20, y < 10) {
                (true, true) => red,
                (false, true) => green,
                (true, false) => blue,
                (false, false) => white,
            })
        });
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95)
            .encode_image(&stored)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("phone.jpg");
        std::fs::write(&path, with_exif_orientation(&jpeg, 6)).unwrap();

        let img = decode(&path).unwrap();
        assert_eq!(img.dimensions(), (20, 40));
        let near = |x: u32, y: u32, want: [u8; 3]| {
            let got = img.get_pixel(x, y).0;
            let close = got.iter().zip(want).all(|(&g, w)| g.abs_diff(w) <= 40);
            assert!(close, "({x}, {y}): {got:?}, expected about {want:?}");
        };
        near(15, 10, red); // stored top-left → shown top-right
        near(15, 30, green); // stored top-right → shown bottom-right
        near(5, 10, blue); // stored bottom-left → shown top-left
        near(5, 30, white); // stored bottom-right → shown bottom-left

        // Without the tag the same pixels decode as stored.
        let plain = dir.path().join("plain.jpg");
        std::fs::write(&plain, &jpeg).unwrap();
        assert_eq!(decode(&plain).unwrap().dimensions(), (40, 20));
    }

    #[test]
    fn thumbnails_keep_the_aspect_ratio() {
        let t = thumbnail(&RgbImage::new(800, 400));
        assert_eq!(t.dimensions(), (THUMB_SIDE_PX, THUMB_SIDE_PX / 2));
    }
}

//! The index file's tests: round trips, corruption, older formats, fingerprints.

use super::*;

fn sample() -> EmbeddingIndex {
    let mut index = EmbeddingIndex::empty("imagenet-lite0", &"ab".repeat(32), 3);
    for (id, row) in [(4, [3.0, 0.0, 4.0]), (9, [0.0, 2.0, 0.0]), (11, [0.0; 3])] {
        let image = ImageFingerprint {
            path: format!("images/catalog/{id}.png"),
            size_bytes: 1000 + id as u64,
            mtime_ns: -5 + id,
            sha256: Some([id as u8; 32]),
        };
        index.push(id, image, &row).unwrap();
    }
    index
}

#[test]
fn an_index_round_trips_with_normalised_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("imagenet-lite0.emb");
    let index = sample();
    assert_eq!(*index.row(0), [0.6, 0.0, 0.8]);
    assert_eq!(*index.row(1), [0.0, 1.0, 0.0]);
    assert_eq!(*index.row(2), [0.0; 3]);
    index.write(&path).unwrap();
    let back = load(&path).unwrap();
    assert_eq!(back, index);
    // Nothing is left beside it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    // An empty index round-trips too.
    let empty = EmbeddingIndex::empty("x", "f", 1280);
    empty.write(&path).unwrap();
    assert_eq!(load(&path).unwrap(), empty);
}

#[test]
fn a_corrupted_byte_is_a_checksum_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sys.emb");
    sample().write(&path).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let len = bytes.len();
    bytes[len - CHECKSUM_BYTES - 5] ^= 0x40; // inside the matrix
    std::fs::write(&path, &bytes).unwrap();
    let err = load(&path).unwrap_err().to_string();
    assert!(err.contains("sys.emb"), "{err}");
    assert!(err.contains("checksum"), "{err}");

    bytes.truncate(len / 2);
    std::fs::write(&path, &bytes).unwrap();
    let err = load(&path).unwrap_err().to_string();
    assert!(err.contains("sys.emb") && err.contains("checksum"), "{err}");

    std::fs::write(&path, b"PK\x03\x04 something else entirely").unwrap();
    let err = load(&path).unwrap_err().to_string();
    assert!(err.contains("not a Vitrine embedding index"), "{err}");

    let mut future = MAGIC.to_vec();
    future.extend(7u32.to_le_bytes());
    future.extend([0u8; 64]);
    std::fs::write(&path, &future).unwrap();
    let err = load(&path).unwrap_err().to_string();
    assert!(err.contains("version 7"), "{err}");

    let missing = dir.path().join("missing.emb");
    let err = load(&missing).unwrap_err().to_string();
    assert!(err.contains("missing.emb"), "{err}");
}

#[test]
fn a_stale_system_fingerprint_is_detected() {
    let index = sample();
    let path = Path::new("/lib/index/imagenet-lite0.emb");
    index.check_fingerprint(&"ab".repeat(32), path).unwrap();
    let err = index
        .check_fingerprint(&"cd".repeat(32), path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("imagenet-lite0.emb"), "{err}");
    assert!(err.contains("another version of the system"), "{err}");
    assert!(
        err.contains("vitrine index --system imagenet-lite0"),
        "{err}"
    );
}

/// A file of format 1 (no hashes), 2 (no colour part) or 3 (no precision: f32), as earlier
/// versions wrote it.
fn old_format_bytes(index: &EmbeddingIndex, version: u32) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend(version.to_le_bytes());
    out.extend((index.dim as u32).to_le_bytes());
    out.extend((index.ids.len() as u64).to_le_bytes());
    if version >= 3 {
        out.extend((index.colour_dim as u32).to_le_bytes());
    }
    for s in [&index.system, &index.fingerprint] {
        out.extend((s.len() as u16).to_le_bytes());
        out.extend(s.as_bytes());
    }
    for (id, image) in index.ids.iter().zip(&index.images) {
        out.extend(id.to_le_bytes());
        out.extend(image.size_bytes.to_le_bytes());
        out.extend(image.mtime_ns.to_le_bytes());
        if version >= 2 {
            out.extend(image.sha256.unwrap_or_default());
        }
        out.extend((image.path.len() as u32).to_le_bytes());
        out.extend(image.path.as_bytes());
    }
    out.extend(index.matrix.to_f32().iter().flat_map(|v| v.to_le_bytes()));
    if version >= 3 {
        out.extend(index.colour.iter().flat_map(|v| v.to_le_bytes()));
    }
    let digest = Sha256::digest(&out);
    out.extend(digest);
    out
}

#[test]
fn a_format_1_index_is_still_read_without_hashes() {
    let index = sample();
    let back = parse(&old_format_bytes(&index, 1)).unwrap();
    assert_eq!(back.ids, index.ids);
    assert_eq!(back.matrix, index.matrix);
    assert!(back.images.iter().all(|i| i.sha256.is_none()));
    assert_eq!(back.images[1].mtime_ns, index.images[1].mtime_ns);
    assert!(!back.has_colour());
}

/// Format 2 (hashes, no colour part) reads as an index without colour: it is what this
/// version wrote before the colour dial, so every existing index keeps working.
#[test]
fn a_format_2_index_is_read_without_a_colour_part() {
    let index = sample();
    let back = parse(&old_format_bytes(&index, 2)).unwrap();
    assert_eq!(back, index);
    assert!(!back.has_colour() && back.colour.is_empty());
    assert_eq!(back.colour_row(1), [] as [f32; 0]);
}

/// Format 4 stores the rows at the index's precision: an f16 index takes half the bytes for
/// its matrix, reads back equal, and says its precision from the header alone; format 3 (the
/// last without a precision) reads as f32.
#[test]
fn an_f16_index_round_trips_in_half_the_matrix_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (full_path, half_path) = (dir.path().join("full.emb"), dir.path().join("half.emb"));
    let full = sample();
    let half = full.to_precision(Precision::F16);
    assert_eq!(half.precision(), Precision::F16);
    full.write(&full_path).unwrap();
    half.write(&half_path).unwrap();
    let back = load(&half_path).unwrap();
    assert_eq!(back, half);
    assert_eq!(*back.row(0), [0.60009766, 0.0, 0.7998047]);
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    assert_eq!(size(&full_path) - size(&half_path), 3 * 3 * 2);
    assert_eq!(peek_precision(&half_path), Some(Precision::F16));
    assert_eq!(peek_precision(&full_path), Some(Precision::F32));
    assert_eq!(peek_precision(&dir.path().join("missing.emb")), None);
    assert_eq!(with_precision_round_trip(&half), half);

    let format3 = dir.path().join("format3.emb");
    std::fs::write(&format3, old_format_bytes(&full, 3)).unwrap();
    assert_eq!(peek_precision(&format3), Some(Precision::F32));
    assert_eq!(load(&format3).unwrap(), full);

    // An unknown precision code (with a checksum that agrees) is named as such.
    let mut bytes = std::fs::read(&half_path).unwrap();
    bytes[28] = 7;
    let body = bytes.len() - CHECKSUM_BYTES;
    let digest = Sha256::digest(&bytes[..body]);
    bytes[body..].copy_from_slice(&digest);
    std::fs::write(&half_path, &bytes).unwrap();
    let err = load(&half_path).unwrap_err().to_string();
    assert!(
        err.contains("half.emb") && err.contains("precision code 7"),
        "{err}"
    );
}

/// f16 → f32 → f16 gives the same index back.
fn with_precision_round_trip(index: &EmbeddingIndex) -> EmbeddingIndex {
    index
        .clone()
        .with_precision(Precision::F32)
        .with_precision(Precision::F16)
}

/// Format 3 keeps the colour part beside the embedding, normalised the same way, and the
/// checksum covers it.
#[test]
fn a_colour_part_round_trips_normalised_and_checksummed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("st.emb");
    let mut index = EmbeddingIndex::empty_with_colour("st", "fp", 2, 3);
    let image = |id: i64| ImageFingerprint {
        path: format!("{id}.png"),
        size_bytes: 1,
        mtime_ns: 0,
        sha256: Some([1; 32]),
    };
    index
        .push_with_colour(1, image(1), &[3.0, 4.0], &[0.0, 0.0, 2.0])
        .unwrap();
    index
        .push_with_colour(2, image(2), &[1.0, 0.0], &[f32::NAN, 1.0, 1.0])
        .unwrap();
    assert_eq!(index.colour_row(0), [0.0, 0.0, 1.0]);
    assert_eq!(
        index.colour_row(1),
        [0.0; 3],
        "a broken row matches nothing"
    );
    // A row of the wrong colour width, or none, is refused.
    assert!(
        index
            .push_with_colour(3, image(3), &[1.0, 0.0], &[1.0])
            .is_err()
    );
    assert!(index.push(3, image(3), &[1.0, 0.0]).is_err());
    assert_eq!(index.len(), 2);
    index.write(&path).unwrap();
    let back = load(&path).unwrap();
    assert_eq!(back, index);
    assert_eq!((back.colour_dim, back.colour.len()), (3, 6));

    let mut bytes = std::fs::read(&path).unwrap();
    let len = bytes.len();
    bytes[len - CHECKSUM_BYTES - 2] ^= 0x10; // inside the colour part
    std::fs::write(&path, &bytes).unwrap();
    let err = load(&path).unwrap_err().to_string();
    assert!(err.contains("checksum"), "{err}");
}

/// The content decides, the time is a shortcut: a copy with a new time is unchanged, an
/// edit of the same size with the old time restored is caught only by the time (as
/// before), an edit with a new time by the hash.
#[test]
fn a_fingerprint_checks_content_when_the_time_changed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.png");
    std::fs::write(&file, b"first content").unwrap();
    let first = ImageFingerprint::of_file("a.png", &file).unwrap();
    assert!(first.sha256.is_some());
    // Same file, same time: unchanged without reading it.
    assert_eq!(first.check("a.png", &file).unwrap(), Some(first.clone()));
    // A copy: same bytes, another time.
    let older = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000);
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(older)
        .unwrap();
    let copied = first.check("a.png", &file).unwrap().unwrap();
    assert_ne!(copied.mtime_ns, first.mtime_ns);
    assert_eq!(copied.sha256, first.sha256);
    // Other bytes of the same size, with a new time: changed.
    std::fs::write(&file, b"other content").unwrap();
    assert_eq!(first.check("a.png", &file).unwrap(), None);
    // Another stored path or size: changed.
    assert_eq!(copied.check("b.png", &file).unwrap(), None);
    std::fs::write(&file, b"longer content!").unwrap();
    assert_eq!(copied.check("a.png", &file).unwrap(), None);
}

#[test]
fn a_row_of_the_wrong_width_is_refused() {
    let mut index = EmbeddingIndex::empty("s", "f", 4);
    let image = ImageFingerprint {
        path: "a.png".into(),
        size_bytes: 1,
        mtime_ns: 0,
        sha256: None,
    };
    assert!(index.push(1, image, &[1.0, 2.0]).is_err());
    assert!(index.is_empty());
}

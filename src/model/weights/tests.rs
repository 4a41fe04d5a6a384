//! Reading `.pth` files (legacy and zip, strides and storage views, checkpoints, the limits
//! against hostile files), importing them, writing safetensors atomically and loading them
//! with their names and shapes checked; and the shipped Lite0 weights.

use super::*;
use crate::model::pickle::writer::{Entry, Pickle, billion_laughs, state_dict};
use crate::model::pickle::{StorageRef, TensorRef};
use std::io::Write;
use zip::write::SimpleFileOptions;

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A legacy `torch.save` file: magic, protocol, system info, state dict, keys, storages.
fn legacy_pth(entries: &[Entry], storages: &[(&str, usize, Vec<u8>)]) -> Vec<u8> {
    let mut out = vec![0x80, 2, 0x8a, 10];
    out.extend([
        0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, b'.',
    ]);
    out.extend([0x80, 2, b'M', 0xe9, 0x03, b'.']);
    let mut info = Pickle::default();
    info.proto().op(b'}').op(b'(');
    info.str("protocol_version")
        .int(1001)
        .str("little_endian")
        .op(0x88);
    info.str("type_sizes")
        .op(b'}')
        .op(b'(')
        .str("int")
        .int(4)
        .op(b'u');
    info.op(b'u').op(b'.');
    out.extend(info.bytes);
    out.extend(state_dict(entries, true));
    let mut keys = Pickle::default();
    keys.proto().op(b']').op(b'(');
    for (key, _, _) in storages {
        keys.str(key);
    }
    keys.op(b'e').op(b'.');
    out.extend(keys.bytes);
    for (_, numel, bytes) in storages {
        out.extend((*numel as u64).to_le_bytes());
        out.extend(bytes);
    }
    out
}

/// A zip `torch.save` file (PyTorch ≥ 1.6) with stored entries under `model/`.
fn zip_pth(pickle: &[u8], storages: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .with_alignment(64);
    let mut add = |name: &str, bytes: &[u8]| {
        zip.start_file(name, options).unwrap();
        zip.write_all(bytes).unwrap();
    };
    add("model/data.pkl", pickle);
    add("model/byteorder", b"little");
    for (key, bytes) in storages {
        add(&format!("model/data/{key}"), bytes);
    }
    add("model/version", b"3\n");
    zip.finish().unwrap().into_inner()
}

fn entry<'a>(name: &'a str, key: &'a str, class: &'a str, numel: usize) -> Entry<'a> {
    Entry {
        name,
        key,
        class,
        numel,
        offset: 0,
        shape: &[],
        stride: &[],
    }
}

fn write_temp(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn reads_a_legacy_file() {
    let dir = tempfile::tempdir().unwrap();
    let entries = [
        Entry {
            shape: &[2, 3],
            stride: &[3, 1],
            ..entry("fc.weight", "94", "FloatStorage", 6)
        },
        entry("bn.num_batches_tracked", "7", "LongStorage", 1),
    ];
    let storages = [
        ("94", 6, f32_bytes(&[1., 2., 3., 4., 5., 6.])),
        ("7", 1, 42i64.to_le_bytes().to_vec()),
    ];
    let path = write_temp(&dir, "legacy.pth", &legacy_pth(&entries, &storages));
    let tensors = read_pth(&path).unwrap();
    assert_eq!(tensors.len(), 2);
    assert_eq!(tensors[0].0, "fc.weight");
    assert_eq!(
        tensors[0].1.to_vec2::<f32>().unwrap(),
        [[1., 2., 3.], [4., 5., 6.]]
    );
    assert_eq!(tensors[1].0, "bn.num_batches_tracked");
    assert_eq!(tensors[1].1.to_scalar::<i64>().unwrap(), 42);

    let mut cut = legacy_pth(&entries, &storages);
    cut.truncate(cut.len() - 3);
    let path = write_temp(&dir, "cut.pth", &cut);
    let err = read_pth(&path).unwrap_err().to_string();
    assert!(err.contains("storage 7 is cut short"), "{err}");
}

#[test]
fn reads_a_zip_file_with_half_floats() {
    let dir = tempfile::tempdir().unwrap();
    let entries = [Entry {
        shape: &[3],
        stride: &[1],
        ..entry("w", "0", "HalfStorage", 3)
    }];
    // 1.0, -2.0, 0.5 as IEEE half floats.
    let half: Vec<u8> = [0x3c00u16, 0xc000, 0x3800]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let bytes = zip_pth(&state_dict(&entries, false), &[("0", half)]);
    let path = write_temp(&dir, "zip.pth", &bytes);
    let tensors = read_pth(&path).unwrap();
    assert_eq!(tensors[0].1.dtype(), DType::F16);
    let values = tensors[0].1.to_dtype(DType::F32).unwrap();
    assert_eq!(values.to_vec1::<f32>().unwrap(), [1., -2., 0.5]);
}

#[test]
fn zip_refusals_name_the_offset_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = Pickle::default();
    p.proto()
        .global("os", "system")
        .str("rm -rf ~")
        .op(0x85)
        .op(b'R')
        .op(b'.');
    let bytes = zip_pth(&p.bytes, &[]);
    let path = write_temp(&dir, "evil.pth", &bytes);
    let err = read_pth(&path).unwrap_err().to_string();
    let start = bytes.windows(9).position(|w| w == b"cos\nsyste").unwrap();
    assert_eq!(
        err,
        format!(
            "{}: offset {start}: pickle calls os.system, which a weights file never \
             needs; refusing",
            path.display()
        )
    );
}

#[test]
fn applies_strides_and_storage_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let entries = [
        // A transposed view of the first six values.
        Entry {
            shape: &[3, 2],
            stride: &[1, 3],
            ..entry("transposed", "0", "FloatStorage", 12)
        },
        // Rows from element 6.
        Entry {
            offset: 6,
            shape: &[2, 2],
            stride: &[2, 1],
            ..entry("offset", "0", "FloatStorage", 12)
        },
        // Every fourth element from 1.
        Entry {
            offset: 1,
            shape: &[3],
            stride: &[4],
            ..entry("stepped", "0", "FloatStorage", 12)
        },
    ];
    let values: Vec<f32> = (0..12).map(|v| v as f32).collect();
    let bytes = zip_pth(&state_dict(&entries, false), &[("0", f32_bytes(&values))]);
    let path = write_temp(&dir, "strided.pth", &bytes);
    let tensors = read_pth(&path).unwrap();
    assert_eq!(
        tensors[0].1.to_vec2::<f32>().unwrap(),
        [[0., 3.], [1., 4.], [2., 5.]]
    );
    assert_eq!(tensors[1].1.to_vec2::<f32>().unwrap(), [[6., 7.], [8., 9.]]);
    assert_eq!(tensors[2].1.to_vec1::<f32>().unwrap(), [1., 5., 9.]);
}

#[test]
fn legacy_storage_views_and_bounds() {
    let storage = f32_bytes(&(0..10).map(|v| v as f32).collect::<Vec<_>>());
    let view = |offset, len, storage_offset, shape: Vec<usize>, stride: Vec<usize>| TensorRef {
        storage: StorageRef {
            key: "0".into(),
            dtype: StorageDtype::F32,
            offset,
            len,
        },
        storage_offset,
        shape,
        stride,
    };
    let path = Path::new("v.pth");
    let t = materialize(path, "t", &view(4, 6, 1, vec![2, 2], vec![1, 2]), &storage).unwrap();
    assert_eq!(t.to_vec2::<f32>().unwrap(), [[5., 7.], [6., 8.]]);

    for (bad, why) in [
        (view(4, 6, 0, vec![7], vec![1]), "broadcast"),
        (view(4, 6, 3, vec![4], vec![1]), "reach past"),
        (view(8, 6, 0, vec![2], vec![1]), "holds 10 elements"),
    ] {
        let err = materialize(path, "t", &bad, &storage)
            .unwrap_err()
            .to_string();
        assert!(err.contains(why), "{err}");
    }
    let empty = materialize(path, "e", &view(0, 0, 0, vec![0, 3], vec![3, 1]), &[]).unwrap();
    assert_eq!(empty.dims(), [0, 3]);
}

/// The import-pth case of the report: a zip whose data.pkl is a "billion laughs".
#[test]
fn a_billion_laughs_pickle_is_refused_by_import() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_temp(&dir, "laughs.pth", &zip_pth(&billion_laughs(), &[]));
    let output = dir.path().join("out.safetensors");
    let err = import_pth(&input, &output, &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.starts_with(&input.display().to_string()), "{err}");
    assert!(err.contains("resolves to more than"), "{err}");
}

/// 500 tensors viewing one 4 KB storage: 2 MB of tensors from a file of about 40 KB.
#[test]
fn tensors_aliasing_one_storage_are_refused_over_the_expansion_limit() {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..500).map(|i| format!("t{i}")).collect();
    let entries: Vec<Entry> = names
        .iter()
        .map(|name| Entry {
            shape: &[1024],
            stride: &[1],
            ..entry(name, "0", "FloatStorage", 1024)
        })
        .collect();
    let storage = f32_bytes(&vec![0.5; 1024]);
    let bytes = zip_pth(&state_dict(&entries, false), &[("0", storage)]);
    let input = write_temp(&dir, "aliased.pth", &bytes);
    let output = dir.path().join("out.safetensors");
    let err = import_pth(&input, &output, &ImportOptions::default())
        .unwrap_err()
        .to_string();
    let limit = bytes.len() as u64 * DEFAULT_MAX_EXPANSION;
    assert!(err.starts_with(&input.display().to_string()), "{err}");
    assert!(err.contains(&format!("more than {limit} bytes")), "{err}");
    assert!(err.contains("--max-expansion"), "{err}");
    assert!(!output.exists());
    // Allowed explicitly, it converts.
    let options = ImportOptions {
        max_expansion: Some(100),
        ..ImportOptions::default()
    };
    let report = import_pth(&input, &output, &options).unwrap();
    assert_eq!(report.tensor_count, 500);
}

/// Two central-directory entries pointing at the same stored bytes.
#[test]
fn overlapping_zip_entries_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let entries = [
        Entry {
            shape: &[4],
            stride: &[1],
            ..entry("a", "0", "FloatStorage", 4)
        },
        Entry {
            shape: &[4],
            stride: &[1],
            ..entry("b", "1", "FloatStorage", 4)
        },
    ];
    let storage = f32_bytes(&[1., 2., 3., 4.]);
    let mut bytes = zip_pth(
        &state_dict(&entries, false),
        &[("0", storage.clone()), ("1", storage)],
    );
    assert!(read_pth(&write_temp(&dir, "fine.pth", &bytes)).is_ok());
    // Point the central entry of model/data/1 at the local header of model/data/0.
    let central = |bytes: &[u8], name: &[u8]| -> usize {
        (0..bytes.len() - 46)
            .find(|&i| {
                bytes[i..i + 4] == *b"PK\x01\x02" && {
                    let len = u16::from_le_bytes([bytes[i + 28], bytes[i + 29]]) as usize;
                    bytes.get(i + 46..i + 46 + len) == Some(name)
                }
            })
            .unwrap()
    };
    let first = central(&bytes, b"model/data/0");
    let second = central(&bytes, b"model/data/1");
    let offset: [u8; 4] = bytes[first + 42..first + 46].try_into().unwrap();
    bytes[second + 42..second + 46].copy_from_slice(&offset);
    let path = write_temp(&dir, "overlap.pth", &bytes);
    let err = read_pth(&path).unwrap_err().to_string();
    assert!(err.starts_with(&path.display().to_string()), "{err}");
    assert!(
        err.contains("zip entries model/data/0 and model/data/1 overlap"),
        "{err}"
    );
}

#[test]
fn a_zip_of_too_many_entries_is_refused() {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..=MAX_ZIP_ENTRIES {
        zip.start_file(format!("{i}"), options).unwrap();
    }
    let bytes = zip.finish().unwrap().into_inner();
    let err = parse_pth(Path::new("many.pth"), &bytes, DEFAULT_MAX_EXPANSION)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("many.pth: "), "{err}");
    assert!(
        err.contains(&format!("more than the {MAX_ZIP_ENTRIES}")),
        "{err}"
    );
}

#[test]
fn reads_through_a_checkpoint_to_its_state_dict() {
    let dir = tempfile::tempdir().unwrap();
    let inner = state_dict(
        &[Entry {
            shape: &[1],
            stride: &[1],
            ..entry("w", "0", "DoubleStorage", 1)
        }],
        false,
    );
    let mut p = Pickle::default();
    p.proto()
        .op(b'}')
        .op(b'(')
        .str("epoch")
        .int(3)
        .str("state_dict");
    p.bytes.extend(&inner[2..inner.len() - 1]);
    p.op(b'u').op(b'.');
    let bytes = zip_pth(&p.bytes, &[("0", 2.5f64.to_le_bytes().to_vec())]);
    let path = write_temp(&dir, "checkpoint.pth", &bytes);
    let tensors = read_pth(&path).unwrap();
    assert_eq!(tensors[0].0, "w");
    assert_eq!(tensors[0].1.to_vec1::<f64>().unwrap(), [2.5]);
}

#[test]
fn rejects_files_that_are_not_weights() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(&dir, "notes.txt", b"hello");
    let err = read_pth(&path).unwrap_err().to_string();
    assert!(err.contains("not a PyTorch weights file"), "{err}");
    let err = read_pth(&dir.path().join("missing.pth")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
}

#[test]
fn writes_safetensors_atomically_and_checks_them_on_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    let tensors = vec![
        (
            "b".to_string(),
            Tensor::arange(0f32, 6., &Device::Cpu)
                .unwrap()
                .reshape((2, 3))
                .unwrap(),
        ),
        ("a".to_string(), Tensor::new(&[7i64], &Device::Cpu).unwrap()),
    ];
    let metadata = BTreeMap::from([("source".to_string(), "test".to_string())]);
    let sha = write_safetensors(&tensors, &metadata, &path).unwrap();
    assert_eq!(sha, sha256_hex(&std::fs::read(&path).unwrap()));
    let again = write_safetensors(&tensors, &metadata, &path).unwrap();
    assert_eq!(sha, again, "the same tensors give the same bytes");
    let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(leftovers, 1, "no temporary file is left behind");

    let data = std::fs::read(&path).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&data).unwrap();
    assert_eq!(
        header
            .metadata()
            .as_ref()
            .and_then(|m| m.get("source"))
            .unwrap(),
        "test"
    );

    let loaded =
        load_safetensors_checked(&path, &[("b", &[2, 3]), ("a", &[1])], &Device::Cpu).unwrap();
    assert_eq!(
        loaded["b"].to_vec2::<f32>().unwrap(),
        [[0., 1., 2.], [3., 4., 5.]]
    );
    let err = load_safetensors_checked(&path, &[("b", &[3, 2]), ("c", &[4])], &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(err.contains("mismatched weights"), "{err}");
    assert!(err.contains("b is [2, 3], expected [3, 2]"), "{err}");
    assert!(err.contains("c [4] is missing"), "{err}");

    let twice = vec![tensors[0].clone(), tensors[0].clone()];
    assert!(write_safetensors(&twice, &metadata, &path).is_err());
}

#[test]
fn import_converts_floats_to_f32_and_can_skip_counters() {
    let dir = tempfile::tempdir().unwrap();
    let entries = [
        Entry {
            shape: &[2],
            stride: &[1],
            ..entry("conv.weight", "0", "BFloat16Storage", 2)
        },
        entry("bn.num_batches_tracked", "1", "LongStorage", 1),
    ];
    // 1.0 and 3.0 as bfloat16.
    let bf16: Vec<u8> = [0x3f80u16, 0x4040]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let storages = [("0", bf16), ("1", 5i64.to_le_bytes().to_vec())];
    let input = write_temp(
        &dir,
        "in.pth",
        &zip_pth(&state_dict(&entries, false), &storages),
    );
    let output = dir.path().join("out.safetensors");

    let report = import_pth(&input, &output, &ImportOptions::default()).unwrap();
    assert_eq!(report.tensor_count, 2);
    assert_eq!(report.parameter_count, 3);
    assert_eq!(
        report.dtypes,
        BTreeMap::from([("f32".into(), 1), ("i64".into(), 1)])
    );
    assert_eq!(
        report.input_sha256,
        sha256_hex(&std::fs::read(&input).unwrap())
    );
    assert_eq!(
        report.output_sha256,
        sha256_hex(&std::fs::read(&output).unwrap())
    );
    let loaded = load_safetensors_checked(&output, &[("conv.weight", &[2])], &Device::Cpu).unwrap();
    assert_eq!(loaded["conv.weight"].to_vec1::<f32>().unwrap(), [1., 3.]);

    let options = ImportOptions {
        keep_dtype: true,
        skip_num_batches_tracked: true,
        max_expansion: None,
    };
    let report = import_pth(&input, &output, &options).unwrap();
    assert_eq!(report.dtypes, BTreeMap::from([("bf16".into(), 1)]));
    assert_eq!(report.skipped, ["bn.num_batches_tracked"]);
}

/// The shipped ImageNet weights, when present (see weights/README.md).
#[test]
fn shipped_efficientnet_lite0_weights() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/efficientnet-lite0.safetensors");
    if !path.exists() {
        eprintln!("skipped: {} is not there", path.display());
        return;
    }
    let expected: [(&str, &[usize]); 5] = [
        ("_conv_stem.weight", &[32, 3, 3, 3]),
        ("_bn0.weight", &[32]),
        ("_blocks.15._project_conv.weight", &[320, 1152, 1, 1]),
        ("_conv_head.weight", &[1280, 320, 1, 1]),
        ("_fc.weight", &[1000, 1280]),
    ];
    let tensors = load_safetensors_checked(&path, &expected, &Device::Cpu).unwrap();
    assert_eq!(tensors.len(), 296);
    assert_eq!(tensors["_conv_stem.weight"].dtype(), DType::F32);
}

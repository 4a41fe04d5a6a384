//! Weights files in and out: PyTorch `.pth` state dicts read without running any pickle code,
//! safetensors written atomically, and safetensors loaded with a check of names and shapes.
//!
//! Vitrine's models load safetensors only. Pretrained weights mostly come as `torch.save`
//! files, so [`import_pth`] (behind `vitrine weights import-pth`) converts them once, through
//! the code-free [`super::pickle`] reader. Both of PyTorch's formats are read:
//! - **zip** (PyTorch ≥ 1.6): `<name>/data.pkl` plus one stored (uncompressed) entry
//!   `<name>/data/<key>` per storage. Read with the `zip` crate (no default features: stored
//!   entries only), which candle-core already builds.
//! - **legacy**: five pickles back to back (magic number, protocol version, system info, the
//!   state dict, the storage keys), then each storage as an 8-byte little-endian element count
//!   and its raw bytes, in the order of the keys.
//!
//! Tensors are made contiguous (storage offsets and strides applied), and kept in the state
//! dict's order.
//!
//! Limits against hostile files, each refusal naming the file and the limit: at most
//! [`MAX_ZIP_ENTRIES`] zip entries; no two zip entries may share bytes (overlapping entries
//! repeat data without the file growing); and the tensors together may hold at most
//! [`DEFAULT_MAX_EXPANSION`] times the file's size (many tensors viewing one storage repeat
//! it), unless the caller allows more ([`ImportOptions::max_expansion`], `--max-expansion`).

use super::pickle::{self, StorageDtype, TensorRef, Value};
use crate::error::{Error, Result};
use candle_core::{DType, Device, Tensor};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

/// The first pickle of a legacy `torch.save` file.
const LEGACY_MAGIC: i128 = 0x1950a86a20f9469cfc6c;
/// The legacy format's protocol version (its second pickle).
const LEGACY_PROTOCOL: i128 = 1001;
/// How a legacy file starts: PROTO 2, then LONG1 of the 10-byte magic number.
const LEGACY_PREFIX: [u8; 4] = [0x80, 0x02, 0x8a, 0x0a];
/// How a zip archive starts (a local file header).
const ZIP_PREFIX: [u8; 4] = *b"PK\x03\x04";
/// The most entries a zip `.pth` may have: torch.save writes one per storage, plus three.
pub const MAX_ZIP_ENTRIES: usize = 100_000;
/// By default the tensors of a file may hold at most this many times the file's size. A
/// state dict holds each storage once (tied weights twice); only views repeating one storage
/// many times come near it.
pub const DEFAULT_MAX_EXPANSION: u64 = 8;

/// Reads a PyTorch state dict (`torch.save(model.state_dict(), …)`, zip or legacy format)
/// into named CPU tensors in the file's order and its own dtypes. A checkpoint dict with a
/// `state_dict` entry is read through to that entry.
/// The tensors may hold at most [`DEFAULT_MAX_EXPANSION`] times the file's size.
pub fn read_pth(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_pth(path, &data, DEFAULT_MAX_EXPANSION)
}

/// [`read_pth`] on the file's bytes, already read, with the tensors holding at most
/// `max_expansion` times `data.len()` bytes.
pub fn parse_pth(path: &Path, data: &[u8], max_expansion: u64) -> Result<Vec<(String, Tensor)>> {
    let parsed = if data.starts_with(&ZIP_PREFIX) {
        read_zip(path, data)?
    } else if data.starts_with(&LEGACY_PREFIX) {
        read_legacy(path, data)?
    } else {
        return Err(Error::file(
            path,
            "not a PyTorch weights file: neither a zip archive (torch.save since PyTorch 1.6) \
             nor the legacy torch.save format",
        ));
    };
    check_expansion(path, &parsed.tensors, data.len(), max_expansion)?;
    parsed
        .tensors
        .iter()
        .map(|(name, t)| {
            let storage = parsed.storages.get(&t.storage.key).ok_or_else(|| {
                Error::file(
                    path,
                    format!("{name}: storage {} is not in the file", t.storage.key),
                )
            })?;
            Ok((name.clone(), materialize(path, name, t, storage)?))
        })
        .collect()
}

/// Refuses tensors that together hold more than `max_expansion` times `file_len` bytes, before
/// any is copied out.
fn check_expansion(
    path: &Path,
    tensors: &[(String, TensorRef)],
    file_len: usize,
    max_expansion: u64,
) -> Result<()> {
    let limit = (file_len as u64).saturating_mul(max_expansion);
    let mut total = 0u64;
    for (name, t) in tensors {
        let bytes = t
            .shape
            .iter()
            .try_fold(t.storage.dtype.size_bytes() as u64, |n, &d| {
                n.checked_mul(d as u64)
            });
        total = match bytes.and_then(|b| total.checked_add(b)) {
            Some(total) if total <= limit => total,
            _ => {
                return Err(Error::file(
                    path,
                    format!(
                        "its tensors (up to {name}) hold more than {limit} bytes, {max_expansion} \
                         times the file's {file_len}: storages repeated by many views or \
                         overlapping entries; refusing (allow more with --max-expansion)"
                    ),
                ));
            }
        };
    }
    Ok(())
}

/// A state dict's tensor descriptions and the raw bytes of the storages they point into.
struct Parsed<'a> {
    tensors: Vec<(String, TensorRef)>,
    storages: HashMap<String, Cow<'a, [u8]>>,
}

fn read_legacy<'a>(path: &Path, data: &'a [u8]) -> Result<Parsed<'a>> {
    let mut pos = 0usize;
    let next = |pos: &mut usize| -> Result<Value> {
        let (value, used) = pickle::load(&data[*pos..], *pos as u64, path)?;
        *pos += used;
        Ok(value)
    };
    if next(&mut pos)? != Value::Int(LEGACY_MAGIC) {
        return Err(Error::file(
            path,
            "not a torch.save file (wrong magic number)",
        ));
    }
    let protocol = next(&mut pos)?;
    if protocol != Value::Int(LEGACY_PROTOCOL) {
        return Err(Error::file(
            path,
            format!("legacy torch.save protocol {protocol:?}, expected {LEGACY_PROTOCOL}"),
        ));
    }
    if let Value::Dict(info) = next(&mut pos)? {
        let big_endian = (Value::Str("little_endian".into()), Value::Bool(false));
        if info.contains(&big_endian) {
            return Err(Error::file(
                path,
                "saved on a big-endian machine; not supported",
            ));
        }
    }
    let state_start = pos;
    let tensors = state_dict_entries(path, next(&mut pos)?, state_start)?;
    let keys_start = pos;
    let Value::List(keys) = next(&mut pos)? else {
        return Err(Error::file(
            path,
            format!("offset {keys_start}: the storage key list is missing"),
        ));
    };

    let dtypes: HashMap<&str, StorageDtype> = tensors
        .iter()
        .map(|(_, t)| (t.storage.key.as_str(), t.storage.dtype))
        .collect();
    let mut storages = HashMap::new();
    for key in keys {
        let Value::Str(key) = key else {
            return Err(Error::file(path, "a storage key is not a string"));
        };
        let Some(dtype) = dtypes.get(key.as_str()) else {
            return Err(Error::file(
                path,
                format!("storage {key} is not used by any tensor, so its size is unknown"),
            ));
        };
        let truncated = || {
            Error::file(
                path,
                format!("offset {pos}: storage {key} is cut short (the file is truncated)"),
            )
        };
        let count_bytes: [u8; 8] = data
            .get(pos..pos + 8)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(truncated)?;
        let len = usize::try_from(u64::from_le_bytes(count_bytes))
            .ok()
            .and_then(|n| n.checked_mul(dtype.size_bytes()))
            .ok_or_else(truncated)?;
        let start = pos + 8;
        let bytes = start
            .checked_add(len)
            .and_then(|end| data.get(start..end))
            .ok_or_else(truncated)?;
        pos = start + len;
        storages.insert(key, Cow::Borrowed(bytes));
    }
    Ok(Parsed { tensors, storages })
}

fn read_zip<'a>(path: &Path, data: &'a [u8]) -> Result<Parsed<'a>> {
    let zip_err = |e: zip::result::ZipError| Error::file(path, format!("zip archive: {e}"));
    let mut archive = zip::ZipArchive::new(Cursor::new(data)).map_err(zip_err)?;
    if archive.len() > MAX_ZIP_ENTRIES {
        return Err(Error::file(
            path,
            format!(
                "zip archive of {} entries, more than the {MAX_ZIP_ENTRIES} a weights file may \
                 have; refusing",
                archive.len()
            ),
        ));
    }
    let names: Vec<String> = archive
        .file_names()
        .map(|n| n.map(Cow::into_owned))
        .collect::<Result<_, _>>()
        .map_err(zip_err)?;
    // PyTorch names the top folder after the file (older versions: `archive`).
    let Some(pickle_name) = names
        .iter()
        .find(|n| n.ends_with("/data.pkl") && n.matches('/').count() == 1)
    else {
        return Err(Error::file(
            path,
            "zip archive without <name>/data.pkl: not a torch.save file",
        ));
    };
    let prefix = pickle_name.trim_end_matches("data.pkl").to_string();

    // The bytes of the entries read so far: no two may share any.
    let mut read_ranges: Vec<(u64, u64, String)> = Vec::new();
    let mut read_entry = |name: &str| -> Result<(Vec<u8>, u64)> {
        let mut file = archive.by_name(name).map_err(zip_err)?;
        let start = file.data_start().unwrap_or(0);
        let end = start.saturating_add(file.compressed_size());
        if let Some((_, _, other)) = read_ranges.iter().find(|(s, e, _)| start < *e && *s < end) {
            return Err(Error::file(
                path,
                format!(
                    "zip entries {other} and {name} overlap (bytes {start}..{end}): a zip bomb, \
                     not a torch.save file; refusing"
                ),
            ));
        }
        read_ranges.push((start, end, name.to_owned()));
        if file.compression() != zip::CompressionMethod::Stored {
            return Err(Error::file(
                path,
                format!(
                    "zip entry {name} is compressed ({}); torch.save stores entries \
                     uncompressed",
                    file.compression()
                ),
            ));
        }
        let size = usize::try_from(file.size()).unwrap_or(usize::MAX);
        let mut bytes = Vec::with_capacity(size.min(data.len()));
        file.read_to_end(&mut bytes)
            .map_err(|e| Error::file(path, format!("zip entry {name}: {e}")))?;
        Ok((bytes, file.data_start().unwrap_or(0)))
    };

    if names.contains(&format!("{prefix}byteorder")) {
        let (order, _) = read_entry(&format!("{prefix}byteorder"))?;
        if order != b"little" {
            return Err(Error::file(path, "saved big-endian; not supported"));
        }
    }
    let (pickle_bytes, pickle_start) = read_entry(pickle_name)?;
    let (state, _) = pickle::load(&pickle_bytes, pickle_start, path)?;
    let tensors = state_dict_entries(path, state, pickle_start as usize)?;
    let mut storages = HashMap::new();
    for (_, t) in &tensors {
        if !storages.contains_key(&t.storage.key) {
            let name = format!("{prefix}data/{}", t.storage.key);
            let (bytes, _) = read_entry(&name)?;
            storages.insert(t.storage.key.clone(), Cow::Owned(bytes));
        }
    }
    Ok(Parsed { tensors, storages })
}

/// The named tensors of the state dict pickle that started at `offset`.
fn state_dict_entries(
    path: &Path,
    value: Value,
    offset: usize,
) -> Result<Vec<(String, TensorRef)>> {
    let Value::Dict(pairs) = value else {
        return Err(Error::file(
            path,
            format!(
                "offset {offset}: holds a {}, not a state dict",
                value.kind()
            ),
        ));
    };
    if !pairs.iter().all(|(_, v)| matches!(v, Value::Tensor(_))) {
        let nested = pairs.iter().position(|(k, v)| {
            *k == Value::Str("state_dict".into()) && matches!(v, Value::Dict(_))
        });
        if let Some(at) = nested {
            let inner = pairs
                .into_iter()
                .nth(at)
                .map(|(_, v)| v)
                .unwrap_or(Value::None);
            return state_dict_entries(path, inner, offset);
        }
    }
    pairs
        .into_iter()
        .map(|(key, value)| match (key, value) {
            (Value::Str(name), Value::Tensor(t)) => Ok((name, t)),
            (Value::Str(name), other) => Err(Error::file(
                path,
                format!(
                    "`{name}` is a {}, not a tensor: a training checkpoint or whole model? \
                     save `model.state_dict()` instead",
                    other.kind()
                ),
            )),
            (key, _) => Err(Error::file(
                path,
                format!("a state dict key is a {}, not a string", key.kind()),
            )),
        })
        .collect()
}

/// Copies a (possibly strided, offset) tensor out of its storage into a contiguous tensor.
fn materialize(path: &Path, name: &str, t: &TensorRef, storage: &[u8]) -> Result<Tensor> {
    let bad = |reason: String| Error::file(path, format!("{name}: {reason}"));
    let dtype = match t.storage.dtype {
        StorageDtype::F64 => DType::F64,
        StorageDtype::F32 => DType::F32,
        StorageDtype::F16 => DType::F16,
        StorageDtype::BF16 => DType::BF16,
        StorageDtype::I64 => DType::I64,
        StorageDtype::I32 => DType::I32,
        StorageDtype::I16 => DType::I16,
        StorageDtype::U8 | StorageDtype::Bool => DType::U8,
        StorageDtype::I8 => return Err(bad("int8 tensors are not supported".into())),
    };
    let size = t.storage.dtype.size_bytes();
    let available = storage.len() / size;
    let view_end = t.storage.offset.checked_add(t.storage.len);
    let Some(view_end) = view_end.filter(|&end| end <= available) else {
        return Err(bad(format!(
            "storage {} holds {available} elements, fewer than the {} from {} it should",
            t.storage.key, t.storage.len, t.storage.offset
        )));
    };
    let view = &storage[t.storage.offset * size..view_end * size];

    let numel = t
        .shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| bad(format!("size {:?} overflows", t.shape)))?;
    let bytes: Cow<[u8]> = if numel == 0 {
        Cow::Borrowed(&[])
    } else {
        if numel > t.storage.len {
            return Err(bad(format!(
                "{numel} elements over a storage of {}: broadcast (stride 0) tensors are not \
                 supported",
                t.storage.len
            )));
        }
        let last = t
            .shape
            .iter()
            .zip(&t.stride)
            .try_fold(t.storage_offset, |at, (&d, &s)| {
                (d - 1).checked_mul(s).and_then(|step| at.checked_add(step))
            });
        if last.is_none_or(|last| last >= t.storage.len) {
            return Err(bad(format!(
                "size {:?}, strides {:?} from offset {} reach past its storage of {} elements",
                t.shape, t.stride, t.storage_offset, t.storage.len
            )));
        }
        if is_contiguous(&t.shape, &t.stride) {
            let start = t.storage_offset * size;
            Cow::Borrowed(&view[start..start + numel * size])
        } else {
            Cow::Owned(gather(
                view,
                size,
                t.storage_offset,
                &t.shape,
                &t.stride,
                numel,
            ))
        }
    };
    Tensor::from_raw_buffer(&bytes, dtype, &t.shape, &Device::Cpu).map_err(|e| bad(e.to_string()))
}

/// Whether row-major order over `shape` walks memory with unit steps (size-1 dims may have
/// any stride).
fn is_contiguous(shape: &[usize], stride: &[usize]) -> bool {
    let mut expected = 1;
    for (&d, &s) in shape.iter().zip(stride).rev() {
        if d != 1 && s != expected {
            return false;
        }
        expected *= d;
    }
    true
}

/// Copies `numel` elements of `size` bytes in row-major order of `shape` from `view`,
/// starting at element `offset` and stepping by `stride`. Bounds were checked by the caller.
fn gather(
    view: &[u8],
    size: usize,
    offset: usize,
    shape: &[usize],
    stride: &[usize],
    numel: usize,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(numel * size);
    let mut index = vec![0usize; shape.len()];
    let mut at = offset;
    for _ in 0..numel {
        out.extend_from_slice(&view[at * size..(at + 1) * size]);
        for dim in (0..shape.len()).rev() {
            index[dim] += 1;
            at += stride[dim];
            if index[dim] < shape[dim] {
                break;
            }
            at -= stride[dim] * shape[dim];
            index[dim] = 0;
        }
    }
    out
}

/// Writes tensors as a safetensors file, atomically (a temporary file in the same folder,
/// then a rename), and returns the sha256 (hex) of what it wrote. The layout is the one the
/// `safetensors` crate writes (by descending dtype alignment, then name); `metadata` goes
/// into the header's `__metadata__`, in key order, so the same input gives the same bytes.
pub fn write_safetensors(
    tensors: &[(String, Tensor)],
    metadata: &BTreeMap<String, String>,
    path: &Path,
) -> Result<String> {
    use safetensors::View;

    let mut order: Vec<&(String, Tensor)> = tensors.iter().collect();
    order.sort_by(|(a_name, a), (b_name, b)| {
        View::dtype(&b)
            .cmp(&View::dtype(&a))
            .then(a_name.cmp(b_name))
    });
    if let Some(pair) = order.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(Error::Invalid(format!(
            "tensor {} is given twice",
            pair[0].0
        )));
    }

    let mut header = serde_json::Map::new();
    if !metadata.is_empty() {
        header.insert("__metadata__".into(), serde_json::json!(metadata));
    }
    let mut offset = 0usize;
    for (name, tensor) in &order {
        let len = View::data_len(&tensor);
        header.insert(
            name.clone(),
            serde_json::json!({
                "dtype": View::dtype(&tensor),
                "shape": tensor.dims(),
                "data_offsets": [offset, offset + len],
            }),
        );
        offset += len;
    }
    let mut header = serde_json::to_vec(&header)
        .map_err(|e| Error::Invalid(format!("safetensors header: {e}")))?;
    header.resize(header.len().next_multiple_of(8), b' ');

    let mut bytes = Vec::with_capacity(8 + header.len() + offset);
    bytes.extend((header.len() as u64).to_le_bytes());
    bytes.extend(&header);
    for (_, tensor) in &order {
        bytes.extend_from_slice(&View::data(&tensor));
    }
    crate::atomic_file::write(path, &bytes)?;
    Ok(sha256_hex(&bytes))
}

/// Loads a safetensors file and checks that every expected tensor is there with its shape.
/// Extra tensors are allowed (a classifier head a backbone does not use). Every missing or
/// misshapen tensor is named in one error, so mismatched weights are found in one go.
pub fn load_safetensors_checked(
    path: &Path,
    expected: &[(&str, &[usize])],
    device: &Device,
) -> Result<HashMap<String, Tensor>> {
    let data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let tensors = candle_core::safetensors::load_buffer(&data, device)
        .map_err(|e| Error::file(path, format!("not a readable safetensors file: {e}")))?;
    let problems: Vec<String> = expected
        .iter()
        .filter_map(|&(name, shape)| match tensors.get(name) {
            None => Some(format!("{name} {shape:?} is missing")),
            Some(t) if t.dims() != shape => {
                Some(format!("{name} is {:?}, expected {shape:?}", t.dims()))
            }
            Some(_) => None,
        })
        .collect();
    if problems.is_empty() {
        return Ok(tensors);
    }
    const SHOWN: usize = 5;
    let mut reason = format!(
        "mismatched weights: {}",
        problems[..problems.len().min(SHOWN)].join("; ")
    );
    if problems.len() > SHOWN {
        reason.push_str(&format!("; and {} more", problems.len() - SHOWN));
    }
    Err(Error::file(path, reason))
}

/// The lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// How [`import_pth`] converts.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Keep f16/bf16/f64 tensors as they are (default: write every float tensor as f32).
    pub keep_dtype: bool,
    /// Leave out BatchNorm's `num_batches_tracked` counters (i64 scalars that only training
    /// in PyTorch uses). Kept by default, so the output holds the state dict whole.
    pub skip_num_batches_tracked: bool,
    /// The most bytes the tensors may hold, as a multiple of the input file's size (`None`:
    /// [`DEFAULT_MAX_EXPANSION`]).
    pub max_expansion: Option<u64>,
}

/// What [`import_pth`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub input: PathBuf,
    pub output: PathBuf,
    /// Tensors written.
    pub tensor_count: usize,
    /// Elements over all tensors written (parameters and buffers such as BatchNorm's running
    /// statistics).
    pub parameter_count: usize,
    /// Tensors written per dtype (`f32`, `i64`, …).
    pub dtypes: BTreeMap<String, usize>,
    /// Tensors left out, by name.
    pub skipped: Vec<String>,
    pub input_sha256: String,
    pub output_sha256: String,
}

/// Converts a PyTorch state dict to safetensors (`vitrine weights import-pth`). The output's
/// `__metadata__` names the source file, its sha256 and the converter.
pub fn import_pth(input: &Path, output: &Path, options: &ImportOptions) -> Result<ImportReport> {
    let input_bytes = std::fs::read(input).map_err(|e| Error::io(input, e))?;
    let input_sha256 = sha256_hex(&input_bytes);
    let max_expansion = options.max_expansion.unwrap_or(DEFAULT_MAX_EXPANSION);
    let read = parse_pth(input, &input_bytes, max_expansion)?;
    drop(input_bytes);

    let mut tensors = Vec::new();
    let mut skipped = Vec::new();
    for (name, tensor) in read {
        if options.skip_num_batches_tracked && name.ends_with("num_batches_tracked") {
            skipped.push(name);
            continue;
        }
        let float = matches!(tensor.dtype(), DType::F16 | DType::BF16 | DType::F64);
        let tensor = if float && !options.keep_dtype {
            tensor
                .to_dtype(DType::F32)
                .map_err(|e| Error::file(input, format!("{name}: {e}")))?
        } else {
            tensor
        };
        tensors.push((name, tensor));
    }

    let mut dtypes = BTreeMap::new();
    for (_, t) in &tensors {
        *dtypes.entry(t.dtype().as_str().to_string()).or_insert(0) += 1;
    }
    let source = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let metadata = BTreeMap::from([
        (
            "converted_by".to_string(),
            "vitrine weights import-pth".to_string(),
        ),
        ("source".to_string(), source),
        ("source_sha256".to_string(), input_sha256.clone()),
    ]);
    let output_sha256 = write_safetensors(&tensors, &metadata, output)?;
    Ok(ImportReport {
        input: input.to_path_buf(),
        output: output.to_path_buf(),
        tensor_count: tensors.len(),
        parameter_count: tensors.iter().map(|(_, t)| t.elem_count()).sum(),
        dtypes,
        skipped,
        input_sha256,
        output_sha256,
    })
}

#[cfg(test)]
mod tests;

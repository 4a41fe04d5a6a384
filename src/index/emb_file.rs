//! The embedding index file, `DIR/index/<system>.emb` (ARCHITECTURE.md §2, §6): one system's
//! embedding of every catalogue item, with what is needed to keep it up to date and to trust
//! it.
//!
//! ```text
//! header    magic "VTRNEMB\0" · format version u32 · dim u32 · count u64
//!           colour_dim u32 (format 3) · precision u8 (format 4: 0 = f32, 1 = f16)
//!           system name (u16 length + UTF-8) · system fingerprint (u16 length + UTF-8)
//! entries   count × { item id i64 · image size u64 · image mtime ns i64 ·
//!                     image sha256 (32 bytes) · stored image path (u32 length + UTF-8) }
//! matrix    count × dim f32 (or f16 at precision 1), row-major, each row L2-normalised
//!           (or all zero)
//! colour    count × colour_dim f32 (format 3), the same, for the colour part
//! trailer   sha256 of everything above (32 bytes)
//! ```
//! The **colour part** (format 3) is the shallow branch's output, L2-normalised, from the
//! same forward pass as the embedding: what the colour ↔ shape dial of a search weighs
//! against the embedding ([`crate::index::scan::top_k_weighted`]). It is 0 wide for a system
//! without a shallow branch (`imagenet-lite0`). Formats 1 and 2 load with no colour part; a
//! search with them can only rank by the embedding, and indexing with a system that has a
//! shallow branch embeds every item again to add it.
//! The **precision** (format 4) is that of the embedding rows ([`Precision`]): f16 halves the
//! bytes a search reads (`vitrine index --f16`); the narrow colour part stays f32. Formats 1
//! to 3 are f32. Integers and floats are little-endian. The per-item image fingerprint tells incremental
//! indexing (and a search) which images changed: the stored path (relative to the library
//! for images inside it), the size, and the **content**: the sha256 of the file's bytes. The
//! modification time is only a shortcut: a file of the same size and time is taken as
//! unchanged without being read; another time (a copied or moved library, a restored backup)
//! means the file is hashed and compared, so a copied library keeps its index. Format 1 (no
//! hash) is still read; its files are hashed when next indexed. The system fingerprint tells
//! whether the index was made by this version of the system. Files are written to a
//! temporary name and renamed, so a reader sees the old index or the new one, never half of
//! one; a load checks magic, version and checksum and names the file in every error.

use super::rows::{Precision, Rows};
use crate::catalog::ItemId;
use crate::error::{Error, Result};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

/// How an index file starts.
pub const MAGIC: [u8; 8] = *b"VTRNEMB\0";
/// The format version this program writes.
pub const FORMAT_VERSION: u32 = 4;
/// The oldest format version this program reads (format 1 has no content hashes).
pub const OLDEST_FORMAT_VERSION: u32 = 1;
const CHECKSUM_BYTES: usize = 32;

/// What an item's image was when it was embedded: another path, size or content re-embeds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFingerprint {
    /// The image path as stored in the catalogue.
    pub path: String,
    pub size_bytes: u64,
    /// Modification time, in nanoseconds since the Unix epoch (negative before it): only a
    /// shortcut that spares reading a file whose size and time did not change.
    pub mtime_ns: i64,
    /// The sha256 of the file's bytes (`None` in a format 1 index).
    pub sha256: Option<[u8; 32]>,
}

impl ImageFingerprint {
    /// The fingerprint of the file at `resolved` (read whole, to hash it), recorded under the
    /// stored path `stored`.
    pub fn of_file(stored: &str, resolved: &Path) -> std::io::Result<ImageFingerprint> {
        let mut fingerprint = ImageFingerprint::stat(stored, resolved)?;
        fingerprint.sha256 = Some(sha256_of_file(resolved)?);
        Ok(fingerprint)
    }

    /// Path, size and time of the file at `resolved`, without its hash.
    fn stat(stored: &str, resolved: &Path) -> std::io::Result<ImageFingerprint> {
        let meta = std::fs::metadata(resolved)?;
        if !meta.is_file() {
            return Err(std::io::Error::other("not a file"));
        }
        let mtime_ns = match meta.modified()?.duration_since(std::time::UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_nanos()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_nanos()).unwrap_or(i64::MAX),
        };
        Ok(ImageFingerprint {
            path: stored.to_owned(),
            size_bytes: meta.len(),
            mtime_ns,
            sha256: None,
        })
    }

    /// Whether the file at `resolved`, stored as `stored`, still is the one this fingerprint
    /// describes: the same stored path and size, and the same modification time (the file
    /// is then not read) or else the same content. When it is, the fingerprint as of now
    /// (its current time, and its hash) is returned; `None` when it changed.
    pub fn check(
        &self,
        stored: &str,
        resolved: &Path,
    ) -> std::io::Result<Option<ImageFingerprint>> {
        let mut now = ImageFingerprint::stat(stored, resolved)?;
        if now.path != self.path || now.size_bytes != self.size_bytes {
            return Ok(None);
        }
        match self.sha256 {
            Some(hash) if now.mtime_ns == self.mtime_ns => {
                now.sha256 = Some(hash);
                Ok(Some(now))
            }
            Some(hash) => {
                let current = sha256_of_file(resolved)?;
                now.sha256 = Some(current);
                Ok((current == hash).then_some(now))
            }
            // Format 1: the time decides, as it did then; the hash is recorded from now on.
            None if now.mtime_ns == self.mtime_ns => {
                now.sha256 = Some(sha256_of_file(resolved)?);
                Ok(Some(now))
            }
            None => Ok(None),
        }
    }
}

/// The sha256 of a file's bytes, read in blocks.
fn sha256_of_file(path: &Path) -> std::io::Result<[u8; 32]> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().into())
}

/// One system's embeddings of the catalogue, as stored in an index file.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingIndex {
    /// The system that made it.
    pub system: String,
    /// That system's [`crate::model::system::System::fingerprint`] at the time.
    pub fingerprint: String,
    /// The width of a row.
    pub dim: usize,
    /// Item ids, in row order.
    pub ids: Vec<ItemId>,
    /// The image each row was computed from, in row order.
    pub images: Vec<ImageFingerprint>,
    /// `ids.len() × dim` values, row-major, at the index's precision; every row has unit
    /// length (or is zero).
    pub matrix: Rows,
    /// The width of a colour row: the shallow branch's output, 0 without one (or in an index
    /// of format 1 or 2).
    pub colour_dim: usize,
    /// `ids.len() × colour_dim` values, row-major, each row unit length (or zero).
    pub colour: Vec<f32>,
}

impl EmbeddingIndex {
    /// An index of no items.
    pub fn empty(system: &str, fingerprint: &str, dim: usize) -> EmbeddingIndex {
        EmbeddingIndex {
            system: system.to_owned(),
            fingerprint: fingerprint.to_owned(),
            dim,
            ids: Vec::new(),
            images: Vec::new(),
            matrix: Rows::default(),
            colour_dim: 0,
            colour: Vec::new(),
        }
    }

    /// An index of no items whose rows also hold a colour part `colour_dim` wide.
    pub fn empty_with_colour(
        system: &str,
        fingerprint: &str,
        dim: usize,
        colour_dim: usize,
    ) -> EmbeddingIndex {
        EmbeddingIndex {
            colour_dim,
            ..EmbeddingIndex::empty(system, fingerprint, dim)
        }
    }

    /// The same index with its embedding rows at `precision` (f32 → f16 rounds every value).
    pub fn with_precision(mut self, precision: Precision) -> EmbeddingIndex {
        if self.matrix.precision() != precision {
            self.matrix = self.matrix.to_precision(precision);
        }
        self
    }

    /// A copy with the embedding rows at `precision` (the f32 rows are not copied first).
    pub fn to_precision(&self, precision: Precision) -> EmbeddingIndex {
        EmbeddingIndex {
            system: self.system.clone(),
            fingerprint: self.fingerprint.clone(),
            dim: self.dim,
            ids: self.ids.clone(),
            images: self.images.clone(),
            matrix: self.matrix.to_precision(precision),
            colour_dim: self.colour_dim,
            colour: self.colour.clone(),
        }
    }

    /// How the embedding rows are stored.
    pub fn precision(&self) -> Precision {
        self.matrix.precision()
    }

    /// Whether the rows have a colour part (the dial of a search needs one).
    pub fn has_colour(&self) -> bool {
        self.colour_dim > 0
    }

    /// The number of items.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether it holds no items.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Row `i`: the embedding of item `ids[i]` (converted to f32 in an f16 index).
    pub fn row(&self, i: usize) -> std::borrow::Cow<'_, [f32]> {
        self.matrix.row(i, self.dim)
    }

    /// Row `i` of the colour part (empty when the index has none).
    pub fn colour_row(&self, i: usize) -> &[f32] {
        &self.colour[i * self.colour_dim..(i + 1) * self.colour_dim]
    }

    /// Appends an item to an index without a colour part. The row is L2-normalised on the
    /// way in unless it already has unit length (so a row kept from an older index is copied
    /// bit for bit), then stored at the index's precision.
    pub fn push(&mut self, id: ItemId, image: ImageFingerprint, row: &[f32]) -> Result<()> {
        self.push_with_colour(id, image, row, &[])
    }

    /// Appends an item with its colour part (`colour_dim` wide; both normalised as in
    /// [`EmbeddingIndex::push`]).
    pub fn push_with_colour(
        &mut self,
        id: ItemId,
        image: ImageFingerprint,
        row: &[f32],
        colour: &[f32],
    ) -> Result<()> {
        if row.len() != self.dim || colour.len() != self.colour_dim {
            return Err(Error::Invalid(format!(
                "an embedding of width {} + {} for an index of width {} + {}",
                row.len(),
                colour.len(),
                self.dim,
                self.colour_dim
            )));
        }
        self.ids.push(id);
        self.images.push(image);
        let mut normalised = Vec::with_capacity(row.len());
        push_normalised(&mut normalised, row);
        self.matrix.extend_from_f32(&normalised);
        push_normalised(&mut self.colour, colour);
        Ok(())
    }

    /// An error unless the index was built by a system with `fingerprint` (the current
    /// version of the system): a stale index is never searched.
    pub fn check_fingerprint(&self, fingerprint: &str, path: &Path) -> Result<()> {
        if self.fingerprint == fingerprint {
            return Ok(());
        }
        Err(Error::file(
            path,
            format!(
                "built with another version of the system {}; run `vitrine index --system {}`",
                self.system, self.system
            ),
        ))
    }

    /// Writes the index to `path` atomically (a temporary file beside it, then a rename).
    pub fn write(&self, path: &Path) -> Result<()> {
        if self.matrix.len() != self.ids.len() * self.dim
            || self.colour.len() != self.ids.len() * self.colour_dim
            || self.images.len() != self.ids.len()
        {
            return Err(Error::Invalid(format!(
                "inconsistent index of {} items: {} values of width {}, {} colour values of \
                 width {}, {} images",
                self.ids.len(),
                self.matrix.len(),
                self.dim,
                self.colour.len(),
                self.colour_dim,
                self.images.len()
            )));
        }
        crate::atomic_file::write_with(path, |out| self.write_to(out))
    }

    fn write_to(&self, file: &mut impl Write) -> std::io::Result<()> {
        let mut out = Hashing {
            inner: file,
            hasher: Sha256::new(),
        };
        out.write_all(&MAGIC)?;
        out.write_all(&FORMAT_VERSION.to_le_bytes())?;
        out.write_all(&u32_len(self.dim)?.to_le_bytes())?;
        out.write_all(&(self.ids.len() as u64).to_le_bytes())?;
        out.write_all(&u32_len(self.colour_dim)?.to_le_bytes())?;
        out.write_all(&[match self.precision() {
            Precision::F32 => 0u8,
            Precision::F16 => 1u8,
        }])?;
        write_str16(&mut out, &self.system)?;
        write_str16(&mut out, &self.fingerprint)?;
        for (id, image) in self.ids.iter().zip(&self.images) {
            out.write_all(&id.to_le_bytes())?;
            out.write_all(&image.size_bytes.to_le_bytes())?;
            out.write_all(&image.mtime_ns.to_le_bytes())?;
            // An image not yet hashed (read from format 1, never checked) gets zeros: it
            // then never matches a file's hash, and is embedded again.
            out.write_all(&image.sha256.unwrap_or_default())?;
            out.write_all(&u32_len(image.path.len())?.to_le_bytes())?;
            out.write_all(image.path.as_bytes())?;
        }
        match &self.matrix {
            Rows::F32(values) => write_matrix(&mut out, values, self.dim)?,
            Rows::F16(values) => write_matrix(&mut out, values, self.dim)?,
        }
        write_matrix(&mut out, &self.colour, self.colour_dim)?;
        let digest = out.hasher.finalize();
        out.inner.write_all(&digest)
    }
}

/// The precision of the index file at `path`, from its header alone; `None` when there is
/// no readable index there.
pub fn peek_precision(path: &Path) -> Option<Precision> {
    use std::io::Read;
    let mut header = [0u8; 29];
    let mut file = std::fs::File::open(path).ok()?;
    let read = file.read(&mut header).ok()?;
    if read < 16 || header[..MAGIC.len()] != MAGIC {
        return None;
    }
    let version = u32::from_le_bytes(header[8..12].try_into().ok()?);
    match version {
        OLDEST_FORMAT_VERSION..=3 => Some(Precision::F32),
        4 if read == header.len() => match header[28] {
            0 => Some(Precision::F32),
            1 => Some(Precision::F16),
            _ => None,
        },
        _ => None,
    }
}

/// Reads and checks the index file at `path`: magic, format version, checksum, then the
/// contents. Every error names the file.
pub fn load(path: &Path) -> Result<EmbeddingIndex> {
    let data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse(&data).map_err(|reason| Error::file(path, reason))
}

/// Reads and checks an index file's bytes (what [`load`] does after reading the file); the
/// error is the reason, without the file name.
pub fn parse(data: &[u8]) -> std::result::Result<EmbeddingIndex, String> {
    if data.len() < MAGIC.len() || data[..MAGIC.len()] != MAGIC {
        return Err("not a Vitrine embedding index (bad magic number)".into());
    }
    let mut r = Reader {
        data,
        pos: MAGIC.len(),
    };
    let version = r.u32()?;
    if !(OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&version) {
        return Err(format!(
            "index format version {version}, but this program reads versions \
             {OLDEST_FORMAT_VERSION} to {FORMAT_VERSION}; rebuild it with `vitrine index`"
        ));
    }
    if data.len() < r.pos + CHECKSUM_BYTES {
        return Err("truncated index file".into());
    }
    let (body, stored) = data.split_at(data.len() - CHECKSUM_BYTES);
    let checksum_ok = || Sha256::digest(body).as_slice() == stored;
    let corrupt = || {
        "checksum mismatch: the index file is corrupt; rebuild it with `vitrine index`".to_string()
    };
    // The header and entries are read before the checksum is known (every read is bounds
    // checked); a problem there is reported as corruption when the checksum agrees.
    let mut r = Reader {
        data: body,
        pos: r.pos,
    };
    let header = read_header(&mut r, version);
    let Header {
        dim,
        count,
        colour_dim,
        precision,
        system,
        fingerprint,
        ids,
        images,
    } = match header {
        Ok(h) => h,
        Err(reason) => return Err(if checksum_ok() { reason } else { corrupt() }),
    };
    let raw = take_matrix(&mut r, count, dim, precision.bytes())
        .and_then(|raw| Ok((raw, take_matrix(&mut r, count, colour_dim, 4)?)));
    let (raw, raw_colour) = match raw {
        Ok(raw) => raw,
        Err(reason) => return Err(if checksum_ok() { reason } else { corrupt() }),
    };
    // Hashing (one core) and converting the matrices (the rest) at once: loading a 100k-item
    // index is bound by these two passes over 512 MB.
    let (ok, (matrix, colour)) = rayon::join(checksum_ok, || {
        rayon::join(
            || match precision {
                Precision::F32 => Rows::F32(f32s_from_le(raw)),
                Precision::F16 => Rows::F16(f16s_from_le(raw)),
            },
            || f32s_from_le(raw_colour),
        )
    });
    if !ok {
        return Err(corrupt());
    }
    if r.pos != body.len() {
        return Err(format!(
            "{} unexpected bytes after the matrix",
            body.len() - r.pos
        ));
    }
    Ok(EmbeddingIndex {
        system,
        fingerprint,
        dim,
        ids,
        images,
        matrix,
        colour_dim,
        colour,
    })
}

/// The bytes of a `count × width` matrix of values `value_bytes` long.
fn take_matrix<'a>(
    r: &mut Reader<'a>,
    count: usize,
    width: usize,
    value_bytes: usize,
) -> std::result::Result<&'a [u8], String> {
    count
        .checked_mul(width)
        .and_then(|values| values.checked_mul(value_bytes))
        .ok_or_else(|| "the matrix size overflows".to_string())
        .and_then(|bytes| r.take(bytes))
}

/// Little-endian f32s, converted in parallel.
fn f32s_from_le(raw: &[u8]) -> Vec<f32> {
    raw.par_chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Little-endian f16s.
fn f16s_from_le(raw: &[u8]) -> Vec<half::f16> {
    raw.par_chunks_exact(2)
        .map(|b| half::f16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// What precedes the matrices.
struct Header {
    dim: usize,
    count: usize,
    /// 0 before format 3.
    colour_dim: usize,
    /// f32 before format 4.
    precision: Precision,
    system: String,
    fingerprint: String,
    ids: Vec<ItemId>,
    images: Vec<ImageFingerprint>,
}

fn read_header(r: &mut Reader<'_>, version: u32) -> std::result::Result<Header, String> {
    let dim = r.u32()? as usize;
    let count = usize::try_from(r.u64()?).map_err(|_| "too many items".to_string())?;
    let colour_dim = if version >= 3 { r.u32()? as usize } else { 0 };
    let precision = if version >= 4 {
        match r.array::<1>()?[0] {
            0 => Precision::F32,
            1 => Precision::F16,
            other => {
                return Err(format!(
                    "unknown precision code {other} (0 is f32, 1 is f16)"
                ));
            }
        }
    } else {
        Precision::F32
    };
    let system = r.str16()?;
    let fingerprint = r.str16()?;
    // Each entry takes at least 28 bytes (60 with its hash): refuse counts the file cannot
    // hold before allocating.
    let hashed = version >= 2;
    let entry_bytes = if hashed { 60 } else { 28 };
    if count > r.data.len() / entry_bytes {
        return Err(format!("{count} items cannot fit in the file"));
    }
    let mut ids = Vec::with_capacity(count);
    let mut images = Vec::with_capacity(count);
    for _ in 0..count {
        ids.push(r.i64()?);
        let size_bytes = r.u64()?;
        let mtime_ns = r.i64()?;
        let sha256 = if hashed { Some(r.array()?) } else { None };
        let len = r.u32()? as usize;
        let path = std::str::from_utf8(r.take(len)?)
            .map_err(|_| "an image path is not UTF-8".to_string())?
            .to_owned();
        images.push(ImageFingerprint {
            path,
            size_bytes,
            mtime_ns,
            sha256,
        });
    }
    Ok(Header {
        dim,
        count,
        colour_dim,
        precision,
        system,
        fingerprint,
        ids,
        images,
    })
}

/// Appends `row` L2-normalised, unless it already has unit length (then bit for bit). A row
/// that is zero or not finite (a broken model) is stored as zeros: it matches nothing rather
/// than poisoning every score with NaN.
fn push_normalised(matrix: &mut Vec<f32>, row: &[f32]) {
    let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
    let scale = if (norm - 1.0).abs() <= 1e-6 {
        1.0
    } else if norm > 0.0 && norm.is_finite() {
        1.0 / norm
    } else {
        0.0
    };
    matrix.extend(
        row.iter()
            .map(|v| if scale == 0.0 { 0.0 } else { v * scale }),
    );
}

/// A value as stored in the file: its little-endian bytes.
trait LeBytes: Copy {
    const BYTES: usize;
    fn append_le(self, out: &mut Vec<u8>);
}

impl LeBytes for f32 {
    const BYTES: usize = 4;
    fn append_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl LeBytes for half::f16 {
    const BYTES: usize = 2;
    fn append_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

/// Writes a `width`-wide row-major matrix as little-endian values, a row at a time.
fn write_matrix<T: LeBytes>(
    out: &mut impl Write,
    matrix: &[T],
    width: usize,
) -> std::io::Result<()> {
    let mut bytes = Vec::with_capacity(T::BYTES * width.clamp(1, 1 << 16));
    for row in matrix.chunks(width.max(1)) {
        bytes.clear();
        for &v in row {
            v.append_le(&mut bytes);
        }
        out.write_all(&bytes)?;
    }
    Ok(())
}

/// A cursor over the file's bytes; running past the end is a "truncated" error.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.data.len())
            .ok_or_else(|| "truncated index file".to_string())?;
        let bytes = &self.data[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> std::result::Result<[u8; N], String> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u32(&mut self) -> std::result::Result<u32, String> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> std::result::Result<u64, String> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn i64(&mut self) -> std::result::Result<i64, String> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    fn str16(&mut self) -> std::result::Result<String, String> {
        let len = usize::from(u16::from_le_bytes(self.array()?));
        std::str::from_utf8(self.take(len)?)
            .map(str::to_owned)
            .map_err(|_| "a header string is not UTF-8".to_string())
    }
}

/// A writer that hashes everything it passes on (the trailing checksum).
struct Hashing<W: Write> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn u32_len(len: usize) -> std::io::Result<u32> {
    u32::try_from(len).map_err(|_| std::io::Error::other("a length does not fit in 32 bits"))
}

fn write_str16(out: &mut impl Write, s: &str) -> std::io::Result<()> {
    let len = u16::try_from(s.len())
        .map_err(|_| std::io::Error::other("a header string is longer than 65535 bytes"))?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(s.as_bytes())
}

#[cfg(test)]
mod tests;

//! The feature cache of a training run: what the frozen part of the network makes of each
//! view of each item, computed once and read back every epoch.
//!
//! In head mode a row is the backbone's pooled features; in partial mode (a backbone that can
//! be split, `Backbone::split_blocks`) it is the channels-last map that enters the first
//! trained block. Either way the row ends with the shallow branch's low-resolution input, so
//! the shallow branch trains in every mode without decoding an image again.
//!
//! Rows live on disk, not in memory: `cache.f16` holds them back to back as little-endian
//! half floats (half the bytes of f32; the values are activations of a few units, where f16
//! keeps three significant digits), and a batch reads just its rows (positioned reads: the
//! operating system's page cache keeps a hot file in memory without counting against the
//! process). `cache.json` says what the rows are (a key over everything that decides them)
//! and how many are written, so a run killed while caching continues where it stopped.

use crate::error::{Error, Result};
use candle_core::{Device, Tensor};
use half::f16;
use half::slice::HalfFloatSliceExt;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// The cache's data file in a run's folder.
const DATA_FILE: &str = "cache.f16";
/// The cache's description beside it.
const META_FILE: &str = "cache.json";

/// What `cache.json` says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheMeta {
    /// The sha256 of everything that decides the rows (see [`FeatureCache::open`]).
    pub key: String,
    /// The shape of a row's first part (pooled features or a prefix map).
    pub backbone_dims: Vec<usize>,
    /// The shape of the shallow branch's input (empty without the branch).
    pub shallow_dims: Vec<usize>,
    /// Rows in the cache when complete.
    pub rows: usize,
    /// Rows written so far (all of them when complete).
    pub rows_done: usize,
}

impl CacheMeta {
    fn backbone_len(&self) -> usize {
        self.backbone_dims.iter().product()
    }

    fn shallow_len(&self) -> usize {
        if self.shallow_dims.is_empty() {
            0
        } else {
            self.shallow_dims.iter().product()
        }
    }

    fn row_len(&self) -> usize {
        self.backbone_len() + self.shallow_len()
    }
}

/// A run's feature cache on disk (see the module docs).
#[derive(Debug)]
pub struct FeatureCache {
    dir: PathBuf,
    file: File,
    meta: CacheMeta,
}

impl FeatureCache {
    /// Opens the cache in `dir` if it was made for `key` with these shapes (keeping the rows
    /// written so far), or starts an empty one.
    pub fn open(
        dir: &Path,
        key: &str,
        backbone_dims: &[usize],
        shallow_dims: &[usize],
        rows: usize,
    ) -> Result<FeatureCache> {
        let wanted = CacheMeta {
            key: key.to_string(),
            backbone_dims: backbone_dims.to_vec(),
            shallow_dims: shallow_dims.to_vec(),
            rows,
            rows_done: 0,
        };
        let meta_path = dir.join(META_FILE);
        let data_path = dir.join(DATA_FILE);
        let existing = std::fs::read(&meta_path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<CacheMeta>(&bytes).ok())
            .filter(|m| {
                CacheMeta {
                    rows_done: 0,
                    ..m.clone()
                } == wanted
            });
        let row_bytes = (wanted.row_len() * 2) as u64;
        let meta = match existing {
            // Trust only the rows the file really holds.
            Some(m) => {
                let on_disk = std::fs::metadata(&data_path)
                    .map(|md| md.len())
                    .unwrap_or(0);
                let whole = on_disk.checked_div(row_bytes).unwrap_or(0) as usize;
                CacheMeta {
                    rows_done: m.rows_done.min(whole),
                    ..m
                }
            }
            None => wanted,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&data_path)
            .map_err(|e| Error::io(&data_path, e))?;
        let cache = FeatureCache {
            dir: dir.to_path_buf(),
            file,
            meta,
        };
        cache.save_meta()?;
        Ok(cache)
    }

    /// Rows written so far.
    pub fn rows_done(&self) -> usize {
        self.meta.rows_done
    }

    /// Whether every row is written.
    pub fn is_complete(&self) -> bool {
        self.meta.rows_done >= self.meta.rows
    }

    /// Appends the next rows: `backbone` is `n × backbone_dims`, `shallow` `n × shallow_dims`
    /// (or `None` without the branch). The description is updated after the data is written,
    /// so it never counts a row the file does not hold.
    pub fn append(&mut self, backbone: &Tensor, shallow: Option<&Tensor>) -> Result<()> {
        let n = backbone.dim(0)?;
        let b_len = self.meta.backbone_len();
        let s_len = self.meta.shallow_len();
        let b = backbone.flatten_all()?.to_vec1::<f32>()?;
        let s = match shallow {
            Some(t) => t.flatten_all()?.to_vec1::<f32>()?,
            None => Vec::new(),
        };
        if b.len() != n * b_len || s.len() != n * s_len || self.meta.rows_done + n > self.meta.rows
        {
            return Err(Error::Model(format!(
                "feature cache: {n} rows of {} + {} values do not fit the cache's rows of {b_len} + \
                 {s_len} ({} of {} written)",
                b.len(),
                s.len(),
                self.meta.rows_done,
                self.meta.rows
            )));
        }
        let mut row = vec![f16::ZERO; b_len + s_len];
        let mut bytes = Vec::with_capacity(n * row.len() * 2);
        for i in 0..n {
            row[..b_len].convert_from_f32_slice(&b[i * b_len..(i + 1) * b_len]);
            row[b_len..].convert_from_f32_slice(&s[i * s_len..(i + 1) * s_len]);
            for v in &row {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
        }
        let offset = (self.meta.rows_done * row.len() * 2) as u64;
        write_all_at(&self.file, &bytes, offset).map_err(|e| Error::io(self.data_path(), e))?;
        self.meta.rows_done += n;
        if self.is_complete() {
            self.file
                .sync_data()
                .map_err(|e| Error::io(self.data_path(), e))?;
        }
        self.save_meta()
    }

    /// The rows `rows` as f32 tensors on `device`: the backbone part
    /// (`rows.len() × backbone_dims`) and the shallow branch's input.
    pub fn batch(&self, rows: &[usize], device: &Device) -> Result<(Tensor, Option<Tensor>)> {
        let b_len = self.meta.backbone_len();
        let s_len = self.meta.shallow_len();
        let row_len = b_len + s_len;
        let mut bytes = vec![0u8; row_len * 2];
        let mut half = vec![f16::ZERO; row_len];
        let mut b = vec![0f32; rows.len() * b_len];
        let mut s = vec![0f32; rows.len() * s_len];
        for (i, &r) in rows.iter().enumerate() {
            if r >= self.meta.rows_done {
                return Err(Error::Model(format!(
                    "feature cache: row {r} asked for, {} written",
                    self.meta.rows_done
                )));
            }
            read_exact_at(&self.file, &mut bytes, (r * row_len * 2) as u64)
                .map_err(|e| Error::io(self.data_path(), e))?;
            for (h, pair) in half.iter_mut().zip(bytes.chunks_exact(2)) {
                *h = f16::from_le_bytes([pair[0], pair[1]]);
            }
            half[..b_len].convert_to_f32_slice(&mut b[i * b_len..(i + 1) * b_len]);
            half[b_len..].convert_to_f32_slice(&mut s[i * s_len..(i + 1) * s_len]);
        }
        let mut b_shape = vec![rows.len()];
        b_shape.extend(&self.meta.backbone_dims);
        let backbone = Tensor::from_vec(b, b_shape, device)?;
        let shallow = if s_len == 0 {
            None
        } else {
            let mut s_shape = vec![rows.len()];
            s_shape.extend(&self.meta.shallow_dims);
            Some(Tensor::from_vec(s, s_shape, device)?)
        };
        Ok((backbone, shallow))
    }

    fn data_path(&self) -> PathBuf {
        self.dir.join(DATA_FILE)
    }

    fn save_meta(&self) -> Result<()> {
        let json = serde_json::to_vec_pretty(&self.meta)
            .map_err(|e| Error::Invalid(format!("cannot describe the feature cache: {e}")))?;
        crate::atomic_file::write(&self.dir.join(META_FILE), &json)
    }
}

#[cfg(unix)]
fn write_all_at(file: &File, bytes: &[u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, bytes, offset)
}

#[cfg(unix)]
fn read_exact_at(file: &File, bytes: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, bytes, offset)
}

#[cfg(not(unix))]
fn write_all_at(file: &File, bytes: &[u8], offset: u64) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = file;
    f.seek(SeekFrom::Start(offset))?;
    f.write_all(bytes)
}

#[cfg(not(unix))]
fn read_exact_at(file: &File, bytes: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = file;
    f.seek(SeekFrom::Start(offset))?;
    f.read_exact(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_through_f16_and_a_run_continues_where_it_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let dev = Device::Cpu;
        let b = Tensor::randn(0f32, 2.0, (3, 2, 2, 4), &dev).unwrap();
        let s = Tensor::randn(0f32, 1.0, (3, 3, 2, 2), &dev).unwrap();
        {
            let mut cache = FeatureCache::open(dir.path(), "k", &[2, 2, 4], &[3, 2, 2], 5).unwrap();
            assert_eq!(cache.rows_done(), 0);
            cache.append(&b, Some(&s)).unwrap();
            assert!(!cache.is_complete());
        }
        // Reopened with the same key: the three rows are kept.
        let mut cache = FeatureCache::open(dir.path(), "k", &[2, 2, 4], &[3, 2, 2], 5).unwrap();
        assert_eq!(cache.rows_done(), 3);
        let (gb, gs) = cache.batch(&[2, 0], &dev).unwrap();
        assert_eq!(gb.dims(), [2, 2, 2, 4]);
        let want = Tensor::cat(&[b.get(2).unwrap(), b.get(0).unwrap()], 0)
            .unwrap()
            .reshape((2, 2, 2, 4))
            .unwrap();
        let err = crate::model::test_util::max_abs_diff(&gb, &want);
        assert!(err < 0.01, "{err}");
        assert_eq!(gs.unwrap().dims(), [2, 3, 2, 2]);
        assert!(cache.batch(&[3], &dev).is_err(), "row 3 is not written yet");
        // Too many rows are refused; the last two complete it.
        assert!(cache.append(&b, Some(&s)).is_err());
        cache
            .append(
                &b.narrow(0, 0, 2).unwrap(),
                Some(&s.narrow(0, 0, 2).unwrap()),
            )
            .unwrap();
        assert!(cache.is_complete());
        // Another key starts over.
        let other = FeatureCache::open(dir.path(), "other", &[2, 2, 4], &[3, 2, 2], 5).unwrap();
        assert_eq!(other.rows_done(), 0);
    }

    #[test]
    fn a_cache_without_the_shallow_part_has_no_shallow_rows() {
        let dir = tempfile::tempdir().unwrap();
        let dev = Device::Cpu;
        let mut cache = FeatureCache::open(dir.path(), "k", &[6], &[], 2).unwrap();
        let b = Tensor::randn(0f32, 1.0, (2, 6), &dev).unwrap();
        cache.append(&b, None).unwrap();
        let (gb, gs) = cache.batch(&[1], &dev).unwrap();
        assert_eq!(gb.dims(), [1, 6]);
        assert!(gs.is_none());
    }
}

//! Exact cosine top-K over an [`EmbeddingIndex`] (ARCHITECTURE.md §6).
//!
//! Rows and queries are unit length, so cosine similarity is a dot product. A single query
//! reads the whole matrix once and does two flops per four bytes: it is memory-bound
//! (ARCHITECTURE.md §13, finding 7). [`top_k`] therefore makes exactly one pass over memory:
//! the rows are split into chunks scanned in parallel, each chunk row after row against the
//! query with SIMD (AVX-512 or AVX2+FMA, detected at run time, with a portable fallback), so
//! each thread reads one sequential stream, and each score is offered at
//! once to a bounded min-heap whose k-th best score is the bar a new row must clear, so almost
//! no row touches the heap. The per-thread heaps are merged at the end.
//!
//! A batch of queries is compute-bound instead, so [`top_k_batch`] multiplies the queries by
//! blocks of index rows with `gemm` (its AVX-512 kernels), each block small enough for the
//! block of scores to stay in cache while it is fed to the per-query heaps; the blocks are
//! spread over the threads.
//!
//! Results are ordered best first, ties broken by the lower row, so every path returns the
//! same list for the same scores.
//!
//! The colour ↔ shape dial ([`top_k_weighted`], in `weighted.rs`) adds the index's colour
//! part to the score; at weight 0 it is exactly the scan above.
//!
//! An index at half precision ([`super::rows`]) is scanned by the same code with kernels that
//! widen the f16 values in registers (F16C), so a single query reads half the bytes; a batch
//! widens each block of rows to f32 once, in cache, before its `gemm`.
//!
//! Why row after row: the scan used to read four rows at once (the query loaded once for
//! four). Measured with `vitrine bench search` on 1M × 1280 (AMD EPYC, 2 threads, a shared
//! machine), four interleaved f16 streams ran at 22 GB/s with AVX-512 and AVX2 alike, while in
//! cache the same kernel ran at 94 GB/s: the interleaving, not the arithmetic, held it back.
//! One stream per thread took f16 to 28–55 GB/s, and f32, in alternating runs, from 152–181 ms
//! (medians; best 146) to 103–167 ms (best 98).

mod dot;
mod weighted;

use super::emb_file::EmbeddingIndex;
use super::rows::Rows;
use crate::error::{Error, Result};
use crate::simd::Simd;
use dot::{dot1, dot1_f16, scan_simd};
use rayon::prelude::*;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
pub use weighted::{ColourWeight, top_k_weighted, top_k_weighted_batch};

/// One search result: a row of the index and its cosine similarity to the query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub row: usize,
    pub score: f32,
}

/// Which rows may be returned (`true` = allowed); `None` everywhere means all rows.
pub type RowMask = [bool];

/// Rows scanned by one parallel task of [`top_k`] (about 10 MB at 1280 f32 wide).
const SCAN_CHUNK_ROWS: usize = 2048;
/// Fewer queries than this are scanned one by one; more go through `gemm`.
const GEMM_MIN_QUERIES: usize = 4;
/// The size of the block of scores of [`top_k_batch`], in floats (512 KB, within L2).
const SCORE_BLOCK_FLOATS: usize = 128 * 1024;

/// The `k` rows most similar to `query` (unit length, `index.dim` wide), best first; ties by
/// lower row. k > len → all allowed rows; empty index → empty.
pub fn top_k(
    index: &EmbeddingIndex,
    query: &[f32],
    k: usize,
    allow: Option<&RowMask>,
) -> Result<Vec<Hit>> {
    check(index, allow)?;
    if query.len() != index.dim {
        return Err(Error::Invalid(format!(
            "the query has {} values but the index of {} has rows of {}",
            query.len(),
            index.system,
            index.dim
        )));
    }
    Ok(scan(index, query, k, allow, scan_simd()))
}

/// The same for `queries.len() / dim` queries at once (row-major), as a matrix product.
pub fn top_k_batch(
    index: &EmbeddingIndex,
    queries: &[f32],
    k: usize,
    allow: Option<&RowMask>,
) -> Result<Vec<Vec<Hit>>> {
    check(index, allow)?;
    let dim = index.dim;
    if !queries.len().is_multiple_of(dim) {
        return Err(Error::Invalid(format!(
            "the queries hold {} values, not a whole number of rows of {} (the width of the \
             index of {})",
            queries.len(),
            dim,
            index.system
        )));
    }
    let count = queries.len() / dim;
    if count < GEMM_MIN_QUERIES || k == 0 || index.is_empty() {
        let simd = scan_simd();
        return Ok(queries
            .chunks_exact(dim)
            .map(|q| scan(index, q, k, allow, simd))
            .collect());
    }
    Ok(batch_gemm(index, queries, count, k, allow))
}

/// The checks both entry points share: a usable width, a consistent matrix, a mask per row.
fn check(index: &EmbeddingIndex, allow: Option<&RowMask>) -> Result<()> {
    if index.dim == 0 {
        return Err(Error::Invalid(format!(
            "the index of {} has rows of width 0",
            index.system
        )));
    }
    if index.matrix.len() != index.len() * index.dim {
        return Err(Error::Invalid(format!(
            "the index of {} holds {} values, not {} rows of {}",
            index.system,
            index.matrix.len(),
            index.len(),
            index.dim
        )));
    }
    if let Some(mask) = allow
        && mask.len() != index.len()
    {
        return Err(Error::Invalid(format!(
            "the row filter has {} entries but the index of {} has {} rows",
            mask.len(),
            index.system,
            index.len()
        )));
    }
    Ok(())
}

/// A hit ordered by quality: a higher score is better, and at equal scores the lower row.
#[derive(Debug, Clone, Copy)]
struct Ranked(Hit);

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .score
            .total_cmp(&other.0.score)
            .then_with(|| other.0.row.cmp(&self.0.row))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked {}

/// The best `k` hits offered so far: a min-heap whose top is the worst kept hit.
struct TopK {
    k: usize,
    heap: BinaryHeap<Reverse<Ranked>>,
    /// The score a hit must reach to be considered (the worst kept one once full).
    bar: f32,
}

impl TopK {
    fn new(k: usize) -> TopK {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k.min(1 << 16) + 1),
            bar: if k == 0 {
                f32::INFINITY
            } else {
                f32::NEG_INFINITY
            },
        }
    }

    #[inline]
    fn offer(&mut self, row: usize, score: f32) {
        // Most rows stop here; NaN scores fall through and are ranked by `total_cmp`.
        if score < self.bar || self.k == 0 {
            return;
        }
        let hit = Ranked(Hit { row, score });
        if self.heap.len() < self.k {
            self.heap.push(Reverse(hit));
        } else if let Some(mut worst) = self.heap.peek_mut() {
            if hit > worst.0 {
                *worst = Reverse(hit);
            } else {
                return;
            }
        }
        if self.heap.len() == self.k
            && let Some(worst) = self.heap.peek()
        {
            self.bar = worst.0.0.score;
        }
    }

    fn merge(mut self, other: TopK) -> TopK {
        for Reverse(Ranked(hit)) in other.heap {
            self.offer(hit.row, hit.score);
        }
        self
    }

    fn into_sorted(self) -> Vec<Hit> {
        // Ascending `Reverse` is descending quality: best first.
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|Reverse(Ranked(hit))| hit)
            .collect()
    }
}

/// The single-query scan (see the module docs).
fn scan(
    index: &EmbeddingIndex,
    query: &[f32],
    k: usize,
    allow: Option<&RowMask>,
    simd: Simd,
) -> Vec<Hit> {
    match &index.matrix {
        Rows::F32(matrix) => scan_rows(matrix, query, k, allow, |row, q| dot1(simd, row, q)),
        Rows::F16(matrix) => scan_rows(matrix, query, k, allow, |row, q| dot1_f16(simd, row, q)),
    }
}

/// Scans `matrix` (rows of `query.len()` values of `T`) in parallel chunks, one row after
/// another with `dot`, offering each allowed row to a heap.
fn scan_rows<T: Sync>(
    matrix: &[T],
    query: &[f32],
    k: usize,
    allow: Option<&RowMask>,
    dot: impl Fn(&[T], &[f32]) -> f32 + Sync,
) -> Vec<Hit> {
    let dim = query.len();
    if k == 0 || matrix.is_empty() || dim == 0 {
        return Vec::new();
    }
    matrix
        .par_chunks(SCAN_CHUNK_ROWS * dim)
        .enumerate()
        .fold(
            || TopK::new(k),
            |mut top, (chunk, rows)| {
                let first = chunk * SCAN_CHUNK_ROWS;
                for (i, row) in rows.chunks_exact(dim).enumerate() {
                    if allow.is_none_or(|m| m[first + i]) {
                        top.offer(first + i, dot(row, query));
                    }
                }
                top
            },
        )
        .reduce(|| TopK::new(k), TopK::merge)
        .into_sorted()
}

/// Many queries: `gemm` over blocks of rows, each block's scores fed to per-query heaps.
fn batch_gemm(
    index: &EmbeddingIndex,
    queries: &[f32],
    count: usize,
    k: usize,
    allow: Option<&RowMask>,
) -> Vec<Vec<Hit>> {
    let (dim, len) = (index.dim, index.len());
    let block_rows = (SCORE_BLOCK_FLOATS / count).clamp(64, 4096);
    let new_state = || {
        (
            (0..count).map(|_| TopK::new(k)).collect::<Vec<TopK>>(),
            vec![0f32; count * block_rows],
            Vec::<f32>::new(),
        )
    };
    let (tops, _, _) = (0..len.div_ceil(block_rows))
        .into_par_iter()
        .fold(new_state, |(mut tops, mut scores, mut widened), block| {
            let first = block * block_rows;
            let n = block_rows.min(len - first);
            let rows: &[f32] = match &index.matrix {
                Rows::F32(matrix) => &matrix[first * dim..(first + n) * dim],
                Rows::F16(matrix) => {
                    widened.clear();
                    widened.extend(
                        matrix[first * dim..(first + n) * dim]
                            .iter()
                            .map(|h| h.to_f32()),
                    );
                    &widened
                }
            };
            let scores_block = &mut scores[..count * n];
            // SAFETY: `queries` is `count × dim` and `rows` is `n × dim`, both row-major;
            // `scores_block` is `count × n` row-major and writable; gemm reads and writes only
            // within these extents, given these strides.
            unsafe {
                gemm::gemm(
                    count,
                    n,
                    dim,
                    scores_block.as_mut_ptr(),
                    1,
                    n as isize,
                    false,
                    queries.as_ptr(),
                    1,
                    dim as isize,
                    rows.as_ptr(),
                    dim as isize,
                    1,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
            let mask = allow.map(|m| &m[first..first + n]);
            for (top, line) in tops.iter_mut().zip(scores_block.chunks_exact(n)) {
                for (j, &score) in line.iter().enumerate() {
                    if score >= top.bar && mask.is_none_or(|m| m[j]) {
                        top.offer(first + j, score);
                    }
                }
            }
            (tops, scores, widened)
        })
        .reduce(new_state, |(a, scratch, widened), (b, _, _)| {
            (
                a.into_iter().zip(b).map(|(x, y)| x.merge(y)).collect(),
                scratch,
                widened,
            )
        });
    tops.into_iter().map(TopK::into_sorted).collect()
}

/// The mean share of each query item's `k` nearest neighbours in `exact` that `approx` (the
/// same rows at another precision) finds too, with the items at `rows` of `exact` as queries
/// (each left out of its own lists, where it would always be found). 1 when nothing can be
/// missed.
pub fn neighbour_recall(
    exact: &EmbeddingIndex,
    approx: &EmbeddingIndex,
    rows: &[usize],
    k: usize,
) -> Result<f64> {
    if exact.len() != approx.len() || exact.dim != approx.dim {
        return Err(Error::Invalid(format!(
            "cannot compare an index of {} × {} with one of {} × {}",
            exact.len(),
            exact.dim,
            approx.len(),
            approx.dim
        )));
    }
    let queries: Vec<f32> = rows
        .iter()
        .flat_map(|&r| exact.row(r).into_owned())
        .collect();
    let truth = top_k_batch(exact, &queries, k + 1, None)?;
    let found = top_k_batch(approx, &queries, k + 1, None)?;
    let (mut hits, mut possible) = (0usize, 0usize);
    for ((&query, truth), found) in rows.iter().zip(&truth).zip(&found) {
        let neighbours = |hits: &[Hit]| -> Vec<usize> {
            hits.iter()
                .map(|h| h.row)
                .filter(|&r| r != query)
                .take(k)
                .collect()
        };
        let (truth, found) = (neighbours(truth), neighbours(found));
        possible += truth.len();
        hits += truth.iter().filter(|r| found.contains(r)).count();
    }
    Ok(if possible == 0 {
        1.0
    } else {
        hits as f64 / possible as f64
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::rows::Precision;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// An index of `n` rows of small integers (dot products are exact in f32, so every kernel
    /// and `gemm` agree with the naive sum, and ties are frequent).
    fn int_index(n: usize, dim: usize, range: i32, seed: u64) -> EmbeddingIndex {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut index = EmbeddingIndex::empty("test", "fp", dim);
        index.ids = (0..n as i64).collect();
        index.matrix = Rows::F32(
            (0..n * dim)
                .map(|_| rng.random_range(-range..=range) as f32)
                .collect(),
        );
        index
    }

    fn int_queries(count: usize, dim: usize, range: i32, seed: u64) -> Vec<f32> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..count * dim)
            .map(|_| rng.random_range(-range..=range) as f32)
            .collect()
    }

    /// The reference: every allowed row scored, fully sorted.
    fn naive(index: &EmbeddingIndex, q: &[f32], k: usize, allow: Option<&[bool]>) -> Vec<Hit> {
        let mut all: Vec<Hit> = (0..index.len())
            .filter(|&r| allow.is_none_or(|m| m[r]))
            .map(|row| Hit {
                row,
                score: index.row(row).iter().zip(q).map(|(a, b)| a * b).sum(),
            })
            .collect();
        all.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.row.cmp(&b.row)));
        all.truncate(k);
        all
    }

    #[test]
    fn top_k_matches_a_full_sort_with_ties() {
        // Widths around the SIMD lane counts, row counts around the chunk size.
        for (n, dim) in [(1, 1), (7, 3), (500, 17), (3001, 32), (5000, 1280)] {
            let index = int_index(n, dim, 2, n as u64);
            for (qi, q) in int_queries(3, dim, 2, 99).chunks(dim).enumerate() {
                for k in [1, 5, 10, 100] {
                    let got = top_k(&index, q, k, None).unwrap();
                    assert_eq!(
                        got,
                        naive(&index, q, k, None),
                        "n {n} dim {dim} q {qi} k {k}"
                    );
                }
            }
        }
    }

    /// Every kernel this CPU can run, whatever `VITRINE_SIMD` says.
    fn every_kernel() -> Vec<Simd> {
        let mut kernels = vec![Simd::Portable, scan_simd()];
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx2") && has!("fma") && has!("f16c") {
                kernels.push(Simd::Avx2);
            }
            if has!("avx512f") {
                kernels.push(Simd::Avx512);
            }
        }
        kernels
    }

    #[test]
    fn every_kernel_sums_the_same() {
        let index = int_index(2051, 21, 3, 5);
        let q = int_queries(1, 21, 3, 6);
        let expected = naive(&index, &q, 50, None);
        for kernel in every_kernel() {
            assert_eq!(scan(&index, &q, 50, None, kernel), expected, "{kernel:?}");
        }
    }

    #[test]
    fn every_kernel_scans_the_f16_index_the_same() {
        // Small integers are exact in f16, and widths that leave a tail after 8 and 16 lanes.
        for dim in [7, 21, 40, 1280] {
            let index = int_index(37, dim, 2, 8);
            let half = index.clone().with_precision(Precision::F16);
            for q in int_queries(2, dim, 2, 9).chunks(dim) {
                let expected = naive(&index, q, 10, None);
                for kernel in every_kernel() {
                    let got = scan(&half, q, 10, None, kernel);
                    assert_eq!(got, expected, "{kernel:?} dim {dim}");
                }
            }
        }
    }

    #[test]
    fn k_zero_k_beyond_len_and_empty_index() {
        let index = int_index(9, 4, 2, 1);
        let q = [1.0, 0.0, -1.0, 2.0];
        assert!(top_k(&index, &q, 0, None).unwrap().is_empty());
        let all = top_k(&index, &q, 100, None).unwrap();
        assert_eq!(all.len(), 9);
        assert_eq!(all, naive(&index, &q, 100, None));
        let empty = EmbeddingIndex::empty("test", "fp", 4);
        assert!(top_k(&empty, &q, 5, None).unwrap().is_empty());
        assert_eq!(top_k_batch(&empty, &[0.0; 40], 5, None).unwrap().len(), 10);
        assert!(top_k_batch(&index, &[], 5, None).unwrap().is_empty());
    }

    #[test]
    fn masks_keep_only_allowed_rows() {
        let index = int_index(4500, 24, 2, 3);
        let mut rng = StdRng::seed_from_u64(4);
        let mask: Vec<bool> = (0..4500).map(|_| rng.random_bool(0.3)).collect();
        let q = int_queries(1, 24, 2, 8);
        let got = top_k(&index, &q, 20, Some(&mask)).unwrap();
        assert!(got.iter().all(|h| mask[h.row]));
        assert_eq!(got, naive(&index, &q, 20, Some(&mask)));
        // k beyond the allowed rows: all of them.
        let few: Vec<bool> = (0..4500).map(|r| r % 1000 == 7).collect();
        assert_eq!(top_k(&index, &q, 10, Some(&few)).unwrap().len(), 5);
        let none = vec![false; 4500];
        assert!(top_k(&index, &q, 10, Some(&none)).unwrap().is_empty());
        let batch = top_k_batch(&index, &int_queries(6, 24, 2, 9), 20, Some(&mask)).unwrap();
        assert!(batch.iter().flatten().all(|h| mask[h.row]));
    }

    #[test]
    fn batch_equals_single() {
        for (n, dim, count) in [(3, 5, 2), (5000, 40, 7), (10_000, 1280, 100)] {
            let index = int_index(n, dim, 2, 11);
            let queries = int_queries(count, dim, 2, 12);
            let batch = top_k_batch(&index, &queries, 10, None).unwrap();
            assert_eq!(batch.len(), count);
            for (q, hits) in queries.chunks(dim).zip(&batch) {
                assert_eq!(
                    hits,
                    &top_k(&index, q, 10, None).unwrap(),
                    "n {n} dim {dim}"
                );
            }
        }
    }

    #[test]
    fn f16_index_is_exact_on_small_integers() {
        // Small integers are exact in f16, so the half-precision scans, single and batched,
        // must match exactly.
        for (n, dim) in [(0, 8), (9, 20), (4100, 1280)] {
            let index = int_index(n, dim, 2, 21);
            let half = index.clone().with_precision(Precision::F16);
            assert_eq!((half.len(), half.matrix.bytes()), (n, n * dim * 2));
            let mask: Vec<bool> = (0..n).map(|r| r % 3 != 1).collect();
            let queries = int_queries(5, dim, 2, 22);
            let batch = top_k_batch(&half, &queries, 15, Some(&mask)).unwrap();
            for (q, batched) in queries.chunks(dim).zip(&batch) {
                assert_eq!(
                    top_k(&half, q, 15, None).unwrap(),
                    naive(&index, q, 15, None)
                );
                let masked = top_k(&half, q, 15, Some(&mask)).unwrap();
                assert_eq!(masked, naive(&index, q, 15, Some(&mask)));
                assert_eq!(batched, &masked);
            }
        }
        let half = int_index(3, 4, 2, 1).with_precision(Precision::F16);
        assert!(top_k(&half, &[0.0; 5], 1, None).is_err());
    }

    #[test]
    fn neighbour_recall_of_rounded_rows() {
        // Unit rows: f16 keeps nearly every neighbour; the same rows keep all of them.
        let mut rng = StdRng::seed_from_u64(30);
        let mut index = EmbeddingIndex::empty("test", "fp", 64);
        for id in 0..3000 {
            let row: Vec<f32> = (0..64).map(|_| rng.random_range(-1.0..1.0)).collect();
            let image = crate::index::ImageFingerprint {
                path: format!("{id}.png"),
                size_bytes: 0,
                mtime_ns: 0,
                sha256: None,
            };
            index.push(id, image, &row).unwrap();
        }
        let rows: Vec<usize> = (0..3000).step_by(15).collect();
        assert_eq!(neighbour_recall(&index, &index, &rows, 10).unwrap(), 1.0);
        let half = index.clone().with_precision(Precision::F16);
        let recall = neighbour_recall(&index, &half, &rows, 10).unwrap();
        assert!((0.9..=1.0).contains(&recall), "{recall}");
        // A real loss is seen: rows rounded to one decimal lose many neighbours.
        let mut coarse = index.clone();
        if let Rows::F32(m) = &mut coarse.matrix {
            m.iter_mut().for_each(|v| *v = (*v * 10.0).round() / 10.0);
        }
        assert!(neighbour_recall(&index, &coarse, &rows, 10).unwrap() < recall);
        let other = int_index(5, 64, 2, 1);
        assert!(neighbour_recall(&index, &other, &rows, 10).is_err());
    }

    #[test]
    fn bad_widths_and_masks_are_refused() {
        let index = int_index(10, 8, 2, 1);
        let err = top_k(&index, &[0.0; 7], 3, None).unwrap_err();
        assert!(err.to_string().contains("7 values"), "{err}");
        let err = top_k_batch(&index, &[0.0; 12], 3, None).unwrap_err();
        assert!(err.to_string().contains("whole number"), "{err}");
        let err = top_k(&index, &[0.0; 8], 3, Some(&[true; 9])).unwrap_err();
        assert!(err.to_string().contains("9 entries"), "{err}");
        assert!(matches!(err, Error::Invalid(_)));
    }
}

//! The colour ↔ shape dial: top-K by `(1 − w)·cos(embedding) + w·cos(colour)` over the two
//! parts of an index (ARCHITECTURE.md §6; the colour part is in [`super::super::emb_file`]).
//!
//! At w = 0 both entry points hand over to [`top_k`] / [`top_k_batch`] untouched, so the
//! default ranking is today's, bit for bit. Above 0, each row costs two dot products, one on
//! each contiguous matrix with the same SIMD kernels as the plain scan, read in the same
//! parallel chunks, row after row; a batch of queries runs its queries in parallel, each a scan of its own
//! (the colour part is narrow, so this stays close to the plain scan's speed).

use super::dot::{dot1, dot1_f16, scan_simd};
use super::{Hit, RowMask, SCAN_CHUNK_ROWS, TopK, check, top_k, top_k_batch};
use crate::error::{Error, Result};
use crate::index::emb_file::EmbeddingIndex;
use crate::index::rows::Rows;
use crate::simd::Simd;
use rayon::prelude::*;
use std::fmt;
use std::str::FromStr;

/// How much the colour part weighs in a ranking: a number in 0..=1 (0, the default, ranks by
/// the embedding alone). Made only through [`ColourWeight::new`] or parsing, so a value out of
/// range or NaN never reaches a scan.
#[derive(Debug, Clone, Copy, Default, PartialEq, PartialOrd)]
pub struct ColourWeight(f32);

impl ColourWeight {
    /// Shape only: the embedding alone, today's ranking.
    pub const SHAPE_ONLY: ColourWeight = ColourWeight(0.0);

    /// `w`, refused unless it is a number from 0 to 1.
    pub fn new(w: f32) -> Result<ColourWeight> {
        if (0.0..=1.0).contains(&w) {
            // -0.0 is 0: it takes the plain path too.
            Ok(ColourWeight(w.max(0.0)))
        } else {
            Err(Error::Invalid(format!(
                "the colour weight must be a number from 0 (shape only) to 1 (colour only), \
                 not {w}"
            )))
        }
    }

    /// The weight, in 0..=1.
    pub fn value(self) -> f32 {
        self.0
    }

    /// Whether colour plays no part (the plain scan runs).
    pub fn is_shape_only(self) -> bool {
        self.0 == 0.0
    }
}

impl FromStr for ColourWeight {
    type Err = Error;

    fn from_str(s: &str) -> Result<ColourWeight> {
        let w: f32 = s.trim().parse().map_err(|_| {
            Error::Invalid(format!(
                "the colour weight must be a number from 0 to 1, not {s:?}"
            ))
        })?;
        ColourWeight::new(w)
    }
}

impl fmt::Display for ColourWeight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The `k` rows best by the dial's score for a query of two parts (`query`: `index.dim`
/// wide; `colour`: `index.colour_dim` wide, ignored at w = 0), best first, ties by lower row.
pub fn top_k_weighted(
    index: &EmbeddingIndex,
    query: &[f32],
    colour: &[f32],
    weight: ColourWeight,
    k: usize,
    allow: Option<&RowMask>,
) -> Result<Vec<Hit>> {
    if weight.is_shape_only() {
        return top_k(index, query, k, allow);
    }
    check_weighted(index, allow)?;
    check_widths(index, query.len(), colour.len(), 1)?;
    Ok(scan_weighted(
        index,
        query,
        colour,
        weight,
        k,
        allow,
        scan_simd(),
    ))
}

/// [`top_k_weighted`] for many queries (row-major, `count × dim` and `count × colour_dim`).
pub fn top_k_weighted_batch(
    index: &EmbeddingIndex,
    queries: &[f32],
    colours: &[f32],
    weight: ColourWeight,
    k: usize,
    allow: Option<&RowMask>,
) -> Result<Vec<Vec<Hit>>> {
    if weight.is_shape_only() {
        return top_k_batch(index, queries, k, allow);
    }
    check_weighted(index, allow)?;
    let count = queries.len() / index.dim;
    check_widths(index, queries.len(), colours.len(), count)?;
    let simd = scan_simd();
    Ok(queries
        .par_chunks_exact(index.dim)
        .zip(colours.par_chunks_exact(index.colour_dim))
        .map(|(q, c)| scan_weighted(index, q, c, weight, k, allow, simd))
        .collect())
}

/// The plain checks, and a colour part that is there and consistent.
fn check_weighted(index: &EmbeddingIndex, allow: Option<&RowMask>) -> Result<()> {
    check(index, allow)?;
    if !index.has_colour() {
        return Err(Error::Invalid(format!(
            "the index of {} has no colour part, so the colour weight must be 0",
            index.system
        )));
    }
    if index.colour.len() != index.len() * index.colour_dim {
        return Err(Error::Invalid(format!(
            "the index of {} holds {} colour values, not {} rows of {}",
            index.system,
            index.colour.len(),
            index.len(),
            index.colour_dim
        )));
    }
    Ok(())
}

/// `count` queries of `query_values` and `colour_values` values must fit the index's widths.
fn check_widths(
    index: &EmbeddingIndex,
    query_values: usize,
    colour_values: usize,
    count: usize,
) -> Result<()> {
    if query_values != count * index.dim || colour_values != count * index.colour_dim {
        return Err(Error::Invalid(format!(
            "{count} queries of {query_values} + {colour_values} values for the index of {}, \
             whose rows are {} + {} wide",
            index.system, index.dim, index.colour_dim
        )));
    }
    Ok(())
}

/// One query's scan: the rows in parallel chunks, row after row, two dot products each.
fn scan_weighted(
    index: &EmbeddingIndex,
    query: &[f32],
    colour: &[f32],
    weight: ColourWeight,
    k: usize,
    allow: Option<&RowMask>,
    simd: Simd,
) -> Vec<Hit> {
    let (dim, colour_dim, n) = (index.dim, index.colour_dim, index.len());
    if k == 0 || n == 0 {
        return Vec::new();
    }
    let w = weight.value();
    // The embedding's dot product with row `r`, at the index's precision.
    let shape = |r: usize| match &index.matrix {
        Rows::F32(m) => dot1(simd, &m[r * dim..(r + 1) * dim], query),
        Rows::F16(m) => dot1_f16(simd, &m[r * dim..(r + 1) * dim], query),
    };
    (0..n.div_ceil(SCAN_CHUNK_ROWS))
        .into_par_iter()
        .fold(
            || TopK::new(k),
            |mut top, chunk| {
                let first = chunk * SCAN_CHUNK_ROWS;
                for r in first..n.min(first + SCAN_CHUNK_ROWS) {
                    if allow.is_none_or(|m| m[r]) {
                        let c = dot1(
                            simd,
                            &index.colour[r * colour_dim..(r + 1) * colour_dim],
                            colour,
                        );
                        top.offer(r, (1.0 - w) * shape(r) + w * c);
                    }
                }
                top
            },
        )
        .reduce(|| TopK::new(k), TopK::merge)
        .into_sorted()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// An index of `n` random unit rows with a colour part, for the dial.
    fn index(n: usize, dim: usize, colour_dim: usize, seed: u64) -> EmbeddingIndex {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut index = EmbeddingIndex::empty_with_colour("st", "fp", dim, colour_dim);
        for id in 0..n as i64 {
            let row: Vec<f32> = (0..dim).map(|_| rng.random_range(-1.0..1.0)).collect();
            let colour: Vec<f32> = (0..colour_dim)
                .map(|_| rng.random_range(0.0..1.0))
                .collect();
            let image = crate::index::ImageFingerprint {
                path: format!("{id}.png"),
                size_bytes: 0,
                mtime_ns: 0,
                sha256: None,
            };
            index.push_with_colour(id, image, &row, &colour).unwrap();
        }
        index
    }

    /// Every allowed row scored the simple way, fully sorted.
    fn naive(index: &EmbeddingIndex, q: &[f32], c: &[f32], w: f32, k: usize) -> Vec<usize> {
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        let mut scored: Vec<(usize, f32)> = (0..index.len())
            .map(|r| {
                let s = (1.0 - w) * dot(&index.row(r), q) + w * dot(index.colour_row(r), c);
                (r, s)
            })
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored.into_iter().take(k).map(|(r, _)| r).collect()
    }

    #[test]
    fn weight_zero_is_todays_ranking_exactly() {
        let index = index(5003, 24, 8, 1);
        let (q, c) = (index.row(17).to_vec(), index.colour_row(40).to_vec());
        let mask: Vec<bool> = (0..index.len()).map(|r| r % 3 != 0).collect();
        for allow in [None, Some(mask.as_slice())] {
            let plain = top_k(&index, &q, 10, allow).unwrap();
            let dialled =
                top_k_weighted(&index, &q, &c, ColourWeight::SHAPE_ONLY, 10, allow).unwrap();
            assert_eq!(plain, dialled);
        }
        // At 0 the colour query is not even read: an index without colour answers too.
        let mut plain_index = index.clone();
        plain_index.colour_dim = 0;
        plain_index.colour.clear();
        let zero = ColourWeight::new(-0.0).unwrap();
        assert_eq!(
            top_k_weighted(&plain_index, &q, &[], zero, 10, None).unwrap(),
            top_k(&index, &q, 10, None).unwrap()
        );
        let batch = top_k_weighted_batch(&index, &q, &c, zero, 10, None).unwrap();
        assert_eq!(batch[0], top_k(&index, &q, 10, None).unwrap());
    }

    #[test]
    fn the_dial_ranks_by_the_weighted_sum_and_moves_the_ranking() {
        // More rows than a chunk, and not a multiple of four, so every path of the scan runs.
        let index = index(SCAN_CHUNK_ROWS + 7, 20, 8, 2);
        let (q, c) = (index.row(3).to_vec(), index.colour_row(1500).to_vec());
        let half = index.clone().with_precision(crate::index::Precision::F16);
        let mut orders = Vec::new();
        for w in [0.0, 0.25, 0.5, 1.0] {
            let weight = ColourWeight::new(w).unwrap();
            let hits = top_k_weighted(&index, &q, &c, weight, 12, None).unwrap();
            let rows: Vec<usize> = hits.iter().map(|h| h.row).collect();
            assert_eq!(rows, naive(&index, &q, &c, w, 12), "w = {w}");
            let both = top_k_weighted_batch(
                &index,
                &[q.clone(), q.clone()].concat(),
                &[c.clone(), c.clone()].concat(),
                weight,
                12,
                None,
            )
            .unwrap();
            assert_eq!(both, [hits.clone(), hits.clone()]);
            // The same dial over the rows at half precision.
            let half_hits = top_k_weighted(&half, &q, &c, weight, 12, None).unwrap();
            let half_rows: Vec<usize> = half_hits.iter().map(|h| h.row).collect();
            assert_eq!(half_rows, naive(&half, &q, &c, w, 12), "f16, w = {w}");
            orders.push(rows);
        }
        assert_eq!(orders[0][0], 3, "shape only: the row itself first");
        assert_eq!(orders[3][0], 1500, "colour only: the colour's row first");
        assert_ne!(orders[0], orders[2]);
        // A mask is honoured on the weighted path too.
        let mask: Vec<bool> = (0..index.len()).map(|r| r != 1500).collect();
        let hits = top_k_weighted(
            &index,
            &q,
            &c,
            ColourWeight::new(1.0).unwrap(),
            5,
            Some(&mask),
        )
        .unwrap();
        assert!(hits.iter().all(|h| h.row != 1500));
    }

    #[test]
    fn bad_weights_and_a_missing_colour_part_are_clear_errors() {
        for bad in [f32::NAN, -0.1, 1.5, f32::INFINITY] {
            let err = ColourWeight::new(bad).unwrap_err().to_string();
            assert!(err.contains("from 0 (shape only) to 1"), "{err}");
        }
        assert!("0.3".parse::<ColourWeight>().is_ok());
        for bad in ["nan", "2", "blue", ""] {
            assert!(bad.parse::<ColourWeight>().is_err(), "{bad}");
        }
        let mut index = index(10, 4, 3, 3);
        let q = index.row(0).to_vec();
        let half = ColourWeight::new(0.5).unwrap();
        let err = top_k_weighted(&index, &q, &[1.0], half, 3, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("rows are 4 + 3 wide"), "{err}");
        index.colour_dim = 0;
        index.colour.clear();
        let err = top_k_weighted(&index, &q, &[], half, 3, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no colour part"), "{err}");
    }
}

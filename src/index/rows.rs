//! The embedding rows of an index, held at the precision the index was made with
//! (`vitrine index --f16`).
//!
//! A single query reads every row once and is bound by memory bandwidth, so rows stored at
//! half precision (IEEE f16, ~3 significant digits) scan about twice as fast and take half the
//! memory and disk, at a small cost in recall that indexing measures and reports
//! ([`crate::index::IndexReport::f16_recall_at_10`]). The scan reads the f16 values directly
//! (converted in registers); everything else that wants plain numbers (personalisation, the
//! evaluation) asks for [`Rows::to_f32`], which borrows an f32 matrix and converts an f16 one.

use rayon::prelude::*;
use serde::Serialize;
use std::borrow::Cow;
use std::fmt;

/// How the values of an index's embedding rows are stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 4 bytes a value: exact scores.
    #[default]
    F32,
    /// 2 bytes a value: half the bytes to read, rounded scores.
    F16,
}

impl Precision {
    /// Bytes a value takes.
    pub fn bytes(self) -> usize {
        match self {
            Precision::F32 => 4,
            Precision::F16 => 2,
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
        })
    }
}

/// A row-major matrix of embedding rows at one [`Precision`].
#[derive(Debug, Clone, PartialEq)]
pub enum Rows {
    F32(Vec<f32>),
    F16(Vec<half::f16>),
}

impl Default for Rows {
    fn default() -> Self {
        Rows::F32(Vec::new())
    }
}

impl From<Vec<f32>> for Rows {
    fn from(values: Vec<f32>) -> Rows {
        Rows::F32(values)
    }
}

impl Rows {
    /// No rows, at `precision`.
    pub fn empty(precision: Precision) -> Rows {
        match precision {
            Precision::F32 => Rows::F32(Vec::new()),
            Precision::F16 => Rows::F16(Vec::new()),
        }
    }

    pub fn precision(&self) -> Precision {
        match self {
            Rows::F32(_) => Precision::F32,
            Rows::F16(_) => Precision::F16,
        }
    }

    /// The number of values (rows × width).
    pub fn len(&self) -> usize {
        match self {
            Rows::F32(v) => v.len(),
            Rows::F16(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes the values take in memory (and in the index file).
    pub fn bytes(&self) -> usize {
        self.len() * self.precision().bytes()
    }

    /// Row `i` of width `dim`, as f32 (borrowed from an f32 matrix, converted from f16).
    pub fn row(&self, i: usize, dim: usize) -> Cow<'_, [f32]> {
        match self {
            Rows::F32(v) => Cow::Borrowed(&v[i * dim..(i + 1) * dim]),
            Rows::F16(v) => Cow::Owned(
                v[i * dim..(i + 1) * dim]
                    .iter()
                    .map(|h| h.to_f32())
                    .collect(),
            ),
        }
    }

    /// Every value as f32: borrowed from an f32 matrix, converted (in parallel) from f16.
    pub fn to_f32(&self) -> Cow<'_, [f32]> {
        match self {
            Rows::F32(v) => Cow::Borrowed(v),
            Rows::F16(v) => Cow::Owned(v.par_iter().map(|h| h.to_f32()).collect()),
        }
    }

    /// Appends values, rounded to the matrix's precision.
    pub fn extend_from_f32(&mut self, values: &[f32]) {
        match self {
            Rows::F32(v) => v.extend_from_slice(values),
            Rows::F16(v) => v.extend(values.iter().map(|&x| half::f16::from_f32(x))),
        }
    }

    /// The same rows at `precision` (f32 → f16 rounds each value; f16 → f32 is exact).
    pub fn to_precision(&self, precision: Precision) -> Rows {
        match (self, precision) {
            (Rows::F32(_), Precision::F32) | (Rows::F16(_), Precision::F16) => self.clone(),
            (Rows::F32(v), Precision::F16) => Rows::F16(
                v.par_chunks(1 << 16)
                    .flat_map_iter(|c| c.iter().map(|&x| half::f16::from_f32(x)))
                    .collect(),
            ),
            (Rows::F16(_), Precision::F32) => Rows::F32(self.to_f32().into_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_between_precisions() {
        let values = vec![0.5, -0.25, 1.0 / 3.0, 0.0, 0.7, -1.0];
        let full = Rows::from(values.clone());
        let half = full.to_precision(Precision::F16);
        assert_eq!(half.precision(), Precision::F16);
        assert_eq!((half.len(), half.bytes(), full.bytes()), (6, 12, 24));
        // Rounded to ~3 digits; exactly representable values stay exact.
        let back = half.to_f32();
        for (a, b) in values.iter().zip(back.iter()) {
            assert!((a - b).abs() <= 1e-3, "{a} {b}");
        }
        assert_eq!(&back[..2], &[0.5, -0.25]);
        assert_eq!(half.row(1, 3).as_ref(), &back[3..6]);
        // f16 → f32 → f16 changes nothing.
        assert_eq!(
            half.to_precision(Precision::F32)
                .to_precision(Precision::F16),
            half
        );
        let mut grown = Rows::empty(Precision::F16);
        grown.extend_from_f32(&values);
        assert_eq!(grown, half);
        assert_eq!(full.row(1, 3).as_ref(), &values[3..6]);
        assert!(matches!(full.to_f32(), Cow::Borrowed(_)));
    }
}

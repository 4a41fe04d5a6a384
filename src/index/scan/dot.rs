//! The dot products of the scan: a query against four rows at once or against one, on f32
//! or half-precision rows, with AVX-512 or AVX2 + FMA versions chosen at run time
//! ([`scan_simd`]) and a portable fallback, each summing in a fixed order so that the four-row
//! and one-row versions give the same scores.

use crate::simd::Simd;

/// The instruction set the dot products below run with: the one the model's kernels chose
/// ([`Simd::detect`]: the best this CPU has, narrowed by `VITRINE_SIMD`), so one setting
/// forces search and model alike. AVX2 also needs F16C here (the f16 index converts with it;
/// every AVX2 CPU has it). The dot products are only given a SIMD instruction set that came
/// from here (or, in the tests, from the same feature checks) after the CPU was found to have
/// its features, which is what makes calling them sound.
pub(super) fn scan_simd() -> Simd {
    match Simd::detect() {
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 if !std::arch::is_x86_feature_detected!("f16c") => Simd::Portable,
        simd => simd,
    }
}

/// The dot products of the four rows of `rows` (`4 × query.len()`) with `query`.
#[inline]
pub(super) fn dot4(simd: Simd, rows: &[f32], query: &[f32]) -> [f32; 4] {
    debug_assert_eq!(rows.len(), 4 * query.len());
    match simd {
        // SAFETY: made only by `scan_simd`, which found the features (see its docs).
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 => unsafe { x86::dot4_avx512(rows, query) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 => unsafe { x86::dot4_avx2(rows, query) },
        Simd::Portable => portable::dot4(rows, query),
    }
}

/// The dot product of `row` with `query`, summed exactly as [`dot4`] sums it.
#[inline]
pub(super) fn dot1(simd: Simd, row: &[f32], query: &[f32]) -> f32 {
    match simd {
        // SAFETY: made only by `scan_simd`, which found the features (see its docs).
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 => unsafe { x86::dot1_avx512(row, query) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 => unsafe { x86::dot1_avx2(row, query) },
        Simd::Portable => portable::dot1(row, query),
    }
}

/// [`dot4`] on half-precision rows.
#[inline]
pub(super) fn dot4_f16(simd: Simd, rows: &[half::f16], query: &[f32]) -> [f32; 4] {
    match simd {
        // SAFETY: made only by `scan_simd`, which found the features (see its docs).
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 => unsafe { x86::dot4_f16_avx512(rows, query) },
        // SAFETY: as above (`scan_simd` gives `Avx2` only with F16C too).
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 => unsafe { x86::dot4_f16_avx2(rows, query) },
        Simd::Portable => {
            let dim = query.len();
            std::array::from_fn(|i| portable::dot1_f16(&rows[i * dim..(i + 1) * dim], query))
        }
    }
}

/// [`dot1`] on a half-precision row.
#[inline]
pub(super) fn dot1_f16(simd: Simd, row: &[half::f16], query: &[f32]) -> f32 {
    match simd {
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 => unsafe { x86::dot1_f16_avx512(row, query) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 => unsafe { x86::dot1_f16_avx2(row, query) },
        Simd::Portable => portable::dot1_f16(row, query),
    }
}

/// Plain Rust kernels: eight partial sums per row, in a fixed order.
mod portable {
    const LANES: usize = 8;

    #[inline]
    pub fn dot1(row: &[f32], query: &[f32]) -> f32 {
        let mut acc = [0f32; LANES];
        let mut r = row.chunks_exact(LANES);
        let mut q = query.chunks_exact(LANES);
        for (r, q) in r.by_ref().zip(q.by_ref()) {
            for l in 0..LANES {
                acc[l] += r[l] * q[l];
            }
        }
        let tail: f32 = r
            .remainder()
            .iter()
            .zip(q.remainder())
            .map(|(a, b)| a * b)
            .sum();
        acc.iter().sum::<f32>() + tail
    }

    #[inline]
    pub fn dot1_f16(row: &[half::f16], query: &[f32]) -> f32 {
        row.iter().zip(query).map(|(a, b)| a.to_f32() * b).sum()
    }

    #[inline]
    pub fn dot4(rows: &[f32], query: &[f32]) -> [f32; 4] {
        let dim = query.len();
        std::array::from_fn(|i| dot1(&rows[i * dim..(i + 1) * dim], query))
    }
}

/// AVX-512 and AVX2 kernels: one accumulator per row, the query loaded once for four rows.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// Dot products of four consecutive rows with `q` (`rows.len() == 4 * q.len()`).
    #[target_feature(enable = "avx512f")]
    pub fn dot4_avx512(rows: &[f32], q: &[f32]) -> [f32; 4] {
        let d = q.len();
        assert!(rows.len() >= 4 * d);
        let (qp, r) = (q.as_ptr(), rows.as_ptr());
        let (mut a0, mut a1, mut a2, mut a3) = (
            _mm512_setzero_ps(),
            _mm512_setzero_ps(),
            _mm512_setzero_ps(),
            _mm512_setzero_ps(),
        );
        let mut i = 0;
        // SAFETY: every load reads 16 floats at `i < d - 15` of `q` or of a row within `rows`
        // (checked above); the tail loads are masked to the `d - i` floats that remain.
        unsafe {
            while i + 16 <= d {
                let qv = _mm512_loadu_ps(qp.add(i));
                a0 = _mm512_fmadd_ps(_mm512_loadu_ps(r.add(i)), qv, a0);
                a1 = _mm512_fmadd_ps(_mm512_loadu_ps(r.add(d + i)), qv, a1);
                a2 = _mm512_fmadd_ps(_mm512_loadu_ps(r.add(2 * d + i)), qv, a2);
                a3 = _mm512_fmadd_ps(_mm512_loadu_ps(r.add(3 * d + i)), qv, a3);
                i += 16;
            }
            if i < d {
                let m: __mmask16 = (1u16 << (d - i)) - 1;
                let qv = _mm512_maskz_loadu_ps(m, qp.add(i));
                a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, r.add(i)), qv, a0);
                a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, r.add(d + i)), qv, a1);
                a2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, r.add(2 * d + i)), qv, a2);
                a3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, r.add(3 * d + i)), qv, a3);
            }
        }
        [
            _mm512_reduce_add_ps(a0),
            _mm512_reduce_add_ps(a1),
            _mm512_reduce_add_ps(a2),
            _mm512_reduce_add_ps(a3),
        ]
    }

    /// The dot product of `row` with `q`, summed as [`dot4_avx512`] sums each row.
    #[target_feature(enable = "avx512f")]
    pub fn dot1_avx512(row: &[f32], q: &[f32]) -> f32 {
        let d = q.len();
        assert!(row.len() >= d);
        let (qp, r) = (q.as_ptr(), row.as_ptr());
        let mut a = _mm512_setzero_ps();
        let mut i = 0;
        // SAFETY: as in `dot4_avx512`, for one row.
        unsafe {
            while i + 16 <= d {
                a = _mm512_fmadd_ps(_mm512_loadu_ps(r.add(i)), _mm512_loadu_ps(qp.add(i)), a);
                i += 16;
            }
            if i < d {
                let m: __mmask16 = (1u16 << (d - i)) - 1;
                let qv = _mm512_maskz_loadu_ps(m, qp.add(i));
                a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, r.add(i)), qv, a);
            }
        }
        _mm512_reduce_add_ps(a)
    }

    /// The sum of the eight lanes of `v`, in a fixed order.
    #[target_feature(enable = "avx2")]
    fn sum8(v: __m256) -> f32 {
        let mut lanes = [0f32; 8];
        // SAFETY: `lanes` holds eight floats.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), v) };
        lanes.iter().sum()
    }

    /// Dot products of four consecutive rows with `q` (`rows.len() == 4 * q.len()`).
    #[target_feature(enable = "avx2,fma")]
    pub fn dot4_avx2(rows: &[f32], q: &[f32]) -> [f32; 4] {
        let d = q.len();
        assert!(rows.len() >= 4 * d);
        let (qp, r) = (q.as_ptr(), rows.as_ptr());
        let (mut a0, mut a1, mut a2, mut a3) = (
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
        );
        let mut i = 0;
        // SAFETY: every load reads 8 floats at `i < d - 7` of `q` or of a row within `rows`.
        unsafe {
            while i + 8 <= d {
                let qv = _mm256_loadu_ps(qp.add(i));
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(r.add(i)), qv, a0);
                a1 = _mm256_fmadd_ps(_mm256_loadu_ps(r.add(d + i)), qv, a1);
                a2 = _mm256_fmadd_ps(_mm256_loadu_ps(r.add(2 * d + i)), qv, a2);
                a3 = _mm256_fmadd_ps(_mm256_loadu_ps(r.add(3 * d + i)), qv, a3);
                i += 8;
            }
        }
        let mut out = [sum8(a0), sum8(a1), sum8(a2), sum8(a3)];
        for (j, o) in out.iter_mut().enumerate() {
            *o += tail(&rows[j * d + i..(j + 1) * d], &q[i..]);
        }
        out
    }

    /// The dot product of `row` with `q`, summed as [`dot4_avx2`] sums each row.
    #[target_feature(enable = "avx2,fma")]
    pub fn dot1_avx2(row: &[f32], q: &[f32]) -> f32 {
        let d = q.len();
        assert!(row.len() >= d);
        let (qp, r) = (q.as_ptr(), row.as_ptr());
        let mut a = _mm256_setzero_ps();
        let mut i = 0;
        // SAFETY: as in `dot4_avx2`, for one row.
        unsafe {
            while i + 8 <= d {
                a = _mm256_fmadd_ps(_mm256_loadu_ps(r.add(i)), _mm256_loadu_ps(qp.add(i)), a);
                i += 8;
            }
        }
        sum8(a) + tail(&row[i..d], &q[i..])
    }

    /// Dot products of four consecutive half-precision rows with `q`, eight values at a time
    /// (F16C converts them): the f16 index on AVX2 machines.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub fn dot4_f16_avx2(rows: &[half::f16], q: &[f32]) -> [f32; 4] {
        let d = q.len();
        assert!(rows.len() >= 4 * d);
        let (qp, r) = (q.as_ptr(), rows.as_ptr());
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        // SAFETY: every load reads 8 values at `i < d - 7` of `q` or of a row within `rows`
        // (checked above); `f16` is a transparent `u16`.
        unsafe {
            while i + 8 <= d {
                let qv = _mm256_loadu_ps(qp.add(i));
                for (j, a) in acc.iter_mut().enumerate() {
                    let h = _mm_loadu_si128(r.add(j * d + i).cast::<__m128i>());
                    *a = _mm256_fmadd_ps(_mm256_cvtph_ps(h), qv, *a);
                }
                i += 8;
            }
        }
        std::array::from_fn(|j| {
            sum8(acc[j]) + super::portable::dot1_f16(&rows[j * d + i..(j + 1) * d], &q[i..])
        })
    }

    /// The dot product of a half-precision `row` with `q`, summed as [`dot4_f16_avx2`] does.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub fn dot1_f16_avx2(row: &[half::f16], q: &[f32]) -> f32 {
        let d = q.len();
        assert!(row.len() >= d);
        let (qp, r) = (q.as_ptr(), row.as_ptr());
        let mut a = _mm256_setzero_ps();
        let mut i = 0;
        // SAFETY: as in `dot4_f16_avx2`, for one row.
        unsafe {
            while i + 8 <= d {
                let h = _mm_loadu_si128(r.add(i).cast::<__m128i>());
                a = _mm256_fmadd_ps(_mm256_cvtph_ps(h), _mm256_loadu_ps(qp.add(i)), a);
                i += 8;
            }
        }
        sum8(a) + super::portable::dot1_f16(&row[i..d], &q[i..])
    }

    /// Dot products of four consecutive half-precision rows with `q`.
    #[target_feature(enable = "avx512f")]
    pub fn dot4_f16_avx512(rows: &[half::f16], q: &[f32]) -> [f32; 4] {
        let d = q.len();
        assert!(rows.len() >= 4 * d);
        let (qp, r) = (q.as_ptr(), rows.as_ptr());
        let mut acc = [_mm512_setzero_ps(); 4];
        let mut i = 0;
        // SAFETY: every load reads 16 values at `i < d - 15` of `q` or of a row within
        // `rows` (checked above); `f16` is a transparent `u16`.
        unsafe {
            while i + 16 <= d {
                let qv = _mm512_loadu_ps(qp.add(i));
                for (j, a) in acc.iter_mut().enumerate() {
                    let h = _mm256_loadu_si256(r.add(j * d + i).cast::<__m256i>());
                    *a = _mm512_fmadd_ps(_mm512_cvtph_ps(h), qv, *a);
                }
                i += 16;
            }
        }
        std::array::from_fn(|j| {
            _mm512_reduce_add_ps(acc[j])
                + super::portable::dot1_f16(&rows[j * d + i..(j + 1) * d], &q[i..])
        })
    }

    /// The dot product of a half-precision `row` with `q`, summed as [`dot4_f16_avx512`] does.
    #[target_feature(enable = "avx512f")]
    pub fn dot1_f16_avx512(row: &[half::f16], q: &[f32]) -> f32 {
        let d = q.len();
        assert!(row.len() >= d);
        let (qp, r) = (q.as_ptr(), row.as_ptr());
        let mut a = _mm512_setzero_ps();
        let mut i = 0;
        // SAFETY: as in `dot4_f16_avx512`, for one row.
        unsafe {
            while i + 16 <= d {
                let h = _mm256_loadu_si256(r.add(i).cast::<__m256i>());
                a = _mm512_fmadd_ps(_mm512_cvtph_ps(h), _mm512_loadu_ps(qp.add(i)), a);
                i += 16;
            }
        }
        _mm512_reduce_add_ps(a) + super::portable::dot1_f16(&row[i..d], &q[i..])
    }

    fn tail(row: &[f32], q: &[f32]) -> f32 {
        row.iter().zip(q).map(|(a, b)| a * b).sum()
    }
}

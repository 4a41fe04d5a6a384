//! The dot products of the scan: a query against one row, f32 or half precision, with
//! AVX-512 or AVX2 + FMA versions chosen at run time ([`scan_simd`]) and a portable fallback,
//! each summing in a fixed order. One row at a time, not four interleaved: the scan then
//! reads memory as one stream, which measured faster on big indexes (see the scan's docs).

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

/// The dot product of `row` with `query`.
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
}

/// AVX-512 and AVX2 kernels.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// The dot product of `row` with `q`: sixteen lanes, the tail masked.
    #[target_feature(enable = "avx512f")]
    pub fn dot1_avx512(row: &[f32], q: &[f32]) -> f32 {
        let d = q.len();
        assert!(row.len() >= d);
        let (qp, r) = (q.as_ptr(), row.as_ptr());
        let mut a = _mm512_setzero_ps();
        let mut i = 0;
        // SAFETY: every load reads 16 floats at `i < d - 15` of `q` or of `row` (checked
        // above); the tail loads are masked to the `d - i` floats that remain.
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

    /// The dot product of `row` with `q`: eight lanes, then the tail.
    #[target_feature(enable = "avx2,fma")]
    pub fn dot1_avx2(row: &[f32], q: &[f32]) -> f32 {
        let d = q.len();
        assert!(row.len() >= d);
        let (qp, r) = (q.as_ptr(), row.as_ptr());
        let mut a = _mm256_setzero_ps();
        let mut i = 0;
        // SAFETY: every load reads 8 floats at `i < d - 7` of `q` or of `row` (checked above).
        unsafe {
            while i + 8 <= d {
                a = _mm256_fmadd_ps(_mm256_loadu_ps(r.add(i)), _mm256_loadu_ps(qp.add(i)), a);
                i += 8;
            }
        }
        sum8(a) + tail(&row[i..d], &q[i..])
    }

    /// The dot product of a half-precision `row` with `q` (F16C converts eight values at a
    /// time): the f16 index on AVX2 machines. Two accumulators, so the additions of one do
    /// not wait for the other's: one would hold a core to ~12 GB/s of f16.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub fn dot1_f16_avx2(row: &[half::f16], q: &[f32]) -> f32 {
        let d = q.len();
        assert!(row.len() >= d);
        let (qp, r) = (q.as_ptr(), row.as_ptr());
        let (mut a0, mut a1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let mut i = 0;
        // SAFETY: every load reads 8 values at `i < d - 7` of `q` or of `row` (checked
        // above); `f16` is a transparent `u16`.
        unsafe {
            while i + 16 <= d {
                let h0 = _mm_loadu_si128(r.add(i).cast::<__m128i>());
                let h1 = _mm_loadu_si128(r.add(i + 8).cast::<__m128i>());
                a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(h0), _mm256_loadu_ps(qp.add(i)), a0);
                a1 = _mm256_fmadd_ps(_mm256_cvtph_ps(h1), _mm256_loadu_ps(qp.add(i + 8)), a1);
                i += 16;
            }
            if i + 8 <= d {
                let h = _mm_loadu_si128(r.add(i).cast::<__m128i>());
                a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(h), _mm256_loadu_ps(qp.add(i)), a0);
                i += 8;
            }
        }
        sum8(_mm256_add_ps(a0, a1)) + super::portable::dot1_f16(&row[i..d], &q[i..])
    }

    /// The dot product of a half-precision `row` with `q`, sixteen values at a time, in two
    /// accumulators as [`dot1_f16_avx2`].
    #[target_feature(enable = "avx512f")]
    pub fn dot1_f16_avx512(row: &[half::f16], q: &[f32]) -> f32 {
        let d = q.len();
        assert!(row.len() >= d);
        let (qp, r) = (q.as_ptr(), row.as_ptr());
        let (mut a0, mut a1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        let mut i = 0;
        // SAFETY: every load reads 16 values at `i < d - 15` of `q` or of `row` (checked
        // above); `f16` is a transparent `u16`.
        unsafe {
            while i + 32 <= d {
                let h0 = _mm256_loadu_si256(r.add(i).cast::<__m256i>());
                let h1 = _mm256_loadu_si256(r.add(i + 16).cast::<__m256i>());
                a0 = _mm512_fmadd_ps(_mm512_cvtph_ps(h0), _mm512_loadu_ps(qp.add(i)), a0);
                a1 = _mm512_fmadd_ps(_mm512_cvtph_ps(h1), _mm512_loadu_ps(qp.add(i + 16)), a1);
                i += 32;
            }
            if i + 16 <= d {
                let h = _mm256_loadu_si256(r.add(i).cast::<__m256i>());
                a0 = _mm512_fmadd_ps(_mm512_cvtph_ps(h), _mm512_loadu_ps(qp.add(i)), a0);
                i += 16;
            }
        }
        _mm512_reduce_add_ps(_mm512_add_ps(a0, a1)) + super::portable::dot1_f16(&row[i..d], &q[i..])
    }

    fn tail(row: &[f32], q: &[f32]) -> f32 {
        row.iter().zip(q).map(|(a, b)| a * b).sum()
    }
}

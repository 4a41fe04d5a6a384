//! Sixteen `f32` lanes in the registers of one instruction set: the vector type the model's
//! SIMD kernels (the depthwise convolution, Lite0's stem, the matrix-product epilogue) are
//! written with once and compiled for AVX-512, for AVX2 + FMA and portably through
//! [`multiversion!`](crate::simd::multiversion). It lives with the model rather than in
//! [`crate::simd`] because [`F32x16::activate`] applies the model's [`Activation`].

use super::depthwise::Activation;

/// Channels handled together: one AVX-512 register, two AVX2 registers.
pub(crate) const LANES: usize = 16;

/// Sixteen `f32` lanes in the registers of one instruction set.
///
/// # Safety
/// An implementation's methods may only run on a CPU that has its instruction set (checked by
/// [`Simd::detect`](crate::simd::Simd::detect)); they are `#[inline(always)]` so that they compile into the
/// `#[target_feature]` function that calls them.
pub(crate) unsafe trait F32x16: Copy {
    /// Vector registers of the instruction set, for kernels that size their tiles by it.
    const REGISTERS: usize;
    /// Sixteen floats from `src`.
    ///
    /// # Safety
    /// The CPU has the implementation's instruction set, and `src` points to 16 readable
    /// floats.
    unsafe fn load(src: *const f32) -> Self;
    /// Sixteen floats to `dst`.
    ///
    /// # Safety
    /// The CPU has the implementation's instruction set, and `dst` points to 16 writable
    /// floats.
    unsafe fn store(self, dst: *mut f32);
    /// All lanes set to `v`.
    ///
    /// # Safety
    /// As for [`F32x16::load`].
    unsafe fn splat(v: f32) -> Self;
    /// `self · w + acc`, fused.
    ///
    /// # Safety
    /// As for [`F32x16::load`].
    unsafe fn mul_add(self, w: Self, acc: Self) -> Self;
    /// # Safety
    /// As for [`F32x16::load`].
    unsafe fn add(self, other: Self) -> Self;
    /// # Safety
    /// As for [`F32x16::load`].
    unsafe fn activate(self, activation: Activation) -> Self;
}

/// One AVX-512 register.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(crate) struct Avx512(std::arch::x86_64::__m512);

// SAFETY: only used by `*_avx512` functions, which run after `Simd::detect` found AVX-512F.
#[cfg(target_arch = "x86_64")]
unsafe impl F32x16 for Avx512 {
    const REGISTERS: usize = 32;
    #[inline(always)]
    unsafe fn load(src: *const f32) -> Self {
        // SAFETY: 16 readable floats; AVX-512F per the trait's contract.
        unsafe { Self(std::arch::x86_64::_mm512_loadu_ps(src)) }
    }
    #[inline(always)]
    unsafe fn store(self, dst: *mut f32) {
        // SAFETY: 16 writable floats; AVX-512F per the trait's contract.
        unsafe { std::arch::x86_64::_mm512_storeu_ps(dst, self.0) }
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        // SAFETY: AVX-512F per the trait's contract.
        unsafe { Self(std::arch::x86_64::_mm512_set1_ps(v)) }
    }
    #[inline(always)]
    unsafe fn mul_add(self, w: Self, acc: Self) -> Self {
        // SAFETY: AVX-512F per the trait's contract.
        unsafe { Self(std::arch::x86_64::_mm512_fmadd_ps(self.0, w.0, acc.0)) }
    }
    #[inline(always)]
    unsafe fn add(self, other: Self) -> Self {
        // SAFETY: AVX-512F per the trait's contract.
        unsafe { Self(std::arch::x86_64::_mm512_add_ps(self.0, other.0)) }
    }
    #[inline(always)]
    unsafe fn activate(self, activation: Activation) -> Self {
        use std::arch::x86_64::{_mm512_max_ps, _mm512_min_ps, _mm512_set1_ps, _mm512_setzero_ps};
        match activation {
            Activation::Identity => self,
            // SAFETY: AVX-512F per the trait's contract.
            Activation::Relu6 => unsafe {
                Self(_mm512_min_ps(
                    _mm512_max_ps(self.0, _mm512_setzero_ps()),
                    _mm512_set1_ps(6.0),
                ))
            },
            // SAFETY: AVX-512F per the trait's contract.
            Activation::Relu => unsafe { Self(_mm512_max_ps(self.0, _mm512_setzero_ps())) },
        }
    }
}

/// Two AVX2 registers.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(crate) struct Avx2(std::arch::x86_64::__m256, std::arch::x86_64::__m256);

// SAFETY: only used by `*_avx2` functions, which run after `Simd::detect` found AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
unsafe impl F32x16 for Avx2 {
    /// AVX2 has 16 registers of 8 lanes: 8 of these.
    const REGISTERS: usize = 8;
    #[inline(always)]
    unsafe fn load(src: *const f32) -> Self {
        use std::arch::x86_64::_mm256_loadu_ps;
        // SAFETY: 16 readable floats; AVX per the trait's contract.
        unsafe { Self(_mm256_loadu_ps(src), _mm256_loadu_ps(src.add(8))) }
    }
    #[inline(always)]
    unsafe fn store(self, dst: *mut f32) {
        use std::arch::x86_64::_mm256_storeu_ps;
        // SAFETY: 16 writable floats; AVX per the trait's contract.
        unsafe {
            _mm256_storeu_ps(dst, self.0);
            _mm256_storeu_ps(dst.add(8), self.1);
        }
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        // SAFETY: AVX per the trait's contract.
        unsafe {
            let v = std::arch::x86_64::_mm256_set1_ps(v);
            Self(v, v)
        }
    }
    #[inline(always)]
    unsafe fn mul_add(self, w: Self, acc: Self) -> Self {
        use std::arch::x86_64::_mm256_fmadd_ps;
        // SAFETY: FMA per the trait's contract.
        unsafe {
            Self(
                _mm256_fmadd_ps(self.0, w.0, acc.0),
                _mm256_fmadd_ps(self.1, w.1, acc.1),
            )
        }
    }
    #[inline(always)]
    unsafe fn add(self, other: Self) -> Self {
        use std::arch::x86_64::_mm256_add_ps;
        // SAFETY: AVX per the trait's contract.
        unsafe {
            Self(
                _mm256_add_ps(self.0, other.0),
                _mm256_add_ps(self.1, other.1),
            )
        }
    }
    #[inline(always)]
    unsafe fn activate(self, activation: Activation) -> Self {
        use std::arch::x86_64::{_mm256_max_ps, _mm256_min_ps, _mm256_set1_ps, _mm256_setzero_ps};
        match activation {
            Activation::Identity => self,
            // SAFETY: AVX per the trait's contract.
            Activation::Relu6 => unsafe {
                let (zero, six) = (_mm256_setzero_ps(), _mm256_set1_ps(6.0));
                Self(
                    _mm256_min_ps(_mm256_max_ps(self.0, zero), six),
                    _mm256_min_ps(_mm256_max_ps(self.1, zero), six),
                )
            },
            // SAFETY: AVX per the trait's contract.
            Activation::Relu => unsafe {
                let zero = _mm256_setzero_ps();
                Self(_mm256_max_ps(self.0, zero), _mm256_max_ps(self.1, zero))
            },
        }
    }
}

/// Plain arrays, for other CPUs (the compiler vectorises what it can).
#[derive(Clone, Copy)]
pub(crate) struct Portable([f32; LANES]);

// SAFETY: needs no particular instruction set.
unsafe impl F32x16 for Portable {
    const REGISTERS: usize = 8;
    #[inline(always)]
    unsafe fn load(src: *const f32) -> Self {
        // SAFETY: 16 readable floats per the trait's contract.
        Self(unsafe { src.cast::<[f32; LANES]>().read_unaligned() })
    }
    #[inline(always)]
    unsafe fn store(self, dst: *mut f32) {
        // SAFETY: 16 writable floats per the trait's contract.
        unsafe { dst.cast::<[f32; LANES]>().write_unaligned(self.0) }
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        Self([v; LANES])
    }
    #[inline(always)]
    unsafe fn mul_add(self, w: Self, acc: Self) -> Self {
        let mut out = acc.0;
        for ((o, a), b) in out.iter_mut().zip(self.0).zip(w.0) {
            *o += a * b;
        }
        Self(out)
    }
    #[inline(always)]
    unsafe fn add(self, other: Self) -> Self {
        let mut out = self.0;
        for (o, b) in out.iter_mut().zip(other.0) {
            *o += b;
        }
        Self(out)
    }
    #[inline(always)]
    unsafe fn activate(self, activation: Activation) -> Self {
        Self(self.0.map(|v| activation.apply(v)))
    }
}

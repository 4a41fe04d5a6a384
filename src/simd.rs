//! The instruction set Vitrine's own CPU kernels run with, decided once for the whole
//! program, and the helpers that compile a kernel for each instruction set.
//!
//! The model's kernels (depthwise convolution, the training loops, Lite0's fused inference),
//! the index scan's dot products and the letterbox's resize passes all take their instruction
//! set from [`Simd::detect`], so one `VITRINE_SIMD` setting forces search, model and
//! preprocessing alike onto a narrower path.
//! [`multiversion!`] compiles one generic kernel body for AVX-512, for AVX2 + FMA and
//! portably and dispatches on a [`Simd`]; [`Fma`] and [`madd`] let a scalar body use fused
//! multiply-adds where the instruction set has them. The sixteen-lane vector types the SIMD
//! bodies are written with are the model's ([`crate::model::f32x16::F32x16`]): they apply
//! its activations.

/// The instruction set a kernel runs with, detected once per call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Simd {
    #[cfg(target_arch = "x86_64")]
    Avx512,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    Portable,
}

impl Simd {
    /// Every instruction set this CPU can run a kernel version for, best first.
    #[cfg(test)]
    pub(crate) fn available() -> Vec<Self> {
        let mut all = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                all.push(Simd::Avx512);
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                all.push(Simd::Avx2);
            }
        }
        all.push(Simd::Portable);
        all
    }

    /// The instruction set the kernels run with: the best this CPU has that they have a
    /// version for, capped by the `VITRINE_SIMD` environment variable (`avx512`, `avx2` or
    /// `portable`), which lets a wider CPU run and test the narrower paths. Decided once.
    pub(crate) fn detect() -> Self {
        static CHOSEN: std::sync::OnceLock<Simd> = std::sync::OnceLock::new();
        *CHOSEN.get_or_init(|| {
            let best = Self::best();
            match std::env::var("VITRINE_SIMD").ok().as_deref().map(str::trim) {
                Some("portable") => Simd::Portable,
                #[cfg(target_arch = "x86_64")]
                Some("avx2") if best == Simd::Avx512 => Simd::Avx2,
                _ => best,
            }
        })
    }

    /// `f32` lanes in one register of this instruction set.
    pub(crate) fn lanes(self) -> usize {
        match self {
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 => 16,
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2 => 8,
            Simd::Portable => 1,
        }
    }

    /// The best instruction set of this CPU that the kernels have a version for.
    fn best() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Simd::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Simd::Avx2;
            }
        }
        Simd::Portable
    }

    /// The name of the instruction set, as benchmarks report it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 => "avx512",
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2 => "avx2+fma",
            Simd::Portable => "portable",
        }
    }
}

/// The instruction set Vitrine's own kernels run with on this machine (see [`Simd::detect`]).
pub fn simd_level() -> &'static str {
    Simd::detect().name()
}

/// Defines `$name(simd, args…)`, which runs the `#[inline(always)]` unsafe generic
/// `$body::<T>` compiled for the instruction set `simd` names, with `T` the type given for
/// that instruction set (an [`F32x16`](crate::model::f32x16::F32x16) for the SIMD
/// kernels, an [`Fma`] for the scalar ones). A body takes at most six arguments, so that
/// `$name` with `simd` stays within clippy's seven; more go into a struct of parameters (as
/// [`FusedLayer`](crate::model::depthwise::FusedLayer) or `BnRows` group them).
macro_rules! multiversion {
    ($name:ident => $body:ident::<$avx512:ty, $avx2:ty, $portable:ty>($($arg:ident: $ty:ty),* $(,)?)) => {
        fn $name(simd: $crate::simd::Simd, $($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                fn avx512($($arg: $ty),*) {
                    // SAFETY: this function only runs where AVX-512F is available.
                    unsafe { $body::<$avx512>($($arg),*) }
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) {
                    // SAFETY: this function only runs where AVX2 and FMA are available.
                    unsafe { $body::<$avx2>($($arg),*) }
                }
                use $crate::simd::Simd;
                match simd {
                    // SAFETY: `Simd::detect` found these instruction sets on this CPU.
                    Simd::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: as above.
                    Simd::Avx2 => return unsafe { avx2($($arg),*) },
                    Simd::Portable => {}
                }
            }
            let _ = simd;
            // SAFETY: the portable version needs no particular instruction set.
            unsafe { $body::<$portable>($($arg),*) }
        }
    };
}

pub(crate) use multiversion;

/// The FMA flag of the scalar kernels, as a type for [`multiversion!`].
pub(crate) trait Fma {
    const FMA: bool;
}
pub(crate) struct WithFma;
pub(crate) struct WithoutFma;
impl Fma for WithFma {
    const FMA: bool = true;
}
impl Fma for WithoutFma {
    const FMA: bool = false;
}

/// `a · b + acc`, fused where the instruction set has FMA (Rust never fuses on its own).
#[inline(always)]
pub(crate) fn madd<F: Fma>(a: f32, b: f32, acc: f32) -> f32 {
    if F::FMA {
        a.mul_add(b, acc)
    } else {
        a * b + acc
    }
}

/// `Σ f(a_i, b_i)` over the common length, summed in sixteen independent lanes (which the
/// compiler vectorizes on any instruction set) and then across them. It rounds differently
/// from a sum in order, and is several times faster: a sum in order is one long chain of
/// dependent scalar adds. The dot products and distances of the personalisation loops
/// (K-Splits' catalogue neighbourhoods, the cart mean's cosine scores) use it.
#[inline]
pub(crate) fn lane_sum(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f32 {
    const LANES: usize = 16;
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; LANES];
    let (mut ca, mut cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..LANES {
            acc[i] += f(x[i], y[i]);
        }
    }
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(&x, &y)| f(x, y))
        .sum();
    acc.iter().sum::<f32>() + tail
}

/// The sum of `data`, read as fast as this CPU reads memory: with AVX2, four 8-lane
/// accumulators whose additions never wait for each other (a compiled loop without target
/// features stays in 128-bit registers and, measured, falls short of the memory). What
/// `vitrine bench` measures the memory's read bandwidth with.
pub fn read_sum(data: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { read_sum_avx2(data) };
    }
    lane_sum(data, data, |a, _| a)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn read_sum_avx2(data: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut blocks = data.chunks_exact(32);
    for block in &mut blocks {
        for (j, a) in acc.iter_mut().enumerate() {
            // SAFETY: `block` holds 32 floats, so 8 from `8 * j` (j < 4) are within it.
            *a = _mm256_add_ps(*a, unsafe { _mm256_loadu_ps(block.as_ptr().add(8 * j)) });
        }
    }
    let mut lanes = [0f32; 8];
    let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    // SAFETY: `lanes` holds eight floats.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
    lanes.iter().sum::<f32>() + blocks.remainder().iter().sum::<f32>()
}

/// The peak rate of fused multiply-adds on every rayon thread, GFLOP/s (a multiply-add
/// counts as two): twelve independent chains per thread in the widest registers
/// [`Simd::detect`] allows, the best of 7 passes of ~15 ms (a busy neighbour on a shared
/// machine shows as a low figure). The ceiling any compute-bound kernel runs
/// under; `vitrine bench embed` sets the backbone's rate against it.
pub fn fma_peak_gflop_per_s() -> f64 {
    use rayon::prelude::*;
    const STEPS: usize = 1 << 22;
    let simd = Simd::detect();
    let threads = rayon::current_num_threads().max(1);
    let pass = || {
        let start = std::time::Instant::now();
        let sum: f32 = (0..threads)
            .into_par_iter()
            .map(|_| fma_chains(simd, STEPS))
            .sum();
        std::hint::black_box(sum);
        start.elapsed().as_secs_f64()
    };
    pass();
    let best = (0..7).map(|_| pass()).fold(f64::INFINITY, f64::min);
    let flops = (threads * STEPS * FMA_CHAINS * simd.lanes() * 2) as f64;
    flops / best / 1e9
}

/// Independent multiply-add chains in [`fma_chains`]: enough to cover the latency of two
/// pipelines (4 cycles × 2 on current cores).
const FMA_CHAINS: usize = 12;

/// `steps` rounds of [`FMA_CHAINS`] multiply-adds in the registers of `simd`; the sum of the
/// chains, so that none is optimised away.
fn fma_chains(simd: Simd, steps: usize) -> f32 {
    #[cfg(target_arch = "x86_64")]
    match simd {
        // SAFETY: `Simd::detect` found AVX-512F on this CPU.
        Simd::Avx512 => return unsafe { fma_chains_avx512(steps) },
        // SAFETY: `Simd::detect` found AVX2 and FMA on this CPU.
        Simd::Avx2 => return unsafe { fma_chains_avx2(steps) },
        Simd::Portable => {}
    }
    let mut acc = [1f32; FMA_CHAINS];
    for _ in 0..steps {
        for a in &mut acc {
            *a = a.mul_add(0.999_999, 1e-7);
        }
    }
    acc.iter().sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn fma_chains_avx512(steps: usize) -> f32 {
    use std::arch::x86_64::*;
    let (m, c) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
    let mut acc = [_mm512_set1_ps(1.0); FMA_CHAINS];
    for _ in 0..steps {
        for a in &mut acc {
            *a = _mm512_fmadd_ps(*a, m, c);
        }
    }
    acc.iter().map(|&a| _mm512_reduce_add_ps(a)).sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn fma_chains_avx2(steps: usize) -> f32 {
    use std::arch::x86_64::*;
    let (m, c) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
    let mut acc = [_mm256_set1_ps(1.0); FMA_CHAINS];
    for _ in 0..steps {
        for a in &mut acc {
            *a = _mm256_fmadd_ps(*a, m, c);
        }
    }
    let mut lanes = [0f32; 8];
    let mut sum = 0.0;
    for a in acc {
        // SAFETY: `lanes` holds eight floats.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), a) };
        sum += lanes.iter().sum::<f32>();
    }
    sum
}

/// The CPU's model name, as `/proc/cpuinfo` gives it (Linux), for the figures it stands beside.
pub fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("model name"))?;
    Some(line.split_once(':')?.1.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fma_chains_compute_the_same_sum_on_every_instruction_set() {
        // 12 chains of x ← 0.999999·x + 1e-7 from 1, 1000 steps, summed over the lanes.
        let mut x = 1f32;
        for _ in 0..1000 {
            x = x.mul_add(0.999_999, 1e-7);
        }
        for simd in Simd::available() {
            let want = x * (FMA_CHAINS * simd.lanes()) as f32;
            let got = fma_chains(simd, 1000);
            assert!(
                (got - want).abs() <= 1e-3 * want,
                "{simd:?}: {got} against {want}"
            );
        }
        assert!(fma_peak_gflop_per_s() > 0.0);
    }

    #[test]
    fn read_sum_adds_every_value() {
        for n in [0, 7, 32, 33, 1000] {
            let data: Vec<f32> = (0..n).map(|i| (i % 5) as f32).collect();
            assert_eq!(read_sum(&data), data.iter().sum::<f32>(), "{n}");
        }
    }

    #[test]
    fn lane_sum_matches_an_ordered_sum_at_any_length() {
        for n in [0, 1, 15, 16, 17, 40, 1280] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let ordered: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            let lanes = lane_sum(&a, &b, |x, y| x * y);
            assert!(
                (lanes - ordered).abs() <= 1e-4 * (1.0 + ordered.abs()),
                "{n}"
            );
        }
        assert_eq!(lane_sum(&[1.0, 2.0, 3.0], &[1.0, 1.0], |x, y| x - y), 1.0);
    }

    #[test]
    fn detect_chooses_an_instruction_set_this_cpu_has() {
        let available = Simd::available();
        assert_eq!(available.last(), Some(&Simd::Portable));
        assert!(available.contains(&Simd::detect()), "{:?}", Simd::detect());
        assert_eq!(Simd::detect(), Simd::detect());
        assert_eq!(simd_level(), Simd::detect().name());
        // `VITRINE_SIMD` only ever narrows the choice.
        match std::env::var("VITRINE_SIMD").ok().as_deref().map(str::trim) {
            Some("portable") => assert_eq!(Simd::detect(), Simd::Portable),
            #[cfg(target_arch = "x86_64")]
            Some("avx2") if available.contains(&Simd::Avx2) => {
                assert_eq!(Simd::detect(), Simd::Avx2)
            }
            _ => assert_eq!(Simd::detect(), available[0]),
        }
    }

    #[test]
    fn madd_is_a_multiply_add_with_or_without_fma() {
        assert_eq!(madd::<WithFma>(3.0, 4.0, 5.0), 17.0);
        assert_eq!(madd::<WithoutFma>(3.0, 4.0, 5.0), 17.0);
        // Fused, the product is not rounded before the sum.
        let (a, b) = (1.0 + f32::EPSILON, 1.0 - f32::EPSILON);
        assert_eq!(madd::<WithFma>(a, b, -1.0), -f32::EPSILON * f32::EPSILON);
        assert_eq!(madd::<WithoutFma>(a, b, -1.0), 0.0);
    }
}

//! Catmull-Rom resizing of RGB images, the letterbox's resampling: the same arithmetic as
//! `image::imageops::resize` with `FilterType::CatmullRom` (filter, antialiasing support,
//! normalised weights, a vertical pass into `f32` then a horizontal one, rounding half away
//! from zero), so it gives the same bytes, at several times the speed.
//!
//! Why our own: `image`'s generic version recomputes nothing per pixel but works on
//! four-channel `f32` pixels fetched one by one, walks the vertical pass down columns, and
//! rounds with a `roundf` call per channel. On 2 cores that made resizing about a sixth of
//! indexing's CPU time, beside the model. Here each pass computes its weights once per output
//! row or column, the vertical pass runs along rows (vectorised, with AVX2 where the CPU has
//! it), the horizontal pass takes a pixel's three channels in one SSE2 vector, or two pixels
//! in one AVX2 vector, and rounds them there, and rounding is a compare. 256 × 256 → 224 ×
//! 224 takes ~0.29 ms on one core of an AMD EPYC (Zen 4) with one pixel at a time, against
//! ~0.64 ms with both passes scalar and ~2 ms in `image`; on Zen 5, 0.23 ms with one pixel
//! at a time and 0.17 ms with two.

use image::RgbImage;

use crate::simd::Simd;

/// Half the width of the Catmull-Rom filter at scale 1.
const SUPPORT: f32 = 2.0;

/// The Catmull-Rom cubic (B = 0, C = ½), written as `image` writes it.
fn catmull_rom(x: f32) -> f32 {
    let (b, c) = (0.0f32, 0.5f32);
    let a = x.abs();
    let k = if a < 1.0 {
        (12.0 - 9.0 * b - 6.0 * c) * a.powi(3)
            + (-18.0 + 12.0 * b + 6.0 * c) * a.powi(2)
            + (6.0 - 2.0 * b)
    } else if a < 2.0 {
        (-b - 6.0 * c) * a.powi(3)
            + (6.0 * b + 30.0 * c) * a.powi(2)
            + (-12.0 * b - 48.0 * c) * a
            + (8.0 * b + 24.0 * c)
    } else {
        0.0
    };
    k / 6.0
}

/// The input samples of one output sample: the first index and the normalised weights.
struct Taps {
    first: usize,
    weights: Vec<f32>,
}

/// The taps of every output sample when `from` samples become `to` (both > 0): the filter
/// widened by the shrink ratio, so that shrinking averages (antialiasing).
fn taps(from: u32, to: u32) -> Vec<Taps> {
    let ratio = from as f32 / to as f32;
    let sratio = ratio.max(1.0);
    let support = SUPPORT * sratio;
    (0..to)
        .map(|out| {
            let centre = (out as f32 + 0.5) * ratio;
            let left = ((centre - support).floor() as i64).clamp(0, i64::from(from) - 1);
            let right = ((centre + support).ceil() as i64).clamp(left + 1, i64::from(from));
            let centre = centre - 0.5;
            let mut weights: Vec<f32> = (left..right)
                .map(|i| catmull_rom((i as f32 - centre) / sratio))
                .collect();
            let sum: f32 = weights.iter().sum();
            for w in &mut weights {
                *w /= sum;
            }
            Taps {
                first: left as usize,
                weights,
            }
        })
        .collect()
}

/// `v` clamped to 0…255 and rounded half away from zero, as `image` rounds, without a
/// `roundf` call: for `0 ≤ v < 2²³` the fraction `v − trunc(v)` is exact.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline(always)]
fn to_u8(v: f32) -> u8 {
    let v = v.clamp(0.0, 255.0);
    let whole = v as u32;
    (whole + u32::from(v - whole as f32 >= 0.5)) as u8
}

/// `img` resized to `width × height` (both > 0) with the Catmull-Rom filter.
pub fn resize(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 || (w, h) == (width, height) {
        return image::imageops::resize(
            img,
            width,
            height,
            image::imageops::FilterType::CatmullRom,
        );
    }
    let src = img.as_raw();
    let row_len = w as usize * 3;
    // Vertical pass: each output row is a weighted sum of input rows, in tap order. Each row
    // of `tall` has one float to spare, so the horizontal pass can read a pixel as four.
    let stride = row_len + 1;
    let tall = vertical(src, row_len, &taps(h, height));
    // Horizontal pass: each output pixel a weighted sum of the row's pixels, then rounded.
    let columns = taps(w, width);
    let mut out = RgbImage::new(width, height);
    horizontal(&tall, stride, &columns, &mut out);
    out
}

/// Whether the passes run their AVX2 versions: where the model's kernels run AVX2 or wider
/// ([`Simd::detect`]), so `VITRINE_SIMD=portable` narrows these too.
#[cfg(target_arch = "x86_64")]
fn has_avx2() -> bool {
    Simd::detect() != Simd::Portable
}

/// The horizontal pass from `tall` (rows of `stride` floats) into `out` (rows of
/// `columns.len()` pixels): with AVX2 where the CPU has it, two pixels at a time
/// ([`PixelPairs`]), otherwise one ([`weighted_pixel`]).
fn horizontal(tall: &[f32], stride: usize, columns: &[Taps], out: &mut [u8]) {
    let out_row = columns.len() * 3;
    if out_row == 0 {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        let pairs = PixelPairs::new(columns);
        // An odd row's last pixel has no partner.
        let unpaired = columns.chunks_exact(2).remainder().first();
        for (row, out) in tall.chunks_exact(stride).zip(out.chunks_exact_mut(out_row)) {
            // SAFETY: the CPU has AVX2 (`has_avx2`).
            unsafe { pairs.row_avx2(row, out) };
            if let Some(taps) = unpaired {
                out[out_row - 3..].copy_from_slice(&weighted_pixel(row, taps));
            }
        }
        return;
    }
    horizontal_by_pixel(tall, stride, columns, out)
}

/// [`horizontal`] one pixel at a time.
fn horizontal_by_pixel(tall: &[f32], stride: usize, columns: &[Taps], out: &mut [u8]) {
    let mut pixels = out.chunks_exact_mut(3);
    for row in tall.chunks_exact(stride) {
        for (taps, pixel) in columns.iter().zip(&mut pixels) {
            pixel.copy_from_slice(&weighted_pixel(row, taps));
        }
    }
}

/// The output pixels of a row two at a time, in one AVX vector: the first pixel's channels in
/// lanes 0–3, the second's in lanes 4–7, each lane summing in tap order as
/// [`weighted_pixel`] does. The pixel with fewer taps adds zero-weighted ones (its last
/// window again) until the other's end, which leaves its bytes as they were. The horizontal
/// pass was 31 % of decoding and letterboxing a demo photo (256 × 256 → 224 × 224); in pairs
/// the letterbox went from 0.23 to 0.17 ms (one Zen 5 core).
#[cfg(target_arch = "x86_64")]
struct PixelPairs {
    /// Per pair of output pixels: its first tap in `offsets` and `weights`, and how many.
    spans: Vec<(usize, usize)>,
    /// Per tap: where the two pixels' windows start in the row (floats).
    offsets: Vec<[usize; 2]>,
    /// Per tap: the first pixel's weight in lanes 0–3, the second's in lanes 4–7.
    weights: Vec<[f32; 8]>,
    /// The floats a row must hold: the last window's start plus four.
    reach: usize,
}

#[cfg(target_arch = "x86_64")]
impl PixelPairs {
    fn new(columns: &[Taps]) -> Self {
        let mut pairs = Self {
            spans: Vec::with_capacity(columns.len() / 2),
            offsets: Vec::new(),
            weights: Vec::new(),
            reach: 0,
        };
        for pair in columns.chunks_exact(2) {
            let n = pair[0].weights.len().max(pair[1].weights.len());
            pairs.spans.push((pairs.offsets.len(), n));
            for i in 0..n {
                let at = |t: &Taps| 3 * (t.first + i.min(t.weights.len() - 1));
                let weight = |t: &Taps| t.weights.get(i).copied().unwrap_or(0.0);
                let (a, b) = (weight(&pair[0]), weight(&pair[1]));
                pairs.offsets.push([at(&pair[0]), at(&pair[1])]);
                pairs.weights.push([a, a, a, a, b, b, b, b]);
                pairs.reach = pairs.reach.max(at(&pair[0]).max(at(&pair[1])) + 4);
            }
        }
        pairs
    }

    /// The pairs of one row: `row` the vertical pass's floats, `out` the row's bytes (an odd
    /// last pixel is left to the caller).
    #[target_feature(enable = "avx2")]
    fn row_avx2(&self, row: &[f32], out: &mut [u8]) {
        use std::arch::x86_64::*;
        assert!(
            row.len() >= self.reach && out.len() >= self.spans.len() * 6,
            "resize: a row shorter than its taps"
        );
        for (pixels, &(start, n)) in out.chunks_exact_mut(6).zip(&self.spans) {
            let mut t = _mm256_setzero_ps();
            for (&[a, b], weights) in self.offsets[start..start + n]
                .iter()
                .zip(&self.weights[start..start + n])
            {
                // SAFETY: floats `a..a + 4` and `b..b + 4` lie in `row` (`reach`, checked above).
                let v = unsafe { _mm256_loadu2_m128(row.as_ptr().add(b), row.as_ptr().add(a)) };
                // SAFETY: `weights` holds eight floats.
                let w = unsafe { _mm256_loadu_ps(weights.as_ptr()) };
                t = _mm256_add_ps(t, _mm256_mul_ps(v, w));
            }
            // `to_u8` on every lane, as in `weighted_pixel_sse2`.
            let v = _mm256_max_ps(_mm256_min_ps(t, _mm256_set1_ps(255.0)), _mm256_setzero_ps());
            let whole = _mm256_cvttps_epi32(v);
            let fraction = _mm256_sub_ps(v, _mm256_cvtepi32_ps(whole));
            let up = _mm256_cmp_ps::<_CMP_GE_OQ>(fraction, _mm256_set1_ps(0.5));
            let rounded = _mm256_sub_epi32(whole, _mm256_castps_si256(up));
            // Packing works within each 128-bit half: each pixel's bytes start its half.
            let words = _mm256_packs_epi32(rounded, rounded);
            let bytes = _mm256_packus_epi16(words, words);
            let [r0, g0, b0, _] = (_mm256_extract_epi32::<0>(bytes) as u32).to_le_bytes();
            let [r1, g1, b1, _] = (_mm256_extract_epi32::<4>(bytes) as u32).to_le_bytes();
            pixels.copy_from_slice(&[r0, g0, b0, r1, g1, b1]);
        }
    }
}

/// `Σ weights[i] · row[3(first + i)..][..3]` over `taps`, summed in tap order and rounded to
/// bytes. `row` holds one float past its last pixel: the three channels go together in four
/// lanes (the fourth is unused), the same sums as channel by channel in a third of the
/// instructions, with the rounding done in the same lanes.
#[inline(always)]
fn weighted_pixel(row: &[f32], taps: &Taps) -> [u8; 3] {
    // The floats the taps read, and the next one.
    let window = &row[taps.first * 3..][..taps.weights.len() * 3 + 1];
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: every x86-64 CPU has SSE2.
        unsafe { weighted_pixel_sse2(window, &taps.weights) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let mut t = [0f32; 3];
        for (i, &weight) in taps.weights.iter().enumerate() {
            for (t, &v) in t.iter_mut().zip(&window[3 * i..]) {
                *t += v * weight;
            }
        }
        t.map(to_u8)
    }
}

/// [`weighted_pixel`] in SSE2 registers. `window` holds `3 · weights.len() + 1` floats.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn weighted_pixel_sse2(window: &[f32], weights: &[f32]) -> [u8; 3] {
    use std::arch::x86_64::*;
    assert!(
        window.len() > 3 * weights.len(),
        "resize: a pixel window too short"
    );
    let mut t = _mm_setzero_ps();
    for (i, &weight) in weights.iter().enumerate() {
        // SAFETY: floats `3i..3i + 4` lie in `window` (`3i + 4 ≤ 3·len + 1`, checked above).
        let v = unsafe { _mm_loadu_ps(window.as_ptr().add(3 * i)) };
        t = _mm_add_ps(t, _mm_mul_ps(v, _mm_set1_ps(weight)));
    }
    // `to_u8` on every lane: clamp, truncate, add one where the fraction is ≥ ½.
    let v = _mm_max_ps(_mm_min_ps(t, _mm_set1_ps(255.0)), _mm_setzero_ps());
    let whole = _mm_cvttps_epi32(v);
    let up = _mm_cmpge_ps(_mm_sub_ps(v, _mm_cvtepi32_ps(whole)), _mm_set1_ps(0.5));
    let rounded = _mm_sub_epi32(whole, _mm_castps_si128(up));
    let bytes = _mm_packus_epi16(_mm_packs_epi32(rounded, rounded), _mm_setzero_si128());
    let [r, g, b, _] = (_mm_cvtsi128_si32(bytes) as u32).to_le_bytes();
    [r, g, b]
}

/// The vertical pass: rows of `row_len + 1` floats (the last one 0), row `y`
/// `Σ rows[y].weights[i] · src row (first + i)`, summed in tap order from the first product
/// (not from a zeroed buffer: the sums can differ only in the sign of a zero, which rounds to
/// the same byte, and the 0.7 MB of a demo photo need no clearing first). With AVX2 where the
/// CPU has it: the compiler then widens and multiplies eight bytes at a time instead of four
/// (plain multiplies and adds, so the same bits).
fn vertical(src: &[u8], row_len: usize, rows: &[Taps]) -> Vec<f32> {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU has AVX2 (`has_avx2`).
        return unsafe { vertical_avx2(src, row_len, rows) };
    }
    vertical_body(src, row_len, rows)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn vertical_avx2(src: &[u8], row_len: usize, rows: &[Taps]) -> Vec<f32> {
    vertical_body(src, row_len, rows)
}

#[inline(always)]
fn vertical_body(src: &[u8], row_len: usize, rows: &[Taps]) -> Vec<f32> {
    let mut tall = Vec::with_capacity(rows.len() * (row_len + 1));
    let src_row = |i: usize| &src[i * row_len..][..row_len];
    for taps in rows {
        let Some((&weight, rest)) = taps.weights.split_first() else {
            tall.resize(tall.len() + row_len + 1, 0.0);
            continue;
        };
        let start = tall.len();
        tall.extend(src_row(taps.first).iter().map(|&v| f32::from(v) * weight));
        for (i, &weight) in rest.iter().enumerate() {
            let row = src_row(taps.first + 1 + i);
            for (o, &v) in tall[start..].iter_mut().zip(row) {
                *o += f32::from(v) * weight;
            }
        }
        tall.push(0.0);
    }
    tall
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    fn noise(w: u32, h: u32, seed: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let v = (x * 7919 + y * 104_729 + seed).wrapping_mul(2_654_435_761);
            Rgb([(v >> 24) as u8, (v >> 16) as u8, (v >> 8) as u8])
        })
    }

    #[test]
    fn gives_the_same_bytes_as_the_image_crate() {
        // Shrinks (antialiased), enlargements, odd sizes, one-pixel sides, and a smooth
        // image as well as noise.
        let cases = [
            (256, 256, 224, 224),
            (400, 533, 168, 224),
            (533, 400, 224, 168),
            (100, 37, 224, 83),
            (1, 9, 3, 5),
            (17, 1, 4, 1),
            (300, 200, 299, 201),
        ];
        for (i, &(w, h, tw, th)) in cases.iter().enumerate() {
            let smooth = RgbImage::from_fn(w, h, |x, y| {
                Rgb([
                    (x * 255 / w) as u8,
                    (y * 255 / h) as u8,
                    ((x + y) % 256) as u8,
                ])
            });
            for img in [noise(w, h, i as u32), smooth] {
                let want =
                    image::imageops::resize(&img, tw, th, image::imageops::FilterType::CatmullRom);
                let got = resize(&img, tw, th);
                assert_eq!(got.dimensions(), (tw, th));
                let differ = got
                    .as_raw()
                    .iter()
                    .zip(want.as_raw())
                    .filter(|(a, b)| a != b)
                    .count();
                assert_eq!(differ, 0, "{w}×{h} → {tw}×{th}: {differ} bytes differ");
            }
        }
    }

    #[test]
    fn the_horizontal_pass_gives_the_same_bytes_two_pixels_at_a_time() {
        // Odd and even widths, shrinking and enlarging (pairs whose tap counts differ).
        for (w, width) in [(256, 224), (37, 11), (37, 12), (9, 64), (5, 1), (300, 299)] {
            let img = noise(w, 3, w);
            let stride = w as usize * 3 + 1;
            let tall = vertical(img.as_raw(), w as usize * 3, &taps(3, 3));
            let columns = taps(w, width);
            let mut dispatched = vec![0u8; 3 * width as usize * 3];
            let mut by_pixel = dispatched.clone();
            horizontal(&tall, stride, &columns, &mut dispatched);
            horizontal_by_pixel(&tall, stride, &columns, &mut by_pixel);
            assert_eq!(dispatched, by_pixel, "{w} → {width} columns");
        }
    }

    #[test]
    fn the_vertical_pass_gives_the_same_bits_with_and_without_avx2() {
        let img = noise(37, 29, 5);
        let row_len = 37 * 3;
        for height in [11, 29, 64] {
            let rows = taps(29, height);
            let dispatched = vertical(img.as_raw(), row_len, &rows);
            let plain = vertical_body(img.as_raw(), row_len, &rows);
            assert_eq!(dispatched.len(), height as usize * (row_len + 1));
            let same = dispatched
                .iter()
                .zip(&plain)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "29 → {height} rows");
        }
    }

    #[test]
    fn rounds_half_away_from_zero_and_clamps() {
        let values = [
            0.0f32, 0.49, 0.5, 1.5, 2.4999, 254.5, 255.0, 300.0, -3.0, -0.5, 127.5,
        ];
        for v in values {
            assert_eq!(to_u8(v), v.clamp(0.0, 255.0).round() as u8, "{v}");
        }
        // The pixel kernel rounds in its vector lanes: a single tap of weight 1 passes the
        // values through, three channels at a time.
        let one = Taps {
            first: 0,
            weights: vec![1.0],
        };
        for v in values.windows(3) {
            let row = [v[0], v[1], v[2], 99.0];
            let want = [to_u8(v[0]), to_u8(v[1]), to_u8(v[2])];
            assert_eq!(weighted_pixel(&row, &one), want, "{v:?}");
        }
    }
}

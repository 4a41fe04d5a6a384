//! K-Splits: split a mixed cart into uniform sub-carts without being told how many (ARCHITECTURE.md
//! §7).
//!
//! # Divisive K-Splits ([`ksplits`])
//!
//! A cart of shoes, shirts and jeans has a mean that looks like none of them, so its
//! recommendations are poor. K-Splits finds the groups: start with one cluster; take the
//! clusters in order of how far their points spread along their principal axis (the largest
//! eigenvalue of their scatter, found by power iteration), and split the first one whose
//! split is *clear*: a 2-means seeded at the widest gap between the points' projections on
//! that axis.
//! After each split a few k-means iterations over all points move the points an earlier
//! split left on the wrong side; repeat until no cluster splits clearly.
//!
//! A split is clear when two tests agree:
//! - *bimodal along the split*: projected on the line through the two new centres, the
//!   spread within the halves is at most `max_line_ratio` of the spread before (splitting
//!   one round blob leaves about 1 − 2/π ≈ 0.36 of it in any dimension; separate groups
//!   leave little), and the halves are apart by an empty stretch of at least `min_gap`
//!   standard deviations (a blob cut in its dense middle has next to none). Scale-free and independent of the dimension.
//! - *apart in the whole space*: `|μ_a − μ_b|² ≥ min_separation · (SSE_after / n)`. With a
//!   handful of points in 1280 dimensions (a cart) any split looks bimodal along its own
//!   line, so the groups must also lie further apart than their points lie from their
//!   centres: a uniform cart of six unrelated items (a simplex) gives exactly 1 here. The
//!   spread includes `noise_floor`, a squared distance under which items are never told
//!   apart (two near-identical items would otherwise split, each half having no spread).
//!
//! # Carts: bottom-up by shared catalogue neighbourhoods ([`split_cart`])
//!
//! The divisive criterion above works on many points per group (the synthetic tests), but a
//! cart holds a handful of items in 1280 dimensions, and in the ImageNet embedding items of
//! one garment category lie barely closer than items of different ones (on the 2,000-item
//! demo: squared distance 0.95 within a category, 1.24 between). Measured over the demo's
//! 500 carts (purity: share of items in their group's majority category; pair recall: share
//! of same-category pairs kept together), the divisive split gave purity 0.92 but pair
//! recall 0.27 at 4.7 groups per cart: nearly every item alone, e.g. two knee boots apart.
//! No single threshold on raw distances does well either (average linkage reaches purity
//! 0.92 only at pair recall 0.75).
//!
//! So carts are split on the catalogue's own structure, ARCHITECTURE.md §7's "uniform sub-carts" by
//! another route: each cart item's neighbourhood is its `neighbours` nearest catalogue
//! items ([`cart_neighbours`]: a fifteenth of the catalogue, about one kind's share), and
//! two items are of one kind as far as their neighbourhoods overlap (shared nearest
//! neighbours, robust where the raw distances are murky, and free of any scale to tune).
//! Then average-linkage agglomeration: every item starts alone, the two groups whose items'
//! neighbourhoods overlap most on average merge while `1 − overlap < link_distance`
//! (0.9: at least a tenth of the neighbourhood shared). Bottom-up suits a handful of points,
//! and the number of groups again follows from the data. On the demo this gives purity
//! 0.91, pair recall 0.86 at 2.9 groups per cart (the two parameters trade one for the other
//! along a frontier; this point keeps purity above 0.9). Without a catalogue, carts go to
//! [`ksplits`] with `noise_floor` from the catalogue ([`typical_neighbour_distance`]).
use crate::index::EmbeddingIndex;
use crate::index::scan::top_k;

/// How K-Splits decides.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KSplitsOptions {
    /// Along the line through the two new centres, the most spread the halves may keep, as
    /// a share of the spread before the split.
    pub max_line_ratio: f32,
    /// Along that line, the empty stretch between the halves must be at least this many
    /// times the standard deviation before the split.
    pub min_gap: f32,
    /// The squared distance between the two new centres must be more than this many times
    /// the mean squared distance of the points to their centres.
    pub min_separation: f32,
    /// A squared distance added to the points' spread, below which nothing is told apart.
    pub noise_floor: f32,
    /// For [`split_cart`]: how many nearest catalogue items make an item's neighbourhood;
    /// 0 leaves carts to [`ksplits`].
    pub neighbours: usize,
    /// For [`split_cart`]: two groups merge while their items' neighbourhoods differ, on
    /// average, by less than this share (1 − overlap).
    pub link_distance: f32,
    /// Never more groups than this.
    pub max_groups: usize,
    /// k-means iterations over all points at the end.
    pub kmeans_iterations: usize,
}

impl Default for KSplitsOptions {
    fn default() -> Self {
        KSplitsOptions {
            max_line_ratio: 0.3,
            min_gap: 0.25,
            min_separation: 1.0,
            noise_floor: 0.0,
            neighbours: 0,
            link_distance: 0.9,
            max_groups: 8,
            kmeans_iterations: 5,
        }
    }
}

/// Splits `points` (all of the same width) into groups of point indices: the largest group
/// first, each group in ascending index order. No points, no groups.
pub fn ksplits(points: &[&[f32]], options: &KSplitsOptions) -> Vec<Vec<usize>> {
    if points.is_empty() {
        return Vec::new();
    }
    let dim = points[0].len();
    let mut clusters: Vec<Vec<usize>> = vec![(0..points.len()).collect()];
    let max_groups = options.max_groups.max(1);
    while clusters.len() < max_groups {
        // The clusters by their spread along the principal axis, widest first.
        let mut candidates: Vec<(usize, f32, Vec<f32>)> = clusters
            .iter()
            .enumerate()
            .filter(|(_, c)| c.len() >= 2)
            .map(|(i, c)| {
                let (spread, axis) = principal_axis(points, c, dim);
                (i, spread, axis)
            })
            .filter(|(_, spread, _)| *spread > 0.0)
            .collect();
        candidates.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let split = candidates.into_iter().find_map(|(i, _, axis)| {
            clear_split(points, &clusters[i], &axis, dim, options).map(|halves| (i, halves))
        });
        let Some((i, (a, b))) = split else {
            break;
        };
        clusters[i] = a;
        clusters.push(b);
        // Points a split left on the wrong side of an earlier one move to their group.
        clusters = kmeans(points, clusters, dim, options.kmeans_iterations);
    }
    let mut groups = kmeans(points, clusters, dim, options.kmeans_iterations);
    for g in &mut groups {
        g.sort_unstable();
    }
    groups.sort_by(|a, b| b.len().cmp(&a.len()).then(a[0].cmp(&b[0])));
    groups
}

/// The typical squared distance between an item and its nearest other item, over a sample of
/// up to `sample` rows of `index` (rows are unit length, so it is `2 − 2·cos`). The noise
/// floor for carts: two items closer than this are "the same kind of thing".
pub fn typical_neighbour_distance(index: &EmbeddingIndex, sample: usize) -> f32 {
    let n = index.len();
    if n < 2 || sample == 0 {
        return 0.0;
    }
    let step = (n / sample.min(n)).max(1);
    let mut total = 0f64;
    let mut count = 0usize;
    for row in (0..n).step_by(step).take(sample) {
        let Ok(hits) = top_k(index, &index.row(row), 2, None) else {
            continue;
        };
        if let Some(hit) = hits.iter().find(|h| h.row != row) {
            total += f64::from((2.0 - 2.0 * hit.score).max(0.0));
            count += 1;
        }
    }
    if count == 0 {
        0.0
    } else {
        (total / count as f64) as f32
    }
}

/// Average-linkage agglomeration over the square distance matrix `d`: every item starts
/// alone; the two groups closest on average (mean of `d` over all their cross pairs) merge,
/// while that mean is below `link_distance` or there are more than `max_groups` groups.
/// Largest group first, each ascending.
pub fn agglomerate(d: &[Vec<f32>], link_distance: f32, max_groups: usize) -> Vec<Vec<usize>> {
    let n = d.len();
    let mut groups: Vec<Vec<usize>> = (0..n).map(|i| vec![i]).collect();
    let max_groups = max_groups.max(1);
    while groups.len() > 1 {
        let mut best: Option<(f32, usize, usize)> = None;
        for a in 0..groups.len() {
            for b in a + 1..groups.len() {
                let total: f32 = groups[a]
                    .iter()
                    .flat_map(|&i| groups[b].iter().map(move |&j| (i, j)))
                    .map(|(i, j)| d[i][j])
                    .sum();
                let mean = total / (groups[a].len() * groups[b].len()) as f32;
                if best.is_none_or(|(m, _, _)| mean < m) {
                    best = Some((mean, a, b));
                }
            }
        }
        let Some((mean, a, b)) = best else { break };
        if !(mean < link_distance || groups.len() > max_groups) {
            break;
        }
        let merged = groups.swap_remove(b);
        groups[a].extend(merged);
    }
    for g in &mut groups {
        g.sort_unstable();
    }
    groups.sort_by(|a, b| b.len().cmp(&a.len()).then(a[0].cmp(&b[0])));
    groups
}

/// Splits a cart (`points`, rows of the catalogue or items like them) into groups of one
/// kind, judged by the catalogue `matrix` (row-major, `dim` wide): bottom-up by shared
/// catalogue neighbourhoods when `options.neighbours > 0` and the catalogue has rows (see
/// the module docs), else by [`ksplits`]. Largest group first, each ascending.
pub fn split_cart(
    points: &[&[f32]],
    matrix: &[f32],
    dim: usize,
    options: &KSplitsOptions,
) -> Vec<Vec<usize>> {
    if options.neighbours == 0 || dim == 0 || matrix.len() < dim {
        return ksplits(points, options);
    }
    let d = neighbourhood_distances(points, matrix, dim, options.neighbours);
    agglomerate(&d, options.link_distance, options.max_groups)
}

/// The neighbourhood size [`split_cart`] uses for a catalogue of `rows` items: about a
/// fifteenth of it, a kind's share of a catalogue of a dozen or so kinds.
pub fn cart_neighbours(rows: usize) -> usize {
    rows.div_ceil(15).max(1)
}

/// For each of `points`, the set (sorted rows) of its `k` nearest rows of the catalogue
/// `matrix` (`dim` wide); then `1 − |N(a) ∩ N(b)| / k` for every pair: how little two items'
/// catalogue neighbourhoods overlap (shared nearest neighbours).
pub fn neighbourhood_distances(
    points: &[&[f32]],
    matrix: &[f32],
    dim: usize,
    k: usize,
) -> Vec<Vec<f32>> {
    let n = matrix.len().checked_div(dim).unwrap_or(0);
    let k = k.clamp(1, n.max(1));
    let sets: Vec<Vec<usize>> = points
        .iter()
        .map(|p| {
            let mut dist: Vec<(f32, usize)> = (0..n)
                .map(|o| (squared_distance(p, &matrix[o * dim..(o + 1) * dim]), o))
                .collect();
            if k < dist.len() {
                dist.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                dist.truncate(k);
            }
            let mut set: Vec<usize> = dist.into_iter().map(|(_, o)| o).collect();
            set.sort_unstable();
            set
        })
        .collect();
    sets.iter()
        .map(|a| {
            sets.iter()
                .map(|b| {
                    let shared = a.iter().filter(|x| b.binary_search(x).is_ok()).count();
                    1.0 - shared as f32 / k as f32
                })
                .collect()
        })
        .collect()
}

fn centroid(points: &[&[f32]], members: &[usize], dim: usize) -> Vec<f32> {
    let mut c = vec![0f32; dim];
    for &i in members {
        for (c, x) in c.iter_mut().zip(points[i]) {
            *c += x;
        }
    }
    let n = members.len().max(1) as f32;
    for c in &mut c {
        *c /= n;
    }
    c
}

fn squared_distance(a: &[f32], b: &[f32]) -> f32 {
    crate::simd::lane_sum(a, b, |x, y| (x - y) * (x - y))
}

/// The largest eigenvalue of the cluster's scatter matrix `Σ (x−μ)(x−μ)ᵀ` and its unit
/// eigenvector, by power iteration (never forming the dim × dim matrix: carts live in
/// 1280 dimensions but hold a handful of points).
fn principal_axis(points: &[&[f32]], members: &[usize], dim: usize) -> (f32, Vec<f32>) {
    let mean = centroid(points, members, dim);
    let centred: Vec<Vec<f32>> = members
        .iter()
        .map(|&i| points[i].iter().zip(&mean).map(|(x, m)| x - m).collect())
        .collect();
    // Start from the point furthest from the mean: never orthogonal to the main axis.
    let Some(start) = centred
        .iter()
        .max_by(|a, b| norm2(a).total_cmp(&norm2(b)))
        .cloned()
    else {
        return (0.0, vec![0.0; dim]);
    };
    let mut v = start;
    let mut eigenvalue = 0f32;
    for _ in 0..50 {
        let n = norm2(&v).sqrt();
        if n == 0.0 || !n.is_finite() {
            return (0.0, vec![0.0; dim]);
        }
        v.iter_mut().for_each(|x| *x /= n);
        let mut next = vec![0f32; dim];
        for x in &centred {
            let p: f32 = x.iter().zip(&v).map(|(a, b)| a * b).sum();
            for (n, a) in next.iter_mut().zip(x) {
                *n += p * a;
            }
        }
        let value = norm2(&next).sqrt();
        let converged = (value - eigenvalue).abs() <= 1e-6 * value.max(1e-12);
        eigenvalue = value;
        v = next;
        if converged {
            break;
        }
    }
    let n = norm2(&v).sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
    (eigenvalue, v)
}

fn norm2(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum()
}

/// A 2-means split of `members` seeded on `axis`, if it is clear (see the module docs).
fn clear_split(
    points: &[&[f32]],
    members: &[usize],
    axis: &[f32],
    dim: usize,
    options: &KSplitsOptions,
) -> Option<(Vec<usize>, Vec<usize>)> {
    let mean = centroid(points, members, dim);
    let projection = |i: usize| -> f32 {
        points[i]
            .iter()
            .zip(&mean)
            .zip(axis)
            .map(|((x, m), a)| (x - m) * a)
            .sum()
    };
    // Three seeds, the best 2-means (lowest within-cluster error) wins: the sign on the
    // axis; the widest gap between neighbouring projections (between two groups when there
    // are groups); the point furthest from the mean against the point furthest from it.
    let mut order: Vec<(f32, usize)> = members.iter().map(|&i| (projection(i), i)).collect();
    order.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
    let cut = order
        .windows(2)
        .enumerate()
        .max_by(|x, y| (x.1[1].0 - x.1[0].0).total_cmp(&(y.1[1].0 - y.1[0].0)))
        .map_or(1, |(k, _)| k + 1);
    let furthest = |from: &[f32]| -> usize {
        members
            .iter()
            .copied()
            .max_by(|&x, &y| {
                squared_distance(points[x], from).total_cmp(&squared_distance(points[y], from))
            })
            .unwrap_or(members[0])
    };
    let p = furthest(&mean);
    let q = furthest(points[p]);
    let seeds: [Vec<usize>; 3] = [
        order.iter().filter(|o| o.0 < 0.0).map(|o| o.1).collect(),
        order[..cut].iter().map(|o| o.1).collect(),
        members
            .iter()
            .copied()
            .filter(|&i| {
                squared_distance(points[i], points[p]) < squared_distance(points[i], points[q])
            })
            .collect(),
    ];
    let (a, b, _) = seeds
        .iter()
        .filter_map(|seed| two_means(points, members, seed, dim))
        .min_by(|x, y| x.2.total_cmp(&y.2))?;
    let (ca, cb) = (centroid(points, &a, dim), centroid(points, &b, dim));
    let separation = squared_distance(&ca, &cb);
    if separation <= 0.0 || !separation.is_finite() {
        return None;
    }
    let n = members.len() as f32;
    let floor = options.noise_floor.max(0.0);
    // Along the line through the centres.
    let line: Vec<f32> = ca.iter().zip(&cb).map(|(x, y)| y - x).collect();
    let along = |i: usize, c: &[f32]| -> f32 {
        points[i]
            .iter()
            .zip(c)
            .zip(&line)
            .map(|((x, m), u)| (x - m) * u)
            .sum::<f32>()
            .powi(2)
            / separation
    };
    let line_before = members.iter().map(|&i| along(i, &mean)).sum::<f32>() / n;
    let line_after = (a.iter().map(|&i| along(i, &ca)).sum::<f32>()
        + b.iter().map(|&i| along(i, &cb)).sum::<f32>())
        / n;
    // In the whole space.
    let sse: f32 = a
        .iter()
        .map(|&i| squared_distance(points[i], &ca))
        .chain(b.iter().map(|&i| squared_distance(points[i], &cb)))
        .sum();
    let spread = sse / n + floor;
    // The empty stretch of the line between the halves, against the spread before.
    let offset = |i: usize| -> f32 {
        points[i]
            .iter()
            .zip(&ca)
            .zip(&line)
            .map(|((x, m), u)| (x - m) * u)
            .sum::<f32>()
            / separation.sqrt()
    };
    let a_end = a.iter().map(|&i| offset(i)).fold(f32::MIN, f32::max);
    let b_start = b.iter().map(|&i| offset(i)).fold(f32::MAX, f32::min);
    let gap = (b_start - a_end).max(0.0) / line_before.sqrt();
    let bimodal = line_after <= options.max_line_ratio * line_before && gap >= options.min_gap;
    let apart = separation > options.min_separation * spread;
    (bimodal && apart).then_some((a, b))
}

/// 2-means over `members` from the split (`first`, the rest); `None` when a side empties.
/// Returns both sides (ascending) and the within-cluster squared error.
fn two_means(
    points: &[&[f32]],
    members: &[usize],
    first: &[usize],
    dim: usize,
) -> Option<(Vec<usize>, Vec<usize>, f32)> {
    let mut a: Vec<usize> = first.to_vec();
    a.sort_unstable();
    let mut b: Vec<usize> = members
        .iter()
        .copied()
        .filter(|i| a.binary_search(i).is_err())
        .collect();
    for _ in 0..30 {
        if a.is_empty() || b.is_empty() {
            return None;
        }
        let (ca, cb) = (centroid(points, &a, dim), centroid(points, &b, dim));
        let (na, nb): (Vec<usize>, Vec<usize>) = members
            .iter()
            .copied()
            .partition(|&i| squared_distance(points[i], &ca) <= squared_distance(points[i], &cb));
        if na == a {
            break;
        }
        (a, b) = (na, nb);
    }
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let (ca, cb) = (centroid(points, &a, dim), centroid(points, &b, dim));
    let sse = a
        .iter()
        .map(|&i| squared_distance(points[i], &ca))
        .chain(b.iter().map(|&i| squared_distance(points[i], &cb)))
        .sum();
    Some((a, b, sse))
}

/// Lloyd iterations from the given clusters; empty clusters are dropped.
fn kmeans(
    points: &[&[f32]],
    mut clusters: Vec<Vec<usize>>,
    dim: usize,
    iterations: usize,
) -> Vec<Vec<usize>> {
    for _ in 0..iterations {
        let centres: Vec<Vec<f32>> = clusters.iter().map(|c| centroid(points, c, dim)).collect();
        let mut next: Vec<Vec<usize>> = vec![Vec::new(); centres.len()];
        for (i, p) in points.iter().enumerate() {
            let best = centres
                .iter()
                .enumerate()
                .min_by(|a, b| {
                    squared_distance(p, a.1)
                        .total_cmp(&squared_distance(p, b.1))
                        .then(a.0.cmp(&b.0))
                })
                .map_or(0, |(j, _)| j);
            next[best].push(i);
        }
        next.retain(|c| !c.is_empty());
        if next == clusters {
            break;
        }
        clusters = next;
    }
    clusters.retain(|c| !c.is_empty());
    clusters
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A standard normal sample (Box–Muller).
    fn normal(rng: &mut ChaCha8Rng) -> f32 {
        let u1: f32 = rng.random::<f32>().max(1e-7);
        let u2: f32 = rng.random();
        (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
    }

    /// `k` round blobs of `per` points (enough that a blob's own shape is round) in `dim` dimensions, centres 10 apart on a circle (or
    /// further), each blob with its own spread; returns the points and each one's blob.
    fn blobs(
        k: usize,
        per: usize,
        dim: usize,
        spreads: &[f32],
        seed: u64,
    ) -> (Vec<Vec<f32>>, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let radius = if k > 1 {
            10.0 / (2.0 * (std::f32::consts::PI / k as f32).sin())
        } else {
            0.0
        };
        let mut points = Vec::new();
        let mut truth = Vec::new();
        for c in 0..k {
            let angle = std::f32::consts::TAU * c as f32 / k as f32;
            let sigma = spreads[c % spreads.len()];
            for _ in 0..per {
                let mut p: Vec<f32> = (0..dim).map(|_| sigma * normal(&mut rng)).collect();
                p[0] += radius * angle.cos() + 3.0;
                p[1] += radius * angle.sin() - 7.0;
                points.push(p);
                truth.push(c);
            }
        }
        (points, truth)
    }

    /// Every group holds points of one blob only.
    fn pure(groups: &[Vec<usize>], truth: &[usize]) -> bool {
        groups
            .iter()
            .all(|g| g.iter().all(|&i| truth[i] == truth[g[0]]))
    }

    #[test]
    fn finds_one_to_six_clusters_at_different_spreads() {
        // Neighbouring centres lie 10 apart: at least ten times the widest spread.
        let spread_sets: [&[f32]; 3] = [&[0.5], &[0.2, 1.0, 0.6], &[1.0, 0.05]];
        for dim in [2, 8] {
            for (s, spreads) in spread_sets.iter().enumerate() {
                for k in 1..=6 {
                    let (points, truth) = blobs(k, 100, dim, spreads, (k * 10 + s) as u64);
                    let refs: Vec<&[f32]> = points.iter().map(|p| p.as_slice()).collect();
                    let groups = ksplits(&refs, &KSplitsOptions::default());
                    assert_eq!(groups.len(), k, "dim {dim}, spreads {spreads:?}, k {k}");
                    assert!(
                        pure(&groups, &truth),
                        "dim {dim}, spreads {spreads:?}, k {k}"
                    );
                    let total: usize = groups.iter().map(Vec::len).sum();
                    assert_eq!(total, points.len());
                }
            }
        }
    }

    #[test]
    fn a_single_blob_of_any_scale_stays_whole() {
        for scale in [1e-3f32, 1.0, 1e3] {
            let (points, _) = blobs(1, 60, 2, &[scale], 7);
            let refs: Vec<&[f32]> = points.iter().map(|p| p.as_slice()).collect();
            assert_eq!(
                ksplits(&refs, &KSplitsOptions::default()).len(),
                1,
                "{scale}"
            );
        }
    }

    #[test]
    fn small_carts_split_by_kind_above_the_noise_floor() {
        // Two shoes close together and a shirt far away.
        let shoe_a = [1.0, 0.0, 0.0];
        let shoe_b = [0.95, 0.05, 0.0];
        let shirt = [0.0, 0.0, 1.0];
        let options = KSplitsOptions {
            noise_floor: 0.01,
            ..KSplitsOptions::default()
        };
        let groups = ksplits(&[&shoe_a, &shirt, &shoe_b], &options);
        assert_eq!(groups, vec![vec![0, 2], vec![1]]);
        // Two near-identical items are one group; without a floor they would split.
        assert_eq!(ksplits(&[&shoe_a, &shoe_b], &options).len(), 1);
        assert_eq!(
            ksplits(&[&shoe_a, &shoe_b], &KSplitsOptions::default()).len(),
            2
        );
        // Identical points, one point, no points.
        assert_eq!(ksplits(&[&shoe_a, &shoe_a], &options), vec![vec![0, 1]]);
        assert_eq!(ksplits(&[&shirt], &options), vec![vec![0]]);
        assert!(ksplits(&[], &options).is_empty());
    }

    /// A catalogue of `kinds` kinds, `per` items each, in `dim` dimensions: unit-length
    /// items scattered (spread `sigma`) around random unit centres. Rows and each one's kind.
    fn catalogue(
        kinds: usize,
        per: usize,
        dim: usize,
        sigma: f32,
        seed: u64,
    ) -> (Vec<f32>, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let unit = |mut v: Vec<f32>| {
            let n = norm2(&v).sqrt();
            v.iter_mut().for_each(|x| *x /= n);
            v
        };
        let centres: Vec<Vec<f32>> = (0..kinds)
            .map(|_| unit((0..dim).map(|_| normal(&mut rng)).collect()))
            .collect();
        let mut matrix = Vec::new();
        let mut kind = Vec::new();
        for (k, c) in centres.iter().enumerate() {
            for _ in 0..per {
                let noisy = c.iter().map(|x| x + sigma * normal(&mut rng)).collect();
                matrix.extend(unit(noisy));
                kind.push(k);
            }
        }
        (matrix, kind)
    }

    #[test]
    fn carts_split_by_kind_through_shared_catalogue_neighbourhoods() {
        // Twelve kinds; within a kind items lie about as far apart as between kinds in
        // any one direction (sigma · √dim ≈ 1), so the raw distances alone are murky.
        let (dim, per) = (64, 40);
        let (matrix, kind) = catalogue(12, per, dim, 0.15, 11);
        let options = KSplitsOptions {
            neighbours: cart_neighbours(kind.len()),
            ..KSplitsOptions::default()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for trial in 0..20 {
            // A cart of 2..=8 items from 1..=4 kinds, some kinds with a single item.
            let size = rng.random_range(2..=8);
            let kinds: Vec<usize> = (0..rng.random_range(1..=4))
                .map(|_| rng.random_range(0..12))
                .collect();
            let rows: Vec<usize> = (0..size)
                .map(|i| kinds[i % kinds.len()] * per + rng.random_range(0..per))
                .collect();
            let points: Vec<&[f32]> = rows
                .iter()
                .map(|&r| &matrix[r * dim..(r + 1) * dim])
                .collect();
            let truth: Vec<usize> = rows.iter().map(|&r| kind[r]).collect();
            let groups = split_cart(&points, &matrix, dim, &options);
            assert!(pure(&groups, &truth), "trial {trial}: {groups:?} {truth:?}");
            let mut distinct = truth.clone();
            distinct.sort_unstable();
            distinct.dedup();
            assert_eq!(
                groups.len(),
                distinct.len(),
                "trial {trial}: {groups:?} {truth:?}"
            );
        }
        // No catalogue: K-Splits over the points themselves.
        let a = [1.0, 0.0];
        let b = [0.0, 1.0];
        assert_eq!(split_cart(&[&a, &b], &[], 2, &options).len(), 2);
    }

    #[test]
    fn max_groups_caps_the_splits() {
        let (points, _) = blobs(5, 20, 2, &[0.3], 3);
        let refs: Vec<&[f32]> = points.iter().map(|p| p.as_slice()).collect();
        let options = KSplitsOptions {
            max_groups: 3,
            ..KSplitsOptions::default()
        };
        assert_eq!(ksplits(&refs, &options).len(), 3);
    }
}

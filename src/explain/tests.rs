use super::*;
use crate::index::{self, BuildOptions};
use crate::jobs::JobContext;
use crate::library::Library;
use crate::search::{SearchFilter, Searcher};
use crate::sources::demo::{DemoOptions, generate};

/// A `channels × h × w` map of small distinct values, with cell `(px, py)` set to `peak`.
fn map_with(
    channels: usize,
    (w, h): (usize, usize),
    (px, py): (usize, usize),
    peak: &[f32],
) -> FeatureMap {
    let mut values = vec![0.0f32; channels * w * h];
    for c in 0..channels {
        for y in 0..h {
            for x in 0..w {
                // Each cell leans towards its own channel: far from `peak`'s direction.
                let v = if (y * w + x) % channels == c {
                    1.0
                } else {
                    0.05
                };
                values[c * w * h + y * w + x] = v;
            }
        }
        values[c * w * h + py * w + px] = peak[c];
    }
    FeatureMap::new(channels, h, w, values).unwrap()
}

#[test]
fn the_cell_equal_to_the_other_pooled_vector_is_the_peak() {
    let target = [0.2, 0.9, 0.1, 0.4, 0.3];
    let map = map_with(5, (7, 7), (4, 2), &target);
    let heat = agreement(&map, &target).unwrap();
    assert_eq!(heat.size(), (7, 7));
    assert_eq!(heat.peak(), (4, 2));
    assert_eq!(heat.value(4, 2), 1.0);
    assert!(heat.values().iter().all(|v| (0.0..=1.0).contains(v)));
    // Min–max: the least agreeing cell is 0.
    assert_eq!(heat.values().iter().copied().fold(1.0f32, f32::min), 0.0);
    // Scaling the other vector changes nothing (a cosine).
    let doubled: Vec<f32> = target.iter().map(|v| v * 2.0).collect();
    assert_eq!(agreement(&map, &doubled).unwrap(), heat);
}

#[test]
fn negative_agreement_is_clamped_and_a_flat_map_is_zero() {
    // Cell (0,0) points away from the other vector (cosine −1), cell (1,0) along it (+1),
    // cell (2,0) across it (0): clamping makes −1 and 0 the same, both the minimum.
    let values = vec![-1.0, 1.0, 0.0, 0.0, 0.0, 1.0];
    let map = FeatureMap::new(2, 1, 3, values).unwrap();
    let heat = agreement(&map, &[1.0, 0.0]).unwrap();
    assert_eq!(heat.values(), &[0.0, 1.0, 0.0]);
    let flat = FeatureMap::new(2, 2, 2, vec![1.0; 8]).unwrap();
    let heat = agreement(&flat, &[1.0, 1.0]).unwrap();
    assert!(heat.values().iter().all(|&v| v == 0.0));
    // A vector of another width (another system) is refused, not mis-read.
    assert!(agreement(&flat, &[1.0, 1.0, 1.0]).is_err());
    assert!(FeatureMap::new(2, 2, 2, vec![1.0; 7]).is_err());
}

#[test]
fn pooled_is_the_mean_of_each_channel() {
    let map = FeatureMap::new(2, 2, 2, vec![1.0, 2.0, 3.0, 6.0, 0.0, 0.0, 0.0, 4.0]).unwrap();
    assert_eq!(map.pooled(), vec![3.0, 1.0]);
}

#[test]
fn upsampling_keeps_the_range_and_the_peak_and_has_the_asked_shape() {
    let target = [0.3, 0.8, 0.5];
    let heat = agreement(&map_with(3, (7, 7), (5, 1), &target), &target).unwrap();
    let big = heat.upsample(224, 160);
    assert_eq!(big.size(), (224, 160));
    assert_eq!(big.values().len(), 224 * 160);
    assert!(big.values().iter().all(|v| (0.0..=1.0).contains(v)));
    let (x, y) = big.peak();
    // The peak lands inside cell (5, 1) of the 7×7 grid scaled to 224×160.
    assert_eq!((x * 7 / 224, y * 7 / 160), (5, 1), "{x},{y}");
    // A 1×1 map upsamples to a constant; a cell centre keeps its value.
    let one = Heatmap {
        width: 2,
        height: 1,
        values: vec![0.0, 1.0],
    };
    let wide = one.upsample(4, 1);
    assert_eq!(wide.values(), &[0.0, 0.25, 0.75, 1.0]);
}

#[test]
fn the_overlay_marks_hot_pixels_more_than_cold_ones_and_keeps_alpha() {
    let heat = Heatmap {
        width: 2,
        height: 1,
        values: vec![0.0, 1.0],
    };
    let mut img = RgbaImage::from_pixel(20, 10, image::Rgba([255, 255, 255, 200]));
    overlay(&mut img, &heat, DEFAULT_OPACITY);
    let change = |x: u32| {
        let p = img.get_pixel(x, 5).0;
        p[..3].iter().map(|&c| 255 - i32::from(c)).sum::<i32>()
    };
    assert!(
        change(19) > 2 * change(0),
        "{} vs {}",
        change(19),
        change(0)
    );
    assert!(change(0) > 0, "cold regions still get a faint wash");
    assert!(img.pixels().all(|p| p.0[3] == 200));
    // Turbo runs through blue, low, to red, high.
    assert!(colour_of(0.2)[2] > colour_of(0.2)[0]);
    assert!(colour_of(1.0)[0] > colour_of(1.0)[2]);
}

/// A search asked to keep the query's map gets it from the pass that embedded the query
/// (its mean is the query's embedding), and explaining results runs one pass per result
/// only, none for the query; a second explanation of the same result runs none.
#[test]
fn explaining_costs_no_query_pass_and_one_cached_pass_per_result() {
    let dir = tempfile::tempdir().unwrap();
    let mut lib = Library::open(&dir.path().join("lib")).unwrap();
    let demo = DemoOptions {
        items: 6,
        users: 1,
        street: 0,
        size_px: 96,
        ..DemoOptions::default()
    };
    generate(&mut lib, &demo, &JobContext::silent()).unwrap();
    let system = System::imagenet_lite0(&Device::Cpu).unwrap();
    index::build(
        &lib,
        &system,
        &BuildOptions::default(),
        &JobContext::silent(),
    )
    .unwrap();
    let searcher = Searcher::open(&lib, system.name(), &Device::Cpu).unwrap();
    let query_item = &searcher.items()[0];
    let filter = SearchFilter::default();

    let plain = searcher.query_file(&query_item.image, 3, &filter).unwrap();
    assert!(plain.query_features.is_none(), "plain searches keep no map");
    let result = searcher
        .query_file_explained(&query_item.image, 3, &filter)
        .unwrap();
    assert_eq!(result.results, plain.results);
    let map = result.query_features.clone().unwrap();
    assert_eq!((map.channels(), map.size()), (1280, (7, 7)));
    // The map's mean is the pooled vector the query was embedded with: here the item's
    // own index row (the same image).
    let pooled = map.pooled();
    let norm = pooled.iter().map(|v| v * v).sum::<f32>().sqrt();
    let row = searcher.index().row(0);
    for (a, b) in pooled.iter().zip(row.iter()) {
        assert!((a / norm - b).abs() < 1e-5, "{a} vs {b}");
    }

    let mut cache = FeatureCache::new(2);
    let image = crate::vision::decode(&query_item.image).unwrap();
    let side = QuerySide {
        image: &image,
        features: Some(map),
        item: None,
    };
    let ranked = &result.results[1];
    let target = (ranked.item_id, Path::new(&ranked.image));
    let pair = explain_pair(&system, &mut cache, &side, target, DEFAULT_OPACITY).unwrap();
    assert_eq!(
        cache.passes(),
        1,
        "one pass: the result's, none for the query"
    );
    assert_eq!(pair.query.dimensions(), (224, 224));
    assert_eq!(pair.result.dimensions(), (224, 224));
    explain_pair(&system, &mut cache, &side, target, DEFAULT_OPACITY).unwrap();
    assert_eq!(cache.passes(), 1, "the result's map is cached");
    // The LRU keeps two: a third item evicts the least recently used.
    for ranked in &result.results[..3] {
        cache
            .features(&system, ranked.item_id, Path::new(&ranked.image))
            .unwrap();
    }
    assert_eq!((cache.passes(), cache.len()), (3, 2));
    cache
        .features(
            &system,
            result.results[0].item_id,
            Path::new(&result.results[0].image),
        )
        .unwrap();
    assert_eq!(
        cache.passes(),
        4,
        "the evicted first item was computed again"
    );
}

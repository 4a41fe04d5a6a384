//! The vocabulary, the random specs and the renderer.

use super::*;
use crate::catalog::{Label, LabelGroup};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;

fn every_subtype() -> Vec<GarmentSpec> {
    Subtype::ALL
        .iter()
        .enumerate()
        .map(|(i, &st)| {
            let mut spec = GarmentSpec::plain(st, Colour::ALL[i % 12]);
            spec.details = st.details().iter().map(|d| d.0).take(3).collect();
            spec.variant = i as u32 * 7919;
            spec
        })
        .collect()
}

#[test]
fn the_vocabulary_is_as_listed() {
    assert_eq!(Category::ALL.len(), 12);
    assert!(Subtype::ALL.len() >= 35);
    assert_eq!(Colour::ALL.len(), 12);
    assert_eq!(Texture::ALL.len(), 6);
    assert_eq!(Detail::ALL.len(), 10);
    let vocab = vocabulary();
    let distinct: HashSet<_> = vocab.iter().collect();
    assert_eq!(distinct.len(), vocab.len());
    assert!(distinct.len() >= 80, "{}", distinct.len());
    for l in &vocab {
        assert_eq!(Label::new(l.group, &l.name), *l, "{l} is not normalised");
    }
}

#[test]
fn random_specs_are_labelled_within_the_vocabulary() {
    let vocab: HashSet<Label> = vocabulary().into_iter().collect();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut seen = HashSet::new();
    for _ in 0..3000 {
        let spec = GarmentSpec::random(&mut rng);
        let labels = spec.labels();
        assert!(labels.contains(&Label::new(LabelGroup::Category, spec.category().as_str())));
        assert!(labels.contains(&Label::new(LabelGroup::Subtype, spec.subtype.as_str())));
        assert!(spec.details.len() <= 3);
        for d in &spec.details {
            assert!(spec.subtype.details().iter().any(|x| x.0 == *d), "{spec:?}");
        }
        for &(x, y) in spec.subtype.exclusive() {
            assert!(!(spec.has(x) && spec.has(y)), "{spec:?}");
        }
        let cat = spec.category();
        assert_eq!(
            spec.sleeve.is_some(),
            matches!(cat, Category::Top | Category::Dress | Category::Outerwear),
            "{spec:?}"
        );
        for l in labels {
            assert!(vocab.contains(&l), "{l} not in the vocabulary");
            seen.insert(l);
        }
    }
    // Every detail and subtype actually occurs.
    for d in Detail::ALL {
        assert!(
            seen.contains(&Label::new(LabelGroup::Detail, d.as_str())),
            "{d:?}"
        );
    }
    assert!(seen.len() >= 80, "{}", seen.len());
}

#[test]
fn rendering_is_deterministic() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for _ in 0..6 {
        let spec = GarmentSpec::random(&mut rng);
        let a = render_shop(&spec, 96);
        let b = render_shop(&spec, 96);
        assert_eq!(a.image.as_raw(), b.image.as_raw());
        assert_eq!(a.mask.as_raw(), b.mask.as_raw());
    }
}

#[test]
fn every_subtype_renders_centred_inside_the_frame() {
    let size = 128u32;
    for spec in every_subtype() {
        let r = render_shop(&spec, size);
        assert_eq!(r.image.dimensions(), (size, size));
        let (mut n, mut lo, mut hi) = (0u32, (size, size), (0u32, 0u32));
        for (x, y, p) in r.mask.enumerate_pixels() {
            if p.0[0] > 127 {
                n += 1;
                lo = (lo.0.min(x), lo.1.min(y));
                hi = (hi.0.max(x), hi.1.max(y));
            }
        }
        assert!(
            n > size * size / 20,
            "{:?}: mask has {n} pixels",
            spec.subtype
        );
        assert!(
            lo.0 > 2 && lo.1 > 2 && hi.0 < size - 3 && hi.1 < size - 3,
            "{:?} touches the border",
            spec.subtype
        );
        // Fills most of the frame along its longer side.
        let extent = (hi.0 - lo.0).max(hi.1 - lo.1) as f32 / size as f32;
        assert!(
            (0.65..0.85).contains(&extent),
            "{:?}: extent {extent}",
            spec.subtype
        );
        for (x, y) in [(0, 0), (size - 1, 0), (0, size - 1), (size - 1, size - 1)] {
            let p = r.image.get_pixel(x, y).0;
            assert!(
                p.iter().all(|&c| c >= 225),
                "{:?}: corner {p:?}",
                spec.subtype
            );
            assert_eq!(r.mask.get_pixel(x, y).0[0], 0);
        }
    }
}

#[test]
fn white_items_stand_out_from_the_background() {
    let spec = GarmentSpec::plain(Subtype::TShirt, Colour::White);
    let r = render_shop(&spec, 128);
    let edge_dark = r
        .image
        .pixels()
        .zip(r.mask.pixels())
        .filter(|(_, m)| m.0[0] > 200)
        .filter(|(p, _)| p.0.iter().all(|&c| c < 170))
        .count();
    assert!(edge_dark > 60, "only {edge_dark} dark outline pixels");
}

#[test]
fn labels_follow_the_spec() {
    let mut spec = GarmentSpec::plain(Subtype::Shirt, Colour::Red);
    spec.details = vec![Detail::Collar, Detail::Buttons];
    spec.sleeve = Some(Sleeve::LongSleeve);
    let names: Vec<String> = spec.labels().iter().map(|l| l.to_string()).collect();
    for want in [
        "category:top",
        "subtype:shirt",
        "colour:red",
        "texture:solid",
        "detail:collar",
        "detail:buttons",
        "sleeve:long-sleeve",
        "fit:slim",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    assert!(names.iter().all(|n| !n.starts_with("length:")));
}

#[test]
fn street_poses_stay_in_range() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for _ in 0..200 {
        let p = Pose::street(&mut rng);
        assert!(p.rotation_rad.abs() <= 25f32.to_radians() + 1e-6);
        assert!((0.5..1.08).contains(&p.scale));
        assert!(p.limb_swing.abs() <= 0.35 && p.shear.abs() <= 0.15);
    }
    let shop = Pose::shop();
    assert_eq!(
        (shop.scale, shop.rotation_rad, shop.mirror),
        (1.0, 0.0, false)
    );
}

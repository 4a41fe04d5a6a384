//! The cut-out, its checks, the scenes and the surveys.

use super::*;
use crate::jobs::JobContext;
use crate::sources::demo::garments::render_shop;
use crate::sources::demo::item_spec;
use image::Rgb;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn rgb(c: [u8; 3]) -> Rgb<u8> {
    Rgb(c)
}

#[test]
fn the_border_colour_is_the_plain_background() {
    let mut img = RgbImage::from_pixel(20, 20, rgb([240, 238, 236]));
    img.put_pixel(0, 0, rgb([0, 0, 0]));
    for y in 5..15 {
        for x in 5..15 {
            img.put_pixel(x, y, rgb([200, 10, 10]));
        }
    }
    assert_eq!(border_colour(&img), [240, 238, 236]);
    let mask = item_mask(&img);
    assert_eq!(mask.get_pixel(10, 10)[0], 255);
    assert_eq!(mask.get_pixel(2, 2)[0], 0);
    // A pale hole inside the item is filled.
    img.put_pixel(10, 10, rgb([240, 238, 236]));
    assert_eq!(item_mask(&img).get_pixel(10, 10)[0], 255);
}

#[test]
fn demo_item_masks_match_the_drawn_silhouettes() {
    // The demo generator knows what it drew: its mask is the ground truth.
    let mut ious = Vec::new();
    for index in 0..16 {
        let spec = item_spec(7, index);
        let shop = render_shop(&spec, 256);
        let iou = mask_iou(&item_mask(&shop.image), &shop.mask);
        ious.push(iou);
    }
    let mean = ious.iter().sum::<f64>() / ious.len() as f64;
    eprintln!("mask IoU per item: {ious:.3?}");
    assert!(mean >= 0.9, "mean mask IoU {mean:.3}: {ious:.3?}");
    let first = ious[0];
    assert!(first >= 0.9, "item 0: {first:.3}");
}

#[test]
fn pasting_puts_the_item_on_a_scene_and_stays_seeded() {
    let shop = render_shop(&item_spec(7, 3), 128);
    let scenes = SceneSource::Procedural;
    let run = |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        on_new_background(&shop.image, &scenes, 96, None, &mut rng)
            .unwrap()
            .unwrap()
    };
    let a = run(1);
    assert_eq!(a.dimensions(), (96, 96));
    assert_eq!(a, run(1));
    assert_ne!(a, run(2));
    // The plain background is gone: the border is no longer one colour.
    let border = border_colour(&a);
    let differing = (0..96)
        .filter(|&x| {
            let p = a.get_pixel(x, 0).0;
            (0..3).any(|c| p[c].abs_diff(border[c]) > 20)
        })
        .count();
    assert!(differing > 5, "{differing}");
    // An image with nothing on it has nothing to cut out.
    let blank = RgbImage::from_pixel(32, 32, rgb([250, 250, 250]));
    assert!(cut_out(&blank).is_none());
}

/// A `w × h` photo of a plain `bg` background with a `fg` rectangle covering
/// `[x0, x1) × [y0, y1)`.
fn product_shot(w: u32, h: u32, bg: [u8; 3], fg: [u8; 3], rect: [u32; 4]) -> RgbImage {
    let [x0, y0, x1, y1] = rect;
    RgbImage::from_fn(w, h, |x, y| {
        if (x0..x1).contains(&x) && (y0..y1).contains(&y) {
            rgb(fg)
        } else {
            rgb(bg)
        }
    })
}

#[test]
fn cut_outs_are_judged_before_they_are_used() {
    // A plain background, an item of a fair size: reliable.
    let shop = product_shot(64, 64, [245, 245, 245], [30, 60, 150], [16, 12, 48, 52]);
    let (check, cutout) = check_cut_out(&shop);
    assert_eq!(check.verdict, CutoutVerdict::Reliable);
    assert_eq!(check.border_match, 1.0);
    let share = check.mask_share.unwrap();
    assert!(
        (share - (32.0 * 40.0) / (64.0 * 64.0)).abs() < 0.02,
        "{share}"
    );
    assert_eq!(cutout.unwrap().image.dimensions(), (32, 40));

    // A patterned floor: the border is no single colour.
    let floor = RgbImage::from_fn(64, 64, |x, y| {
        if (x / 4 + y / 4) % 2 == 0 {
            rgb([200, 150, 90])
        } else {
            rgb([120, 80, 40])
        }
    });
    let (check, cutout) = check_cut_out(&floor);
    assert_eq!(check.verdict, CutoutVerdict::BorderNotUniform);
    assert!(check.border_match < MIN_BORDER_MATCH && check.mask_share.is_none());
    assert!(cutout.is_none());

    // A speck, and an item filling almost the whole frame.
    let speck = product_shot(64, 64, [245; 3], [0; 3], [30, 30, 33, 33]);
    assert_eq!(check_cut_out(&speck).0.verdict, CutoutVerdict::MaskTooSmall);
    let blank = RgbImage::from_pixel(32, 32, rgb([250; 3]));
    assert_eq!(check_cut_out(&blank).0.verdict, CutoutVerdict::MaskTooSmall);
    let filled = product_shot(64, 64, [245; 3], [200, 20, 20], [1, 1, 63, 63]);
    assert_eq!(
        check_cut_out(&filled).0.verdict,
        CutoutVerdict::MaskTooLarge
    );

    // An unreliable photo is never pasted: the caller keeps it as it is.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let pasted = on_new_background(&floor, &SceneSource::Procedural, 32, None, &mut rng);
    assert!(pasted.unwrap().is_none());
}

#[test]
fn demo_shop_photos_are_all_reliable() {
    for index in 0..24 {
        let shop = render_shop(&item_spec(11, index), 192);
        let (check, _) = check_cut_out(&shop.image);
        assert_eq!(
            check.verdict,
            CutoutVerdict::Reliable,
            "item {index}: {check:?}"
        );
    }
}

#[test]
fn a_survey_counts_the_reliable_share_per_category() {
    let dir = tempfile::tempdir().unwrap();
    let save = |name: &str, img: &RgbImage| {
        let path = dir.path().join(name);
        img.save(&path).unwrap();
        path
    };
    let good = product_shot(48, 48, [240; 3], [10, 90, 10], [10, 10, 38, 40]);
    let floor = RgbImage::from_fn(48, 48, |x, _| rgb([(x * 5) as u8, 90, 40]));
    let photos = vec![
        SurveyPhoto {
            image: save("a.png", &good),
            category: Some("dress".into()),
        },
        SurveyPhoto {
            image: save("b.png", &floor),
            category: Some("dress".into()),
        },
        SurveyPhoto {
            image: save("c.png", &good),
            category: None,
        },
        SurveyPhoto {
            image: dir.path().join("missing.png"),
            category: None,
        },
    ];
    let survey = survey_cut_outs(&photos, &JobContext::silent()).unwrap();
    assert_eq!((survey.overall.checked, survey.overall.reliable), (3, 2));
    assert!((survey.overall.reliable_fraction - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(survey.unreadable, 1);
    assert_eq!(survey.verdicts[&CutoutVerdict::BorderNotUniform], 1);
    assert_eq!(survey.per_category["dress"].reliable, 1);
    assert_eq!(survey.per_category[""].reliable, 1);
    let json = serde_json::to_value(&survey).unwrap();
    assert_eq!(json["reliable"], 2);
    assert_eq!(json["verdicts"]["border-not-uniform"], 1);

    // The previews: a reliable photo on a scene, the skipped one dimmed; framed sheet.
    let (check, tile) = cut_out_preview(&good, 40, 1).unwrap();
    assert_eq!(
        (check.verdict, tile.dimensions()),
        (CutoutVerdict::Reliable, (40, 40))
    );
    let (checks, sheet) = cut_out_sheet(&photos, 2, 40).unwrap();
    assert_eq!(checks.len(), 3);
    assert_eq!(sheet.dimensions(), (2 * 48, 2 * 48));
    assert_eq!(sheet.get_pixel(0, 0).0, [40, 160, 60]);
    assert_eq!(sheet.get_pixel(48, 0).0, [200, 40, 40]);
}

#[test]
fn the_bundled_training_photos_decode_and_differ_from_the_street_set() {
    use crate::sources::demo::scenes::STREET_PHOTOS;
    let photos = training_photos().unwrap();
    assert_eq!(photos.len(), TRAINING_PHOTOS.len());
    for photo in &TRAINING_PHOTOS {
        assert!(
            STREET_PHOTOS
                .iter()
                .all(|s| s.name != photo.name && s.jpeg != photo.jpeg),
            "{} is in both sets",
            photo.name
        );
    }
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let a = SceneSource::Photos.scene(&mut rng, 64).unwrap();
    let b = SceneSource::Photos.scene(&mut rng, 64).unwrap();
    assert_eq!(a.dimensions(), (64, 64));
    assert_ne!(a, b, "every scene is a new crop");
}

#[test]
fn a_scene_folder_must_hold_images() {
    let dir = tempfile::tempdir().unwrap();
    let err = SceneSource::folder(dir.path()).unwrap_err().to_string();
    assert!(err.contains("no scene images"), "{err}");
    RgbImage::from_pixel(40, 20, rgb([10, 200, 10]))
        .save(dir.path().join("a.png"))
        .unwrap();
    let source = SceneSource::folder(dir.path()).unwrap();
    let scene = source.scene(&mut ChaCha8Rng::seed_from_u64(0), 16).unwrap();
    assert_eq!(scene.dimensions(), (16, 16));
    assert_eq!(scene.get_pixel(8, 8).0, [10, 200, 10]);
}

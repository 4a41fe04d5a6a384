//! Personalisation end to end on a small demo library: `personalize eval --json` (the
//! contract's shape, every method, fractions, the oracle ceiling), the CSV of every K, `recommend` per group,
//! `query --user`, and the refusal of a personaliser made for another system version.

use crate::common::{json, stderr, vitrine};

#[test]
fn eval_recommend_and_query_for_a_user_on_a_demo_library() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let out = vitrine(
        &lib,
        &["demo", "--items", "150", "--users", "60", "--street", "5"],
    );
    assert!(out.status.success(), "demo failed: {}", stderr(&out));
    let out = vitrine(&lib, &["index"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // K-Splits measured on every cart: both methods, shares in 0..1.
    let splits = json(&vitrine(&lib, &["personalize", "splits", "--json"]));
    assert!(splits["carts"].as_u64().unwrap() >= 10, "{splits}");
    let methods = splits["methods"].as_array().unwrap();
    let names: Vec<&str> = methods
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["shared-neighbourhoods", "principal-axis"]);
    for m in methods {
        for key in ["purity", "pair_recall"] {
            assert!((0.0..=1.0).contains(&m[key].as_f64().unwrap()), "{m}");
        }
        assert!(m["groups_per_cart"].as_f64().unwrap() >= 1.0, "{m}");
    }

    let csv = dir.path().join("recall.csv");
    let report = json(&vitrine(
        &lib,
        &[
            "personalize",
            "eval",
            "--json",
            "--epochs",
            "5",
            "--csv",
            csv.to_str().unwrap(),
        ],
    ));
    let tested = report["users_tested"].as_u64().unwrap();
    assert!(tested >= 5, "{report}");
    let methods = report["methods"].as_array().unwrap();
    let names: Vec<&str> = methods
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["popularity", "item-knn", "als", "cart-mean", "personaliser"]
    );
    for m in methods {
        let recall = m["recall"].as_object().unwrap();
        let mut ks: Vec<u32> = recall.keys().map(|k| k.parse().unwrap()).collect();
        ks.sort_unstable();
        assert_eq!(ks, [1, 5, 10, 20, 50], "{m}");
        let values: Vec<f64> = ks
            .iter()
            .map(|k| recall[&k.to_string()].as_f64().unwrap())
            .collect();
        assert!(values.iter().all(|v| (0.0..=1.0).contains(v)), "{m}");
        assert!(values.windows(2).all(|w| w[0] <= w[1]), "{m}");
        // A recall is a count of users over the users tested.
        for v in &values {
            let users = v * tested as f64;
            assert!((users - users.round()).abs() < 1e-9, "{m}");
        }
        let ndcg = m["ndcg10"].as_f64().unwrap();
        assert!((0.0..=values[2]).contains(&ndcg), "{m}");
        let category = m["category_accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&category), "{m}");
        let se = m["recall10_se"].as_f64().unwrap();
        assert!((se - (values[2] * (1.0 - values[2]) / tested as f64).sqrt()).abs() < 1e-12);
    }
    // A demo library carries the oracle ceiling: ranks the generator saved, on the same
    // test users, at least as good as chance.
    let ceiling = &report["ceiling"];
    assert_eq!(ceiling["name"], "oracle (ceiling)", "{report}");
    let oracle10 = ceiling["recall"]["10"].as_f64().unwrap();
    assert!(oracle10 >= 10.0 / 150.0, "{report}");
    let table = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(table.lines().count(), 7);
    assert_eq!(table.lines().next().unwrap().split(',').count(), 53);
    assert!(
        table
            .lines()
            .last()
            .unwrap()
            .starts_with("oracle (ceiling),")
    );

    // The saved personaliser is reused: a second evaluation gives the same figures.
    let again = json(&vitrine(&lib, &["personalize", "eval", "--json"]));
    assert_eq!(again, report);

    // Training alone, with another seed: a report of its epochs; the evaluation with the
    // first seed then trains its own again (its test users must be unseen).
    let trained = json(&vitrine(
        &lib,
        &[
            "personalize",
            "train",
            "--epochs",
            "3",
            "--seed",
            "5",
            "--json",
        ],
    ));
    assert_eq!(trained["system"], "imagenet-lite0");
    assert!(trained["train_examples"].as_u64().unwrap() > 0);
    assert!(trained["epochs"].as_array().unwrap().len() <= 4);
    let out = vitrine(&lib, &["personalize", "eval", "--epochs", "5", "--json"]);
    assert!(
        stderr(&out).contains("trained a personaliser first"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        json(&out),
        report,
        "the same seed trains the same personaliser"
    );

    // Recommendations per group, never an item of the cart.
    let rec = json(&vitrine(
        &lib,
        &[
            "personalize",
            "recommend",
            "--user",
            "demo-user-00002",
            "-k",
            "4",
            "--json",
        ],
    ));
    assert_eq!(rec["user"], "demo-user-00002");
    assert_eq!(rec["personaliser"], true);
    let cart: Vec<i64> = rec["cart"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["item_id"].as_i64().unwrap())
        .collect();
    assert!((5..=7).contains(&cart.len()));
    let groups = rec["groups"].as_array().unwrap();
    assert!(!groups.is_empty());
    let mut grouped: Vec<i64> = groups
        .iter()
        .flat_map(|g| {
            g["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_i64().unwrap())
        })
        .collect();
    grouped.sort_unstable();
    let mut sorted_cart = cart.clone();
    sorted_cart.sort_unstable();
    assert_eq!(
        grouped, sorted_cart,
        "every cart item is in exactly one group"
    );
    for g in groups {
        let results = g["results"].as_array().unwrap();
        assert_eq!(results.len(), 4);
        assert!(
            results
                .iter()
                .all(|r| !cart.contains(&r["item_id"].as_i64().unwrap()))
        );
    }

    // A visual query re-ranked for the user keeps K results, best first.
    let image = lib.join("images/catalog/demo-000003.png");
    let q = json(&vitrine(
        &lib,
        &[
            "query",
            image.to_str().unwrap(),
            "--user",
            "demo-user-00002",
            "-k",
            "5",
            "--json",
        ],
    ));
    let results = q["queries"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    let scores: Vec<f64> = results
        .iter()
        .map(|r| r["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    let out = vitrine(
        &lib,
        &["query", image.to_str().unwrap(), "--user", "nobody"],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no user \"nobody\""),
        "{}",
        stderr(&out)
    );

    // A personaliser of another system version is refused with the command to run.
    let path = lib.join("index/imagenet-lite0.personaliser.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let fp_start = text.find("\"fingerprint\":\"").unwrap() + 15;
    let mut tampered = bytes.clone();
    tampered[fp_start] = if bytes[fp_start] == b'0' { b'1' } else { b'0' };
    std::fs::write(&path, tampered).unwrap();
    let out = vitrine(
        &lib,
        &["personalize", "recommend", "--user", "demo-user-00002"],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("vitrine personalize train --system imagenet-lite0"),
        "{}",
        stderr(&out)
    );
}

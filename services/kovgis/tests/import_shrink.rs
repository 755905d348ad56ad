//! The shrink guard of `kovgis import`: a replace that would stage nothing, or close more than
//! the allowed share of the current rows, is refused with the numbers and writes nothing (the
//! layer intact, its lock free); a dry run reports the same numbers; `--allow-shrink` and
//! `--max-shrink-percent` let it through.

mod common;

use common::*;

/// 20 m squares in Tartu (EPSG:3301), away from the demo layers.
const X0: f64 = 650_000.0;
const Y0: f64 = 6_473_000.0;

/// A GeoJSON of zones: (id, ring) pairs, designation "EV".
fn zones(features: &[(&str, String)]) -> String {
    let features: Vec<String> = features
        .iter()
        .map(|(id, ring)| {
            format!(
                r#"{{"type":"Feature","properties":{{"zone_id":"{id}","designation":"EV"}},
                   "geometry":{{"type":"Polygon","coordinates":[{ring}]}}}}"#
            )
        })
        .collect();
    format!(
        r#"{{"type":"FeatureCollection","crs":{{"type":"name","properties":{{"name":"urn:ogc:def:crs:EPSG::3301"}}}},"features":[{}]}}"#,
        features.join(",")
    )
}

fn square(i: usize) -> String {
    let (x, y) = (X0 + 50.0 * i as f64, Y0);
    format!(
        "[[{x},{y}],[{},{y}],[{},{}],[{x},{}],[{x},{y}]]",
        x + 20.0,
        x + 20.0,
        y + 20.0,
        y + 20.0
    )
}

/// A self-intersecting ring (a bow tie): invalid, skipped without --repair.
fn bow_tie(i: usize) -> String {
    let (x, y) = (X0 + 50.0 * i as f64, Y0);
    format!(
        "[[{x},{y}],[{},{}],[{},{y}],[{x},{}],[{x},{y}]]",
        x + 20.0,
        y + 20.0,
        x + 20.0,
        y + 20.0
    )
}

/// Current features of the layer and dataset versions of the database.
async fn state(db: &TestDb, layer: &str) -> (i64, i64) {
    let r = db
        .sql()
        .await
        .query_one(
            "SELECT (SELECT count(*) FROM feature f JOIN layer l ON l.id = f.layer_id
                     WHERE l.name = $1 AND f.valid_to IS NULL),
                    (SELECT count(*) FROM dataset_version)",
            &[&layer],
        )
        .await
        .unwrap();
    (r.get(0), r.get(1))
}

#[tokio::test]
async fn a_file_of_invalid_features_cannot_empty_a_layer() {
    let db = TestDb::new("shrink").await;
    let good = db.dir.join("zones.geojson");
    std::fs::write(
        &good,
        zones(&[("Z1", square(0)), ("Z2", square(1)), ("Z3", square(2))]),
    )
    .unwrap();
    let out = ok(&db.import_zoning(&good, "zones", &[]));
    assert_eq!(count(&out, "written"), 3, "{out}");
    let before = state(&db, "zones").await;
    assert_eq!(before.0, 3);

    // The same three zones, every one invalid: all skipped, so the replace would stage nothing
    // and close the three.
    let bad = db.dir.join("bad.geojson");
    std::fs::write(
        &bad,
        zones(&[("Z1", bow_tie(0)), ("Z2", bow_tie(1)), ("Z3", bow_tie(2))]),
    )
    .unwrap();
    let o = db.import_zoning(&bad, "zones", &[]);
    assert!(!o.status.success(), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains("would stage nothing") && err.contains("close 3 of 3 features"),
        "{err}"
    );
    assert!(err.contains("--allow-shrink"), "{err}");
    // The reasons are shown with the refusal.
    assert!(
        stdout(&o).contains("feature 0: skipped: invalid geometry"),
        "{}",
        stdout(&o)
    );
    assert_eq!(state(&db, "zones").await, before, "nothing written");

    // A dry run reports the same numbers and succeeds.
    let out = ok(&db.import_zoning(&bad, "zones", &["--dry-run"]));
    assert!(out.contains("DRY RUN"), "{out}");
    assert!(
        out.contains("shrink: 3 of 3 current rows closed, 0 incoming; a real import is refused without --allow-shrink"),
        "{out}"
    );
    assert_eq!(state(&db, "zones").await, before);

    // Allowed: it goes ahead (and the lock was free: no --wait needed).
    let out = ok(&db.import_zoning(&bad, "zones", &["--allow-shrink"]));
    assert_eq!(
        (
            count(&out, "written"),
            count(&out, "skipped"),
            count(&out, "closed")
        ),
        (0, 3, 3),
        "{out}"
    );
    assert_eq!(state(&db, "zones").await.0, 0);
    db.drop_db().await;
}

#[tokio::test]
async fn closing_more_than_the_share_is_refused_with_the_numbers() {
    let db = TestDb::new("shrinkshare").await;
    let file = |name: &str, ids: &[usize]| {
        let path = db.dir.join(name);
        let features: Vec<(String, String)> =
            ids.iter().map(|&i| (format!("Z{i}"), square(i))).collect();
        let features: Vec<(&str, String)> = features
            .iter()
            .map(|(id, ring)| (id.as_str(), ring.clone()))
            .collect();
        std::fs::write(&path, zones(&features)).unwrap();
        path
    };
    let keyed = ["--map", "id=zone_id"];
    let all = file("all.geojson", &[0, 1, 2, 3, 4]);
    ok(&db.import_zoning(&all, "keyed", &keyed));
    // Keyed: two of five ids gone is 40 %.
    let three = file("three.geojson", &[0, 1, 2]);
    let o = db.import_zoning(&three, "keyed", &keyed);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("would close 2 of 5 features (40.0 %; at most 20 % may close"),
        "{}",
        stderr(&o)
    );
    assert_eq!(state(&db, "keyed").await.0, 5);
    // One of five is within the share.
    let four = file("four.geojson", &[0, 1, 2, 3]);
    let out = ok(&db.import_zoning(&four, "keyed", &keyed));
    assert_eq!(count(&out, "closed"), 1, "{out}");
    // The share is a setting: 50 % lets two of four go.
    let two = file("two.geojson", &[0, 1]);
    let o = db.import_zoning(&two, "keyed", &keyed);
    assert!(
        stderr(&o).contains("would close 2 of 4 features (50.0 %"),
        "{}",
        stderr(&o)
    );
    let mut with_share = keyed.to_vec();
    with_share.extend(["--max-shrink-percent", "50"]);
    let out = ok(&db.import_zoning(&two, "keyed", &with_share));
    assert_eq!(count(&out, "closed"), 2, "{out}");
    assert_eq!(state(&db, "keyed").await.0, 2);

    // Without ids every feature is replaced; what counts is how many fewer there would be.
    ok(&db.import_zoning(&all, "unkeyed", &[]));
    let o = db.import_zoning(&three, "unkeyed", &[]);
    assert!(
        !o.status.success() && stderr(&o).contains("would close 2 of 5 features"),
        "{}",
        stderr(&o)
    );
    let out = ok(&db.import_zoning(&four, "unkeyed", &[]));
    assert_eq!(
        (count(&out, "written"), count(&out, "closed")),
        (4, 5),
        "{out}"
    );
    // Upsert closes nothing: no guard.
    let out = ok(&db.import_zoning(&two, "unkeyed", &["--mode", "upsert"]));
    assert_eq!(count(&out, "written"), 2, "{out}");
    db.drop_db().await;
}

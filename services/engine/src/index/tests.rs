//! Unit tests of the index: features found by their row boxes.

use geo::{Coord, Geometry, Intersects, LineString, MultiPolygon, Polygon, Rect};
use kovgis_core::model::LayerKind;

use super::*;

/// A 50 m wide band along a 2 km diagonal, of many vertices: it fills a small part of its
/// box, so it is indexed by the boxes of its grid rows.
fn band() -> Feature {
    let n = 100;
    let mut pts: Vec<Coord> = (0..=n)
        .map(|i| {
            let t = i as f64 / n as f64 * 2000.0;
            Coord {
                x: t,
                y: t + 10.0 * (t / 50.0).sin(),
            }
        })
        .collect();
    pts.extend((0..=n).rev().map(|i| {
        let t = i as f64 / n as f64 * 2000.0;
        Coord {
            x: t + 50.0,
            y: t - 50.0 + 10.0 * (t / 50.0).sin(),
        }
    }));
    pts.push(pts[0]);
    Feature::new(
        1,
        None,
        serde_json::Value::Null,
        Geometry::Polygon(Polygon::new(LineString(pts), vec![])),
    )
}

#[test]
fn features_found_by_row_boxes_are_found_once_wherever_they_are() {
    let f = band();
    let rows = f.areal.as_ref().unwrap().row_boxes().expect("a thin band");
    assert!(rows.len() > 4);
    let layer = Layer::new(
        LayerInfo {
            id: 1,
            name: "band".into(),
            title: "band".into(),
            kind: LayerKind::Restriction,
            municipality_code: None,
            authority: None,
            version: None,
        },
        vec![f],
    );
    let feature = &layer.features.items[0];
    let (mut found, mut skipped) = (0, 0);
    for i in 0..3000 {
        let (x, y) = (
            (i * 37 % 2100) as f64 - 50.0,
            (i * 53 % 2100) as f64 - 100.0,
        );
        let side = 1.0 + (i % 30) as f64;
        let r = Rect::new(
            Coord { x, y },
            Coord {
                x: x + side,
                y: y + side,
            },
        );
        let hits = layer.near(r).count();
        assert!(hits <= 1, "found {hits} times");
        // geo's own predicate is the oracle: it shares nothing with the grid or the tree.
        let meets = r.to_polygon().intersects(&feature.geometry);
        if meets {
            assert_eq!(
                hits, 1,
                "a box meeting the band at ({x}, {y}) did not find it"
            );
        }
        found += hits;
        skipped += (!meets && hits == 0 && f_box_meets(feature, &r)) as usize;
    }
    assert!(found > 100, "{found}");
    assert!(
        skipped > 1000,
        "boxes in the band's box but away from it skipped: {skipped}"
    );
}

fn f_box_meets(f: &Feature, r: &Rect) -> bool {
    let b = f.bbox.unwrap();
    b.min().x <= r.max().x
        && r.min().x <= b.max().x
        && b.min().y <= r.max().y
        && r.min().y <= b.max().y
}

/// A `w` × `h` m rectangle with its lower left corner at (`x`, `y`).
fn rect(x: f64, y: f64, w: f64, h: f64) -> MultiPolygon {
    MultiPolygon(vec![
        Rect::new(Coord { x, y }, Coord { x: x + w, y: y + h }).to_polygon(),
    ])
}

fn layer(id: i64, kind: LayerKind, municipality: Option<&str>, features: Vec<Feature>) -> Layer {
    Layer::new(
        LayerInfo {
            id,
            name: format!("layer{id}"),
            title: String::new(),
            kind,
            municipality_code: municipality.map(str::to_owned),
            authority: None,
            version: Some(id),
        },
        features,
    )
}

fn zone(id: i64, area: MultiPolygon, max_pct: f64) -> Feature {
    Feature::new(
        id,
        None,
        serde_json::json!({ "name": format!("zone {id}"), "max_coverage_pct": max_pct }),
        Geometry::MultiPolygon(area),
    )
}

fn building(id: i64, area: MultiPolygon) -> Feature {
    Feature::new(
        id,
        None,
        serde_json::json!({}),
        Geometry::MultiPolygon(area),
    )
}

/// Coverage of the parcel `code` with the defaults: (built m², limit %).
fn cover(index: &Index, code: &str, municipality: &str) -> (f64, Option<f64>) {
    let p = index.parcel(code).expect("the parcel");
    let c = index.coverage(municipality, p, COVERAGE_SLIVER_M2);
    (c.built_m2, c.limit.map(|(pct, _)| pct))
}

/// Two municipalities' 100 × 100 m parcels, each under its own zoning (30 % and 40 %), with
/// national buildings of 10 × 10 and 20 × 10 m on them.
fn two_municipalities() -> Index {
    let parcels = vec![
        Parcel::new("P1".into(), "0001".into(), rect(0.0, 0.0, 100.0, 100.0)),
        Parcel::new("P2".into(), "0002".into(), rect(1000.0, 0.0, 100.0, 100.0)),
    ];
    let layers = vec![
        layer(
            1,
            LayerKind::Zoning,
            Some("0001"),
            vec![zone(11, rect(-10.0, -10.0, 200.0, 200.0), 30.0)],
        ),
        layer(
            2,
            LayerKind::Zoning,
            Some("0002"),
            vec![zone(21, rect(990.0, -10.0, 200.0, 200.0), 40.0)],
        ),
        layer(
            3,
            LayerKind::Building,
            None,
            vec![
                building(31, rect(10.0, 10.0, 10.0, 10.0)),
                building(32, rect(1010.0, 10.0, 20.0, 10.0)),
            ],
        ),
    ];
    Index::build(parcels, Some(1), layers, std::time::Instant::now())
}

#[test]
fn a_refreshed_index_answers_with_the_changed_layers_and_shares_the_rest() {
    let old = two_municipalities();
    // The figures worked out by hand from the rectangles above.
    assert_eq!(cover(&old, "P1", "0001"), (100.0, Some(30.0)));
    assert_eq!(cover(&old, "P2", "0002"), (200.0, Some(40.0)));
    let kept = |id| Arc::clone(old.layer(id).expect("a layer of the old index"));

    // 0001's zoning changed: its parcel has the new limit, the other keeps its own.
    let new_zoning = Arc::new(layer(
        1,
        LayerKind::Zoning,
        Some("0001"),
        vec![zone(12, rect(-10.0, -10.0, 200.0, 200.0), 25.0)],
    ));
    let z = old.refreshed(
        vec![new_zoning, kept(2), kept(3)],
        std::time::Instant::now(),
    );
    assert_eq!(cover(&z, "P1", "0001"), (100.0, Some(25.0)));
    assert_eq!(cover(&z, "P2", "0002"), (200.0, Some(40.0)));
    // The parcels are the old index's, not copies.
    assert!(std::ptr::eq(
        old.parcel("P2").unwrap(),
        z.parcel("P2").unwrap()
    ));
    assert!(Arc::ptr_eq(old.layer(2).unwrap(), z.layer(2).unwrap()));
    // The old index still answers as before (validations running on it).
    assert_eq!(cover(&old, "P1", "0001"), (100.0, Some(30.0)));

    // The national buildings changed: every municipality's parcels are worked out again
    // (P2's building now 40 × 10 m, P1's gone).
    let new_buildings = Arc::new(layer(
        3,
        LayerKind::Building,
        None,
        vec![building(33, rect(1010.0, 10.0, 40.0, 10.0))],
    ));
    let b = z.refreshed(
        vec![
            Arc::clone(z.layer(1).unwrap()),
            Arc::clone(z.layer(2).unwrap()),
            new_buildings,
        ],
        std::time::Instant::now(),
    );
    assert_eq!(cover(&b, "P1", "0001"), (0.0, Some(25.0)));
    assert_eq!(cover(&b, "P2", "0002"), (400.0, Some(40.0)));

    // 0002's zoning removed: no limit there any more, and the layer is gone.
    let r = b.refreshed(
        vec![
            Arc::clone(b.layer(1).unwrap()),
            Arc::clone(b.layer(3).unwrap()),
        ],
        std::time::Instant::now(),
    );
    assert_eq!(cover(&r, "P2", "0002"), (400.0, None));
    assert_eq!(cover(&r, "P1", "0001"), (0.0, Some(25.0)));
    assert!(r.layer(2).is_none());
    assert_eq!(r.layers(LayerKind::Zoning, "0002").count(), 0);
    assert_eq!(r.stats.layers.len(), 2);
}

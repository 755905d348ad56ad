//! Unit tests of the index: features found by their row boxes.

use geo::{Coord, Geometry, Intersects, LineString, Polygon, Rect};
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

//! The index path against PostGIS: the shapes the rules look at are not freshly prepared ones
//! but the index's — parcels found by their boxes, features by their boxes or by the boxes of
//! their grid rows, each placed on its inside/outside grid before any clipping. Random shapes
//! (tests/random_shapes) built into an [`Index`] are queried the way the rules query them and
//! compared with PostGIS over a GiST-indexed table of the same shapes.
//!
//! Tolerances as in `postgis_differential.rs`: overlap areas 1e-3 m² + 1e-9 × extent ×
//! perimeters; found or not found, inside or outside exactly.

mod random_shapes;

use std::collections::HashMap;

use geo::{Coord, Geometry, MultiPolygon};
use kovgis_core::model::LayerKind;
use kovgis_engine::index::{Feature, Index, Layer, LayerInfo, Parcel};
use kovgis_engine::shape::{self, Placement, Shape};
use random_shapes::{GRID, Rng, band, boxed, extent, pairs, perimeter};

/// The index path against PostGIS: every proposal of the random pairs, and small boxes strewn
/// along long bands, queried against an [`Index`] holding the pairs' other shapes and the bands as
/// parcels and as one layer's features — found by the R-tree (row boxes included), placed on the
/// indexed shapes' grids, their overlap areas prepared — compared with `ST_Intersects`,
/// `ST_CoveredBy` and `ST_Area(ST_Intersection(…))` over a GiST-indexed table of the same
/// shapes.
#[tokio::test]
async fn indexed_parcels_and_features_answer_as_postgis() {
    let client = kovgis_testkit::db::sql().await;

    let pairs = pairs(2_000);
    let mut rng = Rng::new(0x0069_6e64_6578);
    let mut shapes: Vec<MultiPolygon> = pairs.iter().map(|(_, b)| b.clone()).collect();
    let mut proposals: Vec<MultiPolygon> = pairs.iter().map(|(a, _)| a.clone()).collect();
    for _ in 0..150 {
        let c = Coord {
            x: rng.range(655_000.0, 662_000.0),
            y: rng.range(6_470_000.0, 6_478_000.0),
        };
        let (length, width) = (rng.range(500.0, 3_000.0), rng.range(10.0, 60.0));
        let angle = rng.range(0.0, std::f64::consts::TAU);
        shapes.push(MultiPolygon(vec![band(&mut rng, c, length, width, angle)]));
        // Proposals along the band and beside it, in the empty parts of its box.
        for _ in 0..6 {
            let t = rng.range(0.0, length);
            let off = rng.range(-3.0 * width, 4.0 * width);
            let (x, y) = (
                c.x + t * angle.cos() - off * angle.sin(),
                c.y + t * angle.sin() + off * angle.cos(),
            );
            let side = rng.range(2.0, 30.0);
            proposals.push(MultiPolygon(vec![boxed(x, y, side, side * 0.7)]));
        }
    }

    let wkb = |g: &MultiPolygon| kovgis_core::output::to_wkb(&Geometry::MultiPolygon(g.clone()));
    client
        .batch_execute("CREATE TEMP TABLE indexed (j bigint, g geometry(MultiPolygon, 3301))")
        .await
        .unwrap();
    let stored: Vec<Vec<u8>> = shapes.iter().map(wkb).collect();
    client
        .execute(
            "INSERT INTO indexed SELECT j - 1, ST_GeomFromWKB(w, 3301)
             FROM unnest($1::bytea[]) WITH ORDINALITY AS t(w, j)",
            &[&stored],
        )
        .await
        .unwrap();
    client
        .batch_execute("CREATE INDEX ON indexed USING gist (g); ANALYZE indexed")
        .await
        .unwrap();
    let asked: Vec<Vec<u8>> = proposals.iter().map(wkb).collect();
    let rows = client
        .query(
            "SELECT i - 1, j, ST_CoveredBy(a, g), ST_Area(ST_Intersection(a, g))
             FROM unnest($1::bytea[]) WITH ORDINALITY AS t(w, i),
                  LATERAL ST_GeomFromWKB(w, 3301) AS a
             JOIN indexed ON ST_Intersects(a, g)",
            &[&asked],
        )
        .await
        .unwrap();
    // (proposal, shape) → (covered by, overlap area) for every pair PostGIS says intersects.
    let theirs: HashMap<(usize, usize), (bool, f64)> = rows
        .iter()
        .map(|r| {
            let (i, j): (i64, i64) = (r.get(0), r.get(1));
            ((i as usize, j as usize), (r.get(2), r.get(3)))
        })
        .collect();
    let mut by_proposal: HashMap<usize, Vec<usize>> = HashMap::new();
    for &(i, j) in theirs.keys() {
        by_proposal.entry(i).or_default().push(j);
    }

    // The shapes as parcels (found by their boxes) and as one layer's features (found by their
    // row boxes where they have them); the feature's id is its number.
    let parcels: Vec<Parcel> = shapes
        .iter()
        .enumerate()
        .map(|(j, g)| Parcel::new(j.to_string(), "0793".into(), g.clone()))
        .collect();
    let features: Vec<Feature> = shapes
        .iter()
        .enumerate()
        .map(|(j, g)| {
            Feature::new(
                j as i64,
                None,
                serde_json::Value::Null,
                Geometry::MultiPolygon(g.clone()),
            )
        })
        .collect();
    let by_rows = features
        .iter()
        .filter(|f| f.areal.as_ref().and_then(Shape::row_boxes).is_some())
        .count();
    let layer = Layer::new(
        LayerInfo {
            id: 1,
            name: "random".into(),
            title: "random".into(),
            kind: LayerKind::Restriction,
            municipality_code: None,
            authority: None,
            version: None,
        },
        features,
    );
    let index = Index::build(parcels, None, vec![layer], std::time::Instant::now());
    let layer = index
        .layers(LayerKind::Restriction, "0793")
        .next()
        .expect("the layer");

    let (mut found, mut inside, mut outside) = (0, 0, 0);
    for (i, a) in proposals.iter().enumerate() {
        let proposal = Shape::new(a.clone());
        let bbox = proposal.bbox.expect("a proposal has a box");
        // What the layer's tree finds, per shape: its prepared overlap area and where the
        // proposal is placed on it.
        let mut ours: HashMap<usize, (f64, Placement)> = HashMap::new();
        for f in layer.near(bbox) {
            let areal = f.areal.as_ref().expect("an areal feature");
            let answer = (
                shape::overlap(&proposal, areal).area,
                areal.place_shape(&proposal),
            );
            assert!(
                ours.insert(f.id as usize, answer).is_none(),
                "proposal {i}: feature {} found twice",
                f.id
            );
        }
        // What the parcels' tree finds, per shape: its prepared overlap area.
        let parcels: HashMap<usize, f64> = index
            .parcels_near(bbox)
            .map(|parcel| {
                let j: usize = parcel.code.parse().unwrap();
                (j, shape::overlap(&proposal, &parcel.shape).area)
            })
            .collect();
        // Every shape the trees found or PostGIS says intersects (every other one is apart by
        // both accounts).
        let mut candidates: Vec<usize> = ours.keys().chain(parcels.keys()).copied().collect();
        candidates.extend(by_proposal.get(&i).into_iter().flatten());
        candidates.sort_unstable();
        candidates.dedup();
        for j in candidates {
            let b = &shapes[j];
            let pg = theirs.get(&(i, j)).copied();
            let pg_area = pg.map_or(0.0, |t| t.1);
            let tolerance = 1e-3 + GRID * extent(a, b) * (perimeter(a) + perimeter(b));
            let parcel_area = parcels.get(&j).copied().unwrap_or(0.0);
            assert!(
                (parcel_area - pg_area).abs() <= tolerance,
                "proposal {i}, parcel {j}: overlap area {parcel_area} via the parcels' tree, \
                 PostGIS {pg_area}{}",
                if parcels.contains_key(&j) {
                    ""
                } else {
                    " (not found)"
                }
            );
            let Some(&(area, placement)) = ours.get(&j) else {
                assert!(
                    pg_area <= tolerance,
                    "proposal {i}: feature {j} overlaps it by {pg_area} m² (PostGIS) but the \
                     layer's tree did not find it"
                );
                continue;
            };
            found += 1;
            assert!(
                (area - pg_area).abs() <= tolerance,
                "proposal {i}, feature {j}: indexed overlap area {area} vs PostGIS {pg_area}"
            );
            match placement {
                Placement::Inside => {
                    inside += 1;
                    assert_eq!(
                        pg.map(|t| t.0),
                        Some(true),
                        "proposal {i}: placed inside feature {j}, PostGIS: not covered by it"
                    );
                }
                Placement::Outside => {
                    outside += 1;
                    assert!(
                        pg.is_none(),
                        "proposal {i}: placed outside feature {j}, PostGIS: they intersect"
                    );
                }
                Placement::Unknown => {}
            }
        }
    }
    println!(
        "{} proposals against {} indexed shapes ({by_rows} by row boxes): {found} found by the \
         tree, {} intersecting (PostGIS), {inside} placed inside, {outside} placed outside",
        proposals.len(),
        shapes.len(),
        theirs.len()
    );
    assert!(by_rows > 50, "{by_rows} shapes indexed by row boxes");
    assert!(
        inside > 200 && outside > 200,
        "placement settled {inside} inside, {outside} outside"
    );
    assert!(theirs.len() > 500, "{} intersecting pairs", theirs.len());
}

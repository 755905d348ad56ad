//! The predicate layer against PostGIS on the same geometries: seeded random pairs of proposals
//! and features at Estonian coordinates (EPSG:3301) — small and huge, convex, concave (stars),
//! with holes, sharing an edge exactly, one inside the other — compared with `ST_Intersects`,
//! `ST_CoveredBy`, `ST_Touches`, `ST_Area(ST_Intersection(…))`, `ST_Distance` and
//! `ST_Distance(a, ST_Boundary(b))` (a setback) of the test
//! PostGIS (scripts/test.sh).
//!
//! Tolerances: predicates exactly; distance 1e-6 m (both are exact computations on the same
//! doubles, the difference is rounding); overlap area 1e-3 m² + 1e-9 × extent × perimeters,
//! because the overlay under `overlap_area` (i_overlay) snaps vertices to an integer grid laid over
//! the pair's extent (a step of about 1e-9 of it), and an area moved by half a step along the
//! boundary changes by about that much (measured here: up to ~4e-3 m² on overlaps of 2–4 km plan
//! areas, ~1e-5 m² on footprints), far below what any rule reports (areas are shown to 0.1 m²).

mod random_shapes;

use geo::{Coord, Geometry, MultiPolygon, Polygon};
use kovgis_engine::predicates as p;
use kovgis_engine::shape::{self, Shape};
use random_shapes::{GRID, Rng, extent, pairs, perimeter, ring, shape};

#[tokio::test]
async fn predicates_overlap_areas_and_distances_equal_postgis() {
    let client = kovgis_testkit::db::sql().await;

    let pairs = pairs(3_000);
    let wkb = |g: &MultiPolygon| kovgis_core::output::to_wkb(&Geometry::MultiPolygon(g.clone()));
    let a: Vec<Vec<u8>> = pairs.iter().map(|(a, _)| wkb(a)).collect();
    let b: Vec<Vec<u8>> = pairs.iter().map(|(_, b)| wkb(b)).collect();
    let rows = client
        .query(
            "SELECT ST_IsValid(a) AND ST_IsValid(b), ST_Intersects(a, b), ST_CoveredBy(a, b),
                    ST_Touches(a, b), ST_Area(ST_Intersection(a, b)), ST_Distance(a, b),
                    ST_Distance(a, ST_Boundary(b))
             FROM unnest($1::bytea[], $2::bytea[]) WITH ORDINALITY AS t(wa, wb, i),
                  LATERAL (SELECT ST_GeomFromWKB(wa, 3301) AS a, ST_GeomFromWKB(wb, 3301) AS b) g
             ORDER BY i",
            &[&a, &b],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), pairs.len());

    let (mut hits, mut covered, mut touching) = (0, 0, 0);
    let (mut max_area_diff, mut max_area_rel, mut max_distance_diff) = (0.0f64, 0.0f64, 0.0f64);
    for (i, ((a, b), row)) in pairs.iter().zip(&rows).enumerate() {
        assert!(
            row.get::<_, bool>(0),
            "pair {i}: the generator made an invalid polygon"
        );
        let (ga, gb) = (
            Geometry::MultiPolygon(a.clone()),
            Geometry::MultiPolygon(b.clone()),
        );
        let intersects: bool = row.get(1);
        assert_eq!(p::intersects(&ga, &gb), intersects, "pair {i}: intersects");
        assert_eq!(
            p::covered_by(&ga, &gb),
            row.get::<_, bool>(2),
            "pair {i}: covered by"
        );
        assert_eq!(
            p::touches(&ga, &gb),
            row.get::<_, bool>(3),
            "pair {i}: touches"
        );
        let area: f64 = row.get(4);
        let ours = p::overlap_area(a, b);
        let tolerance = 1e-3 + GRID * extent(a, b) * (perimeter(a) + perimeter(b));
        max_area_diff = max_area_diff.max((ours - area).abs());
        max_area_rel = max_area_rel.max((ours - area).abs() / area.max(1.0));
        assert!(
            (ours - area).abs() <= tolerance,
            "pair {i}: overlap area {ours} vs PostGIS {area}"
        );
        // The prepared path the rules take (placement, far runs as chords), both ways round.
        let (sa, sb) = (Shape::new(a.clone()), Shape::new(b.clone()));
        for (label, prepared) in [
            ("a, b", shape::overlap_area(&sa, &sb)),
            ("b, a", shape::overlap_area(&sb, &sa)),
        ] {
            max_area_diff = max_area_diff.max((prepared - area).abs());
            assert!(
                (prepared - area).abs() <= tolerance,
                "pair {i}: prepared overlap area ({label}) {prepared} vs PostGIS {area}"
            );
        }
        let distance: f64 = row.get(5);
        let ours = p::distance(&ga, &gb);
        max_distance_diff = max_distance_diff.max((ours - distance).abs());
        assert!(
            (ours - distance).abs() <= 1e-6,
            "pair {i}: distance {ours} vs PostGIS {distance}"
        );
        let setback: f64 = row.get(6);
        let ours = p::boundary_distance(a, b);
        assert!(
            (ours - setback).abs() <= 1e-6,
            "pair {i}: distance to the boundary {ours} vs PostGIS {setback}"
        );
        // The path the setback rule takes for one parcel.
        let ours = p::union_boundary_distance(a, &[b]).unwrap();
        assert!(
            (ours - setback).abs() <= 1e-6,
            "pair {i}: distance to the boundary (nearest edges first) {ours} vs PostGIS {setback}"
        );
        hits += intersects as usize;
        covered += row.get::<_, bool>(2) as usize;
        touching += row.get::<_, bool>(3) as usize;
    }
    println!(
        "{} pairs: {hits} intersecting, {covered} covered, {touching} touching only; \
         max |area − PostGIS| {max_area_diff:.2e} m² ({max_area_rel:.1e} of the area), \
         max |distance − PostGIS| {max_distance_diff:.2e} m",
        pairs.len()
    );
    // The generator must exercise every outcome, or the comparison proves little.
    assert!(
        hits > 500 && hits < pairs.len() - 300,
        "{hits} of {} intersect",
        pairs.len()
    );
    assert!(covered > 100, "{covered} covered");
    assert!(touching > 100, "{touching} touching");
}

/// A parcel `[x0, x1] × [y0, y1]` with extra vertices on its east side at the given heights
/// (so that a neighbour's corners there are shared vertex for vertex).
fn parcel(x0: f64, y0: f64, x1: f64, y1: f64, east: &[f64]) -> MultiPolygon {
    let mut pts = vec![Coord { x: x0, y: y0 }, Coord { x: x1, y: y0 }];
    pts.extend(east.iter().map(|&y| Coord { x: x1, y }));
    pts.extend([Coord { x: x1, y: y1 }, Coord { x: x0, y: y1 }]);
    MultiPolygon(vec![Polygon::new(ring(pts), vec![])])
}

/// The setback of a proposal over several parcels is measured to the boundary of their union:
/// the common boundaries are dropped (`outer_edges`, `union_boundary_distance`) — whether the neighbours share their
/// vertices there or one side has vertices the other lacks — and the distance to what remains
/// equals PostGIS's `ST_Distance(a, ST_Boundary(ST_Union(…)))`.
#[tokio::test]
async fn setback_over_several_parcels_equals_postgis_union_boundary() {
    let client = kovgis_testkit::db::sql().await;
    let mut rng = Rng::new(0x0073_6574_6261_636b);
    let mut cases = Vec::new();
    for i in 0..400 {
        let (x, y) = (
            rng.range(655_000.0, 662_000.0),
            rng.range(6_470_000.0, 6_478_000.0),
        );
        let (w, h) = (rng.range(15.0, 60.0), rng.range(15.0, 60.0));
        let (lo, hi) = (y + h * rng.range(0.05, 0.4), y + h * rng.range(0.6, 0.95));
        let clean = i % 4 != 3;
        // West parcel with vertices where the east one's corners are (clean), or without them
        // (the common boundary split at different vertices).
        let split: &[f64] = if clean { &[lo, hi] } else { &[] };
        let west = parcel(x, y, x + w, y + h, split);
        let east = parcel(x + w, lo, x + 2.0 * w, hi, &[]);
        // A third parcel north of both, sharing the west one's north edge exactly, every other
        // time.
        let mut set = vec![west, east];
        if i % 2 == 0 {
            set.push(parcel(x, y + h, x + w, y + 2.0 * h, &[]));
        }
        let c = Coord {
            x: x + w * rng.range(0.5, 1.5),
            y: y + h * rng.range(0.3, 1.2),
        };
        let size = rng.range(3.0, 12.0);
        let proposal = MultiPolygon(vec![shape(&mut rng, c, size)]);
        cases.push((proposal, set, clean));
    }
    let wkb = |g: &MultiPolygon| kovgis_core::output::to_wkb(&Geometry::MultiPolygon(g.clone()));
    let (mut checked, mut split, mut apart) = (0, 0, 0);
    for (i, (proposal, set, clean)) in cases.iter().enumerate() {
        let parts: Vec<Vec<u8>> = set.iter().map(wkb).collect();
        let row = client
            .query_one(
                "SELECT ST_Distance(ST_GeomFromWKB($1, 3301), ST_Boundary(ST_Union(g)))
                 FROM unnest($2::bytea[]) AS t(w), LATERAL ST_GeomFromWKB(w, 3301) AS g",
                &[&wkb(proposal), &parts],
            )
            .await
            .unwrap();
        let theirs: f64 = row.get(0);
        let refs: Vec<&MultiPolygon> = set.iter().collect();
        let edges = p::outer_edges(&refs).expect("a few parcels");
        let ours = p::edge_distance(proposal, &edges);
        assert!(
            (ours - theirs).abs() <= 1e-6,
            "case {i} ({}): setback {ours} vs PostGIS {theirs}",
            if *clean {
                "shared vertices"
            } else {
                "split common boundary"
            }
        );
        let pruned = p::union_boundary_distance(proposal, &refs).expect("a few parcels");
        assert!(
            (pruned - theirs).abs() <= 1e-6,
            "case {i}: setback (nearest edges first) {pruned} vs PostGIS {theirs}"
        );
        checked += 1;
        apart += (theirs > 0.0) as usize;
        split += !clean as usize;
    }
    println!(
        "{checked} parcel sets ({split} with a split common boundary) equal PostGIS, \
         {apart} with a setback above 0"
    );
    assert_eq!(checked, cases.len());
    assert!(
        apart > 50 && apart < checked - 50,
        "{apart} of {checked} apart from the boundary"
    );
}

/// Overlaps of a plan area of many vertices (with holes) and features on its outline, over a
/// hole, or large themselves: the overlay first cuts each geometry of many vertices down to the
/// box where both lie (a 100 000-vertex proposal would otherwise be overlaid whole with every
/// feature it meets). Area and outline against PostGIS's `ST_Intersection`, and the distance to
/// the feature's boundary (which first tries some of its vertices inside the area).
#[tokio::test]
async fn cut_down_overlays_of_large_areas_equal_postgis() {
    let client = kovgis_testkit::db::sql().await;
    let pairs = random_shapes::large_pairs(100);
    let wkb = |g: &MultiPolygon| kovgis_core::output::to_wkb(&Geometry::MultiPolygon(g.clone()));
    let a: Vec<Vec<u8>> = pairs.iter().map(|(a, _)| wkb(a)).collect();
    let b: Vec<Vec<u8>> = pairs.iter().map(|(_, b)| wkb(b)).collect();
    let ours: Vec<Vec<u8>> = pairs.iter().map(|(a, b)| wkb(&p::overlap(a, b))).collect();
    let rows = client
        .query(
            "SELECT ST_IsValid(a) AND ST_IsValid(b), ST_Area(x),
                    CASE WHEN i % 3 <> 0 THEN ST_Area(ST_SymDifference(x, o)) END,
                    ST_Distance(a, ST_Boundary(b))
             FROM unnest($1::bytea[], $2::bytea[], $3::bytea[]) WITH ORDINALITY AS t(wa, wb, wo, i),
                  LATERAL (SELECT ST_GeomFromWKB(wa, 3301) AS a, ST_GeomFromWKB(wb, 3301) AS b,
                                  ST_GeomFromWKB(wo, 3301) AS o) g,
                  LATERAL (SELECT ST_Intersection(a, b) AS x) pg
             ORDER BY i",
            &[&a, &b, &ours],
        )
        .await
        .unwrap();
    let (mut overlapping, mut max_diff) = (0, 0.0f64);
    for (i, ((a, b), row)) in pairs.iter().zip(&rows).enumerate() {
        assert!(
            row.get::<_, bool>(0),
            "pair {i}: the generator made an invalid polygon"
        );
        let area: f64 = row.get(1);
        let tolerance = 1e-3 + GRID * extent(a, b) * (perimeter(a) + perimeter(b));
        let mut check = |label: &str, ours: f64| {
            max_diff = max_diff.max((ours - area).abs());
            assert!(
                (ours - area).abs() <= tolerance,
                "pair {i}: {label} {ours} vs PostGIS {area}"
            );
        };
        check("overlap area", p::overlap_area(a, b));
        check("overlap area (b, a)", p::overlap_area(b, a));
        let (sa, sb) = (Shape::new(a.clone()), Shape::new(b.clone()));
        for (label, o) in [
            ("prepared (a, b)", shape::overlap(&sa, &sb)),
            ("prepared (b, a)", shape::overlap(&sb, &sa)),
        ] {
            check(label, o.area);
            if let Some(outline) = o.outline {
                check(&format!("{label} outline"), p::area(&outline));
            }
        }
        // The outline itself: what lies in one of ours and PostGIS's intersection but not the
        // other is no more than the area tolerance (for the features that are not large
        // themselves: PostGIS takes seconds for those).
        if let Some(apart) = row.get::<_, Option<f64>>(2) {
            assert!(
                apart <= tolerance,
                "pair {i}: the overlap's outline differs by {apart} m²"
            );
        }
        let setback: f64 = row.get(3);
        let ours = p::boundary_distance(a, b);
        assert!(
            (ours - setback).abs() <= 1e-6,
            "pair {i}: distance to the boundary {ours} vs PostGIS {setback}"
        );
        overlapping += (area > 0.0) as usize;
    }
    println!(
        "{} large pairs: {overlapping} overlapping; max |area − PostGIS| {max_diff:.2e} m²",
        pairs.len()
    );
    assert!(overlapping > 70, "{overlapping} of {} overlap", pairs.len());
}

//! Unit tests of the shapes: placement with and without the grid, and the chunked and swapped
//! clipping.

use geo::{Area, BooleanOps, MapCoords, Polygon, Relate};

use super::*;

/// The intersection as geo's overlay (i_overlay) computes it, in coordinates local to `origin`:
/// the oracle for the clipping, sharing no code with the engine's kernel.
fn overlay(a: &MultiPolygon, b: &MultiPolygon, origin: Coord) -> MultiPolygon {
    let local = |m: &MultiPolygon| m.map_coords(|c| c - origin);
    local(a).intersection(&local(b))
}

/// The rings' summed length, worked out here.
fn length(m: &MultiPolygon) -> f64 {
    m.0.iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .flat_map(|r| r.0.windows(2))
        .map(|w| (w[1].x - w[0].x).hypot(w[1].y - w[0].y))
        .sum()
}

/// How far the overlay's area may be off: it snaps vertices to a grid of about 1e-9 of the
/// pair's extent, moving the boundary by up to a step (see tests/postgis_differential.rs).
fn overlay_tolerance(a: &Shape, b: &Shape) -> f64 {
    let extent = |s: &Shape| s.bbox.map_or(0.0, |r| r.width().max(r.height()));
    1e-3 + 1e-9 * extent(a).max(extent(b)) * 2.0 * (a.perimeter + b.perimeter)
}

fn ring(cx: f64, cy: f64, r: f64, n: usize) -> LineString {
    let mut pts: Vec<Coord> = (0..n)
        .map(|i| {
            let a = i as f64 / n as f64 * std::f64::consts::TAU;
            Coord {
                x: cx + r * a.cos(),
                y: cy + r * a.sin(),
            }
        })
        .collect();
    pts.push(pts[0]);
    LineString(pts)
}

fn rect(x: f64, y: f64, side: f64) -> Rect {
    Rect::new(
        Coord { x, y },
        Coord {
            x: x + side,
            y: y + side,
        },
    )
}

#[test]
fn large_shapes_place_small_proposals_without_clipping() {
    // A 1 km disc of 200 vertices with a 200 m hole in the middle.
    let disc = Shape::indexed(MultiPolygon(vec![Polygon::new(
        ring(0.0, 0.0, 1000.0, 200),
        vec![ring(0.0, 0.0, 200.0, 100)],
    )]));
    let place = |x: f64, y: f64| disc.place(rect(x, y, 10.0), Coord { x, y });
    assert_eq!(place(500.0, 0.0), Placement::Inside);
    assert_eq!(place(0.0, 500.0), Placement::Inside);
    assert_eq!(place(0.0, 0.0), Placement::Outside, "in the hole");
    assert_eq!(place(2000.0, 0.0), Placement::Outside);
    assert_eq!(place(-1500.0, -1500.0), Placement::Outside);
    assert_eq!(place(995.0, 0.0), Placement::Unknown, "across the boundary");
    assert!(disc.grid.is_some());
    assert_eq!(
        place(195.0, 0.0),
        Placement::Unknown,
        "across the hole's boundary"
    );
    // Small shapes are placed edge by edge.
    let small = Shape::new(MultiPolygon(vec![Polygon::new(
        ring(0.0, 0.0, 100.0, 8),
        vec![],
    )]));
    assert_eq!(
        small.place(rect(0.0, 0.0, 1.0), Coord { x: 0.0, y: 0.0 }),
        Placement::Inside
    );
    assert_eq!(
        small.place(rect(95.0, 0.0, 10.0), Coord { x: 95.0, y: 0.0 }),
        Placement::Unknown
    );
}

#[test]
fn placements_on_the_grid_and_edge_by_edge_agree_with_geo() {
    // A concave star with a hole and boxes all over it: every placement settled — on the grid or
    // edge by edge — is what geo's relate says of the box (inside: the star covers it; outside:
    // they share no point), and the grid settles most of what the edges settle.
    let n = 300;
    let mut pts: Vec<Coord> = (0..n)
        .map(|i| {
            let a = i as f64 / n as f64 * std::f64::consts::TAU;
            let r = if i % 2 == 0 { 1000.0 } else { 600.0 };
            Coord {
                x: r * a.cos(),
                y: r * a.sin(),
            }
        })
        .collect();
    pts.push(pts[0]);
    let star = MultiPolygon(vec![Polygon::new(
        LineString(pts),
        vec![ring(100.0, 50.0, 250.0, 40)],
    )]);
    let gridded = Shape::indexed(star.clone());
    let mut plain = gridded.clone();
    plain.grid = None;
    let (mut settled, mut by_grid, mut inside) = (0, 0, 0);
    for i in 0..4000 {
        let (x, y) = (
            -1100.0 + (i * 37 % 2200) as f64,
            -1100.0 + (i * 91 % 2200) as f64,
        );
        let side = 2.0 + (i % 40) as f64;
        let (b, v) = (rect(x, y, side), Coord { x, y });
        let (exact, indexed) = (plain.place(b, v), gridded.place(b, v));
        let grid = gridded.grid.as_ref().unwrap();
        let fast = grid
            .place(gridded.bbox.unwrap(), b)
            .unwrap_or(Placement::Unknown);
        for (how, placement) in [
            ("edge by edge", exact),
            ("on the grid alone", fast),
            ("on the grid, then edge by edge", indexed),
        ] {
            let truth = || star.relate(&b.to_polygon());
            match placement {
                Placement::Inside => assert!(
                    truth().is_covers(),
                    "box at ({x}, {y}), side {side}, placed inside {how}"
                ),
                Placement::Outside => assert!(
                    truth().is_disjoint(),
                    "box at ({x}, {y}), side {side}, placed outside {how}"
                ),
                Placement::Unknown => {}
            }
        }
        settled += (exact != Placement::Unknown) as usize;
        by_grid += (fast != Placement::Unknown) as usize;
        inside += (exact == Placement::Inside) as usize;
    }
    assert!(
        settled > 2000 && inside > 500 && by_grid > settled / 2,
        "{settled} settled edge by edge ({inside} inside), {by_grid} on the grid"
    );
}

#[test]
fn round_windows_over_concave_shapes_agree_with_the_overlay() {
    // A 300-vertex round outline (a window of many edges) in many places over a wavy
    // concave shape: whichever way the overlap was computed, its area is the overlay's, and its
    // perimeter at least the overlay's perimeter — equal to it when it says it is exact.
    let (cx, cy) = (659_000.0, 6_474_000.0);
    let n = 240;
    let mut pts: Vec<Coord> = (0..n)
        .map(|i| {
            let a = i as f64 / n as f64 * std::f64::consts::TAU;
            let r = 800.0 + 120.0 * (a * 7.0).sin();
            Coord {
                x: cx + r * a.cos(),
                y: cy + r * a.sin(),
            }
        })
        .collect();
    pts.push(pts[0]);
    let wavy = Shape::indexed(MultiPolygon(vec![Polygon::new(LineString(pts), vec![])]));
    let (mut partial, mut swapped) = (0, 0);
    for i in 0..300 {
        let a = i as f64 * 0.21;
        let r = 600.0 + (i % 9) as f64 * 40.0;
        let round = ring(
            cx + r * a.cos(),
            cy + r * a.sin(),
            20.0 + (i % 5) as f64 * 15.0,
            300,
        );
        let window = Shape::new(MultiPolygon(vec![Polygon::new(round.clone(), vec![])]));
        let o = overlap(&window, &wavy);
        let truth = overlay(&window.polygons, &wavy.polygons, Coord { x: cx, y: cy });
        let (full, tolerance) = (truth.unsigned_area(), overlay_tolerance(&window, &wavy));
        assert!(
            (o.area - full).abs() <= tolerance,
            "window {i}: {} vs {full} by the overlay",
            o.area
        );
        // Partial overlaps (the grazing ones aside, whose area is rounding on both sides).
        if full > 1e-2 && full < window.area - 1e-2 {
            partial += 1;
            let (p, real) = (o.perimeter.unwrap(), length(&truth));
            assert!(
                p >= real - 1e-3,
                "window {i}: perimeter {p} below the overlap's {real}"
            );
            if o.exact {
                swapped += 1;
                assert!(
                    (p - real).abs() <= 1e-3,
                    "window {i}: exact perimeter {p}, the overlap's is {real}"
                );
            }
        }
    }
    assert!(partial > 50, "{partial} partial overlaps");
    assert!(
        swapped > 0 || partial == 0,
        "no overlap was computed the swapped way"
    );
}

#[test]
fn runs_as_chords_leave_the_clipped_area_as_the_overlay_has_it() {
    // A many-vertex star (concave) at Estonian coordinates against small convex windows in
    // many places: the chunked clipping (far runs replaced by their chords) gives the overlay's
    // area; a run's loop area lost or counted twice would be off by square metres.
    let (cx, cy) = (659_000.0, 6_474_000.0);
    let n = 400;
    let mut pts: Vec<Coord> = (0..n)
        .map(|i| {
            let a = i as f64 / n as f64 * std::f64::consts::TAU;
            let r = if i % 2 == 0 {
                1000.0
            } else {
                700.0 + (i % 7) as f64 * 20.0
            };
            Coord {
                x: cx + r * a.cos(),
                y: cy + r * a.sin(),
            }
        })
        .collect();
    pts.push(pts[0]);
    let star = Shape::new(MultiPolygon(vec![Polygon::new(
        LineString(pts),
        vec![ring(cx, cy, 300.0, 120)],
    )]));
    assert!(!star.chunks.is_empty() && !star.convex);
    let mut checked = 0;
    for i in 0..200 {
        let a = i as f64 * 0.37;
        let r = 100.0 + (i % 10) as f64 * 100.0;
        let side = 20.0 + (i % 13) as f64 * 40.0;
        let (x, y) = (cx + r * a.cos(), cy + r * a.sin());
        let window = Shape::new(MultiPolygon(vec![Polygon::new(
            LineString(vec![
                Coord { x, y },
                Coord {
                    x: x + side,
                    y: y + side * 0.3,
                },
                Coord {
                    x: x + side * 0.8,
                    y: y + side,
                },
                Coord {
                    x: x - side * 0.1,
                    y: y + side * 0.7,
                },
                Coord { x, y },
            ]),
            vec![],
        )]));
        let fast = overlap_area(&window, &star);
        let full =
            overlay(&window.polygons, &star.polygons, Coord { x: cx, y: cy }).unsigned_area();
        assert!(
            (fast - full).abs() <= overlay_tolerance(&window, &star),
            "window {i}: {fast} vs {full} by the overlay"
        );
        checked += (fast > 0.0) as usize;
    }
    assert!(checked > 100, "most windows overlap the star ({checked})");
}

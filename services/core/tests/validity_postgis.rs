//! Polygon validity against PostGIS on the same geometries: seeded random polygons and
//! multipolygons on a 1 m grid (so that vertices land on each other's vertices and edges, and
//! rings touch, share stretches, cross and nest often) — stars, rectangles, scrambled rings, holes
//! inside, outside, touching and nested, parts apart, touching, overlapping and inside one another
//! — each decided by `validity::polygons` and by `ST_IsValid` of the test PostGIS
//! (scripts/test.sh).
//!
//! The answers must agree, and so must the kind of problem, with two allowances. Where rings meet
//! badly a geometry often has several such places, and which comes first differs: any
//! self-intersection kind matches any. And GEOS stops looking for bad meetings once two rings
//! touch twice (its intersection finder is "done" at a double touch), then reports a later kind
//! (hole outside shell, …) although rings cross: where we report a crossing instead, PostGIS must
//! confirm it on a polygon made of just the rings we name (or, for a shared stretch, that the two
//! rings' intersection is a line).

use geo::{Coord, Geometry, LineString, MultiPolygon, Polygon};
use kovgis_core::validity::{self, Problem};
use kovgis_testkit::Rng;

/// Grid origin in EPSG:3301 (whole metres, exact).
const X0: f64 = 659_000.0;
const Y0: f64 = 6_474_000.0;

fn snap(x: f64, y: f64) -> Coord<f64> {
    Coord {
        x: X0 + x.round(),
        y: Y0 + y.round(),
    }
}

/// A star-shaped ring of `n.0 + below(n.1)` vertices round (cx, cy), radii in [r0, r1], snapped
/// to the grid (snapping may fold it: that is wanted).
fn star(rng: &mut Rng, cx: f64, cy: f64, r0: f64, r1: f64, n: (usize, usize)) -> LineString<f64> {
    let n = n.0 + rng.below(n.1);
    let mut angles: Vec<f64> = (0..n).map(|_| rng.unit() * std::f64::consts::TAU).collect();
    angles.sort_by(f64::total_cmp);
    let mut pts: Vec<Coord<f64>> = angles
        .iter()
        .map(|a| {
            let r = rng.range(r0, r1);
            snap(cx + r * a.cos(), cy + r * a.sin())
        })
        .collect();
    if rng.below(2) == 0 {
        pts.reverse();
    }
    closed(pts)
}

/// The ring closed explicitly (PostGIS refuses rings of fewer than four points, and a snapped
/// ring whose last point fell on its first would otherwise count as closed already).
fn closed(mut pts: Vec<Coord<f64>>) -> LineString<f64> {
    pts.push(pts[0]);
    LineString::new(pts)
}

/// An axis-parallel rectangle with corners on the grid.
fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> LineString<f64> {
    LineString::new(vec![snap(x0, y0), snap(x1, y0), snap(x1, y1), snap(x0, y1)])
}

/// A ring through random grid points in random order: mostly self-intersecting.
fn scramble(rng: &mut Rng, n: usize) -> LineString<f64> {
    closed(
        (0..n)
            .map(|_| snap(rng.range(0.0, 12.0), rng.range(0.0, 12.0)))
            .collect(),
    )
}

/// A hole copying one vertex of `of` (so that it touches it) and otherwise random nearby.
fn touching_hole(rng: &mut Rng, of: &LineString<f64>) -> LineString<f64> {
    let v = of.0[rng.below(of.0.len())];
    let (cx, cy) = (
        v.x - X0 + rng.range(-3.0, 3.0),
        v.y - Y0 + rng.range(-3.0, 3.0),
    );
    let mut ring = star(rng, cx, cy, 1.0, 3.0, (3, 3));
    let last = ring.0.len() - 1;
    ring.0[0] = v;
    ring.0[last] = v;
    ring
}

fn holes(rng: &mut Rng, shell: &LineString<f64>, k: usize) -> Vec<LineString<f64>> {
    let mut out: Vec<LineString<f64>> = Vec::new();
    for _ in 0..k {
        let h = match rng.below(4) {
            0 => touching_hole(rng, shell),
            1 if !out.is_empty() => {
                let other = out[rng.below(out.len())].clone();
                touching_hole(rng, &other)
            }
            _ => {
                let (cx, cy) = (rng.range(3.0, 17.0), rng.range(3.0, 17.0));
                star(rng, cx, cy, 1.0, 4.0, (3, 5))
            }
        };
        out.push(h);
    }
    out
}

/// A random axis-parallel rectangle with corners on the grid, in [lo, lo + span)², sides 1..=max.
fn any_rect(rng: &mut Rng, lo: usize, span: usize, max: usize) -> LineString<f64> {
    let (x, y) = ((lo + rng.below(span)) as f64, (lo + rng.below(span)) as f64);
    let (w, h) = ((1 + rng.below(max)) as f64, (1 + rng.below(max)) as f64);
    rect(x, y, x + w, y + h)
}

fn case(rng: &mut Rng, i: usize) -> Vec<Polygon<f64>> {
    match i % 10 {
        // Triangular holes with corners on a 3 m lattice, the shell's edges included: holes
        // touch the shell and each other at corners and edges, in chains and cycles.
        7 => {
            let n = 2 + rng.below(3);
            let mut corner = || snap(3.0 * rng.below(5) as f64, 3.0 * rng.below(5) as f64);
            let hs = (0..n)
                .map(|_| closed(vec![corner(), corner(), corner()]))
                .collect();
            vec![Polygon::new(rect(0.0, 0.0, 12.0, 12.0), hs)]
        }
        // A big and a small rectangular hole: apart, touching, nested, crossing.
        8 => {
            let big = any_rect(rng, 1, 8, 10);
            let small = any_rect(rng, 2, 14, 4);
            vec![Polygon::new(rect(0.0, 0.0, 20.0, 20.0), vec![big, small])]
        }
        // Rectangles as parts: apart, touching, inside one another, overlapping.
        9 => (0..2 + rng.below(2))
            .map(|_| Polygon::new(any_rect(rng, 0, 12, 10), vec![]))
            .collect(),
        // A star with holes anywhere: inside, outside, touching, crossing, nested.
        0 | 1 => {
            let shell = star(rng, 10.0, 10.0, 4.0, 10.0, (4, 10));
            let k = rng.below(4);
            let hs = holes(rng, &shell, k);
            vec![Polygon::new(shell, hs)]
        }
        // Rectangles with rectangular holes: shared stretches and touches along the grid.
        2 => {
            let shell = rect(0.0, 0.0, 12.0, 12.0);
            let hs = (0..1 + rng.below(3))
                .map(|_| {
                    let (x, y) = (rng.below(12) as f64, rng.below(12) as f64);
                    rect(
                        x,
                        y,
                        x + 1.0 + rng.below(5) as f64,
                        y + 1.0 + rng.below(5) as f64,
                    )
                })
                .collect();
            vec![Polygon::new(shell, hs)]
        }
        // Parts of a multipolygon: apart, touching, overlapping, inside one another.
        3 | 4 => (0..2 + rng.below(3))
            .map(|_| {
                let (cx, cy) = (rng.range(3.0, 17.0), rng.range(3.0, 17.0));
                let shell = star(rng, cx, cy, 1.0, 6.0, (3, 6));
                let hs = if rng.below(3) == 0 {
                    holes(rng, &shell, 1)
                } else {
                    Vec::new()
                };
                Polygon::new(shell, hs)
            })
            .collect(),
        // An island in a lake, the island drawn at random near the lake.
        5 => {
            let lake = rect(3.0, 3.0, 9.0 + rng.below(3) as f64, 9.0);
            let (cx, cy) = (rng.range(4.0, 10.0), rng.range(4.0, 8.0));
            let island = star(rng, cx, cy, 1.0, 3.5, (3, 4));
            vec![
                Polygon::new(rect(0.0, 0.0, 13.0, 12.0), vec![lake]),
                Polygon::new(island, vec![]),
            ]
        }
        // Scrambled rings.
        _ => {
            let n = 4 + rng.below(6);
            vec![Polygon::new(scramble(rng, n), vec![])]
        }
    }
}

#[tokio::test]
async fn validity_equals_postgis() {
    let client = kovgis_testkit::db::sql().await;
    let mut rng = Rng::new(0x6b6f_7667_6973_0a10);
    let cases: Vec<Vec<Polygon<f64>>> = (0..10_000).map(|i| case(&mut rng, i)).collect();
    let wkb: Vec<Vec<u8>> = cases
        .iter()
        .map(|parts| {
            let g = match parts.as_slice() {
                [one] => Geometry::Polygon(one.clone()),
                _ => Geometry::MultiPolygon(MultiPolygon(parts.clone())),
            };
            kovgis_core::output::to_wkb(&g)
        })
        .collect();
    let rows = client
        .query(
            "SELECT ST_IsValid(g), ST_IsValidReason(g)
             FROM unnest($1::bytea[]) WITH ORDINALITY AS t(w, i),
                  LATERAL (SELECT ST_GeomFromWKB(w, 3301) AS g) x
             ORDER BY i",
            &[&wkb],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), cases.len());
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    let mut failures = Vec::new();
    let mut to_confirm: Vec<(usize, String, Problem)> = Vec::new();
    for (i, (parts, row)) in cases.iter().zip(&rows).enumerate() {
        let postgis: bool = row.get(0);
        let reason: String = row.get(1);
        let kind = reason.split('[').next().unwrap_or("").trim().to_owned();
        *kinds.entry(kind.clone()).or_default() += 1;
        let ours = validity::polygons(parts, parts.len() > 1);
        let agree = match (&ours, postgis) {
            (Ok(()), true) => true,
            (Err(p), false) if meeting(p.geos_kind()) && !meeting(&kind) => {
                to_confirm.push((i, reason.clone(), p.clone()));
                true
            }
            (Err(p), false) => same_kind(p, &kind),
            _ => false,
        };
        if !agree {
            let g = match parts.as_slice() {
                [one] => Geometry::Polygon(one.clone()),
                _ => Geometry::MultiPolygon(MultiPolygon(parts.clone())),
            };
            failures.push(format!(
                "case {i}: PostGIS «{reason}», ours {:?}\n  {}",
                ours.map_err(|p| p.to_string()),
                wkt_of(&g)
            ));
        }
    }
    // Our bad meetings where GEOS stopped early: PostGIS on just the rings named.
    let wkb: Vec<Vec<u8>> = to_confirm
        .iter()
        .map(|(i, _, p)| kovgis_core::output::to_wkb(&named_rings(&cases[*i], p)))
        .collect();
    let rows = client
        .query(
            "SELECT ST_IsValidReason(g),
                    CASE WHEN ST_NumInteriorRings(g) = 1
                         THEN ST_Dimension(ST_Intersection(ST_ExteriorRing(g), ST_InteriorRingN(g, 1)))
                         ELSE -1 END
             FROM unnest($1::bytea[]) WITH ORDINALITY AS t(w, i),
                  LATERAL (SELECT ST_GeomFromWKB(w, 3301) AS g) x
             ORDER BY i",
            &[&wkb],
        )
        .await
        .unwrap();
    for ((i, reason, p), row) in to_confirm.iter().zip(&rows) {
        let confirmed: String = row.get(0);
        // Two rings sharing a stretch from vertex to vertex also touch twice, where GEOS stops
        // again: there the shared stretch is confirmed as a 1-dimensional intersection.
        let shared_stretch = matches!(p, Problem::OnALine { .. }) && row.get::<_, i32>(1) == 1;
        if !meeting(confirmed.split('[').next().unwrap_or("")) && !shared_stretch {
            failures.push(format!(
                "case {i}: PostGIS «{reason}», ours «{p}», not confirmed on the rings named («{confirmed}»)"
            ));
        }
    }
    println!(
        "{} geometries; PostGIS says: {kinds:?}; {} crossings found where GEOS stopped at a double \
         touch, each confirmed by PostGIS on the rings named",
        cases.len(),
        to_confirm.len()
    );
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
    // The generator must reach every outcome, or the comparison proves little.
    for (kind, at_least) in [
        ("Valid Geometry", 2000),
        ("Self-intersection", 1000),
        ("Ring Self-intersection", 150),
        ("Too few points in geometry component", 150),
        ("Hole lies outside shell", 150),
        ("Holes are nested", 50),
        ("Nested shells", 20),
        ("Interior is disconnected", 100),
    ] {
        let n = kinds.get(kind).copied().unwrap_or(0);
        assert!(
            n >= at_least,
            "only {n} «{kind}» (want {at_least}): {kinds:?}"
        );
    }
}

fn meeting(kind: &str) -> bool {
    kind == "Self-intersection" || kind == "Ring Self-intersection"
}

/// A polygon of just the ring or the two rings `p` names (the first as exterior).
fn named_rings(parts: &[Polygon<f64>], p: &Problem) -> Geometry<f64> {
    let ring = |n: &validity::RingName| {
        let poly = &parts[n.poly];
        match n.hole {
            None => poly.exterior().clone(),
            Some(h) => poly.interiors()[h].clone(),
        }
    };
    match p {
        Problem::SelfIntersection { ring: r, .. } | Problem::SelfTouch { ring: r, .. } => {
            Polygon::new(ring(r), vec![]).into()
        }
        Problem::Crossing { a, b, .. } | Problem::OnALine { a, b, .. } => {
            Polygon::new(ring(a), vec![ring(b)]).into()
        }
        other => panic!("not a meeting: {other:?}"),
    }
}

/// Whether our problem is the kind GEOS reported (see the module docs for where they may differ).
fn same_kind(p: &Problem, geos: &str) -> bool {
    if meeting(geos) {
        meeting(p.geos_kind())
    } else {
        p.geos_kind() == geos
    }
}

fn wkt_of(g: &Geometry<f64>) -> String {
    use std::fmt::Write;
    let ring = |r: &LineString<f64>| {
        let pts: Vec<String> =
            r.0.iter()
                .map(|c| format!("{} {}", c.x - X0, c.y - Y0))
                .collect();
        format!("({})", pts.join(", "))
    };
    let poly = |p: &Polygon<f64>| {
        let rings: Vec<String> = std::iter::once(p.exterior())
            .chain(p.interiors())
            .map(ring)
            .collect();
        format!("({})", rings.join(", "))
    };
    let mut s = String::new();
    match g {
        Geometry::Polygon(p) => write!(s, "POLYGON{}", poly(p)).unwrap(),
        Geometry::MultiPolygon(mp) => {
            let ps: Vec<String> = mp.0.iter().map(poly).collect();
            write!(s, "MULTIPOLYGON({}) (grid offsets)", ps.join(", ")).unwrap()
        }
        _ => {}
    }
    s
}

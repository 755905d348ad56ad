//! Unit tests of `validity`: hand-made polygons whose problem and place are worked out by hand,
//! single rings against geo's own validation (exact for rings without holes), and the cost of
//! 100 000-vertex inputs. The PostGIS and GEOS-suite comparisons are in `services/core/tests`.

use super::*;
use geo::{Coord, LineString, wkt};
use kovgis_testkit::shapes;

fn poly(rings: &[&[(f64, f64)]]) -> Polygon<f64> {
    let ls = |r: &[(f64, f64)]| LineString(r.iter().map(|&(x, y)| Coord { x, y }).collect());
    Polygon::new(ls(rings[0]), rings[1..].iter().map(|r| ls(r)).collect())
}

fn problem(g: impl Into<Geometry<f64>>) -> Option<Problem> {
    match g.into() {
        Geometry::Polygon(p) => polygons(&[p], false).err(),
        Geometry::MultiPolygon(mp) => polygons(&mp.0, mp.0.len() > 1).err(),
        _ => unreachable!(),
    }
}

fn at(x: f64, y: f64) -> Coord<f64> {
    Coord { x, y }
}

const EXT: RingName = RingName {
    poly: 0,
    hole: None,
    multi: false,
};

const fn hole(h: usize) -> RingName {
    RingName {
        poly: 0,
        hole: Some(h),
        multi: false,
    }
}

#[test]
fn valid_polygon_passes() {
    let p: Geometry<f64> = wkt!(POLYGON((0. 0., 10. 0., 10. 10., 0. 10., 0. 0.))).into();
    assert!(check(&p).is_ok());
}

#[test]
fn bow_tie_located() {
    let p = wkt!(POLYGON((0. 0., 10. 10., 10. 0., 0. 10., 0. 0.)));
    assert_eq!(
        problem(p.clone()),
        Some(Problem::SelfIntersection {
            ring: EXT,
            at: at(5.0, 5.0)
        })
    );
    let msg = check(&p.into()).unwrap_err();
    assert!(msg.contains("self-intersect at (5, 5)"), "{msg}");
}

#[test]
fn hole_crossing_shell_located() {
    let p = wkt!(POLYGON((0. 0., 10. 0., 10. 10., 0. 10., 0. 0.),(5. 5., 15. 5., 15. 6., 5. 6., 5. 5.)));
    let msg = check(&p.into()).unwrap_err();
    assert!(msg.contains("(10, 5)"), "{msg}");
    assert!(
        msg.contains("exterior ring and interior ring 0 cross"),
        "{msg}"
    );
}

#[test]
fn hole_touching_shell_at_a_point_is_valid() {
    let p: Geometry<f64> =
        wkt!(POLYGON((0. 0., 10. 0., 10. 10., 0. 10., 0. 0.),(0. 5., 5. 4., 5. 6., 0. 5.))).into();
    assert!(check(&p).is_ok());
}

#[test]
fn too_few_points() {
    let p: Geometry<f64> = wkt!(POLYGON((0. 0., 1. 1., 0. 0.))).into();
    assert!(
        check(&p)
            .unwrap_err()
            .contains("at least 3 distinct points")
    );
    // Repeated points do not count.
    let p = poly(&[&[(0., 0.), (1., 0.), (1., 0.), (0., 0.)]]);
    assert_eq!(problem(p), Some(Problem::TooFewPoints { ring: EXT }));
}

#[test]
fn non_finite_coordinate() {
    let p = poly(&[&[(0., 0.), (1., 0.), (f64::NAN, 1.), (0., 0.)]]);
    assert_eq!(
        problem(p),
        Some(Problem::NonFinite {
            ring: EXT,
            index: 2
        })
    );
}

const SQUARE: &[(f64, f64)] = &[(0., 0.), (10., 0.), (10., 10.), (0., 10.), (0., 0.)];

/// Valid polygons with the degenerate cases OGC allows: repeated points, collinear vertices,
/// holes touching the shell or each other at single points, vertical edges, three rings through
/// one point, a ring's first vertex on another ring.
#[test]
fn valid_touching_and_degenerate_cases() {
    let cases: Vec<(&str, Geometry<f64>)> = vec![
        (
            "repeated point",
            poly(&[&[(0., 0.), (10., 0.), (10., 0.), (10., 10.), (0., 10.), (0., 0.)]]).into(),
        ),
        (
            "collinear vertices",
            poly(&[&[(0., 0.), (5., 0.), (10., 0.), (10., 10.), (0., 10.), (0., 0.)]]).into(),
        ),
        (
            "hole vertex on a shell vertex",
            poly(&[SQUARE, &[(0., 0.), (5., 2.), (2., 5.), (0., 0.)]]).into(),
        ),
        (
            "two holes touching at a point",
            poly(&[
                SQUARE,
                &[(2., 2.), (5., 2.), (5., 5.), (2., 5.), (2., 2.)],
                &[(5., 5.), (8., 5.), (8., 8.), (5., 8.), (5., 5.)],
            ])
            .into(),
        ),
        (
            "three holes through one point",
            poly(&[
                SQUARE,
                &[(5., 5.), (8., 4.), (8., 6.), (5., 5.)],
                &[(5., 5.), (2., 4.), (2., 6.), (5., 5.)],
                &[(5., 5.), (4., 8.), (6., 8.), (5., 5.)],
            ])
            .into(),
        ),
        (
            "a chain of holes touching once each",
            poly(&[
                SQUARE,
                &[(0., 5.), (3., 4.), (3., 6.), (0., 5.)],
                &[(3., 6.), (6., 5.), (6., 7.), (3., 6.)],
            ])
            .into(),
        ),
        (
            "island in a lake",
            wkt!(MULTIPOLYGON(((0. 0.,10. 0.,10. 10.,0. 10.,0. 0.),(2. 2.,8. 2.,8. 8.,2. 8.,2. 2.)),((4. 4.,6. 4.,6. 6.,4. 6.,4. 4.)))).into(),
        ),
        (
            "parts touching at two points",
            wkt!(MULTIPOLYGON(((0. 0.,4. 0.,4. 1.,1. 1.,1. 3.,4. 3.,4. 4.,0. 4.,0. 0.)),((4. 1.,6. 1.,6. 3.,4. 3.,5. 2.,4. 1.)))).into(),
        ),
        (
            "island touching the lake's shore",
            wkt!(MULTIPOLYGON(((0. 0.,10. 0.,10. 10.,0. 10.,0. 0.),(2. 2.,8. 2.,8. 8.,2. 8.,2. 2.)),((2. 2.,6. 4.,4. 6.,2. 2.)))).into(),
        ),
    ];
    for (what, g) in cases {
        assert_eq!(check(&g), Ok(()), "{what}");
    }
}

/// Each kind of problem with the place worked out by hand (the sweep meets points in x, then y
/// order, so the first problem is the leftmost).
#[test]
fn problems_and_where() {
    let multi = |poly, hole| RingName {
        poly,
        hole,
        multi: true,
    };
    let cases: Vec<(&str, Geometry<f64>, Problem)> = vec![
        (
            "hole outside the shell",
            poly(&[SQUARE, &[(20., 20.), (30., 20.), (30., 30.), (20., 20.)]]).into(),
            Problem::HoleOutside {
                ring: hole(0),
                at: at(20., 20.),
            },
        ),
        (
            "hole outside, touching the shell at a corner",
            poly(&[SQUARE, &[(10., 10.), (20., 10.), (20., 20.), (10., 10.)]]).into(),
            Problem::HoleOutside {
                ring: hole(0),
                at: at(10., 10.),
            },
        ),
        (
            "nested holes",
            poly(&[
                SQUARE,
                &[(1., 1.), (9., 1.), (9., 9.), (1., 9.), (1., 1.)],
                &[(2., 2.), (3., 2.), (3., 3.), (2., 2.)],
            ])
            .into(),
            Problem::NestedHole {
                ring: hole(1),
                outer: hole(0),
                at: at(2., 2.),
            },
        ),
        (
            "nested shells",
            wkt!(MULTIPOLYGON(((0. 0.,10. 0.,10. 10.,0. 10.,0. 0.)),((2. 2.,3. 2.,3. 3.,2. 2.))))
                .into(),
            Problem::NestedShell {
                inner: 1,
                outer: 0,
                at: at(2., 2.),
            },
        ),
        (
            "nested shell touching the outer one",
            wkt!(MULTIPOLYGON(((0. 0.,10. 0.,10. 10.,0. 10.,0. 0.)),((0. 0.,3. 2.,2. 3.,0. 0.))))
                .into(),
            Problem::NestedShell {
                inner: 1,
                outer: 0,
                at: at(0., 0.),
            },
        ),
        (
            "parts sharing an edge",
            wkt!(MULTIPOLYGON(((0. 0.,4. 0.,4. 4.,0. 4.,0. 0.)),((4. 0.,8. 0.,8. 4.,4. 4.,4. 0.))))
                .into(),
            Problem::OnALine {
                a: multi(0, None),
                b: multi(1, None),
                at: at(4., 0.),
            },
        ),
        (
            "parts crossing",
            wkt!(MULTIPOLYGON(((0. 0.,4. 0.,4. 4.,0. 4.,0. 0.)),((2. 1.,8. 1.,8. 3.,2. 3.,2. 1.))))
                .into(),
            Problem::Crossing {
                a: multi(0, None),
                b: multi(1, None),
                at: at(4., 1.),
            },
        ),
        (
            "hole sharing a stretch of the shell",
            poly(&[SQUARE, &[(0., 0.), (5., 0.), (5., 5.), (0., 0.)]]).into(),
            Problem::OnALine {
                a: EXT,
                b: hole(0),
                at: at(0., 0.),
            },
        ),
        (
            "diamond hole touching the shell four times",
            poly(&[
                SQUARE,
                &[(0., 5.), (5., 0.), (10., 5.), (5., 10.), (0., 5.)],
            ])
            .into(),
            Problem::Disconnected {
                poly: 0,
                multi: false,
                at: at(5., 0.),
            },
        ),
        (
            "two holes touching twice",
            poly(&[
                SQUARE,
                &[(2., 2.), (6., 2.), (6., 6.), (2., 6.), (2., 2.)],
                &[(6., 2.), (8., 4.), (6., 6.), (7., 4.), (6., 2.)],
            ])
            .into(),
            Problem::Disconnected {
                poly: 0,
                multi: false,
                at: at(6., 6.),
            },
        ),
        (
            "three holes touching in a cycle",
            poly(&[
                SQUARE,
                &[(2., 2.), (4., 2.), (3., 4.), (2., 2.)],
                &[(4., 2.), (6., 2.), (5., 4.), (4., 2.)],
                &[(3., 4.), (5., 4.), (4., 6.), (3., 4.)],
            ])
            .into(),
            Problem::Disconnected {
                poly: 0,
                multi: false,
                at: at(5., 4.),
            },
        ),
        (
            "the exterior passing twice through a point (an inverted hole)",
            poly(&[&[
                (0., 0.),
                (10., 0.),
                (10., 10.),
                (5., 10.),
                (7., 5.),
                (3., 5.),
                (5., 10.),
                (0., 10.),
                (0., 0.),
            ]])
            .into(),
            Problem::SelfTouch {
                ring: EXT,
                at: at(5., 10.),
            },
        ),
        (
            "the exterior's vertex on its own edge",
            poly(&[&[
                (0., 0.),
                (10., 0.),
                (10., 10.),
                (5., 0.),
                (0., 10.),
                (0., 0.),
            ]])
            .into(),
            Problem::SelfTouch {
                ring: EXT,
                at: at(5., 0.),
            },
        ),
        (
            "a spike",
            poly(&[&[
                (0., 0.),
                (10., 0.),
                (10., 10.),
                (15., 10.),
                (10., 10.),
                (0., 10.),
                (0., 0.),
            ]])
            .into(),
            Problem::SelfTouch {
                ring: EXT,
                at: at(10., 10.),
            },
        ),
        (
            "a ring of no area",
            poly(&[&[(0., 0.), (10., 0.), (5., 0.), (0., 0.)]]).into(),
            Problem::SelfIntersection {
                ring: EXT,
                at: at(0., 0.),
            },
        ),
        (
            "a hole crossing the shell at two of its vertices",
            poly(&[
                SQUARE,
                &[(10., 10.), (11., 5.), (10., 0.), (5., 5.), (10., 10.)],
            ])
            .into(),
            Problem::Crossing {
                a: EXT,
                b: hole(0),
                at: at(10., 0.),
            },
        ),
    ];
    for (what, g, expected) in cases {
        assert_eq!(problem(g), Some(expected), "{what}");
    }
}

/// On rings without holes geo's validation is exact (it checks self-intersection, touches
/// included); the sweep must decide as it does: convex and concave outlines, stars that wind
/// twice, bow ties, spikes, a vertex touching another edge.
#[test]
fn single_rings_are_decided_as_geo_decides() {
    let mut rng = kovgis_testkit::Rng::new(0x2545_f491_4f6c_dd1d);
    let mut next = move || rng.unit();
    let (mut valid, mut invalid) = (0, 0);
    for case in 0..400 {
        let n = 4 + (next() * 300.0) as usize;
        let (cx, cy) = (659_000.0, 6_474_000.0);
        let mut pts: Vec<Coord<f64>> = (0..n)
            .map(|i| {
                let turns = if case % 7 == 0 { 2.0 } else { 1.0 }; // wound twice
                let a = i as f64 / n as f64 * std::f64::consts::TAU * turns;
                let r = match case % 4 {
                    0 => 50.0,                 // convex
                    1 => 30.0 + 20.0 * next(), // concave, simple
                    2 => {
                        if i % 2 == 0 {
                            50.0
                        } else {
                            10.0
                        }
                    } // star
                    _ => 40.0 + 10.0 * (a * 3.0).sin(), // wavy
                };
                Coord {
                    x: cx + r * a.cos(),
                    y: cy + r * a.sin(),
                }
            })
            .collect();
        match case % 9 {
            // A bow tie: two vertices swapped.
            3 => pts.swap(n / 3, 2 * n / 3),
            // A spike: a vertex going back along its edge.
            5 => {
                let (a, b) = (pts[n / 2], pts[n / 2 + 1]);
                pts.insert(
                    n / 2 + 2,
                    Coord {
                        x: a.x + (b.x - a.x) * 0.5,
                        y: a.y + (b.y - a.y) * 0.5,
                    },
                );
            }
            // A vertex on another edge (self-touching).
            8 => {
                let (a, b) = (pts[0], pts[1]);
                pts[n / 2] = Coord {
                    x: (a.x + b.x) / 2.0,
                    y: (a.y + b.y) / 2.0,
                };
            }
            _ => {}
        }
        pts.push(pts[0]);
        let g: Geometry<f64> = Polygon::new(LineString(pts), vec![]).into();
        let geo_says = g.validation_errors().is_empty();
        assert_eq!(check(&g).is_ok(), geo_says, "case {case}: {:?}", check(&g));
        if geo_says { valid += 1 } else { invalid += 1 }
    }
    assert!(
        valid > 100 && invalid > 100,
        "{valid} valid, {invalid} invalid"
    );
}

fn geometry(rings: &[shapes::Ring]) -> Geometry<f64> {
    let ls = |r: &shapes::Ring| LineString(r.iter().map(|&[x, y]| Coord { x, y }).collect());
    Polygon::new(ls(&rings[0]), rings[1..].iter().map(ls).collect()).into()
}

/// 100 000 vertices (the default cap) with holes, valid and with one crossing at the very end:
/// decided, rightly, in well under a second (geo's quadratic check took 10 s for 40 000).
#[test]
fn a_hundred_thousand_vertices_with_holes_are_decided_quickly() {
    let (cx, cy) = (659_000.0, 6_474_000.0);
    let cases = [
        (
            "60 000 + 40 000, valid",
            shapes::with_hole(cx, cy, 60_000, 40_000, false),
            true,
        ),
        (
            "60 000 + 40 000, crossing",
            shapes::with_hole(cx, cy, 60_000, 40_000, true),
            false,
        ),
        (
            "49 001 + 500 × 100, valid",
            shapes::with_holes(cx, cy, 49_001, 500, 100, false),
            true,
        ),
        (
            "49 001 + 500 × 100, crossing",
            shapes::with_holes(cx, cy, 49_001, 500, 100, true),
            false,
        ),
    ];
    for (what, rings, valid) in cases {
        assert!(shapes::points(&rings) <= 100_000, "{what}");
        let g = geometry(&rings);
        let started = std::time::Instant::now();
        let result = check(&g);
        let took = started.elapsed();
        println!(
            "{what}: {:?} in {took:?}",
            result.as_ref().map_err(|e| &e[..e.len().min(80)])
        );
        assert_eq!(result.is_ok(), valid, "{what}: {result:?}");
        if !valid {
            assert!(result.unwrap_err().contains("self-intersect at"), "{what}");
        }
        assert!(took.as_secs_f64() < 1.0, "{what}: {took:?}");
    }
}

/// The shapes that make an index of boxes quadratic — a star whose long spikes all overlap near
/// the centre, a comb whose long teeth all span the same x range — cost no more than a circle.
#[test]
fn stars_and_combs_stay_fast() {
    let n = 50_000;
    let star: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            let a = i as f64 / n as f64 * std::f64::consts::TAU;
            let r = if i % 2 == 0 { 1000.0 } else { 1.0 };
            (r * a.cos(), r * a.sin())
        })
        .chain([(1000.0, 0.0)])
        .collect();
    // Teeth 1 000 m long and 0.5 m apart, joined along the left.
    let mut comb: Vec<(f64, f64)> = Vec::new();
    for k in 0..n / 4 {
        let y = k as f64;
        comb.extend([(0.0, y), (1000.0, y), (1000.0, y + 0.5), (0.0, y + 0.5)]);
    }
    comb.extend([(-1.0, (n / 4) as f64), (-1.0, 0.0), (0.0, 0.0)]);
    let crossed = {
        let mut c = comb.clone();
        // The last tooth's far corner pulled down across the tooth below.
        let k = c.len() - 5;
        c[k] = (1000.0, (n / 4) as f64 - 1.75);
        c
    };
    for (what, ring, valid) in [
        ("star", star, true),
        ("comb", comb, true),
        ("crossed comb", crossed, false),
    ] {
        let g: Geometry<f64> = poly(&[&ring]).into();
        let started = std::time::Instant::now();
        let result = check(&g);
        let took = started.elapsed();
        println!("{what} of {} vertices: {took:?}", ring.len());
        assert_eq!(result.is_ok(), valid, "{what}: {result:?}");
        assert!(took.as_secs_f64() < 1.0, "{what}: {took:?}");
    }
}

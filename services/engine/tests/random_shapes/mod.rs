//! Seeded random polygons at Estonian coordinates (EPSG:3301) for the PostGIS differential
//! tests: stars, boxes, near-circles, shapes with holes, long thin bands, and pairs of them
//! overlapping, apart, touching exactly or nested. Also the tolerance helpers (perimeter, extent)
//! the comparisons use. Deterministic (the workspace's seeded generator, `kovgis_testkit::Rng`)
//! and independent of the engine.

#![allow(dead_code)] // each test file uses its own part

use geo::{Coord, LineString, MultiPolygon, Polygon};
pub use kovgis_testkit::Rng;

pub fn ring(points: Vec<Coord>) -> LineString {
    let mut points = points;
    points.push(points[0]);
    LineString(points)
}

/// A star-shaped ring around `c`: `n` ≥ 4 angles, evenly spaced and jittered (so every gap is
/// below π and the ring is simple), radii in [r·inner, r] (nearly convex when inner is near 1).
pub fn star(rng: &mut Rng, c: Coord, r: f64, n: usize, inner: f64) -> LineString {
    let n = n.max(4);
    let points = (0..n)
        .map(|i| {
            let a = (i as f64 + rng.range(-0.3, 0.3)) / n as f64 * std::f64::consts::TAU;
            let radius = if i % 2 == 0 {
                r
            } else {
                r * rng.range(inner, 1.0)
            };
            Coord {
                x: c.x + radius * a.cos(),
                y: c.y + radius * a.sin(),
            }
        })
        .collect();
    ring(points)
}

pub fn boxed(x: f64, y: f64, w: f64, h: f64) -> Polygon {
    Polygon::new(
        ring(vec![
            Coord { x, y },
            Coord { x: x + w, y },
            Coord { x: x + w, y: y + h },
            Coord { x, y: y + h },
        ]),
        vec![],
    )
}

/// One shape around `c` of size about `r`.
pub fn shape(rng: &mut Rng, c: Coord, r: f64) -> Polygon {
    match rng.below(6) {
        0 => boxed(c.x - r / 2.0, c.y - r / 3.0, r, r * rng.range(0.3, 1.2)),
        1 => {
            let n = 3 + rng.below(10);
            Polygon::new(star(rng, c, r, n, 1.0), vec![])
        }
        2 => {
            let n = 6 + rng.below(30);
            Polygon::new(star(rng, c, r, n, 0.3), vec![])
        }
        3 => {
            // A near-convex outline (inner radius above 0.8 r) with a hole well inside it.
            let (n, m) = (8 + rng.below(8), 4 + rng.below(6));
            let outer = star(rng, c, r, n, 0.97);
            let hole = star(rng, c, r * 0.4, m, 0.9);
            Polygon::new(outer, vec![hole])
        }
        4 => {
            // Many vertices and concave (boundary runs, see kovgis_engine::shape), with a
            // hole half the time.
            let n = 60 + rng.below(240);
            let outer = star(rng, c, r, n, 0.6);
            let holes = if rng.below(2) == 0 {
                let m = 8 + rng.below(60);
                vec![star(rng, c, r * 0.3, m, 0.8)]
            } else {
                vec![]
            };
            Polygon::new(outer, holes)
        }
        _ => {
            // Many vertices: a near-circle of a few hundred points.
            let n = 100 + rng.below(300);
            let points = (0..n)
                .map(|i| {
                    let a = i as f64 / n as f64 * std::f64::consts::TAU;
                    Coord {
                        x: c.x + r * a.cos(),
                        y: c.y + r * a.sin(),
                    }
                })
                .collect();
            Polygon::new(ring(points), vec![])
        }
    }
}

/// Pairs (proposal, feature): overlapping, apart, touching exactly, nested; small and huge.
pub fn pairs(n: usize) -> Vec<(MultiPolygon, MultiPolygon)> {
    let mut rng = Rng::new(0x6b6f_7667_6973);
    (0..n)
        .map(|i| {
            let c = Coord {
                x: rng.range(655_000.0, 662_000.0),
                y: rng.range(6_470_000.0, 6_478_000.0),
            };
            let r = if i % 10 == 0 {
                rng.range(300.0, 2_000.0) // plan areas
            } else {
                rng.range(4.0, 40.0) // footprints
            };
            let a = shape(&mut rng, c, r);
            let b = match i % 7 {
                // Sharing an edge exactly: a box and the box next to it.
                0 => {
                    let (w, h) = (r, r * 0.8);
                    let first = boxed(c.x, c.y, w, h);
                    let next = boxed(c.x + w, c.y + rng.range(-h, h), w * 0.7, h);
                    return (MultiPolygon(vec![first]), MultiPolygon(vec![next]));
                }
                // Nested: a small shape well inside a larger one.
                1 => {
                    let outer = shape(&mut rng, c, r * 4.0);
                    return (
                        MultiPolygon(vec![boxed(c.x - r / 4.0, c.y - r / 4.0, r / 2.0, r / 2.0)]),
                        MultiPolygon(vec![outer]),
                    );
                }
                _ => {
                    let d = Coord {
                        x: c.x + rng.range(-4.0, 4.0) * r,
                        y: c.y + rng.range(-4.0, 4.0) * r,
                    };
                    let size = r * rng.range(0.3, 2.0);
                    shape(&mut rng, d, size)
                }
            };
            (MultiPolygon(vec![a]), MultiPolygon(vec![b]))
        })
        .collect()
}

/// The overlay grid step as a share of the extent (see the module docs).
pub const GRID: f64 = 1e-9;

pub fn rings(g: &MultiPolygon) -> impl Iterator<Item = &LineString> {
    g.0.iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
}

pub fn perimeter(g: &MultiPolygon) -> f64 {
    rings(g)
        .flat_map(|r| r.lines())
        .map(|l| (l.end.x - l.start.x).hypot(l.end.y - l.start.y))
        .sum()
}

pub fn extent(a: &MultiPolygon, b: &MultiPolygon) -> f64 {
    let (mut lo, mut hi) = (
        Coord {
            x: f64::MAX,
            y: f64::MAX,
        },
        Coord {
            x: f64::MIN,
            y: f64::MIN,
        },
    );
    for c in rings(a).chain(rings(b)).flat_map(|r| r.coords()) {
        lo = Coord {
            x: lo.x.min(c.x),
            y: lo.y.min(c.y),
        };
        hi = Coord {
            x: hi.x.max(c.x),
            y: hi.y.max(c.y),
        };
    }
    (hi.x - lo.x).max(hi.y - lo.y)
}

/// A band `width` wide along a wavy line of `length` from `c` in direction `angle`, of many
/// vertices: it fills little of its box, so the index finds it by the boxes of its grid rows.
pub fn band(rng: &mut Rng, c: Coord, length: f64, width: f64, angle: f64) -> Polygon {
    let n = 40 + rng.below(120);
    let (dx, dy) = (angle.cos(), angle.sin());
    let wave = rng.range(0.0, width);
    let at = |t: f64, side: f64| {
        let off = side + wave * (t / length * 9.0).sin();
        Coord {
            x: c.x + t * dx - off * dy,
            y: c.y + t * dy + off * dx,
        }
    };
    let mut pts: Vec<Coord> = (0..=n)
        .map(|i| at(i as f64 / n as f64 * length, 0.0))
        .collect();
    pts.extend(
        (0..=n)
            .rev()
            .map(|i| at(i as f64 / n as f64 * length, width)),
    );
    ring(pts)
        .0
        .split_last()
        .map(|(_, open)| Polygon::new(ring(open.to_vec()), vec![]))
        .unwrap()
}

/// A large concave polygon of many vertices (a plan area: 600–3 000 on its outline) with six
/// holes of 20–200 vertices, around `c`, of radius `r`.
pub fn large(rng: &mut Rng, c: Coord, r: f64) -> Polygon {
    let n = 600 + rng.below(2_400);
    let outer = star(rng, c, r, n, 0.6);
    // Six holes on a circle of 0.3 r, 0.1 r round: inside the outline (at least 0.6 r out) and
    // 0.3 r apart, so they meet neither it nor each other.
    let holes = (0..6)
        .map(|k| {
            let a = k as f64 / 6.0 * std::f64::consts::TAU;
            let at = Coord {
                x: c.x + 0.3 * r * a.cos(),
                y: c.y + 0.3 * r * a.sin(),
            };
            let m = 20 + rng.below(180);
            star(rng, at, 0.1 * r, m, 0.7)
        })
        .collect();
    Polygon::new(outer, holes)
}

/// Pairs (large, feature) where the cut-down overlay works: a [`large`] plan area and a feature
/// on its outline or over a hole — small, as large as a quarter of it, or itself large.
pub fn large_pairs(n: usize) -> Vec<(MultiPolygon, MultiPolygon)> {
    let mut rng = Rng::new(0x6375_7464_6f77);
    (0..n)
        .map(|i| {
            let c = Coord {
                x: rng.range(655_000.0, 662_000.0),
                y: rng.range(6_470_000.0, 6_478_000.0),
            };
            let r = rng.range(300.0, 2_000.0);
            let a = large(&mut rng, c, r);
            let angle = rng.range(0.0, std::f64::consts::TAU);
            let out = if i % 4 == 0 {
                0.3 // over a hole
            } else {
                rng.range(0.6, 1.1) // on the outline
            };
            let d = Coord {
                x: c.x + out * r * angle.cos(),
                y: c.y + out * r * angle.sin(),
            };
            let b = match i % 3 {
                0 => {
                    let size = r * rng.range(0.01, 0.1);
                    shape(&mut rng, d, size)
                }
                1 => {
                    let size = r * rng.range(0.1, 0.5);
                    shape(&mut rng, d, size)
                }
                _ => {
                    let size = r * rng.range(0.3, 1.0);
                    large(&mut rng, d, size)
                }
            };
            (MultiPolygon(vec![a]), MultiPolygon(vec![b]))
        })
        .collect()
}

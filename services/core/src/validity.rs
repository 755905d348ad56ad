//! OGC validity of client geometries, with the place where a polygon goes wrong.
//!
//! `geo`'s [`Validation`] says *what* is wrong ("exterior ring has a self-intersection") but not
//! *where*; an official fixing a drawing needs the spot. For self-intersections and rings that
//! cross, this module finds the first pair of crossing ring segments with an R-tree over the
//! segments (O(n log n), so the vertex cap, not this check, bounds the cost) and reports the
//! crossing point in the client's own coordinates.
//!
//! geo's validation compares every segment with every other (O(n²): about 1 ms for a
//! 300-vertex outline, more than the whole spatial check of it). A single ring without holes —
//! nearly every drawn footprint or plan boundary — is valid exactly when its coordinates are
//! finite, it has three or more distinct points and no two of its segments meet except
//! neighbours at their shared vertex: from [`FAST_FROM`] vertices up that is checked here with a
//! sweep over the segments in x order and geo's robust orientation predicate; everything else
//! goes to geo.

use geo::line_intersection::{LineIntersection, line_intersection};
use geo::{Coord, Geometry, Line, LineString, Polygon, Validation};
use rstar::{AABB, RTree, RTreeObject};

/// Ok when `geometry` is OGC-valid; otherwise the first problem in words, with a location where
/// one can be given.
pub fn check(geometry: &Geometry<f64>) -> Result<(), String> {
    if simple_ring_is_valid(geometry) {
        return Ok(());
    }
    let Some(first) = geometry.validation_errors().into_iter().next() else {
        return Ok(());
    };
    let message = first.to_string();
    let polygons: Vec<&Polygon<f64>> = match geometry {
        Geometry::Polygon(p) => vec![p],
        Geometry::MultiPolygon(mp) => mp.0.iter().collect(),
        _ => Vec::new(),
    };
    for p in polygons {
        if let Some(at) = first_crossing(p) {
            return Err(format!(
                "{message}; rings self-intersect at ({}, {})",
                fmt_coord(at.x),
                fmt_coord(at.y)
            ));
        }
    }
    Err(message)
}

/// Rings from this many vertices are checked with the R-tree (below it geo is as fast).
pub const FAST_FROM: usize = 32;

/// True when `geometry` is one polygon without holes, of at least [`FAST_FROM`] vertices, finite,
/// with three distinct points and no segments meeting except neighbours at their shared vertex —
/// valid, decided in O(n log n). False means "not decided here", not "invalid".
fn simple_ring_is_valid(geometry: &Geometry<f64>) -> bool {
    let polygon = match geometry {
        Geometry::Polygon(p) => p,
        Geometry::MultiPolygon(mp) if mp.0.len() == 1 => &mp.0[0],
        _ => return false,
    };
    let ring = &polygon.exterior().0;
    if !polygon.interiors().is_empty()
        || ring.len() < FAST_FROM
        || ring.first() != ring.last()
        || ring.iter().any(|c| !c.x.is_finite() || !c.y.is_finite())
    {
        return false;
    }
    let mut distinct: Vec<Coord<f64>> = Vec::with_capacity(3);
    for c in ring {
        if !distinct.contains(c) {
            distinct.push(*c);
            if distinct.len() == 3 {
                break;
            }
        }
    }
    distinct.len() == 3 && simple(ring)
}

/// Whether the closed ring `ring` is simple: no two segments meet except neighbours at their
/// shared vertex, and neighbours do not fold back onto each other. Sweeps the segments in order
/// of their least x, keeping those whose x range is still open; every meeting is decided with
/// exact orientation signs. A repeated vertex is "not decided" (false).
fn simple(ring: &[Coord<f64>]) -> bool {
    use geo::algorithm::kernels::{Kernel, Orientation, RobustKernel};
    let n = ring.len() - 1;
    if ring.windows(2).any(|w| w[0] == w[1]) {
        return false;
    }
    let orient = |p, q, r| RobustKernel::orient2d(p, q, r);
    let seg = |i: usize| (ring[i], ring[i + 1]);
    let within = |p: Coord<f64>, q: Coord<f64>, r: Coord<f64>| {
        r.x >= p.x.min(q.x) && r.x <= p.x.max(q.x) && r.y >= p.y.min(q.y) && r.y <= p.y.max(q.y)
    };
    // Neighbours i and i + 1 share ring[i + 1]: they fold back when collinear and reversed.
    for i in 0..n {
        let (a, v, b) = (ring[i], ring[i + 1], ring[(i + 2) % n]);
        if orient(a, v, b) == Orientation::Collinear
            && (v.x - a.x) * (b.x - v.x) + (v.y - a.y) * (b.y - v.y) < 0.0
        {
            return false;
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    let min_x = |i: usize| ring[i].x.min(ring[i + 1].x);
    order.sort_unstable_by(|&a, &b| min_x(a).total_cmp(&min_x(b)));
    let mut active: Vec<usize> = Vec::new();
    for k in order {
        let (p1, p2) = seg(k);
        let x0 = p1.x.min(p2.x);
        active.retain(|&j| ring[j].x.max(ring[j + 1].x) >= x0);
        for &j in &active {
            if j.abs_diff(k) == 1 || j.abs_diff(k) == n - 1 {
                continue; // neighbours, checked above
            }
            let (q1, q2) = seg(j);
            if p1.y.max(p2.y) < q1.y.min(q2.y) || q1.y.max(q2.y) < p1.y.min(p2.y) {
                continue;
            }
            let (o1, o2) = (orient(p1, p2, q1), orient(p1, p2, q2));
            let (o3, o4) = (orient(q1, q2, p1), orient(q1, q2, p2));
            use Orientation::Collinear as C;
            let meet = (o1 != o2 && o3 != o4 && o1 != C && o2 != C && o3 != C && o4 != C)
                || (o1 == C && within(p1, p2, q1))
                || (o2 == C && within(p1, p2, q2))
                || (o3 == C && within(q1, q2, p1))
                || (o4 == C && within(q1, q2, p2));
            if meet {
                return false;
            }
        }
        active.push(k);
    }
    true
}

/// Projected metres to the centimetre, degrees to about a centimetre (7 decimals).
fn fmt_coord(v: f64) -> String {
    let s = if v.abs() > 1_000.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.7}")
    };
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// A ring segment and where it sits: (ring index, segment index).
#[derive(Debug, Clone, Copy)]
struct Segment {
    line: Line<f64>,
    data: (usize, usize),
}

impl RTreeObject for Segment {
    type Envelope = AABB<[f64; 2]>;

    fn envelope(&self) -> Self::Envelope {
        AABB::from_corners(
            [self.line.start.x, self.line.start.y],
            [self.line.end.x, self.line.end.y],
        )
    }
}

/// The first point where two segments of a polygon's rings cross or touch where they must not:
/// any contact between segments that are not neighbours on the same ring, except a single
/// touching point between two different rings (which OGC allows).
pub fn first_crossing(polygon: &Polygon<f64>) -> Option<Coord<f64>> {
    let rings: Vec<&LineString<f64>> = std::iter::once(polygon.exterior())
        .chain(polygon.interiors())
        .collect();
    let mut segments = Vec::new();
    for (r, ring) in rings.iter().enumerate() {
        for (i, line) in ring.lines().enumerate() {
            if line.start != line.end {
                segments.push(Segment { line, data: (r, i) });
            }
        }
    }
    let ring_len: Vec<usize> = rings.iter().map(|r| r.0.len().saturating_sub(1)).collect();
    let tree = RTree::bulk_load(segments.clone());
    let mut best: Option<(usize, usize, Coord<f64>)> = None;
    for a in &segments {
        let env = a.envelope();
        for b in tree.locate_in_envelope_intersecting(env) {
            if b.data <= a.data {
                continue;
            }
            let (ra, ia) = a.data;
            let (rb, ib) = b.data;
            let Some(hit) = line_intersection(a.line, b.line) else {
                continue;
            };
            let point = match hit {
                LineIntersection::SinglePoint {
                    intersection,
                    is_proper,
                } => {
                    if ra != rb {
                        // Rings may touch at a point; a proper crossing is a real problem.
                        if !is_proper {
                            continue;
                        }
                    } else {
                        let n = ring_len[ra];
                        let adjacent = ib == ia + 1 || (ia == 0 && ib + 1 == n);
                        if adjacent && !is_proper {
                            continue;
                        }
                    }
                    intersection
                }
                LineIntersection::Collinear { intersection } => intersection.start,
            };
            let key = (ra.min(rb), ia.min(ib));
            if best.is_none_or(|(r, i, _)| key < (r, i)) {
                best = Some((key.0, key.1, point));
            }
        }
    }
    best.map(|(_, _, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::wkt;

    #[test]
    fn valid_polygon_passes() {
        let p: Geometry<f64> = wkt!(POLYGON((0. 0., 10. 0., 10. 10., 0. 10., 0. 0.))).into();
        assert!(check(&p).is_ok());
    }

    #[test]
    fn bow_tie_located() {
        let p = wkt!(POLYGON((0. 0., 10. 10., 10. 0., 0. 10., 0. 0.)));
        assert_eq!(first_crossing(&p), Some(Coord { x: 5.0, y: 5.0 }));
        let msg = check(&p.into()).unwrap_err();
        assert!(msg.contains("(5, 5)"), "{msg}");
    }

    #[test]
    fn hole_crossing_shell_located() {
        let p = wkt!(POLYGON((0. 0., 10. 0., 10. 10., 0. 10., 0. 0.),(5. 5., 15. 5., 15. 6., 5. 6., 5. 5.)));
        let msg = check(&p.into()).unwrap_err();
        assert!(msg.contains("(10, 5)"), "{msg}");
    }

    #[test]
    fn hole_touching_shell_at_a_point_is_valid() {
        let p: Geometry<f64> =
            wkt!(POLYGON((0. 0., 10. 0., 10. 10., 0. 10., 0. 0.),(0. 5., 5. 4., 5. 6., 0. 5.)))
                .into();
        assert!(check(&p).is_ok());
    }

    /// The R-tree path decides exactly as geo's validation on large rings: convex and concave
    /// outlines, stars that wind twice, bow ties, spikes, a vertex touching another edge.
    #[test]
    fn large_rings_are_decided_as_geo_decides() {
        let mut rng = kovgis_testkit::Rng::new(0x2545_f491_4f6c_dd1d);
        let mut next = move || rng.unit();
        let (mut valid, mut invalid) = (0, 0);
        for case in 0..400 {
            let n = FAST_FROM + (next() * 300.0) as usize;
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
            assert_eq!(
                simple_ring_is_valid(&g),
                geo_says,
                "case {case}: the R-tree path disagrees with geo"
            );
            assert_eq!(check(&g).is_ok(), geo_says, "case {case}");
            if geo_says { valid += 1 } else { invalid += 1 }
        }
        assert!(
            valid > 100 && invalid > 100,
            "{valid} valid, {invalid} invalid"
        );
    }

    #[test]
    fn too_few_points() {
        let p: Geometry<f64> = wkt!(POLYGON((0. 0., 1. 1., 0. 0.))).into();
        assert!(check(&p).is_err());
    }
}

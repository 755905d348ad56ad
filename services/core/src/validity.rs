//! OGC validity of client geometries, with the place where a polygon goes wrong.
//!
//! `geo`'s [`Validation`] says *what* is wrong ("exterior ring has a self-intersection") but not
//! *where*; an official fixing a drawing needs the spot. For self-intersections and rings that
//! cross, this module finds the first pair of crossing ring segments with an R-tree over the
//! segments (O(n log n), so the vertex cap, not this check, bounds the cost) and reports the
//! crossing point in the client's own coordinates.

use geo::line_intersection::{LineIntersection, line_intersection};
use geo::{Coord, Geometry, Line, LineString, Polygon, Validation};
use rstar::{AABB, RTree, RTreeObject};

/// Ok when `geometry` is OGC-valid; otherwise the first problem in words, with a location where
/// one can be given.
pub fn check(geometry: &Geometry<f64>) -> Result<(), String> {
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

    #[test]
    fn too_few_points() {
        let p: Geometry<f64> = wkt!(POLYGON((0. 0., 1. 1., 0. 0.))).into();
        assert!(check(&p).is_err());
    }
}

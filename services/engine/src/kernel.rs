//! The geometry kernel: the few plane-geometry computations that both the predicate layer
//! ([`crate::predicates`]) and the prepared shapes ([`crate::shape`]) are built on — ring area
//! (shoelace, in local coordinates where precision needs it), perimeter, convexity, the one
//! Sutherland–Hodgman clipping kernel, and segment distances.
//!
//! Plain functions over coordinates and rings, no state and no knowledge of what a parcel or a
//! rule is. Not an oracle for anything: tests check the code built on it against PostGIS, the
//! GEOS suites, geo's overlay or values worked out by hand, never against this module.

use geo::{BoundingRect, Coord, LineString, MultiPolygon};

/// The rings of a multipolygon with their polygon's and their own number (0: the exterior).
pub(crate) fn rings(m: &MultiPolygon) -> impl Iterator<Item = (usize, usize, &LineString)> {
    m.0.iter().enumerate().flat_map(|(pi, p)| {
        std::iter::once(p.exterior())
            .chain(p.interiors())
            .enumerate()
            .map(move |(ri, r)| (pi, ri, r))
    })
}

/// The lower-left corner of the box of `a`: the origin of coordinates local to it.
pub(crate) fn origin_of(a: &MultiPolygon) -> Coord {
    a.bounding_rect()
        .map(|r| r.min())
        .unwrap_or(Coord { x: 0.0, y: 0.0 })
}

/// The area of `a` (`ST_Area`), computed in coordinates local to it.
pub fn area(a: &MultiPolygon) -> f64 {
    let o = origin_of(a);
    let ring = |r: &LineString| {
        let mut twice = 0.0;
        for w in r.0.windows(2) {
            let (p, q) = (w[0] - o, w[1] - o);
            twice += p.x * q.y - q.x * p.y;
        }
        (twice / 2.0).abs()
    };
    // As geo's `unsigned_area`: per polygon, the exterior less the holes.
    a.0.iter()
        .map(|p| (ring(p.exterior()) - p.interiors().iter().map(ring).sum::<f64>()).abs())
        .sum()
}

/// Signed area of an open ring (counter-clockwise positive).
pub(crate) fn shoelace(ring: &[Coord]) -> f64 {
    let n = ring.len();
    if n < 3 {
        return 0.0;
    }
    let mut sum = 0.0;
    let mut prev = ring[n - 1];
    for &cur in ring {
        sum += prev.x * cur.y - cur.x * prev.y;
        prev = cur;
    }
    sum / 2.0
}

/// The rings' summed length (`ST_Perimeter`).
pub(crate) fn perimeter(polygons: &MultiPolygon) -> f64 {
    rings(polygons)
        .flat_map(|(_, _, r)| r.lines())
        .map(|l| (l.end.x - l.start.x).hypot(l.end.y - l.start.y))
        .sum()
}

/// The perimeter of an open ring.
pub(crate) fn ring_length(ring: &[Coord]) -> f64 {
    let Some(&last) = ring.last() else {
        return 0.0;
    };
    let mut prev = last;
    let mut length = 0.0;
    for &cur in ring {
        length += (cur.x - prev.x).hypot(cur.y - prev.y);
        prev = cur;
    }
    length
}

/// The exterior of a single polygon without holes, when it is convex.
pub fn convex_ring(m: &MultiPolygon) -> Option<&LineString> {
    let [p] = m.0.as_slice() else {
        return None;
    };
    if !p.interiors().is_empty() {
        return None;
    }
    let pts = &p.exterior().0;
    let n = pts.len().saturating_sub(1); // closed ring
    if n < 3 {
        return None;
    }
    let mut sign = 0.0f64;
    for i in 0..n {
        let (a, b, c) = (pts[i], pts[(i + 1) % n], pts[(i + 2) % n]);
        let cross = (b.x - a.x) * (c.y - b.y) - (b.y - a.y) * (c.x - b.x);
        if cross != 0.0 {
            if sign != 0.0 && cross.signum() != sign {
                return None;
            }
            sign = cross.signum();
        }
    }
    (sign != 0.0).then_some(p.exterior())
}

/// When the open ring (repeated vertices dropped in place) turns the same way, clearly, at
/// every vertex — a convex polygon, as rings that come out of clipping a simple ring wind at
/// most once — its orientation: 1 counter-clockwise, -1 clockwise.
pub(crate) fn strictly_convex(ring: &mut Vec<Coord>) -> Option<f64> {
    ring.dedup();
    while ring.len() > 1 && ring.first() == ring.last() {
        ring.pop();
    }
    let n = ring.len();
    if n < 3 {
        return None;
    }
    let mut sign = 0.0f64;
    for i in 0..n {
        let (a, b, c) = (ring[i], ring[(i + 1) % n], ring[(i + 2) % n]);
        let (u, v) = (b - a, c - b);
        let turn = u.x * v.y - u.y * v.x;
        // Nearly straight on (or folding back): clipping may have left a run along the box's
        // side there — not decided here.
        let straight = 1e-9 * u.x.hypot(u.y) * v.x.hypot(v.y);
        if turn.abs() <= straight || (sign != 0.0 && turn.signum() != sign) {
            return None;
        }
        sign = turn.signum();
    }
    Some(sign)
}

/// Sutherland–Hodgman of the open ring in `ring` by the convex counter-clockwise `window`; the
/// result is left in `ring`, `scratch` is scratch space. A pass that finds every vertex inside
/// its edge copies nothing.
pub(crate) fn clip_in_place(window: &[Coord], ring: &mut Vec<Coord>, scratch: &mut Vec<Coord>) {
    let m = window.len();
    let bounds = |r: &[Coord]| {
        r.iter().fold(
            (
                Coord {
                    x: f64::MAX,
                    y: f64::MAX,
                },
                Coord {
                    x: f64::MIN,
                    y: f64::MIN,
                },
            ),
            |(lo, hi), p| {
                (
                    Coord {
                        x: lo.x.min(p.x),
                        y: lo.y.min(p.y),
                    },
                    Coord {
                        x: hi.x.max(p.x),
                        y: hi.y.max(p.y),
                    },
                )
            },
        )
    };
    // The ring's box: an edge whose inside holds the box's farthest corner holds the ring, and
    // its pass is skipped without looking at the vertices.
    let (mut lo, mut hi) = bounds(ring);
    for i in 0..m {
        let n = ring.len();
        if n == 0 {
            return;
        }
        let (e0, e1) = (window[i], window[(i + 1) % m]);
        let (dx, dy) = (e1.x - e0.x, e1.y - e0.y);
        let side = |p: Coord| dx * (p.y - e0.y) - dy * (p.x - e0.x);
        // side() grows with y when dx > 0 and with x when dy < 0: the farthest corner outside
        // takes the other ends.
        let corner = Coord {
            x: if dy > 0.0 { hi.x } else { lo.x },
            y: if dx > 0.0 { lo.y } else { hi.y },
        };
        if side(corner) >= 0.0 {
            continue;
        }
        if ring.iter().all(|p| side(*p) >= 0.0) {
            continue;
        }
        scratch.clear();
        let mut prev = ring[n - 1];
        let mut sp = side(prev);
        for &cur in ring.iter() {
            let sc = side(cur);
            if (sp >= 0.0) != (sc >= 0.0) {
                let t = sp / (sp - sc);
                scratch.push(Coord {
                    x: prev.x + t * (cur.x - prev.x),
                    y: prev.y + t * (cur.y - prev.y),
                });
            }
            if sc >= 0.0 {
                scratch.push(cur);
            }
            prev = cur;
            sp = sc;
        }
        std::mem::swap(ring, scratch);
        (lo, hi) = bounds(ring);
    }
}

/// Squared distance from the area bounded by `rings` (box `bbox`) to the segment pq; 0 when
/// the segment meets the area.
pub(crate) fn segment_distance2(
    rings: &[Vec<Coord>],
    bbox: (Coord, Coord),
    p: Coord,
    q: Coord,
) -> f64 {
    let (lo, hi) = bbox;
    if p.x >= lo.x && p.x <= hi.x && p.y >= lo.y && p.y <= hi.y && inside_rings(rings, p) {
        return 0.0;
    }
    let mut best = f64::INFINITY;
    for r in rings {
        for s in r.windows(2) {
            if segments_meet(s[0], s[1], p, q) {
                return 0.0;
            }
            best = best
                .min(point_segment2(s[0], p, q))
                .min(point_segment2(p, s[0], s[1]))
                .min(point_segment2(q, s[0], s[1]));
        }
    }
    best
}

/// Even-odd point-in-polygon over every ring.
pub(crate) fn inside_rings(rings: &[Vec<Coord>], p: Coord) -> bool {
    let mut inside = false;
    for r in rings {
        for w in r.windows(2) {
            let (a, b) = (w[0], w[1]);
            if (a.y > p.y) != (b.y > p.y) && p.x < a.x + (p.y - a.y) / (b.y - a.y) * (b.x - a.x) {
                inside = !inside;
            }
        }
    }
    inside
}

pub(crate) fn cross(o: Coord, a: Coord, b: Coord) -> f64 {
    (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x)
}

/// Whether segments p1p2 and q1q2 share a point (touching included).
pub(crate) fn segments_meet(p1: Coord, p2: Coord, q1: Coord, q2: Coord) -> bool {
    let on = |a: Coord, b: Coord, c: Coord| {
        c.x >= a.x.min(b.x) && c.x <= a.x.max(b.x) && c.y >= a.y.min(b.y) && c.y <= a.y.max(b.y)
    };
    let (d1, d2) = (cross(q1, q2, p1), cross(q1, q2, p2));
    let (d3, d4) = (cross(p1, p2, q1), cross(p1, p2, q2));
    if ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0))
        && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
    {
        return true;
    }
    (d1 == 0.0 && on(q1, q2, p1))
        || (d2 == 0.0 && on(q1, q2, p2))
        || (d3 == 0.0 && on(p1, p2, q1))
        || (d4 == 0.0 && on(p1, p2, q2))
}

/// Squared distance from `p` to the segment ab (squared: the square root is taken once, for the
/// minimum).
pub(crate) fn point_segment2(p: Coord, a: Coord, b: Coord) -> f64 {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p.x - a.x) * dx + (p.y - a.y) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (cx, cy) = (a.x + t * dx - p.x, a.y + t * dy - p.y);
    cx * cx + cy * cy
}

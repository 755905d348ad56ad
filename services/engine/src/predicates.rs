//! The predicate layer of the validation engine.
//!
//! Every spatial question a rule asks goes through this module, so that this one module is what
//! the GEOS XMLTester suites (`tests/geos_relate.rs`) and the PostGIS differential tests
//! (`tests/postgis_differential.rs`) check:
//! - named predicates with their OGC / PostGIS meaning. [`intersects`] uses geo's dedicated
//!   `Intersects` (several times cheaper than a full relate); the others read the DE-9IM matrix
//!   of geo's `Relate`, a port of JTS's relate;
//! - [`overlap_area`]: the area of the intersection of two areal geometries, computed in
//!   coordinates local to the first one: EPSG:3301 northings are about 6.5e6 m, and a shoelace
//!   sum on raw coordinates loses about 1e-4 m² there;
//! - [`distance`]: Euclidean distance, 0 when the geometries intersect.

use std::borrow::Cow;

use geo::{
    Area, BooleanOps, BoundingRect, Coord, Distance, Euclidean, Geometry, Intersects, LineString,
    MapCoords, MultiPolygon, Relate,
};

pub use geo::algorithm::relate::IntersectionMatrix;

pub use crate::kernel::{area, convex_ring};
use crate::kernel::{
    clip_in_place, cross, inside_rings, origin_of, point_segment2, segment_distance2,
    segments_meet, shoelace,
};

/// The DE-9IM matrix of `a` against `b`.
pub fn relate(a: &Geometry, b: &Geometry) -> IntersectionMatrix {
    a.relate(b)
}

/// `a` and `b` have at least one point in common (`ST_Intersects`).
pub fn intersects(a: &Geometry, b: &Geometry) -> bool {
    a.intersects(b)
}

/// No point in common (`ST_Disjoint`).
pub fn disjoint(a: &Geometry, b: &Geometry) -> bool {
    !intersects(a, b)
}

/// Every point of `a` is a point of `b` (`ST_CoveredBy`): a footprint on its parcel, boundary
/// included.
pub fn covered_by(a: &Geometry, b: &Geometry) -> bool {
    relate(a, b).is_coveredby()
}

/// Every point of `b` is a point of `a` (`ST_Covers`).
pub fn covers(a: &Geometry, b: &Geometry) -> bool {
    relate(a, b).is_covers()
}

/// `ST_Within`: covered by, and the interiors meet.
pub fn within(a: &Geometry, b: &Geometry) -> bool {
    relate(a, b).is_within()
}

/// `ST_Contains`.
pub fn contains(a: &Geometry, b: &Geometry) -> bool {
    relate(a, b).is_contains()
}

/// They meet only on their boundaries (`ST_Touches`): a neighbour's parcel, not a hit.
pub fn touches(a: &Geometry, b: &Geometry) -> bool {
    relate(a, b).is_touches()
}

/// `ST_Crosses`.
pub fn crosses(a: &Geometry, b: &Geometry) -> bool {
    relate(a, b).is_crosses()
}

/// `ST_Overlaps`.
pub fn overlaps(a: &Geometry, b: &Geometry) -> bool {
    relate(a, b).is_overlaps()
}

/// The same point set (`ST_Equals`).
pub fn equals_topo(a: &Geometry, b: &Geometry) -> bool {
    relate(a, b).is_equal_topo()
}

/// Moves `g` so that `origin` is at (0, 0).
fn local(g: &MultiPolygon, origin: Coord) -> MultiPolygon {
    g.map_coords(|c| c - origin)
}

/// The intersection of two areal geometries, for display (in their own coordinates).
///
/// When one has many vertices and reaches well beyond the other (a 100 000-vertex plan area and a
/// zone on its edge), it is first cut down to the other's box ([`clip_to_box`]): the overlay then
/// works on the few hundred vertices that can matter instead of all of them, for every feature.
pub fn overlap(a: &MultiPolygon, b: &MultiPolygon) -> MultiPolygon {
    overlay(a, b).0
}

/// Below this many vertices the overlay is cheap enough on the whole geometry.
const CUT_DOWN_VERTICES: usize = 512;

/// `a` and `b`, each of many vertices cut down to the box where both lie (the intersection of
/// their boxes) when it reaches out of it; borrowed as they are otherwise. Their intersection is
/// unchanged. The two are cut with different margins, so that what clipping leaves along the
/// cut never lies on the other's.
fn cut_down<'g>(
    a: &'g MultiPolygon,
    b: &'g MultiPolygon,
) -> (Cow<'g, MultiPolygon>, Cow<'g, MultiPolygon>) {
    let (Some(ba), Some(bb)) = (a.bounding_rect(), b.bounding_rect()) else {
        return (Cow::Borrowed(a), Cow::Borrowed(b));
    };
    let lo = Coord {
        x: ba.min().x.max(bb.min().x),
        y: ba.min().y.max(bb.min().y),
    };
    let hi = Coord {
        x: ba.max().x.min(bb.max().x),
        y: ba.max().y.min(bb.max().y),
    };
    if lo.x > hi.x || lo.y > hi.y {
        return (Cow::Borrowed(a), Cow::Borrowed(b));
    }
    let both = geo::Rect::new(lo, hi);
    let cut = |g: &'g MultiPolygon, own: geo::Rect, margin: f64| -> Cow<'g, MultiPolygon> {
        let within = own.min().x >= lo.x
            && own.min().y >= lo.y
            && own.max().x <= hi.x
            && own.max().y <= hi.y;
        if within || vertices(g) < CUT_DOWN_VERTICES {
            Cow::Borrowed(g)
        } else {
            Cow::Owned(clip_to_box(g, both, margin))
        }
    };
    let margin = 1.0 + 1e-3 * both.width().max(both.height());
    (cut(a, ba, margin), cut(b, bb, 2.0 * margin))
}

fn vertices(g: &MultiPolygon) -> usize {
    g.0.iter()
        .map(|p| p.exterior().0.len() + p.interiors().iter().map(|r| r.0.len()).sum::<usize>())
        .sum()
}

/// `g` cut to the box `window` widened by `margin` (> 0) on every side, ring by ring (Sutherland–Hodgman): a
/// geometry whose intersection with anything inside `window` is `g`'s.
///
/// Clipping a concave ring can leave runs that go out and back along the widened box's sides
/// (zero width), and a hole's clipped ring can run along its exterior's there; the even-odd
/// overlay of geo cancels such doubled edges, and the margin keeps them clear of whatever lies
/// inside `window`. Rings that vanish are dropped, a polygon with its exterior.
pub fn clip_to_box(g: &MultiPolygon, window: geo::Rect, margin: f64) -> MultiPolygon {
    let (lo, hi) = (window.min(), window.max());
    let origin = lo;
    let (x0, y0) = (-margin, -margin);
    let (x1, y1) = (hi.x - lo.x + margin, hi.y - lo.y + margin);
    let frame = [
        Coord { x: x0, y: y0 },
        Coord { x: x1, y: y0 },
        Coord { x: x1, y: y1 },
        Coord { x: x0, y: y1 },
    ];
    let (mut scratch, mut ring) = (Vec::new(), Vec::new());
    let mut clip = |r: &LineString| -> Option<LineString> {
        ring.clear();
        ring.extend(r.0.iter().map(|c| *c - origin));
        ring.pop(); // closed
        clip_in_place(&frame, &mut ring, &mut scratch);
        ring.dedup();
        if ring.len() < 3 || shoelace(&ring) == 0.0 {
            return None;
        }
        let mut out: Vec<Coord> = ring.iter().map(|c| *c + origin).collect();
        out.push(out[0]);
        Some(LineString(out))
    };
    let mut polygons = Vec::new();
    for polygon in &g.0 {
        let Some(exterior) = clip(polygon.exterior()) else {
            continue;
        };
        let holes = polygon.interiors().iter().filter_map(&mut clip).collect();
        polygons.push(geo::Polygon::new(exterior, holes));
    }
    MultiPolygon(polygons)
}

/// The area of the intersection of two areal geometries (`ST_Area(ST_Intersection(a, b))`), in
/// the units of the coordinates (m² in EPSG:3301), computed in coordinates local to `a`.
///
/// When either one is a single convex polygon without holes (a rectangular footprint, a
/// building), the other is clipped by it with Sutherland–Hodgman ring by ring — exact up to
/// floating-point rounding, and a few microseconds. Otherwise the overlay (i_overlay) computes it;
/// that snaps to a grid over the pair's extent, so on large plan areas it differs from GEOS by up
/// to ~1e-2 m² — compare with a tolerance, not exactly.
pub fn overlap_area(a: &MultiPolygon, b: &MultiPolygon) -> f64 {
    let origin = origin_of(a);
    if let Some(clip) = convex_ring(b) {
        return clipped_area(a, clip, origin);
    }
    if let Some(clip) = convex_ring(a) {
        return clipped_area(b, clip, origin);
    }
    overlay(a, b).1
}

/// The intersection of two areal geometries and its area, by the overlay (the pair cut down
/// first, see [`overlap`]): for a caller that needs both, one overlay instead of two.
pub fn overlay(a: &MultiPolygon, b: &MultiPolygon) -> (MultiPolygon, f64) {
    let (a, b) = cut_down(a, b);
    let origin = origin_of(&a);
    let local_overlap = local(&a, origin).intersection(&local(&b, origin));
    let area = local_overlap.unsigned_area();
    (local_overlap.map_coords(|c| c + origin), area)
}

/// The intersection of two convex polygons (each a [`convex_ring`]), exactly: Sutherland–Hodgman
/// of one by the other is itself convex and needs no overlay. `None` when it is empty.
pub fn convex_intersection(a: &LineString, b: &LineString) -> Option<MultiPolygon> {
    let origin = b.0.first().copied()?;
    let window = window_of(b, origin);
    let (mut input, mut ring) = (Vec::new(), Vec::new());
    clip_ring(a, origin, &window, &mut input, &mut ring);
    ring.dedup();
    if ring.len() < 3 {
        return None;
    }
    ring.push(ring[0]);
    Some(MultiPolygon(vec![geo::Polygon::new(
        LineString(ring.into_iter().map(|c| c + origin).collect()),
        vec![],
    )]))
}

/// Σ over `subject`'s rings of the area of ring ∩ `clip` (exteriors add, holes subtract),
/// computed in coordinates shifted by `origin`.
fn clipped_area(subject: &MultiPolygon, clip: &LineString, origin: Coord) -> f64 {
    let window = window_of(clip, origin);
    let mut total = 0.0;
    let (mut input, mut output) = (Vec::new(), Vec::new());
    for polygon in &subject.0 {
        for (i, ring) in std::iter::once(polygon.exterior())
            .chain(polygon.interiors())
            .enumerate()
        {
            clip_ring(ring, origin, &window, &mut input, &mut output);
            let area = shoelace(&output).abs();
            total += if i == 0 { area } else { -area };
        }
    }
    total.max(0.0)
}

/// The convex clip ring, open, counter-clockwise, shifted by `origin`.
fn window_of(clip: &LineString, origin: Coord) -> Vec<Coord> {
    let mut window: Vec<Coord> = clip.0.iter().map(|c| *c - origin).collect();
    window.pop(); // closed
    if shoelace(&window) < 0.0 {
        window.reverse(); // inside is on the left of every edge
    }
    window
}

/// `ring` (shifted by `origin`) clipped by the convex `window` with Sutherland–Hodgman (the one
/// kernel, [`clip_in_place`]), into `output` (open); `input` is scratch space.
fn clip_ring(
    ring: &LineString,
    origin: Coord,
    window: &[Coord],
    input: &mut Vec<Coord>,
    output: &mut Vec<Coord>,
) {
    output.clear();
    output.extend(ring.0.iter().map(|c| *c - origin));
    output.pop();
    clip_in_place(window, output, input);
}

/// The shortest distance between `a` and `b` (`ST_Distance`); 0 when they intersect.
pub fn distance(a: &Geometry, b: &Geometry) -> f64 {
    Euclidean.distance(a, b)
}

/// The distance from the area `a` to the boundary of `b` (`ST_Distance(a, ST_Boundary(b))`): a
/// footprint's setback from its parcel's boundary.
pub fn boundary_distance(a: &MultiPolygon, b: &MultiPolygon) -> f64 {
    let edges: Vec<(Coord, Coord)> =
        b.0.iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
            .flat_map(|r| r.0.windows(2).map(|w| (w[0], w[1])))
            .collect();
    edge_distance(a, &edges)
}

/// How far apart two boundaries may lie and still count as one common boundary in
/// [`outer_edges`], m: digitising noise and coordinates rounded differently by two sources.
pub const COMMON_BOUNDARY_TOLERANCE: f64 = 1e-3;

/// The boundary of the union of polygons that do not overlap (parcels): every edge without the
/// parts another polygon's edges run along (within [`COMMON_BOUNDARY_TOLERANCE`]) — a common
/// boundary, whether the two sides have the same vertices or not. `None` for sets of more than
/// 512 edges (only an overlay is reasonable there).
pub fn outer_edges(polygons: &[&MultiPolygon]) -> Option<Vec<(Coord, Coord)>> {
    let edges = edges_of(polygons)?;
    let mut outer = Vec::with_capacity(edges.all.len());
    let mut covered = Vec::new();
    for &(i, a, b) in &edges.all {
        outer_pieces(i, a, b, &edges, &mut covered, &mut outer);
    }
    Some(outer)
}

/// Every edge of a few polygons, with the polygon's number; per polygon its edges' range and
/// its box.
struct Edges {
    all: Vec<(usize, Coord, Coord)>,
    polygons: Vec<(usize, std::ops::Range<usize>, geo::Rect)>,
}

/// `None` for more than 512 edges.
fn edges_of(polygons: &[&MultiPolygon]) -> Option<Edges> {
    let mut all = Vec::new();
    let mut ranges = Vec::with_capacity(polygons.len());
    for (i, m) in polygons.iter().enumerate() {
        let start = all.len();
        for p in &m.0 {
            for r in std::iter::once(p.exterior()).chain(p.interiors()) {
                for w in r.0.windows(2) {
                    if w[0] != w[1] {
                        all.push((i, w[0], w[1]));
                    }
                }
            }
        }
        if all.len() > 512 {
            return None;
        }
        if let Some(b) = m.bounding_rect() {
            ranges.push((i, start..all.len(), b));
        }
    }
    Some(Edges {
        all,
        polygons: ranges,
    })
}

/// The parts of edge ab of polygon `i` that no other polygon's edge runs along, into `out`.
fn outer_pieces(
    i: usize,
    a: Coord,
    b: Coord,
    edges: &Edges,
    covered: &mut Vec<(f64, f64)>,
    out: &mut Vec<(Coord, Coord)>,
) {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len2 = dx * dx + dy * dy;
    let reach = COMMON_BOUNDARY_TOLERANCE * len2.sqrt();
    // Only polygons whose box comes within the tolerance of the edge's box can run along it.
    let t = COMMON_BOUNDARY_TOLERANCE;
    let near = |r: &geo::Rect| {
        r.min().x <= a.x.max(b.x) + t
            && a.x.min(b.x) - t <= r.max().x
            && r.min().y <= a.y.max(b.y) + t
            && a.y.min(b.y) - t <= r.max().y
    };
    let others = edges
        .polygons
        .iter()
        .filter(|(j, _, r)| *j != i && near(r))
        .flat_map(|(_, range, _)| &edges.all[range.clone()]);
    // The stretches of ab (as parameters along it) that other polygons' edges run along.
    covered.clear();
    for &(j, c, d) in others {
        if j == i || cross(a, b, c).abs() > reach || cross(a, b, d).abs() > reach {
            continue;
        }
        let t = |p: Coord| ((p.x - a.x) * dx + (p.y - a.y) * dy) / len2;
        let (lo, hi) = (t(c).min(t(d)).max(0.0), t(c).max(t(d)).min(1.0));
        if hi > lo {
            covered.push((lo, hi));
        }
    }
    if covered.is_empty() {
        out.push((a, b));
        return;
    }
    covered.sort_by(|x, y| x.0.total_cmp(&y.0));
    let at = |t: f64| Coord {
        x: a.x + t * dx,
        y: a.y + t * dy,
    };
    // What is left, without pieces shorter than the tolerance.
    let min_piece = COMMON_BOUNDARY_TOLERANCE / len2.sqrt();
    let mut from = 0.0;
    for &(lo, hi) in covered.iter() {
        if lo - from > min_piece {
            out.push((at(from), at(lo)));
        }
        from = f64::max(from, hi);
    }
    if 1.0 - from > min_piece {
        out.push((at(from), b));
    }
}

/// `edge_distance(a, outer_edges(polygons))` without working out the edges that cannot be the
/// nearest: edges are taken nearest box first, and only until the next box is farther than the
/// nearest boundary found. `None` where [`outer_edges`] is.
pub fn union_boundary_distance(a: &MultiPolygon, polygons: &[&MultiPolygon]) -> Option<f64> {
    let Some(abox) = a.bounding_rect() else {
        return Some(f64::INFINITY);
    };
    if let [one] = polygons {
        return Some(own_boundary_distance(a, abox, one));
    }
    let edges = edges_of(polygons)?;
    let origin = abox.min();
    let sa: Vec<Vec<Coord>> =
        a.0.iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
            .map(|r| r.0.iter().map(|c| *c - origin).collect())
            .collect();
    let (lo, hi) = (abox.min(), abox.max());
    // Squared distance from a's box to the segment's box: a lower bound of the distance.
    let gap2 = |p: Coord, q: Coord| {
        let dx = (lo.x - p.x.max(q.x)).max(p.x.min(q.x) - hi.x).max(0.0);
        let dy = (lo.y - p.y.max(q.y)).max(p.y.min(q.y) - hi.y).max(0.0);
        dx * dx + dy * dy
    };
    let mut order: Vec<(f64, u32)> = edges
        .all
        .iter()
        .enumerate()
        .map(|(k, &(_, p, q))| (gap2(p, q), k as u32))
        .collect();
    order.sort_unstable_by(|x, y| x.0.total_cmp(&y.0));
    let local_box = (Coord::zero(), hi - origin);
    // An edge another polygon has exactly in reverse is common boundary, whole: found by sorting
    // the edges' coordinates instead of searching for each.
    let key = |p: Coord, q: Coord| [p.x.to_bits(), p.y.to_bits(), q.x.to_bits(), q.y.to_bits()];
    let mut keys: Vec<([u64; 4], usize)> =
        edges.all.iter().map(|&(i, p, q)| (key(p, q), i)).collect();
    keys.sort_unstable();
    let shared = |i: usize, p: Coord, q: Coord| {
        let k = key(q, p);
        let from = keys.partition_point(|(x, _)| *x < k);
        keys[from..]
            .iter()
            .take_while(|(x, _)| *x == k)
            .any(|&(_, j)| j != i)
    };
    let (mut covered, mut pieces) = (Vec::new(), Vec::new());
    let mut best = f64::INFINITY; // squared
    for (bound, k) in order {
        if bound >= best {
            break;
        }
        let (i, p, q) = edges.all[k as usize];
        if shared(i, p, q) {
            continue;
        }
        pieces.clear();
        outer_pieces(i, p, q, &edges, &mut covered, &mut pieces);
        for &(p, q) in &pieces {
            best = best.min(segment_distance2(&sa, local_box, p - origin, q - origin));
            if best == 0.0 {
                return Some(0.0);
            }
        }
    }
    Some(best.sqrt())
}

/// [`boundary_distance`] for one polygon: every edge whose box is nearer than the nearest
/// boundary found so far is measured.
fn own_boundary_distance(a: &MultiPolygon, abox: geo::Rect, b: &MultiPolygon) -> f64 {
    let origin = abox.min();
    let sa: Vec<Vec<Coord>> =
        a.0.iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
            .map(|r| r.0.iter().map(|c| *c - origin).collect())
            .collect();
    let (lo, hi) = (abox.min(), abox.max());
    let local_box = (Coord::zero(), hi - origin);
    let mut best = f64::INFINITY; // squared
    for p in &b.0 {
        for r in std::iter::once(p.exterior()).chain(p.interiors()) {
            for w in r.0.windows(2) {
                let (p, q) = (w[0], w[1]);
                let dx = (lo.x - p.x.max(q.x)).max(p.x.min(q.x) - hi.x).max(0.0);
                let dy = (lo.y - p.y.max(q.y)).max(p.y.min(q.y) - hi.y).max(0.0);
                if dx * dx + dy * dy >= best {
                    continue;
                }
                best = best.min(segment_distance2(&sa, local_box, p - origin, q - origin));
                if best == 0.0 {
                    return 0.0;
                }
            }
        }
    }
    best.sqrt()
}

/// How many segment ends [`edge_distance`] tries inside a large area before measuring.
const SAMPLED_ENDS: usize = 64;

/// The rings of `a`, shifted by `origin`.
fn rings_of(a: &MultiPolygon, origin: Coord) -> Vec<Vec<Coord>> {
    a.0.iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .map(|r| r.0.iter().map(|c| *c - origin).collect())
        .collect()
}

/// The distance from the area `a` to a set of segments: 0 when one of them meets `a` or lies in
/// it. Small pairs are measured directly, segment by segment (no index to build); large ones
/// through [`distance`].
pub fn edge_distance(a: &MultiPolygon, edges: &[(Coord, Coord)]) -> f64 {
    use geo::CoordsIter;
    if edges.is_empty() {
        return f64::INFINITY;
    }
    if a.coords_count() * edges.len() > 20_000 {
        // A large area usually has some of the segments inside it (a plan area over many
        // parcels): a few of their ends tried first settle that at O(vertices) each, before the
        // general distance, which sorts every vertex of both (a quarter of a second at 100 000).
        let origin = origin_of(a);
        let rings: Vec<Vec<Coord>> = rings_of(a, origin);
        let bbox = a
            .bounding_rect()
            .expect("edges is not empty, a has vertices");
        let step = edges.len().div_ceil(SAMPLED_ENDS);
        let sampled = edges.iter().step_by(step).map(|&(p, _)| p);
        if sampled
            .filter(|&p| bbox.intersects(&p))
            .any(|p| inside_rings(&rings, p - origin))
        {
            return 0.0;
        }
        let lines =
            geo::MultiLineString(edges.iter().map(|&(p, q)| LineString(vec![p, q])).collect());
        return distance(
            &Geometry::MultiPolygon(a.clone()),
            &Geometry::MultiLineString(lines),
        );
    }
    let origin = origin_of(a);
    let sa = rings_of(a, origin);
    let sb: Vec<(Coord, Coord)> = edges
        .iter()
        .map(|&(p, q)| (p - origin, q - origin))
        .collect();
    // A segment inside the area (a proposal around the whole parcel): distance 0. Segments that
    // cross the area's boundary are caught below; one inside it has both ends inside.
    let bbox = a
        .bounding_rect()
        .map(|r| (r.min() - origin, r.max() - origin));
    let in_box = |p: Coord| {
        bbox.is_some_and(|(lo, hi)| p.x >= lo.x && p.x <= hi.x && p.y >= lo.y && p.y <= hi.y)
    };
    if sb.iter().any(|&(p, _)| in_box(p) && inside_rings(&sa, p)) {
        return 0.0;
    }
    let mut best = f64::INFINITY; // squared
    for r in &sa {
        for s in r.windows(2) {
            for &(t0, t1) in &sb {
                if segments_meet(s[0], s[1], t0, t1) {
                    return 0.0;
                }
                best = best
                    .min(point_segment2(s[0], t0, t1))
                    .min(point_segment2(t0, s[0], s[1]));
            }
        }
    }
    best.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{MultiPolygon, polygon};

    fn square(x: f64, y: f64, side: f64) -> MultiPolygon {
        MultiPolygon(vec![polygon![
            (x: x, y: y),
            (x: x + side, y: y),
            (x: x + side, y: y + side),
            (x: x, y: y + side),
            (x: x, y: y),
        ]])
    }

    #[test]
    fn areas_at_estonian_coordinates_are_right_to_a_square_micrometre() {
        // A 0.1 m × 0.1 m overlap at Estonian coordinates: 0.01 m² (the overlay's grid snapping
        // leaves about 5e-9 here).
        let a = square(659_000.0, 6_474_000.0, 20.0);
        let b = square(659_019.9, 6_474_019.9, 20.0);
        assert!(
            (overlap_area(&a, &b) - 0.01).abs() < 1e-6,
            "{}",
            overlap_area(&a, &b)
        );
        assert!((area(&a) - 400.0).abs() < 1e-9);
    }

    #[test]
    fn neighbours_touch_but_do_not_overlap() {
        let a = Geometry::MultiPolygon(square(0.0, 0.0, 10.0));
        let b = Geometry::MultiPolygon(square(10.0, 0.0, 10.0));
        assert!(intersects(&a, &b));
        assert!(touches(&a, &b));
        assert!(!overlaps(&a, &b));
        let (ma, mb) = (square(0.0, 0.0, 10.0), square(10.0, 0.0, 10.0));
        assert_eq!(overlap_area(&ma, &mb), 0.0);
        assert_eq!(distance(&a, &b), 0.0);
        let c = Geometry::MultiPolygon(square(13.0, 4.0, 1.0));
        assert!((distance(&a, &c) - 3.0).abs() < 1e-12);
    }

    #[test]
    fn a_footprint_on_the_parcel_boundary_is_covered() {
        let parcel = Geometry::MultiPolygon(square(0.0, 0.0, 10.0));
        let flush = Geometry::MultiPolygon(square(0.0, 0.0, 4.0));
        assert!(covered_by(&flush, &parcel));
        assert!(!relate(&flush, &parcel).is_contains());
        let sticking_out = Geometry::MultiPolygon(square(8.0, 8.0, 4.0));
        assert!(!covered_by(&sticking_out, &parcel));
        assert!(covers(&parcel, &flush));
    }
}

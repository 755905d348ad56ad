//! Areal geometries prepared once for many overlap questions: a parcel or a feature when the
//! index is built, a proposal once per validation.
//!
//! A [`Shape`] keeps its area, perimeter, bounding box and convexity; an indexed one also a
//! 16 × 16 grid over its box (each cell inside, outside or crossed by the boundary, 2 bits, one
//! cache line); one with many vertices its boundary cut into runs of [`CHUNK`] edges, each with
//! its bounding box and the signed area between the run and its chord. Then:
//! - [`Shape::place`]: when the grid cells under another shape's box are all inside or all
//!   outside, or no boundary edge comes into that box (then one ray cast tells which), the other
//!   shape lies wholly inside or wholly outside — no clipping at all;
//! - [`overlap`]: when clipping is needed, the runs far from the clip window are replaced by
//!   their chords before Sutherland–Hodgman. That is exact: a run and its chord lie in the run's
//!   bounding box, a convex set; when that box is outside the window the two are homotopic in the
//!   plane without the window, so the winding number of every point of the window — and the
//!   clipped area, its integral — is unchanged; when the box is inside the window, the clipped
//!   area changes by exactly the area between run and chord, which is kept with the run.
//! - a window of many edges (a round outline) is clipped the other way round when the subject's
//!   part inside the window's box is convex: Sutherland–Hodgman walks the subject once per window
//!   edge, and where the overlap follows the window's boundary the subject grows by a vertex per
//!   edge; a convex subject part as the window takes a handful of passes for the same polygon.

use geo::{BoundingRect, Coord, CoordsIter, LineString, MultiPolygon, Rect};

use crate::kernel::{self, clip_in_place, ring_length, rings, shoelace, strictly_convex};
use crate::predicates;

/// Edges per boundary run, and the vertex count from which a shape has runs.
pub const CHUNK: usize = 16;
pub const CHUNKED_FROM: usize = 48;

/// Windows with more edges than this are not tested for holding a run's box (4 corners × edges
/// per run would cost more than the clipping it saves).
const INSIDE_TEST_EDGES: usize = 24;

/// A run of boundary edges: vertices `start..=end` of one ring.
#[derive(Debug, Clone)]
struct Chunk {
    bbox: Rect,
    polygon: u32,
    ring: u32,
    start: u32,
    end: u32,
    /// Signed shoelace area of the run closed by its chord (the ring's own orientation).
    loop_area: f64,
    /// How much longer the run is than its chord.
    detour: f64,
}

/// Where one shape lies against another, when that can be told without clipping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Entirely inside the shape's area.
    Inside,
    /// Entirely outside it.
    Outside,
    /// The shape's boundary comes within the other's bounding box: compute.
    Unknown,
}

/// An areal geometry with what the overlap questions need (see the module docs).
#[derive(Debug, Clone)]
pub struct Shape {
    pub polygons: MultiPolygon,
    /// `predicates::area`, m².
    pub area: f64,
    pub bbox: Option<Rect>,
    /// One polygon without holes, convex: it can be the clip window.
    pub convex: bool,
    /// The rings' summed length, m.
    pub perimeter: f64,
    vertices: usize,
    chunks: Vec<Chunk>,
    /// For indexed shapes: a 16 × 16 grid over the box, each cell inside, outside or crossed
    /// by the boundary — most placements are one look-up.
    grid: Option<Grid>,
}

/// Cells across and down a [`Grid`].
const CELLS: usize = 16;

/// What a grid cell holds: 2 bits each.
const OUT: u64 = 0;
const IN: u64 = 1;
const EDGE: u64 = 2;

/// A coarse raster of a shape over its bounding box: 2 bits per cell, one cache line.
#[derive(Debug, Clone, Copy)]
struct Grid {
    bits: [u64; CELLS * CELLS / 32],
}

impl Grid {
    fn get(&self, col: usize, row: usize) -> u64 {
        let i = row * CELLS + col;
        (self.bits[i / 32] >> ((i % 32) * 2)) & 3
    }

    fn set(&mut self, col: usize, row: usize, v: u64) {
        let i = row * CELLS + col;
        let shift = (i % 32) * 2;
        self.bits[i / 32] = (self.bits[i / 32] & !(3 << shift)) | (v << shift);
    }

    /// Cells crossed by an edge's box are EDGE (boxes slightly widened, so an edge on a cell
    /// line marks both sides); every other cell is wholly inside or outside, told by its centre.
    fn of(m: &MultiPolygon, b: Rect) -> Option<Grid> {
        let (cw, ch) = (b.width() / CELLS as f64, b.height() / CELLS as f64);
        if cw <= 0.0 || ch <= 0.0 {
            return None;
        }
        let mut grid = Grid {
            bits: [0; CELLS * CELLS / 32],
        };
        let col = |x: f64| (((x - b.min().x) / cw).floor().max(0.0) as usize).min(CELLS - 1);
        let row = |y: f64| (((y - b.min().y) / ch).floor().max(0.0) as usize).min(CELLS - 1);
        let (ex, ey) = (cw * 1e-6, ch * 1e-6);
        for (_, _, r) in rings(m) {
            for w in r.0.windows(2) {
                let (a, c) = (w[0], w[1]);
                for rr in row(a.y.min(c.y) - ey)..=row(a.y.max(c.y) + ey) {
                    for cc in col(a.x.min(c.x) - ex)..=col(a.x.max(c.x) + ex) {
                        grid.set(cc, rr, EDGE);
                    }
                }
            }
        }
        let mut xs = Vec::new();
        for rr in 0..CELLS {
            let y = b.min().y + (rr as f64 + 0.5) * ch;
            xs.clear();
            for (_, _, r) in rings(m) {
                for w in r.0.windows(2) {
                    let (a, c) = (w[0], w[1]);
                    if (a.y > y) != (c.y > y) {
                        xs.push(a.x + (y - a.y) / (c.y - a.y) * (c.x - a.x));
                    }
                }
            }
            for cc in 0..CELLS {
                if grid.get(cc, rr) == EDGE {
                    continue;
                }
                let x = b.min().x + (cc as f64 + 0.5) * cw;
                if xs.iter().filter(|&&cx| cx > x).count() % 2 == 1 {
                    grid.set(cc, rr, IN);
                }
            }
        }
        Some(grid)
    }
}

fn meets(a: &Rect, b: &Rect) -> bool {
    a.min().x <= b.max().x
        && b.min().x <= a.max().x
        && a.min().y <= b.max().y
        && b.min().y <= a.max().y
}

impl Shape {
    /// A shape to be placed against many times (an index's): with a grid (kept inline, one
    /// cache line, so that placing against it touches no other memory).
    pub fn indexed(polygons: MultiPolygon) -> Self {
        let mut shape = Shape::new(polygons);
        if let Some(b) = shape.bbox {
            shape.grid = Grid::of(&shape.polygons, b);
        }
        shape
    }

    /// For a large shape that fills less than half of its box: boxes covering it, one per run of
    /// grid rows with the same span of cells that are not outside (slightly widened against
    /// rounding). `None` when the box itself is as good.
    pub fn row_boxes(&self) -> Option<Vec<Rect>> {
        let (grid, b) = (self.grid.as_ref()?, self.bbox?);
        if self.chunks.is_empty() {
            return None;
        }
        let (cw, ch) = (b.width() / CELLS as f64, b.height() / CELLS as f64);
        let (ex, ey) = (cw * 1e-6, ch * 1e-6);
        let mut spans: Vec<(usize, usize, usize, usize)> = Vec::new(); // rows r0..=r1, cols c0..=c1
        for r in 0..CELLS {
            let cols: Vec<usize> = (0..CELLS).filter(|&c| grid.get(c, r) != OUT).collect();
            let (Some(&c0), Some(&c1)) = (cols.first(), cols.last()) else {
                continue;
            };
            match spans.last_mut() {
                Some(last) if last.1 + 1 == r && (last.2, last.3) == (c0, c1) => last.1 = r,
                _ => spans.push((r, r, c0, c1)),
            }
        }
        let boxes: Vec<Rect> = spans
            .iter()
            .map(|&(r0, r1, c0, c1)| {
                Rect::new(
                    Coord {
                        x: b.min().x + c0 as f64 * cw - ex,
                        y: b.min().y + r0 as f64 * ch - ey,
                    },
                    Coord {
                        x: b.min().x + (c1 + 1) as f64 * cw + ex,
                        y: b.min().y + (r1 + 1) as f64 * ch + ey,
                    },
                )
            })
            .collect();
        let covered: f64 = boxes.iter().map(|r| r.width() * r.height()).sum();
        (covered < 0.5 * b.width() * b.height()).then_some(boxes)
    }

    /// A shape for a few questions (a proposal's): runs, no grid.
    pub fn new(polygons: MultiPolygon) -> Self {
        let area = kernel::area(&polygons);
        let bbox = polygons.bounding_rect();
        let convex = kernel::convex_ring(&polygons).is_some();
        let vertices = polygons.coords_count();
        let chunks = if vertices >= CHUNKED_FROM {
            chunks_of(&polygons)
        } else {
            Vec::new()
        };
        let perimeter = kernel::perimeter(&polygons);
        Shape {
            polygons,
            area,
            bbox,
            convex,
            perimeter,
            vertices,
            chunks,
            grid: None,
        }
    }

    /// One of its vertices (for a ray cast).
    pub fn vertex(&self) -> Option<Coord> {
        self.polygons
            .0
            .first()
            .and_then(|p| p.exterior().0.first())
            .copied()
    }

    fn ring(&self, polygon: u32, ring: u32) -> &LineString {
        let p = &self.polygons.0[polygon as usize];
        if ring == 0 {
            p.exterior()
        } else {
            &p.interiors()[ring as usize - 1]
        }
    }

    /// Places something with bounding box `bbox` and the point `vertex` on it against this
    /// shape: when no boundary edge reaches into the box, it is wholly inside or wholly outside,
    /// and a ray cast from the vertex tells which.
    pub fn place(&self, bbox: Rect, vertex: Coord) -> Placement {
        if let (Some(grid), Some(b)) = (&self.grid, self.bbox) {
            if !meets(&bbox, &b) {
                return Placement::Outside;
            }
            // The cells under the part of the box inside ours: all inside (and the box wholly
            // inside ours) or all outside settles it.
            let (cw, ch) = (b.width() / CELLS as f64, b.height() / CELLS as f64);
            let col = |x: f64| (((x - b.min().x) / cw).floor().max(0.0) as usize).min(CELLS - 1);
            let row = |y: f64| (((y - b.min().y) / ch).floor().max(0.0) as usize).min(CELLS - 1);
            let (c0, c1) = (col(bbox.min().x), col(bbox.max().x));
            let (r0, r1) = (row(bbox.min().y), row(bbox.max().y));
            let first = grid.get(c0, r0);
            let uniform =
                first != EDGE && (r0..=r1).all(|r| (c0..=c1).all(|c| grid.get(c, r) == first));
            if uniform {
                if first == OUT {
                    return Placement::Outside;
                }
                let within = b.min().x <= bbox.min().x
                    && bbox.max().x <= b.max().x
                    && b.min().y <= bbox.min().y
                    && bbox.max().y <= b.max().y;
                if within {
                    return Placement::Inside;
                }
            }
        }
        let edge_meets = |a: Coord, b: Coord| {
            a.x.min(b.x) <= bbox.max().x
                && bbox.min().x <= a.x.max(b.x)
                && a.y.min(b.y) <= bbox.max().y
                && bbox.min().y <= a.y.max(b.y)
        };
        let (px, py) = (vertex.x, vertex.y);
        let mut inside = false;
        let mut cast = |pts: &[Coord]| {
            for w in pts.windows(2) {
                let (a, b) = (w[0], w[1]);
                if (a.y > py) != (b.y > py) {
                    let x = a.x + (py - a.y) / (b.y - a.y) * (b.x - a.x);
                    if px < x {
                        inside = !inside;
                    }
                }
            }
        };
        if self.chunks.is_empty() {
            for (_, _, r) in rings(&self.polygons) {
                if r.0.windows(2).any(|w| edge_meets(w[0], w[1])) {
                    return Placement::Unknown;
                }
            }
            for (_, _, r) in rings(&self.polygons) {
                cast(&r.0);
            }
        } else {
            for c in &self.chunks {
                if meets(&c.bbox, &bbox) {
                    let pts = &self.ring(c.polygon, c.ring).0[c.start as usize..=c.end as usize];
                    if pts.windows(2).any(|w| edge_meets(w[0], w[1])) {
                        return Placement::Unknown;
                    }
                }
            }
            for c in &self.chunks {
                if c.bbox.max().x < px || c.bbox.min().y > py || c.bbox.max().y < py {
                    continue;
                }
                cast(&self.ring(c.polygon, c.ring).0[c.start as usize..=c.end as usize]);
            }
        }
        if inside {
            Placement::Inside
        } else {
            Placement::Outside
        }
    }

    /// Where `other` lies against this shape, when that can be told without clipping.
    pub fn place_shape(&self, other: &Shape) -> Placement {
        match (other.bbox, other.vertex()) {
            (Some(b), Some(v)) => self.place(b, v),
            _ => Placement::Outside,
        }
    }

    /// This shape's rings clipped by the convex `window` (open, counter-clockwise, in
    /// coordinates shifted by `origin`): the area of this ∩ window, and the summed perimeter of
    /// the clipped rings — at least the perimeter of this ∩ window (clipping a concave ring can
    /// add edges along the window and back), exactly it when both are convex.
    fn clipped(&self, window: &Window, origin: Coord) -> (f64, f64, bool) {
        let (mut input, mut output) = (Vec::new(), Vec::new());
        let (mut total, mut perimeter) = (0.0, 0.0);
        // Exact when both are convex, or one ring's convex part was clipped the other way round.
        let single = self.polygons.0.len() == 1 && self.polygons.0[0].interiors().is_empty();
        let mut exact = self.convex;
        if self.chunks.is_empty() {
            for (_, ri, ring) in rings(&self.polygons) {
                input.clear();
                input.extend(ring.0.iter().map(|c| *c - origin));
                input.pop();
                let (area, length, convex_part) = window.clip(&mut input, &mut output);
                total += if ri == 0 { area.abs() } else { -area.abs() };
                perimeter += length;
                exact |= single && convex_part;
            }
            return (total.max(0.0), perimeter, exact);
        }
        // Ring by ring (chunks are in ring order): far runs become chords.
        let mut at = 0;
        while at < self.chunks.len() {
            let (pi, ri) = (self.chunks[at].polygon, self.chunks[at].ring);
            let ring = &self.ring(pi, ri).0;
            input.clear();
            let (mut loops, mut detours) = (0.0, 0.0);
            while at < self.chunks.len()
                && self.chunks[at].polygon == pi
                && self.chunks[at].ring == ri
            {
                let c = &self.chunks[at];
                let (s, e) = (c.start as usize, c.end as usize);
                match window.classify(&c.bbox, origin) {
                    Side::Outside => input.push(ring[s] - origin),
                    Side::Inside => {
                        input.push(ring[s] - origin);
                        loops += c.loop_area;
                        detours += c.detour;
                    }
                    Side::Across => input.extend(ring[s..e].iter().map(|c| *c - origin)),
                }
                at += 1;
            }
            let (area, length, convex_part) = window.clip(&mut input, &mut output);
            let area = (area + loops).abs();
            total += if ri == 0 { area } else { -area };
            perimeter += length + detours;
            exact |= single && convex_part && detours == 0.0;
        }
        (total.max(0.0), perimeter, exact)
    }

    /// Rough size of what it holds on the heap: coordinates and boundary runs.
    pub fn heap_bytes(&self) -> usize {
        self.vertices * std::mem::size_of::<Coord>()
            + self.chunks.len() * std::mem::size_of::<Chunk>()
    }

}

/// Boundary runs of a large polygon.
fn chunks_of(m: &MultiPolygon) -> Vec<Chunk> {
    let mut out = Vec::new();
    for (pi, ri, ring) in rings(m) {
        let n = ring.0.len();
        let mut start = 0;
        while start + 1 < n {
            let end = (start + CHUNK).min(n - 1);
            let pts = &ring.0[start..=end];
            let (mut lo, mut hi) = (pts[0], pts[0]);
            for c in pts {
                lo = Coord {
                    x: lo.x.min(c.x),
                    y: lo.y.min(c.y),
                };
                hi = Coord {
                    x: hi.x.max(c.x),
                    y: hi.y.max(c.y),
                };
            }
            // In coordinates local to the run's first vertex (precision at 6.5e6 m northings).
            let o = pts[0];
            let (mut twice, mut length) = (0.0, 0.0);
            for w in pts.windows(2) {
                let (a, b) = (w[0] - o, w[1] - o);
                twice += a.x * b.y - b.x * a.y;
                length += (b.x - a.x).hypot(b.y - a.y);
            }
            let last = pts[pts.len() - 1] - o;
            out.push(Chunk {
                bbox: Rect::new(lo, hi),
                polygon: pi as u32,
                ring: ri as u32,
                start: start as u32,
                end: end as u32,
                loop_area: twice / 2.0,
                detour: length - last.x.hypot(last.y),
            });
            start = end;
        }
    }
    out
}

/// Where a box lies against a convex window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Inside,
    Outside,
    Across,
}

/// A convex clip window: open, counter-clockwise, in local coordinates, with its box.
struct Window {
    pts: Vec<Coord>,
    bbox: Rect,
}

impl Window {
    fn new(ring: &LineString, origin: Coord) -> Self {
        let mut pts: Vec<Coord> = ring.0.iter().map(|c| *c - origin).collect();
        pts.pop(); // closed
        if shoelace(&pts) < 0.0 {
            pts.reverse(); // inside is on the left of every edge
        }
        let bbox = LineString(pts.clone())
            .bounding_rect()
            .unwrap_or(Rect::new(Coord::zero(), Coord::zero()));
        Window { pts, bbox }
    }

    /// Where the box `b` (in global coordinates) lies against the window.
    fn classify(&self, b: &Rect, origin: Coord) -> Side {
        let b = Rect::new(b.min() - origin, b.max() - origin);
        if !meets(&b, &self.bbox) {
            return Side::Outside;
        }
        if self.pts.len() > INSIDE_TEST_EDGES {
            return Side::Across;
        }
        let corners = [
            b.min(),
            Coord {
                x: b.max().x,
                y: b.min().y,
            },
            b.max(),
            Coord {
                x: b.min().x,
                y: b.max().y,
            },
        ];
        let n = self.pts.len();
        let mut all_inside = true;
        for i in 0..n {
            let (e0, e1) = (self.pts[i], self.pts[(i + 1) % n]);
            let side = |p: Coord| (e1.x - e0.x) * (p.y - e0.y) - (e1.y - e0.y) * (p.x - e0.x);
            let inside = corners.iter().filter(|c| side(**c) >= 0.0).count();
            if inside == 0 {
                return Side::Outside; // a separating edge
            }
            all_inside &= inside == 4;
        }
        if all_inside {
            Side::Inside
        } else {
            Side::Across
        }
    }

    /// Clips the open ring in `input` (local coordinates) with Sutherland–Hodgman; returns the
    /// signed area and the perimeter of the result, and whether that perimeter is exactly the
    /// overlap's (the ring's part was convex). Both vectors are scratch space afterwards.
    fn clip(&self, input: &mut Vec<Coord>, output: &mut Vec<Coord>) -> (f64, f64, bool) {
        if self.pts.len() > INSIDE_TEST_EDGES {
            // A window of many edges (a round outline) walks the ring once per edge, and the
            // ring grows by a vertex per edge where the overlap follows the window's boundary.
            // The ring's part within the window's box is often convex (a band or a corner of a
            // feature crossing the box): then it is the window and the outline the subject —
            // the same intersection, in a handful of passes.
            let (lo, hi) = (self.bbox.min(), self.bbox.max());
            let hull = [
                lo,
                Coord { x: hi.x, y: lo.y },
                hi,
                Coord { x: lo.x, y: hi.y },
            ];
            clip_in_place(&hull, input, output);
            if let Some(sign) = strictly_convex(input) {
                if sign < 0.0 {
                    input.reverse();
                }
                output.clear();
                output.extend_from_slice(&self.pts);
                let mut scratch = Vec::with_capacity(output.len() + input.len());
                clip_in_place(input, output, &mut scratch);
                let (area, length) = (shoelace(output), ring_length(output));
                return (sign * area, length, true);
            }
        }
        clip_in_place(&self.pts, input, output);
        (shoelace(input), ring_length(input), false)
    }
}

/// The area of `a ∩ b` (`ST_Area(ST_Intersection(a, b))`), m²: see [`overlap`].
pub fn overlap_area(a: &Shape, b: &Shape) -> f64 {
    overlap(a, b).area
}

/// The overlap of two shapes, as far as it was computed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Overlap {
    /// m².
    pub area: f64,
    /// At least the perimeter of the overlap, when it came from clipping; exactly it when
    /// `exact`.
    pub perimeter: Option<f64>,
    pub exact: bool,
}

/// The overlap of `a` and `b`: nothing when the boxes miss, the smaller shape when it lies
/// wholly inside the other (told by [`Shape::place`]), clipping with far runs as chords when
/// either is convex (see the module docs), and the overlay of [`predicates::overlap_area`]
/// otherwise.
pub fn overlap(a: &Shape, b: &Shape) -> Overlap {
    let none = Overlap {
        area: 0.0,
        perimeter: Some(0.0),
        exact: true,
    };
    let (Some(ba), Some(bb)) = (a.bbox, b.bbox) else {
        return none;
    };
    if !meets(&ba, &bb) {
        return none;
    }
    // The one with the smaller box may lie inside the other.
    let (small, large) = if ba.width() * ba.height() <= bb.width() * bb.height() {
        (a, b)
    } else {
        (b, a)
    };
    match large.place_shape(small) {
        Placement::Inside => {
            return Overlap {
                area: small.area,
                perimeter: Some(small.perimeter),
                exact: true,
            };
        }
        Placement::Outside => return none,
        Placement::Unknown => {}
    }
    let (window, subject) = match (a.convex, b.convex) {
        (true, true) if b.vertices < a.vertices => (b, a),
        (true, _) => (a, b),
        (false, true) => (b, a),
        (false, false) => {
            return Overlap {
                area: predicates::overlap_area(&a.polygons, &b.polygons),
                perimeter: None,
                exact: false,
            };
        }
    };
    let ring = window.polygons.0[0].exterior();
    let origin = ring.0[0];
    let (area, perimeter, exact) = subject.clipped(&Window::new(ring, origin), origin);
    Overlap {
        area,
        perimeter: Some(perimeter),
        exact,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Polygon;

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
    fn the_grid_agrees_with_placing_edge_by_edge() {
        // A concave star with a hole: every placement the grid settles must be what the edges
        // say, and most must be settled by it.
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
        let gridded = Shape::indexed(MultiPolygon(vec![Polygon::new(
            LineString(pts),
            vec![ring(100.0, 50.0, 250.0, 40)],
        )]));
        let mut plain = gridded.clone();
        plain.grid = None;
        let (mut settled, mut inside) = (0, 0);
        for i in 0..4000 {
            let (x, y) = (
                -1100.0 + (i * 37 % 2200) as f64,
                -1100.0 + (i * 91 % 2200) as f64,
            );
            let side = 2.0 + (i % 40) as f64;
            let (b, v) = (rect(x, y, side), Coord { x, y });
            let exact = plain.place(b, v);
            let fast = gridded.place(b, v);
            if fast != Placement::Unknown {
                assert_eq!(fast, exact, "box at ({x}, {y}), side {side}");
            }
            settled += (exact != Placement::Unknown) as usize;
            inside += (exact == Placement::Inside) as usize;
        }
        assert!(
            settled > 2000 && inside > 500,
            "{settled} settled, {inside} inside"
        );
    }

    #[test]
    fn round_windows_over_concave_shapes_equal_plain_clipping() {
        // A 300-vertex round outline (a window of many edges) in many places over a wavy
        // concave shape: the area and the perimeter bound equal Sutherland–Hodgman with every
        // vertex and the round outline as the window, whichever way the overlap was computed.
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
            let full = predicates::clip_area(&wavy.polygons, &round);
            assert!(
                (o.area - full).abs() <= 1e-6 * full.max(1.0),
                "window {i}: {} vs {full} clipping every vertex",
                o.area
            );
            // Partial overlaps (the grazing ones aside, whose area is rounding on both sides).
            if full > 1e-3 && full < window.area - 1e-3 {
                partial += 1;
                let bound = predicates::clip_perimeter(&wavy.polygons, &round);
                let p = o.perimeter.unwrap();
                // The swapped computation is exact, so at most the plain bound.
                assert!(p <= bound + 1e-6, "window {i}: perimeter {p} above {bound}");
                swapped += o.exact as usize;
            }
        }
        assert!(partial > 50, "{partial} partial overlaps");
        assert!(
            swapped > 0 || partial == 0,
            "no overlap was computed the swapped way"
        );
    }

    #[test]
    fn runs_as_chords_leave_the_clipped_area_exact() {
        // A many-vertex star (concave) at Estonian coordinates against small convex windows in
        // many places: the chunked clipping equals clipping every vertex.
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
            let full = predicates::clip_area(&star.polygons, window.polygons.0[0].exterior());
            assert!(
                (fast - full).abs() <= 1e-6,
                "window {i}: {fast} vs {full} clipping every vertex"
            );
            checked += (fast > 0.0) as usize;
        }
        assert!(checked > 100, "most windows overlap the star ({checked})");
    }
}

//! The overlap of two shapes: nothing when their boxes miss, the smaller one when it lies wholly
//! inside the other (placement, no clipping), else Sutherland–Hodgman by the convex one with far
//! boundary runs as chords (see the module docs of [`crate::shape`]), and the overlay of
//! [`predicates::overlap_area`] when neither is convex.
//!
//! Areas and a perimeter bound only; outlines for display come from [`crate::predicates`].

use geo::{BoundingRect, Coord, LineString, Rect};

use super::{Placement, Shape, meets};
use crate::kernel::{clip_in_place, ring_length, rings, shoelace, strictly_convex};
use crate::predicates;

/// Windows with more edges than this are not tested for holding a run's box (4 corners × edges
/// per run would cost more than the clipping it saves).
const INSIDE_TEST_EDGES: usize = 24;

impl Shape {
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
#[derive(Debug, Clone, PartialEq)]
pub struct Overlap {
    /// m².
    pub area: f64,
    /// At least the perimeter of the overlap, when it came from clipping; exactly it when
    /// `exact`.
    pub perimeter: Option<f64>,
    pub exact: bool,
    /// The overlap itself, when it came from the overlay (neither shape convex): a caller that
    /// wants the outline need not overlay again.
    pub outline: Option<geo::MultiPolygon>,
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
        outline: None,
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
                outline: None,
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
            let (outline, area) = predicates::overlay(&a.polygons, &b.polygons);
            return Overlap {
                area,
                perimeter: None,
                exact: false,
                outline: Some(outline),
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
        outline: None,
    }
}

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
//!
//! Files: the shape and its placement here; the grid in `grid`, the boundary runs in `runs`, the
//! overlap in `overlap`.

mod grid;
mod overlap;
mod runs;
#[cfg(test)]
mod tests;

use geo::{BoundingRect, Coord, CoordsIter, LineString, MultiPolygon, Rect};

use crate::kernel::{self, rings};
use grid::Grid;
use runs::{Chunk, chunks_of};

pub use overlap::{Overlap, overlap, overlap_area};
pub use runs::{CHUNK, CHUNKED_FROM};

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
        if let (Some(grid), Some(b)) = (&self.grid, self.bbox)
            && let Some(placed) = grid.place(b, bbox)
        {
            return placed;
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

    /// Rough size of what it holds on the heap: coordinates and boundary runs.
    pub fn heap_bytes(&self) -> usize {
        self.vertices * std::mem::size_of::<Coord>()
            + self.chunks.len() * std::mem::size_of::<Chunk>()
    }
}

//! Boundary runs: the boundary of a shape with many vertices cut into runs of [`CHUNK`] edges,
//! each with its bounding box, the signed area between the run and its chord, and how much longer
//! the run is than the chord — what lets [`super::overlap`] replace far runs by their chords and
//! [`Shape::place`](super::Shape::place) look only at the runs near a box.
//!
//! Only the runs; how they are used is in the shape and overlap modules.

use geo::{Coord, MultiPolygon, Rect};

use crate::kernel::rings;

/// Edges per boundary run, and the vertex count from which a shape has runs.
pub const CHUNK: usize = 16;
pub const CHUNKED_FROM: usize = 48;

/// A run of boundary edges: vertices `start..=end` of one ring.
#[derive(Debug, Clone)]
pub(super) struct Chunk {
    pub(super) bbox: Rect,
    pub(super) polygon: u32,
    pub(super) ring: u32,
    pub(super) start: u32,
    pub(super) end: u32,
    /// Signed shoelace area of the run closed by its chord (the ring's own orientation).
    pub(super) loop_area: f64,
    /// How much longer the run is than its chord.
    pub(super) detour: f64,
}

/// Boundary runs of a large polygon.
pub(super) fn chunks_of(m: &MultiPolygon) -> Vec<Chunk> {
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

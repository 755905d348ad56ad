//! The inside/outside grid of an indexed shape: a 16 × 16 raster over its bounding box, each cell
//! inside, outside or crossed by the boundary (2 bits, one cache line, kept inline in the
//! [`Shape`]), so that most placements against a parcel or a feature are one look-up; and the
//! row boxes a large, thin shape is indexed by, read off the same grid.
//!
//! Not exact on its own: a cell crossed by the boundary settles nothing, and [`Shape::place`]
//! falls back to the edges.

use geo::{Coord, MultiPolygon, Rect};

use super::{Placement, Shape, meets};
use crate::kernel::rings;

/// Cells across and down a [`Grid`].
const CELLS: usize = 16;

/// What a grid cell holds: 2 bits each.
const OUT: u64 = 0;
const IN: u64 = 1;
const EDGE: u64 = 2;

/// A coarse raster of a shape over its bounding box: 2 bits per cell, one cache line.
#[derive(Debug, Clone, Copy)]
pub(super) struct Grid {
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
    pub(super) fn of(m: &MultiPolygon, b: Rect) -> Option<Grid> {
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

impl Grid {
    /// Where something with the box `bbox` lies against the shape whose box is `b`, when the
    /// cells under it settle it: all outside, or all inside with the box wholly inside ours.
    pub(super) fn place(&self, b: Rect, bbox: Rect) -> Option<Placement> {
        let grid = self;
        if !meets(&bbox, &b) {
            return Some(Placement::Outside);
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
                return Some(Placement::Outside);
            }
            let within = b.min().x <= bbox.min().x
                && bbox.max().x <= b.max().x
                && b.min().y <= bbox.min().y
                && bbox.max().y <= b.max().y;
            if within {
                return Some(Placement::Inside);
            }
        }
        None
    }
}

impl Shape {
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
}

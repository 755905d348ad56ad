//! What may happen where rings meet: the check at one point through which several rings pass.
//!
//! Each pass of a ring through the point (at a vertex, or through the inside of a segment) leaves
//! it along two edges. Rings may touch there but not cross, and no two edges may leave in the same
//! direction (that is a shared stretch of boundary). Sorting the edges by angle round the point
//! turns "no two passes cross" into "the passes nest like brackets", checked with a stack — linear
//! after the sort, however many rings meet there (a pairwise check would be quadratic in them).
//! A ring that passes twice through the same point touches itself, which OGC forbids.
//!
//! Orientation signs are exact (geo's robust predicate); nothing here rounds.

use std::cmp::Ordering;

use geo::Coord;
use geo::algorithm::kernels::{Kernel, Orientation, RobustKernel};

use super::problem::{Problem, RingName};

/// One pass of ring `ring` through the point, leaving along the edges towards `a` and `b`.
#[derive(Debug, Clone, Copy)]
pub struct Pass {
    pub ring: u32,
    pub a: Coord<f64>,
    pub b: Coord<f64>,
}

/// The sign of the turn p → q → r: 1 counter-clockwise, -1 clockwise, 0 collinear (exact).
pub fn orient(p: Coord<f64>, q: Coord<f64>, r: Coord<f64>) -> i8 {
    match RobustKernel::orient2d(p, q, r) {
        Orientation::CounterClockwise => 1,
        Orientation::Clockwise => -1,
        Orientation::Collinear => 0,
    }
}

/// The order of directions from `p` towards `q1` and `q2` counter-clockwise from the positive x
/// axis; `Equal` is the same direction.
fn by_angle(p: Coord<f64>, q1: Coord<f64>, q2: Coord<f64>) -> Ordering {
    let half = |q: Coord<f64>| !(q.y > p.y || (q.y == p.y && q.x > p.x));
    half(q1)
        .cmp(&half(q2))
        .then_with(|| 0.cmp(&orient(p, q1, q2)))
}

/// Checks the passes of rings through `p` (at least one). `names` names the rings.
pub fn check(p: Coord<f64>, passes: &[Pass], names: &[RingName]) -> Result<(), Problem> {
    let name = |r: u32| names[r as usize];
    if let [one] = passes {
        // A spike: the ring leaves and comes back along the same line.
        return if by_angle(p, one.a, one.b) == Ordering::Equal {
            Err(Problem::SelfIntersection {
                ring: name(one.ring),
                at: p,
            })
        } else {
            Ok(())
        };
    }
    let mut rings: Vec<u32> = passes.iter().map(|s| s.ring).collect();
    rings.sort_unstable();
    if let Some(w) = rings.windows(2).find(|w| w[0] == w[1]) {
        return Err(Problem::SelfTouch {
            ring: name(w[0]),
            at: p,
        });
    }
    let mut edges: Vec<(Coord<f64>, usize)> = passes
        .iter()
        .enumerate()
        .flat_map(|(i, s)| [(s.a, i), (s.b, i)])
        .collect();
    edges.sort_by(|x, y| by_angle(p, x.0, y.0));
    for w in edges.windows(2) {
        if by_angle(p, w[0].0, w[1].0) == Ordering::Equal {
            let (a, b) = (passes[w[0].1].ring, passes[w[1].1].ring);
            return Err(if a == b {
                Problem::SelfIntersection {
                    ring: name(a),
                    at: p,
                }
            } else {
                Problem::OnALine {
                    a: name(a.min(b)),
                    b: name(a.max(b)),
                    at: p,
                }
            });
        }
    }
    // Round the point, the two edges of each pass must enclose whole passes only.
    let mut open = vec![false; passes.len()];
    let mut stack: Vec<usize> = Vec::new();
    for &(_, i) in &edges {
        if !open[i] {
            open[i] = true;
            stack.push(i);
        } else if stack.last() == Some(&i) {
            stack.pop();
        } else {
            let j = *stack.last().expect("an open pass");
            let (a, b) = (passes[i].ring, passes[j].ring);
            return Err(Problem::Crossing {
                a: name(a.min(b)),
                b: name(a.max(b)),
                at: p,
            });
        }
    }
    Ok(())
}

//! Which ring lies inside which: holes inside their exterior ring, holes not inside other holes,
//! parts of a multipolygon not inside one another.
//!
//! Runs after [`super::sweep`] has found that no two rings cross or share a stretch, so any two
//! rings are either nested or apart (touching at points at most), and the sweep's "directly
//! encloses" relation is a forest. One walk over it numbers every ring on entry and exit (so
//! "encloses" is a comparison of numbers) and keeps, per polygon, the stack of its rings on the
//! current path (so the nearest enclosing ring of the same polygon is at hand). Linear in the
//! number of rings, however deep they nest.

use super::problem::Problem;
use super::rings::Ring;

/// The first nesting problem, in GEOS's order: a hole outside its shell, then nested holes, then
/// nested parts.
pub fn check(rings: &[Ring], parent: &[Option<u32>]) -> Result<(), Problem> {
    let n = rings.len();
    let polys = rings.iter().map(|r| r.name.poly + 1).max().unwrap_or(0);
    let mut shell = vec![None; polys];
    for (k, r) in rings.iter().enumerate() {
        if r.name.hole.is_none() {
            shell[r.name.poly] = Some(k);
        }
    }
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut roots = Vec::new();
    for (k, p) in parent.iter().enumerate() {
        match p {
            Some(p) => children[*p as usize].push(k),
            None => roots.push(k),
        }
    }
    // Entry and exit numbers, and the nearest enclosing ring of the same polygon.
    let (mut enter, mut exit) = (vec![0usize; n], vec![0usize; n]);
    let mut same_poly: Vec<Option<usize>> = vec![None; n];
    let mut path: Vec<Vec<usize>> = vec![Vec::new(); polys];
    let mut clock = 0;
    let mut stack: Vec<(usize, bool)> = roots.iter().rev().map(|&k| (k, true)).collect();
    while let Some((k, entering)) = stack.pop() {
        let poly = rings[k].name.poly;
        if entering {
            enter[k] = clock;
            clock += 1;
            same_poly[k] = path[poly].last().copied();
            path[poly].push(k);
            stack.push((k, false));
            stack.extend(children[k].iter().rev().map(|&c| (c, true)));
        } else {
            exit[k] = clock;
            path[poly].pop();
        }
    }
    let encloses = |a: usize, b: usize| enter[a] < enter[b] && exit[b] <= exit[a];
    let holes = || {
        rings
            .iter()
            .enumerate()
            .filter(|(_, r)| r.name.hole.is_some())
    };
    for (k, r) in holes() {
        if !shell[r.name.poly].is_some_and(|s| encloses(s, k)) {
            return Err(Problem::HoleOutside {
                ring: r.name,
                at: r.pts[0],
            });
        }
    }
    for (k, r) in holes() {
        if let Some(outer) = same_poly[k]
            && rings[outer].name.hole.is_some()
        {
            return Err(Problem::NestedHole {
                ring: r.name,
                outer: rings[outer].name,
                at: r.pts[0],
            });
        }
    }
    for (k, r) in rings.iter().enumerate() {
        if r.name.hole.is_none()
            && let Some(p) = parent[k]
            && rings[p as usize].name.hole.is_none()
        {
            return Err(Problem::NestedShell {
                inner: r.name.poly,
                outer: rings[p as usize].name.poly,
                at: r.pts[0],
            });
        }
    }
    Ok(())
}

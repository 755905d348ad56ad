//! Where the rings meet, in O(n log n): a plane sweep over every segment of every ring of a
//! polygon or multipolygon (Shamos–Hoey, with the vertices as the only events).
//!
//! In a valid geometry rings meet only at vertices: a crossing inside two segments, or a shared
//! stretch, is already a problem. So the sweep needs no events but the vertices, taken in (x, y)
//! order. The segments the sweep line cuts are kept in a balanced tree ordered from below to
//! above; as in Shamos–Hoey, every pair of segments that becomes adjacent in that order is tested,
//! which finds the leftmost bad meeting if there is one. At each vertex the segments through it
//! are found in the tree (a vertex may lie inside another ring's segment: a touch); the passes of
//! rings through the point go to [`super::node`].
//!
//! The same sweep also records, for [`super::nesting`], which ring directly encloses each ring
//! (the segment just below a ring's first vertex says which face it starts in), and for the
//! interior's connectedness the touches between rings of one polygon: with rings and touch points
//! as the nodes of a graph, a cycle cuts the interior in pieces (union–find).
//!
//! The tree orders segments by the exact orientation sign against the one that starts first; that
//! order is the order along the sweep line as long as no two segments cross to the left of it,
//! which the sweep stops at. Cost: sorting the vertices, and O(log n) tree steps per segment and
//! per vertex; the number of rings through one point only adds a sort of their edges.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::ops::Bound::{Excluded, Included, Unbounded};

use geo::Coord;

use super::node::{self, Pass, orient};
use super::problem::{Problem, RingName};
use super::rings::Ring;

/// What the sweep found besides problems.
#[derive(Debug)]
pub struct Found {
    /// The ring that directly encloses each ring, if any.
    pub parent: Vec<Option<u32>>,
    /// The first point where touches between rings of one polygon close a cycle: (polygon, point).
    pub disconnected: Option<(usize, Coord<f64>)>,
}

/// (x, y) order; coordinates are finite, and -0 is 0.
pub fn lex(a: Coord<f64>, b: Coord<f64>) -> Ordering {
    let c = |u: f64, v: f64| u.partial_cmp(&v).unwrap_or(Ordering::Equal);
    c(a.x, b.x).then_with(|| c(a.y, b.y))
}

/// A ring segment, its ends in (x, y) order.
#[derive(Debug, Clone, Copy)]
struct Seg {
    l: Coord<f64>,
    r: Coord<f64>,
    ring: u32,
    /// The ring runs from `l` to `r` along it.
    forward: bool,
}

/// A tree key: a segment, or a point to look up (just below or just above everything through it).
#[derive(Debug, Clone, Copy)]
enum Key {
    Seg {
        l: Coord<f64>,
        r: Coord<f64>,
        id: u32,
    },
    Probe {
        p: Coord<f64>,
        above: bool,
    },
}

/// Whether segment `b` lies below (`Less`) or above segment `a` where both are cut by the sweep
/// line; `Equal` for collinear ones.
fn seg_order(al: Coord<f64>, ar: Coord<f64>, bl: Coord<f64>, br: Coord<f64>) -> Ordering {
    if lex(al, bl) == Ordering::Greater {
        return seg_order(bl, br, al, ar).reverse();
    }
    match orient(al, ar, bl) {
        1 => Ordering::Less,
        -1 => Ordering::Greater,
        _ => 0.cmp(&orient(al, ar, br)),
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        match (*self, *other) {
            (
                Key::Seg { l, r, id },
                Key::Seg {
                    l: l2,
                    r: r2,
                    id: id2,
                },
            ) => seg_order(l, r, l2, r2).then(id.cmp(&id2)),
            (Key::Probe { p, above }, Key::Seg { l, r, .. }) => match orient(l, r, p) {
                1 => Ordering::Greater,
                -1 => Ordering::Less,
                _ if above => Ordering::Greater,
                _ => Ordering::Less,
            },
            (Key::Seg { .. }, Key::Probe { .. }) => other.cmp(self).reverse(),
            (Key::Probe { above, .. }, Key::Probe { above: a2, .. }) => above.cmp(&a2),
        }
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Key {}

/// Union–find over rings and touch points.
struct Dsu(Vec<u32>);

impl Dsu {
    fn find(&mut self, mut x: u32) -> u32 {
        while self.0[x as usize] != x {
            let up = self.0[self.0[x as usize] as usize];
            self.0[x as usize] = up;
            x = up;
        }
        x
    }

    fn add(&mut self) -> u32 {
        self.0.push(self.0.len() as u32);
        self.0.len() as u32 - 1
    }
}

/// The sweep over `rings`; the first problem where rings meet, else what [`Found`] says.
pub fn run(rings: &[Ring]) -> Result<Found, Problem> {
    let names: Vec<RingName> = rings.iter().map(|r| r.name).collect();
    let mut offset = Vec::with_capacity(rings.len());
    let mut segs: Vec<Seg> = Vec::new();
    for (k, ring) in rings.iter().enumerate() {
        offset.push(segs.len());
        for i in 0..ring.pts.len() {
            let (a, b) = (ring.at(i), ring.at(i + 1));
            let forward = lex(a, b) == Ordering::Less;
            let (l, r) = if forward { (a, b) } else { (b, a) };
            segs.push(Seg {
                l,
                r,
                ring: k as u32,
                forward,
            });
        }
    }
    let key = |s: usize| Key::Seg {
        l: segs[s].l,
        r: segs[s].r,
        id: s as u32,
    };
    // Each ring's first vertex in (x, y) order, and its orientation there (exact: the turn at an
    // extreme vertex is the ring's turn).
    let first: Vec<usize> = rings
        .iter()
        .map(|r| {
            (0..r.pts.len())
                .min_by(|&i, &j| lex(r.pts[i], r.pts[j]))
                .expect("three vertices")
        })
        .collect();
    let ccw: Vec<bool> = rings
        .iter()
        .zip(&first)
        .map(|(r, &i)| orient(r.prev(i), r.pts[i], r.at(i + 1)) > 0)
        .collect();
    let mut vertices: Vec<(u32, u32)> = rings
        .iter()
        .enumerate()
        .flat_map(|(k, r)| (0..r.pts.len() as u32).map(move |i| (k as u32, i)))
        .collect();
    let point = |v: (u32, u32)| rings[v.0 as usize].pts[v.1 as usize];
    vertices.sort_unstable_by(|&a, &b| lex(point(a), point(b)));

    let mut status: BTreeSet<Key> = BTreeSet::new();
    let mut parent: Vec<Option<u32>> = vec![None; rings.len()];
    let mut dsu = Dsu((0..rings.len() as u32).collect());
    let mut disconnected = None;
    let (mut starts, mut through, mut passes, mut opening, mut block) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut at = 0;
    while at < vertices.len() {
        let p = point(vertices[at]);
        let mut end = at + 1;
        while end < vertices.len() && point(vertices[end]) == p {
            end += 1;
        }
        let group = &vertices[at..end];
        at = end;
        // Segments ending here leave the tree; those starting here enter it below.
        starts.clear();
        for &(k, i) in group {
            let (k, i) = (k as usize, i as usize);
            let n = rings[k].pts.len();
            for s in [offset[k] + i, offset[k] + (i + n - 1) % n] {
                if segs[s].l == p {
                    starts.push(s);
                } else {
                    status.remove(&key(s));
                }
            }
        }
        let (below, above) = (
            Key::Probe { p, above: false },
            Key::Probe { p, above: true },
        );
        // What is left through p runs through it inside: another ring touches there.
        through.clear();
        through.extend(status.range((Included(below), Included(above))).copied());
        if let [Key::Seg { id: a, .. }, Key::Seg { id: b, .. }, ..] = through[..] {
            return Err(meeting(&segs, &names, a as usize, b as usize, p));
        }
        passes.clear();
        for &(k, i) in group {
            let r = &rings[k as usize];
            passes.push(Pass {
                ring: k,
                a: r.prev(i as usize),
                b: r.at(i as usize + 1),
            });
        }
        if let Some(&Key::Seg { id, .. }) = through.first() {
            let s = segs[id as usize];
            passes.push(Pass {
                ring: s.ring,
                a: s.l,
                b: s.r,
            });
        }
        node::check(p, &passes, &names)?;
        if passes.len() > 1 && disconnected.is_none() {
            disconnected = touch(&mut dsu, &passes, &names).map(|poly| (poly, p));
        }
        for &s in &starts {
            status.insert(key(s));
        }
        // Rings that start here: the face they start in, bottom up.
        opening.clear();
        for &(k, i) in group {
            let (k, i) = (k as usize, i as usize);
            if first[k] == i {
                let n = rings[k].pts.len();
                let lower = key(offset[k] + i).min(key(offset[k] + (i + n - 1) % n));
                opening.push((lower, k));
            }
        }
        opening.sort_unstable_by_key(|a| a.0);
        for &(lower, k) in &opening {
            parent[k] = match status.range(..lower).next_back() {
                Some(&Key::Seg { id, .. }) => {
                    let s = segs[id as usize];
                    if ccw[s.ring as usize] == s.forward {
                        Some(s.ring) // its interior lies above s
                    } else {
                        parent[s.ring as usize]
                    }
                }
                _ => None,
            };
        }
        // Newly adjacent pairs: round the segments through p, and between them.
        block.clear();
        block.extend(status.range((Included(below), Included(above))).copied());
        let lo = status.range(..below).next_back().copied();
        let hi = status.range((Excluded(above), Unbounded)).next().copied();
        let mut chain = lo.iter().chain(&block).chain(hi.iter());
        let mut prev = chain.next();
        for next in chain {
            if let (Some(&Key::Seg { id: a, .. }), &Key::Seg { id: b, .. }) = (prev, next)
                && let Some(q) = bad_meeting(&segs[a as usize], &segs[b as usize])
            {
                return Err(meeting(&segs, &names, a as usize, b as usize, q));
            }
            prev = Some(next);
        }
    }
    Ok(Found {
        parent,
        disconnected,
    })
}

/// Where two segments meet other than at a vertex of either: a crossing inside both, or the start
/// of a shared stretch.
fn bad_meeting(s: &Seg, t: &Seg) -> Option<Coord<f64>> {
    let (o1, o2) = (orient(s.l, s.r, t.l), orient(s.l, s.r, t.r));
    if o1 == 0 && o2 == 0 {
        let lo = if lex(s.l, t.l) == Ordering::Less {
            t.l
        } else {
            s.l
        };
        let hi = if lex(s.r, t.r) == Ordering::Less {
            s.r
        } else {
            t.r
        };
        return (lex(lo, hi) == Ordering::Less).then_some(lo);
    }
    if o1 == o2 {
        return None;
    }
    let (o3, o4) = (orient(t.l, t.r, s.l), orient(t.l, t.r, s.r));
    if o3 == o4 || o1 == 0 || o2 == 0 || o3 == 0 || o4 == 0 {
        return None; // apart, or meeting at a vertex (an event of its own)
    }
    Some(crossing_point(s, t))
}

/// Where the lines of two crossing segments meet (rounded; only for saying where).
fn crossing_point(s: &Seg, t: &Seg) -> Coord<f64> {
    let (d1, d2) = (s.r - s.l, t.r - t.l);
    let den = d1.x * d2.y - d1.y * d2.x;
    let w = t.l - s.l;
    let u = (w.x * d2.y - w.y * d2.x) / den;
    Coord {
        x: s.l.x + u * d1.x,
        y: s.l.y + u * d1.y,
    }
}

/// The problem for segments `a` and `b` meeting badly at `p`.
fn meeting(segs: &[Seg], names: &[RingName], a: usize, b: usize, p: Coord<f64>) -> Problem {
    let (s, t) = (segs[a], segs[b]);
    let collinear = orient(s.l, s.r, t.l) == 0 && orient(s.l, s.r, t.r) == 0;
    let (ra, rb) = (s.ring.min(t.ring), s.ring.max(t.ring));
    let (na, nb) = (names[ra as usize], names[rb as usize]);
    if ra == rb {
        Problem::SelfIntersection { ring: na, at: p }
    } else if collinear {
        Problem::OnALine {
            a: na,
            b: nb,
            at: p,
        }
    } else {
        Problem::Crossing {
            a: na,
            b: nb,
            at: p,
        }
    }
}

/// Records that the rings of `passes` touch at one point; the polygon whose touches now close a
/// cycle (its interior is cut), if any. Rings of different polygons may touch freely.
fn touch(dsu: &mut Dsu, passes: &[Pass], names: &[RingName]) -> Option<usize> {
    let mut rings: Vec<(usize, u32)> = passes
        .iter()
        .map(|s| (names[s.ring as usize].poly, s.ring))
        .collect();
    rings.sort_unstable();
    for group in rings.chunk_by(|a, b| a.0 == b.0) {
        if group.len() < 2 {
            continue;
        }
        let point = dsu.add();
        for &(poly, ring) in group {
            let (a, b) = (dsu.find(ring), dsu.find(point));
            if a == b {
                return Some(poly);
            }
            dsu.0[a as usize] = b;
        }
    }
    None
}

//! The rings of a polygon or multipolygon made ready for the topology checks: every coordinate
//! finite, consecutive repeated points dropped (OGC allows them; they are not vertices of the
//! shape), the closing point dropped, and at least three vertices left.
//!
//! Not a repair: a ring that fails here is reported ([`Problem::NonFinite`],
//! [`Problem::TooFewPoints`]) and nothing else is checked.

use geo::{Coord, Polygon};

use super::problem::{Problem, RingName};

/// One ring: its vertices without repeats and without the closing point (at least 3).
#[derive(Debug, Clone)]
pub struct Ring {
    pub name: RingName,
    pub pts: Vec<Coord<f64>>,
}

impl Ring {
    /// Vertex `i` taken round the ring.
    pub fn at(&self, i: usize) -> Coord<f64> {
        self.pts[i % self.pts.len()]
    }

    /// The vertex before vertex `i`.
    pub fn prev(&self, i: usize) -> Coord<f64> {
        self.pts[(i + self.pts.len() - 1) % self.pts.len()]
    }
}

/// All rings of `parts`, exterior first then holes, polygon by polygon; empty polygons and empty
/// holes are left out (they are valid and bound nothing). A polygon with an empty exterior and a
/// hole is reported as that hole lying outside.
pub fn prepare(parts: &[Polygon<f64>], multi: bool) -> Result<Vec<Ring>, Problem> {
    let name = |poly, hole| RingName { poly, hole, multi };
    // Finite coordinates first, everywhere (GEOS checks them before anything else).
    for (k, p) in parts.iter().enumerate() {
        let all = std::iter::once((None, p.exterior()))
            .chain(p.interiors().iter().enumerate().map(|(h, r)| (Some(h), r)));
        for (hole, ring) in all {
            if let Some(index) = ring
                .0
                .iter()
                .position(|c| !c.x.is_finite() || !c.y.is_finite())
            {
                return Err(Problem::NonFinite {
                    ring: name(k, hole),
                    index,
                });
            }
        }
    }
    let mut rings = Vec::new();
    for (k, p) in parts.iter().enumerate() {
        if p.exterior().0.is_empty() {
            if let Some((h, r)) = p
                .interiors()
                .iter()
                .enumerate()
                .find(|(_, r)| !r.0.is_empty())
            {
                return Err(Problem::HoleOutside {
                    ring: name(k, Some(h)),
                    at: r.0[0],
                });
            }
            continue;
        }
        let all = std::iter::once((None, p.exterior()))
            .chain(p.interiors().iter().enumerate().map(|(h, r)| (Some(h), r)));
        for (hole, ring) in all {
            if ring.0.is_empty() {
                continue;
            }
            let mut pts: Vec<Coord<f64>> = Vec::with_capacity(ring.0.len());
            for &c in &ring.0 {
                if pts.last() != Some(&c) {
                    pts.push(c);
                }
            }
            while pts.len() > 1 && pts.first() == pts.last() {
                pts.pop();
            }
            if pts.len() < 3 {
                return Err(Problem::TooFewPoints {
                    ring: name(k, hole),
                });
            }
            rings.push(Ring {
                name: name(k, hole),
                pts,
            });
        }
    }
    Ok(rings)
}

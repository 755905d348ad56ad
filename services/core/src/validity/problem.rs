//! What can be wrong with a polygon or multipolygon, said in words with the place: the
//! [`Problem`] each check returns and how a ring is named in it ("interior ring 2 of polygon 1").
//!
//! The kinds follow the OGC simple-features rules as GEOS checks them (non-finite coordinates, too
//! few points, self-intersection, ring self-intersection, hole outside shell, nested holes, nested
//! shells, disconnected interior); every message that is about rings meeting ends in "rings
//! self-intersect at (x, y)", the phrase clients and tests look for.

use std::fmt;

use geo::Coord;

/// Which ring: polygon `poly` (named only in a multipolygon of several parts), its exterior or
/// hole `hole`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingName {
    pub poly: usize,
    pub hole: Option<usize>,
    /// Whether the polygon index is part of the name (several polygons).
    pub multi: bool,
}

impl fmt::Display for RingName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.hole {
            None => f.write_str("exterior ring")?,
            Some(h) => write!(f, "interior ring {h}")?,
        }
        if self.multi {
            write!(f, " of polygon {}", self.poly)?;
        }
        Ok(())
    }
}

/// The first problem found, in the order GEOS reports them.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// NaN or infinity at vertex `index` (as given) of a ring.
    NonFinite { ring: RingName, index: usize },
    /// Fewer than 3 distinct consecutive points (4 with the closing one).
    TooFewPoints { ring: RingName },
    /// Two segments of one ring cross, or one ring runs back along itself.
    SelfIntersection { ring: RingName, at: Coord<f64> },
    /// One ring passes through the same point twice (touches itself).
    SelfTouch { ring: RingName, at: Coord<f64> },
    /// Two rings cross each other.
    Crossing {
        a: RingName,
        b: RingName,
        at: Coord<f64>,
    },
    /// Two rings share a stretch of boundary.
    OnALine {
        a: RingName,
        b: RingName,
        at: Coord<f64>,
    },
    /// A hole is not inside its polygon's exterior ring.
    HoleOutside { ring: RingName, at: Coord<f64> },
    /// A hole lies inside another hole of the same polygon.
    NestedHole {
        ring: RingName,
        outer: RingName,
        at: Coord<f64>,
    },
    /// A part of a multipolygon lies inside another part.
    NestedShell {
        inner: usize,
        outer: usize,
        at: Coord<f64>,
    },
    /// Rings touch so that they cut the interior of polygon `poly` into pieces.
    Disconnected {
        poly: usize,
        multi: bool,
        at: Coord<f64>,
    },
}

impl Problem {
    /// The kind as GEOS names it (`ST_IsValidReason` without the place), for comparing with it.
    pub fn geos_kind(&self) -> &'static str {
        match self {
            Problem::NonFinite { .. } => "Invalid Coordinate",
            Problem::TooFewPoints { .. } => "Too few points in geometry component",
            Problem::SelfTouch { .. } => "Ring Self-intersection",
            Problem::SelfIntersection { .. }
            | Problem::Crossing { .. }
            | Problem::OnALine { .. } => "Self-intersection",
            Problem::HoleOutside { .. } => "Hole lies outside shell",
            Problem::NestedHole { .. } => "Holes are nested",
            Problem::NestedShell { .. } => "Nested shells",
            Problem::Disconnected { .. } => "Interior is disconnected",
        }
    }
}

/// Projected metres to the centimetre, degrees to about a centimetre (7 decimals).
pub fn fmt_coord(v: f64) -> String {
    let s = if v.abs() > 1_000.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.7}")
    };
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// `(x, y)` as [`fmt_coord`] writes them.
struct At(Coord<f64>);

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {})", fmt_coord(self.0.x), fmt_coord(self.0.y))
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Problem::NonFinite { ring, index } => {
                write!(f, "{ring} has a non-finite coordinate at index {index}")
            }
            Problem::TooFewPoints { ring } => {
                write!(f, "{ring} must have at least 3 distinct points")
            }
            Problem::SelfIntersection { ring, at } => write!(
                f,
                "{ring} has a self-intersection; rings self-intersect at {}",
                At(at)
            ),
            Problem::SelfTouch { ring, at } => write!(
                f,
                "{ring} passes through the same point twice; rings self-intersect at {}",
                At(at)
            ),
            Problem::Crossing { a, b, at } => {
                write!(f, "{a} and {b} cross; rings self-intersect at {}", At(at))
            }
            Problem::OnALine { a, b, at } => write!(
                f,
                "{a} and {b} intersect on a line; rings self-intersect at {}",
                At(at)
            ),
            Problem::HoleOutside { ring, at } => write!(
                f,
                "{ring} is not contained within the polygon's exterior (near {})",
                At(at)
            ),
            Problem::NestedHole { ring, outer, at } => write!(
                f,
                "{ring} lies inside {outer}: holes must not be nested (near {})",
                At(at)
            ),
            Problem::NestedShell { inner, outer, at } => write!(
                f,
                "polygon {inner} lies inside polygon {outer}: the parts of a multipolygon may only \
                 touch at points (near {})",
                At(at)
            ),
            Problem::Disconnected { poly, multi, at } => {
                let which = if multi {
                    format!("the interior of polygon {poly}")
                } else {
                    "the interior".to_owned()
                };
                write!(
                    f,
                    "{which} is disconnected: its rings touch so that they cut it in pieces (at {})",
                    At(at)
                )
            }
        }
    }
}

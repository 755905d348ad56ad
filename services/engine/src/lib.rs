//! kovgis-engine: the spatial validation engine.
//!
//! - `kernel` (private): ring area, perimeter, convexity, the Sutherland–Hodgman clipping kernel
//!   and segment distances — what `predicates` and `shape` are both built on, so that neither
//!   needs the other's internals.
//! - [`predicates`]: the one place where the engine's spatial questions (intersects, covered by,
//!   overlap area, distance) are answered; tested against the GEOS XMLTester suites and against
//!   PostGIS on the same geometries.
//! - [`shape`]: areal geometries prepared once (area, box, convexity, an inside/outside grid,
//!   boundary runs), and the overlap of two of them — placement without clipping where it can,
//!   exact clipping with far boundary runs as chords where it must; tested against plain clipping
//!   and against PostGIS.
//! - [`index`]: the current parcels and the layers' features in R-trees, built in bulk, swapped
//!   whole on refresh.
//! - [`rules`]: the rules (data, versioned, per municipality with national defaults) and the
//!   report with every rule evaluated.

pub mod index;
mod kernel;
pub mod predicates;
pub mod rules;
pub mod shape;

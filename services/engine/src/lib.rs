//! kovgis-engine: the spatial validation engine.
//!
//! [`predicates`] is the one place where the engine's spatial questions (intersects, covered by,
//! overlap area, distance) are answered; it is tested against the GEOS XMLTester suites and
//! against PostGIS on the same geometries.

pub mod predicates;

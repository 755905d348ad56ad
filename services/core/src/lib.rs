//! kovgis-core: the pure domain logic of kovgis.
//!
//! Everything here is synchronous and free of I/O: no tokio, no tonic, no SQL. It decides what a
//! client's geometry *is* (parsing GeoJSON, WKT and WKB), whether it is acceptable (CRS, axis order,
//! Estonia's extent, OGC validity, size), moves it between coordinate reference systems with PROJ,
//! and writes geometries back out; it turns moments into Estonian calendar dates ([`tallinn`]),
//! knows Estonia's public holidays ([`calendar`]), computes statutory deadlines
//! ([`statutory_clock`]), and holds the procedure types' state graphs and decides which action is
//! allowed ([`workflow`]).
//! The service crates call it at their edges; most of the unit tests of the project live here.

pub mod cadastre;
pub mod calendar;
pub mod codes;
pub mod crs;
pub mod error;
pub mod extent;
pub mod ingest;
pub mod input;
pub mod layer_attributes;
pub mod model;
pub mod names;
pub mod output;
pub mod statutory_clock;
pub mod tallinn;
pub mod validity;
pub mod workflow;

pub use error::InputError;
pub use input::{GeometryEncoding, GeometryInput, InputLimits, ParsedGeometry};

//! kovgis-store: everything that talks to PostgreSQL + PostGIS.
//!
//! A [`Store`] wraps a connection pool whose connections run with JIT off (PostgreSQL 15 spent
//! ~500 ms JIT-compiling spatial queries whose operators run in ~2 ms; see DESIGN.md). It applies
//! the migrations in `migrations/`, answers the read queries of the services, and loads the demo
//! fixtures. Geometries cross the wire as WKB in EPSG:3301 and become `geo` geometries here; no
//! PostGIS type leaks upward.

mod error;
pub mod fixtures;
mod geometry;
pub mod import;
pub mod index_source;
mod migrate;
mod pool;
mod queries;

pub use error::StoreError;
pub use pool::{Store, StoreConfig};
pub use queries::{ParcelPage, ParcelQuery};

//! kovgis-spatial: the `SpatialService` of `kovgis.v1` and the gRPC server around it.
//!
//! [`run`] serves the service with gRPC health, server reflection and gRPC-Web (HTTP/1.1, so
//! browser clients can call it) on a listener the caller bound, until `shutdown` completes — the
//! binary passes Ctrl-C/SIGTERM, tests pass a oneshot. This crate is transport: requests are
//! converted by `kovgis-api`, the queries live in `kovgis-store`, the geometry rules in
//! `kovgis-core` and `kovgis-engine`.
//!
//! Modules: [`server`] (listener, health, reflection, gRPC-Web, shutdown), `service` (the
//! handlers, one file per resource), [`validation`] (the in-memory validation index and how it
//! is kept current), `error` (failures → gRPC statuses).

mod error;
pub mod server;
mod service;
pub mod validation;

use kovgis_core::InputLimits;

pub use error::{DOMAIN, ServiceError};
pub use kovgis_api::page_token::PageTokenKey;
pub use server::{RunError, run};
pub use service::SpatialApi;

/// Settings of the spatial service.
#[derive(Debug, Clone)]
pub struct Config {
    /// Limits on client geometries (vertex cap).
    pub limits: InputLimits,
    /// Largest gRPC message accepted, bytes.
    pub max_message_bytes: usize,
    /// The key page tokens are signed with: the same on every instance behind one address, so
    /// that any of them continues a listing another began. The default is a random key of this
    /// process (its tokens die with it).
    pub page_tokens: PageTokenKey,
    /// Longest silence of an `ImportFeatures` stream before it is abandoned (its transaction
    /// rolled back, its lock released) with `DEADLINE_EXCEEDED`.
    pub import_idle_timeout: std::time::Duration,
    /// Longest `ImportFeatures` stream, from its start to its last message, before it is
    /// abandoned (rolled back, lock released) with `DEADLINE_EXCEEDED` (`IMPORT_TOO_LONG`).
    pub import_total_timeout: std::time::Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            limits: InputLimits::default(),
            max_message_bytes: 16 * 1024 * 1024,
            page_tokens: PageTokenKey::random(),
            import_idle_timeout: std::time::Duration::from_secs(120),
            import_total_timeout: std::time::Duration::from_secs(3600),
        }
    }
}

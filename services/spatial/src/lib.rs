//! kovgis-spatial: the `SpatialService` of `kovgis.v1` and the gRPC server around it.
//!
//! [`run`] serves the service with gRPC health, server reflection and gRPC-Web (HTTP/1.1, so
//! browser clients can call it) on a listener the caller bound, until `shutdown` completes — the
//! binary passes Ctrl-C/SIGTERM, tests pass a oneshot. This crate is transport: requests are
//! converted by `kovgis-api`, the queries live in `kovgis-store`, the geometry rules in
//! `kovgis-core` and `kovgis-engine`.
//!
//! Modules: [`server`] (listener, health, reflection, gRPC-Web, keep-alive, shutdown), `config`
//! (the settings and limits), `call` (every call's deadline, concurrency limit and panic
//! boundary), `admission` (heavy work in a bounded pool of its own), `service` (the handlers, one
//! file per resource), [`validation`] (the in-memory validation index and how it is kept
//! current), [`procedures`] (the index of other procedures, kept current one by one), `error`
//! (failures → gRPC statuses).

pub mod access;
mod admission;
mod audit_service;
pub mod authz;
mod call;
mod config;
mod error;
pub mod procedures;
mod rules_service;
pub mod server;
mod service;
pub mod validation;

pub use audit_service::AuditApi;
pub use config::{AdmissionConfig, Auth, Backoff, Config, RequestLimits, ServerLimits, Tls};
pub use error::{DOMAIN, ServiceError};
pub use kovgis_api::page_token::PageTokenKey;
pub use rules_service::RuleApi;
pub use server::{Extra, RunError, run, run_only, run_with};
pub use service::SpatialApi;

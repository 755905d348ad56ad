//! kovgis-store: everything that talks to PostgreSQL + PostGIS.
//!
//! A [`Store`] wraps a connection pool whose connections run with JIT off (PostgreSQL 15 spent
//! ~500 ms JIT-compiling spatial queries whose operators run in ~2 ms; see DESIGN.md). It applies
//! the migrations in `migrations/`, answers the read queries of the services, and loads the demo
//! fixtures. Geometries cross the wire as WKB in EPSG:3301 and become `geo` geometries here; no
//! PostGIS type leaks upward. Every read and write of tenant data runs as a [`Caller`], under
//! the row-level security of migration 0008; writes and reads of personal data leave audit events
//! ([`audit`], checked by [`audit_chain`]). Procedure workflows are loaded and validated in
//! [`workflows`]; procedures, their history, coordination requests and outbox in [`procedures`];
//! the procedures the conflict check counts in [`procedure_index`].

pub mod audit;
pub mod audit_chain;
mod caller;
mod clock_rules;
mod error;
pub mod fixtures;
mod geometry;
pub mod import;
pub mod index_source;
mod migrate;
pub mod outbox;
mod pipeline;
mod pool;
pub mod procedure_index;
pub mod procedures;
mod queries;
pub mod recheck;
mod rules;
pub mod workflows;

pub use audit::{AuditAction, AuditEvent, CallerTx, DataUse};
pub use caller::{Caller, Reach};
pub use error::StoreError;
pub use index_source::RuleRow;
pub use outbox::{AuthorityWebhook, ClaimedMessage, NextAttempt};
pub use pool::{Store, StoreConfig};
pub use queries::{ParcelPage, ParcelQuery};
pub use rules::NewRuleVersion;
pub use workflows::WorkflowVersion;

//! kovgis-procedures: the `ProcedureService` of `kovgis.v1` — procedures from the application to
//! the decision: creation (idempotent), the spatial check at submission with its stored report,
//! coordination with the authorities, public display and opinions, the statutory clocks, the
//! decision, and a history of every step.
//!
//! Each change runs the same way ([`service`]): who calls ([`who`]: the verified identity, the
//! authorisation table of `kovgis-spatial`, the row-level-security caller and the workflow
//! actor), the procedure as stored, the workflow's verdict on the action (`kovgis-core`
//! workflow), the change computed from them, and one store transaction that writes it on the
//! version the caller saw, with its event, coordination requests, outbox messages and audit
//! event (`kovgis-store` procedures).
//!
//! The spatial check goes through a [`SpatialChecker`]: in process when one server runs both
//! services, over gRPC when they run apart — with the caller's identity either way. Time comes
//! from a [`Now`] so that tests set it. [`jobs`] holds the background work (deemed agreement and
//! [`recheck`]: keeping stored reports true when data or rules change), safe on several
//! instances at once. [`watch`] streams the events to client apps (`WatchProcedures`).

mod checker;
mod clocks;
mod contents;
pub mod jobs;
mod now;
pub mod recheck;
mod service;
mod view;
pub mod watch;
mod who;

pub use checker::{GrpcChecker, InProcessChecker, OnBehalf, SpatialChecker};
pub use now::{ManualNow, Now, SystemNow};
pub use recheck::{RecheckConfig, RecheckRun, Rechecked, Tolerance};
pub use watch::WatchConfig;
pub use service::ProcedureApi;

/// The gRPC path of `ListPublicNotices`, open without identity (the auth layer's open prefixes).
pub const PUBLIC_NOTICES_PATH: &str = "/kovgis.v1.ProcedureService/ListPublicNotices";

impl ProcedureApi {
    /// The ProcedureService as routes to serve beside (or without) the SpatialService, with
    /// `ListPublicNotices` open without identity; messages up to `max_message_bytes` both ways.
    pub fn into_extra(self, max_message_bytes: usize) -> kovgis_spatial::Extra {
        kovgis_spatial::Extra {
            add: Box::new(move |routes| {
                routes.add_service(
                    kovgis_api::v1::procedure_service_server::ProcedureServiceServer::new(self)
                        .max_decoding_message_size(max_message_bytes)
                        .max_encoding_message_size(max_message_bytes),
                )
            }),
            open_paths: vec![PUBLIC_NOTICES_PATH.to_owned()],
        }
    }
}

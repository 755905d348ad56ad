//! How SpatialService failures become gRPC statuses.
//!
//! Every status carries a `google.rpc.ErrorInfo` in domain [`DOMAIN`] whose `reason` is a stable,
//! machine-readable code (the README lists them), with metadata naming what it concerns. Bad
//! input → `INVALID_ARGUMENT` with a `BadRequest` field violation (field path + reason) as well;
//! missing → `NOT_FOUND`; a busy import → `ABORTED`; an idle or overlong import stream, a stalled reader, a call
//! past its deadline or a statement past `statement_timeout` → `DEADLINE_EXCEEDED`; a full
//! heavy pool, too many streams or imports → `RESOURCE_EXHAUSTED`; an import that would shrink
//! its target → `FAILED_PRECONDITION`; no free database connection
//! → `UNAVAILABLE`; a change on a stale version of a procedure → `ABORTED`; a step the
//! procedure's state does not allow → `FAILED_PRECONDITION`; everything unexpected (a handler's panic included) is logged once with its
//! details and returned as `INTERNAL` without them.

use std::collections::HashMap;

use kovgis_core::InputError;
use kovgis_core::crs::TransformError;
use kovgis_store::StoreError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `ErrorInfo.domain` of every kovgis error.
pub const DOMAIN: &str = "kovgis.ee";

/// What was not found, for the `ErrorInfo` reason and metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Municipality,
    /// No municipality at a location (at sea, abroad).
    MunicipalityAt,
    Parcel,
    Layer,
}

impl Missing {
    fn reason(self) -> &'static str {
        match self {
            Missing::Municipality => "MUNICIPALITY_NOT_FOUND",
            Missing::MunicipalityAt => "NO_MUNICIPALITY_AT_LOCATION",
            Missing::Parcel => "PARCEL_NOT_FOUND",
            Missing::Layer => "LAYER_NOT_FOUND",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Missing::Municipality => "municipality_code",
            Missing::MunicipalityAt => "geometry",
            Missing::Parcel => "cadastral_code",
            Missing::Layer => "layer",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Input(#[from] InputError),
    /// `what` is missing; `key` is the code, name or id asked for; `message` says so to a person.
    #[error("{message}")]
    NotFound {
        what: Missing,
        key: String,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Transform(#[from] TransformError),
    #[error("the request stream failed: {0}")]
    Stream(String),
    /// A client stream that sent nothing for too long.
    #[error("{0}")]
    Idle(String),
    /// An import stream that ran past the total time an import may take.
    #[error("{message}")]
    ImportTooLong { message: String, limit_seconds: u64 },
    #[error("{0}")]
    Unavailable(String),
    /// The caller's grant does not reach what the call is about (`reason`: `NOT_ALLOWED`,
    /// `METHOD_NOT_OPEN`).
    #[error("{message}")]
    Denied {
        reason: &'static str,
        message: String,
    },
    /// Something that must not happen (a worker task that panicked): logged, not sent.
    #[error("{0}")]
    Internal(String),
    /// A handler that panicked: logged, not sent.
    #[error("{method} panicked: {message}")]
    Panic {
        method: &'static str,
        message: String,
    },
    /// A call that did not finish within its deadline.
    #[error("{0}")]
    Deadline(String),
    /// A stream whose reader took nothing for too long.
    #[error("{0}")]
    Stalled(String),
    /// Heavy work refused because its pool is full.
    #[error("{0}")]
    Overloaded(String),
    /// Refused because too many calls of its kind run (`reason`: the ErrorInfo reason).
    #[error("{message}")]
    TooMany {
        reason: &'static str,
        message: String,
    },
    /// Not possible in the resource's present state (`FAILED_PRECONDITION`; `reason`: the
    /// ErrorInfo reason, `metadata` e.g. the state and the allowed actions).
    #[error("{message}")]
    Precondition {
        reason: &'static str,
        message: String,
        metadata: Vec<(&'static str, String)>,
    },
}

impl ServiceError {
    pub fn not_found(what: Missing, key: impl Into<String>, message: impl Into<String>) -> Self {
        ServiceError::NotFound {
            what,
            key: key.into(),
            message: message.into(),
        }
    }
}

/// A status with an `ErrorInfo` of `reason` and `metadata`.
fn status(code: Code, message: String, reason: &str, metadata: &[(&str, &str)]) -> Status {
    Status::with_error_details(code, message, info(reason, metadata))
}

fn info(reason: &str, metadata: &[(&str, &str)]) -> ErrorDetails {
    let metadata: HashMap<String, String> = metadata
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    ErrorDetails::with_error_info(reason, DOMAIN, metadata)
}

impl From<ServiceError> for Status {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Input(input) => {
                let mut details = info(input.code, &[("field", &input.field)]);
                details.add_bad_request_violation(&input.field, &input.reason);
                Status::with_error_details(Code::InvalidArgument, input.to_string(), details)
            }
            ServiceError::NotFound { what, key, message } => status(
                Code::NotFound,
                message,
                what.reason(),
                &[(what.key(), &key)],
            ),
            ServiceError::Store(StoreError::Busy(why)) => {
                status(Code::Aborted, why, "IMPORT_BUSY", &[])
            }
            ServiceError::Store(StoreError::Invalid(why)) => {
                status(Code::InvalidArgument, why, "IMPORT_REFUSED", &[])
            }
            ServiceError::Store(StoreError::InvalidField { field, reason }) => {
                Status::from(ServiceError::Input(InputError::new(field, reason)))
            }
            ServiceError::Stream(why) => status(Code::Cancelled, why, "STREAM_BROKEN", &[]),
            ServiceError::Denied { reason, message } => {
                status(Code::PermissionDenied, message, reason, &[])
            }
            ServiceError::Idle(why) => status(Code::DeadlineExceeded, why, "STREAM_IDLE", &[]),
            ServiceError::ImportTooLong {
                message,
                limit_seconds,
            } => status(
                Code::DeadlineExceeded,
                message,
                "IMPORT_TOO_LONG",
                &[("limit_seconds", &limit_seconds.to_string())],
            ),
            ServiceError::Store(StoreError::WouldShrink(shrink)) => status(
                Code::FailedPrecondition,
                StoreError::WouldShrink(shrink).to_string(),
                "IMPORT_WOULD_SHRINK",
                &[
                    ("current", &shrink.current.to_string()),
                    ("closing", &shrink.closing.to_string()),
                    ("incoming", &shrink.incoming.to_string()),
                    ("max_percent", &(shrink.max_share * 100.0).to_string()),
                ],
            ),
            ServiceError::Unavailable(why) => {
                status(Code::Unavailable, why, "INDEX_NOT_READY", &[])
            }
            ServiceError::Deadline(why) => {
                status(Code::DeadlineExceeded, why, "DEADLINE_EXCEEDED", &[])
            }
            ServiceError::Stalled(why) => {
                status(Code::DeadlineExceeded, why, "STREAM_STALLED", &[])
            }
            ServiceError::Overloaded(why) => {
                status(Code::ResourceExhausted, why, "OVERLOADED_HEAVY", &[])
            }
            ServiceError::TooMany { reason, message } => {
                status(Code::ResourceExhausted, message, reason, &[])
            }
            ServiceError::Precondition {
                reason,
                message,
                metadata,
            } => {
                let metadata: Vec<(&str, &str)> =
                    metadata.iter().map(|(k, v)| (*k, v.as_str())).collect();
                status(Code::FailedPrecondition, message, reason, &metadata)
            }
            ServiceError::Store(e @ StoreError::StaleVersion { .. }) => {
                let current = match &e {
                    StoreError::StaleVersion { current, .. } => current.to_string(),
                    _ => String::new(),
                };
                status(
                    Code::Aborted,
                    e.to_string(),
                    "STALE_VERSION",
                    &[("current_version", &current)],
                )
            }
            ServiceError::Store(StoreError::NotFound(why)) => {
                status(Code::NotFound, why, "NOT_FOUND", &[])
            }
            ServiceError::Store(StoreError::IdempotencyConflict(why)) => status(
                Code::AlreadyExists,
                why,
                "IDEMPOTENCY_KEY_REUSED",
                &[("field", "idempotency_key")],
            ),
            ServiceError::Store(e) if e.is_pool_timeout() => {
                tracing::warn!(error = %e, "no free database connection");
                status(
                    Code::Unavailable,
                    "every database connection is busy and none became free in time; try \
                     again shortly"
                        .into(),
                    "DATABASE_BUSY",
                    &[],
                )
            }
            ServiceError::Store(e) if e.is_statement_timeout() => {
                tracing::warn!(error = %e, "statement timeout");
                status(
                    Code::DeadlineExceeded,
                    "the database query took longer than the server allows (statement_timeout)"
                        .into(),
                    "DATABASE_TIMEOUT",
                    &[],
                )
            }
            ServiceError::Store(e) if e.is_forbidden() => {
                // Row-level security refused a write the grant allowed: say no, not how.
                tracing::warn!(error = %e, "refused by row-level security");
                status(
                    Code::PermissionDenied,
                    "not allowed for this caller".into(),
                    "NOT_ALLOWED",
                    &[],
                )
            }
            ServiceError::Store(e) if matches!(e, StoreError::Invalid(_)) => status(
                Code::InvalidArgument,
                e.to_string(),
                "INVALID_ARGUMENT",
                &[],
            ),
            ServiceError::Store(StoreError::Pool(e)) => {
                tracing::error!(error = %e, "no database connection");
                status(
                    Code::Unavailable,
                    "the database is not reachable; try again".into(),
                    "DATABASE_UNAVAILABLE",
                    &[],
                )
            }
            other => {
                tracing::error!(error = %other, "internal error");
                status(Code::Internal, "internal error".into(), "INTERNAL", &[])
            }
        }
    }
}

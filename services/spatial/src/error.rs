//! How SpatialService failures become gRPC statuses.
//!
//! Bad input → `INVALID_ARGUMENT` with a `BadRequest` field violation (field path + reason);
//! missing → `NOT_FOUND`; everything else is logged once with its details and returned as
//! `INTERNAL` without them.

use kovgis_core::InputError;
use kovgis_core::crs::TransformError;
use kovgis_store::StoreError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Transform(#[from] TransformError),
    #[error("the request stream failed: {0}")]
    Stream(String),
    #[error("{0}")]
    Unavailable(String),
}

impl From<ServiceError> for Status {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Input(input) => Status::with_error_details(
                Code::InvalidArgument,
                input.to_string(),
                ErrorDetails::with_bad_request_violation(input.field, input.reason),
            ),
            ServiceError::NotFound(what) => Status::not_found(what),
            ServiceError::Store(StoreError::Busy(why)) => Status::failed_precondition(why),
            ServiceError::Store(StoreError::Invalid(why)) => Status::invalid_argument(why),
            ServiceError::Stream(why) => Status::cancelled(why),
            ServiceError::Unavailable(why) => Status::unavailable(why),
            ServiceError::Store(StoreError::Pool(e)) => {
                tracing::error!(error = %e, "no database connection");
                Status::unavailable("the database is not reachable; try again")
            }
            other => {
                tracing::error!(error = %other, "internal error");
                Status::internal("internal error")
            }
        }
    }
}

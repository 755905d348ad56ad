//! Import errors: each names the file, and where it can, the feature.

use std::path::PathBuf;

use kovgis_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: cannot be read: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    Source { path: PathBuf, reason: String },
    #[error("{path}, feature {index}: {reason}")]
    Feature {
        path: PathBuf,
        index: u64,
        reason: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

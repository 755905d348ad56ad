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
    /// The store refused the import as it stood (it would shrink the target); nothing was
    /// written. The report holds the problems that explain it.
    #[error("{source}")]
    Refused {
        report: Box<crate::ImportReport>,
        source: StoreError,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

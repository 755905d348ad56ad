//! The store's error type.

/// What can go wrong between kovgis and PostgreSQL.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid DATABASE_URL: {0}")]
    Config(#[source] tokio_postgres::Error),
    #[error("cannot get a database connection: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("cannot build the connection pool: {0}")]
    Build(#[from] deadpool_postgres::BuildError),
    #[error("PostgreSQL error while {1}: {msg}", msg = describe(.0))]
    Postgres(#[source] tokio_postgres::Error, &'static str),
    #[error(
        "{0}; kovgis needs PostgreSQL 15 or later with PostGIS 3.1 or later \
         (NULLS NOT DISTINCT, ST_MakeValid with options)"
    )]
    UnsupportedServer(String),
    #[error("migration {name} failed: {msg}", msg = describe(source))]
    Migration {
        name: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error(
        "the database holds migration {0}, which this kovgis does not know: is it older than the schema?"
    )]
    UnknownMigration(String),
    #[error("{0}")]
    Busy(String),
    #[error("{0}")]
    Invalid(String),
    /// A value the database refused, naming the request field it came from (answered like a
    /// bad input: `INVALID_ARGUMENT` with the field).
    #[error("{field}: {reason}")]
    InvalidField { field: &'static str, reason: String },
    /// A replace import that would stage nothing or close too much of its target; nothing was
    /// written (see [`crate::import::Shrink`]).
    #[error(
        "refused: the import {}; nothing was written. Check the source and its problems (a dry \
         run lists them), or allow it (--allow-shrink, gRPC allow_shrink)",
        .0.describe()
    )]
    WouldShrink(crate::import::Shrink),
    #[error("{file}: {reason}")]
    Fixture { file: String, reason: String },
    #[error("stored geometry cannot be read: {0}")]
    Geometry(String),
    /// No workflow version the caller may see answers the question (none stored, or none
    /// visible: a caller without identity sees none).
    #[error("{0}")]
    NoWorkflow(String),
    /// A stored workflow version that is not a workable graph ([`crate::workflows`]).
    #[error("stored workflow {version} cannot be used: {reason}")]
    BadWorkflow { version: String, reason: String },
    /// A change made on a version of a procedure older than the stored one: nothing was written
    /// (`ABORTED`: read it again and retry).
    #[error(
        "procedure {name} was changed meanwhile: the change was made on version {expected}, the          stored version is {current}; nothing was written (read it again and retry)"
    )]
    StaleVersion {
        name: String,
        expected: i64,
        current: i64,
    },
    /// The resource does not exist, or the caller may not see it (the same answer for both).
    #[error("{0}")]
    NotFound(String),
    /// A retried create whose idempotency key was used by the same caller for other contents.
    #[error("{0}")]
    IdempotencyConflict(String),
}

impl StoreError {
    /// No pooled connection became free within the wait timeout.
    pub fn is_pool_timeout(&self) -> bool {
        matches!(
            self,
            StoreError::Pool(deadpool_postgres::PoolError::Timeout(_))
        )
    }

    /// PostgreSQL refused for lack of privilege (SQLSTATE 42501): a row-level security policy
    /// refused a row (another municipality's), or the role may not do this at all.
    pub fn is_forbidden(&self) -> bool {
        match self {
            StoreError::Postgres(e, _) => {
                e.code() == Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
            }
            _ => false,
        }
    }

    /// PostgreSQL cancelled the statement (`statement_timeout`, SQLSTATE 57014).
    pub fn is_statement_timeout(&self) -> bool {
        match self {
            StoreError::Postgres(e, _) => {
                e.code() == Some(&tokio_postgres::error::SqlState::QUERY_CANCELED)
            }
            _ => false,
        }
    }

    pub(crate) fn pg(context: &'static str) -> impl FnOnce(tokio_postgres::Error) -> StoreError {
        move |e| StoreError::Postgres(e, context)
    }
}

/// The server's own words for a database error (message, detail, hint), or the client's.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{} ({})", db.message(), db.code().code());
            if let Some(d) = db.detail() {
                s.push_str(&format!("; {d}"));
            }
            if let Some(h) = db.hint() {
                s.push_str(&format!("; hint: {h}"));
            }
            if let Some(w) = db.where_() {
                s.push_str(&format!("; at {w}"));
            }
            s
        }
        None => e.to_string(),
    }
}

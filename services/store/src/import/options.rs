//! How an import runs and what it reports: the mode, the options, the summary and how a start
//! turns out. Plain data, no SQL.

use super::Import;

/// Replace: the file is the whole dataset, rows it lacks are closed. Upsert: add and update only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImportMode {
    #[default]
    Replace,
    Upsert,
}

impl ImportMode {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            ImportMode::Replace => "replace",
            ImportMode::Upsert => "upsert",
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    pub mode: ImportMode,
    /// Wait for a concurrent import of the same target instead of refusing.
    pub wait_for_lock: bool,
    /// Do everything, report, then roll back.
    pub dry_run: bool,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportSummary {
    /// The dataset version written (`None` for a dry run or an unchanged file).
    pub version: Option<i64>,
    /// The file is the one the current version was made from: nothing was done.
    pub unchanged_file: bool,
    pub dry_run: bool,
    /// Rows received from the source: staged, or found unchanged by the reader.
    pub staged: u64,
    /// New rows and new versions of changed rows.
    pub written: u64,
    /// Rows identical to their current version.
    pub unchanged: u64,
    /// Current rows closed because the file no longer has them (replace mode).
    pub closed: u64,
    /// Geometries repaired with ST_MakeValid.
    pub repaired: u64,
    /// Rows dropped at merge (repair left nothing, no municipality), with reasons.
    pub dropped: Vec<(i64, String)>,
    pub seconds: f64,
}

/// How a `begin_import` starts.
pub enum ImportStart {
    /// The file is the one the current version came from.
    Unchanged(ImportSummary),
    Ready(Box<Import>),
}

//! How an import runs and what it reports: the mode, the options, the summary and how a start
//! turns out. Plain data, no SQL.

use super::Import;
use super::shrink::Shrink;

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

/// The share of the current rows a replace import may close without
/// [`ImportOptions::allow_shrink`].
pub const DEFAULT_MAX_SHRINK: f64 = 0.20;

/// How much a first load of the cadastre holds in memory of the rows it cannot write straight
/// away (no known municipality name, or a geometry to repair), in bytes of their geometry and
/// attributes, before it sends every further row through the stage table instead.
pub const DEFAULT_FIRST_LOAD_ASIDE_BYTES: usize = 64 << 20;

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub mode: ImportMode,
    /// Wait for a concurrent import of the same target instead of refusing.
    pub wait_for_lock: bool,
    /// Do everything, report, then roll back.
    pub dry_run: bool,
    /// Let a replace import stage nothing or close more than [`ImportOptions::max_shrink`] of
    /// the current rows; refused otherwise (see [`Shrink`]).
    pub allow_shrink: bool,
    /// The share (0–1) of the current rows a replace import may close without `allow_shrink`.
    pub max_shrink: f64,
    /// See [`DEFAULT_FIRST_LOAD_ASIDE_BYTES`].
    pub first_load_aside_bytes: usize,
    /// What the reader does with the source that changes the rows it makes (source CRS, repair,
    /// attribute mapping, layer in the file, …), as (name, value) pairs in a fixed order: with
    /// the content hash, the target and the mode, the import's fingerprint (see
    /// [`super::fingerprint`]).
    pub reader: Vec<(String, String)>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            mode: ImportMode::default(),
            wait_for_lock: false,
            dry_run: false,
            allow_shrink: false,
            max_shrink: DEFAULT_MAX_SHRINK,
            first_load_aside_bytes: DEFAULT_FIRST_LOAD_ASIDE_BYTES,
            reader: Vec::new(),
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportSummary {
    /// The dataset version written (`None` for a dry run or an unchanged file).
    pub version: Option<i64>,
    /// The source and every setting are the ones the current version was made from: nothing
    /// was done.
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
    /// What a replace import closes of the current rows (`None` in upsert mode). A dry run
    /// reports it whether or not a real run would be refused ([`Shrink::exceeds`]).
    pub shrink: Option<Shrink>,
    pub seconds: f64,
}

/// How a `begin_import` starts.
pub enum ImportStart {
    /// The file is the one the current version came from.
    Unchanged(ImportSummary),
    Ready(Box<Import>),
}

//! The bulk-import engine: binary COPY, set-based merge, switch in one transaction.
//!
//! An [`Import`] holds one connection with an open transaction from [`Store::begin_import`] to
//! [`Import::finish`]:
//! 1. an advisory lock on the target (the parcels, or one layer) — a second import of the same
//!    target waits or is refused ([`StoreError::Busy`]);
//! 2. for parcels, the current parcels (code, source hash, content hash) from the digest chain
//!    or the table, so that a reader can skip unchanged records ([`Import::note_unchanged`]) and
//!    the engine knows which parcels changed or vanished without asking SQL;
//! 3. the new dataset version row, then rows streamed with binary `COPY`: into a temporary stage,
//!    or — a first load of an empty cadastre — straight into `parcel` with its indexes dropped;
//! 4. at finish, set-based SQL: invalid geometries the caller flagged are repaired with
//!    `ST_MakeValid` (or dropped when that leaves nothing), parcels without a known municipality
//!    placed by geometry, a replace that would stage nothing or close too much refused
//!    ([`shrink`]), changed and (in replace mode) vanished current rows closed (`valid_to`),
//!    rows with no current version inserted, indexes rebuilt after a first load, the parcel
//!    digest extended; counts go into the version row;
//! 5. `COMMIT` (or `ROLLBACK` for a dry run).
//!
//! Nothing is visible to readers until the commit, and a failure or a killed process anywhere
//! before it leaves the previous version fully in place: the server rolls the transaction back.
//! If an `Import` is dropped unfinished, its connection is closed rather than returned to the pool.
//!
//! One concept a file: [`target`] and [`options`] say what an import writes and how, [`rows`]
//! what it is fed and [`canonical`] how rows are hashed, [`fingerprint`] when an import is
//! "unchanged" and [`shrink`] when it is refused for closing too much; [`session`] opens it
//! (lock, dataset version) and ends it (commit, rollback);
//! [`digest`] is the cache of the current parcels, [`copy`] the binary COPY in and out and
//! [`ewkb`] the geometry values a first load writes; [`first_load`], [`parcels`], [`features`]
//! and [`merge`] the paths rows take into the tables.

mod canonical;
mod columns;
mod copy;
mod digest;
mod ewkb;
mod features;
mod fingerprint;
mod first_load;
mod merge;
mod options;
mod parcels;
mod rows;
mod session;
mod shrink;
mod target;

use std::pin::Pin;
use std::time::Instant;

use deadpool_postgres::Object;
use tokio_postgres::binary_copy::BinaryCopyInWriter;

use crate::StoreError;

pub use digest::{CurrentParcel, CurrentParcels};
pub use options::{
    DEFAULT_FIRST_LOAD_ASIDE_BYTES, DEFAULT_MAX_SHRINK, ImportMode, ImportOptions, ImportStart,
    ImportSummary,
};
pub use rows::{FeatureRow, ParcelRow};
pub use shrink::{Shrink, grouped};
pub use target::{ImportTarget, LayerSpec};

use first_load::Direct;

/// An import in progress; see the module docs.
pub struct Import {
    client: Option<Object>,
    writer: Pin<Box<BinaryCopyInWriter>>,
    target: ImportTarget,
    layer_id: Option<i64>,
    /// The layer's authority after this import's update of it (layer imports).
    layer_authority: Option<String>,
    version: i64,
    options: ImportOptions,
    started: Instant,
    staged: u64,
    /// Rows staged with `needs_repair`.
    flagged: u64,
    copy_ended: bool,
    /// Municipality names (lower case) → EHAK codes, to place parcels without a join.
    municipalities: std::collections::HashMap<String, String>,
    /// Current parcels (code → source hash, empty when none) at the start, for readers to skip
    /// unchanged records and for replace mode to find the vanished ones.
    current: std::sync::Arc<CurrentParcels>,
    /// Deltas since the full digest `current` came from; `None` when it was read from the table.
    digest_chain: Option<usize>,
    /// Parcels the reader found unchanged ([`Import::note_unchanged`]).
    unchanged: u64,
    /// Keys staged so far, to catch a key given twice while streaming (cheaper than a
    /// GROUP BY over the stage afterwards).
    seen: foldhash::HashSet<String>,
    /// The same for cadastral codes, as [`kovgis_core::codes::cadastral_key`]s.
    seen_parcels: foldhash::HashSet<u64>,
    /// Current parcels whose content the source changed: closed at merge.
    changed: Vec<String>,
    duplicates: Vec<String>,
    /// A first load of the cadastre writes straight into `parcel` (see [`Direct`]).
    direct: Option<Direct>,
}

impl std::fmt::Debug for Import {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Import")
            .field("target", &self.target)
            .field("version", &self.version)
            .field("staged", &self.staged)
            .finish()
    }
}
fn pg(context: &'static str) -> impl FnOnce(tokio_postgres::Error) -> StoreError {
    StoreError::pg(context)
}
impl Import {
    fn client(&self) -> &Object {
        self.client.as_ref().expect("import connection")
    }

    /// The dataset version this import writes.
    pub fn version(&self) -> i64 {
        self.version
    }

    /// The current parcels with their source hashes, for a reader to skip records that have not
    /// changed: it passes their codes to [`Import::note_unchanged`] instead of staging them.
    /// Empty for layer imports and an empty cadastre.
    pub fn current_source_hashes(&self) -> std::sync::Arc<CurrentParcels> {
        self.current.clone()
    }

    /// Rows staged so far.
    pub fn staged(&self) -> u64 {
        self.staged
    }

    /// The authority of the layer imported into, as it stands with this import's metadata (the
    /// import's, else the layer's own): whom a restriction without its own `authority`
    /// coordinates with. `None` for parcels.
    pub fn layer_authority(&self) -> Option<&str> {
        self.layer_authority.as_deref()
    }
}

impl Drop for Import {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            // Unfinished: close the connection, the server rolls back.
            drop(Object::take(client));
        }
    }
}

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
//!    placed by geometry, changed and (in replace mode) vanished current rows closed (`valid_to`),
//!    rows with no current version inserted, indexes rebuilt after a first load, the parcel
//!    digest extended; counts go into the version row;
//! 5. `COMMIT` (or `ROLLBACK` for a dry run).
//!
//! Nothing is visible to readers until the commit, and a failure or a killed process anywhere
//! before it leaves the previous version fully in place: the server rolls the transaction back.
//! If an `Import` is dropped unfinished, its connection is closed rather than returned to the pool.

use std::pin::Pin;
use std::time::Instant;

use deadpool_postgres::Object;
use kovgis_core::model::LayerKind;
use sha2::{Digest, Sha256};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use crate::{Store, StoreError};

/// What an import replaces or adds to.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportTarget {
    /// The national cadastre (`parcel`).
    Parcels,
    /// One layer, created on first import.
    Layer(LayerSpec),
}

/// A layer as an import names it.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSpec {
    /// Owning municipality; `None` for a national layer.
    pub municipality_code: Option<String>,
    pub name: String,
    pub title: String,
    pub kind: LayerKind,
    pub description: String,
    pub attribution: String,
    pub authority: Option<String>,
    /// Whether features carry a stable external id to merge on. Without one, a replace import
    /// closes all current features and inserts the file's.
    pub keyed: bool,
}

impl ImportTarget {
    fn key(&self) -> String {
        match self {
            ImportTarget::Parcels => "parcels".into(),
            ImportTarget::Layer(l) => format!(
                "layer:{}:{}",
                l.municipality_code.as_deref().unwrap_or("national"),
                l.name
            ),
        }
    }

    /// Human name for messages.
    pub fn describe(&self) -> String {
        match self {
            ImportTarget::Parcels => "the cadastre".into(),
            ImportTarget::Layer(l) => format!(
                "layer '{}' of {}",
                l.name,
                l.municipality_code.as_deref().unwrap_or("national data")
            ),
        }
    }
}

/// Replace: the file is the whole dataset, rows it lacks are closed. Upsert: add and update only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImportMode {
    #[default]
    Replace,
    Upsert,
}

impl ImportMode {
    fn as_str(self) -> &'static str {
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

/// One parcel to stage. Geometry is EPSG:3301 WKB, a (Multi)Polygon.
#[derive(Debug, Clone, Default)]
pub struct ParcelRow {
    /// Position in the source (feature index), for messages.
    pub index: i64,
    pub cadastral_code: String,
    /// The register's municipality name (`OV_NIMI`), matched to `municipality.name`.
    pub municipality_name: Option<String>,
    pub address: Option<String>,
    pub uses: [(Option<String>, Option<i16>); 3],
    pub registered_area_m2: Option<f64>,
    pub attributes: serde_json::Value,
    pub wkb: Vec<u8>,
    /// Invalid geometry to be repaired with `ST_MakeValid`.
    pub needs_repair: bool,
    /// Content hash of everything above but the index.
    pub row_hash: Vec<u8>,
    /// Hash of the source record as read, when the reader computes one: a later import whose
    /// record hashes the same skips it unread (see [`Import::current_source_hashes`]).
    pub source_hash: Option<Vec<u8>>,
}

/// One layer feature to stage. Geometry is EPSG:3301 WKB.
#[derive(Debug, Clone, Default)]
pub struct FeatureRow {
    pub index: i64,
    pub external_id: Option<String>,
    pub attributes: serde_json::Value,
    pub wkb: Vec<u8>,
    pub needs_repair: bool,
    pub row_hash: Vec<u8>,
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

/// An import in progress; see the module docs.
pub struct Import {
    client: Option<Object>,
    writer: Pin<Box<BinaryCopyInWriter>>,
    target: ImportTarget,
    layer_id: Option<i64>,
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

/// A first load of the cadastre (the table is empty): rows are copied straight into `parcel`
/// with its indexes dropped — no stage round trip, one index build at the end. Rows that need
/// SQL (repair, placement by geometry) are kept aside and go through the stage at finish.
struct Direct {
    /// PostGIS `geometry`, whose OID differs per database.
    geometry: Type,
    /// The transaction's `now()`, the rows' `valid_from`.
    valid_from: std::time::SystemTime,
    written: u64,
    deferred: Vec<ParcelRow>,
    /// [`digest_entry`]s of the rows written.
    digest: Vec<u8>,
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

const PARCEL_STAGE: &str = "CREATE TEMP TABLE import_stage (
    idx bigint, code text, municipality_name text, address text,
    use1_code text, use1_pct smallint, use2_code text, use2_pct smallint, use3_code text, use3_pct smallint,
    registered_area_m2 float8, attributes jsonb, wkb bytea, needs_repair bool, row_hash bytea,
    municipality_code char(4), source_hash bytea
) ON COMMIT DROP";

const PARCEL_TYPES: [Type; 17] = [
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::INT2,
    Type::TEXT,
    Type::INT2,
    Type::TEXT,
    Type::INT2,
    Type::FLOAT8,
    Type::JSONB,
    Type::BYTEA,
    Type::BOOL,
    Type::BYTEA,
    Type::BPCHAR,
    Type::BYTEA,
];

/// Columns of a direct first load, in [`Import::push_parcel`]'s order.
const PARCEL_DIRECT_COPY: &str = "COPY parcel (cadastral_code, municipality_code, address,
    use1_code, use1_pct, use2_code, use2_pct, use3_code, use3_pct, registered_area_m2, attributes,
    geom, valid_from, dataset_version_id, row_hash, source_hash) FROM STDIN (FORMAT binary)";

const PARCEL_INDEXES_DROP: &str = "DROP INDEX parcel_geom_gist; DROP INDEX parcel_code_history;
    DROP INDEX parcel_municipality; DROP INDEX parcel_current_code;";

/// As in the migrations; built once at the end of a first load.
const PARCEL_INDEXES_CREATE: &str = "
    CREATE UNIQUE INDEX parcel_current_code ON parcel (cadastral_code) WHERE valid_to IS NULL;
    CREATE INDEX parcel_geom_gist ON parcel USING gist (geom);
    CREATE INDEX parcel_code_history ON parcel (cadastral_code, valid_from);
    CREATE INDEX parcel_municipality ON parcel (municipality_code) WHERE valid_to IS NULL;
    ANALYZE parcel;";

const FEATURE_STAGE: &str = "CREATE TEMP TABLE import_stage (
    idx bigint, code text, attributes jsonb, wkb bytea, needs_repair bool, row_hash bytea
) ON COMMIT DROP";

const FEATURE_TYPES: [Type; 6] = [
    Type::INT8,
    Type::TEXT,
    Type::JSONB,
    Type::BYTEA,
    Type::BOOL,
    Type::BYTEA,
];

/// Stands in for the content hash of a stream until its end.
const PENDING_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn pg(context: &'static str) -> impl FnOnce(tokio_postgres::Error) -> StoreError {
    StoreError::pg(context)
}

impl Store {
    /// Opens an import of `target` from a source (`source` names it, `sha256` is its content
    /// hash). Returns [`ImportStart::Unchanged`] when the current version of the target was made
    /// from the same content. A stream whose hash is only known at its end passes `None` and
    /// finishes with [`Import::finish_with_hash`].
    pub async fn begin_import(
        &self,
        target: ImportTarget,
        source: &str,
        sha256: Option<&str>,
        options: ImportOptions,
    ) -> Result<ImportStart, StoreError> {
        let sha256 = sha256.map(str::to_owned);
        self.begin_import_hashing(target, source, async { Ok(sha256) }, options)
            .await
    }

    /// [`Store::begin_import`] with the content hash still being computed: the import starts
    /// (lock, current parcels) meanwhile, and is rolled back as unchanged if the hash turns out
    /// to be the current version's.
    pub async fn begin_import_hashing(
        &self,
        target: ImportTarget,
        source: &str,
        sha256: impl std::future::Future<Output = Result<Option<String>, StoreError>>,
        options: ImportOptions,
    ) -> Result<ImportStart, StoreError> {
        let client = self.pool.get().await?;
        client
            .batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED")
            .await
            .map_err(pg("starting the import transaction"))?;
        // From here the transaction is open: on any error the connection must not go back to the
        // pool as it is, so it is wrapped at once.
        let mut guard = ConnGuard(Some(client));
        let c = guard.0.as_ref().expect("connection");

        let key = target.key();
        let locked: bool = if options.wait_for_lock {
            c.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                &[&key],
            )
            .await
            .map_err(pg("waiting for the import lock"))?;
            true
        } else {
            c.query_one(
                "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))",
                &[&key],
            )
            .await
            .map_err(pg("taking the import lock"))?
            .get(0)
        };
        if !locked {
            return Err(StoreError::Busy(format!(
                "another import of {} is running; try again when it has finished (or pass --wait)",
                target.describe()
            )));
        }

        let layer_id = match &target {
            ImportTarget::Parcels => None,
            ImportTarget::Layer(spec) => Some(upsert_layer(c, spec).await?),
        };
        let target_name = match target {
            ImportTarget::Parcels => "parcels",
            ImportTarget::Layer(_) => "layer",
        };
        let table_was_empty = match target {
            ImportTarget::Parcels => c
                .query_one("SELECT NOT EXISTS (SELECT 1 FROM parcel)", &[])
                .await
                .map_err(pg("checking the parcel table"))?
                .get(0),
            ImportTarget::Layer(_) => false,
        };
        // The newest version of this target (same content means nothing to do) and the current
        // parcels, read while the content hash is computed.
        let read = async {
            let last = c
                .query_opt(
                    "SELECT id, file_sha256 FROM dataset_version
                     WHERE target = $1 AND layer_id IS NOT DISTINCT FROM $2
                     ORDER BY id DESC LIMIT 1",
                    &[&target_name, &layer_id],
                )
                .await
                .map_err(pg("reading the current dataset version"))?;
            let (current, chain) = if table_was_empty || !matches!(target, ImportTarget::Parcels) {
                Default::default()
            } else {
                match load_digest(c).await? {
                    Some((current, chain)) => (current, Some(chain)),
                    None => (load_current(c).await?, None),
                }
            };
            Ok::<_, StoreError>((last, (current, chain)))
        };
        let (sha256, read) = futures_util::future::join(sha256, read).await;
        let (sha256, (last, (current, digest_chain))) = (sha256?, read?);
        let sha256 = sha256.as_deref();
        if let Some(row) = last
            && Some(row.get::<_, &str>(1)) == sha256
        {
            let version: i64 = row.get(0);
            let client = guard.0.take().expect("connection");
            client
                .batch_execute("ROLLBACK")
                .await
                .map_err(pg("ending the import transaction"))?;
            return Ok(ImportStart::Unchanged(ImportSummary {
                version: Some(version),
                unchanged_file: true,
                dry_run: options.dry_run,
                ..Default::default()
            }));
        }

        let version: i64 = c
            .query_one(
                "INSERT INTO dataset_version (target, layer_id, municipality_code, source, file_sha256, mode)
                 VALUES ($1, $2, (SELECT municipality_code FROM layer WHERE id = $2), $3, $4, $5)
                 RETURNING id",
                &[
                    &target_name,
                    &layer_id,
                    &source,
                    &sha256.unwrap_or(PENDING_HASH),
                    &options.mode.as_str(),
                ],
            )
            .await
            .map_err(pg("recording the dataset version"))?
            .get(0);

        let municipalities = c
            .query(
                "SELECT lower(name), municipality_code::text FROM municipality",
                &[],
            )
            .await
            .map_err(pg("reading municipality names"))?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let direct = if table_was_empty && matches!(target, ImportTarget::Parcels) {
            // The table is empty and locked for this import; readers wait for the commit.
            c.batch_execute(PARCEL_INDEXES_DROP)
                .await
                .map_err(pg("dropping indexes for the first load"))?;
            let row = c
                .query_one("SELECT now(), 'geometry'::regtype::oid", &[])
                .await
                .map_err(pg("preparing the first load"))?;
            Some(Direct {
                geometry: Type::new(
                    "geometry".into(),
                    row.get(1),
                    tokio_postgres::types::Kind::Simple,
                    "public".into(),
                ),
                valid_from: row.get(0),
                written: 0,
                deferred: Vec::new(),
                digest: Vec::new(),
            })
        } else {
            None
        };
        let writer = match (&target, &direct) {
            (ImportTarget::Parcels, Some(d)) => {
                let types = vec![
                    Type::TEXT,
                    Type::BPCHAR,
                    Type::TEXT,
                    Type::TEXT,
                    Type::INT2,
                    Type::TEXT,
                    Type::INT2,
                    Type::TEXT,
                    Type::INT2,
                    Type::FLOAT8,
                    Type::JSONB,
                    d.geometry.clone(),
                    Type::TIMESTAMPTZ,
                    Type::INT8,
                    Type::BYTEA,
                    Type::BYTEA,
                ];
                start_copy(c, PARCEL_DIRECT_COPY, &types, "starting COPY into parcel").await?
            }
            (ImportTarget::Parcels, None) => {
                c.batch_execute(PARCEL_STAGE)
                    .await
                    .map_err(pg("creating the stage table"))?;
                start_copy(c, STAGE_COPY, &PARCEL_TYPES, "starting COPY into the stage").await?
            }
            (ImportTarget::Layer(_), _) => {
                c.batch_execute(FEATURE_STAGE)
                    .await
                    .map_err(pg("creating the stage table"))?;
                start_copy(
                    c,
                    STAGE_COPY,
                    &FEATURE_TYPES,
                    "starting COPY into the stage",
                )
                .await?
            }
        };
        Ok(ImportStart::Ready(Box::new(Import {
            client: guard.0.take(),
            writer,
            target,
            layer_id,
            version,
            options,
            started: Instant::now(),
            staged: 0,
            flagged: 0,
            copy_ended: false,
            municipalities,
            current: std::sync::Arc::new(current),
            digest_chain,
            unchanged: 0,
            seen: Default::default(),
            seen_parcels: Default::default(),
            changed: Vec::new(),
            duplicates: Vec::new(),
            direct,
        })))
    }
}

const STAGE_COPY: &str = "COPY import_stage FROM STDIN (FORMAT binary)";

async fn start_copy(
    c: &Object,
    copy: &str,
    types: &[Type],
    context: &'static str,
) -> Result<Pin<Box<BinaryCopyInWriter>>, StoreError> {
    let sink = c.copy_in(copy).await.map_err(pg(context))?;
    Ok(Box::pin(BinaryCopyInWriter::new(sink, types)))
}

/// The current version of one parcel, as an import compares it.
#[derive(Debug, Clone, Copy)]
pub struct CurrentParcel {
    /// Hash of the source record it was made from (zeros when unknown).
    pub source_hash: [u8; 16],
    /// Its content hash ([`ParcelRow::content_hash`]).
    pub row_hash: [u8; 16],
}

/// Current parcels by [`kovgis_core::codes::cadastral_key`]: the national cadastre in ~40 bytes a
/// parcel, no allocation per entry.
pub type CurrentParcels = foldhash::HashMap<u64, CurrentParcel>;

/// Appends a parcel digest entry: the code's key, source hash and content hash (zeros when
/// unknown), 40 bytes (migration 0005).
fn digest_entry(out: &mut Vec<u8>, key: u64, source_hash: Option<&[u8]>, row_hash: Option<&[u8]>) {
    let hash =
        |h: Option<&[u8]>| -> [u8; 16] { h.and_then(|h| h.try_into().ok()).unwrap_or([0; 16]) };
    out.extend_from_slice(&key.to_le_bytes());
    out.extend_from_slice(&hash(source_hash));
    out.extend_from_slice(&hash(row_hash));
}

/// A full digest is rewritten after this many deltas (a delta is read with the full one).
const MAX_DIGEST_DELTAS: usize = 30;

/// The current parcels from the digest chain (the newest full digest and the deltas after it),
/// with the number of deltas; `None` when the chain does not reach the newest cadastre version
/// (a version was written another way), and the table must be read.
async fn load_digest(c: &Object) -> Result<Option<(CurrentParcels, usize)>, StoreError> {
    let rows = c
        .query(
            "WITH base AS (SELECT max(dataset_version_id) AS id FROM parcel_digest WHERE kind = 'full')
             SELECT v.id, d.kind, d.closed, d.entries
             FROM dataset_version v
             LEFT JOIN parcel_digest d ON d.dataset_version_id = v.id
             WHERE v.target = 'parcels' AND v.id >= (SELECT id FROM base)
             ORDER BY v.id",
            &[],
        )
        .await
        .map_err(pg("reading the parcel digest"))?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    // Every version since the full digest must have its row, and the last must be the newest.
    let newest: Option<i64> = c
        .query_one(
            "SELECT max(id) FROM dataset_version WHERE target = 'parcels'",
            &[],
        )
        .await
        .map_err(pg("reading the parcel digest"))?
        .get(0);
    if first.get::<_, Option<&str>>(1) != Some("full")
        || rows.iter().any(|r| r.get::<_, Option<&str>>(1).is_none())
        || rows.last().map(|r| r.get::<_, i64>(0)) != newest
    {
        return Ok(None);
    }
    let mut current = CurrentParcels::default();
    for row in &rows {
        let closed: &[u8] = row.get(2);
        for k in closed.chunks_exact(8) {
            current.remove(&u64::from_le_bytes(k.try_into().expect("8 bytes")));
        }
        let entries: &[u8] = row.get(3);
        current.reserve(entries.len() / 40);
        for e in entries.chunks_exact(40) {
            current.insert(
                u64::from_le_bytes(e[..8].try_into().expect("8 bytes")),
                CurrentParcel {
                    source_hash: e[8..24].try_into().expect("16 bytes"),
                    row_hash: e[24..40].try_into().expect("16 bytes"),
                },
            );
        }
    }
    Ok(Some((current, rows.len() - 1)))
}

/// Reads the current parcels with binary `COPY … TO STDOUT`, parsing the tuples in place
/// (a third of the client-side cost of 775 000 result rows).
async fn load_current(c: &Object) -> Result<CurrentParcels, StoreError> {
    use futures_util::TryStreamExt;
    let stream = c
        .copy_out(
            "COPY (SELECT cadastral_code, source_hash, row_hash FROM parcel WHERE valid_to IS NULL)
             TO STDOUT (FORMAT binary)",
        )
        .await
        .map_err(pg("reading the current parcels"))?;
    let mut stream = std::pin::pin!(stream);
    let mut current = CurrentParcels::default();
    let mut pending: Vec<u8> = Vec::new();
    let mut header_done = false;
    while let Some(chunk) = stream
        .try_next()
        .await
        .map_err(pg("reading the current parcels"))?
    {
        // PostgreSQL sends a tuple per message; a tuple split across messages is buffered.
        let joined;
        let mut data: &[u8] = if pending.is_empty() {
            &chunk
        } else {
            pending.extend_from_slice(&chunk);
            joined = std::mem::take(&mut pending);
            &joined
        };
        if !header_done {
            // "PGCOPY\n\xff\r\n\0", flags, header extension length and extension.
            let Some(ext) = data.get(15..19) else {
                pending = data.to_vec();
                continue;
            };
            let end = 19 + u32::from_be_bytes(ext.try_into().expect("4 bytes")) as usize;
            if data.len() < end {
                pending = data.to_vec();
                continue;
            }
            data = &data[end..];
            header_done = true;
        }
        while !data.is_empty() {
            match copy_tuple(data) {
                Some((used, fields)) => {
                    if let Some([Some(code), source_hash, row_hash]) = fields
                        && let Some(key) = std::str::from_utf8(code)
                            .ok()
                            .and_then(kovgis_core::codes::cadastral_key)
                    {
                        let hash =
                            |h: Option<&[u8]>| h.and_then(|h| h.try_into().ok()).unwrap_or([0; 16]);
                        current.insert(
                            key,
                            CurrentParcel {
                                source_hash: hash(source_hash),
                                row_hash: hash(row_hash),
                            },
                        );
                    }
                    data = &data[used..];
                }
                None => {
                    pending = data.to_vec();
                    break;
                }
            }
        }
    }
    Ok(current)
}

/// One tuple of three fields from binary COPY output: bytes used and the fields (`None` for the
/// trailer); `None` when `data` does not hold the whole tuple.
#[allow(clippy::type_complexity)]
fn copy_tuple(data: &[u8]) -> Option<(usize, Option<[Option<&[u8]>; 3]>)> {
    let count = i16::from_be_bytes(data.get(..2)?.try_into().ok()?);
    if count < 0 {
        return Some((2, None));
    }
    let mut at = 2;
    let mut fields = [None; 3];
    for i in 0..count as usize {
        let len = i32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?);
        at += 4;
        if len >= 0 {
            let value = data.get(at..at + len as usize)?;
            if let Some(f) = fields.get_mut(i) {
                *f = Some(value);
            }
            at += len as usize;
        }
    }
    Some((at, Some(fields)))
}

/// Rolls the import transaction back and returns the connection to the pool; if that is not
/// possible (COPY still open, or the rollback fails), closes the connection instead, which makes
/// the server roll back.
async fn rollback_or_close(client: Object, copy_ended: bool) {
    if copy_ended && client.batch_execute("ROLLBACK").await.is_ok() {
        return;
    }
    drop(Object::take(client));
}

/// Closes (not pools) a connection left inside a transaction by an error.
struct ConnGuard(Option<Object>);

impl Drop for ConnGuard {
    fn drop(&mut self) {
        if let Some(obj) = self.0.take() {
            drop(Object::take(obj));
        }
    }
}

async fn upsert_layer(c: &Object, spec: &LayerSpec) -> Result<i64, StoreError> {
    let row = c
        .query_one(
            "INSERT INTO layer (municipality_code, name, title, kind, description, attribution, authority)
             VALUES ($1, $2, $3, $4::text::layer_kind, $5, $6, $7)
             ON CONFLICT (municipality_code, name) DO UPDATE
                 SET title = EXCLUDED.title, kind = EXCLUDED.kind,
                     description = CASE WHEN EXCLUDED.description = '' THEN layer.description ELSE EXCLUDED.description END,
                     attribution = CASE WHEN EXCLUDED.attribution = '' THEN layer.attribution ELSE EXCLUDED.attribution END,
                     authority = coalesce(EXCLUDED.authority, layer.authority)
             RETURNING id",
            &[
                &spec.municipality_code,
                &spec.name,
                &spec.title,
                &spec.kind.as_str(),
                &spec.description,
                &spec.attribution,
                &spec.authority,
            ],
        )
        .await
        .map_err(|e| match e.as_db_error().map(|d| d.code().code()) {
            Some("23503") => StoreError::Invalid(format!(
                "municipality {} does not exist",
                spec.municipality_code.as_deref().unwrap_or("")
            )),
            Some("23514") => StoreError::Invalid(format!(
                "layer name '{}' must be lower-case letters, digits, '-' and '_'",
                spec.name
            )),
            _ => StoreError::Postgres(e, "creating the layer"),
        })?;
    Ok(row.get(0))
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

    /// Parcels the reader found unchanged (their source hash equals the current one), as
    /// [`kovgis_core::codes::cadastral_key`]s: nothing is written for them, and replace mode
    /// keeps them.
    pub fn note_unchanged(&mut self, keys: &[u64]) {
        self.unchanged += keys.len() as u64;
        self.seen_parcels.reserve(keys.len());
        for &key in keys {
            if !self.seen_parcels.insert(key) && self.duplicates.len() < 10 {
                self.duplicates
                    .push(kovgis_core::codes::cadastral_code_of_key(key));
            }
        }
    }

    /// Rows staged so far.
    pub fn staged(&self) -> u64 {
        self.staged
    }

    /// Stages a parcel (parcel imports only); on a first load, writes it.
    pub async fn push_parcel(&mut self, r: &ParcelRow) -> Result<(), StoreError> {
        debug_assert!(matches!(self.target, ImportTarget::Parcels));
        self.staged += 1;
        self.flagged += r.needs_repair as u64;
        self.note_parcel(&r.cadastral_code);
        let municipality = r
            .municipality_name
            .as_ref()
            .and_then(|n| self.municipalities.get(&n.to_lowercase()));
        let Some(direct) = &mut self.direct else {
            if kovgis_core::codes::cadastral_key(&r.cadastral_code)
                .and_then(|key| self.current.get(&key))
                .is_some_and(|c| c.row_hash[..] != r.row_hash[..])
            {
                self.changed.push(r.cadastral_code.clone());
            }
            return self.stage_parcel(r).await;
        };
        let Some(municipality) = municipality.filter(|_| !r.needs_repair) else {
            // Repair or placement by geometry: SQL's work, at finish.
            direct.deferred.push(r.clone());
            return Ok(());
        };
        let [(u1, p1), (u2, p2), (u3, p3)] = &r.uses;
        let geom = Ewkb(multipolygon_ewkb(&r.wkb, kovgis_core::crs::EPSG_LEST97)?);
        let row: [&(dyn ToSql + Sync); 16] = [
            &r.cadastral_code,
            municipality,
            &r.address,
            u1,
            p1,
            u2,
            p2,
            u3,
            p3,
            &r.registered_area_m2,
            &r.attributes,
            &geom,
            &direct.valid_from,
            &self.version,
            &r.row_hash,
            &r.source_hash,
        ];
        self.writer
            .as_mut()
            .write(&row)
            .await
            .map_err(pg("copying parcels into the parcel table"))?;
        direct.written += 1;
        if let Some(key) = kovgis_core::codes::cadastral_key(&r.cadastral_code) {
            digest_entry(
                &mut direct.digest,
                key,
                r.source_hash.as_deref(),
                Some(&r.row_hash),
            );
        }
        Ok(())
    }

    async fn stage_parcel(&mut self, r: &ParcelRow) -> Result<(), StoreError> {
        let [(u1, p1), (u2, p2), (u3, p3)] = &r.uses;
        let municipality = r
            .municipality_name
            .as_ref()
            .and_then(|n| self.municipalities.get(&n.to_lowercase()));
        let row: [&(dyn ToSql + Sync); 17] = [
            &r.index,
            &r.cadastral_code,
            &r.municipality_name,
            &r.address,
            u1,
            p1,
            u2,
            p2,
            u3,
            p3,
            &r.registered_area_m2,
            &r.attributes,
            &r.wkb,
            &r.needs_repair,
            &r.row_hash,
            &municipality,
            &r.source_hash,
        ];
        self.writer
            .as_mut()
            .write(&row)
            .await
            .map_err(pg("copying parcels into the stage"))?;
        Ok(())
    }

    /// First load: after the direct COPY, the rows kept aside go through the stage.
    async fn stage_deferred(&mut self) -> Result<(), StoreError> {
        let Some(direct) = &mut self.direct else {
            return Ok(());
        };
        let deferred = std::mem::take(&mut direct.deferred);
        let c = self.client();
        c.batch_execute(PARCEL_STAGE)
            .await
            .map_err(pg("creating the stage table"))?;
        let writer =
            start_copy(c, STAGE_COPY, &PARCEL_TYPES, "starting COPY into the stage").await?;
        self.writer = writer;
        self.copy_ended = false;
        for r in &deferred {
            self.stage_parcel(r).await?;
        }
        self.end_copy().await
    }

    fn note_key(&mut self, key: &str) {
        if !self.seen.contains(key) {
            self.seen.insert(key.to_owned());
        } else if self.duplicates.len() < 10 {
            self.duplicates.push(key.to_owned());
        }
    }

    fn note_parcel(&mut self, code: &str) {
        match kovgis_core::codes::cadastral_key(code) {
            Some(key) => {
                if !self.seen_parcels.insert(key) && self.duplicates.len() < 10 {
                    self.duplicates.push(code.to_owned());
                }
            }
            // Not a code: the check constraint refuses it at merge; still caught if repeated.
            None => self.note_key(code),
        }
    }

    /// Stages a layer feature (layer imports only).
    pub async fn push_feature(&mut self, r: &FeatureRow) -> Result<(), StoreError> {
        debug_assert!(matches!(self.target, ImportTarget::Layer(_)));
        let row: [&(dyn ToSql + Sync); 6] = [
            &r.index,
            &r.external_id,
            &r.attributes,
            &r.wkb,
            &r.needs_repair,
            &r.row_hash,
        ];
        self.writer
            .as_mut()
            .write(&row)
            .await
            .map_err(pg("copying features into the stage"))?;
        self.staged += 1;
        self.flagged += r.needs_repair as u64;
        if let Some(id) = &r.external_id {
            self.note_key(id);
        }
        Ok(())
    }

    /// Abandons the import: nothing of it stays.
    pub async fn abort(mut self) -> Result<(), StoreError> {
        // End COPY and roll back on the connection itself, so that the import lock is free when
        // this returns (closing the connection also rolls back, but the server releases the
        // lock only when it notices, which a next import could beat).
        let copy_ended = self.end_copy().await.is_ok();
        let client = self.client.take().expect("import connection");
        rollback_or_close(client, copy_ended).await;
        Ok(())
    }

    /// For a source whose hash is known only now: when it equals the hash of the target's
    /// current version, rolls back and reports the content unchanged; otherwise records the hash
    /// and finishes.
    pub async fn finish_with_hash(mut self, sha256: &str) -> Result<ImportSummary, StoreError> {
        // COPY must end before the connection can run anything else.
        self.end_copy().await?;
        let c = self.client();
        let same: bool = c
            .query_one(
                "SELECT coalesce((SELECT file_sha256 = $3 FROM dataset_version
                                  WHERE target = $1 AND layer_id IS NOT DISTINCT FROM $2 AND id <> $4
                                  ORDER BY id DESC LIMIT 1), false)",
                &[
                    &match self.target {
                        ImportTarget::Parcels => "parcels",
                        ImportTarget::Layer(_) => "layer",
                    },
                    &self.layer_id,
                    &sha256,
                    &self.version,
                ],
            )
            .await
            .map_err(pg("comparing with the current version"))?
            .get(0);
        if same {
            let version: i64 = c
                .query_one(
                    "SELECT max(id) FROM dataset_version WHERE target = $1 AND layer_id IS NOT DISTINCT FROM $2 AND id <> $3",
                    &[
                        &match self.target {
                            ImportTarget::Parcels => "parcels",
                            ImportTarget::Layer(_) => "layer",
                        },
                        &self.layer_id,
                        &self.version,
                    ],
                )
                .await
                .map_err(pg("reading the current version"))?
                .get(0);
            let dry_run = self.options.dry_run;
            self.abort().await?;
            return Ok(ImportSummary {
                version: Some(version),
                unchanged_file: true,
                dry_run,
                ..Default::default()
            });
        }
        c.execute(
            "UPDATE dataset_version SET file_sha256 = $2 WHERE id = $1",
            &[&self.version, &sha256],
        )
        .await
        .map_err(pg("recording the content hash"))?;
        self.finish().await
    }

    async fn end_copy(&mut self) -> Result<(), StoreError> {
        if !self.copy_ended {
            self.writer
                .as_mut()
                .finish()
                .await
                .map_err(pg("finishing COPY into the stage"))?;
            self.copy_ended = true;
        }
        Ok(())
    }

    /// Merges the stage into the target and commits (or rolls back for a dry run).
    pub async fn finish(mut self) -> Result<ImportSummary, StoreError> {
        self.end_copy().await?;
        self.stage_deferred().await?;
        let result = self.merge().await;
        let client = self.client.take().expect("import connection");
        match result {
            Ok(mut summary) => {
                let end = if self.options.dry_run {
                    "ROLLBACK"
                } else {
                    "COMMIT"
                };
                client
                    .batch_execute(end)
                    .await
                    .map_err(pg("committing the import"))?;
                if self.options.dry_run {
                    summary.version = None;
                }
                Ok(summary)
            }
            Err(e) => {
                rollback_or_close(client, true).await;
                Err(e)
            }
        }
    }

    async fn merge(&self) -> Result<ImportSummary, StoreError> {
        let c = self.client();
        tracing::debug!(elapsed = ?self.started.elapsed(), "staged; merging");
        // The stage is not analysed (that costs as much as the merge on a first load): temporary
        // tables are sized from their pages, which is enough for the planner to hash-join them.
        let mut summary = ImportSummary {
            staged: self.staged + self.unchanged,
            dry_run: self.options.dry_run,
            version: Some(self.version),
            ..Default::default()
        };

        // Duplicate keys in one file are a data error, not something to guess about.
        let dups = &self.duplicates;
        if !dups.is_empty() {
            return Err(StoreError::Invalid(format!(
                "the source has the same key more than once: {}",
                dups.join(", ")
            )));
        }

        // Repairs: ST_MakeValid, keeping the parts of the original dimension.
        let repaired = if self.flagged == 0 {
            Vec::new()
        } else {
            c
            .query(
                "UPDATE import_stage s SET wkb = ST_AsBinary(r.g)
                 FROM (SELECT idx, ST_CollectionExtract(ST_MakeValid(ST_GeomFromWKB(wkb, 3301)),
                                                        ST_Dimension(ST_GeomFromWKB(wkb, 3301)) + 1) AS g
                       FROM import_stage WHERE needs_repair) r
                 WHERE s.idx = r.idx
                 RETURNING s.idx, ST_IsEmpty(r.g)",
                &[],
            )
            .await
            .map_err(pg("repairing geometries"))?
        };
        let mut empty = Vec::new();
        for r in &repaired {
            if r.get::<_, bool>(1) {
                empty.push(r.get::<_, i64>(0));
            }
        }
        summary.repaired = (repaired.len() - empty.len()) as u64;
        let mut dropped_codes: Vec<String> = Vec::new();
        if !empty.is_empty() {
            dropped_codes = c
                .query(
                    "DELETE FROM import_stage WHERE idx = ANY($1) RETURNING code",
                    &[&empty],
                )
                .await
                .map_err(pg("dropping unrepairable rows"))?
                .iter()
                .filter_map(|r| r.get(0))
                .collect();
            summary.dropped.extend(empty.into_iter().map(|i| {
                (
                    i,
                    "ST_MakeValid left no geometry of the original dimension".to_string(),
                )
            }));
        }

        tracing::debug!(elapsed = ?self.started.elapsed(), "checks and repairs done");
        match &self.target {
            ImportTarget::Parcels => self.merge_parcels(&mut summary, dropped_codes).await?,
            ImportTarget::Layer(spec) => self.merge_features(spec, &mut summary).await?,
        }

        summary.seconds = self.started.elapsed().as_secs_f64();
        c.execute(
            "UPDATE dataset_version SET rows_read = $2, rows_written = $3, rows_skipped = $4,
                    rows_closed = $5, rows_repaired = $6, rows_unchanged = $7, seconds = $8
             WHERE id = $1",
            &[
                &self.version,
                &(summary.staged as i32),
                &(summary.written as i32),
                &(summary.dropped.len() as i32),
                &(summary.closed as i32),
                &(summary.repaired as i32),
                &(summary.unchanged as i32),
                &summary.seconds,
            ],
        )
        .await
        .map_err(pg("recording the import counts"))?;
        let payload = serde_json::json!({
            "version": self.version,
            "target": match self.target { ImportTarget::Parcels => "parcels", ImportTarget::Layer(_) => "layer" },
            "layer_id": self.layer_id,
        })
        .to_string();
        c.execute(
            "SELECT pg_notify('kovgis_dataset_version', $1)",
            &[&payload],
        )
        .await
        .map_err(pg("announcing the new version"))?;
        Ok(summary)
    }

    /// `dropped`: codes of rows the repair step dropped.
    async fn merge_parcels(
        &self,
        summary: &mut ImportSummary,
        mut dropped: Vec<String>,
    ) -> Result<(), StoreError> {
        let c = self.client();
        // The register's municipality name decides; only rows without a known name are placed by
        // geometry (the municipality under an interior point, or the nearest within 2 km).
        c.batch_execute(
            "UPDATE import_stage s SET municipality_code = (
                 SELECT m.municipality_code FROM municipality m
                 WHERE ST_DWithin(m.boundary, ST_PointOnSurface(ST_GeomFromWKB(s.wkb, 3301)), 2000)
                 ORDER BY ST_Distance(m.boundary, ST_PointOnSurface(ST_GeomFromWKB(s.wkb, 3301))),
                          m.municipality_code
                 LIMIT 1)
             WHERE s.municipality_code IS NULL",
        )
        .await
        .map_err(pg("placing parcels in municipalities"))?;
        let homeless = c
            .query(
                "DELETE FROM import_stage WHERE municipality_code IS NULL RETURNING idx, code",
                &[],
            )
            .await
            .map_err(pg("dropping parcels outside every municipality"))?;
        dropped.extend(homeless.iter().map(|r| r.get::<_, String>(1)));
        summary.dropped.extend(homeless.iter().map(|r| {
            (
                r.get::<_, i64>(0),
                format!(
                    "parcel {} is in no known municipality (by name or within 2 km)",
                    r.get::<_, String>(1)
                ),
            )
        }));

        tracing::debug!(elapsed = ?self.started.elapsed(), "municipalities placed");
        if self.staged + self.unchanged == summary.dropped.len() as u64 {
            return Err(StoreError::Invalid(
                "no parcel of the source could be imported (see the reasons); refusing to replace the data with nothing".into(),
            ));
        }
        let mut closed: Vec<u64> = Vec::new();
        if self.direct.is_none() {
            // Close the current version of changed parcels and, in replace mode, of parcels the
            // source no longer has: both are known from the current parcels read at the start
            // (under the import lock, so they are still current), and closed by index.
            // A changed parcel whose new version was dropped keeps its old one in upsert mode;
            // in replace mode it is gone from the source like a vanished one.
            let dropped: foldhash::HashSet<&str> = dropped.iter().map(String::as_str).collect();
            let mut close: Vec<String> = self
                .changed
                .iter()
                .filter(|code| {
                    self.options.mode == ImportMode::Replace || !dropped.contains(code.as_str())
                })
                .cloned()
                .collect();
            if self.options.mode == ImportMode::Replace {
                let before = close.len();
                close.extend(
                    self.current
                        .keys()
                        .filter(|key| !self.seen_parcels.contains(*key))
                        .map(|key| kovgis_core::codes::cadastral_code_of_key(*key)),
                );
                summary.closed = (close.len() - before) as u64;
            }
            closed = c
                .query(
                    "UPDATE parcel SET valid_to = now()
                     WHERE valid_to IS NULL AND cadastral_code = ANY($1)
                     RETURNING cadastral_code",
                    &[&close],
                )
                .await
                .map_err(pg("closing changed and vanished parcels"))?
                .iter()
                .filter_map(|r| kovgis_core::codes::cadastral_key(r.get(0)))
                .collect();
            tracing::debug!(elapsed = ?self.started.elapsed(), "changed and vanished closed");
        }
        let inserted = c
            .query(
                "INSERT INTO parcel (cadastral_code, municipality_code, address,
                                     use1_code, use1_pct, use2_code, use2_pct, use3_code, use3_pct,
                                     registered_area_m2, attributes, geom, valid_from,
                                     dataset_version_id, row_hash, source_hash)
                 SELECT s.code, s.municipality_code, s.address,
                        s.use1_code, s.use1_pct, s.use2_code, s.use2_pct, s.use3_code, s.use3_pct,
                        s.registered_area_m2, s.attributes, ST_Multi(ST_GeomFromWKB(s.wkb, 3301)), now(),
                        $1, s.row_hash, s.source_hash
                 FROM import_stage s
                 -- a first load has no current rows to keep (and no index to look them up)
                 WHERE ($2 OR NOT EXISTS (SELECT 1 FROM parcel p
                                          WHERE p.cadastral_code = s.code AND p.valid_to IS NULL))
                 RETURNING cadastral_code, source_hash, row_hash",
                &[&self.version, &self.direct.is_some()],
            )
            .await
            .map_err(|e| match e.as_db_error().map(|d| d.code().code()) {
                Some("22023") | Some("XX000") => StoreError::Invalid(format!(
                    "a geometry could not be stored: {}",
                    crate::error::describe(&e)
                )),
                _ => StoreError::Postgres(e, "inserting parcels"),
            })?;
        summary.written = inserted.len() as u64;
        tracing::debug!(elapsed = ?self.started.elapsed(), "inserted");
        // The digest of the parcels current after this import, for the next one: a delta on
        // the chain it read, or a new full digest.
        let mut added = Vec::with_capacity(inserted.len() * 40);
        for row in &inserted {
            if let Some(key) = kovgis_core::codes::cadastral_key(row.get(0)) {
                digest_entry(&mut added, key, row.get(1), row.get(2));
            }
        }
        match (self.digest_chain, &self.direct) {
            (Some(chain), None) if chain < MAX_DIGEST_DELTAS => {
                let closed: Vec<u8> = closed.iter().flat_map(|k| k.to_le_bytes()).collect();
                c.execute(
                    "INSERT INTO parcel_digest (dataset_version_id, kind, closed, entries)
                     VALUES ($1, 'delta', $2, $3)",
                    &[&self.version, &closed, &added],
                )
                .await
                .map_err(pg("writing the parcel digest"))?;
            }
            _ => {
                let mut digest = match &self.direct {
                    Some(direct) => direct.digest.clone(),
                    None => {
                        let mut current = (*self.current).clone();
                        for key in &closed {
                            current.remove(key);
                        }
                        let mut digest = Vec::with_capacity((current.len() + inserted.len()) * 40);
                        for (key, c) in &current {
                            digest_entry(
                                &mut digest,
                                *key,
                                Some(&c.source_hash),
                                Some(&c.row_hash),
                            );
                        }
                        digest
                    }
                };
                digest.extend_from_slice(&added);
                c.execute("DELETE FROM parcel_digest", &[])
                    .await
                    .map_err(pg("replacing the parcel digest"))?;
                c.execute(
                    "INSERT INTO parcel_digest (dataset_version_id, kind, closed, entries)
                     VALUES ($1, 'full', '', $2)",
                    &[&self.version, &digest],
                )
                .await
                .map_err(pg("writing the parcel digest"))?;
            }
        }
        tracing::debug!(elapsed = ?self.started.elapsed(), "digest written");
        if let Some(direct) = &self.direct {
            summary.written += direct.written;
            c.batch_execute(PARCEL_INDEXES_CREATE).await.map_err(|e| {
                match e.as_db_error().map(|d| d.code().code()) {
                    Some("23505") => StoreError::Invalid(format!(
                        "the source has the same cadastral code more than once: {}",
                        crate::error::describe(&e)
                    )),
                    _ => StoreError::Postgres(e, "building the parcel indexes"),
                }
            })?;
            tracing::debug!(elapsed = ?self.started.elapsed(), "indexes built");
        }
        let remaining = self.staged - summary.dropped.len() as u64;
        summary.unchanged = remaining.saturating_sub(summary.written) + self.unchanged;
        Ok(())
    }

    async fn merge_features(
        &self,
        spec: &LayerSpec,
        summary: &mut ImportSummary,
    ) -> Result<(), StoreError> {
        let c = self.client();
        let layer_id = self.layer_id.expect("layer import has a layer");
        let keyed = spec.keyed;
        if keyed {
            let missing: i64 = c
                .query_one("SELECT count(*) FROM import_stage WHERE code IS NULL", &[])
                .await
                .map_err(pg("checking feature ids"))?
                .get(0);
            if missing > 0 {
                return Err(StoreError::Invalid(format!(
                    "{missing} feature(s) have no value in the id field"
                )));
            }
            c.execute(
                "UPDATE feature f SET valid_to = now()
                 FROM import_stage s
                 WHERE f.layer_id = $1 AND f.external_id = s.code AND f.valid_to IS NULL
                   AND f.row_hash IS DISTINCT FROM s.row_hash",
                &[&layer_id],
            )
            .await
            .map_err(pg("closing changed features"))?;
            if self.options.mode == ImportMode::Replace {
                summary.closed = c
                    .execute(
                        "UPDATE feature f SET valid_to = now()
                         WHERE f.layer_id = $1 AND f.valid_to IS NULL
                           AND NOT EXISTS (SELECT 1 FROM import_stage s WHERE s.code = f.external_id)",
                        &[&layer_id],
                    )
                    .await
                    .map_err(pg("closing vanished features"))?;
            }
        } else if self.options.mode == ImportMode::Replace {
            summary.closed = c
                .execute(
                    "UPDATE feature SET valid_to = now() WHERE layer_id = $1 AND valid_to IS NULL",
                    &[&layer_id],
                )
                .await
                .map_err(pg("closing the previous features"))?;
        }
        summary.written = c
            .execute(
                "INSERT INTO feature (layer_id, municipality_code, external_id, attributes, geom,
                                      valid_from, dataset_version_id, row_hash)
                 SELECT $1, (SELECT municipality_code FROM layer WHERE id = $1), s.code, s.attributes,
                        ST_GeomFromWKB(s.wkb, 3301), now(), $2, s.row_hash
                 FROM import_stage s
                 WHERE NOT $3 OR NOT EXISTS (SELECT 1 FROM feature f
                                             WHERE f.layer_id = $1 AND f.external_id = s.code
                                               AND f.valid_to IS NULL)",
                &[&layer_id, &self.version, &keyed],
            )
            .await
            .map_err(pg("inserting features"))?;
        let remaining = self.staged - summary.dropped.len() as u64;
        summary.unchanged = remaining.saturating_sub(summary.written);
        c.execute(
            "UPDATE layer SET current_version_id = $2 WHERE id = $1",
            &[&layer_id, &self.version],
        )
        .await
        .map_err(pg("switching the layer version"))?;
        Ok(())
    }
}

/// A `geometry` value in PostGIS's binary form (EWKB), for binary COPY.
#[derive(Debug)]
struct Ewkb(Vec<u8>);

impl ToSql for Ewkb {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&self.0);
        Ok(tokio_postgres::types::IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        ty.name() == "geometry"
    }

    tokio_postgres::types::to_sql_checked!();
}

/// A Polygon or MultiPolygon WKB (either byte order) as an EWKB MultiPolygon with `srid`:
/// what `ST_Multi(ST_GeomFromWKB(wkb, srid))` makes, without the round trip.
fn multipolygon_ewkb(wkb: &[u8], srid: u32) -> Result<Vec<u8>, StoreError> {
    const MULTIPOLYGON: u32 = 6;
    const POLYGON: u32 = 3;
    const HAS_SRID: u32 = 0x2000_0000;
    let bad = || StoreError::Invalid("a parcel geometry is not a polygon WKB".into());
    let (&order, rest) = wkb.split_first().ok_or_else(bad)?;
    let little = match order {
        1 => true,
        0 => false,
        _ => return Err(bad()),
    };
    let word = |v: u32| {
        if little {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    };
    let head: [u8; 4] = rest
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(bad)?;
    let kind = if little {
        u32::from_le_bytes(head)
    } else {
        u32::from_be_bytes(head)
    };
    let mut out = Vec::with_capacity(wkb.len() + 13);
    out.push(order);
    out.extend(word(MULTIPOLYGON | HAS_SRID));
    out.extend(word(srid));
    match kind {
        MULTIPOLYGON => out.extend_from_slice(&rest[4..]),
        POLYGON => {
            out.extend(word(1));
            out.extend_from_slice(wkb);
        }
        _ => return Err(bad()),
    }
    Ok(out)
}

fn hash_parts(parts: &[&[u8]]) -> Vec<u8> {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize()[..16].to_vec()
}

fn opt(s: &Option<String>) -> &[u8] {
    s.as_deref().map(str::as_bytes).unwrap_or(b"\xff")
}

impl ParcelRow {
    /// Content hash: everything stored except the feature index.
    pub fn content_hash(&self) -> Vec<u8> {
        let r = self;
        let uses = format!("{:?}", r.uses);
        let area = r
            .registered_area_m2
            .map(f64::to_bits)
            .unwrap_or(u64::MAX)
            .to_le_bytes();
        let attrs = r.attributes.to_string();
        hash_parts(&[
            r.cadastral_code.as_bytes(),
            opt(&r.municipality_name),
            opt(&r.address),
            uses.as_bytes(),
            &area,
            attrs.as_bytes(),
            &r.wkb,
            &[r.needs_repair as u8],
        ])
    }
}

impl FeatureRow {
    /// Content hash: everything stored except the feature index.
    pub fn content_hash(&self) -> Vec<u8> {
        let r = self;
        let attrs = r.attributes.to_string();
        hash_parts(&[
            opt(&r.external_id),
            attrs.as_bytes(),
            &r.wkb,
            &[r.needs_repair as u8],
        ])
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_see_every_stored_part() {
        let base = ParcelRow {
            cadastral_code: "78401:101:0238".into(),
            address: Some("Purje tn 13".into()),
            wkb: vec![1, 2, 3],
            attributes: serde_json::json!({"a": 1}),
            ..Default::default()
        };
        let h = base.content_hash();
        let mut other = base.clone();
        other.index = 99;
        assert_eq!(other.content_hash(), h, "the feature index is not content");
        for change in [
            |r: &mut ParcelRow| r.address = Some("Purje tn 14".into()),
            |r: &mut ParcelRow| r.wkb.push(4),
            |r: &mut ParcelRow| r.attributes = serde_json::json!({"a": 2}),
            |r: &mut ParcelRow| r.uses[1].1 = Some(10),
            |r: &mut ParcelRow| r.registered_area_m2 = Some(1.0),
        ] {
            let mut r = base.clone();
            change(&mut r);
            assert_ne!(r.content_hash(), h);
        }
    }
}

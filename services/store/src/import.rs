//! The bulk-import engine: stage with binary COPY, merge set-based, switch in one transaction.
//!
//! An [`Import`] holds one connection with an open transaction from [`Store::begin_import`] to
//! [`Import::finish`]:
//! 1. an advisory lock on the target (the parcels, or one layer) — a second import of the same
//!    target waits or is refused ([`StoreError::Busy`]);
//! 2. the new dataset version row, then rows streamed into a temporary stage table with binary
//!    `COPY`;
//! 3. at finish, set-based SQL: invalid geometries the caller flagged are repaired with
//!    `ST_MakeValid` (or dropped when that leaves nothing), then current rows whose content hash
//!    differs are closed (`valid_to`), rows with no current version inserted, and — in replace
//!    mode — current rows missing from the file closed; counts go into the version row;
//! 4. `COMMIT` (or `ROLLBACK` for a dry run).
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
    /// Hash of the source record as read, when the reader computes one.
    pub source_hash: Option<Vec<u8>>,
    /// The reader found the source record identical to the current parcel's (by
    /// `source_hash`): only the code is staged, so that replace mode knows it is still there.
    pub unchanged_source: bool,
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
    /// Rows staged from the source.
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
    table_was_empty: bool,
    copy_ended: bool,
    /// Municipality names (lower case) → EHAK codes, to place parcels without a join.
    municipalities: std::collections::HashMap<String, String>,
    /// A pooled connection for reads beside the COPY.
    reader: Object,
    /// Keys staged so far, to catch a key given twice while streaming (cheaper than a
    /// GROUP BY over the stage afterwards).
    seen: std::collections::HashSet<String>,
    duplicates: Vec<String>,
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
    municipality_code char(4), source_hash bytea, unchanged_source bool
) ON COMMIT DROP";

const PARCEL_TYPES: [Type; 18] = [
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
    Type::BOOL,
];

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
        // The newest version of this target: same content means nothing to do.
        let last = c
            .query_opt(
                "SELECT id, file_sha256 FROM dataset_version
                 WHERE target = $1 AND layer_id IS NOT DISTINCT FROM $2
                 ORDER BY id DESC LIMIT 1",
                &[&target_name, &layer_id],
            )
            .await
            .map_err(pg("reading the current dataset version"))?;
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

        let table_was_empty = match target {
            ImportTarget::Parcels => c
                .query_one("SELECT NOT EXISTS (SELECT 1 FROM parcel)", &[])
                .await
                .map_err(pg("checking the parcel table"))?
                .get(0),
            ImportTarget::Layer(_) => false,
        };
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
        let (ddl, copy, types): (&str, &str, &[Type]) = match target {
            ImportTarget::Parcels => (
                PARCEL_STAGE,
                "COPY import_stage FROM STDIN (FORMAT binary)",
                &PARCEL_TYPES,
            ),
            ImportTarget::Layer(_) => (
                FEATURE_STAGE,
                "COPY import_stage FROM STDIN (FORMAT binary)",
                &FEATURE_TYPES,
            ),
        };
        c.batch_execute(ddl)
            .await
            .map_err(pg("creating the stage table"))?;
        let sink = c
            .copy_in(copy)
            .await
            .map_err(pg("starting COPY into the stage"))?;
        let writer = Box::pin(BinaryCopyInWriter::new(sink, types));
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
            table_was_empty,
            copy_ended: false,
            municipalities,
            reader: self.pool.get().await?,
            seen: Default::default(),
            duplicates: Vec::new(),
        })))
    }
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

    /// Source hashes of the current parcels (cadastral code → hash), for a reader to skip
    /// records that have not changed. Empty for layer imports and an empty cadastre.
    pub async fn current_source_hashes(
        &self,
    ) -> Result<std::collections::HashMap<String, Vec<u8>>, StoreError> {
        if !matches!(self.target, ImportTarget::Parcels) || self.table_was_empty {
            return Ok(Default::default());
        }
        // A second connection: this one is busy with COPY. The rows are committed data, and the
        // import lock keeps other imports from changing them meanwhile.
        let rows = self
            .reader
            .query(
                "SELECT cadastral_code, source_hash FROM parcel
                 WHERE valid_to IS NULL AND source_hash IS NOT NULL",
                &[],
            )
            .await
            .map_err(pg("reading current source hashes"))?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Rows staged so far.
    pub fn staged(&self) -> u64 {
        self.staged
    }

    /// Stages a parcel (parcel imports only).
    pub async fn push_parcel(&mut self, r: &ParcelRow) -> Result<(), StoreError> {
        debug_assert!(matches!(self.target, ImportTarget::Parcels));
        let [(u1, p1), (u2, p2), (u3, p3)] = &r.uses;
        let municipality = r
            .municipality_name
            .as_ref()
            .and_then(|n| self.municipalities.get(&n.to_lowercase()));
        let row: [&(dyn ToSql + Sync); 18] = [
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
            &r.unchanged_source,
        ];
        self.writer
            .as_mut()
            .write(&row)
            .await
            .map_err(pg("copying parcels into the stage"))?;
        self.staged += 1;
        self.flagged += r.needs_repair as u64;
        self.note_key(&r.cadastral_code);
        Ok(())
    }

    fn note_key(&mut self, key: &str) {
        if !self.seen.insert(key.to_owned()) && self.duplicates.len() < 10 {
            self.duplicates.push(key.to_owned());
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
            staged: self.staged,
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
        if !empty.is_empty() {
            c.execute("DELETE FROM import_stage WHERE idx = ANY($1)", &[&empty])
                .await
                .map_err(pg("dropping unrepairable rows"))?;
            summary.dropped.extend(empty.into_iter().map(|i| {
                (
                    i,
                    "ST_MakeValid left no geometry of the original dimension".to_string(),
                )
            }));
        }

        tracing::debug!(elapsed = ?self.started.elapsed(), "checks and repairs done");
        match &self.target {
            ImportTarget::Parcels => self.merge_parcels(&mut summary).await?,
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

    async fn merge_parcels(&self, summary: &mut ImportSummary) -> Result<(), StoreError> {
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
             WHERE s.municipality_code IS NULL AND NOT s.unchanged_source",
        )
        .await
        .map_err(pg("placing parcels in municipalities"))?;
        let homeless = c
            .query(
                "DELETE FROM import_stage WHERE municipality_code IS NULL AND NOT unchanged_source
                 RETURNING idx, code",
                &[],
            )
            .await
            .map_err(pg("dropping parcels outside every municipality"))?;
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
        if self.staged == summary.dropped.len() as u64 {
            return Err(StoreError::Invalid(
                "no parcel of the source could be imported (see the reasons); refusing to replace the data with nothing".into(),
            ));
        }
        // Changed rows: close the current version.
        let changed = c
            .execute(
                "UPDATE parcel p SET valid_to = now()
                 FROM import_stage s
                 WHERE p.cadastral_code = s.code AND p.valid_to IS NULL
                   AND NOT s.unchanged_source AND p.row_hash IS DISTINCT FROM s.row_hash",
                &[],
            )
            .await
            .map_err(pg("closing changed parcels"))?;
        // Vanished rows (replace mode): close.
        if self.options.mode == ImportMode::Replace {
            summary.closed = c
                .execute(
                    "UPDATE parcel p SET valid_to = now()
                     WHERE p.valid_to IS NULL
                       AND NOT EXISTS (SELECT 1 FROM import_stage s WHERE s.code = p.cadastral_code)",
                    &[],
                )
                .await
                .map_err(pg("closing vanished parcels"))?;
        }
        tracing::debug!(elapsed = ?self.started.elapsed(), "changed and vanished closed");
        // A first load builds the indexes once at the end instead of row by row.
        let rebuild = self.table_was_empty && self.staged > 10_000;
        if rebuild {
            c.batch_execute(
                "DROP INDEX parcel_geom_gist; DROP INDEX parcel_code_history; DROP INDEX parcel_municipality;
                 DROP INDEX parcel_current_code;",
            )
            .await
            .map_err(pg("dropping indexes for the first load"))?;
        }
        summary.written = c
            .execute(
                "INSERT INTO parcel (cadastral_code, municipality_code, address,
                                     use1_code, use1_pct, use2_code, use2_pct, use3_code, use3_pct,
                                     registered_area_m2, attributes, geom, valid_from,
                                     dataset_version_id, row_hash, source_hash)
                 SELECT s.code, s.municipality_code, s.address,
                        s.use1_code, s.use1_pct, s.use2_code, s.use2_pct, s.use3_code, s.use3_pct,
                        s.registered_area_m2, s.attributes, ST_Multi(ST_GeomFromWKB(s.wkb, 3301)), now(),
                        $1, s.row_hash, s.source_hash
                 FROM import_stage s
                 WHERE NOT s.unchanged_source
                   AND NOT EXISTS (SELECT 1 FROM parcel p
                                   WHERE p.cadastral_code = s.code AND p.valid_to IS NULL)",
                &[&self.version],
            )
            .await
            .map_err(|e| match e.as_db_error().map(|d| d.code().code()) {
                Some("22023") | Some("XX000") => StoreError::Invalid(format!(
                    "a geometry could not be stored: {}",
                    crate::error::describe(&e)
                )),
                _ => StoreError::Postgres(e, "inserting parcels"),
            })?;
        tracing::debug!(elapsed = ?self.started.elapsed(), "inserted");
        if rebuild {
            c.batch_execute(
                "CREATE UNIQUE INDEX parcel_current_code ON parcel (cadastral_code) WHERE valid_to IS NULL;
                 CREATE INDEX parcel_geom_gist ON parcel USING gist (geom);
                 CREATE INDEX parcel_code_history ON parcel (cadastral_code, valid_from);
                 CREATE INDEX parcel_municipality ON parcel (municipality_code) WHERE valid_to IS NULL;
                 ANALYZE parcel;",
            )
            .await
            .map_err(|e| match e.as_db_error().map(|d| d.code().code()) {
                Some("23505") => StoreError::Invalid(format!(
                    "the source has the same cadastral code more than once: {}",
                    crate::error::describe(&e)
                )),
                _ => StoreError::Postgres(e, "building the parcel indexes"),
            })?;
        }
        let remaining = self.staged - summary.dropped.len() as u64;
        summary.unchanged = remaining.saturating_sub(summary.written);
        debug_assert!(changed <= summary.written);
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

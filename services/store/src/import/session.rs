//! Locking and dataset versions: how an import begins (transaction, advisory lock on the target,
//! the dataset version row, the current parcels, the COPY stream) and ends (commit, rollback,
//! or "unchanged" when the import's fingerprint — content and every setting that changes the
//! result, see [`super::fingerprint`] — is the current version's). Not the merge itself.

use std::time::Instant;

use deadpool_postgres::Object;

use super::columns::{
    parcel_direct_copy, parcel_direct_types, parcel_stage_copy, parcel_stage_ddl,
    parcel_stage_types,
};
use super::copy::{load_current, start_copy};
use super::digest::load_digest;
use super::features::{FEATURE_STAGE, FEATURE_STAGE_COPY, FEATURE_TYPES};
use super::fingerprint::fingerprint;
use super::first_load::Direct;
use super::options::{ImportOptions, ImportStart, ImportSummary};
use super::target::{ImportTarget, upsert_layer};
use super::{Import, pg};
use crate::audit::{AuditAction, AuditEvent, client_of, insert_event};
use crate::{Caller, Store, StoreError};

/// Stands in for the content hash of a stream until its end.
const PENDING_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl Store {
    /// Opens an import of `target` from a source, as `caller` (its subject is the dataset
    /// version's author; the import's audit event is written in the import's transaction) (`source` names it, `sha256` is its content
    /// hash). Returns [`ImportStart::Unchanged`] when the current version of the target was made
    /// from the same content with the same settings (the same fingerprint). A stream whose hash
    /// is only known at its end passes `None` and finishes with [`Import::finish_with_hash`].
    pub async fn begin_import(
        &self,
        caller: &Caller,
        target: ImportTarget,
        source: &str,
        sha256: Option<&str>,
        options: ImportOptions,
    ) -> Result<ImportStart, StoreError> {
        let sha256 = sha256.map(str::to_owned);
        self.begin_import_hashing(caller, target, source, async { Ok(sha256) }, options)
            .await
    }

    /// [`Store::begin_import`] with the content hash still being computed: the import starts
    /// (lock, current parcels) meanwhile, and is rolled back as unchanged if the hash turns out
    /// to be the current version's.
    pub async fn begin_import_hashing(
        &self,
        caller: &Caller,
        target: ImportTarget,
        source: &str,
        sha256: impl std::future::Future<Output = Result<Option<String>, StoreError>>,
        options: ImportOptions,
    ) -> Result<ImportStart, StoreError> {
        let client = self.pool.get().await?;
        // The caller's settings with BEGIN, in one round trip: row-level security decides what
        // this import may read and write, and the dataset version records the caller as author.
        client
            .batch_execute(&caller.begin_sql("BEGIN ISOLATION LEVEL READ COMMITTED"))
            .await
            .map_err(pg("starting the import transaction"))?;
        // From here the transaction is open: on any error the connection must not go back to the
        // pool as it is, so it is wrapped at once.
        let mut guard = ConnGuard(Some(client));
        let c = guard.0.as_ref().expect("connection");

        lock(c, &target, options.wait_for_lock).await?;

        let (layer_id, layer_authority) = match &target {
            ImportTarget::Parcels => (None, None),
            ImportTarget::Layer(spec) => {
                let (id, authority) = upsert_layer(c, spec).await?;
                (Some(id), authority)
            }
        };
        let target_name = target.version_target();
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
                    "SELECT id, fingerprint FROM dataset_version
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
        let print = sha256.map(|sha| fingerprint(sha, &target, &options));
        if let Some(row) = last
            && let Some(print) = &print
            && row.get::<_, Option<&str>>(1) == Some(print.as_str())
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

        let version = record_version(
            c,
            target_name,
            layer_id,
            source,
            sha256,
            print.as_deref(),
            &options,
        )
        .await?;
        audit_version(c, version, target_name, layer_id, source).await?;

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
            Some(Direct::start(c).await?)
        } else {
            None
        };
        let writer = match (&target, &direct) {
            (ImportTarget::Parcels, Some(d)) => {
                start_copy(
                    c,
                    &parcel_direct_copy(),
                    &parcel_direct_types(d.geometry.clone()),
                    "starting COPY into parcel",
                )
                .await?
            }
            (ImportTarget::Parcels, None) => {
                c.batch_execute(&parcel_stage_ddl())
                    .await
                    .map_err(pg("creating the stage table"))?;
                start_copy(
                    c,
                    &parcel_stage_copy(),
                    &parcel_stage_types(),
                    "starting COPY into the stage",
                )
                .await?
            }
            (ImportTarget::Layer(_), _) => {
                c.batch_execute(FEATURE_STAGE)
                    .await
                    .map_err(pg("creating the stage table"))?;
                start_copy(
                    c,
                    FEATURE_STAGE_COPY,
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
            layer_authority,
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

/// Takes the advisory lock of `target` for this transaction: waits for a concurrent import of
/// the same target, or refuses with [`StoreError::Busy`].
async fn lock(c: &Object, target: &ImportTarget, wait: bool) -> Result<(), StoreError> {
    let key = target.key();
    let locked: bool = if wait {
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
    Ok(())
}

/// Records the dataset version this import writes; its counts are filled in at merge, and for
/// a stream its content hash and fingerprint at the end.
async fn record_version(
    c: &Object,
    target_name: &str,
    layer_id: Option<i64>,
    source: &str,
    sha256: Option<&str>,
    fingerprint: Option<&str>,
    options: &ImportOptions,
) -> Result<i64, StoreError> {
    Ok(c
        .query_one(
            "INSERT INTO dataset_version (target, layer_id, municipality_code, source, file_sha256, mode, fingerprint)
             VALUES ($1, $2, (SELECT municipality_code FROM layer WHERE id = $2), $3, $4, $5, $6)
             RETURNING id",
            &[
                &target_name,
                &layer_id,
                &source,
                &sha256.unwrap_or(PENDING_HASH),
                &options.mode.as_str(),
                &fingerprint,
            ],
        )
        .await
        .map_err(pg("recording the dataset version"))?
        .get(0))
}

/// The audit event of a new dataset version, in the import's transaction (it commits or rolls
/// back with the import).
async fn audit_version(
    c: &Object,
    version: i64,
    target_name: &str,
    layer_id: Option<i64>,
    source: &str,
) -> Result<(), StoreError> {
    let municipality: Option<String> = c
        .query_one(
            "SELECT municipality_code::text FROM dataset_version WHERE id = $1",
            &[&version],
        )
        .await
        .map_err(pg("reading the new dataset version"))?
        .get(0);
    insert_event(
        client_of(c),
        &AuditEvent {
            municipality_code: municipality,
            rpc: "import".into(),
            action: AuditAction::Create,
            entity_kind: "dataset_version".into(),
            entity_id: version.to_string(),
            person_code: None,
            purpose: None,
            details: serde_json::json!({
                "target": target_name,
                "layer_id": layer_id,
                "source": source,
            }),
        },
    )
    .await
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

impl Import {
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

    /// For a source whose hash is known only now: when the import's fingerprint equals the
    /// target's current version's, rolls back and reports it unchanged; otherwise records the
    /// hash and the fingerprint and finishes.
    pub async fn finish_with_hash(mut self, sha256: &str) -> Result<ImportSummary, StoreError> {
        // COPY must end before the connection can run anything else.
        self.end_copy().await?;
        let print = fingerprint(sha256, &self.target, &self.options);
        let c = self.client();
        let same: bool = c
            .query_one(
                "SELECT coalesce((SELECT fingerprint = $3 FROM dataset_version
                                  WHERE target = $1 AND layer_id IS NOT DISTINCT FROM $2 AND id <> $4
                                  ORDER BY id DESC LIMIT 1), false)",
                &[
                    &self.target.version_target(),
                    &self.layer_id,
                    &print,
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
                        &self.target.version_target(),
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
            "UPDATE dataset_version SET file_sha256 = $2, fingerprint = $3 WHERE id = $1",
            &[&self.version, &sha256, &print],
        )
        .await
        .map_err(pg("recording the content hash"))?;
        self.finish().await
    }

    pub(super) async fn end_copy(&mut self) -> Result<(), StoreError> {
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
}

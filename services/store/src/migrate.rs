//! Forward-only migrations from `migrations/NNNN_*.sql`, embedded in the binary.
//!
//! Each migration runs in its own transaction and is recorded in `schema_migration`. A
//! transaction-level advisory lock serialises concurrent `migrate` calls (two instances starting
//! at once), so each migration is applied exactly once.

use crate::{Store, StoreError};

/// The migrations, in order. Names are the file names; never rename or edit an applied one.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_foundation",
        include_str!("../../../migrations/0001_foundation.sql"),
    ),
    (
        "0002_import_versioning",
        include_str!("../../../migrations/0002_import_versioning.sql"),
    ),
    (
        "0003_bulk_tables_without_row_triggers",
        include_str!("../../../migrations/0003_bulk_tables_without_row_triggers.sql"),
    ),
    (
        "0004_source_hash",
        include_str!("../../../migrations/0004_source_hash.sql"),
    ),
    (
        "0005_parcel_digest",
        include_str!("../../../migrations/0005_parcel_digest.sql"),
    ),
    (
        "0006_validation_rules",
        include_str!("../../../migrations/0006_validation_rules.sql"),
    ),
    (
        "0007_import_fingerprint",
        include_str!("../../../migrations/0007_import_fingerprint.sql"),
    ),
    (
        "0008_roles_rls_audit",
        include_str!("../../../migrations/0008_roles_rls_audit.sql"),
    ),
    (
        "0010_workflows",
        include_str!("../../../migrations/0010_workflows.sql"),
    ),
    (
        "0011_statutory_clocks",
        include_str!("../../../migrations/0011_statutory_clocks.sql"),
    ),
    (
        "0012_procedures",
        include_str!("../../../migrations/0012_procedures.sql"),
    ),
    (
        "0013_procedure_watch_recheck",
        include_str!("../../../migrations/0013_procedure_watch_recheck.sql"),
    ),
    (
        "0014_procedure_conflicts",
        include_str!("../../../migrations/0014_procedure_conflicts.sql"),
    ),
    (
        "0015_procedure_area_index",
        include_str!("../../../migrations/0015_procedure_area_index.sql"),
    ),
    (
        "0016_procedure_fillfactor",
        include_str!("../../../migrations/0016_procedure_fillfactor.sql"),
    ),
];

impl Store {
    /// The migrations this binary knows that the database has not applied (read-only: what
    /// `kovgis serve` checks before serving). An unknown applied migration is an error.
    pub async fn pending_migrations(&self) -> Result<Vec<&'static str>, StoreError> {
        let client = self.pool.get().await?;
        let done: Vec<String> = match client.query("SELECT name FROM schema_migration", &[]).await {
            Ok(rows) => rows.iter().map(|r| r.get(0)).collect(),
            // No schema_migration table: nothing applied yet.
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => {
                Vec::new()
            }
            Err(e) => return Err(StoreError::Postgres(e, "reading schema_migration")),
        };
        if let Some(unknown) = done
            .iter()
            .find(|d| !MIGRATIONS.iter().any(|(n, _)| n == d))
        {
            return Err(StoreError::UnknownMigration(unknown.clone()));
        }
        Ok(MIGRATIONS
            .iter()
            .map(|(n, _)| *n)
            .filter(|n| !done.iter().any(|d| d == n))
            .collect())
    }
}

impl Store {
    /// Whether PostGIS's bounding-box operator `&&` is marked leakproof (a superuser's step when
    /// installing, README: Database roles…): without it, row-level security keeps every spatial
    /// query of the service role from its GiST index.
    pub async fn bbox_operator_leakproof(&self) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        let row = client
            .query_one(
                "SELECT proleakproof FROM pg_proc
                 WHERE oid = 'geometry_overlaps(geometry, geometry)'::regprocedure",
                &[],
            )
            .await
            .map_err(StoreError::pg("reading whether && is leakproof"))?;
        Ok(row.get(0))
    }
}

/// An arbitrary constant: the advisory-lock key of kovgis migrations.
const LOCK_KEY: i64 = 0x6b6f_7667_6973;

impl Store {
    /// Applies every migration not applied yet; returns the names applied now.
    pub async fn migrate(&self) -> Result<Vec<&'static str>, StoreError> {
        let mut client = self.pool.get().await?;
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_migration (
                     name text PRIMARY KEY,
                     applied_at timestamptz NOT NULL DEFAULT now())",
            )
            .await
            .map_err(StoreError::pg("creating schema_migration"))?;
        let mut applied = Vec::new();
        let tx = client
            .transaction()
            .await
            .map_err(StoreError::pg("starting the migration transaction"))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
            .await
            .map_err(StoreError::pg("taking the migration lock"))?;
        tx.batch_execute(
            "SELECT set_config('kovgis.subject', 'system:migrate', true),
                    set_config('kovgis.reach', 'all', true)",
        )
        .await
        .map_err(StoreError::pg("setting the migration's caller"))?;
        let done: Vec<String> = tx
            .query("SELECT name FROM schema_migration ORDER BY name", &[])
            .await
            .map_err(StoreError::pg("reading schema_migration"))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if let Some(unknown) = done
            .iter()
            .find(|d| !MIGRATIONS.iter().any(|(n, _)| n == d))
        {
            return Err(StoreError::UnknownMigration(unknown.clone()));
        }
        for (name, sql) in MIGRATIONS {
            if done.iter().any(|d| d == name) {
                continue;
            }
            tx.batch_execute(sql)
                .await
                .map_err(|source| StoreError::Migration { name, source })?;
            tx.execute("INSERT INTO schema_migration (name) VALUES ($1)", &[name])
                .await
                .map_err(|source| StoreError::Migration { name, source })?;
            tracing::info!(migration = name, "applied");
            applied.push(*name);
        }
        tx.commit()
            .await
            .map_err(StoreError::pg("committing migrations"))?;
        Ok(applied)
    }
}

//! The first load of an empty cadastre: rows copied without a stage round trip (into a
//! temporary table of `parcel`'s columns, moved by one INSERT: PostgreSQL refuses COPY FROM into
//! a table under row-level security) into `parcel` with its indexes
//! dropped, and the indexes built once at the end. Rows that need SQL first (repair, placement by
//! geometry) are held aside in memory up to a bound ([`ImportOptions::first_load_aside_bytes`]);
//! past it the load sends them, and every row after them, through the stage table, so that a
//! file whose municipality names are all unknown cannot exhaust memory. Not the merge of later
//! imports.
//!
//! [`ImportOptions::first_load_aside_bytes`]: super::ImportOptions::first_load_aside_bytes

use deadpool_postgres::Object;
use tokio_postgres::types::Type;

use super::columns::{
    parcel_first_load_ddl, parcel_insert_first_load, parcel_stage_copy, parcel_stage_ddl,
    parcel_stage_types,
};
use super::copy::start_copy;
use super::rows::ParcelRow;
use super::{Import, pg};
use crate::StoreError;

/// A first load of the cadastre (the table is empty): rows are copied straight into `parcel`
/// with its indexes dropped — no stage round trip, one index build at the end. Rows that need
/// SQL (repair, placement by geometry) are kept aside and go through the stage at finish.
pub(super) struct Direct {
    /// PostGIS `geometry`, whose OID differs per database.
    pub(super) geometry: Type,
    /// The transaction's `now()`, the rows' `valid_from`.
    pub(super) valid_from: std::time::SystemTime,
    pub(super) written: u64,
    pub(super) deferred: Vec<ParcelRow>,
    /// What `deferred` holds, in bytes (see [`aside_size`]).
    pub(super) aside_bytes: usize,
    /// The rows held aside outgrew the bound: the direct COPY has ended and every row goes
    /// through the stage.
    pub(super) spilled: bool,
    /// [`super::digest::digest_entry`]s of the rows written.
    pub(super) digest: Vec<u8>,
}

impl Direct {
    /// Starts a first load: drops the parcel indexes (the table is empty and locked for this
    /// import; readers wait for the commit) and notes what the rows need. The indexes are the
    /// owner's: `kovgis_parcel_indexes_drop()` (migration 0008) drops them for the service role
    /// and keeps their definitions, read from the catalogue, for the rebuild.
    pub(super) async fn start(c: &Object) -> Result<Direct, StoreError> {
        c.batch_execute(&format!(
            "SELECT kovgis_parcel_indexes_drop(); {}",
            parcel_first_load_ddl()
        ))
        .await
        .map_err(pg("dropping indexes for the first load"))?;
        let row = c
            .query_one("SELECT now(), 'geometry'::regtype::oid", &[])
            .await
            .map_err(pg("preparing the first load"))?;
        Ok(Direct {
            geometry: Type::new(
                "geometry".into(),
                row.get(1),
                tokio_postgres::types::Kind::Simple,
                "public".into(),
            ),
            valid_from: row.get(0),
            written: 0,
            deferred: Vec::new(),
            aside_bytes: 0,
            spilled: false,
            digest: Vec::new(),
        })
    }

    /// Builds the indexes [`Direct::start`] dropped, once (unique ones first, so that a
    /// duplicate code fails the first build), and analyses the table.
    pub(super) async fn rebuild_indexes(&self, c: &Object) -> Result<(), StoreError> {
        c.batch_execute(&format!(
            "{}; SELECT kovgis_parcel_indexes_restore()",
            parcel_insert_first_load()
        ))
        .await
        .map_err(|e| match e.as_db_error().map(|d| d.code().code()) {
            Some("23505") => StoreError::Invalid(format!(
                "the source has the same cadastral code more than once: {}",
                crate::error::describe(&e)
            )),
            _ => StoreError::Postgres(e, "building the parcel indexes"),
        })
    }
}

/// What a row held aside costs in memory, roughly: the row and what it points to.
pub(super) fn aside_size(r: &ParcelRow) -> usize {
    let text = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    std::mem::size_of::<ParcelRow>()
        + r.cadastral_code.len()
        + text(&r.municipality_name)
        + text(&r.address)
        + r.uses.iter().map(|(u, _)| text(u)).sum::<usize>()
        + r.attributes.to_string().len()
        + r.wkb.len()
        + r.row_hash.len()
        + r.source_hash.as_ref().map_or(0, Vec::len)
}

impl Import {
    /// Rows a first load holds aside in memory now, and their [`aside_size`] in bytes.
    pub fn held_aside(&self) -> (usize, usize) {
        self.direct
            .as_ref()
            .map_or((0, 0), |d| (d.deferred.len(), d.aside_bytes))
    }

    /// Holds a first-load row aside; past the bound, sends the rows held aside through the stage
    /// and every later row with them.
    pub(super) async fn hold_aside(&mut self, r: &ParcelRow) -> Result<(), StoreError> {
        let direct = self.direct.as_mut().expect("a first load");
        direct.aside_bytes += aside_size(r);
        direct.deferred.push(r.clone());
        if direct.aside_bytes > self.options.first_load_aside_bytes {
            tracing::debug!(
                rows = direct.deferred.len(),
                bytes = direct.aside_bytes,
                "rows held aside outgrew the bound; the rest of the first load goes through the stage"
            );
            // The direct COPY must end before the stage's can start on this connection.
            self.end_copy().await?;
            self.open_stage_with_deferred().await?;
            if let Some(d) = &mut self.direct {
                d.spilled = true;
            }
        }
        Ok(())
    }

    /// First load: after the direct COPY, the rows kept aside go through the stage.
    pub(super) async fn stage_deferred(&mut self) -> Result<(), StoreError> {
        match &self.direct {
            None => return Ok(()),
            // Already in the stage, whose COPY has ended.
            Some(d) if d.spilled => return Ok(()),
            Some(_) => {}
        }
        self.open_stage_with_deferred().await?;
        self.end_copy().await
    }

    /// Creates the stage, starts COPY into it and writes the rows held aside; the COPY stays
    /// open for more.
    async fn open_stage_with_deferred(&mut self) -> Result<(), StoreError> {
        let Some(direct) = &mut self.direct else {
            return Ok(());
        };
        let deferred = std::mem::take(&mut direct.deferred);
        direct.aside_bytes = 0;
        let c = self.client();
        c.batch_execute(&parcel_stage_ddl())
            .await
            .map_err(pg("creating the stage table"))?;
        let writer = start_copy(
            c,
            &parcel_stage_copy(),
            &parcel_stage_types(),
            "starting COPY into the stage",
        )
        .await?;
        self.writer = writer;
        self.copy_ended = false;
        for r in &deferred {
            self.stage_parcel(r).await?;
        }
        Ok(())
    }
}

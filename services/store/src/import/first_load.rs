//! The first load of an empty cadastre: rows copied straight into `parcel` with its indexes
//! dropped, and the indexes built once at the end. Not the merge of later imports.

use tokio_postgres::types::Type;

use super::copy::{STAGE_COPY, start_copy};
use super::parcels::{PARCEL_STAGE, PARCEL_TYPES};
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
    /// [`digest_entry`]s of the rows written.
    pub(super) digest: Vec<u8>,
}

/// Columns of a direct first load, in [`Import::push_parcel`]'s order.
pub(super) const PARCEL_DIRECT_COPY: &str =
    "COPY parcel (cadastral_code, municipality_code, address,
    use1_code, use1_pct, use2_code, use2_pct, use3_code, use3_pct, registered_area_m2, attributes,
    geom, valid_from, dataset_version_id, row_hash, source_hash) FROM STDIN (FORMAT binary)";

pub(super) const PARCEL_INDEXES_DROP: &str =
    "DROP INDEX parcel_geom_gist; DROP INDEX parcel_code_history;
    DROP INDEX parcel_municipality; DROP INDEX parcel_current_code;";

/// As in the migrations; built once at the end of a first load.
pub(super) const PARCEL_INDEXES_CREATE: &str = "
    CREATE UNIQUE INDEX parcel_current_code ON parcel (cadastral_code) WHERE valid_to IS NULL;
    CREATE INDEX parcel_geom_gist ON parcel USING gist (geom);
    CREATE INDEX parcel_code_history ON parcel (cadastral_code, valid_from);
    CREATE INDEX parcel_municipality ON parcel (municipality_code) WHERE valid_to IS NULL;
    ANALYZE parcel;";

impl Import {
    /// First load: after the direct COPY, the rows kept aside go through the stage.
    pub(super) async fn stage_deferred(&mut self) -> Result<(), StoreError> {
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
}

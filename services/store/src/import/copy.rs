//! Binary COPY in and out: the writer every staged or directly loaded row goes through, and the
//! read of the current parcels from the table. Both through tokio-postgres's `binary_copy`.
//! Not what the rows mean.

use std::pin::Pin;

use deadpool_postgres::Object;
use futures_util::TryStreamExt;
use tokio_postgres::binary_copy::{BinaryCopyInWriter, BinaryCopyOutStream};
use tokio_postgres::types::Type;

use super::digest::{CurrentParcel, CurrentParcels};
use super::pg;
use crate::StoreError;

/// Opens `COPY … FROM STDIN (FORMAT binary)` with the column types of `copy`, in its order.
pub(super) async fn start_copy(
    c: &Object,
    copy: &str,
    types: &[Type],
    context: &'static str,
) -> Result<Pin<Box<BinaryCopyInWriter>>, StoreError> {
    let sink = c.copy_in(copy).await.map_err(pg(context))?;
    Ok(Box::pin(BinaryCopyInWriter::new(sink, types)))
}

/// Reads the current parcels from the table with binary `COPY … TO STDOUT`: the fallback when
/// the digest chain does not reach the newest cadastre version (see [`super::digest`]).
///
/// Parsed by tokio-postgres's [`BinaryCopyOutStream`]. Until issue 9 a hand-written parser of
/// the COPY tuples stood here; measured on 775 365 current parcels (a generated cadastre of the
/// national size, `kovgis_store` release build, PostgreSQL 15 on the same 2-core machine under
/// load, median of 11 alternating runs of the whole read including the map inserts): hand-written
/// 1.27 s wall / 0.59 s process CPU, `BinaryCopyOutStream` 1.45 s / 0.69 s. About 0.1 s of CPU
/// on a path that runs only when the digest is missing is not worth a parser of our own.
pub(super) async fn load_current(c: &Object) -> Result<CurrentParcels, StoreError> {
    let stream = c
        .copy_out(
            "COPY (SELECT cadastral_code, source_hash, row_hash FROM parcel WHERE valid_to IS NULL)
             TO STDOUT (FORMAT binary)",
        )
        .await
        .map_err(pg("reading the current parcels"))?;
    let rows = BinaryCopyOutStream::new(stream, &[Type::TEXT, Type::BYTEA, Type::BYTEA]);
    let mut rows = std::pin::pin!(rows);
    let mut current = CurrentParcels::default();
    while let Some(row) = rows
        .try_next()
        .await
        .map_err(pg("reading the current parcels"))?
    {
        let Some(key) = kovgis_core::codes::cadastral_key(row.get(0)) else {
            continue;
        };
        let hash = |h: Option<&[u8]>| h.and_then(|h| h.try_into().ok()).unwrap_or([0; 16]);
        current.insert(
            key,
            CurrentParcel {
                source_hash: hash(row.get(1)),
                row_hash: hash(row.get(2)),
            },
        );
    }
    Ok(current)
}

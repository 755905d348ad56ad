//! The digest cache of the current parcels (migration 0005): what an import compares incoming
//! parcels with, read from the packed digest chain when it is whole, else from the table (see
//! [`super::copy`]). Not the merge that writes the next digest entries.

use deadpool_postgres::Object;

use super::pg;
use crate::StoreError;

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
pub(super) fn digest_entry(
    out: &mut Vec<u8>,
    key: u64,
    source_hash: Option<&[u8]>,
    row_hash: Option<&[u8]>,
) {
    let hash =
        |h: Option<&[u8]>| -> [u8; 16] { h.and_then(|h| h.try_into().ok()).unwrap_or([0; 16]) };
    out.extend_from_slice(&key.to_le_bytes());
    out.extend_from_slice(&hash(source_hash));
    out.extend_from_slice(&hash(row_hash));
}

/// A full digest is rewritten after this many deltas (a delta is read with the full one).
pub(super) const MAX_DIGEST_DELTAS: usize = 30;

/// The current parcels from the digest chain (the newest full digest and the deltas after it),
/// with the number of deltas; `None` when the chain does not reach the newest cadastre version
/// (a version was written another way), and the table must be read.
pub(super) async fn load_digest(c: &Object) -> Result<Option<(CurrentParcels, usize)>, StoreError> {
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

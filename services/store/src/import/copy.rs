//! Binary COPY in and out: the writer every staged or directly loaded row goes through, and the
//! read of the current parcels from the table. Not what the rows mean.

use std::pin::Pin;

use deadpool_postgres::Object;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;

use super::digest::{CurrentParcel, CurrentParcels};
use super::pg;
use crate::StoreError;

pub(super) async fn start_copy(
    c: &Object,
    copy: &str,
    types: &[Type],
    context: &'static str,
) -> Result<Pin<Box<BinaryCopyInWriter>>, StoreError> {
    let sink = c.copy_in(copy).await.map_err(pg(context))?;
    Ok(Box::pin(BinaryCopyInWriter::new(sink, types)))
}

/// Reads the current parcels with binary `COPY … TO STDOUT`, parsing the tuples in place
/// (a third of the client-side cost of 775 000 result rows).
pub(super) async fn load_current(c: &Object) -> Result<CurrentParcels, StoreError> {
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

//! PostGIS `geometry` values in their binary form (EWKB), written by a first load's binary COPY
//! straight into `parcel` without a `ST_GeomFromWKB` round trip.

use tokio_postgres::types::{ToSql, Type};

use crate::StoreError;

/// A `geometry` value in PostGIS's binary form (EWKB), for binary COPY.
#[derive(Debug)]
pub(super) struct Ewkb(pub(super) Vec<u8>);

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
pub(super) fn multipolygon_ewkb(wkb: &[u8], srid: u32) -> Result<Vec<u8>, StoreError> {
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

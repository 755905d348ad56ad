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

#[cfg(test)]
mod tests {
    use super::*;

    /// The triangle (0 0, 1 0, 0 1, 0 0) as a WKB Polygon, worked out by hand: byte order, type 3,
    /// one ring of four points, coordinates as IEEE doubles (1.0 is 0x3FF0000000000000).
    fn polygon(little: bool) -> Vec<u8> {
        let word = |v: u32| {
            if little {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            }
        };
        let one: [u8; 8] = if little {
            [0, 0, 0, 0, 0, 0, 0xF0, 0x3F]
        } else {
            [0x3F, 0xF0, 0, 0, 0, 0, 0, 0]
        };
        let zero = [0u8; 8];
        let mut w = vec![if little { 1 } else { 0 }];
        w.extend(word(3));
        w.extend(word(1));
        w.extend(word(4));
        for (x, y) in [(zero, zero), (one, zero), (zero, one), (zero, zero)] {
            w.extend(x);
            w.extend(y);
        }
        w
    }

    #[test]
    fn little_endian_polygon_becomes_a_multipolygon_with_srid() {
        let p = polygon(true);
        let mut want = vec![
            0x01, // NDR
            0x06, 0x00, 0x00, 0x20, // MultiPolygon (6) | has SRID (0x20000000), little-endian
            0xE5, 0x0C, 0x00, 0x00, // 3301 = 0x0CE5
            0x01, 0x00, 0x00, 0x00, // one polygon
        ];
        want.extend(&p);
        assert_eq!(multipolygon_ewkb(&p, 3301).unwrap(), want);
    }

    #[test]
    fn big_endian_polygon_becomes_a_multipolygon_with_srid() {
        let p = polygon(false);
        let mut want = vec![
            0x00, // XDR
            0x20, 0x00, 0x00, 0x06, // has SRID | MultiPolygon, big-endian
            0x00, 0x00, 0x0C, 0xE5, // 3301
            0x00, 0x00, 0x00, 0x01, // one polygon
        ];
        want.extend(&p);
        assert_eq!(multipolygon_ewkb(&p, 3301).unwrap(), want);
    }

    #[test]
    fn a_multipolygon_keeps_its_parts_and_gains_the_srid() {
        for little in [true, false] {
            let p = polygon(little);
            // MultiPolygon of two copies of the triangle.
            let mut multi = vec![p[0]];
            let word = |v: u32| {
                if little {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                }
            };
            multi.extend(word(6));
            multi.extend(word(2));
            multi.extend(&p);
            multi.extend(&p);
            let mut want = vec![p[0]];
            want.extend(word(0x2000_0006));
            want.extend(word(3301));
            want.extend(word(2));
            want.extend(&p);
            want.extend(&p);
            assert_eq!(
                multipolygon_ewkb(&multi, 3301).unwrap(),
                want,
                "little = {little}"
            );
        }
    }

    #[test]
    fn anything_but_a_polygon_is_refused() {
        let point_le = [
            1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert!(multipolygon_ewkb(&point_le, 3301).is_err());
        assert!(multipolygon_ewkb(&[], 3301).is_err());
        assert!(
            multipolygon_ewkb(&[1, 3, 0], 3301).is_err(),
            "truncated type"
        );
        let mut bad_order = polygon(true);
        bad_order[0] = 2;
        assert!(multipolygon_ewkb(&bad_order, 3301).is_err());
    }

    /// PostGIS as the oracle: `ST_AsEWKB(ST_Multi(ST_GeomFromWKB(wkb, 3301)), order)` gives the
    /// same bytes, in both byte orders, for a polygon with a hole and for a multipolygon.
    #[tokio::test]
    async fn postgis_writes_the_same_bytes() {
        let c = kovgis_testkit::db::sql().await;
        for wkt in [
            "POLYGON((659000 6474000, 659100 6474000, 659100 6474100, 659000 6474000), \
             (659050 6474010, 659090 6474010, 659090 6474050, 659050 6474010))",
            "MULTIPOLYGON(((0 0, 1 0, 0 1, 0 0)), ((5 5, 6 5, 5 6, 5 5)))",
        ] {
            for order in ["NDR", "XDR"] {
                let row = c
                    .query_one(
                        "SELECT ST_AsBinary(g, $2), ST_AsEWKB(ST_Multi(g), $2)
                         FROM (SELECT ST_GeomFromText($1, 3301) AS g) s",
                        &[&wkt, &order],
                    )
                    .await
                    .unwrap();
                let wkb: Vec<u8> = row.get(0);
                let want: Vec<u8> = row.get(1);
                assert_eq!(
                    multipolygon_ewkb(&wkb, 3301).unwrap(),
                    want,
                    "{wkt} in {order}"
                );
            }
        }
    }
}

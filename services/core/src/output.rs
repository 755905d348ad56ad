//! Writing geometries for responses: GeoJSON, WKT or WKB, in the caller's CRS.

use geo::Geometry;
use geozero::{CoordDimensions, ToWkb, ToWkt};

use crate::crs::{self, TransformError};

/// Output encodings (mirrors the API's `GeometryFormat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    GeoJson,
    Wkt,
    Wkb,
}

/// An encoded geometry.
#[derive(Debug, Clone, PartialEq)]
pub enum Encoded {
    GeoJson(String),
    Wkt(String),
    Wkb(Vec<u8>),
}

/// Transforms an EPSG:3301 geometry to `epsg` and encodes it.
pub fn encode(
    geometry: &Geometry<f64>,
    epsg: u32,
    format: Format,
) -> Result<Encoded, TransformError> {
    let transformed;
    let g = if epsg == crs::EPSG_LEST97 {
        geometry
    } else {
        let mut t = geometry.clone();
        crs::transform(&mut t, crs::EPSG_LEST97, epsg)?;
        transformed = t;
        &transformed
    };
    Ok(match format {
        Format::GeoJson => Encoded::GeoJson(to_geojson(g)),
        Format::Wkt => Encoded::Wkt(g.to_wkt().unwrap_or_default()),
        Format::Wkb => Encoded::Wkb(to_wkb(g)),
    })
}

/// GeoJSON geometry object text.
pub fn to_geojson(g: &Geometry<f64>) -> String {
    geojson::Geometry::new(geojson::GeometryValue::from(g)).to_string()
}

/// ISO WKB, 2D.
pub fn to_wkb(g: &Geometry<f64>) -> Vec<u8> {
    // Writing WKB of a geo-types geometry into a Vec cannot fail.
    g.to_wkb(CoordDimensions::xy()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GeometryEncoding, GeometryInput, InputLimits};

    #[test]
    fn each_format_round_trips_through_input() {
        let g: Geometry<f64> = geo::wkt!(POLYGON((546000. 6592000., 546100. 6592000., 546100. 6592100., 546000. 6592000.))).into();
        for (format, epsg) in [
            (Format::GeoJson, 4326),
            (Format::Wkt, 3301),
            (Format::Wkb, 3301),
            (Format::Wkt, 3857),
        ] {
            let encoding = match encode(&g, epsg, format).unwrap() {
                Encoded::GeoJson(s) => GeometryEncoding::GeoJson(s),
                Encoded::Wkt(s) => GeometryEncoding::Wkt(s),
                Encoded::Wkb(b) => GeometryEncoding::Wkb(b),
            };
            let back = GeometryInput {
                encoding,
                epsg: Some(epsg),
            }
            .parse(&InputLimits::default())
            .unwrap();
            let (Geometry::Polygon(a), Geometry::Polygon(b)) = (&g, &back.geometry) else {
                panic!()
            };
            for (ca, cb) in a.exterior().coords().zip(b.exterior().coords()) {
                assert!(
                    (ca.x - cb.x).abs() < 1e-6 && (ca.y - cb.y).abs() < 1e-6,
                    "{format:?} {epsg}"
                );
            }
        }
    }
}

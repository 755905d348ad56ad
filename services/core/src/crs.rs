//! Coordinate reference systems kovgis accepts, and transforms between them with PROJ.
//!
//! Storage is EPSG:3301 (L-EST97). Clients may speak EPSG:4326 (WGS84 lon/lat, GeoJSON's default),
//! EPSG:4258 (ETRS89 lon/lat, which L-EST97 is based on) or EPSG:3857 (web maps). Transforms use the
//! PROJ library bundled by the `proj` crate, built from source, with PROJ's normalised axis order
//! (longitude first) so that GeoJSON coordinates go in and come out as `[lon, lat]`.
//!
//! A `Proj` object is not `Sync`, and creating one costs a database look-up, so each thread keeps
//! its own cache of transformers keyed by (from, to).

use std::cell::RefCell;
use std::collections::HashMap;

use geo::Geometry;
use proj::{Proj, Transform};

use crate::InputError;

/// EPSG:3301, Estonian Coordinate System of 1997 (L-EST97): the storage CRS.
pub const EPSG_LEST97: u32 = 3301;
/// EPSG:4326, WGS84 longitude/latitude.
pub const EPSG_WGS84: u32 = 4326;
/// EPSG:4258, ETRS89 longitude/latitude.
pub const EPSG_ETRS89: u32 = 4258;
/// EPSG:3857, WGS84 / Pseudo-Mercator.
pub const EPSG_WEB_MERCATOR: u32 = 3857;

/// Every EPSG code kovgis accepts and returns.
pub const SUPPORTED: [u32; 4] = [EPSG_LEST97, EPSG_WGS84, EPSG_ETRS89, EPSG_WEB_MERCATOR];

/// Whether coordinates in this CRS are longitude/latitude degrees.
pub fn is_geographic(epsg: u32) -> bool {
    matches!(epsg, EPSG_WGS84 | EPSG_ETRS89)
}

/// Checks that `epsg` is one kovgis supports; `field` names it in the error.
pub fn check_supported(field: &str, epsg: u32) -> Result<u32, InputError> {
    if SUPPORTED.contains(&epsg) {
        Ok(epsg)
    } else {
        Err(InputError::new(
            field,
            format!(
                "EPSG:{epsg} is not supported; use 3301 (L-EST97), 4326 (WGS84 lon/lat), \
                 4258 (ETRS89 lon/lat) or 3857"
            ),
        ))
    }
}

/// A failure of PROJ itself (not of the caller's input): a transform that could not be built or
/// a coordinate PROJ could not map.
#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error("PROJ could not create the transform EPSG:{from} -> EPSG:{to}: {message}")]
    Create { from: u32, to: u32, message: String },
    #[error("PROJ could not transform a coordinate EPSG:{from} -> EPSG:{to}: {message}")]
    Transform { from: u32, to: u32, message: String },
}

thread_local! {
    static TRANSFORMERS: RefCell<HashMap<(u32, u32), Proj>> = RefCell::new(HashMap::new());
}

/// Transforms `geometry` in place from `from` to `to` (EPSG codes). A no-op when they are equal.
pub fn transform(geometry: &mut Geometry<f64>, from: u32, to: u32) -> Result<(), TransformError> {
    if from == to {
        return Ok(());
    }
    TRANSFORMERS.with(|cell| {
        let mut cache = cell.borrow_mut();
        let proj = match cache.entry((from, to)) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let p = Proj::new_known_crs(&format!("EPSG:{from}"), &format!("EPSG:{to}"), None)
                    .map_err(|e| TransformError::Create {
                    from,
                    to,
                    message: e.to_string(),
                })?;
                v.insert(p)
            }
        };
        geometry
            .transform(proj)
            .map_err(|e| TransformError::Transform {
                from,
                to,
                message: e.to_string(),
            })
    })
}

/// Transforms one coordinate pair; convenient for tests and bounding boxes.
pub fn transform_xy(x: f64, y: f64, from: u32, to: u32) -> Result<(f64, f64), TransformError> {
    let mut g = Geometry::Point(geo::Point::new(x, y));
    transform(&mut g, from, to)?;
    match g {
        Geometry::Point(p) => Ok((p.x(), p.y())),
        _ => unreachable!("a point stays a point"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tallinn Town Hall Square, checked against the Land Board's coordinate converter figures to
    /// the metre (the sub-millimetre check against PostGIS `ST_Transform` is an integration test).
    #[test]
    fn wgs84_to_lest97_known_point() {
        let (x, y) = transform_xy(24.7453, 59.4370, EPSG_WGS84, EPSG_LEST97).unwrap();
        assert!((x - 542_400.0).abs() < 1_000.0, "x = {x}");
        assert!((y - 6_589_000.0).abs() < 1_000.0, "y = {y}");
    }

    #[test]
    fn round_trip_is_sub_millimetre() {
        for (lon, lat) in [(21.8, 58.2), (24.75, 59.44), (27.9, 57.6), (26.72, 58.38)] {
            let (x, y) = transform_xy(lon, lat, EPSG_WGS84, EPSG_LEST97).unwrap();
            let (lon2, lat2) = transform_xy(x, y, EPSG_LEST97, EPSG_WGS84).unwrap();
            let (x2, y2) = transform_xy(lon2, lat2, EPSG_WGS84, EPSG_LEST97).unwrap();
            assert!((x - x2).abs() < 1e-6 && (y - y2).abs() < 1e-6);
        }
    }

    #[test]
    fn unsupported_crs_is_refused() {
        let e = check_supported("epsg", 2154).unwrap_err();
        assert_eq!(e.field, "epsg");
        assert!(e.reason.contains("EPSG:2154"));
        assert!(check_supported("epsg", 3301).is_ok());
    }
}

//! WKB in and out of PostGIS.

use geo::Geometry;
use geozero::ToGeo;

use crate::StoreError;

/// Reads the WKB that `ST_AsBinary` returns.
pub(crate) fn from_wkb(bytes: &[u8]) -> Result<Geometry<f64>, StoreError> {
    geozero::wkb::Wkb(bytes)
        .to_geo()
        .map_err(|e| StoreError::Geometry(e.to_string()))
}

/// WKB for `ST_GeomFromWKB($n, 3301)`.
pub(crate) fn to_wkb(g: &Geometry<f64>) -> Vec<u8> {
    kovgis_core::output::to_wkb(g)
}

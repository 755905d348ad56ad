//! Estonia's extent in EPSG:3301 and the axis-order heuristics built on it.
//!
//! The bounds are the EPSG:3301 area of use ("Estonia — onshore and offshore", EPSG registry:
//! lat 57.52–60.00, lon 20.37–28.20) projected and rounded outwards to whole kilometres. A
//! geometry whose envelope leaves it is not Estonian data. Coordinates whose "easting" lies in the
//! northing range (≈ 6.4 million) have their axes swapped: the most common import mistake, so it
//! gets its own message.

use geo::Rect;

/// Easting bounds of Estonia in EPSG:3301, metres.
pub const MIN_X: f64 = 280_000.0;
pub const MAX_X: f64 = 740_000.0;
/// Northing bounds of Estonia in EPSG:3301, metres.
pub const MIN_Y: f64 = 6_370_000.0;
pub const MAX_Y: f64 = 6_670_000.0;

/// Longitude/latitude bounds of the same area (EPSG:3301 area of use).
pub const MIN_LON: f64 = 20.37;
pub const MAX_LON: f64 = 28.2;
pub const MIN_LAT: f64 = 57.52;
pub const MAX_LAT: f64 = 60.0;

/// Whether an EPSG:3301 envelope lies inside Estonia's extent.
pub fn inside_3301(r: &Rect<f64>) -> bool {
    r.min().x >= MIN_X && r.max().x <= MAX_X && r.min().y >= MIN_Y && r.max().y <= MAX_Y
}

/// Whether an EPSG:3301 envelope lies inside Estonia's extent with x and y exchanged.
pub fn swapped_3301(r: &Rect<f64>) -> bool {
    r.min().y >= MIN_X && r.max().y <= MAX_X && r.min().x >= MIN_Y && r.max().x <= MAX_Y
}

/// Whether a lon/lat envelope lies inside Estonia's extent.
pub fn inside_lonlat(r: &Rect<f64>) -> bool {
    r.min().x >= MIN_LON && r.max().x <= MAX_LON && r.min().y >= MIN_LAT && r.max().y <= MAX_LAT
}

/// Whether a lon/lat envelope lies inside Estonia's extent when read as lat/lon.
pub fn swapped_lonlat(r: &Rect<f64>) -> bool {
    r.min().y >= MIN_LON && r.max().y <= MAX_LON && r.min().x >= MIN_LAT && r.max().x <= MAX_LAT
}

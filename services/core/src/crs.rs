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

    /// Control points from outside PROJ (and so outside PostGIS, which uses the same PROJ).
    ///
    /// 1. The one pair of coordinates the Estonian Land Board publishes with the definition of
    ///    L-EST97 (Maa-amet, "Geodetic System",
    ///    <https://geoportaal.maaamet.ee/eng/Spatial-Data/Geodetic-Data/Geodetic-System-p668.html>):
    ///    the initial point B0 = 57°31'03.19415" N, L0 = 24°00' E has x = 6 375 000 m (northing),
    ///    y = 500 000 m (easting). Published to 0.00001" (0.3 mm), so checked to 1 mm.
    /// 2. The Lambert Conic Conformal (2SP) formulas of IOGP Geomatics Guidance Note 7-2
    ///    (EPSG method 9802), written out here by hand and first checked against that note's own
    ///    worked example (NAD27 / Texas South Central: 28°30' N, 96° W → E = 2 963 503.91 US ft,
    ///    N = 254 759.80 US ft, published to 0.01 ft), then evaluated with the Land Board's
    ///    LAMBERT-EST parameters (GRS80; standard parallels 58°00' and 59°20' N; the initial point
    ///    above) on a grid over Estonia. PROJ's EPSG:4326 → EPSG:3301 must agree to 1 mm: the
    ///    formulas are closed-form, so the two differ only by rounding (micrometres), while a
    ///    wrong parameter (a parallel off by 1", a false northing, the datum) moves points by
    ///    metres.
    mod control_points {
        use super::*;

        /// Degrees from degrees, minutes, seconds.
        fn dms(d: f64, m: f64, s: f64) -> f64 {
            d + m / 60.0 + s / 3600.0
        }

        /// An ellipsoid and the LCC 2SP parameters (angles in degrees, lengths in metres).
        struct Lcc {
            a: f64,
            e: f64,
            lat_f: f64,
            lon_f: f64,
            lat_1: f64,
            lat_2: f64,
            e_f: f64,
            n_f: f64,
        }

        impl Lcc {
            fn m(&self, lat: f64) -> f64 {
                let s = lat.to_radians().sin();
                lat.to_radians().cos() / (1.0 - self.e * self.e * s * s).sqrt()
            }

            fn t(&self, lat: f64) -> f64 {
                let p = lat.to_radians();
                let es = self.e * p.sin();
                (std::f64::consts::FRAC_PI_4 - p / 2.0).tan()
                    / ((1.0 - es) / (1.0 + es)).powf(self.e / 2.0)
            }

            /// GN 7-2, §3.2.1.1: (lat, lon) → (easting, northing).
            fn forward(&self, lat: f64, lon: f64) -> (f64, f64) {
                let (m1, m2) = (self.m(self.lat_1), self.m(self.lat_2));
                let (t1, t2) = (self.t(self.lat_1), self.t(self.lat_2));
                let n = (m1.ln() - m2.ln()) / (t1.ln() - t2.ln());
                let f = m1 / (n * t1.powf(n));
                let r = self.a * f * self.t(lat).powf(n);
                let r_f = self.a * f * self.t(self.lat_f).powf(n);
                let theta = n * (lon - self.lon_f).to_radians();
                (self.e_f + r * theta.sin(), self.n_f + r_f - r * theta.cos())
            }
        }

        /// LAMBERT-EST as the Land Board defines it.
        fn lambert_est() -> Lcc {
            let f: f64 = 1.0 / 298.257222101;
            Lcc {
                a: 6_378_137.0,
                e: (2.0 * f - f * f).sqrt(),
                lat_f: dms(57.0, 31.0, 3.19415),
                lon_f: 24.0,
                lat_1: dms(59.0, 20.0, 0.0),
                lat_2: dms(58.0, 0.0, 0.0),
                e_f: 500_000.0,
                n_f: 6_375_000.0,
            }
        }

        #[test]
        fn the_formulas_reproduce_the_guidance_note_example() {
            const US_FOOT: f64 = 1200.0 / 3937.0;
            // Clarke 1866, defined by its semi-axes.
            let (a, b) = (6_378_206.4_f64, 6_356_583.8_f64);
            let texas = Lcc {
                a,
                e: ((a * a - b * b) / (a * a)).sqrt(),
                lat_f: dms(27.0, 50.0, 0.0),
                lon_f: -99.0,
                lat_1: dms(28.0, 23.0, 0.0),
                lat_2: dms(30.0, 17.0, 0.0),
                e_f: 2_000_000.0 * US_FOOT,
                n_f: 0.0,
            };
            let (e, n) = texas.forward(28.5, -96.0);
            assert!(
                (e / US_FOOT - 2_963_503.91).abs() < 0.01,
                "E = {} ft",
                e / US_FOOT
            );
            assert!(
                (n / US_FOOT - 254_759.80).abs() < 0.01,
                "N = {} ft",
                n / US_FOOT
            );
        }

        #[test]
        fn the_published_initial_point() {
            let (lon, lat) = (24.0, dms(57.0, 31.0, 3.19415));
            let (x, y) = transform_xy(lon, lat, EPSG_ETRS89, EPSG_LEST97).unwrap();
            assert!((x - 500_000.0).abs() < 0.001, "easting {x}");
            assert!((y - 6_375_000.0).abs() < 0.001, "northing {y}");
            let (x, y) = transform_xy(lon, lat, EPSG_WGS84, EPSG_LEST97).unwrap();
            assert!((x - 500_000.0).abs() < 0.001 && (y - 6_375_000.0).abs() < 0.001);
            let (lon2, lat2) =
                transform_xy(500_000.0, 6_375_000.0, EPSG_LEST97, EPSG_WGS84).unwrap();
            // 1e-8 degrees is about a millimetre.
            assert!((lon2 - lon).abs() < 1e-8 && (lat2 - lat).abs() < 1e-8);
        }

        #[test]
        fn proj_agrees_with_the_formulas_over_estonia() {
            let est = lambert_est();
            for lat in [57.5, 58.0, 58.4, 58.9, 59.4, 59.8] {
                for lon in [21.7, 22.5, 23.8, 24.0, 25.2, 26.7, 28.2] {
                    let (e, n) = est.forward(lat, lon);
                    let (x, y) = transform_xy(lon, lat, EPSG_WGS84, EPSG_LEST97).unwrap();
                    assert!(
                        (x - e).abs() < 0.001 && (y - n).abs() < 0.001,
                        "({lat}, {lon}): PROJ ({x:.4}, {y:.4}), formulas ({e:.4}, {n:.4})"
                    );
                    let (lon2, lat2) = transform_xy(e, n, EPSG_LEST97, EPSG_WGS84).unwrap();
                    assert!(
                        (lon2 - lon).abs() < 1e-8 && (lat2 - lat).abs() < 1e-8,
                        "inverse of ({lat}, {lon}): ({lat2}, {lon2})"
                    );
                }
            }
        }
    }
}

//! kovgis's PROJ transforms against PostGIS `ST_Transform` on a grid of points across Estonia:
//! every point within 1 mm, both directions, for each supported CRS.

mod common;

use common::*;
use kovgis_core::crs::transform_xy;

/// ≈ 20 × 16 points over Estonia's area of use, in degrees.
fn grid() -> Vec<(f64, f64)> {
    let mut pts = Vec::new();
    for i in 0..20 {
        for j in 0..16 {
            pts.push((21.8 + i as f64 * 0.33, 57.55 + j as f64 * 0.14));
        }
    }
    pts
}

#[tokio::test]
async fn wgs84_and_lest97_agree_with_postgis_to_a_millimetre() {
    let db = sql().await;
    let stmt = db
        .prepare("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_SetSRID(ST_Point($1, $2), $3::int), $4::int) p) s")
        .await
        .unwrap();
    let mut worst: f64 = 0.0;
    for (lon, lat) in grid() {
        for (from, to) in [(4326, 3301), (4258, 3301), (4326, 3857)] {
            let (x, y) = transform_xy(lon, lat, from, to).unwrap();
            let r = db
                .query_one(&stmt, &[&lon, &lat, &(from as i32), &(to as i32)])
                .await
                .unwrap();
            let (px, py): (f64, f64) = (r.get(0), r.get(1));
            let d = ((x - px).powi(2) + (y - py).powi(2)).sqrt();
            // Web Mercator metres are stretched by 1/cos(lat); 1 mm on the ground is ~2 mm there.
            let tol = if to == 3857 { 0.002 } else { 0.001 };
            assert!(d <= tol, "EPSG:{from}->{to} at ({lon}, {lat}): {d} m");
            if to == 3301 {
                worst = worst.max(d);
            }
            // And back, from PostGIS's own projected point, measured on the ground.
            let (blon, blat) = transform_xy(px, py, to, from).unwrap();
            let r = db
                .query_one(&stmt, &[&px, &py, &(to as i32), &(from as i32)])
                .await
                .unwrap();
            let (plon, plat): (f64, f64) = (r.get(0), r.get(1));
            let dy = (blat - plat) * 111_320.0;
            let dx = (blon - plon) * 111_320.0 * lat.to_radians().cos();
            assert!(
                (dx * dx + dy * dy).sqrt() <= 0.001,
                "EPSG:{to}->{from} near ({lon}, {lat})"
            );
        }
    }
    eprintln!(
        "worst 4326/4258 -> 3301 difference from PostGIS: {worst:.2e} m over {} points",
        grid().len()
    );
}

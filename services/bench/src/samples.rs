//! The benchmark's proposals: footprints of 100–2 000 m² (rotated rectangles, and every fifth a
//! round outline of 100–300 vertices) or plan areas of 1–20 ha, on parcels PostGIS picks by a
//! seeded hash, shaped by the workspace's seeded generator — the same seed gives the same samples on the same
//! data.

use kovgis_testkit::Rng;

/// A proposal: municipality and polygon (EPSG:3301).
#[derive(Clone)]
pub struct Sample {
    pub municipality: String,
    pub polygon: geo::Polygon,
}

fn rotated_rect(cx: f64, cy: f64, w: f64, h: f64, angle: f64) -> geo::Polygon {
    let (s, c) = angle.sin_cos();
    let pts: Vec<geo::Coord> = [(-w, -h), (w, -h), (w, h), (-w, h), (-w, -h)]
        .iter()
        .map(|(x, y)| geo::Coord {
            x: cx + (x * c - y * s) / 2.0,
            y: cy + (x * s + y * c) / 2.0,
        })
        .collect();
    geo::Polygon::new(geo::LineString(pts), vec![])
}

fn round_shape(cx: f64, cy: f64, r: f64, n: usize) -> geo::Polygon {
    let mut pts: Vec<geo::Coord> = (0..n)
        .map(|i| {
            let a = i as f64 / n as f64 * std::f64::consts::TAU;
            geo::Coord {
                x: cx + r * a.cos(),
                y: cy + r * (0.8 * a.sin()),
            }
        })
        .collect();
    pts.push(pts[0]);
    geo::Polygon::new(geo::LineString(pts), vec![])
}

/// Footprints on random parcels (`plans`: 1–20 ha plan areas instead).
pub async fn samples(db: &tokio_postgres::Client, n: i64, plans: bool, seed: u64) -> Vec<Sample> {
    let rows = db
        .query(
            "SELECT municipality_code::text, ST_X(pt), ST_Y(pt), ST_Area(geom)
             FROM (SELECT municipality_code, geom, ST_PointOnSurface(geom) AS pt,
                          abs(hashtext(cadastral_code || ($2::bigint)::text)) AS k
                   FROM parcel WHERE valid_to IS NULL) p
             ORDER BY k LIMIT $1",
            &[&n, &(seed as i64)],
        )
        .await
        .expect("sampling parcels");
    let mut rng = Rng::new(seed);
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let (x, y, parcel_area): (f64, f64, f64) = (r.get(1), r.get(2), r.get(3));
            let polygon = if plans {
                let side = rng.range(100.0, 450.0);
                rotated_rect(x, y, side, side * rng.range(0.5, 1.0), rng.range(0.0, 3.0))
            } else if i % 5 == 4 {
                // A round outline of 100–300 vertices.
                let area = rng.range(100.0, 2000.0).min(parcel_area * 0.5).max(100.0);
                round_shape(
                    x,
                    y,
                    (area / 2.5).sqrt(),
                    100 + (rng.unit() * 200.0) as usize,
                )
            } else {
                let area = rng.range(100.0, 2000.0).min(parcel_area * 0.5).max(100.0);
                let aspect = rng.range(0.4, 1.0);
                let w = (area / aspect).sqrt();
                rotated_rect(x, y, w, w * aspect, rng.range(0.0, 3.0))
            };
            Sample {
                municipality: r.get(0),
                polygon,
            }
        })
        .collect()
}

//! Builders for the validation tests: a building-permit request for a WKT footprint in
//! EPSG:3301, axis-aligned squares, and one ValidateGeometry call.

use super::{TestServer, v1, wkt};

pub fn request(municipality: &str, wkt_text: &str) -> v1::ValidateGeometryRequest {
    v1::ValidateGeometryRequest {
        municipality_code: municipality.into(),
        procedure_type: "building_permit".into(),
        geometry: Some(wkt(wkt_text, 3301)),
        intended_use: "residential_building".into(),
        locale: "en".into(),
        ..Default::default()
    }
}

pub fn square(x: f64, y: f64, side: f64) -> String {
    format!(
        "POLYGON(({x} {y}, {} {y}, {} {}, {x} {}, {x} {y}))",
        x + side,
        x + side,
        y + side,
        y + side
    )
}

pub async fn validate(s: &mut TestServer, r: v1::ValidateGeometryRequest) -> v1::ValidationReport {
    s.client.validate_geometry(r).await.unwrap().into_inner()
}

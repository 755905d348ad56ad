//! Geometries in and out: `Geometry` and `BoundingBox` messages read into checked EPSG:3301
//! geometries, `OutputOptions` read into an [`Output`] choice, and EPSG:3301 geometries encoded
//! into `OutputGeometry` in the caller's CRS and format.
//!
//! The checks themselves (encoding, CRS, size, validity) are `kovgis-core`'s; this module only
//! maps message fields onto them and names the proto field in every error.

use kovgis_core::crs::{self, EPSG_LEST97, TransformError};
use kovgis_core::output::{self, Encoded, Format};
use kovgis_core::{GeometryEncoding, GeometryInput, InputError, InputLimits, ParsedGeometry};

use crate::v1;

/// Reads a `Geometry` message into a [`GeometryInput`] (parsing and checks come after).
/// `field` is the message's field name in the request, for error paths.
pub fn geometry_input(field: &str, g: Option<&v1::Geometry>) -> Result<GeometryInput, InputError> {
    let g = g.ok_or_else(|| InputError::new(field, "a geometry is required"))?;
    let encoding = match &g.value {
        Some(v1::geometry::Value::Geojson(s)) => GeometryEncoding::GeoJson(s.clone()),
        Some(v1::geometry::Value::Wkt(s)) => GeometryEncoding::Wkt(s.clone()),
        Some(v1::geometry::Value::Wkb(b)) => GeometryEncoding::Wkb(b.to_vec()),
        None => {
            return Err(InputError::new(
                field,
                "one of geojson, wkt or wkb must be set",
            ));
        }
    };
    Ok(GeometryInput {
        encoding,
        epsg: (g.epsg != 0).then_some(g.epsg),
    })
}

/// Reads and checks a request geometry; errors are prefixed with `field`.
pub fn geometry(
    field: &str,
    g: Option<&v1::Geometry>,
    limits: &InputLimits,
) -> Result<ParsedGeometry, InputError> {
    geometry_input(field, g)?
        .parse(limits)
        .map_err(|e| e.within(field))
}

/// A `bbox` filter as an EPSG:3301 polygon (a line when the box is flat), checked like any
/// request geometry.
pub fn bbox(b: &v1::BoundingBox, limits: &InputLimits) -> Result<ParsedGeometry, InputError> {
    let vals = [b.min_x, b.min_y, b.max_x, b.max_y];
    if vals.iter().any(|v| !v.is_finite()) {
        return Err(InputError::new(
            "bbox",
            "coordinates must be finite numbers",
        ));
    }
    if b.min_x > b.max_x || b.min_y > b.max_y {
        return Err(InputError::new(
            "bbox",
            "min_x must not exceed max_x, nor min_y max_y",
        ));
    }
    let epsg = if b.epsg == 0 { EPSG_LEST97 } else { b.epsg };
    // Densified edges, so that the box stays the box the caller meant after a transform.
    const STEPS: usize = 16;
    let mut ring = Vec::with_capacity(4 * STEPS + 1);
    let lerp = |a: f64, b: f64, t: f64| a + (b - a) * t;
    for i in 0..STEPS {
        ring.push((lerp(b.min_x, b.max_x, i as f64 / STEPS as f64), b.min_y));
    }
    for i in 0..STEPS {
        ring.push((b.max_x, lerp(b.min_y, b.max_y, i as f64 / STEPS as f64)));
    }
    for i in 0..STEPS {
        ring.push((lerp(b.max_x, b.min_x, i as f64 / STEPS as f64), b.max_y));
    }
    for i in 0..STEPS {
        ring.push((b.min_x, lerp(b.max_y, b.min_y, i as f64 / STEPS as f64)));
    }
    ring.push((b.min_x, b.min_y));
    let wkt = if b.min_x == b.max_x || b.min_y == b.max_y {
        format!(
            "LINESTRING({} {}, {} {})",
            b.min_x, b.min_y, b.max_x, b.max_y
        )
    } else {
        format!(
            "POLYGON(({}))",
            ring.iter()
                .map(|(x, y)| format!("{x} {y}"))
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    GeometryInput::wkt(wkt, epsg)
        .parse(limits)
        .map_err(|e| match e.field.as_str() {
            "epsg" => e.within("bbox"),
            _ => InputError::new("bbox", e.reason),
        })
}

/// The caller's output choice, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Output {
    pub epsg: u32,
    pub format: Format,
    pub omit_geometry: bool,
}

impl Default for Output {
    fn default() -> Self {
        Self {
            epsg: EPSG_LEST97,
            format: Format::GeoJson,
            omit_geometry: false,
        }
    }
}

/// Reads `OutputOptions` (absent = EPSG:3301 GeoJSON).
pub fn output(field: &str, o: Option<&v1::OutputOptions>) -> Result<Output, InputError> {
    let Some(o) = o else {
        return Ok(Output::default());
    };
    let epsg = if o.epsg == 0 { EPSG_LEST97 } else { o.epsg };
    let epsg = crs::check_supported("epsg", epsg).map_err(|e| e.within(field))?;
    let format = match v1::GeometryFormat::try_from(o.format) {
        Ok(v1::GeometryFormat::Unspecified | v1::GeometryFormat::Geojson) => Format::GeoJson,
        Ok(v1::GeometryFormat::Wkt) => Format::Wkt,
        Ok(v1::GeometryFormat::Wkb) => Format::Wkb,
        Err(_) => {
            return Err(InputError::new(
                format!("{field}.format"),
                format!("unknown geometry format {}", o.format),
            ));
        }
    };
    Ok(Output {
        epsg,
        format,
        omit_geometry: o.omit_geometry,
    })
}

/// Encodes an EPSG:3301 geometry for a response.
pub fn output_geometry(
    g: Option<&geo::Geometry<f64>>,
    out: &Output,
) -> Result<Option<v1::OutputGeometry>, TransformError> {
    let Some(g) = g.filter(|_| !out.omit_geometry) else {
        return Ok(None);
    };
    let value = match output::encode(g, out.epsg, out.format)? {
        Encoded::GeoJson(s) => v1::output_geometry::Value::Geojson(s),
        Encoded::Wkt(s) => v1::output_geometry::Value::Wkt(s),
        Encoded::Wkb(b) => v1::output_geometry::Value::Wkb(b),
    };
    Ok(Some(v1::OutputGeometry {
        value: Some(value),
        epsg: out.epsg,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_defaults_to_lest97_geojson() {
        assert_eq!(output("output", None).unwrap(), Output::default());
        let o = output(
            "output",
            Some(&v1::OutputOptions {
                epsg: 0,
                format: 0,
                omit_geometry: false,
            }),
        )
        .unwrap();
        assert_eq!((o.epsg, o.format), (3301, Format::GeoJson));
    }

    #[test]
    fn output_errors_name_the_nested_field() {
        let e = output(
            "output",
            Some(&v1::OutputOptions {
                epsg: 27700,
                format: 0,
                omit_geometry: false,
            }),
        )
        .unwrap_err();
        assert_eq!(e.field, "output.epsg");
        let e = output(
            "output",
            Some(&v1::OutputOptions {
                epsg: 4326,
                format: 9,
                omit_geometry: false,
            }),
        )
        .unwrap_err();
        assert_eq!(e.field, "output.format");
    }

    #[test]
    fn geometry_needs_a_value_and_keeps_the_crs() {
        let e = geometry_input(
            "intersects",
            Some(&v1::Geometry {
                value: None,
                epsg: 0,
            }),
        )
        .unwrap_err();
        assert_eq!(e.field, "intersects");
        let e = geometry_input("intersects", None).unwrap_err();
        assert_eq!(e.field, "intersects");
        let g = geometry_input(
            "g",
            Some(&v1::Geometry {
                value: Some(v1::geometry::Value::Wkt("POINT(1 2)".into())),
                epsg: 3857,
            }),
        )
        .unwrap();
        assert_eq!(g.epsg, Some(3857));
    }
}

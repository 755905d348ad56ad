//! Conversions between `kovgis.v1` messages and `kovgis-core` types.
//!
//! Inbound conversions check as they go and fail with an [`InputError`] naming the proto field;
//! outbound ones encode geometries in the caller's CRS and format.

use kovgis_core::crs::{self, EPSG_LEST97, TransformError};
use kovgis_core::model;
use kovgis_core::output::{self, Encoded, Format};
use kovgis_core::{GeometryEncoding, GeometryInput, InputError};

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

pub fn layer_kind(k: model::LayerKind) -> v1::LayerKind {
    match k {
        model::LayerKind::Zoning => v1::LayerKind::Zoning,
        model::LayerKind::Restriction => v1::LayerKind::Restriction,
        model::LayerKind::Building => v1::LayerKind::Building,
        model::LayerKind::DetailedPlan => v1::LayerKind::DetailedPlan,
        model::LayerKind::Other => v1::LayerKind::Other,
    }
}

/// A requested layer kind: `None` for unspecified (all kinds).
pub fn layer_kind_filter(field: &str, k: i32) -> Result<Option<model::LayerKind>, InputError> {
    Ok(match v1::LayerKind::try_from(k) {
        Ok(v1::LayerKind::Unspecified) => None,
        Ok(v1::LayerKind::Zoning) => Some(model::LayerKind::Zoning),
        Ok(v1::LayerKind::Restriction) => Some(model::LayerKind::Restriction),
        Ok(v1::LayerKind::Building) => Some(model::LayerKind::Building),
        Ok(v1::LayerKind::DetailedPlan) => Some(model::LayerKind::DetailedPlan),
        Ok(v1::LayerKind::Other) => Some(model::LayerKind::Other),
        Err(_) => return Err(InputError::new(field, format!("unknown layer kind {k}"))),
    })
}

pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

pub fn from_timestamp(
    field: &str,
    t: &prost_types::Timestamp,
) -> Result<chrono::DateTime<chrono::Utc>, InputError> {
    chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32)
        .ok_or_else(|| InputError::new(field, "timestamp out of range"))
}

/// JSON object → `google.protobuf.Struct` (non-objects become an empty struct).
pub fn json_struct(v: &serde_json::Value) -> prost_types::Struct {
    let fields = match v {
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), json_value(v)))
            .collect(),
        _ => Default::default(),
    };
    prost_types::Struct { fields }
}

fn json_value(v: &serde_json::Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match v {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(*b),
        serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Kind::StringValue(s.clone()),
        serde_json::Value::Array(a) => Kind::ListValue(prost_types::ListValue {
            values: a.iter().map(json_value).collect(),
        }),
        serde_json::Value::Object(_) => Kind::StructValue(json_struct(v)),
    };
    prost_types::Value { kind: Some(kind) }
}

pub fn municipality(
    m: &model::Municipality,
    out: &Output,
) -> Result<v1::Municipality, TransformError> {
    Ok(v1::Municipality {
        code: m.code.clone(),
        name: m.name.clone(),
        population: m.population.unwrap_or(0),
        area_m2: m.area_m2,
        boundary: output_geometry(m.boundary.as_ref(), out)?,
    })
}

pub fn parcel(p: &model::Parcel, out: &Output) -> Result<v1::Parcel, TransformError> {
    Ok(v1::Parcel {
        cadastral_code: p.cadastral_code.clone(),
        municipality_code: p.municipality_code.clone(),
        address: p.address.clone().unwrap_or_default(),
        intended_uses: p
            .intended_uses
            .iter()
            .map(|u| v1::IntendedUse {
                code: u.code.clone(),
                percent: u.percent,
            })
            .collect(),
        registered_area_m2: p.registered_area_m2.unwrap_or(0.0),
        geometry_area_m2: p.geometry_area_m2,
        geometry: output_geometry(p.geometry.as_ref(), out)?,
        valid_from: Some(timestamp(p.valid_from)),
        valid_to: p.valid_to.map(timestamp),
        dataset_version: p.dataset_version,
    })
}

pub fn layer(l: &model::Layer) -> v1::Layer {
    v1::Layer {
        id: l.id,
        name: l.name.clone(),
        title: l.title.clone(),
        kind: layer_kind(l.kind) as i32,
        municipality_code: l.municipality_code.clone().unwrap_or_default(),
        description: l.description.clone(),
        attribution: l.attribution.clone(),
        authority: l.authority.clone().unwrap_or_default(),
        feature_count: l.feature_count,
        dataset_version: l.dataset_version.unwrap_or(0),
    }
}

pub fn feature(f: &model::Feature, out: &Output) -> Result<v1::Feature, TransformError> {
    Ok(v1::Feature {
        id: f.id,
        layer_id: f.layer_id,
        external_id: f.external_id.clone().unwrap_or_default(),
        attributes: Some(json_struct(&f.attributes)),
        geometry: output_geometry(f.geometry.as_ref(), out)?,
        valid_from: Some(timestamp(f.valid_from)),
        valid_to: f.valid_to.map(timestamp),
    })
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

    #[test]
    fn json_attributes_become_a_struct() {
        use prost_types::value::Kind;
        let v = serde_json::json!({"NIMI": "soo-neiuvaip", "n": 3, "ok": true, "none": null,
                                   "list": [1, "a"], "nested": {"x": 1.5}});
        let s = json_struct(&v);
        assert_eq!(
            s.fields["NIMI"].kind,
            Some(Kind::StringValue("soo-neiuvaip".into()))
        );
        assert_eq!(s.fields["n"].kind, Some(Kind::NumberValue(3.0)));
        assert_eq!(s.fields["ok"].kind, Some(Kind::BoolValue(true)));
        assert_eq!(s.fields["none"].kind, Some(Kind::NullValue(0)));
        let Some(Kind::ListValue(l)) = &s.fields["list"].kind else {
            panic!()
        };
        assert_eq!(l.values.len(), 2);
        let Some(Kind::StructValue(n)) = &s.fields["nested"].kind else {
            panic!()
        };
        assert_eq!(n.fields["x"].kind, Some(Kind::NumberValue(1.5)));
        assert!(json_struct(&serde_json::json!([1, 2])).fields.is_empty());
    }

    #[test]
    fn timestamps_round_trip() {
        let t = chrono::DateTime::from_timestamp(1_700_000_000, 123_000_000).unwrap();
        assert_eq!(from_timestamp("t", &timestamp(t)).unwrap(), t);
        let bad = prost_types::Timestamp {
            seconds: i64::MAX,
            nanos: 0,
        };
        assert_eq!(from_timestamp("as_of", &bad).unwrap_err().field, "as_of");
    }
}

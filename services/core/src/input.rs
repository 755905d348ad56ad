//! Turning a client's geometry into a checked EPSG:3301 geometry.
//!
//! The order of the checks is the order in which a person would want to hear about problems:
//! can it be read at all (encoding), is the CRS one we know, is it non-empty and within the size
//! cap, are the axes the right way round, is it in Estonia, and is it a valid OGC geometry (with
//! the place where it is not). Only then is it transformed to EPSG:3301. Every refusal is an
//! [`InputError`] naming the field.

use geo::{BoundingRect, CoordsIter, Geometry};
use geozero::ToGeo;
use sha2::{Digest, Sha256};

use crate::crs::{self, EPSG_LEST97, EPSG_WGS84};
use crate::{InputError, extent, validity};

/// How the geometry arrived.
#[derive(Debug, Clone, PartialEq)]
pub enum GeometryEncoding {
    GeoJson(String),
    Wkt(String),
    Wkb(Vec<u8>),
}

impl GeometryEncoding {
    /// Reads the geometry without any check beyond the encoding itself; also returns an EPSG
    /// code the value carries (EWKT/EWKB SRID, GeoJSON `crs` member).
    pub fn decode(&self) -> Result<(Geometry<f64>, Option<u32>), InputError> {
        match self {
            GeometryEncoding::GeoJson(s) => parse_geojson(s),
            GeometryEncoding::Wkt(s) => parse_wkt(s),
            GeometryEncoding::Wkb(b) => parse_wkb(b),
        }
    }

    /// Name of the proto field the encoding came in, used in error paths.
    pub fn field(&self) -> &'static str {
        match self {
            GeometryEncoding::GeoJson(_) => "geojson",
            GeometryEncoding::Wkt(_) => "wkt",
            GeometryEncoding::Wkb(_) => "wkb",
        }
    }
}

/// A geometry as a client sent it: encoding plus EPSG code (`None` = the encoding's default).
#[derive(Debug, Clone, PartialEq)]
pub struct GeometryInput {
    pub encoding: GeometryEncoding,
    pub epsg: Option<u32>,
}

/// Limits on what a client may send; configurable per deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputLimits {
    /// Most vertices a single geometry may have.
    pub max_vertices: usize,
}

impl Default for InputLimits {
    fn default() -> Self {
        Self {
            max_vertices: 100_000,
        }
    }
}

/// A checked geometry in EPSG:3301.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedGeometry {
    /// The geometry in EPSG:3301.
    pub geometry: Geometry<f64>,
    /// The CRS the client sent it in.
    pub source_epsg: u32,
}

impl ParsedGeometry {
    /// SHA-256 of the geometry's EPSG:3301 WKB, hex: identifies the normalised input in provenance.
    pub fn hash_hex(&self) -> String {
        let wkb = crate::output::to_wkb(&self.geometry);
        hex::encode(Sha256::digest(wkb))
    }
}

impl GeometryInput {
    pub fn geojson(s: impl Into<String>) -> Self {
        Self {
            encoding: GeometryEncoding::GeoJson(s.into()),
            epsg: None,
        }
    }

    pub fn wkt(s: impl Into<String>, epsg: u32) -> Self {
        Self {
            encoding: GeometryEncoding::Wkt(s.into()),
            epsg: Some(epsg),
        }
    }

    /// Parses, checks and transforms to EPSG:3301. Errors name fields relative to the geometry
    /// message (`geojson`, `wkt`, `wkb`, `epsg`).
    pub fn parse(&self, limits: &InputLimits) -> Result<ParsedGeometry, InputError> {
        let field = self.encoding.field();
        let (geometry, embedded_epsg) = self.encoding.decode()?;
        let default_epsg = match self.encoding {
            GeometryEncoding::GeoJson(_) => EPSG_WGS84,
            _ => EPSG_LEST97,
        };
        let epsg = match (self.epsg, embedded_epsg) {
            (Some(given), Some(embedded)) if given != embedded => {
                return Err(InputError::new(
                    "epsg",
                    format!(
                        "EPSG:{given} was given but the {field} value itself says EPSG:{embedded}"
                    ),
                ));
            }
            (Some(given), _) => given,
            (None, Some(embedded)) => embedded,
            (None, None) => default_epsg,
        };
        let epsg = crs::check_supported("epsg", epsg)?;
        check_geometry(&geometry, epsg, field, limits)?;

        let mut geometry = geometry;
        crs::transform(&mut geometry, epsg, EPSG_LEST97)
            .map_err(|e| InputError::new(field, format!("cannot be transformed: {e}")))?;
        // The extent in L-EST97 proper (a lon/lat box is only an approximation of it).
        if let Some(r) = geometry.bounding_rect()
            && !extent::inside_3301(&r)
        {
            return Err(outside_estonia(field, epsg));
        }
        Ok(ParsedGeometry {
            geometry,
            source_epsg: epsg,
        })
    }
}

/// The checks that do not depend on the encoding, in the client's own CRS.
fn check_geometry(
    geometry: &Geometry<f64>,
    epsg: u32,
    field: &str,
    limits: &InputLimits,
) -> Result<(), InputError> {
    let n = geometry.coords_count();
    if n == 0 {
        return Err(InputError::new(field, "geometry is empty"));
    }
    if n > limits.max_vertices {
        return Err(InputError::new(
            field,
            format!(
                "geometry has {n} vertices; at most {} are accepted — simplify it or split it",
                limits.max_vertices
            ),
        ));
    }
    if geometry
        .coords_iter()
        .any(|c| !c.x.is_finite() || !c.y.is_finite())
    {
        return Err(InputError::new(field, "coordinates must be finite numbers"));
    }
    let Some(r) = geometry.bounding_rect() else {
        return Err(InputError::new(field, "geometry is empty"));
    };
    match epsg {
        crs::EPSG_LEST97 if !extent::inside_3301(&r) => {
            if extent::swapped_3301(&r) {
                return Err(InputError::new(
                    field,
                    format!(
                        "axes look swapped: x (easting) is {:.0}, in the northing range; \
                         EPSG:3301 coordinates are (easting ≈ 282 000–735 000, \
                         northing ≈ 6 381 000–6 659 000)",
                        r.min().x
                    ),
                ));
            }
            return Err(outside_estonia(field, epsg));
        }
        e if crs::is_geographic(e) && !extent::inside_lonlat(&r) => {
            if extent::swapped_lonlat(&r) {
                return Err(InputError::new(
                    field,
                    format!(
                        "axes look swapped: the first coordinate ({:.5}) looks like a latitude; \
                         GeoJSON and EPSG:{e} here are [longitude, latitude]",
                        r.min().x
                    ),
                ));
            }
            return Err(outside_estonia(field, epsg));
        }
        _ => {} // inside, or (3857) checked after the transform
    }
    validity::check(geometry)
        .map_err(|problem| InputError::new(field, format!("invalid geometry: {problem}")))
}

fn outside_estonia(field: &str, epsg: u32) -> InputError {
    InputError::new(
        field,
        format!(
            "geometry lies outside Estonia's extent (EPSG:3301 x {:.0}–{:.0}, y {:.0}–{:.0}); \
             is EPSG:{epsg} the right CRS?",
            extent::MIN_X,
            extent::MAX_X,
            extent::MIN_Y,
            extent::MAX_Y
        ),
    )
}

/// GeoJSON geometry, Feature (its geometry) or a one-feature FeatureCollection. An old-style
/// `crs` member naming an EPSG code (as GDAL writes) is honoured.
fn parse_geojson(s: &str) -> Result<(Geometry<f64>, Option<u32>), InputError> {
    const F: &str = "geojson";
    if s.trim().is_empty() {
        return Err(InputError::new(F, "geometry is empty"));
    }
    let value: serde_json::Value =
        serde_json::from_str(s).map_err(|e| InputError::new(F, format!("not valid JSON: {e}")))?;
    let crs = value
        .get("crs")
        .and_then(|c| c.pointer("/properties/name"))
        .and_then(|n| n.as_str())
        .map(|n| {
            epsg_from_crs_name(n).ok_or_else(|| {
                InputError::new(
                    F,
                    format!("crs '{n}' is not an EPSG code kovgis understands"),
                )
            })
        })
        .transpose()?;
    let gj: geojson::GeoJson = serde_json::from_value(value)
        .map_err(|e| InputError::new(F, format!("not a GeoJSON object: {e}")))?;
    let geometry = match gj {
        geojson::GeoJson::Geometry(g) => g,
        geojson::GeoJson::Feature(f) => f
            .geometry
            .ok_or_else(|| InputError::new(F, "the Feature has no geometry"))?,
        geojson::GeoJson::FeatureCollection(fc) => {
            let mut it = fc.features.into_iter();
            match (it.next(), it.next()) {
                (Some(f), None) => f
                    .geometry
                    .ok_or_else(|| InputError::new(F, "the Feature has no geometry"))?,
                (None, _) => return Err(InputError::new(F, "geometry is empty")),
                (Some(_), Some(_)) => {
                    return Err(InputError::new(
                        F,
                        "a FeatureCollection with more than one feature is not one geometry",
                    ));
                }
            }
        }
    };
    check_positions(&geometry.value)?;
    let g: Geometry<f64> = Geometry::try_from(&geometry.value)
        .map_err(|e| InputError::new(F, format!("cannot be read: {e}")))?;
    Ok((g, crs))
}

/// GeoJSON positions must have two or three numbers; the geojson crate would index past a short
/// one, so they are checked first.
fn check_positions(value: &geojson::GeometryValue) -> Result<(), InputError> {
    use geojson::GeometryValue as V;
    let check = |p: &geojson::Position| {
        if p.len() < 2 {
            Err(InputError::new(
                "geojson",
                format!("a position has {} number(s); [x, y] needs 2", p.len()),
            ))
        } else {
            Ok(())
        }
    };
    match value {
        V::Point { coordinates } => check(coordinates),
        V::MultiPoint { coordinates } | V::LineString { coordinates } => {
            coordinates.iter().try_for_each(check)
        }
        V::MultiLineString { coordinates } | V::Polygon { coordinates } => {
            coordinates.iter().flatten().try_for_each(check)
        }
        V::MultiPolygon { coordinates } => {
            coordinates.iter().flatten().flatten().try_for_each(check)
        }
        V::GeometryCollection { geometries } => geometries
            .iter()
            .try_for_each(|g| check_positions(&g.value)),
    }
}

/// `EPSG:3301`, `urn:ogc:def:crs:EPSG::3301`, `urn:ogc:def:crs:OGC:1.3:CRS84` (= 4326).
fn epsg_from_crs_name(name: &str) -> Option<u32> {
    if name.ends_with("CRS84") {
        return Some(EPSG_WGS84);
    }
    let upper = name.to_ascii_uppercase();
    let idx = upper.rfind("EPSG")?;
    upper[idx + 4..]
        .trim_start_matches(':')
        .trim_start_matches(':')
        .parse()
        .ok()
}

/// WKT or EWKT (`SRID=3301;POINT(...)`).
fn parse_wkt(s: &str) -> Result<(Geometry<f64>, Option<u32>), InputError> {
    const F: &str = "wkt";
    let t = s.trim();
    if t.is_empty() {
        return Err(InputError::new(F, "geometry is empty"));
    }
    let (srid, body) = match t.split_once(';') {
        Some((head, body)) if head.trim().to_ascii_uppercase().starts_with("SRID=") => {
            let n = head.trim()[5..]
                .trim()
                .parse::<u32>()
                .map_err(|_| InputError::new(F, format!("'{head}' is not a valid SRID prefix")))?;
            (Some(n), body)
        }
        _ => (None, t),
    };
    if let Some(rest) = trailing_text(body) {
        return Err(InputError::new(
            F,
            format!("not valid WKT: unexpected text after the geometry: '{rest}'"),
        ));
    }
    let g = geozero::wkt::Wkt(body)
        .to_geo()
        .map_err(|e| InputError::new(F, format!("not valid WKT: {e}")))?;
    Ok((g, srid))
}

/// Text after the end of a WKT geometry (the parser below stops reading there and would ignore
/// it): after the parenthesis that closes the first one, or after `EMPTY`.
fn trailing_text(body: &str) -> Option<&str> {
    let mut depth = 0usize;
    let end = match body.find('(') {
        Some(_) => {
            let mut end = None;
            for (i, c) in body.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' if depth > 0 => {
                        depth -= 1;
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            end?
        }
        None => {
            let upper = body.to_ascii_uppercase();
            upper.find("EMPTY")? + "EMPTY".len()
        }
    };
    let rest = body[end..].trim();
    (!rest.is_empty()).then_some(rest)
}

/// ISO WKB or PostGIS EWKB (whose SRID, when present, is returned).
fn parse_wkb(b: &[u8]) -> Result<(Geometry<f64>, Option<u32>), InputError> {
    const F: &str = "wkb";
    if b.is_empty() {
        return Err(InputError::new(F, "geometry is empty"));
    }
    if b.len() < 5 || b[0] > 1 {
        return Err(InputError::new(
            F,
            "not valid WKB: too short or no byte-order mark (0 or 1) in the first byte",
        ));
    }
    let le = b[0] == 1;
    let word = |s: &[u8]| {
        let a = [s[0], s[1], s[2], s[3]];
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let ty = word(&b[1..5]);
    let srid = if ty & 0x2000_0000 != 0 {
        if b.len() < 9 {
            return Err(InputError::new(F, "not valid WKB: truncated SRID"));
        }
        Some(word(&b[5..9]))
    } else {
        None
    };
    let g = geozero::wkb::Ewkb(b)
        .to_geo()
        .map_err(|e| InputError::new(F, format!("not valid WKB: {e}")))?;
    Ok((g, srid))
}

#[cfg(test)]
#[path = "input_tests.rs"]
mod tests;

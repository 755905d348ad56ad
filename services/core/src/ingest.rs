//! Checking one imported feature's geometry: the part of a bulk import that does not depend on
//! where the feature came from (a GDAL file or a gRPC stream).
//!
//! Unlike interactive input ([`crate::input`]), an import does not stop at the first bad feature:
//! most problems skip that feature with a reason, invalid geometries are either skipped or sent
//! for repair, and only swapped axes — which make every feature of a file wrong — stop it.

use geo::{BoundingRect, Geometry};

use crate::crs::{self, EPSG_LEST97};
use crate::{extent, validity};

/// What became of a feature's geometry.
#[derive(Debug, Clone, PartialEq)]
pub enum Prepared {
    /// Valid, in EPSG:3301, normalised.
    Valid(Geometry<f64>),
    /// In EPSG:3301 but not OGC-valid: the reason, for repair or skipping.
    Invalid(Geometry<f64>, String),
}

/// Why a feature cannot be imported.
#[derive(Debug, Clone, PartialEq)]
pub enum Rejected {
    /// This feature is skipped, with the reason.
    Skip(String),
    /// The whole source is wrong (swapped axes): stop the import.
    Stop(String),
}

/// Normalises, checks and transforms one feature's geometry from `epsg` to EPSG:3301.
///
/// Normalisation: a GeometryCollection of one member is that member, and polygon rings are
/// oriented exterior counter-clockwise, holes clockwise — ring orientation is a writer's habit
/// (shapefiles store outer rings clockwise), not content, and the same parcel from two formats
/// must be the same row.
pub fn prepare(geometry: Geometry<f64>, epsg: u32) -> Result<Prepared, Rejected> {
    let mut geometry = orient(flatten_single_collection(geometry));
    let Some(rect) = geometry.bounding_rect() else {
        return Err(Rejected::Skip("empty geometry".into()));
    };
    let swapped = match epsg {
        EPSG_LEST97 => !extent::inside_3301(&rect) && extent::swapped_3301(&rect),
        e if crs::is_geographic(e) => {
            !extent::inside_lonlat(&rect) && extent::swapped_lonlat(&rect)
        }
        _ => false,
    };
    if swapped {
        return Err(Rejected::Stop(format!(
            "axes look swapped for EPSG:{epsg} (x {:.0}…{:.0}, y {:.0}…{:.0}); fix the source or its CRS",
            rect.min().x,
            rect.max().x,
            rect.min().y,
            rect.max().y
        )));
    }
    if !all_finite(&geometry) {
        return Err(Rejected::Skip("coordinates must be finite numbers".into()));
    }
    crs::transform(&mut geometry, epsg, EPSG_LEST97)
        .map_err(|e| Rejected::Skip(format!("cannot be transformed to EPSG:3301: {e}")))?;
    match geometry.bounding_rect() {
        Some(r) if extent::inside_3301(&r) => {}
        _ => return Err(Rejected::Skip("outside Estonia's extent".into())),
    }
    Ok(match validity::check(&geometry) {
        Ok(()) => Prepared::Valid(geometry),
        Err(problem) => Prepared::Invalid(geometry, format!("invalid geometry: {problem}")),
    })
}

fn all_finite(g: &Geometry<f64>) -> bool {
    use geo::CoordsIter;
    g.coords_iter().all(|c| c.x.is_finite() && c.y.is_finite())
}

fn orient(g: Geometry<f64>) -> Geometry<f64> {
    use geo::orient::{Direction, Orient};
    match g {
        Geometry::Polygon(p) => Geometry::Polygon(p.orient(Direction::Default)),
        Geometry::MultiPolygon(mp) => Geometry::MultiPolygon(mp.orient(Direction::Default)),
        other => other,
    }
}

fn flatten_single_collection(g: Geometry<f64>) -> Geometry<f64> {
    match g {
        Geometry::GeometryCollection(mut gc) if gc.0.len() == 1 => gc.0.pop().expect("one"),
        other => other,
    }
}

/// A parcel is stored as a MultiPolygon; anything but a (multi)polygon is refused.
pub fn as_multipolygon(g: Geometry<f64>) -> Result<Geometry<f64>, String> {
    match g {
        Geometry::Polygon(p) => Ok(Geometry::MultiPolygon(geo::MultiPolygon(vec![p]))),
        g @ Geometry::MultiPolygon(_) => Ok(g),
        other => Err(format!(
            "a parcel must be a polygon, not {}",
            match other {
                Geometry::Point(_) => "a Point",
                Geometry::Line(_) | Geometry::LineString(_) => "a LineString",
                Geometry::MultiPoint(_) => "a MultiPoint",
                Geometry::MultiLineString(_) => "a MultiLineString",
                Geometry::GeometryCollection(_) => "a GeometryCollection",
                _ => "another type",
            }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clockwise_shell_is_reoriented() {
        let cw: Geometry<f64> = geo::wkt!(POLYGON((546000. 6592000., 546000. 6592010., 546010. 6592010., 546010. 6592000., 546000. 6592000.))).into();
        let ccw: Geometry<f64> = geo::wkt!(POLYGON((546000. 6592000., 546010. 6592000., 546010. 6592010., 546000. 6592010., 546000. 6592000.))).into();
        let (Ok(Prepared::Valid(a)), Ok(Prepared::Valid(b))) =
            (prepare(cw, 3301), prepare(ccw, 3301))
        else {
            panic!()
        };
        use geo::Area;
        assert!(a.signed_area() > 0.0 && b.signed_area() > 0.0);
    }

    #[test]
    fn outcomes() {
        let swapped: Geometry<f64> = geo::wkt!(POINT(6592000. 546000.)).into();
        assert!(matches!(prepare(swapped, 3301), Err(Rejected::Stop(_))));
        let helsinki: Geometry<f64> = geo::wkt!(POINT(24.94 60.17)).into();
        assert_eq!(
            prepare(helsinki, 4326),
            Err(Rejected::Skip("outside Estonia's extent".into()))
        );
        let bow: Geometry<f64> = geo::wkt!(POLYGON((546000. 6592000., 546010. 6592010., 546010. 6592000., 546000. 6592010., 546000. 6592000.))).into();
        assert!(
            matches!(prepare(bow, 3301), Ok(Prepared::Invalid(_, r)) if r.contains("self-intersect"))
        );
        let line: Geometry<f64> = geo::wkt!(LINESTRING(546000. 6592000., 546010. 6592010.)).into();
        assert!(as_multipolygon(line).unwrap_err().contains("LineString"));
    }
}

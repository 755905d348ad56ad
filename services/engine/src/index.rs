//! The in-memory index the rules run on: the current parcels and every layer's features, each
//! layer in its own R-tree (rstar 0.14) of bounding boxes, built in bulk.
//!
//! An [`Index`] is immutable once built: a refresh builds a new one and swaps it in whole, so a
//! validation always sees one consistent set of versions.

use std::collections::HashMap;
use std::time::Duration;

use geo::{BoundingRect, Geometry, MultiPolygon, Rect};
use kovgis_core::model::LayerKind;
use rstar::{AABB, RTree, RTreeObject};

use crate::predicates;

/// A current parcel, as the rules need it.
#[derive(Debug, Clone)]
pub struct Parcel {
    pub code: String,
    pub municipality_code: String,
    pub geometry: MultiPolygon,
    /// `predicates::area` of the geometry, m².
    pub area: f64,
    /// One convex polygon without holes (exact clipping applies).
    pub convex: bool,
    pub bbox: Option<Rect>,
}

/// A layer as the rules need it.
#[derive(Debug, Clone)]
pub struct LayerInfo {
    pub id: i64,
    pub name: String,
    pub title: String,
    pub kind: LayerKind,
    /// `None`: a national layer.
    pub municipality_code: Option<String>,
    pub authority: Option<String>,
    /// The dataset version its features came from.
    pub version: Option<i64>,
}

/// A layer feature.
#[derive(Debug, Clone)]
pub struct Feature {
    pub id: i64,
    pub external_id: Option<String>,
    pub attributes: serde_json::Value,
    pub geometry: Geometry,
    /// Its areal part, for overlap areas (`None` for points and lines).
    pub areal: Option<MultiPolygon>,
    /// The areal part is one convex polygon without holes (exact clipping applies).
    pub convex: bool,
    pub bbox: Option<Rect>,
    /// For large polygons: the boundary in runs of [`CHUNK`] edges with their bounding boxes, so
    /// that a small proposal far from the boundary is placed inside or outside without touching
    /// most of the vertices (see [`Feature::place`]).
    chunks: Vec<Chunk>,
}

/// Edges per boundary chunk, and the vertex count from which a feature gets chunks.
const CHUNK: usize = 16;
const CHUNKED_FROM: usize = 48;

#[derive(Debug, Clone)]
struct Chunk {
    bbox: Rect,
    polygon: u32,
    ring: u32,
    start: u32,
    end: u32,
}

/// Where a proposal lies against a feature, when that can be told cheaply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Entirely inside the feature's area.
    Inside,
    /// Entirely outside it.
    Outside,
    /// The feature's boundary comes within the proposal's bounding box: compute.
    Unknown,
}

/// One bounding box in an R-tree: the index of the thing it bounds.
#[derive(Debug, Clone, Copy)]
struct Entry {
    envelope: AABB<[f64; 2]>,
    at: u32,
}

impl RTreeObject for Entry {
    type Envelope = AABB<[f64; 2]>;

    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

fn aabb(r: Rect) -> AABB<[f64; 2]> {
    AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y])
}

/// Items and the R-tree over their boxes.
#[derive(Debug)]
struct Indexed<T> {
    items: Vec<T>,
    tree: RTree<Entry>,
}

impl<T> Indexed<T> {
    fn build(items: Vec<T>, bounds: impl Fn(&T) -> Option<Rect>) -> Self {
        let entries = items
            .iter()
            .enumerate()
            .filter_map(|(at, item)| {
                bounds(item).map(|r| Entry {
                    envelope: aabb(r),
                    at: at as u32,
                })
            })
            .collect();
        Indexed {
            items,
            tree: RTree::bulk_load(entries),
        }
    }

    /// Items whose box meets `r` (a superset of those that meet the geometry).
    fn near(&self, r: Rect) -> impl Iterator<Item = &T> {
        self.tree
            .locate_in_envelope_intersecting(aabb(r))
            .map(|e| &self.items[e.at as usize])
    }
}

/// One layer and its features.
#[derive(Debug)]
pub struct Layer {
    pub info: LayerInfo,
    features: Indexed<Feature>,
}

impl Layer {
    pub fn new(info: LayerInfo, features: Vec<Feature>) -> Self {
        Layer {
            info,
            features: Indexed::build(features, |f| f.bbox),
        }
    }

    /// Features whose bounding box meets `r`.
    pub fn near(&self, r: Rect) -> impl Iterator<Item = &Feature> {
        self.features.near(r)
    }

    pub fn len(&self) -> usize {
        self.features.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.features.items.is_empty()
    }

    /// Rough resident size: coordinates, boxes and attributes.
    fn bytes(&self) -> usize {
        self.features
            .items
            .iter()
            .map(|f| {
                use geo::CoordsIter;
                f.geometry.coords_count() * 16 * if f.areal.is_some() { 2 } else { 1 }
                    + f.attributes.to_string().len()
                    + 96
            })
            .sum::<usize>()
            + self.features.tree.size() * 40
    }
}

/// What an index holds and what it cost, per layer (for logs and `GetIndexStats`).
#[derive(Debug, Clone, Default)]
pub struct IndexStats {
    pub parcels: usize,
    pub parcel_bytes: usize,
    pub layers: Vec<LayerStats>,
    pub build: Duration,
}

#[derive(Debug, Clone)]
pub struct LayerStats {
    pub layer_id: i64,
    pub name: String,
    pub municipality_code: Option<String>,
    pub features: usize,
    pub bytes: usize,
    pub version: Option<i64>,
}

/// The parcels and layers of one moment.
#[derive(Debug)]
pub struct Index {
    parcels: Indexed<Parcel>,
    by_code: HashMap<String, u32>,
    layers: Vec<Layer>,
    /// The dataset version the parcels came from.
    pub parcel_version: Option<i64>,
    pub stats: IndexStats,
}

impl Index {
    /// Builds the index. `started` is when loading began, for the stats.
    pub fn build(
        parcels: Vec<Parcel>,
        parcel_version: Option<i64>,
        layers: Vec<Layer>,
        started: std::time::Instant,
    ) -> Self {
        let by_code = parcels
            .iter()
            .enumerate()
            .map(|(i, p)| (p.code.clone(), i as u32))
            .collect();
        let parcel_bytes: usize = parcels
            .iter()
            .map(|p| {
                use geo::CoordsIter;
                p.geometry.coords_count() * 16 + p.code.len() + 120
            })
            .sum();
        let parcels = Indexed::build(parcels, |p| p.bbox);
        let stats = IndexStats {
            parcels: parcels.items.len(),
            parcel_bytes: parcel_bytes + parcels.tree.size() * 40,
            layers: layers
                .iter()
                .map(|l| LayerStats {
                    layer_id: l.info.id,
                    name: l.info.name.clone(),
                    municipality_code: l.info.municipality_code.clone(),
                    features: l.len(),
                    bytes: l.bytes(),
                    version: l.info.version,
                })
                .collect(),
            build: started.elapsed(),
        };
        Index {
            parcels,
            by_code,
            layers,
            parcel_version,
            stats,
        }
    }

    /// The current parcel with this code.
    pub fn parcel(&self, code: &str) -> Option<&Parcel> {
        self.by_code
            .get(code)
            .map(|&i| &self.parcels.items[i as usize])
    }

    /// Parcels whose bounding box meets `r`.
    pub fn parcels_near(&self, r: Rect) -> impl Iterator<Item = &Parcel> {
        self.parcels.near(r)
    }

    /// The layers of `kind` that apply in a municipality: its own and the national ones.
    pub fn layers<'a>(
        &'a self,
        kind: LayerKind,
        municipality_code: &'a str,
    ) -> impl Iterator<Item = &'a Layer> {
        self.layers.iter().filter(move |l| {
            l.info.kind == kind
                && l.info
                    .municipality_code
                    .as_deref()
                    .is_none_or(|m| m == municipality_code)
        })
    }

    pub fn all_layers(&self) -> &[Layer] {
        &self.layers
    }
}

/// A feature's areal part, for overlap areas: polygons as they are, nothing for points and lines.
pub fn areal_part(g: &Geometry) -> Option<MultiPolygon> {
    match g {
        Geometry::Polygon(p) => Some(MultiPolygon(vec![p.clone()])),
        Geometry::MultiPolygon(m) => Some(m.clone()),
        Geometry::Rect(r) => Some(MultiPolygon(vec![r.to_polygon()])),
        Geometry::Triangle(t) => Some(MultiPolygon(vec![t.to_polygon()])),
        Geometry::GeometryCollection(c) => {
            let polygons: Vec<_> = c.iter().filter_map(areal_part).flat_map(|m| m.0).collect();
            (!polygons.is_empty()).then_some(MultiPolygon(polygons))
        }
        _ => None,
    }
}

/// Boundary chunks of a large polygon (none for small ones).
fn chunks_of(m: &MultiPolygon) -> Vec<Chunk> {
    use geo::CoordsIter;
    if m.coords_count() < CHUNKED_FROM {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (pi, polygon) in m.0.iter().enumerate() {
        for (ri, ring) in std::iter::once(polygon.exterior())
            .chain(polygon.interiors())
            .enumerate()
        {
            let n = ring.0.len();
            let mut start = 0;
            while start + 1 < n {
                let end = (start + CHUNK).min(n - 1);
                let pts = &ring.0[start..=end];
                let (mut lo, mut hi) = (pts[0], pts[0]);
                for c in pts {
                    lo = geo::Coord {
                        x: lo.x.min(c.x),
                        y: lo.y.min(c.y),
                    };
                    hi = geo::Coord {
                        x: hi.x.max(c.x),
                        y: hi.y.max(c.y),
                    };
                }
                out.push(Chunk {
                    bbox: Rect::new(lo, hi),
                    polygon: pi as u32,
                    ring: ri as u32,
                    start: start as u32,
                    end: end as u32,
                });
                start = end;
            }
        }
    }
    out
}

impl Parcel {
    pub fn new(code: String, municipality_code: String, geometry: MultiPolygon) -> Self {
        let area = predicates::area(&geometry);
        let convex = predicates::convex_ring(&geometry).is_some();
        let bbox = geometry.bounding_rect();
        Parcel {
            code,
            municipality_code,
            geometry,
            area,
            convex,
            bbox,
        }
    }
}

impl Feature {
    pub fn new(
        id: i64,
        external_id: Option<String>,
        attributes: serde_json::Value,
        geometry: Geometry,
    ) -> Self {
        let areal = areal_part(&geometry);
        let chunks = areal.as_ref().map(chunks_of).unwrap_or_default();
        let convex = areal
            .as_ref()
            .is_some_and(|a| predicates::convex_ring(a).is_some());
        let bbox = geometry.bounding_rect();
        Feature {
            id,
            external_id,
            attributes,
            geometry,
            areal,
            convex,
            bbox,
            chunks,
        }
    }

    /// Places a proposal (its bounding box and one of its vertices) against the feature's area:
    /// when no boundary chunk reaches into the box, the proposal is wholly inside or wholly
    /// outside, and a ray cast from the vertex over the chunks it can cross tells which.
    pub fn place(&self, bbox: Rect, vertex: geo::Coord) -> Placement {
        let Some(areal) = &self.areal else {
            return Placement::Unknown;
        };
        if self.chunks.is_empty() {
            return Placement::Unknown;
        }
        let meets = |a: &Rect| {
            a.min().x <= bbox.max().x
                && bbox.min().x <= a.max().x
                && a.min().y <= bbox.max().y
                && bbox.min().y <= a.max().y
        };
        if self.chunks.iter().any(|c| meets(&c.bbox)) {
            return Placement::Unknown;
        }
        let (px, py) = (vertex.x, vertex.y);
        let mut inside = false;
        for c in &self.chunks {
            if c.bbox.max().x < px || c.bbox.min().y > py || c.bbox.max().y < py {
                continue;
            }
            let polygon = &areal.0[c.polygon as usize];
            let ring = if c.ring == 0 {
                polygon.exterior()
            } else {
                &polygon.interiors()[c.ring as usize - 1]
            };
            for w in ring.0[c.start as usize..=c.end as usize].windows(2) {
                let (a, b) = (w[0], w[1]);
                if (a.y > py) != (b.y > py) {
                    let x = a.x + (py - a.y) / (b.y - a.y) * (b.x - a.x);
                    if px < x {
                        inside = !inside;
                    }
                }
            }
        }
        if inside {
            Placement::Inside
        } else {
            Placement::Outside
        }
    }

    /// A display name: the attribute `name_et` / `name` / `plan_name` / `monument`, else the id.
    pub fn name(&self) -> String {
        ["name_et", "name", "plan_name", "monument", "designation"]
            .iter()
            .find_map(|k| self.attributes.get(k).and_then(|v| v.as_str()))
            .map(str::to_owned)
            .or_else(|| self.external_id.clone())
            .unwrap_or_else(|| self.id.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Coord, LineString, Polygon};

    fn ring(cx: f64, cy: f64, r: f64, n: usize) -> LineString {
        let mut pts: Vec<Coord> = (0..n)
            .map(|i| {
                let a = i as f64 / n as f64 * std::f64::consts::TAU;
                Coord {
                    x: cx + r * a.cos(),
                    y: cy + r * a.sin(),
                }
            })
            .collect();
        pts.push(pts[0]);
        LineString(pts)
    }

    fn rect(x: f64, y: f64, side: f64) -> Rect {
        Rect::new(
            Coord { x, y },
            Coord {
                x: x + side,
                y: y + side,
            },
        )
    }

    #[test]
    fn large_features_place_small_proposals_without_clipping() {
        // A 1 km disc of 200 vertices with a 200 m hole in the middle.
        let disc = Polygon::new(
            ring(0.0, 0.0, 1000.0, 200),
            vec![ring(0.0, 0.0, 200.0, 100)],
        );
        let f = Feature::new(1, None, serde_json::Value::Null, Geometry::Polygon(disc));
        let place = |x: f64, y: f64| f.place(rect(x, y, 10.0), Coord { x, y });
        assert_eq!(place(500.0, 0.0), Placement::Inside);
        assert_eq!(place(0.0, 500.0), Placement::Inside);
        assert_eq!(place(0.0, 0.0), Placement::Outside, "in the hole");
        assert_eq!(place(2000.0, 0.0), Placement::Outside);
        assert_eq!(place(-1500.0, -1500.0), Placement::Outside);
        assert_eq!(place(995.0, 0.0), Placement::Unknown, "across the boundary");
        assert_eq!(
            place(195.0, 0.0),
            Placement::Unknown,
            "across the hole's boundary"
        );
        // Small features are always computed.
        let small = Feature::new(
            2,
            None,
            serde_json::Value::Null,
            Geometry::Polygon(Polygon::new(ring(0.0, 0.0, 100.0, 8), vec![])),
        );
        assert_eq!(
            small.place(rect(0.0, 0.0, 1.0), Coord { x: 0.0, y: 0.0 }),
            Placement::Unknown
        );
    }
}

//! The records kovgis serves: municipalities, parcels, layers and features.
//!
//! Plain data, shared by the store (which reads them from PostGIS) and the API crate (which turns
//! them into proto messages). Geometries are EPSG:3301.

use chrono::{DateTime, Utc};
use geo::Geometry;

/// A local government (KOV), the tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct Municipality {
    /// EHAK code, 4 digits.
    pub code: String,
    pub name: String,
    pub population: Option<u32>,
    pub area_m2: f64,
    pub boundary: Option<Geometry<f64>>,
}

/// One intended use of a parcel and its share in percent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntendedUse {
    pub code: String,
    pub percent: u32,
}

/// A cadastral parcel (katastriüksus), one version of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Parcel {
    pub cadastral_code: String,
    pub municipality_code: String,
    pub address: Option<String>,
    pub intended_uses: Vec<IntendedUse>,
    pub registered_area_m2: Option<f64>,
    pub geometry_area_m2: f64,
    pub geometry: Option<Geometry<f64>>,
    pub valid_from: DateTime<Utc>,
    pub valid_to: Option<DateTime<Utc>>,
    pub dataset_version: i64,
}

/// What a layer holds; decides which rules use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LayerKind {
    Zoning,
    Restriction,
    Building,
    DetailedPlan,
    Other,
}

impl LayerKind {
    pub const ALL: [LayerKind; 5] = [
        LayerKind::Zoning,
        LayerKind::Restriction,
        LayerKind::Building,
        LayerKind::DetailedPlan,
        LayerKind::Other,
    ];

    /// The name used in the database enum `layer_kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            LayerKind::Zoning => "zoning",
            LayerKind::Restriction => "restriction",
            LayerKind::Building => "building",
            LayerKind::DetailedPlan => "detailed_plan",
            LayerKind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A layer: national (no municipality) or one municipality's.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    pub id: i64,
    pub name: String,
    pub title: String,
    pub kind: LayerKind,
    pub municipality_code: Option<String>,
    pub description: String,
    pub attribution: String,
    pub authority: Option<String>,
    /// Current features; 0 where the store was asked not to count them (`Store::get_layer`).
    pub feature_count: u64,
    pub dataset_version: Option<i64>,
}

/// A feature of a layer, one version of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    pub id: i64,
    pub layer_id: i64,
    pub external_id: Option<String>,
    pub attributes: serde_json::Value,
    pub geometry: Option<Geometry<f64>>,
    pub valid_from: DateTime<Utc>,
    pub valid_to: Option<DateTime<Utc>>,
}

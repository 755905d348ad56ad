//! `kovgis-core` model rows → `kovgis.v1` resources (municipalities, parcels, layers, features),
//! and layer kinds both ways.

use kovgis_core::crs::TransformError;
use kovgis_core::{InputError, model};

use super::{Output, json_struct, output_geometry, timestamp};
use crate::v1;

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

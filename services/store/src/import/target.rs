//! What an import writes to: the national cadastre, or one layer (created or updated here on
//! its first import). Not how rows get there (see the merge modules).

use deadpool_postgres::Object;
use kovgis_core::model::LayerKind;

use crate::StoreError;

/// What an import replaces or adds to.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportTarget {
    /// The national cadastre (`parcel`).
    Parcels,
    /// One layer, created on first import.
    Layer(LayerSpec),
}

/// A layer as an import names it.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSpec {
    /// Owning municipality; `None` for a national layer.
    pub municipality_code: Option<String>,
    pub name: String,
    pub title: String,
    pub kind: LayerKind,
    pub description: String,
    pub attribution: String,
    pub authority: Option<String>,
    /// Whether features carry a stable external id to merge on. Without one, a replace import
    /// closes all current features and inserts the file's.
    pub keyed: bool,
}

impl ImportTarget {
    pub(super) fn key(&self) -> String {
        match self {
            ImportTarget::Parcels => "parcels".into(),
            ImportTarget::Layer(l) => format!(
                "layer:{}:{}",
                l.municipality_code.as_deref().unwrap_or("national"),
                l.name
            ),
        }
    }

    /// `dataset_version.target` of its versions.
    pub(super) fn version_target(&self) -> &'static str {
        match self {
            ImportTarget::Parcels => "parcels",
            ImportTarget::Layer(_) => "layer",
        }
    }

    /// The stage's key column: named as in the target table.
    pub(super) fn stage_key(&self) -> &'static str {
        match self {
            ImportTarget::Parcels => "cadastral_code",
            ImportTarget::Layer(_) => "external_id",
        }
    }

    /// Human name for messages.
    pub fn describe(&self) -> String {
        match self {
            ImportTarget::Parcels => "the cadastre".into(),
            ImportTarget::Layer(l) => format!(
                "layer '{}' of {}",
                l.name,
                l.municipality_code.as_deref().unwrap_or("national data")
            ),
        }
    }
}

/// Creates or updates the layer `spec` names; returns its id and the authority it has now (the
/// import's, else the one it had).
pub(super) async fn upsert_layer(
    c: &Object,
    spec: &LayerSpec,
) -> Result<(i64, Option<String>), StoreError> {
    // The rule of resource names, so that every layer's name can be asked for by it.
    if !kovgis_core::names::is_machine_name(&spec.name) {
        return Err(StoreError::Invalid(format!(
            "layer name '{}' must be 1–{} lower-case letters, digits, '-' and '_', starting with a \
             letter or digit",
            spec.name,
            kovgis_core::names::MAX_NAME_LEN
        )));
    }
    let row = c
        .query_one(
            "INSERT INTO layer (municipality_code, name, title, kind, description, attribution, authority)
             VALUES ($1, $2, $3, $4::text::layer_kind, $5, $6, $7)
             ON CONFLICT (municipality_code, name) DO UPDATE
                 SET title = EXCLUDED.title, kind = EXCLUDED.kind,
                     description = CASE WHEN EXCLUDED.description = '' THEN layer.description ELSE EXCLUDED.description END,
                     attribution = CASE WHEN EXCLUDED.attribution = '' THEN layer.attribution ELSE EXCLUDED.attribution END,
                     authority = coalesce(EXCLUDED.authority, layer.authority)
             RETURNING id, authority",
            &[
                &spec.municipality_code,
                &spec.name,
                &spec.title,
                &spec.kind.as_str(),
                &spec.description,
                &spec.attribution,
                &spec.authority,
            ],
        )
        .await
        .map_err(|e| match e.as_db_error().map(|d| d.code().code()) {
            Some("23503") => StoreError::Invalid(format!(
                "municipality {} does not exist",
                spec.municipality_code.as_deref().unwrap_or("")
            )),
            Some("23514") => StoreError::Invalid(format!(
                "layer name '{}' must be lower-case letters, digits, '-' and '_'",
                spec.name
            )),
            _ => StoreError::Postgres(e, "creating the layer"),
        })?;
    Ok((row.get(0), row.get(1)))
}

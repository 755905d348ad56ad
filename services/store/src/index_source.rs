//! What the validation engine's in-memory index is built from: the current parcels, the layers
//! with their current features, and the validation rules — streamed out of PostGIS in bulk, as a
//! [`Caller`] (the index builder and history reads run as system callers with reach all).

use chrono::NaiveDate;
use futures_util::TryStreamExt;
use geo::Geometry;
use kovgis_core::model::LayerKind;

use crate::caller::begin;
use crate::geometry::from_wkb;
use crate::{Caller, Store, StoreError};

/// A current parcel.
#[derive(Debug, Clone)]
pub struct IndexParcel {
    pub code: String,
    pub municipality_code: String,
    pub geometry: Geometry,
}

/// A layer.
#[derive(Debug, Clone)]
pub struct IndexLayer {
    pub id: i64,
    pub name: String,
    pub title: String,
    pub kind: LayerKind,
    pub municipality_code: Option<String>,
    pub authority: Option<String>,
    /// The newest dataset version its features came from.
    pub version: Option<i64>,
}

/// A current feature of a layer.
#[derive(Debug, Clone)]
pub struct IndexFeature {
    pub layer_id: i64,
    pub id: i64,
    pub external_id: Option<String>,
    pub attributes: serde_json::Value,
    pub geometry: Geometry,
}

/// One version of a validation rule (migration 0006).
#[derive(Debug, Clone)]
pub struct RuleRow {
    pub code: String,
    pub version: i32,
    pub municipality_code: Option<String>,
    pub severity: String,
    pub procedures: Vec<String>,
    pub params: serde_json::Value,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    /// Who created this version (migration 0008).
    pub author: String,
    pub description: String,
    /// When this version was created (migration 0008).
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Everything an index is built from, read in one repeatable-read snapshot.
#[derive(Debug, Default)]
pub struct IndexSource {
    pub parcels: Vec<IndexParcel>,
    /// The newest cadastre dataset version.
    pub parcel_version: Option<i64>,
    pub layers: Vec<IndexLayer>,
    pub features: Vec<IndexFeature>,
    pub rules: Vec<RuleRow>,
    /// EHAK codes of the municipalities.
    pub municipalities: Vec<String>,
    /// When the newest dataset version was imported: an index built from this source answers
    /// for dates from then on.
    pub newest_version_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The newest re-check request (migration 0013) whose change this snapshot holds: an index
    /// built from it may run the re-checks up to it.
    pub recheck_horizon: i64,
    /// `Some`: a refresh ([`Store::index_source_since`]) — no parcels were read, and features
    /// only of these layers (the others are as the index holds them). `None`: everything.
    pub refreshed_layers: Option<Vec<i64>>,
}

/// What an index already holds, so that a refresh reads only what changed since.
pub struct Held<'a> {
    /// The cadastre version of its parcels: while it is still the newest, no parcel is read.
    pub parcel_version: Option<i64>,
    /// Whether a layer as it is now must be read (new, or not as the index holds it).
    pub stale: &'a (dyn Fn(&IndexLayer) -> bool + Sync),
}

/// A historical window: the rows in force at `at` whose geometry meets `bbox`
/// ([min x, min y, max x, max y], EPSG:3301).
#[derive(Debug, Clone, Copy)]
pub struct AsOf {
    pub at: chrono::DateTime<chrono::Utc>,
    pub bbox: [f64; 4],
}

/// The columns [`rule_row`] reads, in its order.
pub(crate) const RULE_COLUMNS: &str =
    "code, version, municipality_code::text, severity, procedures, params,
     valid_from, valid_to, author, description, created_at";

pub(crate) fn rule_row(r: &tokio_postgres::Row) -> RuleRow {
    RuleRow {
        code: r.get(0),
        version: r.get(1),
        municipality_code: r.get(2),
        severity: r.get(3),
        procedures: r.get(4),
        params: r.get(5),
        valid_from: r.get(6),
        valid_to: r.get(7),
        author: r.get(8),
        description: r.get(9),
        created_at: r.get(10),
    }
}

fn pg(context: &'static str) -> impl FnOnce(tokio_postgres::Error) -> StoreError {
    StoreError::pg(context)
}

impl Store {
    /// Reads the current parcels, layers, features and rules in one snapshot.
    pub async fn index_source(&self, caller: &Caller) -> Result<IndexSource, StoreError> {
        self.read_source(caller, None, None).await
    }

    /// What changed since an index was built, in one snapshot: the layers, and the features of
    /// those `held` calls stale; the rules and versions as for a build; and everything, parcels
    /// too, when the cadastre has a newer version than `held`'s (see
    /// [`IndexSource::refreshed_layers`]).
    pub async fn index_source_since(
        &self,
        caller: &Caller,
        held: &Held<'_>,
    ) -> Result<IndexSource, StoreError> {
        self.read_source(caller, None, Some(held)).await
    }

    /// The same as [`Store::index_source`], for the rows in force at a past moment within a
    /// window (`None`: current, everywhere). Validation falls back to this for dates before the
    /// loaded index.
    pub async fn index_source_at(
        &self,
        caller: &Caller,
        as_of: Option<AsOf>,
    ) -> Result<IndexSource, StoreError> {
        self.read_source(caller, as_of, None).await
    }

    async fn read_source(
        &self,
        caller: &Caller,
        as_of: Option<AsOf>,
        held: Option<&Held<'_>>,
    ) -> Result<IndexSource, StoreError> {
        use tokio_postgres::types::ToSql;
        // A refresh is of the current rows only: its layer filter takes the place of `as_of`'s
        // parameters.
        assert!(
            held.is_none() || as_of.is_none(),
            "a refresh of a past moment"
        );
        // The whole index is bulk work; a window of the past answers one call.
        let client = match as_of {
            None => self.pool.get().await?,
            Some(_) => self.queries.get().await?,
        };
        let scoped = begin(
            client,
            caller,
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        )
        .await?;
        let tx = scoped.client();
        let mut source = IndexSource::default();
        // Rows in force (now, or at $1 within the envelope $2..$5).
        let (in_force, params): (&str, Vec<&(dyn ToSql + Sync)>) = match &as_of {
            None => ("valid_to IS NULL", Vec::new()),
            Some(a) => (
                "valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1)
                 AND geom && ST_MakeEnvelope($2, $3, $4, $5, 3301)",
                vec![&a.at, &a.bbox[0], &a.bbox[1], &a.bbox[2], &a.bbox[3]],
            ),
        };

        let at = as_of.map(|a| a.at);
        source.parcel_version = tx
            .query_one(
                "SELECT max(id) FROM dataset_version
                 WHERE target = 'parcels' AND ($1::timestamptz IS NULL OR imported_at <= $1)",
                &[&at],
            )
            .await
            .map_err(pg("reading the cadastre version"))?
            .get(0);
        // A refresh while the parcels are the newest; else everything.
        let held = held.filter(|h| h.parcel_version == source.parcel_version);
        if held.is_none() {
            let rows = tx
                .query_raw(
                    &format!(
                        "SELECT cadastral_code, municipality_code::text, ST_AsBinary(geom)
                         FROM parcel WHERE {in_force}"
                    ),
                    params.iter().copied(),
                )
                .await
                .map_err(pg("reading parcels for the index"))?;
            let mut rows = std::pin::pin!(rows);
            while let Some(r) = rows
                .try_next()
                .await
                .map_err(pg("reading parcels for the index"))?
            {
                source.parcels.push(IndexParcel {
                    code: r.get(0),
                    municipality_code: r.get(1),
                    geometry: from_wkb(r.get(2))?,
                });
            }
        }
        source.newest_version_at = tx
            .query_one("SELECT max(imported_at) FROM dataset_version", &[])
            .await
            .map_err(pg("reading the newest dataset version"))?
            .get(0);
        // The newest re-check request this snapshot holds the data of (migration 0013).
        source.recheck_horizon = tx
            .query_one("SELECT coalesce(max(id), 0) FROM recheck_request", &[])
            .await
            .map_err(pg("reading the re-check horizon"))?
            .get(0);

        for r in tx
            .query(
                "SELECT l.id, l.name, l.title, l.kind::text, l.municipality_code::text, l.authority,
                        CASE WHEN $1::timestamptz IS NULL THEN
                            coalesce(l.current_version_id,
                                     (SELECT max(f.dataset_version_id) FROM feature f WHERE f.layer_id = l.id))
                        ELSE (SELECT max(f.dataset_version_id) FROM feature f
                              WHERE f.layer_id = l.id AND f.valid_from <= $1) END
                 FROM layer l ORDER BY l.id",
                &[&at],
            )
            .await
            .map_err(pg("reading layers for the index"))?
        {
            source.layers.push(IndexLayer {
                id: r.get(0),
                name: r.get(1),
                title: r.get(2),
                kind: LayerKind::parse(r.get(3)).unwrap_or(LayerKind::Other),
                municipality_code: r.get(4),
                authority: r.get(5),
                version: r.get(6),
            });
        }

        // A refresh reads the features of the stale layers only.
        let stale: Option<Vec<i64>> = held.map(|h| {
            source
                .layers
                .iter()
                .filter(|l| (h.stale)(l))
                .map(|l| l.id)
                .collect()
        });
        let (which, params) = match &stale {
            None => (String::new(), params),
            Some(ids) => (
                " AND layer_id = ANY($1)".to_owned(),
                vec![ids as &(dyn ToSql + Sync)],
            ),
        };
        let rows = tx
            .query_raw(
                &format!(
                    "SELECT layer_id, id, external_id, attributes, ST_AsBinary(geom)
                     FROM feature WHERE {in_force}{which}"
                ),
                params.iter().copied(),
            )
            .await
            .map_err(pg("reading features for the index"))?;
        let mut rows = std::pin::pin!(rows);
        while let Some(r) = rows
            .try_next()
            .await
            .map_err(pg("reading features for the index"))?
        {
            source.features.push(IndexFeature {
                layer_id: r.get(0),
                id: r.get(1),
                external_id: r.get(2),
                attributes: r.get(3),
                geometry: from_wkb(r.get(4))?,
            });
        }

        for r in tx
            .query(
                &format!("SELECT {RULE_COLUMNS} FROM validation_rule ORDER BY code, valid_from"),
                &[],
            )
            .await
            .map_err(pg("reading validation rules"))?
        {
            source.rules.push(rule_row(&r));
        }
        source.municipalities = tx
            .query("SELECT municipality_code::text FROM municipality", &[])
            .await
            .map_err(pg("reading municipality codes"))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        scoped.commit().await?;
        source.refreshed_layers = stale;
        Ok(source)
    }
}

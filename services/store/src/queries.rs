//! The read queries of SpatialService.
//!
//! SQL lives in `sql/*.sql` (long statements read better there) and runs through
//! `prepare_cached`. Only current rows (`valid_to IS NULL`) are served unless a time is given.
//! Every query runs as its [`Caller`] (see [`crate::caller`]): row-level security, not these
//! statements, keeps another municipality's rows out.

use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use geo::Geometry;
use kovgis_core::model::{Feature, IntendedUse, Layer, LayerKind, Municipality, Parcel};
use tokio_postgres::Row;

use crate::caller::{read_once, stream_once};
use crate::geometry::{from_wkb, to_wkb};
use crate::{Caller, Store, StoreError};

/// A page of `find_parcels`.
#[derive(Debug, Clone)]
pub struct ParcelPage {
    pub parcels: Vec<Parcel>,
    /// The cadastral code to continue after, when there are more.
    pub next_after: Option<String>,
}

/// What `find_parcels` looks for: current parcels intersecting `geometry`.
#[derive(Debug, Clone)]
pub struct ParcelQuery {
    /// EPSG:3301.
    pub geometry: Geometry<f64>,
    pub municipality_code: Option<String>,
    /// Continue after this cadastral code (keyset paging).
    pub after: Option<String>,
    pub limit: usize,
    pub with_geometry: bool,
}

fn opt_geometry(row: &Row, idx: &str) -> Result<Option<Geometry<f64>>, StoreError> {
    row.get::<_, Option<&[u8]>>(idx).map(from_wkb).transpose()
}

fn municipality(row: &Row) -> Result<Municipality, StoreError> {
    Ok(Municipality {
        code: row.get("municipality_code"),
        name: row.get("name"),
        population: row.get::<_, Option<i32>>("population").map(|p| p as u32),
        area_m2: row.get("area_m2"),
        boundary: opt_geometry(row, "wkb")?,
    })
}

fn parcel(row: &Row) -> Result<Parcel, StoreError> {
    let mut intended_uses = Vec::new();
    for (code, pct) in [
        ("use1_code", "use1_pct"),
        ("use2_code", "use2_pct"),
        ("use3_code", "use3_pct"),
    ] {
        if let Some(code) = row.get::<_, Option<String>>(code) {
            let percent = row.get::<_, Option<i16>>(pct).unwrap_or(0).max(0) as u32;
            intended_uses.push(IntendedUse { code, percent });
        }
    }
    Ok(Parcel {
        cadastral_code: row.get("cadastral_code"),
        municipality_code: row.get("municipality_code"),
        address: row.get("address"),
        intended_uses,
        registered_area_m2: row.get("registered_area_m2"),
        geometry_area_m2: row.get("area_m2"),
        geometry: opt_geometry(row, "wkb")?,
        valid_from: row.get("valid_from"),
        valid_to: row.get("valid_to"),
        dataset_version: row.get("dataset_version_id"),
    })
}

fn layer(row: &Row) -> Result<Layer, StoreError> {
    let kind: String = row.get("kind");
    Ok(Layer {
        id: row.get("id"),
        name: row.get("name"),
        title: row.get("title"),
        kind: LayerKind::parse(&kind)
            .ok_or_else(|| StoreError::Geometry(format!("unknown layer kind {kind}")))?,
        municipality_code: row.get("municipality_code"),
        description: row.get("description"),
        attribution: row.get("attribution"),
        authority: row.get("authority"),
        feature_count: row
            .get::<_, Option<i64>>("feature_count")
            .unwrap_or(0)
            .max(0) as u64,
        dataset_version: row.get("current_version_id"),
    })
}

fn feature(row: &Row) -> Result<Feature, StoreError> {
    Ok(Feature {
        id: row.get("id"),
        layer_id: row.get("layer_id"),
        external_id: row.get("external_id"),
        attributes: row.get("attributes"),
        geometry: opt_geometry(row, "wkb")?,
        valid_from: row.get("valid_from"),
        valid_to: row.get("valid_to"),
    })
}

impl Store {
    /// Municipalities by EHAK code, at most `limit` after the code `after`.
    pub async fn list_municipalities(
        &self,
        caller: &Caller,
        with_boundary: bool,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Municipality>, StoreError> {
        let rows = self
            .query_as(
                caller,
                include_str!("sql/municipalities.sql"),
                &[&with_boundary, &None::<String>, &after, &limit],
            )
            .await?;
        rows.iter().map(municipality).collect()
    }

    /// One municipality by EHAK code.
    pub async fn get_municipality(
        &self,
        caller: &Caller,
        code: &str,
        with_boundary: bool,
    ) -> Result<Option<Municipality>, StoreError> {
        let rows = self
            .query_as(
                caller,
                include_str!("sql/municipalities.sql"),
                &[&with_boundary, &Some(code), &None::<String>, &1i64],
            )
            .await?;
        rows.first().map(municipality).transpose()
    }

    /// The municipality holding `geometry` (EPSG:3301), or the largest part of it, with that
    /// part's share (by count for points, length for lines, area for polygons).
    pub async fn locate_municipality(
        &self,
        caller: &Caller,
        geometry: &Geometry<f64>,
    ) -> Result<Option<(Municipality, f64)>, StoreError> {
        let rows = self
            .query_as(
                caller,
                include_str!("sql/locate_municipality.sql"),
                &[&to_wkb(geometry)],
            )
            .await?;
        rows.into_iter()
            .next()
            .map(|r| Ok((municipality(&r)?, r.get::<_, f64>("share"))))
            .transpose()
    }

    /// A parcel by cadastral code: the current version, or the one in force at `as_of`.
    pub async fn get_parcel(
        &self,
        caller: &Caller,
        cadastral_code: &str,
        as_of: Option<DateTime<Utc>>,
        with_geometry: bool,
    ) -> Result<Option<Parcel>, StoreError> {
        let rows = self
            .query_as(
                caller,
                include_str!("sql/get_parcel.sql"),
                &[&cadastral_code, &as_of, &with_geometry],
            )
            .await?;
        rows.first().map(parcel).transpose()
    }

    /// Current parcels intersecting the query geometry, ordered by cadastral code.
    pub async fn find_parcels(
        &self,
        caller: &Caller,
        q: &ParcelQuery,
    ) -> Result<ParcelPage, StoreError> {
        let limit = q.limit as i64 + 1;
        let rows = self
            .query_as(
                caller,
                include_str!("sql/find_parcels.sql"),
                &[
                    &to_wkb(&q.geometry),
                    &q.municipality_code,
                    &q.after,
                    &limit,
                    &q.with_geometry,
                ],
            )
            .await?;
        let mut parcels = rows.iter().map(parcel).collect::<Result<Vec<_>, _>>()?;
        let next_after = if parcels.len() > q.limit {
            parcels.truncate(q.limit);
            parcels.last().map(|p| p.cadastral_code.clone())
        } else {
            None
        };
        Ok(ParcelPage {
            parcels,
            next_after,
        })
    }

    /// Layers visible to a municipality: its own and the national ones.
    pub async fn list_layers(
        &self,
        caller: &Caller,
        municipality_code: &str,
        kind: Option<LayerKind>,
    ) -> Result<Vec<Layer>, StoreError> {
        self.layers(
            caller,
            Some(municipality_code),
            kind.map(LayerKind::as_str),
            None,
            None,
            true,
        )
        .await
    }

    /// One layer by id, without its feature count (`feature_count` 0: counting reads the
    /// whole layer).
    pub async fn get_layer(&self, caller: &Caller, id: i64) -> Result<Option<Layer>, StoreError> {
        Ok(self
            .layers(caller, None, None, Some(id), None, false)
            .await?
            .pop())
    }

    /// The layer named `name` owned by `municipality_code` (`None`: the national one), without
    /// its feature count (`feature_count` 0).
    pub async fn get_layer_by_name(
        &self,
        caller: &Caller,
        municipality_code: Option<&str>,
        name: &str,
    ) -> Result<Option<Layer>, StoreError> {
        Ok(self
            .layers(caller, municipality_code, None, None, Some(name), false)
            .await?
            .pop())
    }

    /// `sql/list_layers.sql` with its four optional filters, counting features or not.
    async fn layers(
        &self,
        caller: &Caller,
        municipality_code: Option<&str>,
        kind: Option<&str>,
        id: Option<i64>,
        name: Option<&str>,
        count: bool,
    ) -> Result<Vec<Layer>, StoreError> {
        let rows = self
            .query_as(
                caller,
                include_str!("sql/list_layers.sql"),
                &[&municipality_code, &kind, &id, &name, &count],
            )
            .await?;
        rows.iter().map(layer).collect()
    }

    /// Current features of a layer intersecting `geometry` (all when `None`), in id order after
    /// feature id `after`, at most `limit`, as a stream read from the server as it is consumed.
    pub async fn query_features(
        &self,
        caller: &Caller,
        layer_id: i64,
        geometry: Option<&Geometry<f64>>,
        after: Option<i64>,
        limit: i64,
        with_geometry: bool,
    ) -> Result<impl Stream<Item = Result<Feature, StoreError>> + Send + 'static, StoreError> {
        let client = self.queries.get().await?;
        let wkb = geometry.map(to_wkb);
        let params: Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>> = vec![
            Box::new(layer_id),
            Box::new(wkb),
            Box::new(limit),
            Box::new(with_geometry),
            Box::new(after),
        ];
        let (tx, rows) = stream_once(
            client,
            caller,
            include_str!("sql/query_features.sql"),
            params,
        )
        .await?;
        // The transaction (and its pooled connection) lives as long as the row stream reading
        // from it; dropping the stream ends it.
        Ok(rows.map(move |r| {
            let _keep = &tx;
            r.map_err(StoreError::pg("reading features"))
                .and_then(|row| feature(&row))
        }))
    }

    /// One statement as `caller`, in a read-only transaction whose caller settings travel in
    /// the same round trip: the path every read of the services takes, public for tools and for
    /// the tests that prove row-level security through it.
    pub async fn query_as(
        &self,
        caller: &Caller,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        read_once(self.queries.get().await?, caller, sql, params).await
    }
}

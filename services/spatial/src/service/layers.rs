//! `ListLayers` and `QueryFeatures` (features streamed as PostGIS returns them).

use futures::StreamExt;
use kovgis_api::convert;
use kovgis_api::v1;
use kovgis_api::v1::spatial_service_server::SpatialService;
use kovgis_core::InputError;
use kovgis_core::codes::parse_municipality_code;
use tonic::Status;

use super::{Result, SpatialApi};
use crate::ServiceError;

/// Most features one `QueryFeatures` call streams.
const MAX_FEATURES: u32 = 100_000;

type FeatureStream = <SpatialApi as SpatialService>::QueryFeaturesStream;

pub(super) async fn list(
    api: &SpatialApi,
    req: v1::ListLayersRequest,
) -> std::result::Result<v1::ListLayersResponse, Status> {
    let run = async {
        let code = parse_municipality_code("municipality_code", &req.municipality_code)?;
        let kind = convert::layer_kind_filter("kind", req.kind)?;
        if api.store.get_municipality(&code, false).await?.is_none() {
            return Err(ServiceError::NotFound(format!(
                "no municipality with EHAK code {code}"
            )));
        }
        let layers = api.store.list_layers(&code, kind).await?;
        Result::Ok(v1::ListLayersResponse {
            layers: layers.iter().map(convert::layer).collect(),
        })
    };
    Ok(run.await?)
}

pub(super) async fn query_features(
    api: &SpatialApi,
    req: v1::QueryFeaturesRequest,
) -> std::result::Result<FeatureStream, Status> {
    let run = async {
        if req.layer_id <= 0 {
            return Err(
                InputError::new("layer_id", "a layer id (from ListLayers) is required").into(),
            );
        }
        let geometry = req
            .intersects
            .as_ref()
            .map(|g| api.geometry("intersects", Some(g)))
            .transpose()?;
        let out = convert::output("output", req.output.as_ref())?;
        if req.limit > MAX_FEATURES {
            return Err(InputError::new(
                "limit",
                format!("at most {MAX_FEATURES} features per call"),
            )
            .into());
        }
        let limit = if req.limit == 0 {
            MAX_FEATURES
        } else {
            req.limit
        };
        api.store
            .get_layer(req.layer_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no layer {}", req.layer_id)))?;
        let rows = api
            .store
            .query_features(
                req.layer_id,
                geometry.as_ref().map(|g| &g.geometry),
                limit as i64,
                !out.omit_geometry,
            )
            .await?;
        let stream = rows.map(move |r| {
            let f = r.map_err(ServiceError::from)?;
            convert::feature(&f, &out).map_err(|e| Status::from(ServiceError::from(e)))
        });
        Result::Ok(Box::pin(stream) as FeatureStream)
    };
    Ok(run.await?)
}

//! The `SpatialService` handlers: [`SpatialApi`] holds what they share (the store, the input
//! limits, the validation index) and implements the generated trait by handing each call to the
//! module of its resource.
//!
//! Requests are read with `kovgis_api::convert`; no proto ↔ domain conversion is written here.

mod import;
mod layers;
mod municipalities;
mod parcels;
mod validate;

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use kovgis_api::page_token::PageTokenKey;
use kovgis_api::v1;
use kovgis_api::v1::spatial_service_server::SpatialService;
use kovgis_core::{InputError, InputLimits, ParsedGeometry};
use kovgis_store::Store;
use tonic::{Request, Response, Status};

use crate::ServiceError;
use crate::validation::{Built, IndexHandle};

/// SpatialService over a [`Store`] and the validation index.
#[derive(Debug, Clone)]
pub struct SpatialApi {
    store: Store,
    limits: InputLimits,
    /// Signs and checks the page tokens of every listing.
    tokens: PageTokenKey,
    /// How long an import stream may be silent, and take.
    import_limits: import::StreamLimits,
    index: IndexHandle,
}

type Result<T> = std::result::Result<T, ServiceError>;

impl SpatialApi {
    pub fn new(store: Store, config: &crate::Config, index: IndexHandle) -> Self {
        Self {
            store,
            limits: config.limits,
            tokens: config.page_tokens.clone(),
            import_limits: import::StreamLimits {
                idle: config.import_idle_timeout,
                total: config.import_total_timeout,
            },
            index,
        }
    }

    /// The validation index, or UNAVAILABLE while the first one is being built.
    fn built(&self) -> Result<Arc<Built>> {
        self.index.current().ok_or_else(|| {
            ServiceError::Unavailable("the validation index is being built; try again".into())
        })
    }

    /// Parses and checks a request geometry; errors are prefixed with `field`.
    fn geometry(
        &self,
        field: &str,
        g: Option<&v1::Geometry>,
    ) -> std::result::Result<ParsedGeometry, InputError> {
        kovgis_api::convert::geometry(field, g, &self.limits)
    }
}

#[tonic::async_trait]
impl SpatialService for SpatialApi {
    async fn list_municipalities(
        &self,
        request: Request<v1::ListMunicipalitiesRequest>,
    ) -> std::result::Result<Response<v1::ListMunicipalitiesResponse>, Status> {
        municipalities::list(self, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn get_municipality(
        &self,
        request: Request<v1::GetMunicipalityRequest>,
    ) -> std::result::Result<Response<v1::Municipality>, Status> {
        municipalities::get(self, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn locate_municipality(
        &self,
        request: Request<v1::LocateMunicipalityRequest>,
    ) -> std::result::Result<Response<v1::LocateMunicipalityResponse>, Status> {
        municipalities::locate(self, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn get_parcel(
        &self,
        request: Request<v1::GetParcelRequest>,
    ) -> std::result::Result<Response<v1::Parcel>, Status> {
        parcels::get(self, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn find_parcels(
        &self,
        request: Request<v1::FindParcelsRequest>,
    ) -> std::result::Result<Response<v1::FindParcelsResponse>, Status> {
        parcels::find(self, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn list_layers(
        &self,
        request: Request<v1::ListLayersRequest>,
    ) -> std::result::Result<Response<v1::ListLayersResponse>, Status> {
        layers::list(self, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn validate_geometry(
        &self,
        request: Request<v1::ValidateGeometryRequest>,
    ) -> std::result::Result<Response<v1::ValidationReport>, Status> {
        validate::one(self, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn validate_geometries(
        &self,
        request: Request<v1::ValidateGeometriesRequest>,
    ) -> std::result::Result<Response<v1::ValidateGeometriesResponse>, Status> {
        validate::batch(self, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn get_index_stats(
        &self,
        _request: Request<v1::GetIndexStatsRequest>,
    ) -> std::result::Result<Response<v1::IndexStats>, Status> {
        validate::index_stats(self).map(Response::new)
    }

    async fn import_features(
        &self,
        request: Request<tonic::Streaming<v1::ImportFeaturesRequest>>,
    ) -> std::result::Result<Response<v1::ImportFeaturesResponse>, Status> {
        let response = import::run(&self.store, request.into_inner(), self.import_limits).await?;
        Ok(Response::new(response))
    }

    type QueryFeaturesStream =
        Pin<Box<dyn Stream<Item = std::result::Result<v1::QueryFeaturesResponse, Status>> + Send>>;

    async fn query_features(
        &self,
        request: Request<v1::QueryFeaturesRequest>,
    ) -> std::result::Result<Response<Self::QueryFeaturesStream>, Status> {
        layers::query_features(self, request.into_inner())
            .await
            .map(Response::new)
    }
}

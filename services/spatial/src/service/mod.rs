//! The `SpatialService` handlers: [`SpatialApi`] holds what they share (the store, the input
//! and request limits, the validation index, the heavy pool, the caps on streams and imports)
//! and implements the generated trait by handing each call, within its deadline and panic
//! boundary (`crate::call`), to the module of its resource.
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
use kovgis_core::{InputLimits, ParsedGeometry};
use kovgis_store::Store;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::{Request, Response, Status};

use crate::admission::{Admission, Cost};
use crate::call::{Calls, Hook};
use crate::validation::{Built, IndexHandle};
use crate::{RequestLimits, ServiceError};

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
    requests: RequestLimits,
    calls: Arc<Calls>,
    admission: Admission,
    /// `QueryFeatures` streams reading the database, and imports: one permit each.
    streams: Arc<Semaphore>,
    stream_stall: std::time::Duration,
    imports: Arc<Semaphore>,
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
            requests: config.requests,
            calls: Calls::new(&config.server),
            admission: Admission::new(config.admission),
            streams: Arc::new(Semaphore::new(config.server.max_feature_streams.max(1))),
            stream_stall: config.server.feature_stream_stall,
            imports: Arc::new(Semaphore::new(config.server.max_imports.max(1))),
        }
    }

    /// A place for one more call of a capped kind, or `RESOURCE_EXHAUSTED` with `reason`.
    fn slot(
        cap: &Arc<Semaphore>,
        reason: &'static str,
        what: &str,
    ) -> Result<OwnedSemaphorePermit> {
        cap.clone()
            .try_acquire_owned()
            .map_err(|_| ServiceError::TooMany {
                reason,
                message: format!("too many {what} at once; try again shortly"),
            })
    }

    /// Reads one procedure again into the index of other procedures (upserted, or removed when
    /// it no longer counts): what a ProcedureService in this process calls right after its own
    /// commit, so that its next check sees it without waiting for the notification that every
    /// instance receives.
    pub async fn refresh_procedure(
        &self,
        municipality_code: &str,
        id: &str,
    ) -> std::result::Result<(), kovgis_store::StoreError> {
        self.index
            .procedures()
            .refresh(&self.store, municipality_code, id)
            .await
    }

    /// The validation index, or UNAVAILABLE while the first one is being built.
    /// The newest re-check request the index in use holds the change of (`None` until the
    /// first build): the ProcedureService's re-checks wait for it.
    pub fn recheck_horizon(&self) -> Option<i64> {
        self.index.current().map(|b| b.recheck_horizon)
    }

    fn built(&self) -> Result<Arc<Built>> {
        self.index.current().ok_or_else(|| {
            ServiceError::Unavailable("the validation index is being built; try again".into())
        })
    }

    /// Parses and checks a request geometry (errors are prefixed with `field`), admitted by
    /// cost: a large geometry is read (its validity checked, transformed)
    /// and hashed (the SHA-256 of its WKB, for page tokens) in the heavy pool.
    async fn geometry_admitted(
        &self,
        field: &'static str,
        g: Option<&v1::Geometry>,
    ) -> Result<(ParsedGeometry, String)> {
        let read = |limits, g: Option<&v1::Geometry>| {
            let parsed = kovgis_api::convert::geometry(field, g, &limits)?;
            let hash = parsed.hash_hex();
            Ok((parsed, hash))
        };
        match self.admission.geometry_cost(g) {
            Cost::Light => read(self.limits, g),
            Cost::Heavy => {
                let (limits, g) = (self.limits, g.cloned());
                self.admission
                    .heavy("a large geometry", move || read(limits, g.as_ref()))
                    .await
            }
        }
    }
}

/// Runs a unary handler within the call boundary (deadline, concurrency, panics).
macro_rules! unary {
    ($self:ident, $method:literal, $request:ident, $handler:path) => {{
        let hook = Hook::of(&$request);
        let caller =
            crate::access::Access::of($request.extensions(), concat!("SpatialService/", $method))?;
        let request = $request.into_inner();
        $self
            .calls
            .run(
                $method,
                hook.scope(async move {
                    hook.fire().await;
                    $handler($self, &caller, request).await
                }),
            )
            .await
            .map(Response::new)
    }};
}

#[tonic::async_trait]
impl SpatialService for SpatialApi {
    async fn list_municipalities(
        &self,
        request: Request<v1::ListMunicipalitiesRequest>,
    ) -> std::result::Result<Response<v1::ListMunicipalitiesResponse>, Status> {
        unary!(self, "ListMunicipalities", request, municipalities::list)
    }

    async fn get_municipality(
        &self,
        request: Request<v1::GetMunicipalityRequest>,
    ) -> std::result::Result<Response<v1::Municipality>, Status> {
        unary!(self, "GetMunicipality", request, municipalities::get)
    }

    async fn locate_municipality(
        &self,
        request: Request<v1::LocateMunicipalityRequest>,
    ) -> std::result::Result<Response<v1::LocateMunicipalityResponse>, Status> {
        unary!(self, "LocateMunicipality", request, municipalities::locate)
    }

    async fn get_parcel(
        &self,
        request: Request<v1::GetParcelRequest>,
    ) -> std::result::Result<Response<v1::Parcel>, Status> {
        unary!(self, "GetParcel", request, parcels::get)
    }

    async fn find_parcels(
        &self,
        request: Request<v1::FindParcelsRequest>,
    ) -> std::result::Result<Response<v1::FindParcelsResponse>, Status> {
        unary!(self, "FindParcels", request, parcels::find)
    }

    async fn list_layers(
        &self,
        request: Request<v1::ListLayersRequest>,
    ) -> std::result::Result<Response<v1::ListLayersResponse>, Status> {
        unary!(self, "ListLayers", request, layers::list)
    }

    async fn validate_geometry(
        &self,
        request: Request<v1::ValidateGeometryRequest>,
    ) -> std::result::Result<Response<v1::ValidationReport>, Status> {
        unary!(self, "ValidateGeometry", request, validate::one)
    }

    async fn validate_geometries(
        &self,
        request: Request<v1::ValidateGeometriesRequest>,
    ) -> std::result::Result<Response<v1::ValidateGeometriesResponse>, Status> {
        unary!(self, "ValidateGeometries", request, validate::batch)
    }

    async fn get_index_stats(
        &self,
        request: Request<v1::GetIndexStatsRequest>,
    ) -> std::result::Result<Response<v1::IndexStats>, Status> {
        unary!(self, "GetIndexStats", request, validate::index_stats)
    }

    async fn import_features(
        &self,
        request: Request<tonic::Streaming<v1::ImportFeaturesRequest>>,
    ) -> std::result::Result<Response<v1::ImportFeaturesResponse>, Status> {
        // No call deadline: an import lasts as long as its stream (each message within the
        // idle timeout). Capped in number, as each holds a database connection.
        let hook = Hook::of(&request);
        let caller =
            crate::access::Access::of(request.extensions(), "SpatialService/ImportFeatures")?;
        let stream = request.into_inner();
        self.calls
            .run_unbounded("ImportFeatures", async move {
                hook.fire().await;
                let _slot = Self::slot(&self.imports, "TOO_MANY_IMPORTS", "imports")?;
                Ok(import::run(self, &caller, stream).await?)
            })
            .await
            .map(Response::new)
    }

    type QueryFeaturesStream =
        Pin<Box<dyn Stream<Item = std::result::Result<v1::QueryFeaturesResponse, Status>> + Send>>;

    async fn query_features(
        &self,
        request: Request<v1::QueryFeaturesRequest>,
    ) -> std::result::Result<Response<Self::QueryFeaturesStream>, Status> {
        unary!(self, "QueryFeatures", request, layers::query_features)
    }
}

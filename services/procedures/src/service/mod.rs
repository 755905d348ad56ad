//! The `ProcedureService` handlers, one file per group: [`create`] (create, update a draft),
//! [`read`] (get, list, history, public notices, delivery failures), [`submit`] (submission
//! with the spatial check, overrides), [`steps`] (every other step of a workflow), and
//! [`change`], the one way a step is made.
//!
//! Every call runs within the per-call deadline (`DEADLINE_EXCEEDED`).

mod change;
mod create;
mod read;
mod steps;
mod submit;

pub(crate) use submit::check_request;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kovgis_api::page_token::PageTokenKey;
use kovgis_api::v1;
use kovgis_api::v1::procedure_service_server::ProcedureService;
use kovgis_core::InputLimits;
use kovgis_core::workflow::Workflow;
use kovgis_spatial::ServiceError;
use kovgis_store::{Caller, Store};
use tonic::{Request, Response, Status};

use crate::{Now, SpatialChecker};

type Result<T> = std::result::Result<T, Status>;

/// A store error as a status.
pub(crate) fn store_status(e: kovgis_store::StoreError) -> Status {
    ServiceError::Store(e).into()
}

/// The ProcedureService: the store, the spatial checker, the clock, and the workflows it has
/// loaded (a workflow version is never changed in place, so it is cached by id for good).
#[derive(Debug, Clone)]
pub struct ProcedureApi {
    pub(crate) store: Store,
    pub(crate) checker: Arc<dyn SpatialChecker>,
    pub(crate) now: Arc<dyn Now>,
    limits: InputLimits,
    tokens: PageTokenKey,
    call_timeout: Duration,
    workflows: Arc<Mutex<HashMap<i64, Arc<Workflow>>>>,
    pub(crate) recheck: crate::recheck::RecheckConfig,
    /// The one reader of new events that every watcher of this process shares (started by the
    /// first watcher).
    pub(crate) feed: Arc<tokio::sync::OnceCell<crate::watch::Feed>>,
    pub(crate) watch: crate::watch::WatchConfig,
}

impl ProcedureApi {
    /// A service over `store`, checking geometries with `checker`, reading time from `now`;
    /// page tokens are signed with `tokens` (shared by every instance), calls end after
    /// `call_timeout`.
    pub fn new(
        store: Store,
        checker: Arc<dyn SpatialChecker>,
        now: Arc<dyn Now>,
        limits: InputLimits,
        tokens: PageTokenKey,
        call_timeout: Duration,
    ) -> ProcedureApi {
        ProcedureApi {
            store,
            checker,
            now,
            limits,
            tokens,
            call_timeout,
            workflows: Arc::default(),
            recheck: Default::default(),
            feed: Arc::default(),
            watch: Default::default(),
        }
    }

    /// The same service with re-checks configured by `config`.
    pub fn with_recheck(mut self, config: crate::recheck::RecheckConfig) -> ProcedureApi {
        self.recheck = config;
        self
    }

    /// The same service with watchers bounded by `config`.
    pub fn with_watch(mut self, config: crate::watch::WatchConfig) -> ProcedureApi {
        self.watch = config;
        self
    }

    /// The workflow version `id`, loaded once (for the background jobs).
    pub(crate) async fn workflow_of(&self, id: i64) -> Result<Arc<Workflow>> {
        self.workflow(id).await
    }

    /// The workflow version `id`, loaded once.
    async fn workflow(&self, id: i64) -> Result<Arc<Workflow>> {
        if let Some(w) = self
            .workflows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
        {
            return Ok(w.clone());
        }
        // Workflows are public configuration: read as the service, so that a caller who sees
        // the procedure but not its municipality's tables (an authority) gets its workflow too.
        let v = self
            .store
            .workflow_version(&Caller::system("workflows"), id)
            .await
            .map_err(ServiceError::from)?;
        let w = Arc::new(v.workflow);
        self.workflows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, w.clone());
        Ok(w)
    }

    /// Runs a handler within the call deadline.
    async fn bounded<T>(
        &self,
        method: &str,
        handler: impl Future<Output = Result<T>>,
    ) -> Result<Response<T>> {
        match tokio::time::timeout(self.call_timeout, handler).await {
            Ok(r) => r.map(Response::new),
            Err(_) => Err(ServiceError::Deadline(format!(
                "{method} did not finish within {:.1} s",
                self.call_timeout.as_secs_f64()
            ))
            .into()),
        }
    }
}

#[tonic::async_trait]
impl ProcedureService for ProcedureApi {
    type WatchProceduresStream = crate::watch::WatchStream;

    async fn watch_procedures(
        &self,
        request: Request<v1::WatchProceduresRequest>,
    ) -> Result<Response<Self::WatchProceduresStream>> {
        // Only the setup is bounded by the call deadline: the stream lasts while the client
        // listens.
        self.bounded("WatchProcedures", self.watch_procedures(request))
            .await
    }

    async fn create_procedure(
        &self,
        request: Request<v1::CreateProcedureRequest>,
    ) -> Result<Response<v1::Procedure>> {
        self.bounded("create_procedure", self.create(request)).await
    }

    async fn get_procedure(
        &self,
        request: Request<v1::GetProcedureRequest>,
    ) -> Result<Response<v1::Procedure>> {
        self.bounded("get_procedure", self.get(request)).await
    }

    async fn list_procedures(
        &self,
        request: Request<v1::ListProceduresRequest>,
    ) -> Result<Response<v1::ListProceduresResponse>> {
        self.bounded("list_procedures", self.list(request)).await
    }

    async fn update_draft(
        &self,
        request: Request<v1::UpdateDraftRequest>,
    ) -> Result<Response<v1::Procedure>> {
        self.bounded("update_draft", self.update_draft(request))
            .await
    }

    async fn submit_procedure(
        &self,
        request: Request<v1::SubmitProcedureRequest>,
    ) -> Result<Response<v1::Procedure>> {
        self.bounded("submit_procedure", self.submit(request)).await
    }

    async fn override_finding(
        &self,
        request: Request<v1::OverrideFindingRequest>,
    ) -> Result<Response<v1::Procedure>> {
        self.bounded("override_finding", self.override_finding(request))
            .await
    }

    async fn assign_procedure(
        &self,
        request: Request<v1::AssignProcedureRequest>,
    ) -> Result<Response<v1::Procedure>> {
        self.bounded("assign_procedure", self.assign(request)).await
    }

    async fn request_coordination(
        &self,
        request: Request<v1::RequestCoordinationRequest>,
    ) -> Result<Response<v1::Procedure>> {
        self.bounded("request_coordination", self.request_coordination(request))
            .await
    }

    async fn record_coordination_response(
        &self,
        request: Request<v1::RecordCoordinationResponseRequest>,
    ) -> Result<Response<v1::Procedure>> {
        self.bounded(
            "record_coordination_response",
            self.record_response(request),
        )
        .await
    }

    async fn start_public_display(
        &self,
        request: Request<v1::StartPublicDisplayRequest>,
    ) -> Result<Response<v1::Procedure>> {
        self.bounded("start_public_display", self.start_display(request))
            .await
    }

    async fn record_public_opinion(
        &self,
        request: Request<v1::RecordPublicOpinionRequest>,
    ) -> Result<Response<v1::Procedure>> {
        self.bounded("record_public_opinion", self.record_opinion(request))
            .await
    }

    async fn end_public_display(
        &self,
        request: Request<v1::EndPublicDisplayRequest>,
    ) -> Result<Response<v1::Procedure>> {
        self.bounded("end_public_display", self.end_display(request))
            .await
    }

    async fn pause_clock(
        &self,
        request: Request<v1::PauseClockRequest>,
    ) -> Result<Response<v1::Procedure>> {
        self.bounded("pause_clock", self.pause(request)).await
    }

    async fn resume_clock(
        &self,
        request: Request<v1::ResumeClockRequest>,
    ) -> Result<Response<v1::Procedure>> {
        self.bounded("resume_clock", self.resume(request)).await
    }

    async fn advance_plan(
        &self,
        request: Request<v1::AdvancePlanRequest>,
    ) -> Result<Response<v1::Procedure>> {
        self.bounded("advance_plan", self.advance_plan(request))
            .await
    }

    async fn decide(&self, request: Request<v1::DecideRequest>) -> Result<Response<v1::Procedure>> {
        self.bounded("decide", self.decide_(request)).await
    }

    async fn withdraw(
        &self,
        request: Request<v1::WithdrawRequest>,
    ) -> Result<Response<v1::Procedure>> {
        self.bounded("withdraw", self.withdraw_(request)).await
    }

    async fn get_procedure_history(
        &self,
        request: Request<v1::GetProcedureHistoryRequest>,
    ) -> Result<Response<v1::GetProcedureHistoryResponse>> {
        self.bounded("get_procedure_history", self.history(request))
            .await
    }

    async fn list_public_notices(
        &self,
        request: Request<v1::ListPublicNoticesRequest>,
    ) -> Result<Response<v1::ListPublicNoticesResponse>> {
        self.bounded("list_public_notices", self.public_notices(request))
            .await
    }

    async fn list_delivery_failures(
        &self,
        request: Request<v1::ListDeliveryFailuresRequest>,
    ) -> Result<Response<v1::ListDeliveryFailuresResponse>> {
        self.bounded("list_delivery_failures", self.delivery_failures(request))
            .await
    }
}

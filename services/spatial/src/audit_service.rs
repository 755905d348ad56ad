//! `AuditService`: `ListDataUsage`, the data tracker's question "who used my data, when, and
//! what for", answered from the append-only audit trail — to the person themself (the personal
//! code of their identity) or to the data-tracker scope. The answer is itself a use of the
//! person's data and is recorded as one.

use kovgis_api::convert;
use kovgis_api::v1;
use kovgis_api::v1::audit_service_server::AuditService;
use kovgis_auth::is_valid_personal_code;
use kovgis_core::InputError;
use kovgis_store::{AuditAction, AuditEvent, Store};
use tonic::{Request, Response, Status};

use crate::ServiceError;
use crate::access::Access;

const RPC: &str = "AuditService/ListDataUsage";

/// AuditService over a [`Store`].
#[derive(Debug, Clone)]
pub struct AuditApi {
    store: Store,
}

impl AuditApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

async fn data_usage(
    store: &Store,
    access: &Access,
    req: v1::ListDataUsageRequest,
) -> Result<v1::ListDataUsageResponse, ServiceError> {
    let code = req.personal_code.trim();
    if !is_valid_personal_code(code) {
        return Err(InputError::new(
            "personal_code",
            "not an Estonian personal code (11 digits with a valid check digit)",
        )
        .into());
    }
    if !access.grant.may_see_person(code) {
        return Err(access.refuse("only the person themself or the data tracker may ask".into()));
    }
    let from = req
        .from
        .as_ref()
        .ok_or_else(|| InputError::new("from", "required"))?;
    let to = req
        .to
        .as_ref()
        .ok_or_else(|| InputError::new("to", "required"))?;
    let (from, to) = (
        convert::from_timestamp("from", from)?,
        convert::from_timestamp("to", to)?,
    );
    if to <= from {
        return Err(InputError::new("to", "must be after from").into());
    }
    let uses = store
        .list_data_usage(&access.caller, code, from, to)
        .await?;
    store
        .audit(
            &access.caller,
            &AuditEvent {
                municipality_code: access.caller.municipality.clone(),
                rpc: RPC.into(),
                action: AuditAction::Read,
                entity_kind: "data_usage".into(),
                entity_id: code.into(),
                person_code: Some(code.into()),
                purpose: Some("data tracker".into()),
                details: serde_json::json!({
                    "from": from.to_rfc3339(),
                    "to": to.to_rfc3339(),
                    "uses": uses.len(),
                }),
            },
        )
        .await?;
    Ok(v1::ListDataUsageResponse {
        uses: uses
            .into_iter()
            .map(|u| v1::DataUse {
                used_at: Some(convert::timestamp(u.at)),
                action: u.action,
                receiver_subject: u.receiver_subject,
                receiver_institution: u.receiver_municipality.unwrap_or_default(),
                data: format!("{} {}", u.entity_kind, u.entity_id),
                rpc: u.rpc,
                purpose: u.purpose.unwrap_or_default(),
            })
            .collect(),
    })
}

#[tonic::async_trait]
impl AuditService for AuditApi {
    async fn list_data_usage(
        &self,
        request: Request<v1::ListDataUsageRequest>,
    ) -> Result<Response<v1::ListDataUsageResponse>, Status> {
        let access = Access::of(request.extensions(), RPC)?;
        Ok(Response::new(
            data_usage(&self.store, &access, request.into_inner()).await?,
        ))
    }
}

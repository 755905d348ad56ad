//! `GetProcedure`, `ListProcedures`, `GetProcedureHistory`, `ListPublicNotices` and
//! `ListDeliveryFailures`.
//!
//! A procedure names its applicant, so `GetProcedure` and the history are audited reads of
//! the applicant's data. `ListProcedures` gives each procedure without its applicant (no
//! personal data in a list, so a list is not a read of anyone's data) and without the outlines
//! of its report's findings; open one to see them.
//! `ListPublicNotices` runs without identity and reads no personal data at all.

use kovgis_api::page_token::{Filter, page_size};
use kovgis_api::v1;
use kovgis_core::InputError;
use kovgis_spatial::ServiceError;
use kovgis_store::procedures::{ListFilter, ListSort};
use prost::Message;
use tonic::Request;

use super::change::{input, parse_name, store};
use super::{ProcedureApi, Result};
use crate::contents::{self, type_name};
use crate::view;
use crate::who::Who;

/// Page sizes of `ListProcedures`.
pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 200;

impl ProcedureApi {
    pub(super) async fn get(
        &self,
        request: Request<v1::GetProcedureRequest>,
    ) -> Result<v1::Procedure> {
        let who = Who::of(request.extensions(), "GetProcedure")?;
        let req = request.get_ref();
        let key = parse_name("name", &req.name).map_err(input)?;
        let purpose = req.purpose.trim();
        if purpose.chars().count() > 200 {
            return Err(input(InputError::new("purpose", "at most 200 characters")));
        }
        self.type_visible(&who, &key).await?;
        let row = self
            .store
            .get_procedure(
                &who.caller,
                &key,
                "kovgis.v1.ProcedureService/GetProcedure",
                (!purpose.is_empty()).then_some(purpose),
            )
            .await
            .map_err(store)?;
        let workflow = self.workflow(row.workflow_id).await?;
        Ok(view::procedure(&row, &workflow, &who.actor, self.now.now()))
    }

    /// A state system limited to some procedure types (`kovgis:procedures:<type>`) sees the
    /// others as not there: checked before an audited read, so that no read is recorded of
    /// what it was not given.
    async fn type_visible(
        &self,
        who: &Who,
        key: &kovgis_store::procedures::ProcedureKey,
    ) -> Result<()> {
        if who.types.is_none() {
            return Ok(());
        }
        let row = self
            .store
            .load_procedure(&who.caller, key)
            .await
            .map_err(store)?;
        if who.may_type(&row.procedure_type) {
            Ok(())
        } else {
            Err(store(kovgis_store::StoreError::NotFound(format!(
                "{} not found",
                key.name()
            ))))
        }
    }

    pub(super) async fn list(
        &self,
        request: Request<v1::ListProceduresRequest>,
    ) -> Result<v1::ListProceduresResponse> {
        let who = Who::of(request.extensions(), "ListProcedures")?;
        let req = request.get_ref();
        let municipality = kovgis_core::codes::parse_municipality_code(
            "municipality_code",
            &req.municipality_code,
        )
        .map_err(input)?;
        let procedure_type = match req.r#type {
            0 => None,
            t => Some(type_name(t).ok_or_else(|| {
                input(InputError::new(
                    "type",
                    format!("unknown procedure type {t}"),
                ))
            })?),
        };
        if let Some(types) = &who.types
            && !procedure_type.is_some_and(|t| types.iter().any(|x| x == t))
        {
            return Err(ServiceError::Denied {
                reason: "NOT_ALLOWED",
                message: format!(
                    "this caller lists only procedures of type {}: set type",
                    types.join(", ")
                ),
            }
            .into());
        }
        let sort = match v1::ProcedureSort::try_from(req.sort) {
            Ok(v1::ProcedureSort::CreatedDesc) => ListSort::CreatedDesc,
            Ok(v1::ProcedureSort::CreatedAsc) => ListSort::CreatedAsc,
            Ok(v1::ProcedureSort::DeadlineAsc) => ListSort::DeadlineAsc,
            _ => {
                return Err(input(InputError::new(
                    "sort",
                    "required: PROCEDURE_SORT_CREATED_DESC, _CREATED_ASC or _DEADLINE_ASC",
                )));
            }
        };
        // Unset is the whole procedure, as before views existed (nothing more is shown).
        let basic = match v1::ProcedureView::try_from(req.view) {
            Ok(v1::ProcedureView::Basic) => true,
            Ok(v1::ProcedureView::Full | v1::ProcedureView::Unspecified) => false,
            Err(_) => {
                return Err(input(InputError::new(
                    "view",
                    format!("unknown view {}", req.view),
                )));
            }
        };
        let area = match (&req.intersects, &req.bbox) {
            (Some(_), Some(_)) => {
                return Err(input(InputError::new(
                    "bbox",
                    "give intersects or bbox, not both",
                )));
            }
            (Some(g), None) => Some(
                kovgis_api::convert::geometry("intersects", Some(g), &self.limits)
                    .map_err(input)?
                    .geometry,
            ),
            (None, Some(b)) => Some(
                kovgis_api::convert::bbox(b, &self.limits)
                    .map_err(input)?
                    .geometry,
            ),
            (None, None) => None,
        };
        let word = |field: &str, v: &str| -> Result<Option<String>> {
            let v = v.trim();
            if v.chars().count() > 200 {
                return Err(input(InputError::new(field, "at most 200 characters")));
            }
            Ok((!v.is_empty()).then(|| v.to_owned()))
        };
        let due_before = match req.due_before.trim() {
            "" => None,
            d => Some(contents::date("due_before", d).map_err(input)?),
        };
        let today = kovgis_core::tallinn::date(self.now.now());
        // Every field that selects rows goes into the page token's filter.
        let mut plain = req.clone();
        plain.page_size = 0;
        plain.page_token.clear();
        let filter = Filter::builder("ListProcedures")
            .part(&plain.encode_to_vec())
            .part(
                if req.overdue_only {
                    today.to_string()
                } else {
                    String::new()
                }
                .as_bytes(),
            )
            .finish();
        let after = self.tokens.open(&filter, &req.page_token).map_err(input)?;
        let limit = page_size(req.page_size.max(0) as u32, DEFAULT_PAGE, MAX_PAGE);
        let page = self
            .store
            .list_procedures(
                &who.caller,
                &ListFilter {
                    municipality_code: municipality,
                    procedure_type: procedure_type.map(str::to_owned),
                    state: word("state", &req.state)?,
                    assigned_official: word("assigned_official", &req.assigned_official)?,
                    overdue_on: req.overdue_only.then_some(today),
                    due_before,
                    text: word("text", &req.text)?,
                    area,
                    sort,
                    after,
                    limit,
                    basic,
                },
            )
            .await
            .map_err(store)?;
        let now = self.now.now();
        let mut procedures = Vec::with_capacity(page.procedures.len());
        for row in &page.procedures {
            let workflow = self.workflow(row.workflow_id).await?;
            let mut p = view::procedure(row, &workflow, &who.actor, now);
            // No personal data in a list, and no finding outlines (a list stays small; the
            // procedure itself has them).
            if let Some(c) = p.contents.as_mut() {
                c.applicant = None;
            }
            if let Some(r) = p.report.as_mut() {
                for f in &mut r.findings {
                    f.geometry = None;
                }
            }
            if basic {
                // The report's verdict and id, from their columns (no report was read).
                p.report = row.report_id.as_ref().map(|id| v1::ValidationReport {
                    verdict: row
                        .verdict
                        .as_deref()
                        .and_then(v1::Verdict::from_str_name)
                        .unwrap_or_default() as i32,
                    report_id: id.clone(),
                    ..Default::default()
                });
            }
            procedures.push(p);
        }
        Ok(v1::ListProceduresResponse {
            procedures,
            next_page_token: page
                .next
                .map(|c| self.tokens.seal(&filter, &c))
                .unwrap_or_default(),
        })
    }

    pub(super) async fn history(
        &self,
        request: Request<v1::GetProcedureHistoryRequest>,
    ) -> Result<v1::GetProcedureHistoryResponse> {
        let who = Who::of(request.extensions(), "GetProcedureHistory")?;
        let key = parse_name("name", &request.get_ref().name).map_err(input)?;
        self.type_visible(&who, &key).await?;
        let events = self
            .store
            .procedure_history(
                &who.caller,
                &key,
                "kovgis.v1.ProcedureService/GetProcedureHistory",
            )
            .await
            .map_err(store)?;
        Ok(v1::GetProcedureHistoryResponse {
            events: events
                .into_iter()
                .map(|e| v1::ProcedureEvent {
                    sequence: e.seq as i32,
                    at: Some(kovgis_api::convert::timestamp(e.at)),
                    by: e.subject,
                    action: e.action,
                    state_before: e.state_before,
                    state_after: e.state_after,
                    version_after: e.seq,
                    changes_json: e.changes.to_string(),
                    note: e.note,
                })
                .collect(),
        })
    }

    pub(super) async fn public_notices(
        &self,
        request: Request<v1::ListPublicNoticesRequest>,
    ) -> Result<v1::ListPublicNoticesResponse> {
        let req = request.get_ref();
        let municipality = match req.municipality_code.trim() {
            "" => None,
            m => Some(
                kovgis_core::codes::parse_municipality_code("municipality_code", m)
                    .map_err(input)?,
            ),
        };
        let today = kovgis_core::tallinn::date(self.now.now());
        let rows = self
            .store
            .public_notices(municipality.as_deref(), today)
            .await
            .map_err(store)?;
        Ok(v1::ListPublicNoticesResponse {
            notices: rows
                .into_iter()
                .map(|n| v1::PublicNotice {
                    name: n.key.name(),
                    municipality_code: n.key.municipality_code,
                    r#type: contents::type_of(&n.procedure_type) as i32,
                    description: n.description,
                    geometry_geojson: n.geometry_geojson,
                    display_period: Some(v1::DatePeriod {
                        first_day: n.display.0.to_string(),
                        last_day: n.display.1.to_string(),
                    }),
                })
                .collect(),
        })
    }

    pub(super) async fn delivery_failures(
        &self,
        request: Request<v1::ListDeliveryFailuresRequest>,
    ) -> Result<v1::ListDeliveryFailuresResponse> {
        let who = Who::of(request.extensions(), "ListDeliveryFailures")?;
        let m = kovgis_core::codes::parse_municipality_code(
            "municipality_code",
            &request.get_ref().municipality_code,
        )
        .map_err(input)?;
        let rows = self
            .store
            .delivery_failures(&who.caller, &m)
            .await
            .map_err(store)?;
        Ok(v1::ListDeliveryFailuresResponse {
            failures: rows
                .into_iter()
                .map(|f| v1::DeliveryFailure {
                    id: f.id,
                    procedure: f.procedure.name(),
                    authority: f.authority,
                    kind: f.kind,
                    attempts: f.attempts,
                    last_error: f.last_error,
                    failed_at: Some(kovgis_api::convert::timestamp(f.failed_at)),
                })
                .collect(),
        })
    }
}

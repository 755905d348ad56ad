//! `CreateProcedure` (idempotent by key) and `UpdateDraft`.

use kovgis_api::v1;
use kovgis_core::InputError;
use kovgis_core::workflow::INITIAL_STATE;
use kovgis_spatial::ServiceError;
use kovgis_store::Reach;
use kovgis_store::procedures::{Contents, NewProcedure, Set};
use prost::Message;
use serde_json::json;
use sha2::{Digest, Sha256};
use tonic::Request;

use super::change::{Plan, input, precondition, store};
use super::{ProcedureApi, Result};
use crate::contents::{self, type_name};
use crate::view;
use crate::who::Who;

/// Longest idempotency key, characters.
pub const MAX_IDEMPOTENCY_KEY: usize = 128;

fn wkb_hash(g: &geo::MultiPolygon<f64>) -> String {
    hex::encode(Sha256::digest(kovgis_core::output::to_wkb(
        &geo::Geometry::MultiPolygon(g.clone()),
    )))
}

impl ProcedureApi {
    pub(super) async fn create(
        &self,
        request: Request<v1::CreateProcedureRequest>,
    ) -> Result<v1::Procedure> {
        let who = Who::of(request.extensions(), "CreateProcedure")?;
        let req = request.get_ref();
        let procedure_type = type_name(req.r#type).ok_or_else(|| {
            input(InputError::new(
                "type",
                "required: one of PROCEDURE_TYPE_DETAILED_PLAN, …_DESIGN_CRITERIA, \
                 …_DESIGN_CRITERIA_OPEN, …_BUILDING_PERMIT, …_EXCAVATION_PERMIT, \
                 …_FELLING_PERMIT",
            ))
        })?;
        let municipality = kovgis_core::codes::parse_municipality_code(
            "municipality_code",
            &req.municipality_code,
        )
        .map_err(input)?;
        let own_only = matches!(who.caller.reach, Reach::Own | Reach::Applicant);
        if !who.may_type(procedure_type)
            || (own_only && who.caller.municipality.as_deref() != Some(municipality.as_str()))
        {
            return Err(ServiceError::Denied {
                reason: "NOT_ALLOWED",
                message: format!(
                    "the caller may not create {procedure_type} procedures in {municipality}"
                ),
            }
            .into());
        }
        let key = req.idempotency_key.trim();
        if key.chars().count() > MAX_IDEMPOTENCY_KEY {
            return Err(input(InputError::new(
                "idempotency_key",
                format!("at most {MAX_IDEMPOTENCY_KEY} characters"),
            )));
        }
        let contents =
            contents::read(procedure_type, req.contents.as_ref(), &self.limits).map_err(input)?;
        own_application(&who, &contents)?;
        let now = self.now.now();
        // Workflows are public configuration, read as the service (an applicant does not
        // read the municipality's tables).
        let wf = self
            .store
            .workflow_in_force(
                &kovgis_store::Caller::system("procedure-config"),
                &municipality,
                procedure_type,
                kovgis_core::tallinn::date(now),
            )
            .await
            .map_err(store)?;
        if wf.workflow.state(INITIAL_STATE).is_none() {
            return Err(ServiceError::Internal(format!(
                "workflow {} has no state {INITIAL_STATE}",
                wf.id
            ))
            .into());
        }
        // The hash of what was asked, without the key: a retry must ask the same.
        let mut unkeyed = req.clone();
        unkeyed.idempotency_key.clear();
        let request_hash = hex::encode(Sha256::digest(unkeyed.encode_to_vec()));
        let (row, _created) = self
            .store
            .create_procedure(
                &who.caller,
                &NewProcedure {
                    municipality_code: municipality,
                    procedure_type: procedure_type.to_owned(),
                    workflow_id: wf.id,
                    state: INITIAL_STATE.to_owned(),
                    idempotency_key: (!key.is_empty()).then(|| key.to_owned()),
                    request_hash,
                    contents,
                    rpc: "kovgis.v1.ProcedureService/CreateProcedure".into(),
                },
            )
            .await
            .map_err(store)?;
        let workflow = self.workflow(row.workflow_id).await?;
        Ok(view::procedure(&row, &workflow, &who.actor, now))
    }

    pub(super) async fn update_draft(
        &self,
        request: Request<v1::UpdateDraftRequest>,
    ) -> Result<v1::Procedure> {
        let req = request.get_ref();
        let l = self
            .load(request.extensions(), "UpdateDraft", &req.name, req.version)
            .await?;
        if l.row.state != INITIAL_STATE {
            return Err(precondition(
                "NOT_A_DRAFT",
                format!(
                    "only a draft can be changed; the procedure is in state {}",
                    l.row.state
                ),
            ));
        }
        let new = contents::read(&l.row.procedure_type, req.contents.as_ref(), &self.limits)
            .map_err(input)?;
        own_application(&l.who, &new)?;
        let plan = draft_plan(&l.row.contents, new);
        let to = l.row.state.clone();
        self.commit(l, "update_draft", to, plan).await
    }
}

/// An applicant applies in their own name (their personal code, from their identity) or for a
/// company (a registry code): never in another person's name, who would then see the procedure
/// and have its uses of their data recorded.
fn own_application(who: &Who, c: &Contents) -> Result<()> {
    if who.caller.reach != Reach::Applicant || c.person_code().is_none() {
        return Ok(());
    }
    if who.access.identity.personal_code.as_deref() == Some(c.applicant_code.as_str()) {
        return Ok(());
    }
    Err(input(InputError::new(
        "contents.applicant.id_code",
        "an applicant applies in their own name (their own personal code) or for a company \
         (its registry code)",
    )))
}

/// Every content column set to `new`, and the history's record of what differs.
fn draft_plan(old: &Contents, new: Contents) -> Plan {
    let mut p = Plan::default();
    let s = |v: &str| json!(v);
    p.set(
        "applicant_name",
        new.applicant_name.clone(),
        s(&old.applicant_name),
        s(&new.applicant_name),
    );
    p.set(
        "applicant_code",
        new.applicant_code.clone(),
        s(&old.applicant_code),
        s(&new.applicant_code),
    );
    p.set(
        "applicant_email",
        new.applicant_email.clone(),
        s(&old.applicant_email),
        s(&new.applicant_email),
    );
    p.set(
        "applicant_phone",
        new.applicant_phone.clone(),
        s(&old.applicant_phone),
        s(&new.applicant_phone),
    );
    p.set(
        "description",
        new.description.clone(),
        s(&old.description),
        s(&new.description),
    );
    p.set(
        "parcel_codes",
        new.parcel_codes.clone(),
        json!(old.parcel_codes),
        json!(new.parcel_codes),
    );
    p.set(
        "intended_use",
        new.intended_use.clone(),
        s(&old.intended_use),
        s(&new.intended_use),
    );
    let day = |d: Option<(chrono::NaiveDate, chrono::NaiveDate)>, first: bool| {
        d.map(|(a, b)| if first { a } else { b })
    };
    p.set(
        "works_first_day",
        day(new.works, true),
        json!(day(old.works, true).map(|d| d.to_string())),
        json!(day(new.works, true).map(|d| d.to_string())),
    );
    p.set(
        "works_last_day",
        day(new.works, false),
        json!(day(old.works, false).map(|d| d.to_string())),
        json!(day(new.works, false).map(|d| d.to_string())),
    );
    p.set(
        "details",
        new.details.clone(),
        old.details.clone(),
        new.details.clone(),
    );
    p.set(
        "attachments",
        new.attachments.clone(),
        old.attachments.clone(),
        new.attachments.clone(),
    );
    // The area: its hash in the history (the area itself is the procedure's).
    let (before, after) = (wkb_hash(&old.geometry), wkb_hash(&new.geometry));
    p.sets.push(Set {
        column: "geom",
        expr: "ST_Multi(ST_GeomFromWKB({}, 3301))",
        value: Box::new(kovgis_core::output::to_wkb(&geo::Geometry::MultiPolygon(
            new.geometry,
        ))),
    });
    if before != after {
        p.changes.insert(
            "geometry_sha256".into(),
            json!({"before": before, "after": after}),
        );
    }
    p
}

//! The steps of a workflow after submission: assignment, coordination (requests and answers),
//! the public display and its opinions, pausing and resuming the clock, the detailed plan's own
//! steps, the decision and withdrawal. The workflow decides whether a step is allowed and to
//! whom; the conditions on the procedure's contents are checked here: an authority answers
//! only what was asked of it, a display is at least the statutory minimum long and announced
//! in time, it ends only after its last day, a public discussion is skipped only when no one
//! objected, a plan is adopted and a permit granted only when every coordination is answered
//! and none refused.

use std::collections::BTreeMap;

use kovgis_api::v1;
use kovgis_core::InputError;
use kovgis_core::statutory_clock::{clock_name, display_last_day, earliest_display_start};
use kovgis_core::workflow::Action;
use kovgis_spatial::ServiceError;
use kovgis_store::procedures::Answer;
use serde_json::{Value, json};
use tonic::Request;

use super::change::{Loaded, Plan, input, precondition, store};
use super::{ProcedureApi, Result};
use crate::clocks::{self, CALENDAR};
use crate::contents::{MAX_SHORT, MAX_TEXT, date, period, text};

/// Opinions recorded on one procedure (the letters themselves stay in the document register).
pub const MAX_OPINIONS: usize = 5000;

/// An authority's name: letters, digits, spaces, `-`, `_` and `.`, at most 100 characters.
fn authority_name(v: &str) -> std::result::Result<String, InputError> {
    let v = text("authority", v, 100)?;
    if !v
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'))
    {
        return Err(InputError::new(
            "authority",
            "letters, digits, spaces, '-', '_' and '.' only",
        ));
    }
    Ok(v)
}

impl ProcedureApi {
    pub(super) async fn assign(
        &self,
        request: Request<v1::AssignProcedureRequest>,
    ) -> Result<v1::Procedure> {
        let req = request.get_ref();
        let l = self
            .load(
                request.extensions(),
                "AssignProcedure",
                &req.name,
                req.version,
            )
            .await?;
        let to = Self::check(&l, Action::Assign)?;
        let official = text("official", &req.official, MAX_SHORT).map_err(input)?;
        let mut plan = Plan::default();
        plan.set(
            "assigned_official",
            Some(official.clone()),
            json!(l.row.assigned_official),
            json!(official),
        );
        self.commit(l, "assign", to, plan).await
    }

    pub(super) async fn request_coordination(
        &self,
        request: Request<v1::RequestCoordinationRequest>,
    ) -> Result<v1::Procedure> {
        let req = request.get_ref();
        let l = self
            .load(
                request.extensions(),
                "RequestCoordination",
                &req.name,
                req.version,
            )
            .await?;
        let to = Self::check(&l, Action::RequestCoordination)?;
        let authority = authority_name(&req.authority).map_err(input)?;
        let note = req.note.trim();
        if note.chars().count() > MAX_TEXT {
            return Err(input(InputError::new(
                "note",
                format!("at most {MAX_TEXT} characters"),
            )));
        }
        let mut plan = Plan::default();
        let rules = self.clock_rules(&l).await?;
        self.open_requests(
            &l,
            &rules,
            &mut plan,
            BTreeMap::from([(authority, vec![])]),
            note,
        )?;
        plan.note = note.to_owned();
        self.commit(l, "request_coordination", to, plan).await
    }

    pub(super) async fn record_response(
        &self,
        request: Request<v1::RecordCoordinationResponseRequest>,
    ) -> Result<v1::Procedure> {
        let req = request.get_ref();
        let l = self
            .load(
                request.extensions(),
                "RecordCoordinationResponse",
                &req.name,
                req.version,
            )
            .await?;
        let to = Self::check(&l, Action::RecordCoordinationResponse)?;
        let status = match v1::CoordinationStatus::try_from(req.status) {
            Ok(v1::CoordinationStatus::Agreed) => "agreed",
            Ok(v1::CoordinationStatus::AgreedWithConditions) => "agreed_with_conditions",
            Ok(v1::CoordinationStatus::Refused) => "refused",
            _ => {
                return Err(input(InputError::new(
                    "status",
                    "one of AGREED, AGREED_WITH_CONDITIONS or REFUSED",
                )));
            }
        };
        let Some(asked) = l.row.coordination.iter().find(|c| c.number == req.number) else {
            return Err(input(InputError::new(
                "number",
                format!("the procedure has no coordination request {}", req.number),
            )));
        };
        if let Some(me) = &l.who.authority
            && !l.who.has_role("official")
            && *me != asked.authority
        {
            return Err(ServiceError::Denied {
                reason: "NOT_ADDRESSED",
                message: format!(
                    "coordination request {} is addressed to {}, not to this authority",
                    asked.number, asked.authority
                ),
            }
            .into());
        }
        if asked.status != "pending" {
            return Err(precondition(
                "ALREADY_ANSWERED",
                format!(
                    "coordination request {} was answered already ({})",
                    asked.number, asked.status
                ),
            ));
        }
        let conditions = req.conditions.trim();
        if status == "agreed_with_conditions" && conditions.is_empty() {
            return Err(input(InputError::new(
                "conditions",
                "required when agreeing with conditions",
            )));
        }
        let text_ = req.text.trim();
        if text_.chars().count() > MAX_TEXT || conditions.chars().count() > MAX_TEXT {
            return Err(input(InputError::new(
                "text",
                format!("at most {MAX_TEXT} characters"),
            )));
        }
        let mut plan = Plan::default();
        plan.changes.insert(
            format!("coordination_request.{}", asked.number),
            json!({"before": {"status": "pending"},
                   "after": {"status": status, "text": text_, "conditions": conditions}}),
        );
        plan.answer = Some(Answer {
            number: asked.number,
            status: status.into(),
            text: text_.into(),
            conditions: conditions.into(),
        });
        self.commit(l, "record_coordination_response", to, plan)
            .await
    }

    pub(super) async fn start_display(
        &self,
        request: Request<v1::StartPublicDisplayRequest>,
    ) -> Result<v1::Procedure> {
        let req = request.get_ref();
        let l = self
            .load(
                request.extensions(),
                "StartPublicDisplay",
                &req.name,
                req.version,
            )
            .await?;
        let to = Self::check(&l, Action::StartPublicDisplay)?;
        let (first, last) = period("period", req.period.as_ref()).map_err(input)?;
        let today = kovgis_core::tallinn::date(l.now);
        let min_clock = if req.changes_comprehensive_plan {
            clock_name::PUBLIC_DISPLAY_MIN_COMPREHENSIVE_CHANGE
        } else {
            clock_name::PUBLIC_DISPLAY_MIN
        };
        let config = super::submit::config_caller();
        let rule = |clock: &'static str| {
            self.store.clock_rule_in_force(
                &config,
                &l.row.key.municipality_code,
                &l.row.procedure_type,
                clock,
                today,
            )
        };
        let internal = |e: kovgis_core::statutory_clock::ClockError| {
            tonic::Status::from(ServiceError::Internal(e.to_string()))
        };
        if let Some(notice) = rule(clock_name::PUBLIC_DISPLAY_NOTICE)
            .await
            .map_err(store)?
        {
            // The notice goes out today at the earliest.
            let earliest =
                earliest_display_start(&CALENDAR, today, notice.period).map_err(internal)?;
            if first < earliest {
                return Err(input(InputError::new(
                    "period.first_day",
                    format!(
                        "the display must be announced {} {} days before it starts: announced \
                         today, it starts on {earliest} at the earliest",
                        notice.period.days,
                        notice.period.kind.as_str()
                    ),
                )));
            }
        } else if first < today {
            return Err(input(InputError::new(
                "period.first_day",
                "must not be in the past",
            )));
        }
        if let Some(min) = rule(min_clock).await.map_err(store)? {
            let shortest = display_last_day(&CALENDAR, first, min.period).map_err(internal)?;
            if last < shortest {
                return Err(input(InputError::new(
                    "period.last_day",
                    format!(
                        "the display lasts at least {} {} days ({}): from {first} it ends on \
                         {shortest} at the earliest",
                        min.period.days,
                        min.period.kind.as_str(),
                        min.legal_basis
                    ),
                )));
            }
        }
        let mut plan = Plan::default();
        plan.set(
            "display_first_day",
            Some(first),
            Value::Null,
            json!(first.to_string()),
        );
        plan.set(
            "display_last_day",
            Some(last),
            Value::Null,
            json!(last.to_string()),
        );
        self.commit(l, "start_public_display", to, plan).await
    }

    pub(super) async fn record_opinion(
        &self,
        request: Request<v1::RecordPublicOpinionRequest>,
    ) -> Result<v1::Procedure> {
        let req = request.get_ref();
        let l = self
            .load(
                request.extensions(),
                "RecordPublicOpinion",
                &req.name,
                req.version,
            )
            .await?;
        let to = Self::check(&l, Action::RecordPublicOpinion)?;
        let received = date("received_on", &req.received_on).map_err(input)?;
        if received > kovgis_core::tallinn::date(l.now) {
            return Err(input(InputError::new(
                "received_on",
                "must not be in the future",
            )));
        }
        let summary = text("summary", &req.summary, MAX_TEXT).map_err(input)?;
        let mut list = l.row.opinions.as_array().cloned().unwrap_or_default();
        if list.len() >= MAX_OPINIONS {
            return Err(precondition(
                "TOO_MANY_OPINIONS",
                format!(
                    "{MAX_OPINIONS} opinions are recorded here; keep the rest in the document register"
                ),
            ));
        }
        let entry = json!({"number": list.len() + 1, "received_on": received.to_string(),
                           "objection": req.objection, "summary": summary});
        list.push(entry.clone());
        let mut plan = Plan::default();
        plan.set("opinions", Value::Array(list), Value::Null, entry);
        self.commit(l, "record_public_opinion", to, plan).await
    }

    pub(super) async fn end_display(
        &self,
        request: Request<v1::EndPublicDisplayRequest>,
    ) -> Result<v1::Procedure> {
        let req = request.get_ref();
        let l = self
            .load(
                request.extensions(),
                "EndPublicDisplay",
                &req.name,
                req.version,
            )
            .await?;
        let to = Self::check(&l, Action::EndPublicDisplay)?;
        let today = kovgis_core::tallinn::date(l.now);
        if let Some((_, last)) = l.row.display
            && today <= last
        {
            return Err(precondition(
                "DISPLAY_NOT_OVER",
                format!("the public display lasts until {last} inclusive"),
            ));
        }
        self.commit(l, "end_public_display", to, Plan::default())
            .await
    }

    pub(super) async fn pause(
        &self,
        request: Request<v1::PauseClockRequest>,
    ) -> Result<v1::Procedure> {
        let req = request.get_ref();
        let l = self
            .load(request.extensions(), "PauseClock", &req.name, req.version)
            .await?;
        let to = Self::check(&l, Action::PauseClock)?;
        let reason = text("reason", &req.reason, MAX_TEXT).map_err(input)?;
        let mut plan = clock_plan(&l, clocks::paused(&l.row, l.now));
        plan.note = reason;
        self.commit(l, "pause_clock", to, plan).await
    }

    pub(super) async fn resume(
        &self,
        request: Request<v1::ResumeClockRequest>,
    ) -> Result<v1::Procedure> {
        let req = request.get_ref();
        let l = self
            .load(request.extensions(), "ResumeClock", &req.name, req.version)
            .await?;
        let to = Self::check(&l, Action::ResumeClock)?;
        let reason = text("reason", &req.reason, MAX_TEXT).map_err(input)?;
        let mut plan = clock_plan(&l, clocks::resumed(&l.row, l.now));
        plan.note = reason;
        self.commit(l, "resume_clock", to, plan).await
    }

    pub(super) async fn advance_plan(
        &self,
        request: Request<v1::AdvancePlanRequest>,
    ) -> Result<v1::Procedure> {
        let req = request.get_ref();
        let l = self
            .load(request.extensions(), "AdvancePlan", &req.name, req.version)
            .await?;
        let action = match v1::PlanStep::try_from(req.step) {
            Ok(v1::PlanStep::Initiate) => Action::Initiate,
            Ok(v1::PlanStep::Adopt) => Action::Adopt,
            Ok(v1::PlanStep::StartPublicDiscussion) => Action::StartPublicDiscussion,
            Ok(v1::PlanStep::SkipPublicDiscussion) => Action::SkipPublicDiscussion,
            Ok(v1::PlanStep::EndPublicDiscussion) => Action::EndPublicDiscussion,
            _ => {
                return Err(input(InputError::new(
                    "step",
                    "required: PLAN_STEP_INITIATE, _ADOPT, _START_PUBLIC_DISCUSSION, \
                     _SKIP_PUBLIC_DISCUSSION or _END_PUBLIC_DISCUSSION",
                )));
            }
        };
        let to = Self::check(&l, action)?;
        match action {
            Action::Adopt => coordination_done(&l, "adopted")?,
            Action::SkipPublicDiscussion => {
                let objections = l
                    .row
                    .opinions
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|o| o["objection"].as_bool() == Some(true))
                    .count();
                if objections > 0 {
                    return Err(precondition(
                        "OBJECTIONS_RAISED",
                        format!(
                            "{objections} objection(s) were raised during the public display: \
                             a public discussion must be held"
                        ),
                    ));
                }
            }
            _ => {}
        }
        let note = req.note.trim();
        if note.chars().count() > MAX_TEXT {
            return Err(input(InputError::new(
                "note",
                format!("at most {MAX_TEXT} characters"),
            )));
        }
        let plan = Plan {
            note: note.to_owned(),
            ..Plan::default()
        };
        self.commit(l, action.as_str(), to, plan).await
    }

    pub(super) async fn decide_(
        &self,
        request: Request<v1::DecideRequest>,
    ) -> Result<v1::Procedure> {
        let req = request.get_ref();
        let l = self
            .load(request.extensions(), "Decide", &req.name, req.version)
            .await?;
        let (action, decision) = match v1::Decision::try_from(req.decision) {
            Ok(v1::Decision::Grant) => (Action::DecideGrant, "grant"),
            Ok(v1::Decision::Refuse) => (Action::DecideRefuse, "refuse"),
            _ => {
                return Err(input(InputError::new(
                    "decision",
                    "required: DECISION_GRANT or DECISION_REFUSE",
                )));
            }
        };
        let to = Self::check(&l, action)?;
        if action == Action::DecideGrant {
            coordination_done(&l, "granted")?;
        }
        let reasons = text("reasons", &req.reasons, MAX_TEXT).map_err(input)?;
        let conditions = req.conditions.trim();
        if conditions.chars().count() > MAX_TEXT {
            return Err(input(InputError::new(
                "conditions",
                format!("at most {MAX_TEXT} characters"),
            )));
        }
        let record = json!({"decision": decision, "reasons": reasons, "conditions": conditions,
                            "by": l.who.caller.subject, "at_us": l.now.timestamp_micros()});
        let mut plan = Plan::default();
        plan.set("decision", Some(record.clone()), Value::Null, record);
        end_clock(&l, &mut plan);
        self.commit(l, action.as_str(), to, plan).await
    }

    pub(super) async fn withdraw_(
        &self,
        request: Request<v1::WithdrawRequest>,
    ) -> Result<v1::Procedure> {
        let req = request.get_ref();
        let l = self
            .load(request.extensions(), "Withdraw", &req.name, req.version)
            .await?;
        let to = Self::check(&l, Action::Withdraw)?;
        let reason = text("reason", &req.reason, MAX_TEXT).map_err(input)?;
        let mut plan = Plan {
            note: reason,
            ..Plan::default()
        };
        end_clock(&l, &mut plan);
        self.commit(l, "withdraw", to, plan).await
    }
}

/// The decision clock's new pauses and the deadline they give (nothing when no clock runs).
fn clock_plan(l: &Loaded, pauses: Value) -> Plan {
    let mut plan = Plan::default();
    if l.row.clock_rule.is_some() {
        let deadline = clocks::deadline_with(&l.row, pauses.clone());
        plan.set(
            "clock_pauses",
            pauses.clone(),
            l.row.clock_pauses.clone(),
            pauses,
        );
        plan.set(
            "deadline",
            deadline,
            json!(l.row.deadline.map(|d| d.to_string())),
            json!(deadline.map(|d| d.to_string())),
        );
    }
    plan
}

/// Every coordination answered and none refused, before `what`.
fn coordination_done(l: &Loaded, what: &str) -> Result<()> {
    let pending: Vec<String> = l
        .row
        .coordination
        .iter()
        .filter(|c| c.status == "pending")
        .map(|c| format!("{} ({})", c.number, c.authority))
        .collect();
    if !pending.is_empty() {
        return Err(precondition(
            "COORDINATION_PENDING",
            format!(
                "not yet {what}: coordination requests {} are not answered",
                pending.join(", ")
            ),
        ));
    }
    let refused: Vec<String> = l
        .row
        .coordination
        .iter()
        .filter(|c| c.status == "refused")
        .map(|c| format!("{} ({})", c.number, c.authority))
        .collect();
    if !refused.is_empty() {
        return Err(precondition(
            "COORDINATION_REFUSED",
            format!(
                "cannot be {what}: coordination was refused by {}",
                refused.join(", ")
            ),
        ));
    }
    Ok(())
}

/// An ended procedure has no deadline (and is never overdue).
fn end_clock(l: &Loaded, plan: &mut Plan) {
    if l.row.deadline.is_some() {
        plan.set(
            "deadline",
            None::<chrono::NaiveDate>,
            json!(l.row.deadline.map(|d| d.to_string())),
            Value::Null,
        );
    }
}

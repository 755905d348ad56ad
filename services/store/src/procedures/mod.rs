//! Procedures as stored (migration 0012): creating one, reading one or a page of them, and
//! changing one — always one transaction with its history event, the coordination requests and
//! outbox messages it causes, and its audit event.
//!
//! Concurrency is optimistic: a change names the version it was computed from, and the first
//! statement of its transaction updates the row only if that is still the stored version (which
//! also locks the row until the commit). A stale version writes nothing and is
//! [`crate::StoreError::StaleVersion`]; the event of a change is numbered by the version it produced,
//! so the history has exactly one event per version — none lost, none twice. Row-level security
//! decides what each caller sees and changes ([`crate::Reach`]: officials their municipality,
//! applicants their own procedures, authorities those addressed to them).
//!
//! What a change means (the workflow, the clocks, the report) is decided above, in the
//! ProcedureService; this module stores it.

mod bulk;
mod change;
mod create;
mod failures;
mod read;
mod watch;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

pub use bulk::ReportChange;
pub use change::{Answer, Change, NewCoordination, OutboxMessage, Set};
pub use failures::DeliveryFailure;
pub use read::{EventRow, ListFilter, ListSort, ProcedurePage, PublicNoticeRow};
/// The trait of the values a [`Set`] takes.
pub use tokio_postgres::types::ToSql;
pub use watch::{WatchFilter, WatchedEvent};

/// Names one procedure.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProcedureKey {
    pub municipality_code: String,
    /// The UUID, in its text form.
    pub id: String,
}

impl ProcedureKey {
    /// `municipalities/{code}/procedures/{id}`.
    pub fn name(&self) -> String {
        format!(
            "municipalities/{}/procedures/{}",
            self.municipality_code, self.id
        )
    }
}

/// What an applicant fills in.
#[derive(Debug, Clone, PartialEq)]
pub struct Contents {
    pub applicant_name: String,
    /// A personal code (11 digits) or a company's registry code (8 digits).
    pub applicant_code: String,
    pub applicant_email: String,
    pub applicant_phone: String,
    pub description: String,
    /// EPSG:3301.
    pub geometry: geo::MultiPolygon<f64>,
    pub parcel_codes: Vec<String>,
    pub intended_use: String,
    /// First and last day of the works, both inclusive.
    pub works: Option<(NaiveDate, NaiveDate)>,
    /// Type-specific fields, as JSON.
    pub details: Value,
    /// Attachment references, as a JSON array.
    pub attachments: Value,
}

impl Contents {
    /// The applicant's personal code, when the applicant is a person (11 digits): whose data a
    /// read or write of the procedure uses, for the audit trail.
    pub fn person_code(&self) -> Option<&str> {
        (self.applicant_code.len() == 11 && self.applicant_code.bytes().all(|b| b.is_ascii_digit()))
            .then_some(self.applicant_code.as_str())
    }
}

/// A new procedure.
#[derive(Debug, Clone)]
pub struct NewProcedure {
    pub municipality_code: String,
    pub procedure_type: String,
    /// The workflow version it follows and its first state there.
    pub workflow_id: i64,
    pub state: String,
    pub idempotency_key: Option<String>,
    /// SHA-256 (hex) of the request's contents: a retry with the same key must match it.
    pub request_hash: String,
    pub contents: Contents,
    /// The RPC, for the history and the audit trail.
    pub rpc: String,
}

/// One coordination request as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CoordinationRow {
    pub number: i32,
    pub authority: String,
    pub finding_keys: Vec<String>,
    pub note: String,
    pub requested_at: DateTime<Utc>,
    pub answer_due: NaiveDate,
    /// `{"rule_id", "days", "day_kind", "silence_counts_as_agreement", "legal_basis"}`.
    pub rule: Value,
    /// pending, agreed, agreed_with_conditions, refused, deemed_agreed.
    pub status: String,
    pub response_text: String,
    pub conditions: String,
    pub responded_by: Option<String>,
    pub responded_at: Option<DateTime<Utc>>,
}

/// A procedure as stored, with its coordination requests.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcedureRow {
    pub key: ProcedureKey,
    pub procedure_type: String,
    pub workflow_id: i64,
    pub state: String,
    pub version: i64,
    pub created_by: String,
    pub contents: Contents,
    pub assigned_official: Option<String>,
    /// The API's `ValidationReport`, protobuf-encoded.
    pub report: Option<Vec<u8>>,
    pub report_id: Option<String>,
    pub verdict: Option<String>,
    pub blocking_override: Option<String>,
    /// `[{finding_key, reason, by, at}]`.
    pub overrides: Value,
    /// `[{number, received_on, objection, summary}]`.
    pub opinions: Value,
    pub display: Option<(NaiveDate, NaiveDate)>,
    pub authorities: Vec<String>,
    /// The decision clock's rule: `{"rule_id", "days", "day_kind", "legal_basis"}`.
    pub clock_rule: Option<Value>,
    pub clock_started_at: Option<DateTime<Utc>>,
    /// `[{"paused_at": µs, "resumed_at": µs | null}]`.
    pub clock_pauses: Value,
    pub deadline: Option<NaiveDate>,
    /// `{"decision", "reasons", "conditions", "by", "at"}`.
    pub decision: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub coordination: Vec<CoordinationRow>,
}

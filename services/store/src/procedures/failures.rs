//! The messages to authorities that could not be delivered after every retry (the outbox's
//! dead letters), as an official of the municipality sees them.

use chrono::{DateTime, Utc};

use super::ProcedureKey;
use crate::{Caller, Store, StoreError};

/// One dead letter.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryFailure {
    pub id: i64,
    pub procedure: ProcedureKey,
    pub authority: String,
    pub kind: String,
    pub attempts: i32,
    pub last_error: String,
    pub failed_at: DateTime<Utc>,
}

impl Store {
    /// The dead letters of `municipality`, newest first, as `caller` may see them.
    pub async fn delivery_failures(
        &self,
        caller: &Caller,
        municipality: &str,
    ) -> Result<Vec<DeliveryFailure>, StoreError> {
        let rows = self
            .query_as(
                caller,
                "SELECT id, municipality_code::text, procedure_id::text, authority, kind, attempts,
                        coalesce(last_error, ''), dead_at
                 FROM outbox WHERE municipality_code = $1 AND dead_at IS NOT NULL
                 ORDER BY dead_at DESC, id DESC LIMIT 1000",
                &[&municipality],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| DeliveryFailure {
                id: r.get(0),
                procedure: ProcedureKey {
                    municipality_code: r.get(1),
                    id: r.get(2),
                },
                authority: r.get(3),
                kind: r.get(4),
                attempts: r.get(5),
                last_error: r.get(6),
                failed_at: r.get(7),
            })
            .collect())
    }
}

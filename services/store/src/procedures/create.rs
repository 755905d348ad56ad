//! Creating a procedure: the row, its first event and its audit event in one transaction, once
//! per idempotency key — a retry of the same request (same caller, key and contents) returns
//! the procedure the first one made; the same key with other contents is refused.

use super::read::{COLUMNS, row_of};
use super::{NewProcedure, ProcedureRow};
use crate::audit::{AuditAction, AuditEvent};
use crate::{Caller, Store, StoreError};

impl Store {
    /// Creates `new` as `caller` (its subject is the creator). Returns the procedure and
    /// whether this call created it (false: a retry answered with the first one's).
    pub async fn create_procedure(
        &self,
        caller: &Caller,
        new: &NewProcedure,
    ) -> Result<(ProcedureRow, bool), StoreError> {
        let c = &new.contents;
        let wkb = crate::geometry::to_wkb(&geo::Geometry::MultiPolygon(c.geometry.clone()));
        let (first, last) = c.works.unzip();
        let tx = self.begin_as(caller).await?;
        let sql = format!(
            "WITH p AS (
                INSERT INTO procedure (municipality_code, procedure_type, workflow_id, state,
                    created_by, idempotency_key, request_hash, applicant_name, applicant_code,
                    applicant_email, applicant_phone, description, geom, parcel_codes,
                    intended_use, works_first_day, works_last_day, details, attachments)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
                        ST_Multi(ST_GeomFromWKB($13, 3301)), $14, $15, $16, $17, $18, $19)
                ON CONFLICT (municipality_code, created_by, idempotency_key) DO NOTHING
                RETURNING *)
             SELECT {COLUMNS} FROM p"
        );
        let rows = tx
            .query(
                &sql,
                &[
                    &new.municipality_code,
                    &new.procedure_type,
                    &new.workflow_id,
                    &new.state,
                    &caller.subject,
                    &new.idempotency_key,
                    &new.request_hash,
                    &c.applicant_name,
                    &c.applicant_code,
                    &c.applicant_email,
                    &c.applicant_phone,
                    &c.description,
                    &wkb,
                    &c.parcel_codes,
                    &c.intended_use,
                    &first,
                    &last,
                    &c.details,
                    &c.attachments,
                ],
            )
            .await
            .map_err(|e| match e {
                StoreError::Postgres(ref pg, _)
                    if pg.code()
                        == Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION) =>
                {
                    StoreError::InvalidField {
                        field: "municipality_code",
                        reason: format!("there is no municipality {}", new.municipality_code),
                    }
                }
                e => e,
            })?;
        let Some(row) = rows.first() else {
            // The key was used before by this caller: answer with that procedure.
            drop(tx);
            return self.by_idempotency_key(caller, new).await;
        };
        let row = row_of(row)?;
        tx.audit(&AuditEvent {
            municipality_code: Some(new.municipality_code.clone()),
            rpc: new.rpc.clone(),
            action: AuditAction::Create,
            entity_kind: "procedure".into(),
            entity_id: row.key.id.clone(),
            person_code: c.person_code().map(str::to_owned),
            purpose: None,
            details: serde_json::json!({"procedure_type": new.procedure_type}),
        })
        .await?;
        // The event last: it takes the event-order lock until the commit (migration 0013).
        tx.query(
            "INSERT INTO procedure_event (municipality_code, procedure_id, seq, subject, action,
                                          state_before, state_after, changes, note)
             VALUES ($1, $2::text::uuid, 1, $3, 'create', '', $4, $5, '')",
            &[
                &row.key.municipality_code,
                &row.key.id,
                &caller.subject,
                &row.state,
                &serde_json::json!({"state": {"before": null, "after": row.state}}),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok((row, true))
    }

    async fn by_idempotency_key(
        &self,
        caller: &Caller,
        new: &NewProcedure,
    ) -> Result<(ProcedureRow, bool), StoreError> {
        let sql = format!(
            "SELECT {COLUMNS}, p.request_hash FROM procedure p
             WHERE p.municipality_code = $1 AND p.created_by = $2 AND p.idempotency_key = $3"
        );
        let rows = self
            .query_as(
                caller,
                &sql,
                &[
                    &new.municipality_code,
                    &caller.subject,
                    &new.idempotency_key,
                ],
            )
            .await?;
        let Some(r) = rows.first() else {
            return Err(StoreError::NotFound(
                "the procedure of this idempotency key is not visible".into(),
            ));
        };
        let hash: String = r.get(38);
        if hash != new.request_hash {
            return Err(StoreError::IdempotencyConflict(format!(
                "idempotency key {:?} was used for a request with other contents",
                new.idempotency_key.as_deref().unwrap_or_default()
            )));
        }
        Ok((row_of(r)?, false))
    }
}

//! Validation rule versions over the API: listing them and creating a new version, never an
//! edit (the service role has no UPDATE or DELETE on `validation_rule`).
//!
//! Versions of one rule (code and municipality, `None` national) are numbered 1, 2, … by
//! creation. A newer version takes over from its `valid_from` on: the engine applies, on a
//! date, the version in force with the latest `valid_from` (`RuleSet::in_force`), so the previous
//! version needs no end date and stays as it was. That is why a new version must start later
//! than every earlier version of the same rule (else it would rewrite which version was in force
//! on past dates of the newer one's predecessors), and not before today (a rule change does not
//! rewrite past validations). Row-level security decides the municipality: a caller writes its
//! own municipality's rules, national ones only with reach all.

use chrono::NaiveDate;

use crate::audit::{AuditAction, AuditEvent, client_of, insert_event};
use crate::index_source::{RULE_COLUMNS, RuleRow, rule_row};
use crate::{Caller, Store, StoreError};

/// A new version of a rule.
#[derive(Debug, Clone)]
pub struct NewRuleVersion {
    /// `SETBACK`, `COVERAGE`, … (the codes migration 0006 allows).
    pub code: String,
    /// EHAK code; `None`: a national default.
    pub municipality: Option<String>,
    /// `info`, `warning` or `blocking`.
    pub severity: String,
    /// Procedure types it applies to; empty: all.
    pub procedures: Vec<String>,
    pub params: serde_json::Value,
    pub valid_from: NaiveDate,
    /// Exclusive; `None`: open-ended.
    pub valid_to: Option<NaiveDate>,
    pub description: String,
}

/// The audit trail's name for rule versions created through the store.
const RPC: &str = "CreateRuleVersion";

impl Store {
    /// The rule versions a municipality's validation uses — the national defaults and, with
    /// `municipality`, that municipality's own — all versions, or with `on` only those in force
    /// on that date; by code, national first, then by version.
    pub async fn list_rules(
        &self,
        caller: &Caller,
        municipality: Option<&str>,
        on: Option<NaiveDate>,
    ) -> Result<Vec<RuleRow>, StoreError> {
        let sql = format!(
            "SELECT {RULE_COLUMNS} FROM validation_rule
             WHERE (municipality_code IS NULL OR municipality_code::text = $1)
               AND ($2::date IS NULL OR (valid_from <= $2 AND (valid_to IS NULL OR valid_to > $2)))
             ORDER BY code, municipality_code NULLS FIRST, version"
        );
        let rows = self.query_as(caller, &sql, &[&municipality, &on]).await?;
        Ok(rows.iter().map(rule_row).collect())
    }

    /// Creates the next version of a rule (previous highest version of that code and
    /// municipality + 1) with its audit event, in one transaction. Refuses
    /// ([`StoreError::InvalidField`] `valid_from`) a start not later than every earlier version's or before
    /// today; row-level security refuses another municipality's rule
    /// ([`StoreError::is_forbidden`]).
    pub async fn create_rule_version(
        &self,
        caller: &Caller,
        new: NewRuleVersion,
    ) -> Result<RuleRow, StoreError> {
        let tx = self.begin_as(caller).await?;
        let c = tx.client();
        // One creator per rule at a time: the numbering and the start check stay true.
        c.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('validation_rule:' || $1 || ':' || $2, 0))",
            &[&new.code, &new.municipality.clone().unwrap_or_default()],
        )
        .await
        .map_err(StoreError::pg("locking the rule"))?;
        let row = c
            .query_one(
                "SELECT coalesce(max(version), 0), max(valid_from), current_date
                 FROM validation_rule
                 WHERE code = $1 AND municipality_code IS NOT DISTINCT FROM $2::text::char(4)",
                &[&new.code, &new.municipality],
            )
            .await
            .map_err(StoreError::pg("reading the rule's versions"))?;
        let (last, latest_start, today): (i32, Option<NaiveDate>, NaiveDate) =
            (row.get(0), row.get(1), row.get(2));
        if let Some(latest) = latest_start
            && new.valid_from <= latest
        {
            return Err(StoreError::InvalidField {
                field: "valid_from",
                reason: format!(
                    "a new version of {} must start after {latest}, when its latest version starts",
                    new.code
                ),
            });
        }
        if new.valid_from < today {
            return Err(StoreError::InvalidField {
                field: "valid_from",
                reason: format!(
                    "a new rule version cannot start in the past ({} is before {today})",
                    new.valid_from
                ),
            });
        }
        let sql = format!(
            "INSERT INTO validation_rule (code, version, municipality_code, severity, procedures,
                                          params, valid_from, valid_to, description)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             RETURNING {RULE_COLUMNS}"
        );
        let row = c
            .query_one(
                &sql,
                &[
                    &new.code,
                    &(last + 1),
                    &new.municipality,
                    &new.severity,
                    &new.procedures,
                    &new.params,
                    &new.valid_from,
                    &new.valid_to,
                    &new.description,
                ],
            )
            .await
            .map_err(|e| match e.code() {
                Some(s) if *s == tokio_postgres::error::SqlState::CHECK_VIOLATION => {
                    StoreError::Invalid(format!(
                        "not a valid rule version: {}",
                        crate::error::describe(&e)
                    ))
                }
                _ => StoreError::Postgres(e, "creating a rule version"),
            })?;
        let rule = rule_row(&row);
        insert_event(
            client_of(c),
            &AuditEvent {
                municipality_code: rule.municipality_code.clone(),
                rpc: RPC.into(),
                action: AuditAction::Create,
                entity_kind: "validation_rule".into(),
                entity_id: format!("{}/v{}", rule.code, rule.version),
                person_code: None,
                purpose: None,
                details: serde_json::json!({
                    "valid_from": rule.valid_from.to_string(),
                    "valid_to": rule.valid_to.map(|d| d.to_string()),
                    "severity": rule.severity,
                }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(rule)
    }
}

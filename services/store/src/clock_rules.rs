//! Statutory clock rules (migration 0011) read as a caller: the versions of a procedure type's
//! clocks a municipality sees, and the one in force on a date — the municipality's version valid
//! that day, else the national default (the choice is kovgis-core's
//! [`rule_in_force`](kovgis_core::statutory_clock::rule_in_force); this module only fetches the
//! candidates). Row-level security decides what is visible: another municipality's versions
//! never are, so asking for them yields the national defaults.

use chrono::NaiveDate;
use kovgis_core::statutory_clock::{ClockRule, DayKind, Period, rule_in_force, rules_in_force};
use tokio_postgres::Row;

use crate::{Caller, Store, StoreError};

/// The columns [`clock_rule`] reads, in its order.
const COLUMNS: &str = "municipality_code::text, procedure_type, clock, version, days, day_kind, \
                       silence_counts_as_agreement, legal_basis, valid_from, valid_to";

fn clock_rule(row: &Row) -> Result<ClockRule, StoreError> {
    let days: i32 = row.get(4);
    let kind: String = row.get(5);
    let bad = |what: String| StoreError::Invalid(format!("statutory_clock_rule: {what}"));
    Ok(ClockRule {
        municipality_code: row.get(0),
        procedure_type: row.get(1),
        clock: row.get(2),
        version: row.get(3),
        period: Period {
            days: u16::try_from(days).map_err(|_| bad(format!("{days} days")))?,
            kind: kind.parse::<DayKind>().map_err(|e| bad(e.to_string()))?,
        },
        silence_counts_as_agreement: row.get(6),
        legal_basis: row.get(7),
        valid_from: row.get(8),
        valid_to: row.get(9),
    })
}

impl Store {
    /// Every version of the clock rules of `procedure_type` (`None`: all types) that a
    /// municipality's procedures may use — the national ones and, with `municipality`, its
    /// own — as far as `caller` may see them; by type, clock, national first, then version.
    pub async fn list_clock_rules(
        &self,
        caller: &Caller,
        municipality: Option<&str>,
        procedure_type: Option<&str>,
    ) -> Result<Vec<ClockRule>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM statutory_clock_rule
             WHERE (municipality_code IS NULL OR municipality_code::text = $1)
               AND ($2::text IS NULL OR procedure_type = $2)
             ORDER BY procedure_type, clock, municipality_code NULLS FIRST, version"
        );
        let rows = self
            .query_as(caller, &sql, &[&municipality, &procedure_type])
            .await?;
        rows.iter().map(clock_rule).collect()
    }

    /// The clock rules of `procedure_type` in force in `municipality` on `on`, one per clock
    /// (by clock name): the municipality's version valid that day, else the national default.
    pub async fn clock_rules_in_force(
        &self,
        caller: &Caller,
        municipality: &str,
        procedure_type: &str,
        on: NaiveDate,
    ) -> Result<Vec<ClockRule>, StoreError> {
        let candidates = self
            .clock_rule_candidates(caller, municipality, procedure_type, on)
            .await?;
        Ok(
            rules_in_force(&candidates, municipality, procedure_type, on)
                .into_iter()
                .cloned()
                .collect(),
        )
    }

    /// The rule of one clock of `procedure_type` in force in `municipality` on `on`.
    pub async fn clock_rule_in_force(
        &self,
        caller: &Caller,
        municipality: &str,
        procedure_type: &str,
        clock: &str,
        on: NaiveDate,
    ) -> Result<Option<ClockRule>, StoreError> {
        let candidates = self
            .clock_rule_candidates(caller, municipality, procedure_type, on)
            .await?;
        Ok(rule_in_force(&candidates, municipality, procedure_type, clock, on).cloned())
    }

    /// The versions valid on `on`, national and the municipality's (as visible to `caller`).
    async fn clock_rule_candidates(
        &self,
        caller: &Caller,
        municipality: &str,
        procedure_type: &str,
        on: NaiveDate,
    ) -> Result<Vec<ClockRule>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM statutory_clock_rule
             WHERE procedure_type = $2
               AND (municipality_code IS NULL OR municipality_code::text = $1)
               AND valid_from <= $3 AND (valid_to IS NULL OR valid_to > $3)"
        );
        let rows = self
            .query_as(caller, &sql, &[&municipality, &procedure_type, &on])
            .await?;
        rows.iter().map(clock_rule).collect()
    }
}

//! The procedures the validation engine's conflict check knows (rule
//! `CONFLICTS_WITH_PROCEDURE`, migration 0014): every procedure that counts — in a state its
//! workflow version marks `active`, or `granted` with a works period whose last day is not
//! before today in Estonia — read as a [`Caller`] (the spatial service reads as a system caller
//! with reach all). Drafts, refused and withdrawn procedures never count.
//!
//! Only what the rule needs is read: key, type, works period, whether active, the area. Never the
//! applicant, description or details — what is not read cannot leak into another municipality's
//! report, and reading it leaves no audit trail of personal data.
//!
//! Which procedures changed is announced by the trigger of migration 0014 on the channel
//! [`PROCEDURE_CHANNEL`] (`<municipality_code>|<id>`), delivered at commit.

use chrono::NaiveDate;
use futures_util::TryStreamExt;
use geo::Geometry;
use tokio_postgres::Row;

use crate::caller::{read_once, stream_once};
use crate::geometry::from_wkb;
use crate::{Caller, Store, StoreError};

/// The notification channel of changed procedures; the payload is `<municipality_code>|<id>`.
pub const PROCEDURE_CHANNEL: &str = "kovgis_procedure";

/// A procedure that counts, as the conflict check needs it.
#[derive(Debug, Clone)]
pub struct IndexProcedure {
    pub municipality_code: String,
    /// UUID, lower-case hyphenated.
    pub id: String,
    pub procedure_type: String,
    /// First and last day, inclusive.
    pub works: Option<(NaiveDate, NaiveDate)>,
    /// In an active state of its workflow; `false`: granted, with works not yet over.
    pub active: bool,
    pub geometry: Geometry,
}

/// Procedures that count today (see the module docs); `$1`/`$2` narrow to one procedure.
const COUNTING: &str = "
    SELECT p.municipality_code::text, p.id::text, p.procedure_type, p.works_first_day,
           p.works_last_day, coalesce(s.active, false), ST_AsBinary(p.geom)
    FROM procedure p
    LEFT JOIN workflow_state s ON s.workflow_id = p.workflow_id AND s.name = p.state
    WHERE (s.active
           OR (p.state = 'granted'
               AND p.works_last_day >= (now() AT TIME ZONE 'Europe/Tallinn')::date))";

/// A UUID, hyphenated.
fn is_uuid(id: &str) -> bool {
    id.len() == 36
        && id.bytes().enumerate().all(|(i, b)| {
            matches!(i, 8 | 13 | 18 | 23) == (b == b'-') && (b == b'-' || b.is_ascii_hexdigit())
        })
}

fn procedure(r: &Row) -> Result<IndexProcedure, StoreError> {
    let (first, last): (Option<NaiveDate>, Option<NaiveDate>) = (r.get(3), r.get(4));
    Ok(IndexProcedure {
        municipality_code: r.get(0),
        id: r.get(1),
        procedure_type: r.get(2),
        works: first.zip(last),
        active: r.get(5),
        geometry: from_wkb(r.get(6))?,
    })
}

impl Store {
    /// Every procedure that counts, as `caller` sees them (bulk work: on the bulk pool).
    pub async fn index_procedures(
        &self,
        caller: &Caller,
    ) -> Result<Vec<IndexProcedure>, StoreError> {
        let (_tx, rows) = stream_once(self.pool.get().await?, caller, COUNTING, Vec::new()).await?;
        let mut rows = std::pin::pin!(rows);
        let mut out = Vec::new();
        while let Some(r) = rows
            .try_next()
            .await
            .map_err(StoreError::pg("reading procedures for the index"))?
        {
            out.push(procedure(&r)?);
        }
        Ok(out)
    }

    /// Of the procedures `keys` (municipality code, id), those that count, in one read (an id
    /// that is no UUID is none).
    pub async fn index_procedures_of(
        &self,
        caller: &Caller,
        keys: &[(String, String)],
    ) -> Result<Vec<IndexProcedure>, StoreError> {
        let (codes, ids): (Vec<&str>, Vec<&str>) = keys
            .iter()
            .filter(|(_, id)| is_uuid(id))
            .map(|(m, id)| (m.as_str(), id.as_str()))
            .unzip();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // Each list alone, so that the key's index finds them (a pair from the two lists that
        // is no key is a procedure whose current state may be read as well).
        let sql = format!(
            "{COUNTING}
               AND p.municipality_code = ANY($1::text[]::char(4)[])
               AND p.id = ANY($2::text[]::uuid[])"
        );
        let rows = read_once(self.queries.get().await?, caller, &sql, &[&codes, &ids]).await?;
        rows.iter().map(procedure).collect()
    }

    /// The procedure `id` of `municipality_code` if it counts (`None`: it does not, or does
    /// not exist, or `caller` does not see it; an `id` that is no UUID is none).
    pub async fn index_procedure(
        &self,
        caller: &Caller,
        municipality_code: &str,
        id: &str,
    ) -> Result<Option<IndexProcedure>, StoreError> {
        if !is_uuid(id) {
            return Ok(None);
        }
        let sql = format!(
            "{COUNTING}
               AND p.municipality_code = $1::text::char(4)
               AND p.id = $2::text::uuid"
        );
        let rows = read_once(
            self.queries.get().await?,
            caller,
            &sql,
            &[&municipality_code, &id],
        )
        .await?;
        rows.first().map(procedure).transpose()
    }
}

//! Reading procedures: one (its read of the applicant's data audited in the same transaction),
//! a filtered page in a stable order, the history, and the public notices.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{Contents, CoordinationRow, ProcedureKey, ProcedureRow};
use crate::audit::{AuditAction, AuditEvent};
use crate::{Caller, Store, StoreError};

/// The columns [`row_of`] reads, `p` being the procedure.
pub(super) const COLUMNS: &str = "p.municipality_code::text, p.id::text, p.procedure_type,
    p.workflow_id, p.state, p.version, p.created_by, p.applicant_name, p.applicant_code,
    p.applicant_email, p.applicant_phone, p.description, ST_AsBinary(p.geom), p.parcel_codes,
    p.intended_use, p.works_first_day, p.works_last_day, p.details, p.attachments,
    p.assigned_official, p.report, p.report_id, p.verdict, p.blocking_override, p.overrides,
    p.opinions, p.display_first_day, p.display_last_day, p.authorities, p.clock_rule,
    p.clock_started_at, p.clock_pauses, p.deadline, p.decision, p.created_at, p.updated_at,
    p.submitted_at,
    (SELECT coalesce(json_agg(json_build_object('number', c.number, 'authority', c.authority,
                'finding_keys', c.finding_keys, 'note', c.note,
                'requested_at_us', (extract(epoch FROM c.requested_at) * 1000000)::bigint,
                'answer_due', c.answer_due::text, 'rule', c.rule, 'status', c.status,
                'response_text', c.response_text, 'conditions', c.conditions,
                'responded_by', c.responded_by,
                'responded_at_us', (extract(epoch FROM c.responded_at) * 1000000)::bigint)
                ORDER BY c.number), '[]')
     FROM coordination_request c
     WHERE c.municipality_code = p.municipality_code AND c.procedure_id = p.id)";

/// [`COLUMNS`] in the same places, with the heavy ones empty: the report (its verdict and
/// report_id stay), details, attachments, opinions, and no coordination requests read — what a
/// list of many procedures for a map needs.
pub(super) fn basic_columns() -> &'static str {
    static BASIC: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let (head, _coordination) = COLUMNS
            .split_once(",\n    (SELECT coalesce(json_agg(")
            .expect("the coordination requests are COLUMNS' last column");
        let basic = head
            .replace("p.details, p.attachments,", "'{}'::jsonb, '[]'::jsonb,")
            .replace("p.report, p.report_id,", "NULL::bytea, p.report_id,")
            .replace("p.opinions,", "'[]'::jsonb,");
        assert_eq!(
            basic.matches("::jsonb").count() + basic.matches("NULL::bytea").count(),
            4,
            "every heavy column replaced"
        );
        format!("{basic}, '[]'::json")
    });
    &BASIC
}

/// One procedure's row by key, in the statement's `$1` (municipality) and `$2` (id).
pub(super) fn select_one() -> String {
    format!(
        "SELECT {COLUMNS} FROM procedure p
         WHERE p.municipality_code = $1 AND p.id = $2::text::uuid"
    )
}

fn micros(v: &Value) -> Option<DateTime<Utc>> {
    v.as_i64().and_then(DateTime::from_timestamp_micros)
}

fn coordination_of(v: &Value) -> Result<CoordinationRow, StoreError> {
    let bad = || StoreError::Invalid(format!("unreadable coordination request {v}"));
    let text = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
    Ok(CoordinationRow {
        number: v["number"].as_i64().ok_or_else(bad)? as i32,
        authority: text("authority"),
        finding_keys: v["finding_keys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect(),
        note: text("note"),
        requested_at: micros(&v["requested_at_us"]).ok_or_else(bad)?,
        answer_due: v["answer_due"]
            .as_str()
            .and_then(|d| d.parse().ok())
            .ok_or_else(bad)?,
        rule: v["rule"].clone(),
        status: text("status"),
        response_text: text("response_text"),
        conditions: text("conditions"),
        responded_by: v["responded_by"].as_str().map(str::to_owned),
        responded_at: micros(&v["responded_at_us"]),
    })
}

/// A row of [`COLUMNS`].
pub(super) fn row_of(r: &Row) -> Result<ProcedureRow, StoreError> {
    let wkb: Vec<u8> = r.get(12);
    let geometry = match crate::geometry::from_wkb(&wkb)? {
        geo::Geometry::MultiPolygon(m) => m,
        geo::Geometry::Polygon(p) => geo::MultiPolygon(vec![p]),
        _ => {
            return Err(StoreError::Geometry(
                "a procedure's area is not areal".into(),
            ));
        }
    };
    let works = match (r.get(15), r.get(16)) {
        (Some(a), Some(b)) => Some((a, b)),
        _ => None,
    };
    let display = match (r.get(26), r.get(27)) {
        (Some(a), Some(b)) => Some((a, b)),
        _ => None,
    };
    let coordination: Value = r.get(37);
    Ok(ProcedureRow {
        key: ProcedureKey {
            municipality_code: r.get(0),
            id: r.get(1),
        },
        procedure_type: r.get(2),
        workflow_id: r.get(3),
        state: r.get(4),
        version: r.get(5),
        created_by: r.get(6),
        contents: Contents {
            applicant_name: r.get(7),
            applicant_code: r.get(8),
            applicant_email: r.get(9),
            applicant_phone: r.get(10),
            description: r.get(11),
            geometry,
            parcel_codes: r.get(13),
            intended_use: r.get(14),
            works,
            details: r.get(17),
            attachments: r.get(18),
        },
        assigned_official: r.get(19),
        report: r.get(20),
        report_id: r.get(21),
        verdict: r.get(22),
        blocking_override: r.get(23),
        overrides: r.get(24),
        opinions: r.get(25),
        display,
        authorities: r.get(28),
        clock_rule: r.get(29),
        clock_started_at: r.get(30),
        clock_pauses: r.get(31),
        deadline: r.get(32),
        decision: r.get(33),
        created_at: r.get(34),
        updated_at: r.get(35),
        submitted_at: r.get(36),
        coordination: coordination
            .as_array()
            .into_iter()
            .flatten()
            .map(coordination_of)
            .collect::<Result<_, _>>()?,
    })
}

/// How a page is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListSort {
    CreatedDesc,
    CreatedAsc,
    /// Earliest deadline first, those without one last.
    DeadlineAsc,
}

/// What `ListProcedures` asks for; every filter is optional.
#[derive(Debug, Clone)]
pub struct ListFilter {
    pub municipality_code: String,
    pub procedure_type: Option<String>,
    pub state: Option<String>,
    pub assigned_official: Option<String>,
    /// Only procedures whose deadline was before this day (overdue on it).
    pub overdue_on: Option<NaiveDate>,
    /// Only procedures with a deadline on or before this day.
    pub due_before: Option<NaiveDate>,
    /// Words in the description (case-insensitive substring).
    pub text: Option<String>,
    /// EPSG:3301: only procedures whose area intersects it.
    pub area: Option<geo::Geometry<f64>>,
    pub sort: ListSort,
    /// Where the page starts: the cursor of the previous page's last row.
    pub after: Option<String>,
    pub limit: u32,
    /// Rows without the heavy parts ([`basic_columns`]): no report, details, attachments,
    /// opinions or coordination requests.
    pub basic: bool,
}

/// A page, with the cursor of its last row when more may follow.
#[derive(Debug, Clone)]
pub struct ProcedurePage {
    pub procedures: Vec<ProcedureRow>,
    pub next: Option<String>,
}

/// One history event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub subject: String,
    pub action: String,
    pub state_before: String,
    pub state_after: String,
    pub changes: Value,
    pub note: String,
}

/// A procedure on public display, without personal data.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicNoticeRow {
    pub key: ProcedureKey,
    pub procedure_type: String,
    pub description: String,
    /// GeoJSON, EPSG:4326.
    pub geometry_geojson: String,
    pub display: (NaiveDate, NaiveDate),
}

/// `%`, `_` and `\` taken literally in a LIKE pattern.
fn like_literal(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The cursor of a row in a sort: its sort key and id.
fn cursor(p: &ProcedureRow, sort: ListSort) -> String {
    match sort {
        ListSort::CreatedDesc | ListSort::CreatedAsc => {
            format!("{}|{}", p.created_at.timestamp_micros(), p.key.id)
        }
        ListSort::DeadlineAsc => format!(
            "{}|{}",
            p.deadline.map(|d| d.to_string()).unwrap_or_default(),
            p.key.id
        ),
    }
}

type Param = Box<dyn ToSql + Sync + Send>;

impl Store {
    /// One procedure as `caller` may see it, with an audit event of the read of its applicant's
    /// data (`rpc`, `purpose`) written in the same transaction. [`StoreError::NotFound`] when it
    /// does not exist or is not visible.
    pub async fn get_procedure(
        &self,
        caller: &Caller,
        key: &ProcedureKey,
        rpc: &str,
        purpose: Option<&str>,
    ) -> Result<ProcedureRow, StoreError> {
        let tx = self.begin_as(caller).await?;
        let rows = tx
            .query(&select_one(), &[&key.municipality_code, &key.id])
            .await?;
        let row = match rows.first() {
            Some(r) => row_of(r)?,
            None => return Err(StoreError::NotFound(format!("{} not found", key.name()))),
        };
        tx.audit(&AuditEvent {
            municipality_code: Some(key.municipality_code.clone()),
            rpc: rpc.to_owned(),
            action: AuditAction::Read,
            entity_kind: "procedure".into(),
            entity_id: key.id.clone(),
            person_code: row.contents.person_code().map(str::to_owned),
            purpose: purpose.map(str::to_owned),
            details: serde_json::json!({}),
        })
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// One procedure as `caller` may see it, without an audit event of its own: for a change,
    /// whose audit event (written with the change) covers the read.
    pub async fn load_procedure(
        &self,
        caller: &Caller,
        key: &ProcedureKey,
    ) -> Result<ProcedureRow, StoreError> {
        let rows = self
            .query_as(caller, &select_one(), &[&key.municipality_code, &key.id])
            .await?;
        match rows.first() {
            Some(r) => row_of(r),
            None => Err(StoreError::NotFound(format!("{} not found", key.name()))),
        }
    }

    /// Coordination requests still pending, of procedures that have not ended, whose answer
    /// window ended before `today` and whose rule says silence counts as agreement, oldest
    /// first, at most `limit`: what the deemed-agreement job looks at.
    pub async fn answers_overdue(
        &self,
        caller: &Caller,
        today: NaiveDate,
        limit: i64,
    ) -> Result<Vec<(ProcedureKey, i32)>, StoreError> {
        let rows = self
            .query_as(
                caller,
                "SELECT c.municipality_code::text, c.procedure_id::text, c.number
                 FROM coordination_request c
                 JOIN procedure p ON p.municipality_code = c.municipality_code
                                 AND p.id = c.procedure_id
                 JOIN workflow_state s ON s.workflow_id = p.workflow_id AND s.name = p.state
                 WHERE c.status = 'pending' AND c.answer_due < $1
                   AND (c.rule ->> 'silence_counts_as_agreement')::boolean
                   AND NOT s.terminal
                 ORDER BY c.answer_due, c.municipality_code, c.procedure_id, c.number LIMIT $2",
                &[&today, &limit],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    ProcedureKey {
                        municipality_code: r.get(0),
                        id: r.get(1),
                    },
                    r.get(2),
                )
            })
            .collect())
    }

    /// A page of the procedures of `filter.municipality_code` that `caller` may see.
    pub async fn list_procedures(
        &self,
        caller: &Caller,
        filter: &ListFilter,
    ) -> Result<ProcedurePage, StoreError> {
        let mut params: Vec<Param> = vec![Box::new(filter.municipality_code.clone())];
        let columns = if filter.basic {
            basic_columns()
        } else {
            COLUMNS
        };
        let mut sql = format!("SELECT {columns} FROM procedure p WHERE p.municipality_code = $1");
        let mut push = |params: &mut Vec<Param>, cond: &str, v: Param| {
            params.push(v);
            sql.push_str(&format!(
                " AND {}",
                cond.replace("$?", &format!("${}", params.len()))
            ));
        };
        if let Some(t) = &filter.procedure_type {
            push(&mut params, "p.procedure_type = $?", Box::new(t.clone()));
        }
        if let Some(s) = &filter.state {
            push(&mut params, "p.state = $?", Box::new(s.clone()));
        }
        if let Some(o) = &filter.assigned_official {
            push(&mut params, "p.assigned_official = $?", Box::new(o.clone()));
        }
        if let Some(d) = filter.overdue_on {
            push(&mut params, "p.deadline < $?", Box::new(d));
        }
        if let Some(d) = filter.due_before {
            push(&mut params, "p.deadline <= $?", Box::new(d));
        }
        if let Some(t) = &filter.text {
            push(
                &mut params,
                "p.description ILIKE '%' || $? || '%'",
                Box::new(like_literal(t)),
            );
        }
        if let Some(a) = &filter.area {
            // `&&` spelled out: the GiST index under row-level security (see rls_index.rs).
            push(
                &mut params,
                "p.geom && ST_GeomFromWKB($?, 3301) AND ST_Intersects(p.geom, ST_GeomFromWKB($?, 3301))",
                Box::new(crate::geometry::to_wkb(a)),
            );
        }
        let (order, after_cond) = match filter.sort {
            ListSort::CreatedDesc => (
                "p.created_at DESC, p.id DESC",
                "(p.created_at, p.id) < (timestamptz 'epoch' + $?::bigint * interval '1 microsecond', $?::uuid)",
            ),
            ListSort::CreatedAsc => (
                "p.created_at, p.id",
                "(p.created_at, p.id) > (timestamptz 'epoch' + $?::bigint * interval '1 microsecond', $?::uuid)",
            ),
            ListSort::DeadlineAsc => (
                "coalesce(p.deadline, 'infinity'::date), p.id",
                "(coalesce(p.deadline, 'infinity'::date), p.id) > (coalesce(nullif($?, '')::date, 'infinity'::date), $?::uuid)",
            ),
        };
        if let Some(after) = &filter.after {
            let (k, id) = after
                .split_once('|')
                .ok_or_else(|| StoreError::Invalid("unreadable page cursor".into()))?;
            let key: Param = match filter.sort {
                ListSort::DeadlineAsc => Box::new(k.to_owned()),
                _ => Box::new(
                    k.parse::<i64>()
                        .map_err(|_| StoreError::Invalid("unreadable page cursor".into()))?,
                ),
            };
            params.push(key);
            let a = params.len();
            params.push(Box::new(id.to_owned()));
            let cond = after_cond.replacen("$?", &format!("${a}"), 1).replacen(
                "$?",
                &format!("${}::text", a + 1),
                1,
            );
            sql.push_str(&format!(" AND {cond}"));
        }
        sql.push_str(&format!(" ORDER BY {order} LIMIT {}", filter.limit + 1));
        let refs: Vec<&(dyn ToSql + Sync)> = params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let rows = self.query_as(caller, &sql, &refs).await?;
        let mut procedures = rows.iter().map(row_of).collect::<Result<Vec<_>, _>>()?;
        let next = if procedures.len() > filter.limit as usize {
            procedures.truncate(filter.limit as usize);
            procedures.last().map(|p| cursor(p, filter.sort))
        } else {
            None
        };
        Ok(ProcedurePage { procedures, next })
    }

    /// Every event of a procedure, in order; the read is audited like [`Store::get_procedure`]
    /// (the changes name the applicant's data).
    pub async fn procedure_history(
        &self,
        caller: &Caller,
        key: &ProcedureKey,
        rpc: &str,
    ) -> Result<Vec<EventRow>, StoreError> {
        let tx = self.begin_as(caller).await?;
        let found = tx
            .query(
                "SELECT applicant_code FROM procedure
                 WHERE municipality_code = $1 AND id = $2::text::uuid",
                &[&key.municipality_code, &key.id],
            )
            .await?;
        let Some(found) = found.first() else {
            return Err(StoreError::NotFound(format!("{} not found", key.name())));
        };
        let code: String = found.get(0);
        let rows = tx
            .query(
                "SELECT seq, occurred_at, subject, action, state_before, state_after, changes, note
                 FROM procedure_event
                 WHERE municipality_code = $1 AND procedure_id = $2::text::uuid ORDER BY seq",
                &[&key.municipality_code, &key.id],
            )
            .await?;
        let person = (code.len() == 11 && code.bytes().all(|b| b.is_ascii_digit())).then_some(code);
        tx.audit(&AuditEvent {
            municipality_code: Some(key.municipality_code.clone()),
            rpc: rpc.to_owned(),
            action: AuditAction::Read,
            entity_kind: "procedure_history".into(),
            entity_id: key.id.clone(),
            person_code: person,
            purpose: None,
            details: serde_json::json!({}),
        })
        .await?;
        tx.commit().await?;
        Ok(rows
            .iter()
            .map(|r| EventRow {
                seq: r.get(0),
                at: r.get(1),
                subject: r.get(2),
                action: r.get(3),
                state_before: r.get(4),
                state_after: r.get(5),
                changes: r.get(6),
                note: r.get(7),
            })
            .collect())
    }

    /// The procedures on public display on `on` (in a state of their workflow marked public
    /// display, `on` within the display's days), of one municipality or all, at most 2000: no
    /// personal data is read.
    pub async fn public_notices(
        &self,
        municipality: Option<&str>,
        on: NaiveDate,
    ) -> Result<Vec<PublicNoticeRow>, StoreError> {
        let caller = Caller::system("public-notices");
        let rows = self
            .query_as(
                &caller,
                "SELECT p.municipality_code::text, p.id::text, p.procedure_type, p.description,
                        ST_AsGeoJSON(ST_Transform(p.geom, 4326), 7), p.display_first_day,
                        p.display_last_day
                 FROM procedure p
                 JOIN workflow_state s ON s.workflow_id = p.workflow_id AND s.name = p.state
                 WHERE s.public_display AND p.display_first_day <= $2
                   AND p.display_last_day >= $2
                   AND ($1::text IS NULL OR p.municipality_code = $1)
                 ORDER BY p.display_first_day, p.municipality_code, p.id
                 LIMIT 2000",
                &[&municipality, &on],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| PublicNoticeRow {
                key: ProcedureKey {
                    municipality_code: r.get(0),
                    id: r.get(1),
                },
                procedure_type: r.get(2),
                description: r.get(3),
                geometry_geojson: r.get(4),
                display: (r.get(5), r.get(6)),
            })
            .collect())
    }
}

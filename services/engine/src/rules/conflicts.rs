//! CONFLICTS_WITH_PROCEDURE: another procedure that counts (see [`ProcedureEntry::counts_on`])
//! of a type configured to conflict with the proposal's, whose area the proposal shares more
//! than a sliver with (the same hit test as every other rule, `Ctx::hit`) and whose works period
//! shares a day with the proposal's, is a finding — coordinated, not forbidden (the severity is
//! the rule version's; the national default is a warning).
//!
//! Parameters: `{"conflicts": {"<proposal's type>": ["<conflicting type>", …], …}}`; a type
//! without an entry conflicts with nothing. A procedure without a works period, or a proposal
//! without one, overlaps every period while the procedure counts. The proposal's own procedure
//! (`Proposal::procedure_id`, in its municipality) is never a conflict with itself.
//!
//! What a finding reveals: within the proposal's municipality, the other procedure's id (the
//! finding's feature id), type, works period and the overlap (its area and, when outlines are
//! asked, its outline). Across a municipal border, only its type, works period and municipality:
//! never its id, applicant, description, area or outline. Its feature id is then an opaque,
//! stable digest of the municipality and id ([`opaque_id`]), so that re-checks can tell the same
//! conflict from a new one without learning which procedure it is.

use std::sync::Arc;

use chrono::NaiveDate;
use geo::MultiPolygon;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::catalogue::{Outcome, RuleCode, RuleDef};
use super::context::Ctx;
use super::messages::t;
use super::number::Dec;
use crate::index::ProcedureEntry;

/// The layer name of these findings (they are about procedures, not a layer's features).
pub const LAYER: &str = "procedures";

/// The types configured to conflict with `procedure` in the rule version `def`.
fn conflicting<'d>(def: &'d RuleDef, procedure: &str) -> Vec<&'d str> {
    def.params
        .get("conflicts")
        .and_then(|c| c.get(procedure))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The feature id of a conflict across a municipal border: the first 32 hex digits of
/// SHA-256 over `procedure|<municipality>|<id>` — stable for one procedure, and not the id.
pub fn opaque_id(municipality_code: &str, id: &str) -> String {
    let digest = Sha256::digest(format!("procedure|{municipality_code}|{id}").as_bytes());
    hex::encode(&digest[..16])
}

fn period_text(works: Option<(NaiveDate, NaiveDate)>) -> String {
    match works {
        Some((a, b)) => format!("{a}–{b}"),
        None => "—".into(),
    }
}

pub(super) fn conflicts(cx: &mut Ctx<'_>, def: &RuleDef) {
    let loc = cx.p.locale;
    let types = conflicting(def, &cx.p.procedure);
    let mut hits: Vec<(&ProcedureEntry, MultiPolygon, f64)> = Vec::new();
    if let (Some(bounds), false) = (cx.bounds, types.is_empty()) {
        let (procedures, p) = (cx.procedures, cx.p);
        for e in procedures.near(bounds) {
            let itself = e.municipality_code == p.municipality_code
                && p.procedure_id.as_deref() == Some(e.id.as_str());
            if itself
                || !types.contains(&e.procedure_type.as_str())
                || !e.counts_on(p.on)
                || !e.overlaps_period(p.works)
            {
                continue;
            }
            if let Some((overlap, area)) = cx.hit(&e.shape) {
                hits.push((e, overlap, area));
            }
        }
    }
    if hits.is_empty() {
        cx.finding(
            RuleCode::ConflictsWithProcedure,
            def,
            Outcome::NoConflict,
            true,
            t!(
                loc,
                "ala ja tööde aeg ei kattu ühegi teise menetlusega".into(),
                "neither the area nor the works period overlaps another procedure's".into(),
            ),
        );
        return;
    }
    // Reports list hits in a stable order: own municipality's by id, then the others'.
    hits.sort_by(|a, b| {
        let key = |e: &ProcedureEntry| {
            (
                e.municipality_code != cx.p.municipality_code,
                e.municipality_code.clone(),
                e.works,
                opaque_id(&e.municipality_code, &e.id),
            )
        };
        key(a.0).cmp(&key(b.0))
    });
    for (e, overlap, area) in hits {
        let own = e.municipality_code == cx.p.municipality_code;
        let (kind, m, period) = (
            &e.procedure_type,
            &e.municipality_code,
            period_text(e.works),
        );
        let share = Dec(cx.share(area), 1);
        let message = if own {
            t!(
                loc,
                format!(
                    "{} m² ({share} %) alast ja tööde aeg kattuvad menetlusega {} ({kind}, tööd {period}); kooskõlastada",
                    Dec(area, 1),
                    e.id
                ),
                format!(
                    "{} m² ({share} %) of the area and the works period overlap procedure {} ({kind}, works {period}); coordinate",
                    Dec(area, 1),
                    e.id
                ),
            )
        } else {
            t!(
                loc,
                format!(
                    "ala ja tööde aeg kattuvad omavalitsuse {m} menetlusega ({kind}, tööd {period}); kooskõlastada"
                ),
                format!(
                    "the area and the works period overlap a procedure of municipality {m} ({kind}, works {period}); coordinate"
                ),
            )
        };
        let mut attributes = json!({
            "procedure_type": kind,
            "municipality_code": m,
            "works_first_day": e.works.map(|w| w.0.to_string()),
            "works_last_day": e.works.map(|w| w.1.to_string()),
        });
        if own {
            attributes["procedure_id"] = json!(e.id);
        }
        let proposal_area = cx.area;
        let f = cx.finding(
            RuleCode::ConflictsWithProcedure,
            def,
            Outcome::ProcedureConflict,
            false,
            message,
        );
        f.layer_name = Some(LAYER.to_owned());
        f.feature_name = Some(kind.clone());
        f.attributes = Some(Arc::new(attributes));
        if own {
            f.feature_id = Some(e.id.clone());
            f.overlap_area_m2 = Some(area);
            f.overlap_share_pct = Some(100.0 * area / proposal_area.max(f64::MIN_POSITIVE));
            f.geometry = (!overlap.0.is_empty()).then_some(overlap);
        } else {
            f.feature_id = Some(opaque_id(m, &e.id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expected digest is `printf 'procedure|0793|abc' | sha256sum`, first 32 digits.
    #[test]
    fn the_opaque_id_is_a_truncated_sha256() {
        assert_eq!(opaque_id("0793", "abc"), "56d985e7b01a4883facb6e640c3c28ae");
    }
}

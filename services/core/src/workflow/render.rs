//! Workflows as Markdown tables: docs/WORKFLOWS.md is [`document`] of the national defaults, and
//! tests keep it so (the core test from [`super::national`], the store test from the seeded
//! rows).

use std::fmt::Write;

use super::{Clock, Workflow};

/// What each procedure type is, for the headings of the document.
fn about(procedure_type: &str) -> &'static str {
    match procedure_type {
        "detailed_plan" => {
            "Detailed plan (detailplaneering), Planning Act: initiation, preparation, coordination \
             and opinions, adoption (vastuvõtmine), public display, public discussion (skipped \
             when no objections were raised), final adoption (kehtestamine, `decide_grant` → \
             `in_force`) or refusal."
        }
        "design_criteria" => "Design criteria (projekteerimistingimused), the normal procedure.",
        "design_criteria_open" => {
            "Design criteria in the open procedure (avatud menetlus): a public display before \
             the decision."
        }
        "building_permit" => {
            "Building permit: the spatial review part of the procedure in the national building \
             register EHR, linked by the EHR procedure id; granted means the review agrees."
        }
        "excavation_permit" => "Excavation permit (kaeveluba), by the municipality's regulation.",
        "felling_permit" => "Tree-felling permit (raieluba), by the municipality's regulation.",
        _ => "",
    }
}

fn mark(b: bool) -> &'static str {
    if b { "yes" } else { "" }
}

/// One workflow: a heading, its states and its transitions.
pub fn workflow_tables(w: &Workflow) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "## {}\n", w.procedure_type());
    let about = about(w.procedure_type());
    if !about.is_empty() {
        let _ = writeln!(s, "{about}\n");
    }
    s.push_str("| state | terminal | decision clock | active | public display |\n");
    s.push_str("|---|---|---|---|---|\n");
    for st in w.states() {
        let clock = match st.clock {
            Clock::Off => "",
            c => c.as_str(),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            st.name,
            mark(st.terminal),
            clock,
            mark(st.active),
            mark(st.public_display)
        );
    }
    s.push_str("\n| from | action | to | who may |\n|---|---|---|---|\n");
    for t in w.transitions() {
        let to = if t.keeps_state() {
            "(stays)"
        } else {
            t.to.as_str()
        };
        let who = t
            .permits
            .iter()
            .map(|p| format!("`{p}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(s, "| {} | {} | {} | {} |", t.from, t.action, to, who);
    }
    s
}

/// The whole document: an introduction and each workflow's tables.
pub fn document(workflows: &[Workflow]) -> String {
    let mut s = String::from(
        "# Procedure workflows (national defaults)\n\n\
         Each procedure type's states and the actions between them, as seeded by\n\
         `migrations/0010_workflows.sql` (`municipality_code` NULL). A municipality may have its own\n\
         version of a type's workflow, valid between two dates; the ProcedureService uses the version\n\
         in force. Generated from `kovgis_core::workflow::national` by\n\
         `kovgis_core::workflow::render::document`; tests check that this file, the code and the\n\
         seeded rows agree.\n\n\
         - **decision clock**: `running`, the statutory period runs; `paused`, it waits for the\n\
           applicant and continues on resumption; empty, no period runs.\n\
         - **active**: the procedure is in progress (its checks are re-run when the data changes).\n\
         - **public display**: listed by `ListPublicNotices`.\n\
         - **to** `(stays)`: the action keeps the state.\n\
         - **who may**: roles (`applicant`, `official`, `approver`, …), scopes of state systems\n\
           (`authority:*` any coordinating authority, `kovgis:procedures:<type>`), `system` the\n\
           service's background jobs (deemed agreement, the end of a display period). Whose\n\
           procedure it is (an applicant's own, requests addressed to an authority, the\n\
           municipality) is decided by row-level security and the service, not here.\n\
         - An action not allowed in the current state is refused with `FAILED_PRECONDITION` naming\n\
           the state and the actions allowed there; an allowed action by someone not listed with\n\
           `PERMISSION_DENIED` naming who may.\n",
    );
    for w in workflows {
        s.push('\n');
        s.push_str(&workflow_tables(w));
    }
    s
}

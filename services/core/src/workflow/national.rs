//! The national default workflows, as code: the six graphs migration 0010 seeds, kept here so
//! that the pure tests can walk them and docs/WORKFLOWS.md can be written from them. The
//! database stays authoritative (a municipality's own versions live only there); a store test
//! proves the seeded rows equal these graphs, and a core test that the document does.
//!
//! Facts behind the graphs (DESIGN.md, Procedures): a detailed plan is initiated, prepared,
//! coordinated, adopted, put on public display, discussed in public when objections were
//! raised (else the discussion is skipped), and finally adopted or refused; design criteria
//! are decided after a review, the open procedure after a public display; the spatial review of
//! a building permit, an excavation permit and a tree-felling permit are reviewed (with
//! coordinations) and decided. Any procedure not yet ended may be withdrawn, by its applicant or
//! an official. Deemed agreement is a coordination response recorded by `system`; a municipality
//! whose regulation deems a permit granted when the municipality is silent gives `decide_grant`
//! to `system` in its own version (the national defaults do not).

use super::{Action, Clock, Permit, State, Transition, Workflow};

/// One row of the seed: an action from each of `from` to `to` (`None`: the same state), made by
/// any of `permits` (`kovgis:procedures:<type>` is the scope of this type).
struct Group {
    action: Action,
    from: &'static [&'static str],
    to: Option<&'static str>,
    permits: &'static [&'static str],
}

const OWN_SCOPE: &str = "kovgis:procedures:<type>";
const BY_APPLICANT: &[&str] = &["applicant", "official", OWN_SCOPE];
const BY_OFFICIAL: &[&str] = &["official"];
const BY_OFFICIAL_OR_SYSTEM: &[&str] = &["official", "system"];
const BY_APPROVER: &[&str] = &["approver"];
const ASSIGNERS: &[&str] = &["official", "approver"];
const RESPONDERS: &[&str] = &["official", "authority:*", "system"];

const fn g(
    action: Action,
    from: &'static [&'static str],
    to: Option<&'static str>,
    permits: &'static [&'static str],
) -> Group {
    Group {
        action,
        from,
        to,
        permits,
    }
}

/// The states of the review-shaped types (design criteria, building-permit review, excavation
/// and felling permits): name, terminal, clock, active, public display.
const REVIEW_STATES: &[(&str, bool, Clock, bool, bool)] = &[
    ("draft", false, Clock::Off, false, false),
    ("under_review", false, Clock::Running, true, false),
    ("waiting_for_applicant", false, Clock::Paused, true, false),
    ("granted", true, Clock::Off, false, false),
    ("refused", true, Clock::Off, false, false),
    ("withdrawn", true, Clock::Off, false, false),
];

const REVIEW_OPEN: &[&str] = &["under_review", "waiting_for_applicant"];

const REVIEW: &[Group] = &[
    g(
        Action::Submit,
        &["draft"],
        Some("under_review"),
        BY_APPLICANT,
    ),
    g(Action::Assign, REVIEW_OPEN, None, ASSIGNERS),
    g(Action::RequestCoordination, REVIEW_OPEN, None, BY_OFFICIAL),
    g(
        Action::RecordCoordinationResponse,
        REVIEW_OPEN,
        None,
        RESPONDERS,
    ),
    g(
        Action::PauseClock,
        &["under_review"],
        Some("waiting_for_applicant"),
        BY_OFFICIAL,
    ),
    g(
        Action::ResumeClock,
        &["waiting_for_applicant"],
        Some("under_review"),
        BY_OFFICIAL,
    ),
    g(
        Action::DecideGrant,
        &["under_review"],
        Some("granted"),
        BY_APPROVER,
    ),
    g(
        Action::DecideRefuse,
        REVIEW_OPEN,
        Some("refused"),
        BY_APPROVER,
    ),
    g(
        Action::Withdraw,
        &["draft", "under_review", "waiting_for_applicant"],
        Some("withdrawn"),
        BY_APPLICANT,
    ),
];

/// Design criteria in the open procedure: the review with a public display before the decision.
const OPEN_STATES: &[(&str, bool, Clock, bool, bool)] = &[
    ("draft", false, Clock::Off, false, false),
    ("under_review", false, Clock::Running, true, false),
    ("waiting_for_applicant", false, Clock::Paused, true, false),
    ("public_display", false, Clock::Running, true, true),
    ("after_public_display", false, Clock::Running, true, false),
    ("granted", true, Clock::Off, false, false),
    ("refused", true, Clock::Off, false, false),
    ("withdrawn", true, Clock::Off, false, false),
];

const OPEN_ALL: &[&str] = &[
    "under_review",
    "waiting_for_applicant",
    "public_display",
    "after_public_display",
];

const OPEN: &[Group] = &[
    g(
        Action::Submit,
        &["draft"],
        Some("under_review"),
        BY_APPLICANT,
    ),
    g(Action::Assign, OPEN_ALL, None, ASSIGNERS),
    g(
        Action::RequestCoordination,
        &[
            "under_review",
            "waiting_for_applicant",
            "after_public_display",
        ],
        None,
        BY_OFFICIAL,
    ),
    g(
        Action::RecordCoordinationResponse,
        OPEN_ALL,
        None,
        RESPONDERS,
    ),
    g(
        Action::PauseClock,
        &["under_review"],
        Some("waiting_for_applicant"),
        BY_OFFICIAL,
    ),
    g(
        Action::ResumeClock,
        &["waiting_for_applicant"],
        Some("under_review"),
        BY_OFFICIAL,
    ),
    g(
        Action::StartPublicDisplay,
        &["under_review"],
        Some("public_display"),
        BY_OFFICIAL,
    ),
    g(
        Action::RecordPublicOpinion,
        &["public_display"],
        None,
        BY_OFFICIAL,
    ),
    g(
        Action::EndPublicDisplay,
        &["public_display"],
        Some("after_public_display"),
        BY_OFFICIAL_OR_SYSTEM,
    ),
    g(
        Action::DecideGrant,
        &["after_public_display"],
        Some("granted"),
        BY_APPROVER,
    ),
    g(
        Action::DecideRefuse,
        &[
            "under_review",
            "waiting_for_applicant",
            "after_public_display",
        ],
        Some("refused"),
        BY_APPROVER,
    ),
    g(
        Action::Withdraw,
        &[
            "draft",
            "under_review",
            "waiting_for_applicant",
            "public_display",
            "after_public_display",
        ],
        Some("withdrawn"),
        BY_APPLICANT,
    ),
];

/// The detailed plan (Planning Act): initiation, preparation, coordination, adoption, public
/// display, public discussion or its skipping, final adoption (`in_force`) or refusal.
const PLAN_STATES: &[(&str, bool, Clock, bool, bool)] = &[
    ("draft", false, Clock::Off, false, false),
    ("initiation", false, Clock::Running, true, false),
    ("waiting_for_applicant", false, Clock::Paused, true, false),
    ("preparation", false, Clock::Off, true, false),
    ("coordination", false, Clock::Off, true, false),
    ("adopted", false, Clock::Running, true, false),
    ("public_display", false, Clock::Running, true, true),
    ("after_public_display", false, Clock::Running, true, false),
    ("public_discussion", false, Clock::Running, true, false),
    (
        "awaiting_final_adoption",
        false,
        Clock::Running,
        true,
        false,
    ),
    ("in_force", true, Clock::Off, false, false),
    ("refused", true, Clock::Off, false, false),
    ("withdrawn", true, Clock::Off, false, false),
];

/// Every state of the plan after submission and before its end.
const PLAN_OPEN: &[&str] = &[
    "initiation",
    "waiting_for_applicant",
    "preparation",
    "coordination",
    "adopted",
    "public_display",
    "after_public_display",
    "public_discussion",
    "awaiting_final_adoption",
];

/// States where coordination answers may still arrive (late ones, deemed agreements).
const PLAN_ANSWERING: &[&str] = &[
    "coordination",
    "adopted",
    "public_display",
    "after_public_display",
    "public_discussion",
    "awaiting_final_adoption",
];

const PLAN: &[Group] = &[
    g(Action::Submit, &["draft"], Some("initiation"), BY_APPLICANT),
    g(Action::Assign, PLAN_OPEN, None, ASSIGNERS),
    g(
        Action::PauseClock,
        &["initiation"],
        Some("waiting_for_applicant"),
        BY_OFFICIAL,
    ),
    g(
        Action::ResumeClock,
        &["waiting_for_applicant"],
        Some("initiation"),
        BY_OFFICIAL,
    ),
    g(
        Action::Initiate,
        &["initiation"],
        Some("preparation"),
        BY_APPROVER,
    ),
    g(
        Action::RequestCoordination,
        &["preparation"],
        Some("coordination"),
        BY_OFFICIAL,
    ),
    g(
        Action::RequestCoordination,
        &["coordination"],
        None,
        BY_OFFICIAL,
    ),
    g(
        Action::RecordCoordinationResponse,
        PLAN_ANSWERING,
        None,
        RESPONDERS,
    ),
    g(
        Action::Adopt,
        &["coordination"],
        Some("adopted"),
        BY_APPROVER,
    ),
    g(
        Action::StartPublicDisplay,
        &["adopted"],
        Some("public_display"),
        BY_OFFICIAL,
    ),
    g(
        Action::RecordPublicOpinion,
        &["public_display"],
        None,
        BY_OFFICIAL,
    ),
    g(
        Action::EndPublicDisplay,
        &["public_display"],
        Some("after_public_display"),
        BY_OFFICIAL_OR_SYSTEM,
    ),
    g(
        Action::StartPublicDiscussion,
        &["after_public_display"],
        Some("public_discussion"),
        BY_OFFICIAL,
    ),
    g(
        Action::SkipPublicDiscussion,
        &["after_public_display"],
        Some("awaiting_final_adoption"),
        BY_OFFICIAL,
    ),
    g(
        Action::EndPublicDiscussion,
        &["public_discussion"],
        Some("awaiting_final_adoption"),
        BY_OFFICIAL,
    ),
    g(
        Action::DecideGrant,
        &["awaiting_final_adoption"],
        Some("in_force"),
        BY_APPROVER,
    ),
    g(
        Action::DecideRefuse,
        &[
            "initiation",
            "waiting_for_applicant",
            "preparation",
            "coordination",
            "adopted",
            "awaiting_final_adoption",
        ],
        Some("refused"),
        BY_APPROVER,
    ),
    g(
        Action::Withdraw,
        &[
            "draft",
            "initiation",
            "waiting_for_applicant",
            "preparation",
            "coordination",
            "adopted",
            "public_display",
            "after_public_display",
            "public_discussion",
            "awaiting_final_adoption",
        ],
        Some("withdrawn"),
        BY_APPLICANT,
    ),
];

fn build(
    procedure_type: &str,
    states: &[(&str, bool, Clock, bool, bool)],
    groups: &[Group],
) -> Workflow {
    let states = states
        .iter()
        .map(|&(n, t, c, a, p)| State::new(n, t, c, a, p))
        .collect();
    let own = format!("kovgis:procedures:{procedure_type}");
    let mut transitions = Vec::new();
    for gr in groups {
        for from in gr.from {
            transitions.push(Transition {
                action: gr.action,
                from: (*from).to_owned(),
                to: gr.to.unwrap_or(*from).to_owned(),
                permits: gr
                    .permits
                    .iter()
                    .map(|p| {
                        let p = if *p == OWN_SCOPE { own.as_str() } else { p };
                        Permit::parse(p).expect("the national permits are well formed")
                    })
                    .collect(),
            });
        }
    }
    Workflow::new(procedure_type, states, transitions)
}

/// The national default workflow of a procedure type ([`super::PROCEDURE_TYPES`]); `None` for
/// an unknown type.
pub fn national_default(procedure_type: &str) -> Option<Workflow> {
    Some(match procedure_type {
        "detailed_plan" => build(procedure_type, PLAN_STATES, PLAN),
        "design_criteria_open" => build(procedure_type, OPEN_STATES, OPEN),
        "design_criteria" | "building_permit" | "excavation_permit" | "felling_permit" => {
            build(procedure_type, REVIEW_STATES, REVIEW)
        }
        _ => return None,
    })
}

/// All six national defaults, in the order of [`super::PROCEDURE_TYPES`].
pub fn national_defaults() -> Vec<Workflow> {
    super::PROCEDURE_TYPES
        .iter()
        .map(|t| national_default(t).expect("every procedure type has a national workflow"))
        .collect()
}

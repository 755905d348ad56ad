//! Tests of the workflows: walks through the national graphs with expected states worked out by
//! hand from DESIGN.md's procedures, the refusals, and broken graphs that validation must reject.

use super::national::{national_default, national_defaults};
use super::*;

fn wf(t: &str) -> Workflow {
    national_default(t).unwrap()
}

fn applicant() -> Actor {
    Actor::with_roles(&["applicant"])
}
fn official() -> Actor {
    Actor::with_roles(&["official"])
}
fn approver() -> Actor {
    Actor::with_roles(&["approver"])
}
fn authority() -> Actor {
    Actor::with_scopes(&["authority:Keskkonnaamet"])
}

/// Makes each step from `draft`, asserting the state after it.
fn walk(w: &Workflow, steps: &[(Action, Actor, &str)]) {
    let mut state = INITIAL_STATE.to_owned();
    for (action, actor, expected) in steps {
        let t = w
            .check(&state, *action, actor)
            .unwrap_or_else(|r| panic!("{}: {r}", w.procedure_type()));
        assert_eq!(
            t.to,
            *expected,
            "{} {action} from {state}",
            w.procedure_type()
        );
        state = t.to.clone();
    }
}

#[test]
fn all_six_national_workflows_validate() {
    let all = national_defaults();
    let types: Vec<&str> = all.iter().map(|w| w.procedure_type()).collect();
    assert_eq!(
        types,
        [
            "detailed_plan",
            "design_criteria",
            "design_criteria_open",
            "building_permit",
            "excavation_permit",
            "felling_permit"
        ]
    );
    for w in &all {
        w.validate().unwrap();
    }
    assert!(national_default("parking_permit").is_none());
}

#[test]
fn review_types_walk_from_draft_to_a_decision() {
    use Action::*;
    for t in [
        "design_criteria",
        "building_permit",
        "excavation_permit",
        "felling_permit",
    ] {
        let w = wf(t);
        walk(
            &w,
            &[
                (Submit, applicant(), "under_review"),
                (Assign, approver(), "under_review"),
                (RequestCoordination, official(), "under_review"),
                (PauseClock, official(), "waiting_for_applicant"),
                (
                    RecordCoordinationResponse,
                    authority(),
                    "waiting_for_applicant",
                ),
                (ResumeClock, official(), "under_review"),
                (RecordCoordinationResponse, Actor::system(), "under_review"),
                (DecideGrant, approver(), "granted"),
            ],
        );
        walk(
            &w,
            &[
                (Submit, official(), "under_review"),
                (DecideRefuse, approver(), "refused"),
            ],
        );
        // A state system of this type submits; another type's scope does not.
        let own = Actor::with_scopes(&[format!("kovgis:procedures:{t}").as_str()]);
        walk(&w, &[(Submit, own, "under_review")]);
        let other = Actor::with_scopes(&["kovgis:procedures:detailed_plan"]);
        assert!(matches!(
            w.check("draft", Submit, &other),
            Err(Refusal::NotPermitted { .. })
        ));
        // A refusal while waiting for an applicant who never answers.
        assert_eq!(
            w.check("waiting_for_applicant", DecideRefuse, &approver())
                .unwrap()
                .to,
            "refused"
        );
    }
}

#[test]
fn open_design_criteria_are_displayed_before_the_grant() {
    use Action::*;
    let w = wf("design_criteria_open");
    walk(
        &w,
        &[
            (Submit, applicant(), "under_review"),
            (StartPublicDisplay, official(), "public_display"),
            (RecordPublicOpinion, official(), "public_display"),
            (RecordCoordinationResponse, authority(), "public_display"),
            (EndPublicDisplay, Actor::system(), "after_public_display"),
            (DecideGrant, approver(), "granted"),
        ],
    );
    // No grant without the display; a refusal needs none.
    assert_eq!(
        w.check("under_review", DecideGrant, &approver()),
        Err(Refusal::NotAllowed {
            state: "under_review".into(),
            action: DecideGrant,
            allowed: vec![
                Assign,
                RequestCoordination,
                RecordCoordinationResponse,
                PauseClock,
                StartPublicDisplay,
                DecideRefuse,
                Withdraw
            ],
        })
    );
    assert_eq!(
        w.check("under_review", DecideRefuse, &approver())
            .unwrap()
            .to,
        "refused"
    );
    assert!(w.state("public_display").unwrap().public_display);
    assert!(!w.state("under_review").unwrap().public_display);
}

#[test]
fn detailed_plan_walks_both_ways_past_the_public_discussion() {
    use Action::*;
    let w = wf("detailed_plan");
    let to_display = [
        (Submit, applicant(), "initiation"),
        (Assign, official(), "initiation"),
        (PauseClock, official(), "waiting_for_applicant"),
        (ResumeClock, official(), "initiation"),
        (Initiate, approver(), "preparation"),
        (RequestCoordination, official(), "coordination"),
        (RequestCoordination, official(), "coordination"),
        (RecordCoordinationResponse, authority(), "coordination"),
        (RecordCoordinationResponse, Actor::system(), "coordination"),
        (Adopt, approver(), "adopted"),
        (StartPublicDisplay, official(), "public_display"),
        (RecordPublicOpinion, official(), "public_display"),
        (EndPublicDisplay, official(), "after_public_display"),
    ];
    let mut with_discussion = to_display.to_vec();
    with_discussion.extend([
        (StartPublicDiscussion, official(), "public_discussion"),
        (EndPublicDiscussion, official(), "awaiting_final_adoption"),
        (DecideGrant, approver(), "in_force"),
    ]);
    walk(&w, &with_discussion);
    let mut skipped = to_display.to_vec();
    skipped.extend([
        (SkipPublicDiscussion, official(), "awaiting_final_adoption"),
        (DecideRefuse, approver(), "refused"),
    ]);
    walk(&w, &skipped);
    // Refused initiation.
    walk(
        &w,
        &[
            (Submit, applicant(), "initiation"),
            (DecideRefuse, approver(), "refused"),
        ],
    );
    // Not adopted before coordination, not finally adopted before the display.
    assert!(matches!(
        w.check("preparation", Adopt, &approver()),
        Err(Refusal::NotAllowed { .. })
    ));
    assert!(matches!(
        w.check("adopted", DecideGrant, &approver()),
        Err(Refusal::NotAllowed { .. })
    ));
    assert!(w.state("public_display").unwrap().public_display);
    assert_eq!(w.state("preparation").unwrap().clock, Clock::Off);
    assert_eq!(
        w.state("waiting_for_applicant").unwrap().clock,
        Clock::Paused
    );
}

#[test]
fn an_illegal_action_names_the_state_and_the_allowed_ones() {
    let w = wf("excavation_permit");
    let r = w
        .check("draft", Action::DecideGrant, &approver())
        .unwrap_err();
    assert_eq!(
        r,
        Refusal::NotAllowed {
            state: "draft".into(),
            action: Action::DecideGrant,
            allowed: vec![Action::Submit, Action::Withdraw],
        }
    );
    assert_eq!(
        r.to_string(),
        "decide_grant is not allowed in state draft; allowed: submit, withdraw"
    );
    // An action of another type altogether is refused the same way.
    let r = w
        .check("under_review", Action::Adopt, &approver())
        .unwrap_err();
    assert_eq!(
        r.to_string(),
        "adopt is not allowed in state under_review; allowed: assign, request_coordination, \
         record_coordination_response, pause_clock, decide_grant, decide_refuse, withdraw"
    );
    // The state question comes first: even a caller who may do nothing learns it.
    assert!(matches!(
        w.check("draft", Action::DecideGrant, &Actor::default()),
        Err(Refusal::NotAllowed { .. })
    ));
    assert_eq!(
        w.check("closed", Action::Withdraw, &official()),
        Err(Refusal::UnknownState {
            state: "closed".into()
        })
    );
}

#[test]
fn an_allowed_action_by_the_wrong_role_names_who_may() {
    let w = wf("felling_permit");
    let r = w
        .check("under_review", Action::DecideGrant, &official())
        .unwrap_err();
    assert_eq!(
        r,
        Refusal::NotPermitted {
            state: "under_review".into(),
            action: Action::DecideGrant,
            permitted: vec![Permit::Role("approver".into())],
        }
    );
    assert_eq!(
        r.to_string(),
        "decide_grant in state under_review may be made only by: approver"
    );
    // An applicant may not record an authority's answer; the system may not decide; nobody
    // without roles or scopes may do anything.
    let r = w
        .check(
            "under_review",
            Action::RecordCoordinationResponse,
            &applicant(),
        )
        .unwrap_err();
    assert_eq!(
        r.to_string(),
        "record_coordination_response in state under_review may be made only by: official, \
         authority:*, system"
    );
    assert!(
        w.check("under_review", Action::DecideGrant, &Actor::system())
            .is_err()
    );
    for t in w.transitions() {
        assert!(matches!(
            w.check(&t.from, t.action, &Actor::default()),
            Err(Refusal::NotPermitted { .. })
        ));
    }
    // A scope spelled like a role is not the role; `authority:` alone is no authority.
    let fake = Actor::with_scopes(&["approver", "authority:"]);
    assert!(w.check("under_review", Action::DecideGrant, &fake).is_err());
    assert!(
        w.check("under_review", Action::RecordCoordinationResponse, &fake)
            .is_err()
    );
}

#[test]
fn a_terminal_state_allows_nothing() {
    let everyone = Actor {
        roles: ROLES.iter().map(|r| (*r).to_owned()).collect(),
        scopes: ["authority:Maa-amet".to_owned()]
            .into_iter()
            .chain(
                PROCEDURE_TYPES
                    .iter()
                    .map(|t| format!("kovgis:procedures:{t}")),
            )
            .collect(),
        system: true,
    };
    let terminals = [
        ("detailed_plan", vec!["in_force", "refused", "withdrawn"]),
        ("design_criteria", vec!["granted", "refused", "withdrawn"]),
        (
            "design_criteria_open",
            vec!["granted", "refused", "withdrawn"],
        ),
        ("building_permit", vec!["granted", "refused", "withdrawn"]),
        ("excavation_permit", vec!["granted", "refused", "withdrawn"]),
        ("felling_permit", vec!["granted", "refused", "withdrawn"]),
    ];
    for (t, ends) in terminals {
        let w = wf(t);
        let found: Vec<&str> = w
            .states()
            .iter()
            .filter(|s| s.terminal)
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(found, ends, "{t}");
        for end in ends {
            for a in Action::ALL {
                assert_eq!(
                    w.check(end, a, &everyone),
                    Err(Refusal::NotAllowed {
                        state: end.into(),
                        action: a,
                        allowed: vec![]
                    }),
                    "{t} {end} {a}"
                );
            }
            assert!(w.actions_for(end, &everyone).is_empty());
        }
    }
}

#[test]
fn withdraw_from_every_state_not_ended() {
    let open = [
        (
            "detailed_plan",
            vec![
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
        ),
        (
            "design_criteria_open",
            vec![
                "draft",
                "under_review",
                "waiting_for_applicant",
                "public_display",
                "after_public_display",
            ],
        ),
        (
            "design_criteria",
            vec!["draft", "under_review", "waiting_for_applicant"],
        ),
        (
            "building_permit",
            vec!["draft", "under_review", "waiting_for_applicant"],
        ),
        (
            "excavation_permit",
            vec!["draft", "under_review", "waiting_for_applicant"],
        ),
        (
            "felling_permit",
            vec!["draft", "under_review", "waiting_for_applicant"],
        ),
    ];
    for (t, states) in open {
        let w = wf(t);
        let non_terminal = w.states().iter().filter(|s| !s.terminal).count();
        assert_eq!(non_terminal, states.len(), "{t}");
        for s in states {
            for who in [applicant(), official()] {
                assert_eq!(
                    w.check(s, Action::Withdraw, &who).unwrap().to,
                    "withdrawn",
                    "{t} {s}"
                );
            }
            assert!(
                w.check(s, Action::Withdraw, &approver()).is_err(),
                "{t} {s}"
            );
        }
    }
}

#[test]
fn actions_for_lists_what_a_caller_may_offer() {
    let w = wf("building_permit");
    assert_eq!(
        w.actions_for("under_review", &approver()),
        [Action::Assign, Action::DecideGrant, Action::DecideRefuse]
    );
    assert_eq!(
        w.actions_for("under_review", &authority()),
        [Action::RecordCoordinationResponse]
    );
}

#[test]
fn permits_parse_roles_scopes_and_system() {
    assert_eq!(
        Permit::parse("official"),
        Some(Permit::Role("official".into()))
    );
    assert_eq!(Permit::parse("system"), Some(Permit::System));
    assert_eq!(
        Permit::parse("authority:*"),
        Some(Permit::Scope("authority:*".into()))
    );
    for bad in ["", "officer", "authority", ":x", "a:*b", "a:b c", "*"] {
        assert_eq!(Permit::parse(bad), None, "{bad:?}");
    }
    let p = Permit::parse("kovgis:procedures:felling_permit").unwrap();
    assert!(p.admits(&Actor::with_scopes(&["kovgis:procedures:felling_permit"])));
    assert!(!p.admits(&Actor::with_scopes(&["kovgis:procedures:felling_permit_x"])));
    assert!(!p.admits(&Actor::with_roles(&["official"])));
}

#[test]
fn names_are_snake_case() {
    for ok in ["draft", "under_review", "a1_b2"] {
        assert!(is_snake_case(ok), "{ok}");
    }
    for bad in [
        "",
        "Draft",
        "under__review",
        "_x",
        "x_",
        "1x",
        "under-review",
        "ä",
    ] {
        assert!(!is_snake_case(bad), "{bad:?}");
    }
    for a in Action::ALL {
        assert!(is_snake_case(a.as_str()));
        assert_eq!(Action::parse(a.as_str()), Some(a));
    }
    assert_eq!(Action::parse("Submit"), None);
}

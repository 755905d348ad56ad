//! Tests of validation and rendering: broken graphs built here that [`Workflow::validate`] must
//! reject, a small graph rendered to a table written by hand, and docs/WORKFLOWS.md kept equal
//! to the national defaults.

use super::national::national_defaults;
use super::*;

/// A small valid graph the broken ones are made from: draft → open → done, and withdraw.
fn small() -> (Vec<State>, Vec<Transition>) {
    let states = vec![
        State::new("draft", false, Clock::Off, false, false),
        State::new("open", false, Clock::Running, true, false),
        State::new("done", true, Clock::Off, false, false),
    ];
    let tr = |a, f: &str, t: &str| Transition {
        action: a,
        from: f.into(),
        to: t.into(),
        permits: vec![Permit::Role("official".into())],
    };
    let transitions = vec![
        tr(Action::Submit, "draft", "open"),
        tr(Action::Assign, "open", "open"),
        tr(Action::DecideGrant, "open", "done"),
    ];
    (states, transitions)
}

fn problems(states: Vec<State>, transitions: Vec<Transition>) -> Vec<Problem> {
    Workflow::new("test_type", states, transitions)
        .validate()
        .map(|()| Vec::new())
        .unwrap_or_else(|e| e.problems)
}

#[test]
fn validate_accepts_the_small_graph() {
    let (s, t) = small();
    let found = problems(s, t);
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn validate_rejects_an_unreachable_state() {
    let (mut s, mut t) = small();
    s.push(State::new("orphan", false, Clock::Running, true, false));
    t.push(Transition {
        action: Action::Withdraw,
        from: "orphan".into(),
        to: "done".into(),
        permits: vec![Permit::System],
    });
    assert_eq!(
        problems(s, t),
        [Problem::Unreachable {
            state: "orphan".into()
        }]
    );
}

#[test]
fn validate_rejects_a_dead_end_and_a_closed_loop() {
    // open → stuck, with no way out of stuck.
    let (mut s, mut t) = small();
    s.push(State::new("stuck", false, Clock::Running, true, false));
    t.push(Transition {
        action: Action::PauseClock,
        from: "open".into(),
        to: "stuck".into(),
        permits: vec![Permit::System],
    });
    assert_eq!(
        problems(s.clone(), t.clone()),
        [Problem::DeadEnd {
            state: "stuck".into()
        }]
    );
    // A way out of stuck that only leads back into it: still no end.
    s.push(State::new("loop", false, Clock::Running, true, false));
    t.push(Transition {
        action: Action::ResumeClock,
        from: "stuck".into(),
        to: "loop".into(),
        permits: vec![Permit::System],
    });
    t.push(Transition {
        action: Action::PauseClock,
        from: "loop".into(),
        to: "stuck".into(),
        permits: vec![Permit::System],
    });
    assert_eq!(
        problems(s, t),
        [
            Problem::DeadEnd {
                state: "stuck".into()
            },
            Problem::DeadEnd {
                state: "loop".into()
            }
        ]
    );
}

#[test]
fn validate_rejects_a_duplicate_transition() {
    let (s, mut t) = small();
    t.push(Transition {
        action: Action::DecideGrant,
        from: "open".into(),
        to: "draft".into(),
        permits: vec![Permit::System],
    });
    assert_eq!(
        problems(s, t),
        [Problem::DuplicateTransition {
            from: "open".into(),
            action: Action::DecideGrant
        }]
    );
}

#[test]
fn validate_rejects_a_transition_out_of_a_terminal_state() {
    let (s, mut t) = small();
    t.push(Transition {
        action: Action::Assign,
        from: "done".into(),
        to: "done".into(),
        permits: vec![Permit::System],
    });
    assert_eq!(
        problems(s, t),
        [Problem::TerminalHasExit {
            state: "done".into(),
            action: Action::Assign
        }]
    );
}

#[test]
fn validate_rejects_bad_names_permits_states_and_a_missing_draft() {
    let (mut s, mut t) = small();
    s[2].active = true;
    s.push(State::new("open", false, Clock::Off, false, false));
    s.push(State::new("Bad-Name", true, Clock::Off, false, false));
    t[1].permits.clear();
    t[2].permits.push(Permit::Role("mayor".into()));
    t.push(Transition {
        action: Action::Withdraw,
        from: "open".into(),
        to: "nowhere".into(),
        permits: vec![Permit::System],
    });
    let found = problems(s, t);
    for expected in [
        Problem::TerminalNotEnded {
            state: "done".into(),
        },
        Problem::DuplicateState {
            state: "open".into(),
        },
        Problem::BadName {
            what: "state",
            name: "Bad-Name".into(),
        },
        Problem::NoPermits {
            from: "open".into(),
            action: Action::Assign,
        },
        Problem::BadPermit {
            from: "open".into(),
            action: Action::DecideGrant,
            permit: "mayor".into(),
        },
        Problem::UndeclaredState {
            from: "open".into(),
            action: Action::Withdraw,
            state: "nowhere".into(),
        },
        Problem::Unreachable {
            state: "Bad-Name".into(),
        },
    ] {
        assert!(found.contains(&expected), "{expected:?} not in {found:?}");
    }
    let (mut s, t) = small();
    s[0].name = "start".into();
    let found = problems(s, t);
    assert!(found.contains(&Problem::NoInitialState), "{found:?}");
    let err = Workflow::new("x", vec![], vec![]).validate().unwrap_err();
    assert_eq!(
        err.to_string(),
        "workflow x is invalid: there is no initial state draft"
    );
}

#[test]
fn render_writes_states_and_transitions_as_tables() {
    let (s, mut t) = small();
    t[2].permits.push(Permit::Scope("authority:*".into()));
    let w = Workflow::new("test_type", s, t);
    let expected = "## test_type\n\n\
        | state | terminal | decision clock | active | public display |\n\
        |---|---|---|---|---|\n\
        | draft |  |  |  |  |\n\
        | open |  | running | yes |  |\n\
        | done | yes |  |  |  |\n\
        \n\
        | from | action | to | who may |\n\
        |---|---|---|---|\n\
        | draft | submit | open | `official` |\n\
        | open | assign | (stays) | `official` |\n\
        | open | decide_grant | done | `official`, `authority:*` |\n";
    assert_eq!(render::workflow_tables(&w), expected);
}

#[test]
fn docs_workflows_md_is_the_national_defaults() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/WORKFLOWS.md");
    let expected = render::document(&national_defaults());
    if std::env::var_os("KOVGIS_WRITE_DOCS").is_some() {
        std::fs::write(path, &expected).unwrap();
    }
    let doc = std::fs::read_to_string(path).unwrap();
    assert!(
        doc == expected,
        "docs/WORKFLOWS.md differs from render::document(national_defaults()); rewrite it with \
         KOVGIS_WRITE_DOCS=1 cargo nextest run -E 'test(docs_workflows_md)'"
    );
}

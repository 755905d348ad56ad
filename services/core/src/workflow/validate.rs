//! Whether a state graph is a workable workflow: [`Workflow::validate`].
//!
//! Run once when a workflow is loaded; a stored graph that fails is refused with every problem
//! named, so that whoever wrote a municipality's version can fix it in one go. The promises:
//! snake_case names; one initial state, `draft`, not terminal; no duplicate state and no two
//! transitions with the same action from the same state; transitions between declared states,
//! each with at least one well-formed permit; every state reachable from `draft`; from every
//! non-terminal state some terminal state reachable (no dead end, no closed loop); no action
//! out of a terminal state; a terminal state neither active, on display nor with a clock.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt;

use super::{Action, Clock, INITIAL_STATE, Workflow, is_snake_case};

/// One thing wrong with a workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A procedure type or state name that is not snake_case.
    BadName {
        what: &'static str,
        name: String,
    },
    DuplicateState {
        state: String,
    },
    /// No state named `draft`.
    NoInitialState,
    InitialIsTerminal,
    /// A transition names a state the workflow does not declare.
    UndeclaredState {
        from: String,
        action: Action,
        state: String,
    },
    DuplicateTransition {
        from: String,
        action: Action,
    },
    /// A transition nobody may make.
    NoPermits {
        from: String,
        action: Action,
    },
    /// A permit that is no known role, `system` nor a well-formed scope.
    BadPermit {
        from: String,
        action: Action,
        permit: String,
    },
    /// No way to it from `draft`.
    Unreachable {
        state: String,
    },
    /// A non-terminal state from which no terminal state can be reached.
    DeadEnd {
        state: String,
    },
    /// An action out of a terminal state.
    TerminalHasExit {
        state: String,
        action: Action,
    },
    /// A terminal state marked active, on public display, or with a running or paused clock.
    TerminalNotEnded {
        state: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::BadName { what, name } => write!(f, "{what} name {name:?} is not snake_case"),
            Problem::DuplicateState { state } => write!(f, "state {state} is declared twice"),
            Problem::NoInitialState => write!(f, "there is no initial state {INITIAL_STATE}"),
            Problem::InitialIsTerminal => {
                write!(f, "the initial state {INITIAL_STATE} is terminal")
            }
            Problem::UndeclaredState {
                from,
                action,
                state,
            } => write!(f, "{action} from {from} names the undeclared state {state}"),
            Problem::DuplicateTransition { from, action } => {
                write!(f, "{action} from {from} is defined more than once")
            }
            Problem::NoPermits { from, action } => {
                write!(f, "{action} from {from} names nobody who may make it")
            }
            Problem::BadPermit {
                from,
                action,
                permit,
            } => write!(
                f,
                "{action} from {from}: {permit:?} is no role, scope or system"
            ),
            Problem::Unreachable { state } => {
                write!(f, "state {state} cannot be reached from {INITIAL_STATE}")
            }
            Problem::DeadEnd { state } => {
                write!(
                    f,
                    "state {state} is not terminal but no end can be reached from it"
                )
            }
            Problem::TerminalHasExit { state, action } => {
                write!(f, "terminal state {state} has the action {action}")
            }
            Problem::TerminalNotEnded { state } => write!(
                f,
                "terminal state {state} is marked active, on display or with a clock"
            ),
        }
    }
}

/// A workflow that failed [`Workflow::validate`], with every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("workflow {procedure_type} is invalid: {}", .problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "))]
pub struct WorkflowError {
    pub procedure_type: String,
    pub problems: Vec<Problem>,
}

impl Workflow {
    /// Checks the promises listed in the module documentation.
    pub fn validate(&self) -> Result<(), WorkflowError> {
        let mut problems = Vec::new();
        if !is_snake_case(&self.procedure_type) {
            problems.push(Problem::BadName {
                what: "procedure type",
                name: self.procedure_type.clone(),
            });
        }
        let mut names = BTreeSet::new();
        for s in &self.states {
            if !is_snake_case(&s.name) {
                problems.push(Problem::BadName {
                    what: "state",
                    name: s.name.clone(),
                });
            }
            if !names.insert(s.name.as_str()) {
                problems.push(Problem::DuplicateState {
                    state: s.name.clone(),
                });
            }
            if s.terminal && (s.active || s.public_display || s.clock != Clock::Off) {
                problems.push(Problem::TerminalNotEnded {
                    state: s.name.clone(),
                });
            }
        }
        match self.initial() {
            None => problems.push(Problem::NoInitialState),
            Some(s) if s.terminal => problems.push(Problem::InitialIsTerminal),
            Some(_) => {}
        }
        let mut seen = BTreeSet::new();
        for t in &self.transitions {
            for state in [&t.from, &t.to] {
                if !names.contains(state.as_str()) {
                    problems.push(Problem::UndeclaredState {
                        from: t.from.clone(),
                        action: t.action,
                        state: state.clone(),
                    });
                }
            }
            if !seen.insert((t.from.as_str(), t.action)) {
                problems.push(Problem::DuplicateTransition {
                    from: t.from.clone(),
                    action: t.action,
                });
            }
            if t.permits.is_empty() {
                problems.push(Problem::NoPermits {
                    from: t.from.clone(),
                    action: t.action,
                });
            }
            for p in t.permits.iter().filter(|p| !p.is_well_formed()) {
                problems.push(Problem::BadPermit {
                    from: t.from.clone(),
                    action: t.action,
                    permit: p.to_string(),
                });
            }
            if self.state(&t.from).is_some_and(|s| s.terminal) {
                problems.push(Problem::TerminalHasExit {
                    state: t.from.clone(),
                    action: t.action,
                });
            }
        }
        self.check_paths(&mut problems);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(WorkflowError {
                procedure_type: self.procedure_type.clone(),
                problems,
            })
        }
    }

    /// Reachability from `draft` (forwards) and of a terminal state (backwards from the
    /// terminal states), over the transitions between declared states.
    fn check_paths(&self, problems: &mut Vec<Problem>) {
        let mut next: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut prev: HashMap<&str, Vec<&str>> = HashMap::new();
        for t in &self.transitions {
            next.entry(&t.from).or_default().push(&t.to);
            prev.entry(&t.to).or_default().push(&t.from);
        }
        if self.initial().is_some() {
            let from_draft = reached(vec![INITIAL_STATE], &next);
            for s in self
                .states
                .iter()
                .filter(|s| !from_draft.contains(s.name.as_str()))
            {
                problems.push(Problem::Unreachable {
                    state: s.name.clone(),
                });
            }
        }
        let terminals = self
            .states
            .iter()
            .filter(|s| s.terminal)
            .map(|s| s.name.as_str())
            .collect();
        let may_end = reached(terminals, &prev);
        for s in self
            .states
            .iter()
            .filter(|s| !s.terminal && !may_end.contains(s.name.as_str()))
        {
            problems.push(Problem::DeadEnd {
                state: s.name.clone(),
            });
        }
    }
}

/// The states reachable from `starts` along `edges` (the starts included).
fn reached<'a>(starts: Vec<&'a str>, edges: &HashMap<&'a str, Vec<&'a str>>) -> BTreeSet<&'a str> {
    let mut seen: BTreeSet<&str> = starts.iter().copied().collect();
    let mut queue: VecDeque<&str> = starts.into();
    while let Some(s) = queue.pop_front() {
        for &n in edges.get(s).into_iter().flatten() {
            if seen.insert(n) {
                queue.push_back(n);
            }
        }
    }
    seen
}

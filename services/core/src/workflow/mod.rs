//! Procedure workflows as data: a procedure type's state graph — its states, the transitions
//! (actions) between them, and who may make each one.
//!
//! A [`Workflow`] is built from rows the store reads (migration 0010: a national default per
//! procedure type, a municipality's own versions with validity dates) and checked once with
//! [`Workflow::validate`]. The ProcedureService asks [`Workflow::check`] before every change of a
//! procedure: an action not allowed in the current state is a [`Refusal::NotAllowed`] naming the
//! state and the actions allowed from it (`FAILED_PRECONDITION`); an allowed action by a caller
//! without a permit is a [`Refusal::NotPermitted`] naming who may (`PERMISSION_DENIED`).
//!
//! What this module does not decide: whose procedure it is (an applicant's own, an authority's
//! addressed requests, the municipality — row-level security and the service), how long a state
//! may last (the statutory clocks), and conditions on the procedure's contents (e.g. that no
//! objection was raised before a public discussion is skipped). [`national`] holds the national
//! default graphs the migration seeds; [`render`] writes them as the tables of docs/WORKFLOWS.md.

mod action;
mod check;
pub mod national;
mod permit;
pub mod render;
mod validate;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod validate_tests;

pub use action::Action;
pub use check::{Actor, Refusal};
pub use permit::{Permit, ROLES};
pub use validate::{Problem, WorkflowError};

/// The state every procedure starts in.
pub const INITIAL_STATE: &str = "draft";

/// The procedure types, as stored and as named in scopes (`kovgis:procedures:<type>`).
pub const PROCEDURE_TYPES: [&str; 6] = [
    "detailed_plan",
    "design_criteria",
    "design_criteria_open",
    "building_permit",
    "excavation_permit",
    "felling_permit",
];

/// Whether the statutory decision period runs while a procedure is in a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Clock {
    /// No decision period runs: before submission, while a plan is being prepared (the law sets
    /// no time for it), after the end.
    Off,
    /// The period runs.
    Running,
    /// The period is suspended (waiting for the applicant) and continues on resumption.
    Paused,
}

impl Clock {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Clock::Off => "off",
            Clock::Running => "running",
            Clock::Paused => "paused",
        }
    }

    /// The clock a stored name means; `None` for anything else.
    pub fn parse(s: &str) -> Option<Clock> {
        [Clock::Off, Clock::Running, Clock::Paused]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// One state of a workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// snake_case, unique within the workflow.
    pub name: String,
    /// The procedure has ended here: no action leaves a terminal state.
    pub terminal: bool,
    pub clock: Clock,
    /// The procedure counts as in progress here (its stored checks are re-run when the data
    /// changes; it appears in officials' work lists).
    pub active: bool,
    /// The procedure is on public display here (listed by `ListPublicNotices`).
    pub public_display: bool,
}

impl State {
    /// A state with the given properties (a short form for tables of states).
    pub fn new(
        name: &str,
        terminal: bool,
        clock: Clock,
        active: bool,
        public_display: bool,
    ) -> State {
        State {
            name: name.to_owned(),
            terminal,
            clock,
            active,
            public_display,
        }
    }
}

/// One allowed action: from a state, by the callers `permits` lets, to a state (the same one
/// for actions that keep the state, such as recording an opinion).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub action: Action,
    pub from: String,
    pub to: String,
    /// Who may make it (any one suffices).
    pub permits: Vec<Permit>,
}

impl Transition {
    /// True when the action keeps the procedure in its state.
    pub fn keeps_state(&self) -> bool {
        self.from == self.to
    }
}

/// A procedure type's state graph. Build with [`Workflow::new`] and check with
/// [`Workflow::validate`] (or both at once with [`Workflow::validated`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workflow {
    procedure_type: String,
    states: Vec<State>,
    transitions: Vec<Transition>,
}

impl Workflow {
    /// A workflow from its parts, not yet validated.
    pub fn new(procedure_type: &str, states: Vec<State>, transitions: Vec<Transition>) -> Workflow {
        Workflow {
            procedure_type: procedure_type.to_owned(),
            states,
            transitions,
        }
    }

    /// A workflow from its parts, validated.
    pub fn validated(
        procedure_type: &str,
        states: Vec<State>,
        transitions: Vec<Transition>,
    ) -> Result<Workflow, WorkflowError> {
        let w = Workflow::new(procedure_type, states, transitions);
        w.validate()?;
        Ok(w)
    }

    pub fn procedure_type(&self) -> &str {
        &self.procedure_type
    }

    /// The states, in the order given.
    pub fn states(&self) -> &[State] {
        &self.states
    }

    /// The transitions, in the order given.
    pub fn transitions(&self) -> &[Transition] {
        &self.transitions
    }

    /// The state named `name`.
    pub fn state(&self, name: &str) -> Option<&State> {
        self.states.iter().find(|s| s.name == name)
    }

    /// The initial state ([`INITIAL_STATE`]).
    pub fn initial(&self) -> Option<&State> {
        self.state(INITIAL_STATE)
    }

    /// The transitions out of `state` (self-transitions included), in order.
    pub fn transitions_from<'a>(&'a self, state: &'a str) -> impl Iterator<Item = &'a Transition> {
        self.transitions.iter().filter(move |t| t.from == state)
    }

    /// The actions allowed from `state`, by anyone, in order.
    pub fn allowed_actions(&self, state: &str) -> Vec<Action> {
        self.transitions_from(state).map(|t| t.action).collect()
    }

    /// The actions `actor` may make from `state`, in order (what a client may offer as buttons).
    pub fn actions_for(&self, state: &str, actor: &Actor) -> Vec<Action> {
        self.transitions_from(state)
            .filter(|t| t.permits.iter().any(|p| p.admits(actor)))
            .map(|t| t.action)
            .collect()
    }
}

/// True for snake_case names: lower-case ASCII letters and digits in words joined by single
/// underscores, starting with a letter.
pub fn is_snake_case(name: &str) -> bool {
    !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.split('_').all(|w| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

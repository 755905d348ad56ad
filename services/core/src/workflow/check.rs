//! Deciding one action: [`Workflow::check`] and its [`Refusal`]s.
//!
//! The order of the questions is fixed: first whether the action exists from the current state
//! (a refusal any caller may learn: the workflows are public), then whether this caller may make
//! it. Both refusals name what would have been allowed, so the gRPC layer can answer with it.

use std::collections::BTreeSet;
use std::fmt;

use super::{Action, Permit, Transition, Workflow};

/// Who asks, as far as a workflow cares: roles, scopes, and whether it is the service's own
/// background work. The service builds it from the verified identity; nothing here trusts a
/// client's word.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    /// Role names (see [`super::ROLES`]).
    pub roles: BTreeSet<String>,
    /// Scopes, e.g. `authority:Keskkonnaamet`.
    pub scopes: BTreeSet<String>,
    /// The service's own background work (a `system:` identity).
    pub system: bool,
}

impl Actor {
    /// A person with these roles.
    pub fn with_roles(roles: &[&str]) -> Actor {
        Actor {
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            ..Actor::default()
        }
    }

    /// A machine client with these scopes.
    pub fn with_scopes(scopes: &[&str]) -> Actor {
        Actor {
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            ..Actor::default()
        }
    }

    /// The service's background work.
    pub fn system() -> Actor {
        Actor {
            system: true,
            ..Actor::default()
        }
    }
}

/// Why [`Workflow::check`] refused an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The procedure's state is not one of this workflow's (a procedure of another version or
    /// type): a server-side inconsistency, not the caller's fault.
    UnknownState { state: String },
    /// The action is not allowed from the current state (`FAILED_PRECONDITION`).
    NotAllowed {
        state: String,
        action: Action,
        /// The actions allowed from `state` (empty: a terminal state).
        allowed: Vec<Action>,
    },
    /// The action is allowed, but not to this caller (`PERMISSION_DENIED`).
    NotPermitted {
        state: String,
        action: Action,
        /// Who may.
        permitted: Vec<Permit>,
    },
}

fn list<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::UnknownState { state } => {
                write!(
                    f,
                    "the procedure is in state {state}, which its workflow does not have"
                )
            }
            Refusal::NotAllowed {
                state,
                action,
                allowed,
            } if allowed.is_empty() => write!(
                f,
                "{action} is not allowed in state {state}: the procedure has ended, no action is allowed"
            ),
            Refusal::NotAllowed {
                state,
                action,
                allowed,
            } => write!(
                f,
                "{action} is not allowed in state {state}; allowed: {}",
                list(allowed)
            ),
            Refusal::NotPermitted {
                state,
                action,
                permitted,
            } => write!(
                f,
                "{action} in state {state} may be made only by: {}",
                list(permitted)
            ),
        }
    }
}

impl std::error::Error for Refusal {}

impl Workflow {
    /// May `actor` make `action` on a procedure in state `current`? The transition to make, or
    /// why not.
    pub fn check(
        &self,
        current: &str,
        action: Action,
        actor: &Actor,
    ) -> Result<&Transition, Refusal> {
        if self.state(current).is_none() {
            return Err(Refusal::UnknownState {
                state: current.to_owned(),
            });
        }
        let Some(t) = self
            .transitions()
            .iter()
            .find(|t| t.from == current && t.action == action)
        else {
            return Err(Refusal::NotAllowed {
                state: current.to_owned(),
                action,
                allowed: self.allowed_actions(current),
            });
        };
        if t.permits.iter().any(|p| p.admits(actor)) {
            Ok(t)
        } else {
            Err(Refusal::NotPermitted {
                state: current.to_owned(),
                action,
                permitted: t.permits.clone(),
            })
        }
    }
}

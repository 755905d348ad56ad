//! Who may make a transition: a person's role, a machine client's scope, or the service's own
//! background work.
//!
//! Stored as text, one permit a string: a role name (`official`), a scope (`authority:*`,
//! `kovgis:procedures:building_permit`; a trailing `*` admits every scope with that prefix and
//! something after it), or `system`. Roles and scopes are kept apart on purpose: a machine token
//! carrying a scope spelled `official` is not an official.

use std::fmt;

use super::check::Actor;

/// The role names of kovgis-auth's `roles` claim.
pub const ROLES: [&str; 5] = [
    "applicant",
    "official",
    "approver",
    "gis_specialist",
    "municipality_admin",
];

/// One kind of caller that may make a transition.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Permit {
    /// A person holding this role (one of [`ROLES`]).
    Role(String),
    /// A caller holding a scope: exactly this one, or with a trailing `*` any scope beginning with
    /// what precedes it (and longer than that).
    Scope(String),
    /// The service's own background work (deemed agreement, the end of a display period).
    System,
}

impl Permit {
    /// The permit a stored string names; `None` when it is neither `system`, a known role nor a
    /// well-formed scope (see [`Permit::is_well_formed`]).
    pub fn parse(s: &str) -> Option<Permit> {
        let p = if s == "system" {
            Permit::System
        } else if ROLES.contains(&s) {
            Permit::Role(s.to_owned())
        } else {
            Permit::Scope(s.to_owned())
        };
        p.is_well_formed().then_some(p)
    }

    /// A role is one of [`ROLES`]; a scope has a `:` after a non-empty prefix, no whitespace or
    /// control characters, and `*` only as its last character.
    pub fn is_well_formed(&self) -> bool {
        match self {
            Permit::System => true,
            Permit::Role(r) => ROLES.contains(&r.as_str()),
            Permit::Scope(s) => {
                let body = s.strip_suffix('*').unwrap_or(s);
                body.find(':').is_some_and(|i| i > 0)
                    && !body.contains('*')
                    && !s.chars().any(|c| c.is_whitespace() || c.is_control())
            }
        }
    }

    /// True when `actor` holds this permit.
    pub fn admits(&self, actor: &Actor) -> bool {
        match self {
            Permit::System => actor.system,
            Permit::Role(r) => actor.roles.contains(r),
            Permit::Scope(pattern) => match pattern.strip_suffix('*') {
                Some(prefix) => actor
                    .scopes
                    .iter()
                    .any(|s| s.len() > prefix.len() && s.starts_with(prefix)),
                None => actor.scopes.contains(pattern),
            },
        }
    }
}

impl fmt::Display for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Permit::System => f.write_str("system"),
            Permit::Role(r) => f.write_str(r),
            Permit::Scope(s) => f.write_str(s),
        }
    }
}

//! The caller of a request, as every handler sees it: the verified identity the authentication
//! layer put into the request ([`kovgis_auth::AuthLayer`]), what the authorisation table grants it
//! for the method ([`crate::authz`]), and the database caller its store calls run as (row-level
//! security decides a second time what it sees).
//!
//! Fails closed: a request without an identity is refused with `UNAUTHENTICATED` here too, so a
//! handler reached around the layer (a bug) still serves nothing.

use std::sync::Arc;

use kovgis_auth::{Identity, Role};
use kovgis_store::{Caller, Reach};

use crate::ServiceError;
use crate::authz::{self, Denied, Grant, Principal};

/// The identity, the grant for the method called, and the store caller.
#[derive(Debug, Clone)]
pub struct Access {
    pub identity: Arc<Identity>,
    pub grant: Grant,
    pub caller: Caller,
}

struct Who<'a>(&'a Identity);

impl Principal for Who<'_> {
    fn subject(&self) -> &str {
        &self.0.subject
    }
    fn municipality(&self) -> Option<&str> {
        self.0.municipality.as_deref()
    }
    fn has_role(&self, role: &str) -> bool {
        Role::from_claim(role).is_some_and(|r| self.0.has_role(r))
    }
    fn scopes(&self) -> Vec<&str> {
        self.0.scopes.iter().map(String::as_str).collect()
    }
    fn personal_code(&self) -> Option<&str> {
        self.0.personal_code.as_deref()
    }
}

impl Access {
    /// The access of the request with `extensions` to `rpc` (`Service/Method`).
    pub fn of(extensions: &http::Extensions, rpc: &str) -> Result<Access, tonic::Status> {
        let identity = kovgis_auth::identity(extensions)?;
        let grant = authz::grant(rpc, &Who(&identity)).map_err(|denied| {
            tracing::debug!(rpc, subject = identity.subject_for_log(), %denied, "refused");
            tonic::Status::from(ServiceError::Denied {
                reason: match denied {
                    Denied::UnknownRpc => "METHOD_NOT_OPEN",
                    Denied::NotAllowed => "NOT_ALLOWED",
                },
                message: format!("{rpc}: {denied}"),
            })
        })?;
        let caller = Caller {
            subject: identity.subject.clone(),
            municipality: grant.municipality.clone(),
            reach: if grant.all_municipalities || grant.national_write || grant.data_tracker {
                Reach::All
            } else {
                Reach::Own
            },
            person_code: identity.personal_code.clone(),
            authority: None,
        };
        Ok(Access {
            identity,
            grant,
            caller,
        })
    }

    /// `PERMISSION_DENIED` for a write or validation outside the grant.
    pub fn refuse(&self, what: String) -> ServiceError {
        ServiceError::Denied {
            reason: "NOT_ALLOWED",
            message: what,
        }
    }
}

/// A handler's store calls run as the access's caller.
impl std::ops::Deref for Access {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.caller
    }
}

//! Who calls a ProcedureService method: the authorisation table's grant (`kovgis-spatial`
//! [`Access`]), how far row-level security lets the caller reach, and the workflow's view of it.
//!
//! Reach: a person with a municipal role (official, approver, GIS specialist, admin) reaches
//! the municipality's procedures; a person who is only an applicant their own; a state system
//! with `kovgis:read:all` or `kovgis:procedures:<type>` every municipality's (the latter only
//! procedures of its types, checked here); a coordinating authority (`authority:<name>`) the
//! procedures addressed to it. Roles count only with a municipality in the token; a token that
//! fits none of these reaches nothing (fails closed).

use kovgis_auth::Role;
use kovgis_core::workflow::Actor;
use kovgis_spatial::ServiceError;
use kovgis_spatial::access::Access;
use kovgis_spatial::authz::{SCOPE_PROCEDURES_PREFIX, SCOPE_READ_ALL};
use kovgis_store::{Caller, Reach};

/// The caller of one method.
#[derive(Debug, Clone)]
pub struct Who {
    pub access: Access,
    /// What row-level security sees.
    pub caller: Caller,
    /// What the workflow sees.
    pub actor: Actor,
    /// Only these procedure types (`kovgis:procedures:<type>` scopes), when limited.
    pub types: Option<Vec<String>>,
    /// The authority the caller speaks for, if it is one.
    pub authority: Option<String>,
}

const MUNICIPAL: [Role; 4] = [
    Role::Official,
    Role::Approver,
    Role::GisSpecialist,
    Role::MunicipalityAdmin,
];

impl Who {
    /// The caller of `method` (`CreateProcedure`, …), or why not.
    pub fn of(extensions: &http::Extensions, method: &str) -> Result<Who, tonic::Status> {
        let access = Access::of(extensions, &format!("ProcedureService/{method}"))?;
        let id = access.identity.clone();
        let in_municipality = id.municipality.is_some();
        let municipal = in_municipality && MUNICIPAL.iter().any(|r| id.has_role(*r));
        let applicant = in_municipality && id.has_role(Role::Applicant);
        let typed: Vec<String> = id
            .scopes
            .iter()
            .filter_map(|s| s.strip_prefix(SCOPE_PROCEDURES_PREFIX))
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        let authority = id.authorities().next().map(str::to_owned);
        let (reach, types) = if municipal {
            (Reach::Own, None)
        } else if applicant {
            (Reach::Applicant, None)
        } else if id.has_scope(SCOPE_READ_ALL) {
            (Reach::All, None)
        } else if !typed.is_empty() {
            (Reach::All, Some(typed))
        } else if authority.is_some() {
            (Reach::Authority, None)
        } else {
            return Err(ServiceError::Denied {
                reason: "NOT_ALLOWED",
                message: format!("ProcedureService/{method}: the caller reaches no procedures"),
            }
            .into());
        };
        let mut caller = access.caller.clone();
        caller.reach = reach;
        caller.municipality = if matches!(reach, Reach::Own | Reach::Applicant) {
            id.municipality.clone()
        } else {
            None
        };
        caller.authority = if reach == Reach::Authority {
            authority.clone()
        } else {
            None
        };
        let actor = Actor {
            roles: if in_municipality {
                id.roles.iter().map(|r| r.claim_name().to_owned()).collect()
            } else {
                Default::default()
            },
            scopes: id.scopes.clone(),
            system: id.is_system(),
        };
        Ok(Who {
            access,
            caller,
            actor,
            types,
            authority,
        })
    }

    /// Whether the caller may touch procedures of `procedure_type`.
    pub fn may_type(&self, procedure_type: &str) -> bool {
        self.types
            .as_ref()
            .is_none_or(|t| t.iter().any(|x| x == procedure_type))
    }

    /// Whether the caller holds `role` in its municipality.
    pub fn has_role(&self, role: &str) -> bool {
        self.actor.roles.contains(role)
    }
}

//! Who is calling: the verified, immutable identity a handler sees.
//!
//! An `Identity` is built only by the verifier (from a token whose signature, issuer, audience and
//! validity period were checked) or by `Identity::system` for the service's own internal work. It
//! is shared as `Arc<Identity>` and never changed. What an identity may do is decided elsewhere
//! (the RPC × role/scope table); this type only says who it is and what it claims.

use std::collections::BTreeSet;
use std::fmt;

/// A person's role within their municipality (claim strings in `Role::claim_name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Sees only their own procedures.
    Applicant,
    /// Handles procedures of their municipality.
    Official,
    /// Approves decisions of their municipality.
    Approver,
    /// Maintains their municipality's layers.
    GisSpecialist,
    /// Administers their municipality (users, rule versions).
    MunicipalityAdmin,
}

impl Role {
    /// All roles, in order.
    pub const ALL: [Role; 5] = [
        Role::Applicant,
        Role::Official,
        Role::Approver,
        Role::GisSpecialist,
        Role::MunicipalityAdmin,
    ];

    /// The string used in the `roles` claim.
    pub fn claim_name(self) -> &'static str {
        match self {
            Role::Applicant => "applicant",
            Role::Official => "official",
            Role::Approver => "approver",
            Role::GisSpecialist => "gis_specialist",
            Role::MunicipalityAdmin => "municipality_admin",
        }
    }

    /// The role a claim string names; `None` for anything else (exact, case-sensitive).
    pub fn from_claim(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.claim_name() == name)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.claim_name())
    }
}

/// What kind of caller an identity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityKind {
    /// A person (roles, possibly none; possibly scopes as well).
    Person,
    /// A machine client: a token with scopes and no roles (state systems, authorities).
    Machine,
    /// The service's own internal work (index builder, import CLI, background jobs).
    System,
}

/// A verified caller. Build with the verifier or `Identity::system`.
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    /// `sub`, or `system:<name>` for internal work.
    pub subject: String,
    /// The EHAK code (4 digits) of the municipality the caller acts for, if any.
    pub municipality: Option<String>,
    /// Known roles from the `roles` claim (unknown ones are dropped).
    pub roles: BTreeSet<Role>,
    /// OAuth2 scopes from the space-separated `scope` claim, e.g. `kovgis:read:all`.
    pub scopes: BTreeSet<String>,
    /// The person's isikukood (11 digits, check digit valid), if the token names one.
    pub personal_code: Option<String>,
    /// `exp`, unix seconds (`u64::MAX` for system identities).
    pub expires_at: u64,
    /// `jti`, if present.
    pub token_id: Option<String>,
    /// Person, machine or system.
    pub kind: IdentityKind,
    /// The client certificate the token is bound to (RFC 8705 `cnf.x5t#S256`: base64url of the
    /// certificate's SHA-256, no padding), if any. Checked against the connection's certificate
    /// when mutual TLS is configured ([`crate::mtls`]).
    pub certificate_thumbprint: Option<String>,
}

impl Identity {
    /// The identity of internal work, e.g. `Identity::system("index-builder")` has the subject
    /// `system:index-builder`, no municipality, roles or scopes, and never expires. The name is
    /// what the audit records; authorisation decides what a system identity may do.
    pub fn system(name: &str) -> Identity {
        let name = name.strip_prefix("system:").unwrap_or(name);
        Identity {
            subject: format!("system:{name}"),
            municipality: None,
            roles: BTreeSet::new(),
            scopes: BTreeSet::new(),
            personal_code: None,
            expires_at: u64::MAX,
            token_id: None,
            kind: IdentityKind::System,
            certificate_thumbprint: None,
        }
    }

    /// True when the identity holds `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// True when the identity holds exactly `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }

    /// The authorities named by `authority:<name>` scopes (e.g. `Keskkonnaamet`).
    pub fn authorities(&self) -> impl Iterator<Item = &str> {
        self.scopes
            .iter()
            .filter_map(|s| s.strip_prefix("authority:"))
            .filter(|s| !s.is_empty())
    }

    /// The subject for logs: a TARA-style subject (`EE` + personal code) is shown as
    /// `EE<personal code>`, so that personal codes stay out of logs; others as they are.
    pub fn subject_for_log(&self) -> &str {
        match &self.personal_code {
            Some(code) if self.subject.ends_with(code.as_str()) => "EE<personal code>",
            _ => &self.subject,
        }
    }

    /// True for `Identity::system` identities.
    pub fn is_system(&self) -> bool {
        self.kind == IdentityKind::System
    }
}

/// Debug shows everything but the personal code, also where it is part of the subject (personal
/// data stays out of logs).
impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("subject", &self.subject_for_log())
            .field("kind", &self.kind)
            .field("municipality", &self.municipality)
            .field("roles", &self.roles)
            .field("scopes", &self.scopes)
            .field(
                "personal_code",
                &self.personal_code.as_ref().map(|_| "<redacted>"),
            )
            .field("expires_at", &self.expires_at)
            .field("token_id", &self.token_id)
            .field("certificate_thumbprint", &self.certificate_thumbprint)
            .finish()
    }
}

/// Display: the subject (as `subject_for_log`) and, if any, the municipality — what a log line
/// needs.
impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.municipality {
            Some(m) => write!(f, "{} ({m})", self.subject_for_log()),
            None => f.write_str(self.subject_for_log()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_claim_names_round_trip_and_are_the_documented_strings() {
        let names: Vec<_> = Role::ALL.iter().map(|r| r.claim_name()).collect();
        assert_eq!(
            names,
            [
                "applicant",
                "official",
                "approver",
                "gis_specialist",
                "municipality_admin"
            ]
        );
        for r in Role::ALL {
            assert_eq!(Role::from_claim(r.claim_name()), Some(r));
        }
        assert_eq!(Role::from_claim("Official"), None);
        assert_eq!(Role::from_claim("admin"), None);
    }

    #[test]
    fn system_identity_has_no_privileges_of_its_own() {
        let id = Identity::system("index-builder");
        assert_eq!(id.subject, "system:index-builder");
        assert_eq!(
            Identity::system("system:import-cli").subject,
            "system:import-cli"
        );
        assert!(id.is_system() && id.roles.is_empty() && id.scopes.is_empty());
        assert_eq!(id.municipality, None);
    }

    #[test]
    fn debug_redacts_the_personal_code() {
        let mut id = Identity::system("x");
        id.subject = "EE37605030299".into();
        id.personal_code = Some("37605030299".into());
        id.scopes.insert("authority:Keskkonnaamet".into());
        let text = format!("{id:?} {id}");
        assert!(!text.contains("37605030299"), "{text}");
        assert!(text.contains("<redacted>"));
        assert_eq!(id.authorities().collect::<Vec<_>>(), ["Keskkonnaamet"]);
    }
}

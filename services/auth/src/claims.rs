//! The claim mapping: which JWT claims become which `Identity` fields. The one place to read or
//! change it.
//!
//! | claim | type | becomes |
//! |---|---|---|
//! | `iss` | string, required | checked against the configured issuers |
//! | `aud` | string or array of strings, required | must contain the configured audience |
//! | `exp` | NumericDate, required | `expires_at`; checked with the leeway |
//! | `nbf` | NumericDate, optional | checked with the leeway |
//! | `sub` | non-empty string, required | `subject` |
//! | `municipality` (or `ehak`) | 4-digit string (EHAK code) | `municipality` |
//! | `roles` | array of strings or one space-separated string | `roles` (unknown names dropped, logged at debug) |
//! | `scope` | space-separated string (OAuth2) or array of strings | `scopes` |
//! | `personal_code` | 11-digit isikukood | `personal_code` |
//! | `sub` = `EE` + 11 digits (TARA) | | `personal_code` when no `personal_code` claim |
//! | `jti` | string | `token_id` |
//!
//! A claim of the wrong type or form refuses the token (`invalid_claim`) rather than being
//! ignored, except unknown role names, which grant nothing and are dropped. Kind: roles present →
//! person; no roles but scopes → machine; neither → a person with no roles (who may do nothing).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::error::AuthError;
use crate::identity::{Identity, IdentityKind, Role};
use crate::personal_code::is_valid_personal_code;

/// The registered claims the verifier checks against its configuration and clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RegisteredClaims {
    pub iss: String,
    pub aud: Vec<String>,
    pub exp: u64,
    pub nbf: Option<u64>,
}

/// Reads `iss`, `aud`, `exp` and `nbf`.
pub(crate) fn registered_claims(
    claims: &Map<String, Value>,
) -> Result<RegisteredClaims, AuthError> {
    let iss = match claims.get("iss") {
        None => return Err(AuthError::MissingClaim("iss")),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(AuthError::InvalidClaim("iss")),
    };
    let aud = match claims.get("aud") {
        None => return Err(AuthError::MissingClaim("aud")),
        Some(v) => string_list(v).ok_or(AuthError::InvalidClaim("aud"))?,
    };
    let exp = match claims.get("exp") {
        None => return Err(AuthError::MissingClaim("exp")),
        Some(v) => numeric_date(v).ok_or(AuthError::InvalidClaim("exp"))?,
    };
    let nbf = match claims.get("nbf") {
        None => None,
        Some(v) => Some(numeric_date(v).ok_or(AuthError::InvalidClaim("nbf"))?),
    };
    Ok(RegisteredClaims { iss, aud, exp, nbf })
}

/// Builds the identity from verified claims (`exp` already read by `registered_claims`).
pub(crate) fn identity_from_claims(
    claims: &Map<String, Value>,
    expires_at: u64,
) -> Result<Identity, AuthError> {
    let subject = match claims.get("sub") {
        None => return Err(AuthError::MissingClaim("sub")),
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(_) => return Err(AuthError::InvalidClaim("sub")),
    };
    let municipality = municipality(claims)?;
    let roles = roles(claims.get("roles"))?;
    let scopes = match claims.get("scope") {
        None => BTreeSet::new(),
        Some(v) => string_list(v)
            .ok_or(AuthError::InvalidClaim("scope"))?
            .into_iter()
            .collect(),
    };
    let personal_code = personal_code(claims.get("personal_code"), &subject)?;
    let token_id = match claims.get("jti") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(AuthError::InvalidClaim("jti")),
    };
    let certificate_thumbprint = match claims.get("cnf") {
        None | Some(Value::Null) => None,
        Some(Value::Object(cnf)) => match cnf.get("x5t#S256") {
            None => None,
            Some(Value::String(t)) if crate::mtls::is_thumbprint(t) => Some(t.clone()),
            Some(_) => return Err(AuthError::InvalidClaim("cnf")),
        },
        Some(_) => return Err(AuthError::InvalidClaim("cnf")),
    };
    let kind = if roles.is_empty() && !scopes.is_empty() {
        IdentityKind::Machine
    } else {
        IdentityKind::Person
    };
    Ok(Identity {
        subject,
        municipality,
        roles,
        scopes,
        personal_code,
        expires_at,
        token_id,
        kind,
        certificate_thumbprint,
    })
}

/// True for a 4-digit EHAK municipality code such as `0793` (Tartu linn).
pub fn is_valid_municipality_code(code: &str) -> bool {
    code.len() == 4 && code.bytes().all(|b| b.is_ascii_digit())
}

fn municipality(claims: &Map<String, Value>) -> Result<Option<String>, AuthError> {
    let read = |name: &'static str| -> Result<Option<String>, AuthError> {
        match claims.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if is_valid_municipality_code(s) => Ok(Some(s.clone())),
            Some(_) => Err(AuthError::InvalidClaim("municipality")),
        }
    };
    match (read("municipality")?, read("ehak")?) {
        (Some(a), Some(b)) if a != b => Err(AuthError::InvalidClaim("municipality")),
        (a, b) => Ok(a.or(b)),
    }
}

fn roles(value: Option<&Value>) -> Result<BTreeSet<Role>, AuthError> {
    let Some(value) = value else {
        return Ok(BTreeSet::new());
    };
    let names = string_list(value).ok_or(AuthError::InvalidClaim("roles"))?;
    let mut roles = BTreeSet::new();
    for name in names {
        match Role::from_claim(&name) {
            Some(role) => {
                roles.insert(role);
            }
            None => tracing::debug!(role = %name, "unknown role in token ignored"),
        }
    }
    Ok(roles)
}

fn personal_code(claim: Option<&Value>, subject: &str) -> Result<Option<String>, AuthError> {
    let from_subject = subject
        .strip_prefix("EE")
        .filter(|code| is_valid_personal_code(code))
        .map(str::to_owned);
    match claim {
        None | Some(Value::Null) => Ok(from_subject),
        Some(Value::String(code)) if is_valid_personal_code(code) => match from_subject {
            Some(other) if &other != code => Err(AuthError::InvalidClaim("personal_code")),
            _ => Ok(Some(code.clone())),
        },
        Some(_) => Err(AuthError::InvalidClaim("personal_code")),
    }
}

/// A string split at whitespace, or an array of strings; empty items dropped.
fn string_list(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::String(s) => Some(s.split_whitespace().map(str::to_owned).collect()),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .filter(|s| s.as_deref() != Some(""))
            .collect(),
        _ => None,
    }
}

/// RFC 7519 NumericDate: seconds since the epoch, integer or fractional (floored), not negative.
fn numeric_date(value: &Value) -> Option<u64> {
    let n = value.as_number()?;
    if let Some(u) = n.as_u64() {
        return Some(u);
    }
    let f = n.as_f64()?;
    (0.0..1e15).contains(&f).then_some(f as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_full_person_token() {
        let c = map(json!({
            "sub": "EE37605030299", "municipality": "0793",
            "roles": ["official", "approver", "wizard"], "scope": "kovgis:read:all  authority:Päästeamet",
            "jti": "t-1"
        }));
        let id = identity_from_claims(&c, 99).unwrap();
        assert_eq!(id.subject, "EE37605030299");
        assert_eq!(id.municipality.as_deref(), Some("0793"));
        assert_eq!(
            id.roles.iter().copied().collect::<Vec<_>>(),
            [Role::Official, Role::Approver]
        );
        assert_eq!(
            id.scopes.iter().map(String::as_str).collect::<Vec<_>>(),
            ["authority:Päästeamet", "kovgis:read:all"]
        );
        assert_eq!(id.personal_code.as_deref(), Some("37605030299"));
        assert_eq!((id.expires_at, id.token_id.as_deref()), (99, Some("t-1")));
        assert_eq!(id.kind, IdentityKind::Person);
    }

    #[test]
    fn scopes_without_roles_make_a_machine() {
        let c = map(json!({"sub": "ehr-adapter", "scope": "kovgis:read:all", "roles": "bogus"}));
        let id = identity_from_claims(&c, 1).unwrap();
        assert_eq!(id.kind, IdentityKind::Machine);
        assert!(id.roles.is_empty());
        let c = map(json!({"sub": "nobody"}));
        assert_eq!(
            identity_from_claims(&c, 1).unwrap().kind,
            IdentityKind::Person
        );
    }

    #[test]
    fn municipality_accepts_ehak_and_refuses_bad_forms() {
        let ok = |v: Value| identity_from_claims(&map(v), 1).map(|i| i.municipality);
        assert_eq!(
            ok(json!({"sub": "a", "ehak": "0079"})),
            Ok(Some("0079".into()))
        );
        let bad = AuthError::InvalidClaim("municipality");
        assert_eq!(ok(json!({"sub": "a", "municipality": "793"})), Err(bad));
        assert_eq!(ok(json!({"sub": "a", "municipality": 793})), Err(bad));
        assert_eq!(ok(json!({"sub": "a", "municipality": "07930"})), Err(bad));
        assert_eq!(
            ok(json!({"sub": "a", "municipality": "0793", "ehak": "0784"})),
            Err(bad)
        );
    }

    #[test]
    fn personal_code_claim_and_tara_subject() {
        let pc = |v: Value| identity_from_claims(&map(v), 1).map(|i| i.personal_code);
        assert_eq!(
            pc(json!({"sub": "x", "personal_code": "60001019906"})),
            Ok(Some("60001019906".into()))
        );
        assert_eq!(
            pc(json!({"sub": "x", "personal_code": "60001019907"})),
            Err(AuthError::InvalidClaim("personal_code"))
        );
        // A TARA-like subject with a wrong check digit is not a personal code.
        assert_eq!(pc(json!({"sub": "EE37605030298"})), Ok(None));
        assert_eq!(
            pc(json!({"sub": "EE37605030299", "personal_code": "60001019906"})),
            Err(AuthError::InvalidClaim("personal_code"))
        );
    }

    #[test]
    fn subject_required_and_types_checked() {
        let e = |v: Value| identity_from_claims(&map(v), 1).unwrap_err();
        assert_eq!(e(json!({})), AuthError::MissingClaim("sub"));
        assert_eq!(e(json!({"sub": " "})), AuthError::InvalidClaim("sub"));
        assert_eq!(
            e(json!({"sub": "a", "roles": 5})),
            AuthError::InvalidClaim("roles")
        );
        assert_eq!(
            e(json!({"sub": "a", "scope": {"x": 1}})),
            AuthError::InvalidClaim("scope")
        );
    }

    #[test]
    fn registered_claims_read_and_checked() {
        let r = registered_claims(&map(
            json!({"iss": "i", "aud": ["a", "b"], "exp": 10, "nbf": 5.9}),
        ))
        .unwrap();
        assert_eq!(
            r,
            RegisteredClaims {
                iss: "i".into(),
                aud: vec!["a".into(), "b".into()],
                exp: 10,
                nbf: Some(5)
            }
        );
        let e = |v: Value| registered_claims(&map(v)).unwrap_err();
        assert_eq!(
            e(json!({"aud": "a", "exp": 1})),
            AuthError::MissingClaim("iss")
        );
        assert_eq!(
            e(json!({"iss": "i", "exp": 1})),
            AuthError::MissingClaim("aud")
        );
        assert_eq!(
            e(json!({"iss": "i", "aud": "a"})),
            AuthError::MissingClaim("exp")
        );
        assert_eq!(
            e(json!({"iss": "i", "aud": "a", "exp": "10"})),
            AuthError::InvalidClaim("exp")
        );
        assert_eq!(
            e(json!({"iss": "i", "aud": "a", "exp": -1})),
            AuthError::InvalidClaim("exp")
        );
        assert_eq!(
            e(json!({"iss": 1, "aud": "a", "exp": 1})),
            AuthError::InvalidClaim("iss")
        );
    }
}

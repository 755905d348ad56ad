//! Why a token was refused, as a closed set of short, stable reason codes.
//!
//! The codes (`AuthError::reason`) are what a caller sees in the `grpc-message` of an
//! `UNAUTHENTICATED` answer and what logs and metrics count. No variant carries the token, a claim
//! value or key material — only static names — so `Display` and `Debug` are safe to log.

/// A refused token. `reason()` is the stable code; `Display` a short English sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `authorization: Bearer …` header (or an empty token).
    #[error("no bearer token")]
    Missing,
    /// Not a compact JWS (three base64url parts, JSON header and claims), or too long.
    #[error("malformed token")]
    Malformed,
    /// `exp` (plus the leeway) is in the past.
    #[error("token expired")]
    Expired,
    /// `nbf` (minus the leeway) is in the future.
    #[error("token not yet valid")]
    NotYetValid,
    /// `iss` is not one of the configured issuers.
    #[error("token issuer not accepted")]
    WrongIssuer,
    /// `aud` does not name the configured audience.
    #[error("token audience not accepted")]
    WrongAudience,
    /// The signature does not verify with the key the header names.
    #[error("token signature does not verify")]
    BadSignature,
    /// The header's `kid` names no key in the key set (or names none when several exist).
    #[error("token signed by an unknown key")]
    UnknownKey,
    /// `alg` is not allowed: `none`, HS256 outside development mode, or not the key's algorithm.
    #[error("token algorithm not allowed")]
    AlgorithmNotAllowed,
    /// A required claim is absent (the claim's name, never its value).
    #[error("token lacks the required claim {0}")]
    MissingClaim(&'static str),
    /// A claim has the wrong type or form (the claim's name, never its value).
    #[error("token claim {0} is invalid")]
    InvalidClaim(&'static str),
    /// Mutual TLS is configured and a machine identity (or a certificate-bound token) came over
    /// a connection without a verified client certificate.
    #[error("a client certificate is required")]
    ClientCertificateRequired,
    /// Mutual TLS is configured and a machine token is not bound to a certificate (no
    /// `cnf.x5t#S256`, RFC 8705).
    #[error("the token is not bound to a client certificate")]
    TokenNotBound,
    /// The token is bound to another certificate than the connection's.
    #[error("the token is bound to another client certificate")]
    CertificateMismatch,
}

impl AuthError {
    /// The stable short reason code (`missing`, `malformed`, `expired`, …).
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing",
            AuthError::Malformed => "malformed",
            AuthError::Expired => "expired",
            AuthError::NotYetValid => "not_yet_valid",
            AuthError::WrongIssuer => "wrong_issuer",
            AuthError::WrongAudience => "wrong_audience",
            AuthError::BadSignature => "bad_signature",
            AuthError::UnknownKey => "unknown_key",
            AuthError::AlgorithmNotAllowed => "algorithm_not_allowed",
            AuthError::MissingClaim(_) => "missing_claim",
            AuthError::InvalidClaim(_) => "invalid_claim",
            AuthError::ClientCertificateRequired => "client_certificate_required",
            AuthError::TokenNotBound => "token_not_bound",
            AuthError::CertificateMismatch => "certificate_mismatch",
        }
    }
}

impl From<AuthError> for tonic::Status {
    /// `UNAUTHENTICATED` naming the reason code only.
    fn from(e: AuthError) -> Self {
        tonic::Status::unauthenticated(e.reason())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_distinct_snake_case_codes() {
        let all = [
            AuthError::Missing,
            AuthError::Malformed,
            AuthError::Expired,
            AuthError::NotYetValid,
            AuthError::WrongIssuer,
            AuthError::WrongAudience,
            AuthError::BadSignature,
            AuthError::UnknownKey,
            AuthError::AlgorithmNotAllowed,
            AuthError::MissingClaim("exp"),
            AuthError::InvalidClaim("municipality"),
            AuthError::ClientCertificateRequired,
            AuthError::TokenNotBound,
            AuthError::CertificateMismatch,
        ];
        let codes: std::collections::BTreeSet<_> = all.iter().map(AuthError::reason).collect();
        assert_eq!(codes.len(), all.len());
        assert!(
            codes
                .iter()
                .all(|c| c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'))
        );
        let status = tonic::Status::from(AuthError::Expired);
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        assert_eq!(status.message(), "expired");
    }
}

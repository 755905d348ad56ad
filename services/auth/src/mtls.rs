//! Mutual TLS for machine clients: the client certificate authenticates the connection, the
//! token still carries the scopes, and both are required.
//!
//! When the server is given a client CA (`kovgis serve --client-ca`), TLS verifies any client
//! certificate against it; presenting one stays optional at the TLS level so that people's
//! browsers and apps connect as before. Then, per call, after the token has verified:
//!
//! - a machine identity (scopes, no roles) must have come over a connection with a verified
//!   client certificate (`client_certificate_required`), and its token must be bound to that
//!   certificate the standard way, RFC 8705 §3: the claim `cnf` holds `x5t#S256`, the
//!   base64url (unpadded) SHA-256 of the certificate's DER (`token_not_bound`,
//!   `certificate_mismatch`). A token copied off one machine is worthless on another, and a
//!   certificate alone grants nothing;
//! - a person's token that is bound to a certificate must come with that certificate too; an
//!   unbound person's token needs none.
//!
//! Without a client CA, certificates are not looked at (a bound token then works as a plain
//! bearer token, as RFC 8705 allows a server that does not do mutual TLS).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::error::AuthError;
use crate::identity::{Identity, IdentityKind};

/// The RFC 8705 thumbprint of a certificate (DER): base64url of its SHA-256, no padding.
pub fn certificate_thumbprint(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(der))
}

/// The thumbprint of the first certificate of a PEM file (`-----BEGIN CERTIFICATE-----`); `None`
/// when it holds none or its base64 does not decode.
pub fn pem_certificate_thumbprint(pem: &str) -> Option<String> {
    let body = pem.split("-----BEGIN CERTIFICATE-----").nth(1)?;
    let body = body.split("-----END CERTIFICATE-----").next()?;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    Some(certificate_thumbprint(&der))
}

/// True for a well-formed thumbprint: 43 base64url characters (256 bits).
pub(crate) fn is_thumbprint(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && URL_SAFE_NO_PAD.decode(s).is_ok_and(|d| d.len() == 32)
}

/// Checks a verified identity against the connection's client certificate (its DER, `None`
/// when the client presented none), for a server that does mutual TLS.
pub fn check_certificate(identity: &Identity, certificate: Option<&[u8]>) -> Result<(), AuthError> {
    let must_bind = identity.kind == IdentityKind::Machine;
    match (&identity.certificate_thumbprint, certificate) {
        (None, _) if must_bind => match certificate {
            None => Err(AuthError::ClientCertificateRequired),
            Some(_) => Err(AuthError::TokenNotBound),
        },
        (None, _) => Ok(()),
        (Some(_), None) => Err(AuthError::ClientCertificateRequired),
        (Some(bound), Some(der)) => {
            if certificate_thumbprint(der) == *bound {
                Ok(())
            } else {
                Err(AuthError::CertificateMismatch)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(thumbprint: Option<String>) -> Identity {
        let mut id = Identity::system("x");
        id.kind = IdentityKind::Machine;
        id.certificate_thumbprint = thumbprint;
        id
    }

    #[test]
    fn thumbprint_of_known_bytes() {
        // SHA-256 of the empty string is e3b0c442…b855; its unpadded base64url, worked out with
        // `printf '' | openssl dgst -sha256 -binary | basenc --base64url`.
        assert_eq!(
            certificate_thumbprint(b""),
            "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        );
        assert!(is_thumbprint(&certificate_thumbprint(b"x")));
        assert!(!is_thumbprint(
            "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU="
        ));
        assert!(!is_thumbprint("short"));
    }

    #[test]
    fn machines_need_a_bound_token_and_its_certificate() {
        let cert = b"certificate A";
        let bound = machine(Some(certificate_thumbprint(cert)));
        assert_eq!(check_certificate(&bound, Some(cert)), Ok(()));
        assert_eq!(
            check_certificate(&bound, Some(b"certificate B")),
            Err(AuthError::CertificateMismatch)
        );
        assert_eq!(
            check_certificate(&bound, None),
            Err(AuthError::ClientCertificateRequired)
        );
        let unbound = machine(None);
        assert_eq!(
            check_certificate(&unbound, Some(cert)),
            Err(AuthError::TokenNotBound)
        );
        assert_eq!(
            check_certificate(&unbound, None),
            Err(AuthError::ClientCertificateRequired)
        );
    }

    #[test]
    fn people_need_a_certificate_only_when_their_token_is_bound() {
        let mut person = Identity::system("p");
        person.kind = IdentityKind::Person;
        assert_eq!(check_certificate(&person, None), Ok(()));
        person.certificate_thumbprint = Some(certificate_thumbprint(b"c"));
        assert_eq!(
            check_certificate(&person, None),
            Err(AuthError::ClientCertificateRequired)
        );
        assert_eq!(check_certificate(&person, Some(b"c")), Ok(()));
    }
}

//! The signature of a webhook message: `Kovgis-Signature: sha256=<hex>`, the HMAC-SHA256 of
//! `"<timestamp>.<body>"` keyed with the authority's webhook secret, where `<timestamp>` is the
//! `Kovgis-Timestamp` header (Unix seconds, decimal) and `<body>` the exact bytes of the request
//! body. [`verify`] is what a receiver written in Rust does; the crate docs say how any receiver
//! does it.

use hmac::{KeyInit, Mac};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The prefix of the signature header's value, naming the algorithm.
pub const SCHEME: &str = "sha256=";

/// The `Kovgis-Signature` value for `body` sent at `timestamp` (Unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!(
        "{SCHEME}{}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length (longer ones are hashed first): this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Why a received message is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the timestamp is not a number of seconds")]
    BadTimestamp,
    #[error("the timestamp is {0} s away from now, more than the tolerance")]
    Stale(i64),
    #[error("the signature is not sha256=<64 hex digits>")]
    BadSignature,
    #[error("the signature does not match")]
    Mismatch,
}

/// Checks a received message as a receiver should: the timestamp header within `tolerance_s`
/// seconds of `now` (Unix seconds), then the signature over the timestamp and the raw body,
/// compared in constant time.
pub fn verify(
    secret: &[u8],
    timestamp: &str,
    body: &[u8],
    signature: &str,
    now: i64,
    tolerance_s: i64,
) -> Result<(), VerifyError> {
    let t: i64 = timestamp.parse().map_err(|_| VerifyError::BadTimestamp)?;
    let skew = now.saturating_sub(t).saturating_abs();
    if skew > tolerance_s {
        return Err(VerifyError::Stale(skew));
    }
    let given = signature
        .strip_prefix(SCHEME)
        .and_then(|h| hex::decode(h).ok())
        .filter(|b| b.len() == 32)
        .ok_or(VerifyError::BadSignature)?;
    mac(secret, t, body)
        .verify_slice(&given)
        .map_err(|_| VerifyError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?" (the HMAC itself,
    /// before the "<timestamp>.<body>" framing).
    #[test]
    fn hmac_sha256_matches_rfc_4231_case_2() {
        let mut m = HmacSha256::new_from_slice(b"Jefe").unwrap();
        m.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(m.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    /// The value worked out with `printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256
    /// -hmac 0123456789abcdef` (OpenSSL 3.0).
    #[test]
    fn sign_covers_timestamp_dot_body() {
        let s = sign(b"0123456789abcdef", 1_700_000_000, br#"{"a":1}"#);
        assert_eq!(s, OPENSSL_VALUE);
    }

    const OPENSSL_VALUE: &str =
        "sha256=9eb18f493f8ec135d9eb2dad817c369bb4e9cbfa818657897a7437c1cd8c3a23";

    #[test]
    fn verify_accepts_fresh_and_refuses_stale_tampered_or_malformed() {
        let secret = b"0123456789abcdef";
        let body = br#"{"a":1}"#;
        let sig = sign(secret, 1_700_000_000, body);
        assert_eq!(
            verify(secret, "1700000000", body, &sig, 1_700_000_100, 300),
            Ok(())
        );
        assert_eq!(
            verify(secret, "1700000000", body, &sig, 1_700_000_301, 300),
            Err(VerifyError::Stale(301))
        );
        // A replay with a fresh timestamp but the old signature: the timestamp is signed.
        assert_eq!(
            verify(secret, "1700000200", body, &sig, 1_700_000_200, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(
                secret,
                "1700000000",
                br#"{"a":2}"#,
                &sig,
                1_700_000_000,
                300
            ),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(
                b"another-secret-16",
                "1700000000",
                body,
                &sig,
                1_700_000_000,
                300
            ),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(secret, "soon", body, &sig, 1_700_000_000, 300),
            Err(VerifyError::BadTimestamp)
        );
        assert_eq!(
            verify(secret, "1700000000", body, &sig[7..], 1_700_000_000, 300),
            Err(VerifyError::BadSignature)
        );
    }
}

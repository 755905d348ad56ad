//! Test support (feature `testing`): a throw-away key directory, a verifier over it, and every
//! kind of bad token, so that the crate's tests and the server's authentication matrix share one
//! way of making them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::config::{AuthConfig, DevelopmentSecret};
use crate::dev_key::{
    Claims, DEV_AUDIENCE, DEV_ISSUER, DevKey, mint_hs256, mint_unsigned, unix_now,
};
use crate::identity::Role;
use crate::verifier::Verifier;

/// A secret for HS256 tests (32 bytes).
pub const TEST_HS256_SECRET: &[u8] = b"kovgis-test-hs256-secret-32bytes";

/// A token the verifier must refuse, with the reason code it must give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadToken {
    /// Expired two minutes ago (beyond any default leeway).
    Expired,
    /// Valid from ten minutes from now.
    NotYetValid,
    /// Issuer not configured.
    WrongIssuer,
    /// Audience not configured.
    WrongAudience,
    /// Signed by another key that claims the same `kid`.
    WrongSignature,
    /// A `kid` the key set does not have.
    UnknownKey,
    /// HS256 with the right claims (refused unless development mode is on).
    Hs256,
    /// `alg: none`, no signature.
    AlgNone,
    /// Not a JWT.
    Malformed,
}

impl BadToken {
    /// All cases.
    pub const ALL: [BadToken; 9] = [
        BadToken::Expired,
        BadToken::NotYetValid,
        BadToken::WrongIssuer,
        BadToken::WrongAudience,
        BadToken::WrongSignature,
        BadToken::UnknownKey,
        BadToken::Hs256,
        BadToken::AlgNone,
        BadToken::Malformed,
    ];

    /// The `grpc-message` (reason code) a refusal must carry.
    pub fn reason(self) -> &'static str {
        match self {
            BadToken::Expired => "expired",
            BadToken::NotYetValid => "not_yet_valid",
            BadToken::WrongIssuer => "wrong_issuer",
            BadToken::WrongAudience => "wrong_audience",
            BadToken::WrongSignature => "bad_signature",
            BadToken::UnknownKey => "unknown_key",
            BadToken::Hs256 | BadToken::AlgNone => "algorithm_not_allowed",
            BadToken::Malformed => "malformed",
        }
    }
}

/// A temporary key directory (removed on drop) with a development key, and a matching config.
#[derive(Debug)]
pub struct TestAuth {
    /// The directory (holds the private key file and the `jwks/` directory).
    pub dir: PathBuf,
    /// The signing key whose public half is in `jwks/`.
    pub key: DevKey,
    /// A config over `jwks/`: issuer `DEV_ISSUER`, audience `DEV_AUDIENCE`, defaults otherwise.
    pub config: AuthConfig,
}

impl TestAuth {
    /// A fresh directory under the system temp dir with a new development key.
    pub fn new() -> TestAuth {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "kovgis-auth-test-{}-{}-{}",
            std::process::id(),
            unix_now(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let (key, files) = DevKey::init_dir(&dir).expect("create a test key directory");
        let config = AuthConfig::new(&files.jwks_dir, vec![DEV_ISSUER.to_owned()], DEV_AUDIENCE);
        TestAuth { dir, key, config }
    }

    /// The JWKS directory (`config.jwks_path`).
    pub fn jwks_dir(&self) -> &Path {
        &self.config.jwks_path
    }

    /// A verifier over `config`.
    pub fn verifier(&self) -> Arc<Verifier> {
        Arc::new(Verifier::new(self.config.clone()).expect("test verifier"))
    }

    /// The same config with HS256 development mode on (`TEST_HS256_SECRET`).
    pub fn dev_mode_config(&self) -> AuthConfig {
        let mut config = self.config.clone();
        config.development_hs256_secret = Some(DevelopmentSecret::new(TEST_HS256_SECRET));
        config
    }

    /// Claims that pass: right issuer and audience, valid for an hour.
    pub fn claims(&self, subject: &str) -> Claims {
        Claims::dev(subject, Duration::from_secs(3600))
    }

    /// A person of `municipality` with `roles`.
    pub fn person(&self, subject: &str, municipality: &str, roles: &[Role]) -> Claims {
        roles
            .iter()
            .fold(self.claims(subject).municipality(municipality), |c, r| {
                c.role(*r)
            })
    }

    /// A machine identity with `scopes`.
    pub fn machine(&self, subject: &str, scopes: &[&str]) -> Claims {
        scopes.iter().fold(self.claims(subject), |c, s| c.scope(*s))
    }

    /// A valid token for `claims`.
    pub fn token(&self, claims: &Claims) -> String {
        self.key.mint(claims).expect("mint")
    }

    /// A bad token of kind `bad`, otherwise like `claims`.
    pub fn bad_token(&self, bad: BadToken, claims: &Claims) -> String {
        let mut c = claims.clone();
        let now = unix_now();
        match bad {
            BadToken::Expired => {
                c.issued_at = now - 3600;
                c.expires_at = Some(now - 120);
            }
            BadToken::NotYetValid => c.not_before = Some(now + 600),
            BadToken::WrongIssuer => c.issuer = "https://evil.example".into(),
            BadToken::WrongAudience => c.audience = "someone-else".into(),
            BadToken::WrongSignature => {
                let other = DevKey::generate_with_kid(self.key.kid()).expect("key");
                return other.mint(&c).expect("mint");
            }
            BadToken::UnknownKey => {
                return self
                    .key
                    .mint_with_kid(&c, Some("no-such-key"))
                    .expect("mint");
            }
            BadToken::Hs256 => {
                return mint_hs256(&c, TEST_HS256_SECRET, Some(self.key.kid())).expect("mint");
            }
            BadToken::AlgNone => return mint_unsigned(&c, Some(self.key.kid())),
            BadToken::Malformed => return "not-a-jwt".to_owned(),
        }
        self.token(&c)
    }
}

impl Default for TestAuth {
    fn default() -> Self {
        TestAuth::new()
    }
}

impl Drop for TestAuth {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

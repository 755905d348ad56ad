//! Token verification: from a bearer string to a verified `Arc<Identity>`, or a reason why not.
//!
//! Order of checks: size and shape; the header's `alg` against what is allowed (ES256/RS256 by a
//! key's `kid`, HS256 only with a configured development secret, anything else — `none`
//! included — refused); the signature (by `jsonwebtoken`, restricted to the key's one algorithm,
//! which closes algorithm confusion); then `iss`, `aud`, `exp` and `nbf` with the leeway against
//! the verifier's clock; then the claim mapping (`claims.rs`). Verified tokens are cached (see
//! `cache.rs`); a key reload starts a new generation and empties the cache.
//!
//! Verification is synchronous CPU work: a cache hit is a SHA-256 and a map lookup (~1 µs); a miss
//! verifies a signature (ES256 ~0.1–0.3 ms, RS256 2048 less). Both are done inline by the layer;
//! see `examples/verify_cost.rs` for measured figures.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::cache::{TokenCache, token_hash};
use crate::claims::{identity_from_claims, registered_claims};
use crate::config::{AuthConfig, ConfigError};
use crate::error::AuthError;
use crate::identity::Identity;
use crate::keyset::{KeySet, KeySetError};

/// Tokens longer than this are refused as malformed before any parsing (a real OIDC token is a
/// few hundred bytes to a few KiB).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The verifier's notion of now, in unix seconds. Injectable for tests.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    })
}

/// Counters for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifierStats {
    /// Signature verifications performed (cache misses that got as far as the signature).
    pub signature_checks: u64,
    /// Calls answered from the cache.
    pub cache_hits: u64,
    /// Tokens in the cache now.
    pub cached_tokens: usize,
    /// Key generation: 1 after the first load, +1 per successful reload.
    pub key_generation: u64,
    /// Keys loaded now.
    pub keys: usize,
}

struct Keys {
    set: Arc<KeySet>,
    generation: u64,
}

/// Verifies bearer tokens. Share it as `Arc<Verifier>`; all methods take `&self`.
pub struct Verifier {
    config: AuthConfig,
    keys: RwLock<Keys>,
    hs256: Option<DecodingKey>,
    cache: TokenCache,
    clock: Clock,
    signature_checks: AtomicU64,
    cache_hits: AtomicU64,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// Checks the configuration and loads the keys (an unreadable or empty JWKS is an error).
    pub fn new(config: AuthConfig) -> Result<Verifier, ConfigError> {
        config.validate()?;
        let set = KeySet::load(&config.jwks_path)?;
        let hs256 = match &config.development_hs256_secret {
            Some(secret) => {
                tracing::warn!(
                    "HS256 development mode is on: tokens signed with the shared secret are accepted"
                );
                Some(
                    DecodingKey::from_secret(secret.bytes())
                        .map_err(|_| ConfigError::Hs256SecretTooShort)?,
                )
            }
            None => None,
        };
        tracing::info!(
            jwks = %config.jwks_path.display(), keys = set.len(),
            kids = ?set.kids().collect::<Vec<_>>(), "auth keys loaded"
        );
        Ok(Verifier {
            cache: TokenCache::new(config.cache_entries),
            config,
            keys: RwLock::new(Keys {
                set: Arc::new(set),
                generation: 1,
            }),
            hs256,
            clock: system_clock(),
            signature_checks: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
        })
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Clock) -> Verifier {
        self.clock = clock;
        self
    }

    /// The configuration in use.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// The JWKS file or directory.
    pub fn jwks_path(&self) -> &Path {
        &self.config.jwks_path
    }

    /// Verifies a bearer token (the part after `Bearer `).
    pub fn verify(&self, token: &str) -> Result<Arc<Identity>, AuthError> {
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::Malformed);
        }
        let now = (self.clock)();
        let (set, generation) = {
            let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
            (Arc::clone(&keys.set), keys.generation)
        };
        let hash = token_hash(token);
        if let Some(identity) = self.cache.get(&hash, generation, now) {
            self.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(identity);
        }
        let header = Header::parse(token)?;
        let (alg, key) = match header.alg.as_str() {
            "HS256" => match &self.hs256 {
                Some(secret) => (Algorithm::HS256, secret),
                None => return Err(AuthError::AlgorithmNotAllowed),
            },
            "ES256" | "RS256" => {
                let kid = header.kid.as_deref().ok_or(AuthError::UnknownKey)?;
                let entry = set.get(kid).ok_or(AuthError::UnknownKey)?;
                let alg = if header.alg == "ES256" {
                    Algorithm::ES256
                } else {
                    Algorithm::RS256
                };
                if entry.alg != alg {
                    return Err(AuthError::AlgorithmNotAllowed);
                }
                (alg, &entry.key)
            }
            _ => return Err(AuthError::AlgorithmNotAllowed),
        };
        let mut validation = Validation::new(alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.leeway = 0;
        validation.required_spec_claims.clear();
        self.signature_checks.fetch_add(1, Ordering::Relaxed);
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation)
            .map_err(|e| map_jwt_error(e.kind()))?
            .claims;

        let registered = registered_claims(&claims)?;
        if !self.config.issuers.contains(&registered.iss) {
            return Err(AuthError::WrongIssuer);
        }
        if !registered.aud.contains(&self.config.audience) {
            return Err(AuthError::WrongAudience);
        }
        let leeway = self.config.leeway.as_secs();
        let valid_until = registered.exp.saturating_add(leeway);
        if now > valid_until {
            return Err(AuthError::Expired);
        }
        if registered
            .nbf
            .is_some_and(|nbf| now.saturating_add(leeway) < nbf)
        {
            return Err(AuthError::NotYetValid);
        }
        let identity = Arc::new(identity_from_claims(&claims, registered.exp)?);
        self.cache
            .insert(hash, Arc::clone(&identity), generation, valid_until, now);
        Ok(identity)
    }

    /// Re-reads the JWKS. On success the new keys replace the old ones, the key generation
    /// advances and the cache is emptied; on failure the old keys stay (and the error is logged,
    /// naming the file, never key material).
    pub fn reload(&self) -> Result<usize, KeySetError> {
        match KeySet::load(&self.config.jwks_path) {
            Ok(set) => {
                let count = set.len();
                let kids: Vec<String> = set.kids().map(str::to_owned).collect();
                {
                    let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
                    keys.set = Arc::new(set);
                    keys.generation += 1;
                    self.cache.clear();
                }
                tracing::info!(keys = count, ?kids, "auth keys reloaded");
                Ok(count)
            }
            Err(e) => {
                tracing::error!(error = %e, "auth keys not reloaded; keeping the previous keys");
                Err(e)
            }
        }
    }

    /// Counters and sizes.
    pub fn stats(&self) -> VerifierStats {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        VerifierStats {
            signature_checks: self.signature_checks.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
            cached_tokens: self.cache.len(),
            key_generation: keys.generation,
            keys: keys.set.len(),
        }
    }

    /// The `kid`s of the keys in use, sorted.
    pub fn key_ids(&self) -> Vec<String> {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        keys.set.kids().map(str::to_owned).collect()
    }
}

/// The parts of the JOSE header the verifier decides on before touching a key.
struct Header {
    alg: String,
    kid: Option<String>,
}

impl Header {
    fn parse(token: &str) -> Result<Header, AuthError> {
        let mut parts = token.split('.');
        let (Some(header), Some(_), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Malformed);
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|_| AuthError::Malformed)?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed)?;
        let alg = value
            .get("alg")
            .and_then(Value::as_str)
            .ok_or(AuthError::Malformed)?
            .to_owned();
        let kid = match value.get("kid") {
            None => None,
            Some(Value::String(k)) => Some(k.clone()),
            Some(_) => return Err(AuthError::Malformed),
        };
        Ok(Header { alg, kid })
    }
}

fn map_jwt_error(kind: &ErrorKind) -> AuthError {
    match kind {
        ErrorKind::InvalidSignature => AuthError::BadSignature,
        ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm => {
            AuthError::AlgorithmNotAllowed
        }
        ErrorKind::InvalidClaimFormat(name) => AuthError::InvalidClaim(match name.as_str() {
            "iss" => "iss",
            "aud" => "aud",
            "sub" => "sub",
            "exp" => "exp",
            "nbf" => "nbf",
            _ => "claims",
        }),
        _ => AuthError::Malformed,
    }
}

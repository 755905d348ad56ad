//! What the verifier needs to know: where the keys are, whom to trust, for which audience, and
//! how much clock skew to forgive. Checked once, when the verifier is built.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::keyset::KeySetError;

/// The largest accepted leeway: clocks that disagree by more than five minutes are a fault to fix,
/// not to forgive.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// The shortest accepted HS256 development secret, in bytes.
pub const MIN_HS256_SECRET_BYTES: usize = 32;

/// Verifier configuration. `AuthConfig::new` fills the defaults.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// A JWKS file, or a directory whose `*.json` files are JWKS (merged).
    pub jwks_path: PathBuf,
    /// Accepted `iss` values (exact match). At least one.
    pub issuers: Vec<String>,
    /// The audience that `aud` must contain. Not empty.
    pub audience: String,
    /// Clock skew forgiven on `exp` and `nbf`. Default 30 s; more than `MAX_LEEWAY` is refused.
    pub leeway: Duration,
    /// Verified tokens kept in memory. Default 10 000; 0 turns the cache off.
    pub cache_entries: usize,
    /// How often the background reloader looks at the JWKS files. Default 30 s; at least 100 ms.
    pub reload_interval: Duration,
    /// Development mode: HS256 tokens signed with this secret are accepted too. Never set it in
    /// production; without it HS256 is always refused.
    pub development_hs256_secret: Option<DevelopmentSecret>,
}

impl AuthConfig {
    /// A configuration with the default leeway, cache size and reload interval, no HS256.
    pub fn new(
        jwks_path: impl Into<PathBuf>,
        issuers: Vec<String>,
        audience: impl Into<String>,
    ) -> Self {
        AuthConfig {
            jwks_path: jwks_path.into(),
            issuers,
            audience: audience.into(),
            leeway: Duration::from_secs(30),
            cache_entries: 10_000,
            reload_interval: Duration::from_secs(30),
            development_hs256_secret: None,
        }
    }

    /// Checks the bounds; the verifier calls it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.leeway > MAX_LEEWAY {
            return Err(ConfigError::LeewayTooLarge(self.leeway));
        }
        if self.issuers.is_empty() || self.issuers.iter().any(|i| i.trim().is_empty()) {
            return Err(ConfigError::NoIssuer);
        }
        if self.audience.trim().is_empty() {
            return Err(ConfigError::NoAudience);
        }
        if self.reload_interval < Duration::from_millis(100) {
            return Err(ConfigError::ReloadIntervalTooShort);
        }
        if let Some(secret) = &self.development_hs256_secret
            && secret.0.len() < MIN_HS256_SECRET_BYTES
        {
            return Err(ConfigError::Hs256SecretTooShort);
        }
        Ok(())
    }
}

/// The HS256 development secret. Its `Debug` never shows the bytes.
#[derive(Clone)]
pub struct DevelopmentSecret(Vec<u8>);

impl DevelopmentSecret {
    /// Wraps secret bytes (at least `MIN_HS256_SECRET_BYTES`, checked by `AuthConfig::validate`).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        DevelopmentSecret(bytes.into())
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for DevelopmentSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DevelopmentSecret(<redacted>)")
    }
}

/// A configuration the verifier refuses.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("auth leeway {0:?} is larger than the maximum of 300 s")]
    LeewayTooLarge(Duration),
    #[error("auth needs at least one accepted issuer")]
    NoIssuer,
    #[error("auth needs an audience")]
    NoAudience,
    #[error("auth reload interval must be at least 100 ms")]
    ReloadIntervalTooShort,
    #[error("the HS256 development secret must be at least 32 bytes")]
    Hs256SecretTooShort,
    #[error("cannot load the JWKS: {0}")]
    Keys(#[from] KeySetError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AuthConfig {
        AuthConfig::new("/nonexistent", vec!["https://idp".into()], "kovgis")
    }

    #[test]
    fn defaults_and_bounds() {
        let c = config();
        assert_eq!(c.leeway, Duration::from_secs(30));
        assert_eq!(c.cache_entries, 10_000);
        assert_eq!(c.reload_interval, Duration::from_secs(30));
        assert!(c.development_hs256_secret.is_none());
        assert!(c.validate().is_ok());
        let mut c = config();
        c.leeway = Duration::from_secs(300);
        assert!(c.validate().is_ok());
        c.leeway = Duration::from_secs(301);
        assert!(matches!(c.validate(), Err(ConfigError::LeewayTooLarge(_))));
        let mut c = config();
        c.issuers.clear();
        assert!(matches!(c.validate(), Err(ConfigError::NoIssuer)));
        let mut c = config();
        c.audience = " ".into();
        assert!(matches!(c.validate(), Err(ConfigError::NoAudience)));
        let mut c = config();
        c.development_hs256_secret = Some(DevelopmentSecret::new(vec![7; 31]));
        assert!(matches!(
            c.validate(),
            Err(ConfigError::Hs256SecretTooShort)
        ));
    }

    #[test]
    fn secret_debug_is_redacted() {
        let mut c = config();
        c.development_hs256_secret = Some(DevelopmentSecret::new(
            b"sekret-sekret-sekret-sekret-1234".to_vec(),
        ));
        let text = format!("{c:?}");
        assert!(!text.contains("sekret"), "{text}");
    }
}

//! The identity flags of `kovgis serve`: where the keys are (a JWKS file or directory), which
//! issuers and audience tokens must name, the clock-skew leeway, the token cache and how often the
//! keys are re-read — and the insecure switch that benchmarks use to measure what all that costs.
//! Without keys the server does not start.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use kovgis_auth::{AuthConfig, Identity, IdentityKind, Verifier};
use kovgis_spatial::Auth;

#[derive(Debug, clap::Args)]
pub struct AuthArgs {
    /// JWKS file, or a directory of *.json JWKS files (merged), with the public keys tokens are
    /// verified against (ES256, RS256). Re-read when it changes: rotation needs no restart.
    #[arg(long, env = "KOVGIS_JWKS")]
    jwks: Option<PathBuf>,
    /// Accepted token issuers (`iss`), comma-separated.
    #[arg(
        long = "issuer",
        env = "KOVGIS_ISSUERS",
        value_delimiter = ',',
        default_value = "kovgis-dev"
    )]
    issuers: Vec<String>,
    /// The audience tokens must name (`aud`).
    #[arg(long, env = "KOVGIS_AUDIENCE", default_value = "kovgis")]
    audience: String,
    /// Clock skew forgiven on `exp` and `nbf`, seconds (at most 300).
    #[arg(long, env = "KOVGIS_AUTH_LEEWAY_SECS", default_value_t = 30)]
    auth_leeway_secs: u64,
    /// How often the JWKS is looked at for changes, seconds.
    #[arg(long, env = "KOVGIS_AUTH_RELOAD_SECS", default_value_t = 30.0)]
    auth_reload_secs: f64,
    /// Verified tokens kept in memory (until their expiry).
    #[arg(long, env = "KOVGIS_TOKEN_CACHE", default_value_t = 10_000)]
    token_cache: usize,
    /// INSECURE: no authentication; every call runs as one identity that may do everything.
    /// Only for measuring what authentication costs; never serve like this.
    #[arg(long, env = "KOVGIS_INSECURE_NO_AUTH", conflicts_with = "jwks")]
    insecure_no_auth: bool,
}

impl AuthArgs {
    pub fn auth(&self) -> anyhow::Result<Auth> {
        if self.insecure_no_auth {
            let mut identity = Identity::system("insecure-no-auth");
            identity.kind = IdentityKind::Machine;
            identity.scopes = [
                "kovgis:read:all",
                "kovgis:write:national",
                "kovgis:rules:national",
                "kovgis:data-tracker",
            ]
            .map(String::from)
            .into();
            return Ok(Auth::InsecureFixed(Arc::new(identity)));
        }
        let Some(jwks) = &self.jwks else {
            anyhow::bail!(
                "no keys to verify callers with: give --jwks (or KOVGIS_JWKS) a JWKS file or \
                 directory (`kovgis token init-dev-key` makes a development one)"
            );
        };
        let mut config = AuthConfig::new(jwks, self.issuers.clone(), self.audience.clone());
        config.leeway = Duration::from_secs(self.auth_leeway_secs);
        config.reload_interval = Duration::from_secs_f64(self.auth_reload_secs.max(0.1));
        config.cache_entries = self.token_cache;
        let verifier = Verifier::new(config)
            .with_context(|| format!("cannot use the keys in {}", jwks.display()))?;
        Ok(Auth::Jwt(Arc::new(verifier)))
    }
}

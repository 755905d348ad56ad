//! `kovgis token …`: development keys and tokens (never for production identities).
//!
//! `kovgis token init-dev-key --dir D` creates `D/dev-signing-key.pem` (mode 0600) and
//! `D/jwks/dev.json` unless the key exists (it is never overwritten) and prints the paths.
//! `kovgis token --key D/dev-signing-key.pem --subject … [--municipality …] [--role …]… [--scope …]…`
//! prints a signed ES256 token. Tokens go to stdout only — never to the log.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use kovgis_auth::{Claims, DEV_AUDIENCE, DEV_ISSUER, DevKey, Role, is_valid_municipality_code};

/// The longest lifetime a development token may have.
const MAX_TTL: Duration = Duration::from_secs(90 * 24 * 3600);

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct TokenCommand {
    #[command(subcommand)]
    action: Option<TokenAction>,
    #[command(flatten)]
    mint: MintArgs,
}

#[derive(Debug, Subcommand)]
enum TokenAction {
    /// Create the development signing key and its JWKS if absent; print their paths.
    InitDevKey {
        /// Directory for the key and the `jwks/` directory.
        #[arg(long, env = "KOVGIS_DEV_KEY_DIR")]
        dir: PathBuf,
    },
}

#[derive(Debug, Args)]
struct MintArgs {
    /// The development private key (PKCS#8 PEM), e.g. <dir>/dev-signing-key.pem.
    #[arg(long, env = "KOVGIS_DEV_KEY")]
    key: Option<PathBuf>,
    /// `sub`: who the token speaks for (a TARA-style `EE` + personal code works too).
    #[arg(long)]
    subject: Option<String>,
    /// The municipality's EHAK code (4 digits, e.g. 0793 for Tartu).
    #[arg(long)]
    municipality: Option<String>,
    /// A role: applicant, official, approver, gis_specialist, municipality_admin (repeatable).
    #[arg(long = "role", value_parser = parse_role)]
    roles: Vec<Role>,
    /// A scope, e.g. kovgis:read:all or authority:Keskkonnaamet (repeatable).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// The person's isikukood (11 digits).
    #[arg(long)]
    personal_code: Option<String>,
    /// `iss`.
    #[arg(long, default_value = DEV_ISSUER)]
    issuer: String,
    /// `aud`.
    #[arg(long, default_value = DEV_AUDIENCE)]
    audience: String,
    /// Lifetime: e.g. 8h, 30m, 90s, 2d (at most 90d).
    #[arg(long, default_value = "8h", value_parser = parse_ttl)]
    ttl: Duration,
    /// Bind the token to this client certificate (PEM): `cnf.x5t#S256` (RFC 8705). A server
    /// doing mutual TLS accepts a machine token only over a connection with that certificate.
    #[arg(long)]
    bind_cert: Option<PathBuf>,
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::from_claim(s).ok_or_else(|| {
        let names: Vec<_> = Role::ALL.iter().map(|r| r.claim_name()).collect();
        format!("unknown role {s:?}; one of {}", names.join(", "))
    })
}

fn parse_ttl(s: &str) -> Result<Duration, String> {
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a lifetime like 8h"))?;
    let seconds = match unit {
        "" | "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => return Err(format!("{s:?}: unit must be s, m, h or d")),
    };
    let ttl = Duration::from_secs(seconds);
    if ttl.is_zero() || ttl > MAX_TTL {
        return Err(format!("{s:?}: lifetime must be between 1 s and 90 d"));
    }
    Ok(ttl)
}

pub fn run(cmd: TokenCommand) -> anyhow::Result<()> {
    match cmd.action {
        Some(TokenAction::InitDevKey { dir }) => {
            let (key, files) = DevKey::init_dir(&dir)
                .with_context(|| format!("creating the development key in {}", dir.display()))?;
            let state = if files.created {
                "created"
            } else {
                "exists, kept"
            };
            println!("key:  {} ({state})", files.key_file.display());
            println!("jwks: {} (kid {})", files.jwks_dir.display(), key.kid());
            Ok(())
        }
        None => mint(cmd.mint),
    }
}

fn mint(args: MintArgs) -> anyhow::Result<()> {
    let Some(key_file) = args.key else {
        bail!("--key is required (create one with `kovgis token init-dev-key --dir …`)");
    };
    let Some(subject) = args.subject.filter(|s| !s.trim().is_empty()) else {
        bail!("--subject is required");
    };
    if let Some(code) = &args.municipality
        && !is_valid_municipality_code(code)
    {
        bail!("--municipality must be a 4-digit EHAK code such as 0793");
    }
    if let Some(code) = &args.personal_code
        && !kovgis_auth::is_valid_personal_code(code)
    {
        bail!("--personal-code is not a valid isikukood");
    }
    if args.roles.is_empty() && args.scopes.is_empty() {
        bail!("give at least one --role or --scope (a token with neither may do nothing)");
    }
    let key = DevKey::load(&key_file)?;
    let mut claims = Claims::new(subject, args.issuer, args.audience, args.ttl);
    claims.municipality = args.municipality;
    claims.personal_code = args.personal_code;
    claims.scopes = args.scopes;
    claims = args.roles.into_iter().fold(claims, Claims::role);
    if let Some(cert) = &args.bind_cert {
        let pem = std::fs::read_to_string(cert)
            .with_context(|| format!("--bind-cert: cannot read {}", cert.display()))?;
        let Some(thumbprint) = kovgis_auth::mtls::pem_certificate_thumbprint(&pem) else {
            bail!("--bind-cert: {} holds no PEM certificate", cert.display());
        };
        claims
            .extra
            .insert("cnf".into(), serde_json::json!({ "x5t#S256": thumbprint }));
    }
    println!("{}", key.mint(&claims)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_forms() {
        assert_eq!(parse_ttl("8h"), Ok(Duration::from_secs(8 * 3600)));
        assert_eq!(parse_ttl("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_ttl("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_ttl("2d"), Ok(Duration::from_secs(172_800)));
        assert!(parse_ttl("0s").is_err());
        assert!(parse_ttl("91d").is_err());
        assert!(parse_ttl("8 h").is_err());
        assert!(parse_ttl("h").is_err());
    }

    #[test]
    fn role_names() {
        assert_eq!(parse_role("gis_specialist"), Ok(Role::GisSpecialist));
        assert!(parse_role("admin").is_err());
    }
}

//! The TLS flags of `kovgis serve`: the server's certificate and key, and the CA that machine
//! clients' certificates are verified against (mutual TLS, README: "TLS and mutual TLS").

use std::path::{Path, PathBuf};

use anyhow::Context;
use kovgis_spatial::Tls;

#[derive(Debug, clap::Args)]
pub struct TlsArgs {
    /// Serve TLS with this certificate chain (PEM). Unset: plain HTTP/2 (behind a proxy that
    /// terminates TLS, or on a private network).
    #[arg(long, env = "KOVGIS_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, env = "KOVGIS_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Mutual TLS: verify client certificates against these CA certificates (PEM). Machine
    /// identities must then present a certificate their token is bound to (`cnf.x5t#S256`,
    /// RFC 8705); people need none.
    #[arg(long, env = "KOVGIS_CLIENT_CA", requires = "tls_cert")]
    client_ca: Option<PathBuf>,
}

impl TlsArgs {
    /// The TLS settings, with the files read; `None` without --tls-cert.
    pub fn tls(&self) -> anyhow::Result<Option<Tls>> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        Ok(Some(Tls {
            certificate: pem(cert, "--tls-cert", "CERTIFICATE")?,
            key: pem(key, "--tls-key", "PRIVATE KEY")?,
            client_ca: self
                .client_ca
                .as_deref()
                .map(|ca| pem(ca, "--client-ca", "CERTIFICATE"))
                .transpose()?,
        }))
    }
}

/// A PEM file's bytes, refused with the flag and file named when it holds no `label` block (a
/// key may be `PRIVATE KEY`, `EC PRIVATE KEY` or `RSA PRIVATE KEY`).
fn pem(path: &Path, flag: &str, label: &str) -> anyhow::Result<Vec<u8>> {
    let bytes =
        std::fs::read(path).with_context(|| format!("{flag}: cannot read {}", path.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    if !text.contains("-----BEGIN ") || !text.contains(&format!("{label}-----")) {
        anyhow::bail!("{flag}: {} holds no PEM {label}", path.display());
    }
    Ok(bytes)
}

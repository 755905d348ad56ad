//! `kovgis token`: the development key is created once and never overwritten, and the printed
//! token verifies against the JWKS it wrote, with the subject, municipality and roles asked for,
//! and bound to a client certificate when asked (`--bind-cert`).
//! No database needed.

use std::path::PathBuf;
use std::process::{Command, Output};

use kovgis_auth::{AuthConfig, DEV_AUDIENCE, DEV_ISSUER, IdentityKind, Role, Verifier};

fn kovgis(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kovgis"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("KOVGIS_DEV_KEY")
        .env_remove("KOVGIS_DEV_KEY_DIR")
        .output()
        .unwrap()
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kovgis-token-cmd-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn init_dev_key_then_mint_a_token_that_verifies() {
    let dir = temp_dir();
    let d = dir.to_str().unwrap();
    let first = kovgis(&["token", "init-dev-key", "--dir", d]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let out = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(out.contains("(created)"), "{out}");
    let key_file = dir.join("dev-signing-key.pem");
    let key_before = std::fs::read(&key_file).unwrap();

    let again = kovgis(&["token", "init-dev-key", "--dir", d]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("(exists, kept)"));
    assert_eq!(
        std::fs::read(&key_file).unwrap(),
        key_before,
        "never overwritten"
    );

    let minted = kovgis(&[
        "token",
        "--key",
        key_file.to_str().unwrap(),
        "--subject",
        "demo-tartu-official",
        "--municipality",
        "0793",
        "--role",
        "official",
        "--role",
        "approver",
        "--ttl",
        "1h",
    ]);
    assert!(
        minted.status.success(),
        "{}",
        String::from_utf8_lossy(&minted.stderr)
    );
    let token = String::from_utf8(minted.stdout).unwrap().trim().to_owned();
    assert!(
        !String::from_utf8_lossy(&minted.stderr).contains(&token),
        "the token is printed to stdout only"
    );
    let verifier = Verifier::new(AuthConfig::new(
        dir.join("jwks"),
        vec![DEV_ISSUER.into()],
        DEV_AUDIENCE,
    ))
    .unwrap();
    let id = verifier.verify(&token).unwrap();
    assert_eq!(id.subject, "demo-tartu-official");
    assert_eq!(id.municipality.as_deref(), Some("0793"));
    assert_eq!(
        id.roles.iter().copied().collect::<Vec<_>>(),
        [Role::Official, Role::Approver]
    );
    let now = kovgis_auth::unix_now();
    assert!((now + 3590..=now + 3600).contains(&id.expires_at));

    let machine = kovgis(&[
        "token",
        "--key",
        key_file.to_str().unwrap(),
        "--subject",
        "ehr-adapter",
        "--scope",
        "kovgis:read:all",
    ]);
    let token = String::from_utf8(machine.stdout).unwrap();
    let id = verifier.verify(token.trim()).unwrap();
    assert_eq!(id.kind, IdentityKind::Machine);
    assert!(id.has_scope("kovgis:read:all"));
    assert_eq!(id.certificate_thumbprint, None);

    // Bound to a client certificate (RFC 8705): the thumbprint worked out by openssl.
    let cert = dir.join("client.pem");
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        dir.join("client.key").to_str().unwrap(),
        "-out",
        cert.to_str().unwrap(),
        "-days",
        "1",
        "-subj",
        "/CN=ehr-adapter",
    ]);
    let der = dir.join("client.der");
    openssl(&[
        "x509",
        "-in",
        cert.to_str().unwrap(),
        "-outform",
        "DER",
        "-out",
        der.to_str().unwrap(),
    ]);
    let digest = dir.join("client.sha256");
    openssl(&[
        "dgst",
        "-sha256",
        "-binary",
        "-out",
        digest.to_str().unwrap(),
        der.to_str().unwrap(),
    ]);
    let b64 =
        String::from_utf8(openssl(&["base64", "-A", "-in", digest.to_str().unwrap()])).unwrap();
    let expected = b64
        .trim()
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_");
    let bound = kovgis(&[
        "token",
        "--key",
        key_file.to_str().unwrap(),
        "--subject",
        "ehr-adapter",
        "--scope",
        "kovgis:read:all",
        "--bind-cert",
        cert.to_str().unwrap(),
    ]);
    assert!(
        bound.status.success(),
        "{}",
        String::from_utf8_lossy(&bound.stderr)
    );
    let id = verifier
        .verify(String::from_utf8(bound.stdout).unwrap().trim())
        .unwrap();
    assert_eq!(
        id.certificate_thumbprint.as_deref(),
        Some(expected.as_str())
    );
    let not_a_cert = kovgis(&[
        "token",
        "--key",
        key_file.to_str().unwrap(),
        "--subject",
        "x",
        "--scope",
        "s",
        "--bind-cert",
        key_file.to_str().unwrap(),
    ]);
    assert!(!not_a_cert.status.success() && not_a_cert.stdout.is_empty());

    for bad in [
        vec![
            "--subject",
            "x",
            "--role",
            "official",
            "--municipality",
            "793",
        ],
        vec!["--subject", "x", "--role", "superuser"],
        vec!["--subject", "x"],
        vec!["--subject", "x", "--role", "official", "--ttl", "100d"],
    ] {
        let mut args = vec!["token", "--key", key_file.to_str().unwrap()];
        args.extend(bad.iter().copied());
        let out = kovgis(&args);
        assert!(!out.status.success(), "{bad:?} should be refused");
        assert!(out.stdout.is_empty());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

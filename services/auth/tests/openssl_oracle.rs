//! Independent oracle: keys made and tokens signed by the `openssl` command-line tool, JWKS
//! written by hand from its output, verified by our verifier — and our development tokens
//! verified by `openssl`. Neither direction uses this crate's signing code to check itself.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use kovgis_auth::testing::TestAuth;
use kovgis_auth::{AuthConfig, AuthError, KeySet, KeySetError, Verifier, unix_now};

fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kovgis-openssl-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("jwks")).unwrap();
    dir
}

/// A DER INTEGER's value as exactly 32 big-endian bytes.
fn der_int_32(bytes: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    assert!(trimmed.len() <= 32);
    let mut out = vec![0; 32 - trimmed.len()];
    out.extend(trimmed);
    out
}

/// ECDSA-Sig-Value DER (SEQUENCE of two INTEGERs, short lengths for P-256) → JOSE r‖s.
fn der_to_raw(der: &[u8]) -> Vec<u8> {
    assert_eq!(der[0], 0x30);
    let mut i = 2;
    let mut raw = Vec::new();
    for _ in 0..2 {
        assert_eq!(der[i], 0x02);
        let len = der[i + 1] as usize;
        raw.extend(der_int_32(&der[i + 2..i + 2 + len]));
        i += 2 + len;
    }
    raw
}

/// JOSE r‖s → DER (for `openssl dgst -verify`).
fn raw_to_der(raw: &[u8]) -> Vec<u8> {
    let int = |half: &[u8]| {
        let mut v: Vec<u8> = half.iter().copied().skip_while(|b| *b == 0).collect();
        if v.first().is_none_or(|b| *b >= 0x80) {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    };
    let body = [int(&raw[..32]), int(&raw[32..])].concat();
    let mut der = vec![0x30, body.len() as u8];
    der.extend(body);
    der
}

fn claims_json(now: u64) -> String {
    format!(
        r#"{{"sub":"EE37605030299","iss":"kovgis-dev","aud":"kovgis","exp":{},"nbf":{},"municipality":"0793","roles":["official"]}}"#,
        now + 600,
        now - 5
    )
}

/// `header.payload` signed by openssl with `key` (`ec` → DER converted to r‖s; RSA as is).
fn openssl_token(dir: &Path, header: &str, payload: &str, key: &str, ec: bool) -> String {
    let input = format!("{}.{}", B64.encode(header), B64.encode(payload));
    std::fs::write(dir.join("input"), &input).unwrap();
    openssl(
        dir,
        &["dgst", "-sha256", "-sign", key, "-out", "sig", "input"],
    );
    let sig = std::fs::read(dir.join("sig")).unwrap();
    let sig = if ec { der_to_raw(&sig) } else { sig };
    format!("{input}.{}", B64.encode(sig))
}

/// An EC P-256 key by openssl and its hand-written JWK.
fn openssl_ec_key(dir: &Path, name: &str, kid: &str) -> String {
    let pem = format!("{name}.pem");
    openssl(
        dir,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            &pem,
        ],
    );
    let spki = openssl(dir, &["ec", "-in", &pem, "-pubout", "-outform", "DER"]);
    let point = &spki[spki.len() - 65..];
    assert_eq!(point[0], 0x04, "uncompressed point");
    format!(
        r#"{{"kty":"EC","crv":"P-256","kid":"{kid}","use":"sig","x":"{}","y":"{}"}}"#,
        B64.encode(&point[1..33]),
        B64.encode(&point[33..])
    )
}

/// An RSA key by openssl and its hand-written JWK.
fn openssl_rsa_key(dir: &Path, name: &str, bits: &str, kid: &str) -> String {
    let pem = format!("{name}.pem");
    openssl(dir, &["genrsa", "-out", &pem, bits]);
    let modulus =
        String::from_utf8(openssl(dir, &["rsa", "-in", &pem, "-noout", "-modulus"])).unwrap();
    let hex = modulus.trim().strip_prefix("Modulus=").unwrap();
    let n: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    // e = 65537 = 0x010001, openssl's default.
    format!(
        r#"{{"kty":"RSA","kid":"{kid}","alg":"RS256","n":"{}","e":"AQAB"}}"#,
        B64.encode(n)
    )
}

fn write_jwks(dir: &Path, file: &str, jwks: &[&str]) {
    std::fs::write(
        dir.join("jwks").join(file),
        format!(r#"{{"keys":[{}]}}"#, jwks.join(",")),
    )
    .unwrap();
}

fn verifier(dir: &Path) -> Verifier {
    Verifier::new(AuthConfig::new(
        dir.join("jwks"),
        vec!["kovgis-dev".into()],
        "kovgis",
    ))
    .unwrap()
}

#[test]
fn openssl_signed_es256_and_rs256_tokens_verify() {
    let dir = temp_dir("accept");
    let ec = openssl_ec_key(&dir, "ec", "ec-1");
    let rsa = openssl_rsa_key(&dir, "rsa", "2048", "rsa-1");
    write_jwks(&dir, "ec.json", &[&ec]);
    write_jwks(&dir, "rsa.json", &[&rsa]);
    let v = verifier(&dir);
    assert_eq!(v.key_ids(), ["ec-1", "rsa-1"]);
    let payload = claims_json(unix_now());

    let es = openssl_token(
        &dir,
        r#"{"alg":"ES256","kid":"ec-1","typ":"JWT"}"#,
        &payload,
        "ec.pem",
        true,
    );
    let id = v.verify(&es).unwrap();
    assert_eq!(id.subject, "EE37605030299");
    assert_eq!(id.municipality.as_deref(), Some("0793"));

    let rs = openssl_token(
        &dir,
        r#"{"alg":"RS256","kid":"rsa-1"}"#,
        &payload,
        "rsa.pem",
        false,
    );
    assert_eq!(v.verify(&rs).unwrap().subject, "EE37605030299");

    // The right signature under the wrong key id: signature check fails.
    let es_wrong_kid = openssl_token(
        &dir,
        r#"{"alg":"ES256","kid":"ec-2"}"#,
        &payload,
        "ec.pem",
        true,
    );
    assert_eq!(v.verify(&es_wrong_kid), Err(AuthError::UnknownKey));
    let ec2 = openssl_ec_key(&dir, "ec2", "ec-2");
    write_jwks(&dir, "ec2.json", &[&ec2]);
    v.reload().unwrap();
    assert_eq!(v.verify(&es_wrong_kid), Err(AuthError::BadSignature));

    // Algorithm confusion: an RS256 header naming the EC key, an ES256 header naming the RSA key.
    let rs_on_ec = openssl_token(
        &dir,
        r#"{"alg":"RS256","kid":"ec-1"}"#,
        &payload,
        "rsa.pem",
        false,
    );
    assert_eq!(v.verify(&rs_on_ec), Err(AuthError::AlgorithmNotAllowed));
    let es_on_rsa = openssl_token(
        &dir,
        r#"{"alg":"ES256","kid":"rsa-1"}"#,
        &payload,
        "ec.pem",
        true,
    );
    assert_eq!(v.verify(&es_on_rsa), Err(AuthError::AlgorithmNotAllowed));
    // Other algorithms are not accepted even when the signature would be RSA PKCS#1.
    let rs512 = openssl_token(
        &dir,
        r#"{"alg":"RS512","kid":"rsa-1"}"#,
        &payload,
        "rsa.pem",
        false,
    );
    assert_eq!(v.verify(&rs512), Err(AuthError::AlgorithmNotAllowed));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn short_rsa_keys_and_private_jwks_are_not_loaded() {
    let dir = temp_dir("refuse");
    let short = openssl_rsa_key(&dir, "short", "1024", "short-1");
    write_jwks(&dir, "short.json", &[&short]);
    assert!(matches!(
        KeySet::load(&dir.join("jwks")),
        Err(KeySetError::NoUsableKeys { .. })
    ));
    let ec = openssl_ec_key(&dir, "ec", "ec-1");
    let private = ec.replace(r#""use":"sig""#, r#""use":"sig","d":"c2VjcmV0""#);
    write_jwks(&dir, "short.json", &[&private]);
    let err = KeySet::load(&dir.join("jwks")).unwrap_err();
    assert!(matches!(err, KeySetError::NoUsableKeys { .. }));
    assert!(!format!("{err} {err:?}").contains("c2VjcmV0"));
    write_jwks(&dir, "short.json", &[&ec, &ec]);
    assert!(matches!(
        KeySet::load(&dir.join("jwks")),
        Err(KeySetError::DuplicateKid { .. })
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn development_tokens_verify_with_openssl() {
    let auth = TestAuth::new();
    let key_file = auth.dir.join(kovgis_auth::DEV_KEY_FILE);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // openssl reads the key as PKCS#8 and derives the public key we publish.
    let pem_head = std::fs::read_to_string(&key_file).unwrap();
    assert!(pem_head.starts_with("-----BEGIN PRIVATE KEY-----"));
    let spki = openssl(
        &auth.dir,
        &[
            "pkey",
            "-in",
            key_file.to_str().unwrap(),
            "-pubout",
            "-outform",
            "DER",
        ],
    );
    let point = &spki[spki.len() - 64..];
    let jwk = auth.key.public_jwk();
    assert_eq!(B64.encode(&point[..32]), jwk["x"].as_str().unwrap());
    assert_eq!(B64.encode(&point[32..]), jwk["y"].as_str().unwrap());

    let token = auth.token(&auth.claims("alice"));
    let (input, sig) = token.rsplit_once('.').unwrap();
    std::fs::write(auth.dir.join("input"), input).unwrap();
    std::fs::write(
        auth.dir.join("sig.der"),
        raw_to_der(&B64.decode(sig).unwrap()),
    )
    .unwrap();
    openssl(
        &auth.dir,
        &[
            "pkey",
            "-in",
            key_file.to_str().unwrap(),
            "-pubout",
            "-out",
            "pub.pem",
        ],
    );
    let out = openssl(
        &auth.dir,
        &[
            "dgst",
            "-sha256",
            "-verify",
            "pub.pem",
            "-signature",
            "sig.der",
            "input",
        ],
    );
    assert_eq!(String::from_utf8_lossy(&out).trim(), "Verified OK");
    let header: serde_json::Value =
        serde_json::from_slice(&B64.decode(input.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"], auth.key.kid());
}

#[test]
fn the_dev_key_is_never_overwritten() {
    let auth = TestAuth::new();
    let key_file = auth.dir.join(kovgis_auth::DEV_KEY_FILE);
    let before = std::fs::read(&key_file).unwrap();
    std::fs::remove_file(auth.jwks_dir().join(kovgis_auth::DEV_JWKS_FILE)).unwrap();
    let (again, files) = kovgis_auth::DevKey::init_dir(&auth.dir).unwrap();
    assert!(!files.created);
    assert_eq!(again.kid(), auth.key.kid());
    assert_eq!(std::fs::read(&key_file).unwrap(), before);
    assert!(files.jwks_file.exists(), "the public JWKS is rewritten");
    // A token of the reloaded key verifies against the rewritten JWKS.
    let v = auth.verifier();
    assert!(v.verify(&again.mint(&auth.claims("bob")).unwrap()).is_ok());
}

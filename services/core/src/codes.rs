//! Identifiers of the Estonian registers: EHAK municipality codes and cadastral codes.
//!
//! Both are opaque identifiers. In particular the municipality of a parcel is *not* derived from
//! the first digits of its cadastral code (the cadastral unit prefix predates the 2017 reform);
//! it comes from the geometry.

use crate::InputError;

/// Checks a 4-digit EHAK municipality code such as `0784` (Tallinn).
pub fn parse_municipality_code(field: &str, value: &str) -> Result<String, InputError> {
    let v = value.trim();
    if v.len() == 4 && v.bytes().all(|b| b.is_ascii_digit()) {
        Ok(v.to_owned())
    } else if v.is_empty() {
        Err(InputError::new(
            field,
            "municipality code is required (4-digit EHAK code, e.g. 0784 for Tallinn)",
        ))
    } else {
        Err(InputError::new(
            field,
            format!("'{value}' is not an EHAK municipality code: expected 4 digits, e.g. 0784"),
        ))
    }
}

/// Checks a cadastral code `NNNNN:NNN:NNNN` (katastritunnus), e.g. `78401:101:0238`.
pub fn parse_cadastral_code(field: &str, value: &str) -> Result<String, InputError> {
    let v = value.trim();
    let parts: Vec<&str> = v.split(':').collect();
    let ok = parts.len() == 3
        && [5, 3, 4]
            .iter()
            .zip(&parts)
            .all(|(n, p)| p.len() == *n && p.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(v.to_owned())
    } else {
        Err(InputError::new(
            field,
            format!(
                "'{value}' is not a cadastral code: expected NNNNN:NNN:NNNN, e.g. 78401:101:0238"
            ),
        ))
    }
}

/// A cadastral code (`NNNNN:NNN:NNNN`, trimmed) packed into an integer of its 12 digits: sets of
/// the national cadastre's codes without an allocation per code. `None` when not a code.
pub fn cadastral_key(code: &str) -> Option<u64> {
    let b = code.as_bytes();
    if b.len() != 14 || b[5] != b':' || b[9] != b':' {
        return None;
    }
    let mut key = 0u64;
    for (i, &c) in b.iter().enumerate() {
        if i == 5 || i == 9 {
            continue;
        }
        if !c.is_ascii_digit() {
            return None;
        }
        key = key * 10 + u64::from(c - b'0');
    }
    Some(key)
}

/// The code a [`cadastral_key`] was made from.
pub fn cadastral_code_of_key(key: u64) -> String {
    let d = format!("{key:012}");
    format!("{}:{}:{}", &d[..5], &d[5..8], &d[8..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cadastral_keys_round_trip() {
        for code in ["78401:101:0238", "00001:000:0000", "99999:999:9999"] {
            let key = cadastral_key(code).unwrap();
            assert_eq!(cadastral_code_of_key(key), code);
        }
        assert_ne!(
            cadastral_key("78401:101:0238"),
            cadastral_key("78401:101:0239")
        );
        for bad in [
            "",
            "78401:101:023",
            "78401-101-0238",
            "7840a:101:0238",
            " 78401:101:0238",
        ] {
            assert_eq!(cadastral_key(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn municipality_codes() {
        assert_eq!(parse_municipality_code("c", "0784").unwrap(), "0784");
        assert_eq!(parse_municipality_code("c", " 0793 ").unwrap(), "0793");
        for bad in ["", "784", "07840", "07a4", "Tallinn"] {
            let e = parse_municipality_code("code", bad).unwrap_err();
            assert_eq!(e.field, "code");
        }
    }

    #[test]
    fn cadastral_codes() {
        assert!(parse_cadastral_code("c", "78401:101:0238").is_ok());
        for bad in [
            "",
            "78401:101:238",
            "78401-101-0238",
            "78401:101:0238:1",
            "7840a:101:0238",
        ] {
            let e = parse_cadastral_code("cadastral_code", bad).unwrap_err();
            assert!(e.reason.contains("NNNNN:NNN:NNNN"), "{e}");
        }
    }
}

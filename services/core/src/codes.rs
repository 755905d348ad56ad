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

#[cfg(test)]
mod tests {
    use super::*;

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

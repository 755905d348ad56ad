//! `FindParcels` page tokens: the hex of `v1:<last cadastral code>`, opaque to clients and
//! checked when they come back.

use kovgis_core::InputError;
use kovgis_core::codes::parse_cadastral_code;

/// The token that continues after cadastral code `after`.
pub fn encode(after: &str) -> String {
    hex::encode(format!("v1:{after}"))
}

/// The cadastral code a token continues after; `None` for the empty token (the first page).
pub fn decode(token: &str) -> Result<Option<String>, InputError> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || {
        InputError::new(
            "page_token",
            "not a page token from a previous FindParcels response",
        )
    };
    let bytes = hex::decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let code = text.strip_prefix("v1:").ok_or_else(bad)?;
    parse_cadastral_code("page_token", code).map_err(|_| bad())?;
    Ok(Some(code.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_reject_garbage() {
        let t = encode("78401:101:0238");
        assert_eq!(decode(&t).unwrap().as_deref(), Some("78401:101:0238"));
        assert_eq!(decode("").unwrap(), None);
        for bad in [
            "zz",
            "00",
            &hex::encode("v2:78401:101:0238"),
            &hex::encode("v1:nope"),
        ] {
            assert_eq!(decode(bad).unwrap_err().field, "page_token");
        }
    }
}

//! `google.protobuf.Timestamp` ↔ `chrono` UTC times.

use kovgis_core::InputError;

pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

pub fn from_timestamp(
    field: &str,
    t: &prost_types::Timestamp,
) -> Result<chrono::DateTime<chrono::Utc>, InputError> {
    chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32)
        .ok_or_else(|| InputError::new(field, "timestamp out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        let t = chrono::DateTime::from_timestamp(1_700_000_000, 123_000_000).unwrap();
        assert_eq!(from_timestamp("t", &timestamp(t)).unwrap(), t);
        let bad = prost_types::Timestamp {
            seconds: i64::MAX,
            nanos: 0,
        };
        assert_eq!(from_timestamp("as_of", &bad).unwrap_err().field, "as_of");
    }
}

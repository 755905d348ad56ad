//! Numbers as the messages show them: rounded to a number of decimals, trailing zeros dropped,
//! the same text as `Display` of the rounded `f64` but written through integers.
//!
//! Only for message text; the findings' numeric fields carry the unrounded values.

/// A number as messages show it: rounded to `.1` decimals, trailing zeros dropped — the same
/// text as `Display` of the rounded `f64`, written through integers (the float formatter was a
/// tenth of a check's time).
pub(crate) struct Dec(pub(crate) f64, pub(crate) u32);

impl std::fmt::Display for Dec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scale = 10u64.pow(self.1);
        let scaled = (self.0 * scale as f64).round();
        if !scaled.is_finite() || scaled.abs() >= 1e15 || scaled == 0.0 && self.0 < 0.0 {
            let shown = scaled / scale as f64;
            return write!(f, "{shown}");
        }
        let (sign, n) = if scaled < 0.0 {
            ("-", -scaled as u64)
        } else {
            ("", scaled as u64)
        };
        let (whole, mut fraction) = (n / scale, n % scale);
        write!(f, "{sign}{whole}")?;
        if fraction == 0 {
            return Ok(());
        }
        let mut digits = self.1 as usize;
        while fraction % 10 == 0 {
            fraction /= 10;
            digits -= 1;
        }
        write!(f, ".{fraction:0digits$}")
    }
}

#[cfg(test)]
mod tests {
    use super::Dec;

    #[test]
    fn numbers_read_as_the_rounded_float_displays() {
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        for i in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let unit = (x >> 11) as f64 / (1u64 << 53) as f64;
            // Small and large, whole, halves and negative values.
            let v = match i % 5 {
                0 => unit * 10.0,
                1 => unit * 1e7,
                2 => (unit * 1e4).round() / 2.0,
                3 => -unit * 500.0,
                _ => (unit * 1e3).round() / 100.0 + 0.005,
            };
            for digits in [1u32, 2] {
                let f = 10f64.powi(digits as i32);
                let expected = format!("{}", (v * f).round() / f);
                assert_eq!(format!("{}", Dec(v, digits)), expected, "{v} to {digits}");
            }
        }
    }
}

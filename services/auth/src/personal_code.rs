//! The Estonian personal identification code (isikukood): 11 digits, the last a check digit.
//!
//! Only the form is checked (digits, length, check digit per the standard EVS 585:2007 two-pass
//! weighting); whether the person exists is not this crate's business.

/// True when `code` is 11 ASCII digits with a correct check digit.
pub fn is_valid_personal_code(code: &str) -> bool {
    let bytes = code.as_bytes();
    if bytes.len() != 11 || !bytes.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let digits: Vec<u32> = bytes.iter().map(|b| u32::from(b - b'0')).collect();
    let weighted = |weights: [u32; 10]| -> u32 {
        digits[..10]
            .iter()
            .zip(weights)
            .map(|(d, w)| d * w)
            .sum::<u32>()
            % 11
    };
    let mut check = weighted([1, 2, 3, 4, 5, 6, 7, 8, 9, 1]);
    if check == 10 {
        check = weighted([3, 4, 5, 6, 7, 8, 9, 1, 2, 3]);
        if check == 10 {
            check = 0;
        }
    }
    check == digits[10]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits_worked_out_by_hand() {
        // 3·1+7·2+6·3+0·4+5·5+0·6+3·7+0·8+2·9+9·1 = 108; 108 mod 11 = 9.
        assert!(is_valid_personal_code("37605030299"));
        // 6·1+0+0+0+1·5+0+1·7+9·8+9·9+0 = 171; 171 mod 11 = 6.
        assert!(is_valid_personal_code("60001019906"));
        assert!(!is_valid_personal_code("37605030298"));
        assert!(!is_valid_personal_code("3760503029"));
        assert!(!is_valid_personal_code("3760503029x"));
        assert!(!is_valid_personal_code("376050302990"));
        // 5·1 = 5 → check digit 5.
        assert!(!is_valid_personal_code("50000000001"));
        assert!(is_valid_personal_code("50000000005"));
    }

    #[test]
    fn second_pass_when_first_gives_ten() {
        // Digits 1,0,0,0,0,0,0,0,0,9: pass 1 = 1·1 + 9·1 = 10 → pass 2 = 1·3 + 9·3 = 30;
        // 30 mod 11 = 8.
        assert!(is_valid_personal_code("10000000098"));
        assert!(!is_valid_personal_code("10000000090"));
    }
}

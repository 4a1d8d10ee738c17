//! The check character of GB 11643-1999 resident identity numbers (ISO 7064 MOD 11-2): a fact of
//! the standard that reading (`ingest`), cleaning (`normalize`) and judging (`check`) all use, so
//! it sits below them all.

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: [u8; 11] = *b"10X98765432";

/// The MOD 11-2 check character for the first 17 characters of `body`, which must be ASCII digits.
pub fn check_char(body: &[u8]) -> Option<u8> {
    if body.len() < 17 || !body[..17].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = body[..17].iter().zip(WEIGHTS).map(|(&b, w)| u32::from(b - b'0') * w).sum();
    Some(CHECK_CHARS[(sum % 11) as usize])
}

/// The valid numbers of DOMAIN.md's test vectors, for every module's tests: 18 characters, the
/// check character right, the date real.
#[cfg(test)]
pub const DOMAIN_VALID: [&str; 7] = [
    "11010519491231002X",
    "440524188001010014",
    "34052419800101001X",
    "360426199101010071",
    "44011320141005001X",
    "810000199408230021",
    "830000199201300022",
];

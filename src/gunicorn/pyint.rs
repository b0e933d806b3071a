//! Python's `int()` and gunicorn's `auto_int`, the two conversions argparse applies to
//! gunicorn's numeric flags before anything else sees them.
//!
//! They decide whether `--workers ' 3 '`, `--workers 1_0`, `--workers ３` (a full-width
//! digit) or `--umask 0o22` get past argparse, so they follow `CPython`'s rules exactly:
//! Unicode decimal digits count, surrounding whitespace is dropped, one `_` may sit
//! between digits, and a decimal of more than 4,300 digits is refused (Python's
//! `sys.get_int_max_str_digits()`), while hex, octal and binary have no size limit.

/// The first code point of every run of ten Unicode decimal digits (category Nd) in the
/// Unicode 14 tables `CPython` 3.11 uses; each run holds the values 0 to 9 in order.
const DIGIT_ZEROS: &[u32] = &[
    0x30, 0x660, 0x6f0, 0x7c0, 0x966, 0x9e6, 0xa66, 0xae6, 0xb66, 0xbe6, 0xc66, 0xce6, 0xd66,
    0xde6, 0xe50, 0xed0, 0xf20, 0x1040, 0x1090, 0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90,
    0x1b50, 0x1bb0, 0x1c40, 0x1c50, 0xa620, 0xa8d0, 0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0, 0xff10,
    0x104a0, 0x10d30, 0x11066, 0x110f0, 0x11136, 0x111d0, 0x112f0, 0x11450, 0x114d0, 0x11650,
    0x116c0, 0x11730, 0x118e0, 0x11950, 0x11c50, 0x11d50, 0x11da0, 0x16a60, 0x16ac0, 0x16b50,
    0x1d7ce, 0x1d7d8, 0x1d7e2, 0x1d7ec, 0x1d7f6, 0x1e140, 0x1e2f0, 0x1e950, 0x1fbf0,
];

/// The value of a Unicode decimal digit (`unicodedata.decimal`), as `\d` in Python's `re`
/// and `int()` see it.
pub fn decimal(c: char) -> Option<u32> {
    let code = u32::from(c);
    DIGIT_ZEROS
        .iter()
        .find(|&&zero| (zero..zero + 10).contains(&code))
        .map(|zero| code - zero)
}

/// `str.isspace()`: Rust's `White_Space` plus the four ASCII separators U+001C..U+001F,
/// which Python counts as whitespace and Unicode does not.
pub fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// The most decimal digits Python 3.11 converts between `int` and `str`
/// (`sys.get_int_max_str_digits()`); bases that are powers of two have no limit.
pub const MAX_STR_DIGITS: usize = 4300;

/// Why `int()` raises `ValueError`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IntError {
    /// Not a number in the base: `invalid literal for int() with base ...`.
    Invalid,
    /// A decimal of more than `MAX_STR_DIGITS` digits (this many).
    TooManyDigits(usize),
}

impl IntError {
    /// Python's message for it, `text` being the literal as given.
    pub fn message(&self, text: &str, base: u32) -> String {
        match self {
            // CPython formats the literal with `%.200R`: its repr, cut at 200 characters.
            Self::Invalid => format!(
                "invalid literal for int() with base {base}: {}",
                super::pystr::repr(text)
                    .chars()
                    .take(200)
                    .collect::<String>()
            ),
            Self::TooManyDigits(n) => format!(
                "Exceeds the limit ({MAX_STR_DIGITS} digits) for integer string conversion: value has {n} digits; use sys.set_int_max_str_digits() to increase the limit"
            ),
        }
    }
}

/// What `str(n)` raises for an int of more than `MAX_STR_DIGITS` decimal digits (`digits`
/// in canonical form), as gunicorn's messages that format the value do.
pub fn str_limit(digits: &str) -> Option<String> {
    (digits.trim_start_matches('-').len() > MAX_STR_DIGITS).then(|| {
        format!(
            "Exceeds the limit ({MAX_STR_DIGITS} digits) for integer string conversion; use sys.set_int_max_str_digits() to increase the limit"
        )
    })
}

/// `digits` (canonical decimal) written so that `int(text, 0)` reads it back: as it is,
/// or in hex when Python would refuse that many decimal digits.
pub fn literal(digits: &str) -> String {
    let (sign, magnitude) = match digits.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", digits),
    };
    if magnitude.len() <= MAX_STR_DIGITS {
        return digits.to_owned();
    }
    // Little-endian limbs of 32 bits, fed nine decimal digits at a time.
    let mut limbs: Vec<u64> = vec![0];
    for chunk in magnitude.as_bytes().chunks(9) {
        let scale = 10u64.pow(u32::try_from(chunk.len()).unwrap_or(9));
        let mut carry = chunk
            .iter()
            .fold(0u64, |n, &d| n * 10 + u64::from(d.wrapping_sub(b'0')));
        for limb in &mut limbs {
            let v = *limb * scale + carry;
            *limb = v & 0xffff_ffff;
            carry = v >> 32;
        }
        while carry > 0 {
            limbs.push(carry & 0xffff_ffff);
            carry >>= 32;
        }
    }
    let mut hex = format!("{sign}0x{:x}", limbs.last().copied().unwrap_or(0));
    for limb in limbs.iter().rev().skip(1) {
        hex.push_str(&format!("{limb:08x}"));
    }
    hex
}

/// `int(text)`: the canonical decimal form of the value, or `None` where Python raises
/// `ValueError`.
pub fn int(text: &str) -> Option<String> {
    parse(text, 10).ok()
}

/// `int(text, 0)`: the prefix decides the base; a decimal may not start with 0.
pub fn int_base0(text: &str) -> Result<String, IntError> {
    parse(text, 0)
}

/// gunicorn's `auto_int`: `0<digit>...` is octal (the Python 2 spelling), otherwise
/// `int(text, 0)` (`0x`, `0o`, `0b` prefixes; a decimal may not start with 0).
pub fn auto_int(text: &str) -> Option<String> {
    let mut chars = text.chars();
    if chars.next() == Some('0') && chars.next().and_then(decimal).is_some() {
        return parse(&format!("0o{}", &text[1..]), 0).ok();
    }
    parse(text, 0).ok()
}

/// `int(text, base)` for base 10 and base 0 (prefix decides).
fn parse(text: &str, base: u32) -> Result<String, IntError> {
    let invalid = IntError::Invalid;
    let text = text.trim_matches(is_space);
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let lower: String = rest
        .chars()
        .take(2)
        .collect::<String>()
        .to_ascii_lowercase();
    let (radix, digits, after_prefix) = if base == 0 {
        match lower.as_str() {
            "0x" => (16, &rest[2..], true),
            "0o" => (8, &rest[2..], true),
            "0b" => (2, &rest[2..], true),
            _ => (10, rest, false),
        }
    } else {
        (10, rest, false)
    };
    // After a prefix one underscore may come first (`0x_ff`); otherwise only between digits.
    let digits = if after_prefix {
        digits.strip_prefix('_').unwrap_or(digits)
    } else {
        digits
    };
    let mut values = Vec::new();
    let mut last_underscore = true;
    for c in digits.chars() {
        if c == '_' {
            if last_underscore {
                return Err(invalid);
            }
            last_underscore = true;
            continue;
        }
        let value = decimal(c).or_else(|| {
            // Letters are digits above 9 only in base 16 (and only ASCII ones).
            c.is_ascii_alphabetic()
                .then(|| c.to_ascii_lowercase() as u32 - 'a' as u32 + 10)
        });
        let Some(value) = value else {
            return Err(invalid);
        };
        if value >= radix {
            return Err(invalid);
        }
        values.push(value);
        last_underscore = false;
    }
    if values.is_empty() || last_underscore {
        return Err(invalid);
    }
    // Base 0 refuses a decimal with a leading zero unless the whole number is zero.
    if base == 0 && !after_prefix && values[0] == 0 && values.iter().any(|&v| v != 0) {
        return Err(invalid);
    }
    if radix == 10 && values.len() > MAX_STR_DIGITS {
        return Err(IntError::TooManyDigits(values.len()));
    }
    let magnitude = to_decimal(&values, radix);
    Ok(if negative && magnitude != "0" {
        format!("-{magnitude}")
    } else {
        magnitude
    })
}

/// Digits in `radix` to a decimal string, with no size limit (Python ints have none).
/// Digits are taken several at a time (seven hex digits, 28 bits) so that the 100,000
/// hex digits an environment string can hold convert in a fraction of a second.
fn to_decimal(digits: &[u32], radix: u32) -> String {
    const LIMB: u64 = 1_000_000_000;
    // The most digits whose value stays below 2^28, so limb * scale + carry fits in a u64.
    let per_chunk = (1..=28u32)
        .take_while(|k| u64::from(radix).pow(*k) <= 1 << 28)
        .last()
        .unwrap_or(1);
    // Little-endian limbs of nine decimal digits each.
    let mut limbs: Vec<u64> = vec![0];
    for chunk in digits.chunks(per_chunk as usize) {
        let scale = u64::from(radix).pow(u32::try_from(chunk.len()).unwrap_or(per_chunk));
        let mut carry = chunk
            .iter()
            .fold(0u64, |n, &d| n * u64::from(radix) + u64::from(d));
        for limb in &mut limbs {
            let v = *limb * scale + carry;
            *limb = v % LIMB;
            carry = v / LIMB;
        }
        while carry > 0 {
            limbs.push(carry % LIMB);
            carry /= LIMB;
        }
    }
    let mut out = limbs.last().copied().unwrap_or(0).to_string();
    for limb in limbs.iter().rev().skip(1) {
        out.push_str(&format!("{limb:09}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::ops::Add;

    use super::{auto_int, int};

    #[test]
    fn int_follows_python() {
        assert_eq!(int(" 3\t").as_deref(), Some("3"));
        assert_eq!(int("+007").as_deref(), Some("7"));
        assert_eq!(int("-0").as_deref(), Some("0"));
        assert_eq!(int("1_000").as_deref(), Some("1000"));
        assert_eq!(int("\u{ff13}").as_deref(), Some("3"));
        assert_eq!(int("\u{663}\u{660}").as_deref(), Some("30"));
        assert_eq!(
            int("123456789012345678901234567890").as_deref(),
            Some("123456789012345678901234567890")
        );
        for bad in [
            "", " ", "1__0", "_1", "1_", "0x10", "3.0", "- 3", "1e3", "３x",
        ] {
            assert_eq!(int(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn auto_int_follows_gunicorn() {
        assert_eq!(auto_int("022").as_deref(), Some("18"));
        assert_eq!(auto_int("0o22").as_deref(), Some("18"));
        assert_eq!(auto_int("0x_1F").as_deref(), Some("31"));
        assert_eq!(auto_int("0b101").as_deref(), Some("5"));
        assert_eq!(auto_int("0").as_deref(), Some("0"));
        assert_eq!(auto_int("00").as_deref(), Some("0"));
        assert_eq!(auto_int("18").as_deref(), Some("18"));
        for bad in ["08", " 010", "-010", "0x", "0o8", "abc"] {
            assert_eq!(auto_int(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn decimals_stop_at_pythons_digit_limit_and_hex_does_not() {
        assert_eq!(int(&"1".repeat(4300)).map(|d| d.len()), Some(4300));
        assert_eq!(int(&"1".repeat(4301)), None);
        assert_eq!(
            super::int_base0(&"1_".repeat(4300).add("1")),
            Err(super::IntError::TooManyDigits(4301))
        );
        assert_eq!(
            auto_int("0xffffffffffffffffffffffffffffffff").as_deref(),
            Some("340282366920938463463374607431768211455")
        );
        assert_eq!(
            auto_int(&format!("0x{}", "f".repeat(4000))).map(|d| d.len()),
            Some(4817)
        );
    }
}

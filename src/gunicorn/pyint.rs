//! Python's `int()` and gunicorn's `auto_int`, the two conversions argparse applies to
//! gunicorn's numeric flags before anything else sees them.
//!
//! They decide whether `--workers ' 3 '`, `--workers 1_0`, `--workers ３` (a full-width
//! digit) or `--umask 0o22` get past argparse, so they follow `CPython`'s rules exactly:
//! Unicode decimal digits count, surrounding whitespace is dropped, one `_` may sit
//! between digits, and the result has no size limit.

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

/// `int(text)`: the canonical decimal form of the value, or `None` where Python raises
/// `ValueError`.
pub fn int(text: &str) -> Option<String> {
    parse(text, 10)
}

/// `int(text, 0)`: the prefix decides the base; a decimal may not start with 0.
pub fn int_base0(text: &str) -> Option<String> {
    parse(text, 0)
}

/// gunicorn's `auto_int`: `0<digit>...` is octal (the Python 2 spelling), otherwise
/// `int(text, 0)` (`0x`, `0o`, `0b` prefixes; a decimal may not start with 0).
pub fn auto_int(text: &str) -> Option<String> {
    let mut chars = text.chars();
    if chars.next() == Some('0') && chars.next().and_then(decimal).is_some() {
        return parse(&format!("0o{}", &text[1..]), 0);
    }
    parse(text, 0)
}

/// `int(text, base)` for base 10 and base 0 (prefix decides).
fn parse(text: &str, base: u32) -> Option<String> {
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
                return None;
            }
            last_underscore = true;
            continue;
        }
        let value = decimal(c).or_else(|| {
            // Letters are digits above 9 only in base 16 (and only ASCII ones).
            c.is_ascii_alphabetic()
                .then(|| c.to_ascii_lowercase() as u32 - 'a' as u32 + 10)
        })?;
        if value >= radix {
            return None;
        }
        values.push(value);
        last_underscore = false;
    }
    if values.is_empty() || last_underscore {
        return None;
    }
    // Base 0 refuses a decimal with a leading zero unless the whole number is zero.
    if base == 0 && !after_prefix && values[0] == 0 && values.iter().any(|&v| v != 0) {
        return None;
    }
    let magnitude = to_decimal(&values, radix);
    Some(if negative && magnitude != "0" {
        format!("-{magnitude}")
    } else {
        magnitude
    })
}

/// Digits in `radix` to a decimal string, with no size limit (Python ints have none).
fn to_decimal(digits: &[u32], radix: u32) -> String {
    const LIMB: u64 = 1_000_000_000;
    // Little-endian limbs of nine decimal digits each.
    let mut limbs: Vec<u64> = vec![0];
    for &d in digits {
        let mut carry = u64::from(d);
        for limb in &mut limbs {
            let v = *limb * u64::from(radix) + carry;
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
}

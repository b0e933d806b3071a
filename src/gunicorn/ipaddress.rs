//! Python's `ipaddress.ip_network(text)` in strict mode, which gunicorn runs on every
//! entry of `--forwarded-allow-ips`, `--proxy-allow-from` and `--uwsgi-allow-from`.
//!
//! Only the verdict and the message matter (gunicorn keeps the text as given), so this
//! answers `Err` with the exact text Python raises: `'x' does not appear to be an IPv4 or
//! IPv6 network`, or `10.0.0.1/24 has host bits set` (the address as Python prints it,
//! after a dotted netmask or hostmask is turned into a prefix length).

use super::pystr::repr;

/// `ipaddress.ip_network(text)`: `Ok` when Python accepts it.
pub fn ip_network(text: &str) -> Result<(), String> {
    match v4_network(text).or_else(|| v6_network(text)) {
        Some(Ok(())) => Ok(()),
        Some(Err(shown)) => Err(format!("{shown} has host bits set")),
        None => Err(format!(
            "{} does not appear to be an IPv4 or IPv6 network",
            repr(text)
        )),
    }
}

/// `_split_addr_prefix`: the address and the text after the one `/`, if any.
fn split_prefix(text: &str) -> Option<(&str, Option<&str>)> {
    let mut parts = text.split('/');
    let addr = parts.next()?;
    let prefix = parts.next();
    parts.next().is_none().then_some((addr, prefix))
}

/// `IPv4Network(text)`: `None` when Python raises `AddressValueError` or
/// `NetmaskValueError` (so `ip_network` goes on to IPv6); `Some(Err(shown))` when the
/// host bits are set.
fn v4_network(text: &str) -> Option<Result<(), String>> {
    let (addr, mask) = split_prefix(text)?;
    let ip = v4_address(addr)?;
    let prefix = match mask {
        None => 32,
        Some(mask) => prefix_length(mask, 32).or_else(|| v4_mask(mask))?,
    };
    let netmask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    if ip & netmask == ip {
        return Some(Ok(()));
    }
    let [a, b, c, d] = ip.to_be_bytes();
    Some(Err(format!("{a}.{b}.{c}.{d}/{prefix}")))
}

/// `IPv4Address(text)`: four dot-separated decimal octets, no leading zeros.
fn v4_address(text: &str) -> Option<u32> {
    let octets: Vec<&str> = text.split('.').collect();
    if octets.len() != 4 {
        return None;
    }
    let mut ip = 0u32;
    for octet in octets {
        if octet.is_empty()
            || octet.len() > 3
            || !octet.bytes().all(|b| b.is_ascii_digit())
            || (octet != "0" && octet.starts_with('0'))
        {
            return None;
        }
        let value: u32 = octet.parse().ok()?;
        if value > 255 {
            return None;
        }
        ip = (ip << 8) | value;
    }
    Some(ip)
}

/// `_prefix_from_prefix_string`: ASCII digits, leading zeros allowed, at most `max`.
fn prefix_length(text: &str, max: u32) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = text.trim_start_matches('0');
    if digits.len() > 3 {
        return None;
    }
    let value: u32 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    (value <= max).then_some(value)
}

/// `_prefix_from_ip_string`: a dotted netmask (`255.255.0.0`) or hostmask (`0.0.255.255`).
fn v4_mask(text: &str) -> Option<u32> {
    let ip = v4_address(text)?;
    contiguous(ip).or_else(|| contiguous(!ip))
}

/// `_prefix_from_ip_int`: the prefix length of a mask of leading ones, if it is one.
fn contiguous(mask: u32) -> Option<u32> {
    let prefix = mask.leading_ones();
    (mask.checked_shl(prefix).unwrap_or(0) == 0).then_some(prefix)
}

/// `IPv6Network(text)`, answering like `v4_network`.
fn v6_network(text: &str) -> Option<Result<(), String>> {
    let (addr, mask) = split_prefix(text)?;
    let (addr, scope) = match addr.split_once('%') {
        None => (addr, None),
        Some((_, scope)) if scope.is_empty() || scope.contains('%') => return None,
        Some((addr, scope)) => (addr, Some(scope)),
    };
    let ip = v6_address(addr)?;
    let prefix = match mask {
        None => 128,
        Some(mask) => prefix_length(mask, 128)?,
    };
    let netmask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    if ip & netmask == ip {
        return Some(Ok(()));
    }
    let scope = scope.map(|s| format!("%{s}")).unwrap_or_default();
    Some(Err(format!("{}{scope}/{prefix}", compressed(ip))))
}

/// `IPv6Address._ip_int_from_string`.
fn v6_address(text: &str) -> Option<u128> {
    if text.is_empty() {
        return None;
    }
    let mut parts: Vec<String> = text.split(':').map(str::to_owned).collect();
    if parts.len() < 3 {
        return None;
    }
    if parts.last().is_some_and(|p| p.contains('.')) {
        let v4 = v4_address(&parts.pop()?)?;
        parts.push(format!("{:x}", v4 >> 16));
        parts.push(format!("{:x}", v4 & 0xffff));
    }
    if parts.len() > 9 {
        return None;
    }
    let mut skip = None;
    for (i, part) in parts.iter().enumerate().take(parts.len() - 1).skip(1) {
        if part.is_empty() {
            if skip.is_some() {
                return None;
            }
            skip = Some(i);
        }
    }
    let (mut hi, mut lo, skipped) = if let Some(at) = skip {
        let mut hi = at;
        let mut lo = parts.len() - at - 1;
        if parts[0].is_empty() {
            hi -= 1;
            if hi > 0 {
                return None;
            }
        }
        if parts[parts.len() - 1].is_empty() {
            lo -= 1;
            if lo > 0 {
                return None;
            }
        }
        let skipped = 8usize.checked_sub(hi + lo).filter(|s| *s >= 1)?;
        (hi, lo, skipped)
    } else {
        if parts.len() != 8 || parts[0].is_empty() || parts[7].is_empty() {
            return None;
        }
        (8, 0, 0)
    };
    let mut ip: u128 = 0;
    let hextet = |p: &str| -> Option<u128> {
        if p.is_empty() || p.len() > 4 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u128::from_str_radix(p, 16).ok()
    };
    let mut i = 0;
    while hi > 0 {
        ip = (ip << 16) | hextet(&parts[i])?;
        i += 1;
        hi -= 1;
    }
    ip = ip
        .checked_shl(16 * u32::try_from(skipped).ok()?)
        .unwrap_or(0);
    let n = parts.len();
    while lo > 0 {
        ip = (ip << 16) | hextet(&parts[n - lo])?;
        lo -= 1;
    }
    Some(ip)
}

/// `IPv6Address.compressed` (Python prints an IPv4-mapped address in hex, `::ffff:102:304`).
fn compressed(ip: u128) -> String {
    let hextets: Vec<u16> = (0..8)
        .map(|i| u16::try_from((ip >> (112 - 16 * i)) & 0xffff).unwrap_or(0))
        .collect();
    // The longest run of two or more zero hextets, the first of equals.
    let (mut best, mut best_len, mut start, mut len) = (0, 0, 0, 0);
    for (i, h) in hextets.iter().enumerate() {
        if *h == 0 {
            if len == 0 {
                start = i;
            }
            len += 1;
            if len > best_len {
                best = start;
                best_len = len;
            }
        } else {
            len = 0;
        }
    }
    let hex = |hs: &[u16]| {
        hs.iter()
            .map(|h| format!("{h:x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    if best_len < 2 {
        return hex(&hextets);
    }
    format!(
        "{}::{}",
        hex(&hextets[..best]),
        hex(&hextets[best + best_len..])
    )
}

#[cfg(test)]
mod tests {
    use super::ip_network;

    #[test]
    fn follows_python() {
        for ok in [
            "10.0.0.0/8",
            "1.2.3.4",
            "0.0.0.0/0",
            "10.0.0.0/255.0.0.0",
            "10.0.0.0/0.255.255.255",
            "10.0.0.0/008",
            "::",
            "::1",
            "fd00::/8",
            "::ffff:1.2.3.4",
            "fe80::%eth0/64",
            "1:2:3:4:5:6:7:8",
        ] {
            assert_eq!(ip_network(ok), Ok(()), "{ok}");
        }
        let host_bits = |t: &str| ip_network(t).unwrap_err();
        assert_eq!(host_bits("1.2.3.4/24"), "1.2.3.4/24 has host bits set");
        assert_eq!(
            host_bits("10.0.0.1/0.0.0.255"),
            "10.0.0.1/24 has host bits set"
        );
        assert_eq!(
            host_bits("::ffff:1.2.3.4/96"),
            "::ffff:102:304/96 has host bits set"
        );
        assert_eq!(
            host_bits("fe80::1%eth0/64"),
            "fe80::1%eth0/64 has host bits set"
        );
        assert_eq!(
            host_bits("1:0:0:2:0:0:0:3/64"),
            "1:0:0:2::3/64 has host bits set"
        );
        for bad in [
            "",
            "01.2.3.4",
            "1.2.3",
            "256.0.0.0",
            "10.0.0.0/33",
            "10.0.0.0/255.0.255.0",
            "a/b/c",
            ":::",
            "1::2::3",
            "fe80::1%",
            "example.com",
            "10.0.0.0/ 8",
        ] {
            assert!(
                ip_network(bad)
                    .unwrap_err()
                    .ends_with("does not appear to be an IPv4 or IPv6 network"),
                "{bad}"
            );
        }
    }
}

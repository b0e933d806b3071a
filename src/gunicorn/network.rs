//! The addresses gunicorn takes in `forwarded_allow_ips`: an IP address or a network, as its
//! validator reads them. Both the spec and `explain` check entries with it.

/// An IP address, or a network whose host bits are zero (gunicorn rejects `192.168.1.1/24`).
pub fn check(text: &str) -> Result<(), &'static str> {
    use std::net::IpAddr;
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let ip: IpAddr = addr.parse().map_err(|_| "is not an IP address")?;
    let Some(prefix) = prefix else { return Ok(()) };
    let bits: u32 = prefix
        .parse()
        .map_err(|_| "has a prefix length that is not a number")?;
    let (max, value): (u32, u128) = match ip {
        IpAddr::V4(v4) => (32, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (128, u128::from(v6)),
    };
    if bits > max {
        return Err("has a prefix length longer than the address");
    }
    let host_bits = max - bits;
    let host_mask = if host_bits == 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    };
    if value & host_mask != 0 {
        return Err("has host bits set; gunicorn refuses it");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn networks_follow_gunicorn() {
        assert!(check("10.0.0.0/8").is_ok());
        assert!(check("192.168.1.7").is_ok());
        assert!(check("fd00::/8").is_ok());
        assert!(check("0.0.0.0/0").is_ok());
        assert_eq!(
            check("192.168.1.1/24"),
            Err("has host bits set; gunicorn refuses it")
        );
        assert!(check("10.0.0.0/33").is_err());
        assert!(check("example.com").is_err());
    }
}

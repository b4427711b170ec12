//! Addresses: which link a STUN binding request is for (by its USERNAME's ufrag), and which
//! host addresses a socket advertises.

use super::*;

/// The ufrag a STUN binding request is addressed to: the part of its USERNAME before the
/// colon. `None` for anything else (not STUN, not a request, malformed).
pub fn stun_username_ufrag(data: &[u8]) -> Option<&str> {
    const MAGIC: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
    const BINDING_REQUEST: u16 = 0x0001;
    const USERNAME: u16 = 0x0006;
    if data.len() < 20 || data[4..8] != MAGIC {
        return None;
    }
    if u16::from_be_bytes([data[0], data[1]]) != BINDING_REQUEST {
        return None;
    }
    let len = u16::from_be_bytes([data[2], data[3]]) as usize;
    let body = data.get(20..20 + len)?;
    let mut at = 0;
    while at + 4 <= body.len() {
        let typ = u16::from_be_bytes([body[at], body[at + 1]]);
        let alen = u16::from_be_bytes([body[at + 2], body[at + 3]]) as usize;
        let value = body.get(at + 4..at + 4 + alen)?;
        if typ == USERNAME {
            let user = std::str::from_utf8(value).ok()?;
            let (ours, _) = user.split_once(':')?;
            return (!ours.is_empty()).then_some(ours);
        }
        at += 4 + alen.div_ceil(4) * 4;
    }
    None
}

/// Whether `data` is a STUN binding success response (what an ICE agent sends only to a
/// request whose integrity it checked).
pub(super) fn is_binding_success(data: &[u8]) -> bool {
    data.len() >= 20 && data[0..2] == [0x01, 0x01] && data[4..8] == [0x21, 0x12, 0xA4, 0x42]
}

/// The addresses to advertise for a socket bound to `local`: itself, or on a wildcard every
/// usable interface of its family (as webrtc does: no loopback, no link-local).
pub(super) fn host_addresses(local: SocketAddr) -> Vec<SocketAddr> {
    if !local.ip().is_unspecified() {
        return vec![local];
    }
    let mut out = Vec::new();
    if let Ok(ifaces) = rtc::shared::ifaces::ifaces() {
        for i in ifaces {
            let Some(a) = i.addr else { continue };
            let ip = a.ip();
            let link_local = match ip {
                IpAddr::V4(v4) => v4.is_link_local(),
                IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
            };
            if ip.is_ipv4() != local.is_ipv4()
                || ip.is_loopback()
                || ip.is_unspecified()
                || link_local
            {
                continue;
            }
            let a = SocketAddr::new(ip, local.port());
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

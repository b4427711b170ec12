//! External TURN servers (coturn with `use-auth-secret`, or any server that checks TURN REST
//! credentials) that the rendezvous hands out besides its own TURN, or instead of it.
//!
//! Owns their description ([`ExternalTurn`]: URLs and the shared secret), the checks on a
//! configured URL and on the secret's file, and the credentials handed out for them. The
//! scheme is the TURN REST one coturn checks: username `"<expiry>:<room>-<player>"`, password
//! `base64(HMAC-SHA1(secret, username))`, where the expiry is the room's own (its join secret
//! and the built-in TURN's credentials run out then too) and the player is `host` or the
//! joiner's peer number. A credential is good for one room's one player: coturn's logs and
//! quotas (`user-quota`) then tell players apart, and a leaked credential names whose it was.
//!
//! Unlike the built-in TURN's, these credentials cannot be withdrawn when their room ends:
//! the external server knows nothing of rooms, so they stay good until their expiry (the
//! room's credential lifetime, [`super::Limits::credential_ttl`]).
//!
//! The secret is the external server's `static-auth-secret`, read from a file that others may
//! not read (never from the command line, never logged: [`Secret`]'s `Debug` hides it).

use std::path::Path;

use crate::signaling::IceServer;

/// The shared secret of an external TURN server. Its `Debug` shows no byte of it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// A secret from its bytes (coturn keys the HMAC with `static-auth-secret`'s bytes as
    /// written).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Secret {
        Secret(bytes.into())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// An external TURN server: its URLs and the secret its credentials are signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalTurn {
    pub urls: Vec<String>,
    pub secret: Secret,
}

impl ExternalTurn {
    /// The ICE server entry for `player` (0: the host; a joiner's peer number) of `room`,
    /// good until `expires` (unix seconds).
    pub fn ice_server(&self, room: &str, player: u32, expires: u64) -> IceServer {
        let username = username(room, player, expires);
        IceServer {
            urls: self.urls.clone(),
            credential: super::turn::turn_password(&self.secret.0, &username),
            username,
        }
    }
}

/// The TURN REST username of `player` (0: the host) in `room`, good until `expires`.
pub fn username(room: &str, player: u32, expires: u64) -> String {
    match player {
        0 => format!("{expires}:{room}-host"),
        n => format!("{expires}:{room}-{n}"),
    }
}

/// Why a configured URL or secret file is no good; one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExternalTurnError(String);

/// Checks an external TURN URL (RFC 7065): `turn:` or `turns:`, a host (a name, an IPv4
/// address or a bracketed IPv6 one), an optional port, an optional `?transport=udp|tcp`.
pub fn check_url(url: &str) -> Result<(), ExternalTurnError> {
    let bad = |why: &str| Err(ExternalTurnError(format!("{url:?}: {why}")));
    let Some(rest) = url
        .strip_prefix("turn:")
        .or_else(|| url.strip_prefix("turns:"))
    else {
        return bad("not a turn: or turns: URL (e.g. turn:turn.example.org:3478?transport=udp)");
    };
    let (hostport, query) = match rest.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (rest, None),
    };
    if let Some(q) = query {
        if !matches!(q, "transport=udp" | "transport=tcp") {
            return bad("the only query is ?transport=udp or ?transport=tcp");
        }
    }
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let Some((addr, after)) = v6.split_once(']') else {
            return bad("an IPv6 address without its closing ]");
        };
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return bad("not an IPv6 address in the brackets");
        }
        match after {
            "" => (addr, None),
            p => match p.strip_prefix(':') {
                Some(p) => (addr, Some(p)),
                None => return bad("something after the IPv6 address that is not :PORT"),
            },
        }
    } else {
        match hostport.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == ':');
    if !host_ok {
        return bad("no host name or address");
    }
    if let Some(p) = port {
        if !matches!(p.parse::<u16>(), Ok(1..)) {
            return bad("the port is not 1 to 65535");
        }
    }
    Ok(())
}

/// The secret in `path`: its first line, trimmed. Refused if others may read the file (the
/// secret mints credentials for the relay: anyone who reads it may relay through it), or if
/// it is shorter than 16 characters.
pub fn read_secret_file(path: &Path) -> Result<Secret, ExternalTurnError> {
    let named = |why: String| ExternalTurnError(format!("{}: {why}", path.display()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| named(e.to_string()))?
            .permissions()
            .mode();
        if mode & 0o004 != 0 {
            return Err(named(format!(
                "mode {:o}: anyone may read the secret; chmod o-r it",
                mode & 0o777
            )));
        }
    }
    let text = std::fs::read_to_string(path).map_err(|e| named(e.to_string()))?;
    let secret = text.lines().next().unwrap_or("").trim();
    if secret.len() < 16 {
        return Err(named(
            "too short a secret: use at least 16 characters".into(),
        ));
    }
    Ok(Secret::new(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_per_player_and_signed_as_coturn_checks() {
        let t = ExternalTurn {
            urls: vec!["turn:turn.example.org:3478?transport=udp".into()],
            secret: Secret::new("0123456789abcdef"),
        };
        let host = t.ice_server("abcd234567", 0, 1_900_000_000);
        assert_eq!(host.username, "1900000000:abcd234567-host");
        let joiner = t.ice_server("abcd234567", 3, 1_900_000_000);
        assert_eq!(joiner.username, "1900000000:abcd234567-3");
        assert_eq!(joiner.urls, t.urls);
        // coturn: base64(HMAC-SHA1(static-auth-secret, username)). Checked against
        // `printf %s 1900000000:abcd234567-host | openssl dgst -sha1 -hmac 0123456789abcdef
        // -binary | base64`.
        assert_eq!(host.credential, "S/qFk+fII0hYPKGKTMwoKakwb3c=");
        assert_ne!(host.credential, joiner.credential);
        assert_eq!(format!("{:?}", t.secret), "Secret(..)");
    }

    #[test]
    fn urls_must_be_turn_uris() {
        for good in [
            "turn:turn.example.org",
            "turn:turn.example.org:3478?transport=udp",
            "turns:turn.example.org:5349?transport=tcp",
            "turn:192.0.2.1:3478",
            "turn:[2001:db8::1]:3478",
            "turn:[2001:db8::1]",
        ] {
            assert!(check_url(good).is_ok(), "{good}");
        }
        for (bad, says) in [
            ("stun:turn.example.org", "not a turn:"),
            ("https://turn.example.org", "not a turn:"),
            ("turn.example.org:3478", "not a turn:"),
            ("turn:", "no host"),
            ("turn::3478", "no host"),
            ("turn:turn.example.org:0", "port"),
            ("turn:turn.example.org:99999", "port"),
            ("turn:turn.example.org:x", "port"),
            ("turn:turn.example.org?transport=sctp", "query"),
            ("turn:[2001:db8::1", "closing"),
            ("turn:[nope]:3478", "IPv6"),
            ("turn:a b", "no host"),
        ] {
            let e = check_url(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
            assert_eq!(e.lines().count(), 1);
        }
    }

    #[test]
    fn a_secret_file_others_may_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let path = std::env::temp_dir().join(format!("doomlink-turnrest-{}", std::process::id()));
        std::fs::write(&path, "0123456789abcdef-secret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read_secret_file(&path).unwrap_err().to_string();
        assert!(e.contains("anyone may read") && !e.contains("0123"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(
            read_secret_file(&path).unwrap(),
            Secret::new("0123456789abcdef-secret")
        );
        std::fs::write(&path, "short\n").unwrap();
        let e = read_secret_file(&path).unwrap_err().to_string();
        assert!(e.contains("too short"), "{e}");
        std::fs::remove_file(&path).unwrap();
        let e = read_secret_file(&path).unwrap_err().to_string();
        assert!(e.contains("doomlink-turnrest"), "{e}");
    }
}

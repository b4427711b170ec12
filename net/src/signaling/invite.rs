//! Invite links: everything a joiner needs in one line of chat.
//!
//! Owns the link's two spellings, its parser and its errors:
//!
//! ```text
//! doomlink://join/<rendezvous host:port>/<room>?fp=<fingerprint>&exp=<unix time>[&tls=1]#<secret>
//! http[s]://<rendezvous host:port>/join/<room>?fp=<fingerprint>&exp=<unix time>#<secret>
//! ```
//!
//! - the rendezvous: a DNS name, an IPv4 address or a bracketed IPv6 address, and a port;
//! - the room id the rendezvous gave the host;
//! - `fp`: the host's DTLS certificate fingerprint (SHA-256, base64url, 43 characters). The
//!   joiner refuses a connection whose certificate differs, so the rendezvous relaying the SDP
//!   cannot sit in the middle;
//! - `exp`: when the room's join credentials run out (the rendezvous says), so a stale link is
//!   refused before anything is sent;
//! - whether the rendezvous speaks TLS (`wss://` signaling, certificate verified): `tls=1` in the
//!   `doomlink://` form, the `https://` scheme in the web form. Links without it are plain, as
//!   links were before the rendezvous had TLS;
//! - the join secret, in the fragment: browsers never send a fragment to a server, so opening
//!   the http form shows the rendezvous the room id but not the secret.
//!
//! The http form is what the rendezvous serves a small page for (it opens the `doomlink://`
//! form and says how to get doomlink); both parse to the same [`InviteLink`]. About 150
//! characters with a DNS name. A bad link is a one-line [`InviteError`] naming the part at fault.

use std::fmt;
use std::time::Duration;
use web_time::{SystemTime, UNIX_EPOCH};

use super::fingerprint::Fingerprint;

/// The longest link accepted: well over a real one (~200), small enough that parsing junk
/// costs nothing.
pub const MAX_LINK_LEN: usize = 1024;
/// Room ids: 4 to 32 of `[A-Za-z0-9_-]`.
pub const MAX_ROOM_LEN: usize = 32;
/// Join secrets: 16 to 64 base64url characters.
pub const MAX_SECRET_LEN: usize = 64;

/// A parsed invite link.
#[derive(Clone, PartialEq, Eq)]
pub struct InviteLink {
    /// `host:port` of the rendezvous (IPv6 in brackets).
    pub rendezvous: String,
    pub room: String,
    /// The join secret.
    pub secret: String,
    /// The host's DTLS certificate fingerprint.
    pub fingerprint: Fingerprint,
    /// Unix time after which the link is no good; `None` if the link does not say.
    pub expires: Option<u64>,
    /// The rendezvous speaks TLS: signaling goes over `wss://` and its certificate is checked.
    pub tls: bool,
}

impl fmt::Debug for InviteLink {
    // The secret stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InviteLink")
            .field("rendezvous", &self.rendezvous)
            .field("room", &self.room)
            .field("fingerprint", &self.fingerprint)
            .field("expires", &self.expires)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// Why a link is no good: each names the part at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InviteError {
    #[error("invite link is {0} characters long, more than any real link")]
    TooLong(usize),
    #[error("invite link must start with doomlink://join/ or http(s)://<rendezvous>/join/")]
    Scheme,
    #[error("invite link's rendezvous address {0:?} is not host:port")]
    Rendezvous(String),
    #[error("invite link has no room id")]
    MissingRoom,
    #[error("invite link's room id {0:?} is not 4-32 letters, digits, - or _")]
    Room(String),
    #[error("invite link has no secret (the part after #)")]
    MissingSecret,
    #[error("invite link's secret is not 16-64 base64url characters")]
    Secret,
    #[error("invite link has no fingerprint (fp=)")]
    MissingFingerprint,
    #[error("invite link's fingerprint (fp=) is not 43 base64url characters")]
    Fingerprint,
    #[error("invite link's expiry (exp=) {0:?} is not a unix time")]
    Expiry(String),
    #[error("invite link expired {0} ago; ask the host for a new one")]
    Expired(HumanDuration),
    #[error("invite link has an unexpected part {0:?}")]
    Extra(String),
    #[error("invite link's tls= {0:?} is not 1")]
    Tls(String),
    #[error("invite link's tls=1 contradicts its http:// scheme")]
    TlsScheme,
}

/// A duration printed for people ("3 min", "2 h").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.as_secs();
        match s {
            0..=119 => write!(f, "{s} s"),
            120..=7199 => write!(f, "{} min", s / 60),
            7200..=172_799 => write!(f, "{} h", s / 3600),
            _ => write!(f, "{} days", s / 86400),
        }
    }
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(crate) fn valid_room(s: &str) -> bool {
    (4..=MAX_ROOM_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub(crate) fn valid_secret(s: &str) -> bool {
    (16..=MAX_SECRET_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `host:port` with a DNS name, IPv4 or `[IPv6]` host and a non-zero port.
pub fn valid_host_port(s: &str) -> bool {
    if s.is_empty() || s.len() > 260 {
        return false;
    }
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let Some((v6, port)) = rest.split_once("]:") else {
            return false;
        };
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return false;
        }
        (None, port)
    } else {
        let Some((host, port)) = s.rsplit_once(':') else {
            return false;
        };
        (Some(host), port)
    };
    if !matches!(port.parse::<u16>(), Ok(p) if p != 0) || port.starts_with('+') {
        return false;
    }
    match host {
        None => true,
        Some(h) => {
            !h.is_empty()
                && h.len() <= 253
                && h.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
        }
    }
}

impl InviteLink {
    /// The `doomlink://` form.
    pub fn to_doomlink_url(&self) -> String {
        format!(
            "doomlink://join/{}/{}?{}#{}",
            self.rendezvous,
            self.room,
            self.doomlink_query(),
            self.secret
        )
    }

    /// The web form served by the rendezvous: `https` if it speaks TLS (`self.tls`) or sits
    /// behind a TLS proxy (`https`), which makes the link parse as TLS.
    pub fn to_web_url(&self, https: bool) -> String {
        format!(
            "{}://{}/join/{}?{}#{}",
            if https || self.tls { "https" } else { "http" },
            self.rendezvous,
            self.room,
            self.query(),
            self.secret
        )
    }

    /// The web form's query; the `doomlink://` form adds `tls=1` (the web form says it in
    /// its scheme).
    fn query(&self) -> String {
        match self.expires {
            Some(e) => format!("fp={}&exp={e}", self.fingerprint.to_base64url()),
            None => format!("fp={}", self.fingerprint.to_base64url()),
        }
    }

    fn doomlink_query(&self) -> String {
        let q = self.query();
        if self.tls {
            q + "&tls=1"
        } else {
            q
        }
    }

    /// Parses either form, and refuses an expired link.
    pub fn parse(s: &str) -> Result<Self, InviteError> {
        let link = Self::parse_at(s, now_unix())?;
        Ok(link)
    }

    /// [`InviteLink::parse`] as if it were `now` (unix seconds).
    pub fn parse_at(s: &str, now: u64) -> Result<Self, InviteError> {
        let s = s.trim();
        if s.len() > MAX_LINK_LEN {
            return Err(InviteError::TooLong(s.len()));
        }
        // The scheme's word on TLS: None in the doomlink form (its query says).
        let (rendezvous, rest, scheme_tls) =
            if let Some(rest) = strip_prefix_ci(s, "doomlink://join/") {
                let (host, path) = rest.split_once('/').ok_or(InviteError::MissingRoom)?;
                (host, path, None)
            } else {
                let (rest, tls) = match strip_prefix_ci(s, "https://") {
                    Some(r) => (r, true),
                    None => (
                        strip_prefix_ci(s, "http://").ok_or(InviteError::Scheme)?,
                        false,
                    ),
                };
                let (host, path) = rest.split_once('/').ok_or(InviteError::Scheme)?;
                let path = path.strip_prefix("join/").ok_or(InviteError::Scheme)?;
                (host, path, Some(tls))
            };
        if !valid_host_port(rendezvous) {
            return Err(InviteError::Rendezvous(clip(rendezvous)));
        }
        let (rest, secret) = match rest.split_once('#') {
            Some((r, sec)) => (r, Some(sec)),
            None => (rest, None),
        };
        let (room, query) = match rest.split_once('?') {
            Some((r, q)) => (r, q),
            None => (rest, ""),
        };
        let room = room.strip_suffix('/').unwrap_or(room);
        if room.is_empty() {
            return Err(InviteError::MissingRoom);
        }
        if !valid_room(room) {
            return Err(InviteError::Room(clip(room)));
        }
        let mut fp = None;
        let mut exp = None;
        let mut query_tls = None;
        for kv in query.split('&').filter(|kv| !kv.is_empty()) {
            match kv.split_once('=') {
                Some(("fp", v)) => {
                    fp = Some(Fingerprint::from_base64url(v).map_err(|_| InviteError::Fingerprint)?)
                }
                Some(("exp", v)) => {
                    exp = Some(
                        v.parse::<u64>()
                            .ok()
                            .filter(|_| v.bytes().all(|b| b.is_ascii_digit()))
                            .ok_or_else(|| InviteError::Expiry(clip(v)))?,
                    )
                }
                Some(("tls", v)) if query_tls.is_none() => {
                    if v != "1" {
                        return Err(InviteError::Tls(clip(v)));
                    }
                    query_tls = Some(true);
                }
                _ => return Err(InviteError::Extra(clip(kv))),
            }
        }
        let secret = match secret {
            None | Some("") => return Err(InviteError::MissingSecret),
            Some(s) if !valid_secret(s) => return Err(InviteError::Secret),
            Some(s) => s,
        };
        let fingerprint = fp.ok_or(InviteError::MissingFingerprint)?;
        // `https://…?tls=1` says it twice, which is fine; `http://…?tls=1` contradicts itself.
        let tls = match (scheme_tls, query_tls) {
            (Some(false), Some(true)) => return Err(InviteError::TlsScheme),
            (scheme, query) => scheme.unwrap_or(false) || query.unwrap_or(false),
        };
        if let Some(e) = exp {
            if e <= now {
                return Err(InviteError::Expired(HumanDuration(Duration::from_secs(
                    now - e,
                ))));
            }
        }
        Ok(InviteLink {
            rendezvous: rendezvous.to_owned(),
            room: room.to_owned(),
            secret: secret.to_owned(),
            fingerprint,
            expires: exp,
            tls,
        })
    }
}

/// A rendezvous as the settings and the command line name it: `host:port` (plain, as before),
/// or `wss://host:port` / `https://host:port` (TLS); `ws://` and `http://` say plain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RendezvousAddr {
    /// `host:port` (IPv6 in brackets).
    pub host_port: String,
    pub tls: bool,
}

impl RendezvousAddr {
    /// Parses any of the spellings above (a trailing `/` is allowed).
    pub fn parse(s: &str) -> Result<Self, InviteError> {
        let s = s.trim();
        let (rest, tls) = if let Some(r) =
            strip_prefix_ci(s, "wss://").or_else(|| strip_prefix_ci(s, "https://"))
        {
            (r, true)
        } else if let Some(r) =
            strip_prefix_ci(s, "ws://").or_else(|| strip_prefix_ci(s, "http://"))
        {
            (r, false)
        } else {
            (s, false)
        };
        let host_port = rest.strip_suffix('/').unwrap_or(rest);
        if !valid_host_port(host_port) {
            return Err(InviteError::Rendezvous(clip(s)));
        }
        Ok(RendezvousAddr {
            host_port: host_port.to_owned(),
            tls,
        })
    }
}

impl fmt::Display for RendezvousAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.tls {
            write!(f, "wss://{}", self.host_port)
        } else {
            f.write_str(&self.host_port)
        }
    }
}

impl fmt::Display for InviteLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_doomlink_url())
    }
}

impl std::str::FromStr for InviteLink {
    type Err = InviteError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        InviteLink::parse(s)
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// A part of the input quoted in an error, cut so the error stays one short line.
fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link() -> InviteLink {
        InviteLink {
            rendezvous: "play.example.org:8443".into(),
            room: "k3v9x2ab".into(),
            secret: "c2VjcmV0LXNlY3JldC1zZWNy".into(),
            fingerprint: Fingerprint([7; 32]),
            expires: Some(2_000_000_000),
            tls: false,
        }
    }

    #[test]
    fn both_forms_round_trip() {
        let l = link();
        let s = l.to_doomlink_url();
        assert!(s.len() < 160, "{} chars: {s}", s.len());
        assert_eq!(InviteLink::parse_at(&s, 0), Ok(l.clone()));
        assert_eq!(InviteLink::parse_at(&l.to_web_url(false), 0), Ok(l.clone()));
        let v6 = InviteLink {
            rendezvous: "[2001:db8::1]:3479".into(),
            expires: None,
            ..l
        };
        assert_eq!(InviteLink::parse_at(&v6.to_string(), 0), Ok(v6));
    }

    #[test]
    fn tls_rides_in_both_forms() {
        let plain = link();
        // The https form means TLS: the way a link behind a TLS proxy has always been written.
        let web = InviteLink::parse_at(&plain.to_web_url(true), 0).unwrap();
        assert!(web.tls);
        let l = InviteLink {
            tls: true,
            ..link()
        };
        let s = l.to_doomlink_url();
        assert!(s.contains("&tls=1#"), "{s}");
        assert_eq!(InviteLink::parse_at(&s, 0), Ok(l.clone()));
        assert!(l.to_web_url(false).starts_with("https://"));
        assert_eq!(InviteLink::parse_at(&l.to_web_url(false), 0), Ok(l.clone()));
        // Saying it twice is fine.
        let both = l.to_web_url(false).replace("#", "&tls=1#");
        assert_eq!(InviteLink::parse_at(&both, 0), Ok(l.clone()));
        // A link from before TLS parses as before: plain.
        let old = plain.to_doomlink_url();
        assert!(!old.contains("tls"));
        assert!(!InviteLink::parse_at(&old, 0).unwrap().tls);
    }

    #[test]
    fn a_bad_tls_part_is_named() {
        let good = InviteLink {
            tls: true,
            ..link()
        }
        .to_doomlink_url();
        for (input, word) in [
            (good.replace("tls=1", "tls=0"), "tls="),
            (good.replace("tls=1", "tls=yes"), "tls="),
            (good.replace("tls=1", "tls="), "tls="),
            (good.replace("tls=1", "tls=1&tls=1"), "unexpected"),
            (good.replace("tls=1", "tls"), "unexpected"),
            (
                link().to_web_url(false).replace("#", "&tls=1#"),
                "contradicts",
            ),
        ] {
            let e = InviteLink::parse_at(&input, 0).unwrap_err().to_string();
            assert!(e.contains(word), "{input} -> {e}");
            assert!(!e.contains('\n'));
        }
    }

    #[test]
    fn rendezvous_addresses_say_tls_by_scheme() {
        let p = |s: &str| RendezvousAddr::parse(s).map(|a| (a.host_port, a.tls));
        assert_eq!(
            p("rv.example.org:7342"),
            Ok(("rv.example.org:7342".into(), false))
        );
        assert_eq!(
            p(" wss://rv.example.org:443/ "),
            Ok(("rv.example.org:443".into(), true))
        );
        assert_eq!(
            p("HTTPS://127.0.0.1:8443"),
            Ok(("127.0.0.1:8443".into(), true))
        );
        assert_eq!(p("ws://[::1]:7342"), Ok(("[::1]:7342".into(), false)));
        assert_eq!(p("http://h:1"), Ok(("h:1".into(), false)));
        for bad in [
            "",
            "wss://",
            "wss://host",
            "https://h:1/ws",
            "ftp://h:1",
            "wss://h:0",
        ] {
            assert!(RendezvousAddr::parse(bad).is_err(), "{bad}");
        }
        let a = RendezvousAddr::parse("wss://h:1").unwrap();
        assert_eq!(RendezvousAddr::parse(&a.to_string()), Ok(a));
    }

    #[test]
    fn each_bad_part_is_named() {
        let good = link().to_doomlink_url();
        let cases: Vec<(String, &str)> = vec![
            ("ftp://x".into(), "start with"),
            (
                good.replace("play.example.org:8443", "play.example.org"),
                "rendezvous",
            ),
            (good.replace("k3v9x2ab", "k!"), "room id"),
            (
                good.replace(
                    &format!("fp={}", Fingerprint([7; 32]).to_base64url()),
                    "fp=abc",
                ),
                "fingerprint",
            ),
            (good.replace("exp=2000000000", "exp=soon"), "expiry"),
            (good.split('#').next().unwrap().to_owned(), "no secret"),
            (good.replace("#c2VjcmV0", "#c2$"), "secret"),
            (good.replace("exp=", "x=1&exp="), "unexpected"),
        ];
        for (input, word) in cases {
            let e = InviteLink::parse_at(&input, 0).unwrap_err().to_string();
            assert!(e.contains(word), "{input} -> {e}");
            assert!(!e.contains('\n'));
        }
        let e = InviteLink::parse_at(&good, 2_000_000_000 + 600).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invite link expired 10 min ago; ask the host for a new one"
        );
    }
}

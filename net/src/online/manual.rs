//! Manual offer/answer codes: a game without any rendezvous.
//!
//! Owns the compact code format, its strict decoder, and the translation between a code and the
//! SDP webrtc needs. The host prints an offer code, the joiner pastes it and prints an answer
//! code, the host pastes that: two lines of chat, and the link comes up (host candidates on a
//! LAN or with IPv6, server-reflexive ones with a STUN server, no relay).
//!
//! A code is NOT the SDP: only what differs between two doomlink connections travels, and each
//! side rebuilds a standard data-channel SDP from it ([`ManualCode::to_sdp`]).
//!
//! ```text
//! byte 0      version (1)
//! byte 1      kind: 1 offer, 2 answer
//! str8        ICE ufrag (4..=32 ice-chars)
//! str8        ICE pwd (22..=64 ice-chars)
//! 32 bytes    SHA-256 fingerprint of the sender's DTLS certificate
//! u8 n        candidates (at most 16), each:
//!             u8 flags: bits 0-1 type (0 host, 1 srflx, 2 prflx, 3 relay), bit 2 IPv6
//!             4 or 16 bytes address, u16 port (big-endian)
//! 4 bytes     the first 4 bytes of SHA-256 of everything before: catches a code damaged in
//!             copy and paste before anything is tried with it
//! ```
//!
//! The text form is base64url without padding: about 100 characters for one IPv4 candidate.
//! The offer's fingerprint is the trust anchor (the code came out of band, like an invite
//! link), so the joiner checks the DTLS certificate against it once connected.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::identity::Fingerprint;
use crate::signaling::{Sdp, SdpKind};
use crate::webrtc::peer::{RtcError, RtcLink, RtcOptions};

pub const CODE_VERSION: u8 = 1;
/// Candidates a code carries at most (more are dropped, lowest priority first).
pub const MAX_CODE_CANDIDATES: usize = 16;
/// Longest text accepted: 16 IPv6 candidates and the longest credentials fit well under it.
pub const MAX_CODE_TEXT: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    Offer,
    Answer,
}

impl std::fmt::Display for CodeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CodeKind::Offer => "offer",
            CodeKind::Answer => "answer",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CandidateType {
    Host,
    Srflx,
    Prflx,
    Relay,
}

impl CandidateType {
    fn code(self) -> u8 {
        match self {
            CandidateType::Host => 0,
            CandidateType::Srflx => 1,
            CandidateType::Prflx => 2,
            CandidateType::Relay => 3,
        }
    }
    fn name(self) -> &'static str {
        match self {
            CandidateType::Host => "host",
            CandidateType::Srflx => "srflx",
            CandidateType::Prflx => "prflx",
            CandidateType::Relay => "relay",
        }
    }
    /// RFC 8445 §5.1.2.2's recommended type preferences.
    fn preference(self) -> u32 {
        match self {
            CandidateType::Host => 126,
            CandidateType::Prflx => 110,
            CandidateType::Srflx => 100,
            CandidateType::Relay => 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeCandidate {
    pub kind: CandidateType,
    pub addr: SocketAddr,
}

/// A decoded manual code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualCode {
    pub kind: CodeKind,
    pub ufrag: String,
    pub pwd: String,
    pub fingerprint: Fingerprint,
    pub candidates: Vec<CodeCandidate>,
}

/// Why a code is no good.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("code is empty")]
    Empty,
    #[error("code is {0} characters long, more than any real code")]
    TooLong(usize),
    #[error("code is not base64url text (was it cut or wrapped?)")]
    NotBase64,
    #[error("code is damaged (checksum mismatch); copy it again")]
    Checksum,
    #[error("code is truncated")]
    Truncated,
    #[error("code version {0} is not one this doomlink reads; update doomlink")]
    Version(u8),
    #[error("this is an {got} code where an {expected} code was expected")]
    WrongKind { expected: CodeKind, got: CodeKind },
    #[error("code's {0} is invalid")]
    Invalid(&'static str),
    #[error("code has {0} trailing bytes")]
    Trailing(usize),
    #[error("the description has no {0}")]
    Missing(&'static str),
}

fn ice_chars(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

impl ManualCode {
    /// The text form.
    pub fn encode(&self) -> String {
        let mut b = Vec::with_capacity(96);
        b.push(CODE_VERSION);
        b.push(match self.kind {
            CodeKind::Offer => 1,
            CodeKind::Answer => 2,
        });
        for s in [&self.ufrag, &self.pwd] {
            b.push(s.len() as u8);
            b.extend_from_slice(s.as_bytes());
        }
        b.extend_from_slice(&self.fingerprint.0);
        let cands = &self.candidates[..self.candidates.len().min(MAX_CODE_CANDIDATES)];
        b.push(cands.len() as u8);
        for c in cands {
            let v6 = c.addr.is_ipv6();
            b.push(c.kind.code() | if v6 { 4 } else { 0 });
            match c.addr.ip() {
                IpAddr::V4(ip) => b.extend_from_slice(&ip.octets()),
                IpAddr::V6(ip) => b.extend_from_slice(&ip.octets()),
            }
            b.extend_from_slice(&c.addr.port().to_be_bytes());
        }
        let sum = Sha256::digest(&b);
        b.extend_from_slice(&sum[..4]);
        URL_SAFE_NO_PAD.encode(b)
    }

    /// Parses the text form (whitespace, e.g. from a chat's line wrapping, is ignored).
    pub fn decode(text: &str) -> Result<ManualCode, CodeError> {
        if text.len() > MAX_CODE_TEXT {
            return Err(CodeError::TooLong(text.len()));
        }
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.is_empty() {
            return Err(CodeError::Empty);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(compact.as_bytes())
            .map_err(|_| CodeError::NotBase64)?;
        if bytes.len() < 6 {
            return Err(CodeError::Truncated);
        }
        let (body, sum) = bytes.split_at(bytes.len() - 4);
        if Sha256::digest(body)[..4] != *sum {
            return Err(CodeError::Checksum);
        }
        let mut r = Reader(body);
        let version = r.u8()?;
        if version != CODE_VERSION {
            return Err(CodeError::Version(version));
        }
        let kind = match r.u8()? {
            1 => CodeKind::Offer,
            2 => CodeKind::Answer,
            _ => return Err(CodeError::Invalid("kind")),
        };
        let ufrag = r.str8()?;
        if !(4..=32).contains(&ufrag.len()) || !ice_chars(&ufrag) {
            return Err(CodeError::Invalid("ICE ufrag"));
        }
        let pwd = r.str8()?;
        if !(22..=64).contains(&pwd.len()) || !ice_chars(&pwd) {
            return Err(CodeError::Invalid("ICE password"));
        }
        let fingerprint = Fingerprint(r.take(32)?.try_into().map_err(|_| CodeError::Truncated)?);
        let n = r.u8()? as usize;
        if n > MAX_CODE_CANDIDATES {
            return Err(CodeError::Invalid("candidate count"));
        }
        let mut candidates = Vec::with_capacity(n);
        for _ in 0..n {
            let flags = r.u8()?;
            if flags & !7 != 0 {
                return Err(CodeError::Invalid("candidate flags"));
            }
            let kind = match flags & 3 {
                0 => CandidateType::Host,
                1 => CandidateType::Srflx,
                2 => CandidateType::Prflx,
                _ => CandidateType::Relay,
            };
            let ip = if flags & 4 != 0 {
                let o: [u8; 16] = r.take(16)?.try_into().map_err(|_| CodeError::Truncated)?;
                IpAddr::V6(Ipv6Addr::from(o))
            } else {
                let o: [u8; 4] = r.take(4)?.try_into().map_err(|_| CodeError::Truncated)?;
                IpAddr::V4(Ipv4Addr::from(o))
            };
            let port = u16::from_be_bytes(r.take(2)?.try_into().map_err(|_| CodeError::Truncated)?);
            if port == 0 || ip.is_unspecified() {
                return Err(CodeError::Invalid("candidate address"));
            }
            candidates.push(CodeCandidate {
                kind,
                addr: SocketAddr::new(ip, port),
            });
        }
        if !r.0.is_empty() {
            return Err(CodeError::Trailing(r.0.len()));
        }
        Ok(ManualCode {
            kind,
            ufrag,
            pwd,
            fingerprint,
            candidates,
        })
    }

    /// Decodes and checks the kind.
    pub fn decode_kind(text: &str, expected: CodeKind) -> Result<ManualCode, CodeError> {
        let c = Self::decode(text)?;
        if c.kind != expected {
            return Err(CodeError::WrongKind {
                expected,
                got: c.kind,
            });
        }
        Ok(c)
    }

    /// Extracts a code from a complete local description (gathering finished). Candidates
    /// other than UDP component 1 (TCP, RTCP duplicates, mDNS names) are left out.
    pub fn from_sdp(kind: CodeKind, sdp: &str) -> Result<ManualCode, CodeError> {
        let mut ufrag = None;
        let mut pwd = None;
        let mut candidates = Vec::new();
        for line in sdp.lines().map(str::trim_end) {
            if let Some(v) = line.strip_prefix("a=ice-ufrag:") {
                ufrag.get_or_insert_with(|| v.to_owned());
            } else if let Some(v) = line.strip_prefix("a=ice-pwd:") {
                pwd.get_or_insert_with(|| v.to_owned());
            } else if let Some(v) = line.strip_prefix("a=candidate:") {
                if let Some(c) = parse_candidate(v) {
                    if !candidates.contains(&c) {
                        candidates.push(c);
                    }
                }
            }
        }
        let fingerprint =
            Fingerprint::from_sdp(sdp).map_err(|_| CodeError::Missing("sha-256 fingerprint"))?;
        // Best first, so a cut keeps the likeliest paths.
        candidates.sort_by_key(|c: &CodeCandidate| std::cmp::Reverse(c.kind.preference()));
        candidates.truncate(MAX_CODE_CANDIDATES);
        let code = ManualCode {
            kind,
            ufrag: ufrag.ok_or(CodeError::Missing("ICE ufrag"))?,
            pwd: pwd.ok_or(CodeError::Missing("ICE password"))?,
            fingerprint,
            candidates,
        };
        // Only what decodes is emitted.
        ManualCode::decode(&code.encode())
    }

    /// The SDP this code stands for: a data-channel-only description with the code's
    /// credentials, fingerprint and candidates. An offer offers both DTLS roles (actpass); an
    /// answer takes the client role (active), as webrtc's own answers do.
    pub fn to_sdp(&self) -> Sdp {
        let mut s = String::with_capacity(600);
        let _ = write!(
            s,
            "v=0\r\no=- {} 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
             a=fingerprint:sha-256 {}\r\na=group:BUNDLE 0\r\n\
             m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n\
             a=setup:{}\r\na=mid:0\r\na=sendrecv\r\na=sctp-port:5000\r\n\
             a=max-message-size:65536\r\na=ice-ufrag:{}\r\na=ice-pwd:{}\r\n",
            u64::from_be_bytes(self.fingerprint.0[..8].try_into().unwrap_or([0; 8])) >> 1,
            self.fingerprint.to_sdp_hex(),
            match self.kind {
                CodeKind::Offer => "actpass",
                CodeKind::Answer => "active",
            },
            self.ufrag,
            self.pwd,
        );
        for (i, c) in self.candidates.iter().enumerate() {
            // Local preference: keep the code's order among candidates of one type.
            let local_pref = 65535 - i as u32;
            let priority = (c.kind.preference() << 24) | (local_pref << 8) | 255;
            let _ = write!(
                s,
                "a=candidate:{} 1 udp {} {} {} typ {}",
                i + 1,
                priority,
                c.addr.ip(),
                c.addr.port(),
                c.kind.name()
            );
            if c.kind != CandidateType::Host {
                // The related address is informational; the code does not carry it.
                let unspec = if c.addr.is_ipv6() { "::" } else { "0.0.0.0" };
                let _ = write!(s, " raddr {unspec} rport 0");
            }
            s.push_str("\r\n");
        }
        s.push_str("a=end-of-candidates\r\n");
        Sdp {
            kind: match self.kind {
                CodeKind::Offer => SdpKind::Offer,
                CodeKind::Answer => SdpKind::Answer,
            },
            sdp: s,
        }
    }
}

/// `<foundation> <component> <transport> <priority> <ip> <port> typ <type> ...`
fn parse_candidate(v: &str) -> Option<CodeCandidate> {
    let f: Vec<&str> = v.split_ascii_whitespace().collect();
    if f.len() < 8 || f[1] != "1" || !f[2].eq_ignore_ascii_case("udp") || f[6] != "typ" {
        return None;
    }
    let ip: IpAddr = f[4].parse().ok()?;
    let port: u16 = f[5].parse().ok()?;
    let kind = match f[7] {
        "host" => CandidateType::Host,
        "srflx" => CandidateType::Srflx,
        "prflx" => CandidateType::Prflx,
        "relay" => CandidateType::Relay,
        _ => return None,
    };
    (port != 0 && !ip.is_unspecified()).then_some(CodeCandidate {
        kind,
        addr: SocketAddr::new(ip, port),
    })
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CodeError> {
        if self.0.len() < n {
            return Err(CodeError::Truncated);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, CodeError> {
        Ok(self.take(1)?[0])
    }
    fn str8(&mut self) -> Result<String, CodeError> {
        let n = self.u8()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| CodeError::Invalid("text"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManualError {
    #[error(transparent)]
    Code(#[from] CodeError),
    #[error(transparent)]
    Rtc(#[from] RtcError),
}

/// The host's side: made with [`ManualHost::start`], prints [`ManualHost::offer_code`], then
/// [`ManualHost::accept`]s the joiner's answer code.
#[derive(Debug)]
pub struct ManualHost {
    link: RtcLink,
    code: String,
}

impl ManualHost {
    /// Makes the peer connection and its offer, and gathers every candidate (manual codes do
    /// not trickle).
    pub async fn start(opts: &RtcOptions) -> Result<ManualHost, ManualError> {
        let mut link = RtcLink::new(opts).await?;
        link.create_offer().await?;
        let sdp = link.gathered_local_description().await?;
        let code = ManualCode::from_sdp(CodeKind::Offer, &sdp)?.encode();
        Ok(ManualHost { link, code })
    }

    /// The line to send to the joiner.
    pub fn offer_code(&self) -> &str {
        &self.code
    }

    /// Takes the joiner's answer code and waits for the link to come up.
    pub async fn accept(mut self, answer_code: &str) -> Result<RtcLink, ManualError> {
        let answer = ManualCode::decode_kind(answer_code, CodeKind::Answer)?;
        self.link
            .accept_answer(&answer.to_sdp(), Some(answer.fingerprint))
            .await?;
        self.link.wait_connected(|_| {}).await?;
        Ok(self.link)
    }
}

/// The joiner's side: from the host's offer code, makes the answer code to send back; then
/// [`ManualJoin::connect`] waits for the link.
#[derive(Debug)]
pub struct ManualJoin {
    link: RtcLink,
    code: String,
}

impl ManualJoin {
    pub async fn start(offer_code: &str, opts: &RtcOptions) -> Result<ManualJoin, ManualError> {
        let offer = ManualCode::decode_kind(offer_code, CodeKind::Offer)?;
        let mut link = RtcLink::new(opts).await?;
        // The fingerprint in the offer code is the one the DTLS certificate must have.
        link.accept_offer(&offer.to_sdp(), Some(offer.fingerprint))
            .await?;
        let sdp = link.gathered_local_description().await?;
        let code = ManualCode::from_sdp(CodeKind::Answer, &sdp)?.encode();
        Ok(ManualJoin { link, code })
    }

    /// The line to send back to the host.
    pub fn answer_code(&self) -> &str {
        &self.code
    }

    pub async fn connect(mut self) -> Result<RtcLink, ManualError> {
        self.link.wait_connected(|_| {}).await?;
        Ok(self.link)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDP: &str = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
a=fingerprint:sha-256 7D:08:9F:E1:76:2E:F7:F8:98:1D:86:CA:02:66:DD:BB:FC:76:13:4A:5F:5B:32:99:01:45:C1:37:E4:55:0C:36\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
a=ice-ufrag:XWMTOvFCoARBlQUo\r\na=ice-pwd:BgiuObchvNRraGWOKXTwOnhyFvrpnAow\r\n\
a=candidate:2693830880 1 udp 2130706431 127.0.0.1 42817 typ host\r\n\
a=candidate:2693830880 2 udp 2130706431 127.0.0.1 42817 typ host\r\n\
a=candidate:1 1 udp 1694498815 203.0.113.5 40000 typ srflx raddr 0.0.0.0 rport 0\r\n\
a=candidate:3 1 udp 2130706431 2001:db8::7 5000 typ host\r\n\
a=candidate:4 1 tcp 2130706431 127.0.0.1 9 typ host tcptype active\r\n";

    #[test]
    fn code_from_sdp_round_trips_and_is_short() {
        let c = ManualCode::from_sdp(CodeKind::Offer, SDP).unwrap();
        assert_eq!(c.candidates.len(), 3, "{:?}", c.candidates);
        assert_eq!(c.candidates[2].kind, CandidateType::Srflx);
        let text = c.encode();
        assert!(text.len() < 200, "{} chars", text.len());
        assert_eq!(ManualCode::decode(&text), Ok(c.clone()));
        let wrapped = format!("  {}\n{}  ", &text[..40], &text[40..]);
        assert_eq!(ManualCode::decode(&wrapped), Ok(c.clone()));
        let sdp = c.to_sdp().sdp;
        assert!(sdp.contains("a=setup:actpass"));
        assert_eq!(ManualCode::from_sdp(CodeKind::Offer, &sdp), Ok(c));
    }

    #[test]
    fn damaged_codes_are_typed_errors() {
        let text = ManualCode::from_sdp(CodeKind::Answer, SDP)
            .unwrap()
            .encode();
        let mut damaged = text.clone().into_bytes();
        damaged[10] = if damaged[10] == b'A' { b'B' } else { b'A' };
        let damaged = String::from_utf8(damaged).unwrap();
        assert_eq!(ManualCode::decode(&damaged), Err(CodeError::Checksum));
        assert_eq!(ManualCode::decode(""), Err(CodeError::Empty));
        assert_eq!(ManualCode::decode("!!!"), Err(CodeError::NotBase64));
        assert_eq!(
            ManualCode::decode_kind(&text, CodeKind::Offer),
            Err(CodeError::WrongKind {
                expected: CodeKind::Offer,
                got: CodeKind::Answer
            })
        );
        assert!(matches!(
            ManualCode::decode(&text[..text.len() - 6]),
            Err(CodeError::Checksum | CodeError::NotBase64 | CodeError::Truncated)
        ));
    }
}

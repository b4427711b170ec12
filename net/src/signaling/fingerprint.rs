//! A SHA-256 certificate fingerprint and its three spellings: SDP's `AB:CD:…` hex, base64url for
//! links, 32 raw bytes for codes. A joiner checks the host's against the one in its invite link
//! (the desktop's WebRTC transport and a browser's page alike).

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// A SHA-256 certificate fingerprint (RFC 8122's `sha-256`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FingerprintError {
    #[error("fingerprint is not 32 bytes of base64url")]
    BadBase64,
    #[error("fingerprint is not 32 colon-separated hex bytes")]
    BadHex,
    #[error("fingerprint algorithm {0:?} is not sha-256")]
    Algorithm(String),
    #[error("the description has no sha-256 fingerprint")]
    Missing,
    #[error("the description has more than one distinct fingerprint")]
    Ambiguous,
}

/// The host presented (or its description names) another certificate than the link's: the
/// one error a joiner shows for it, on the desktop and in a browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the host's certificate fingerprint does not match the link: expected {expected}, got {got}; someone may be in the middle (or the link is from another host)")]
pub struct FingerprintMismatch {
    pub expected: Fingerprint,
    pub got: Fingerprint,
}

impl Fingerprint {
    /// `Ok` if this is the `expected` fingerprint.
    pub fn expect(self, expected: Fingerprint) -> Result<(), FingerprintMismatch> {
        if self == expected {
            Ok(())
        } else {
            Err(FingerprintMismatch {
                expected,
                got: self,
            })
        }
    }

    /// The fingerprint of a DER-encoded certificate.
    pub fn of_der(der: &[u8]) -> Self {
        Fingerprint(Sha256::digest(der).into())
    }

    /// 43 characters of base64url, for links.
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    pub fn from_base64url(s: &str) -> Result<Self, FingerprintError> {
        if s.len() != 43 {
            return Err(FingerprintError::BadBase64);
        }
        let v = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| FingerprintError::BadBase64)?;
        Ok(Fingerprint(
            v.try_into().map_err(|_| FingerprintError::BadBase64)?,
        ))
    }

    /// SDP's spelling: upper-case hex pairs joined by colons.
    pub fn to_sdp_hex(&self) -> String {
        let mut s = String::with_capacity(95);
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                s.push(':');
            }
            s.push_str(&format!("{b:02X}"));
        }
        s
    }

    pub fn from_sdp_hex(s: &str) -> Result<Self, FingerprintError> {
        let mut out = [0u8; 32];
        let mut n = 0;
        for part in s.trim().split(':') {
            if n == 32 || part.len() != 2 {
                return Err(FingerprintError::BadHex);
            }
            out[n] = u8::from_str_radix(part, 16).map_err(|_| FingerprintError::BadHex)?;
            n += 1;
        }
        if n != 32 {
            return Err(FingerprintError::BadHex);
        }
        Ok(Fingerprint(out))
    }

    /// The one sha-256 fingerprint an SDP carries (session or media level; repeats of the same
    /// value are fine). Anything else — none, another algorithm only, two different values —
    /// is refused: a joiner must know exactly which certificate the other end will present.
    pub fn from_sdp(sdp: &str) -> Result<Self, FingerprintError> {
        let mut found: Option<Fingerprint> = None;
        let mut other_alg: Option<String> = None;
        for line in sdp.lines() {
            let Some(rest) = line.trim_end().strip_prefix("a=fingerprint:") else {
                continue;
            };
            let (alg, value) = rest.split_once(' ').ok_or(FingerprintError::BadHex)?;
            if !alg.eq_ignore_ascii_case("sha-256") {
                other_alg.get_or_insert_with(|| alg.chars().take(16).collect());
                continue;
            }
            let fp = Fingerprint::from_sdp_hex(value)?;
            match found {
                Some(f) if f != fp => return Err(FingerprintError::Ambiguous),
                _ => found = Some(fp),
            }
        }
        match (found, other_alg) {
            (Some(f), _) => Ok(f),
            (None, Some(alg)) => Err(FingerprintError::Algorithm(alg)),
            (None, None) => Err(FingerprintError::Missing),
        }
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_sdp_hex())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.to_base64url())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_spellings_round_trip() {
        let fp = Fingerprint(core::array::from_fn(|i| i as u8 * 7));
        assert_eq!(Fingerprint::from_base64url(&fp.to_base64url()), Ok(fp));
        assert_eq!(Fingerprint::from_sdp_hex(&fp.to_sdp_hex()), Ok(fp));
        assert_eq!(
            Fingerprint::from_sdp_hex(&fp.to_sdp_hex().to_lowercase()),
            Ok(fp)
        );
        assert!(Fingerprint::from_sdp_hex("AB:CD").is_err());
        assert!(Fingerprint::from_base64url("x").is_err());
        let sdp = format!("v=0\r\na=fingerprint:sha-256 {}\r\n", fp.to_sdp_hex());
        assert_eq!(Fingerprint::from_sdp(&sdp), Ok(fp));
        assert_eq!(
            Fingerprint::from_sdp("a=fingerprint:sha-1 AB\r\n"),
            Err(FingerprintError::Algorithm("sha-1".into()))
        );
        assert_eq!(Fingerprint::from_sdp("v=0"), Err(FingerprintError::Missing));
    }
}

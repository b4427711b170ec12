//! A host's persistent DTLS identity: the certificate every one of its WebRTC connections
//! presents, kept in its data dir, and the SHA-256 fingerprint that invite links and manual codes
//! carry.
//!
//! Owns the certificate file (`dtls-identity.pem`, webrtc's own PEM form: an EXPIRES block, the
//! certificate and its PKCS#8 key) and the [`Fingerprint`] type with its three spellings: SDP's
//! `AB:CD:…` hex, base64url for links, 32 raw bytes for codes. Why persistent: a joiner checks
//! the host's fingerprint against the one in the link it was given out of band, so the
//! rendezvous that carries the SDP cannot put itself in the middle; a fresh certificate per run
//! would make every link the host ever shared go stale.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use webrtc::peer_connection::crypto::{self, SignatureScheme};
use webrtc::peer_connection::RTCCertificate;

/// The file in the data dir that holds the identity.
pub const IDENTITY_FILE: &str = "dtls-identity.pem";

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

impl Fingerprint {
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

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a doomlink DTLS identity ({why}); move it away to make a new one")]
    Corrupt { path: PathBuf, why: String },
    #[error("{path} holds an expired certificate; move it away to make a new one")]
    Expired { path: PathBuf },
    #[error("cannot make a certificate: {0}")]
    Generate(String),
}

/// The certificate a host presents on every connection, and its fingerprint.
#[derive(Clone)]
pub struct Identity {
    cert: RTCCertificate,
    fingerprint: Fingerprint,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

fn provider() -> Result<Arc<dyn crypto::RTCCryptoProvider>, IdentityError> {
    crypto::default_provider().map_err(|e| IdentityError::Generate(e.to_string()))
}

impl Identity {
    /// A fresh certificate that lives as long as this value (joiners, tests).
    pub fn ephemeral() -> Result<Self, IdentityError> {
        let provider = provider()?;
        // rcgen's default validity runs to the year 4096: the certificate is pinned by its
        // fingerprint, not trusted through a chain, so its dates only need not to get in the way.
        let params =
            rtc::peer_connection::certificate::CertificateParams::new(vec!["doomlink".to_owned()])
                .map_err(|e| IdentityError::Generate(e.to_string()))?;
        let cert =
            RTCCertificate::generate(provider.crypto(), SignatureScheme::EcdsaP256Sha256, params)
                .map_err(|e| IdentityError::Generate(e.to_string()))?;
        Self::from_cert(cert).map_err(IdentityError::Generate)
    }

    fn from_cert(cert: RTCCertificate) -> Result<Self, String> {
        let der = cert
            .dtls_certificate
            .certificate
            .first()
            .ok_or("no certificate in the chain")?;
        let fingerprint = Fingerprint::of_der(der.as_ref());
        Ok(Identity { cert, fingerprint })
    }

    /// Loads `data_dir/dtls-identity.pem`, or makes one and stores it there (owner-only).
    pub fn load_or_create(data_dir: &Path) -> Result<Self, IdentityError> {
        let path = data_dir.join(IDENTITY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(pem) => Self::from_pem(&pem).map_err(|why| match why {
                PemError::Expired => IdentityError::Expired { path: path.clone() },
                PemError::Bad(why) => IdentityError::Corrupt {
                    path: path.clone(),
                    why,
                },
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let id = Self::ephemeral()?;
                let pem = id
                    .cert
                    .serialize_pem()
                    .map_err(|e| IdentityError::Generate(e.to_string()))?;
                let io = |source| IdentityError::Io {
                    path: path.clone(),
                    source,
                };
                std::fs::create_dir_all(data_dir).map_err(io)?;
                match crate::files::create_private(&path, pem.as_bytes()) {
                    Ok(()) => Ok(id),
                    // Another process made one first: theirs is the identity.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Self::load_or_create(data_dir)
                    }
                    Err(e) => Err(io(e)),
                }
            }
            Err(source) => Err(IdentityError::Io { path, source }),
        }
    }

    fn from_pem(pem: &str) -> Result<Self, PemError> {
        // webrtc's parser indexes the EXPIRES block's first 8 bytes without checking its
        // length, so a damaged file would panic in it: check the block ourselves first.
        check_expires_block(pem).map_err(PemError::Bad)?;
        let provider = provider().map_err(|e| PemError::Bad(e.to_string()))?;
        // And a panic deeper in the parser must not take the host down either.
        let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            RTCCertificate::from_pem(pem, provider.crypto())
        }))
        .map_err(|_| PemError::Bad("unreadable certificate".into()))?;
        let cert = parsed.map_err(|e| PemError::Bad(e.to_string()))?;
        if cert.expires <= std::time::SystemTime::now() {
            return Err(PemError::Expired);
        }
        Self::from_cert(cert).map_err(PemError::Bad)
    }

    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// The certificate to hand to a peer connection's configuration.
    pub fn certificate(&self) -> RTCCertificate {
        self.cert.clone()
    }
}

enum PemError {
    Expired,
    Bad(String),
}

fn check_expires_block(pem: &str) -> Result<(), String> {
    let first = pem.split("\n\n").next().unwrap_or("");
    let mut lines = first.lines().map(str::trim).filter(|l| !l.is_empty());
    if lines.next() != Some("-----BEGIN EXPIRES-----") {
        return Err("no EXPIRES block".into());
    }
    let body: String = lines.take_while(|l| !l.starts_with("-----END")).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| "EXPIRES block is not base64".to_owned())?;
    if bytes.len() < 8 {
        return Err("EXPIRES block is too short".into());
    }
    Ok(())
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

    #[test]
    fn identity_persists_in_the_data_dir() {
        let dir = std::env::temp_dir().join(format!("doomlink-id-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let a = Identity::load_or_create(&dir).unwrap();
        let b = Identity::load_or_create(&dir).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        std::fs::write(
            dir.join(IDENTITY_FILE),
            "-----BEGIN EXPIRES-----\nAA==\n-----END EXPIRES-----\n\n",
        )
        .unwrap();
        let e = Identity::load_or_create(&dir).unwrap_err();
        assert!(matches!(e, IdentityError::Corrupt { .. }), "{e}");
        std::fs::write(dir.join(IDENTITY_FILE), "junk").unwrap();
        assert!(Identity::load_or_create(&dir).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

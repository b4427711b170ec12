//! A host's persistent DTLS identity: the certificate every one of its WebRTC connections
//! presents, kept in its data dir, and the SHA-256 fingerprint that invite links and manual codes
//! carry.
//!
//! Owns the certificate file (`dtls-identity.pem`, webrtc's own PEM form: an EXPIRES block, the
//! certificate and its PKCS#8 key); the [`Fingerprint`] type is the signaling's (a browser
//! checks one without webrtc). Why persistent: a joiner checks
//! the host's fingerprint against the one in the link it was given out of band, so the
//! rendezvous that carries the SDP cannot put itself in the middle; a fresh certificate per run
//! would make every link the host ever shared go stale.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use crate::signaling::fingerprint::{Fingerprint, FingerprintError};
use base64::Engine;
use webrtc::peer_connection::crypto::{self, SignatureScheme};
use webrtc::peer_connection::RTCCertificate;

/// The file in the data dir that holds the identity.
pub const IDENTITY_FILE: &str = "dtls-identity.pem";

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

//! The clients' side of TLS to a rendezvous (`wss://` signaling, the admin API over `https://`).
//!
//! Owns what a client trusts and how it connects: the system's root certificates (on Debian,
//! `/etc/ssl/certs`) plus, for a private rendezvous, the CA certificates of a file named in the
//! settings ([`ClientTls::with_ca_file`]); or a whole rustls configuration given by the caller
//! (the service's own dedicated rooms, which trust exactly the certificate their service holds).
//! [`connect`] opens the TCP connection and, for a TLS endpoint, verifies the certificate
//! against the host's name or IP address. A certificate that does not verify is
//! [`ConnectError::Untrusted`], one line naming the host; nothing is ever accepted unverified.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// A client connection, plain or TLS.
pub trait ClientIo: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ClientIo for T {}

/// What a client trusts for TLS: the system's roots and an optional CA file, or a
/// configuration of the caller's. The default is the system's roots alone.
#[derive(Clone, Default)]
pub struct ClientTls {
    ca_file: Option<PathBuf>,
    config: Option<Arc<ClientConfig>>,
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("ca_file", &self.ca_file)
            .field("own_config", &self.config.is_some())
            .finish()
    }
}

/// Why a connection could not be made, in one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    #[error("{0}")]
    Io(String),
    #[error("timed out")]
    Timeout,
    #[error("CA file {path}: {why}")]
    CaFile { path: PathBuf, why: String },
    /// The server's certificate did not verify for `host`: not signed by a trusted CA, not
    /// for this name, expired.
    #[error("the TLS certificate of {host} was not trusted ({why})")]
    Untrusted { host: String, why: String },
    #[error("TLS with {host}: {why}")]
    Tls { host: String, why: String },
}

impl ClientTls {
    /// The system's roots and the CA certificates in `path` (PEM): a private rendezvous.
    pub fn with_ca_file(path: impl Into<PathBuf>) -> Self {
        ClientTls {
            ca_file: Some(path.into()),
            config: None,
        }
    }

    /// Exactly this configuration (its own verifier or roots).
    pub fn from_config(config: Arc<ClientConfig>) -> Self {
        ClientTls {
            ca_file: None,
            config: Some(config),
        }
    }

    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }

    /// The rustls configuration: built on each call, so an edited CA file counts at once.
    pub fn config(&self) -> Result<Arc<ClientConfig>, ConnectError> {
        if let Some(c) = &self.config {
            return Ok(c.clone());
        }
        let mut roots = system_roots().clone();
        if let Some(path) = &self.ca_file {
            let ca_err = |why: String| ConnectError::CaFile {
                path: path.clone(),
                why,
            };
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| ca_err(pem_why(e)))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ca_err(pem_why(e)))?;
            if certs.is_empty() {
                return Err(ca_err("no certificate in it".into()));
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| ca_err(format!("not a CA certificate: {e}")))?;
            }
        }
        let config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| ConnectError::Io(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Arc::new(config))
    }
}

/// The crypto the service and its clients use: ring (see net/Cargo.toml for why).
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A PEM file's error without its contents (a key file's lines must not reach a log).
pub(crate) fn pem_why(e: rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match e {
        Error::Io(io) => io.to_string(),
        Error::NoItemsFound => "nothing of the right kind in it (PEM)".into(),
        _ => "not valid PEM".into(),
    }
}

/// The system's root certificates, read once. Unreadable ones are skipped: a client with none
/// still trusts a CA file, and says so when a certificate is not trusted.
fn system_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::debug!("system root certificates: {e}");
        }
        let mut roots = RootCertStore::empty();
        let (added, ignored) = roots.add_parsable_certificates(found.certs);
        tracing::debug!(added, ignored, "system root certificates");
        roots
    })
}

/// The host part of `host:port` (brackets off an IPv6 address).
pub(crate) fn host_of(host_port: &str) -> &str {
    let host = host_port.rsplit_once(':').map_or(host_port, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// Connects to `host_port` within `timeout`; with `tls`, speaks TLS and verifies the server's
/// certificate for the host's name (or IP address).
pub async fn connect(
    host_port: &str,
    tls: Option<&ClientTls>,
    timeout: Duration,
) -> Result<Box<dyn ClientIo>, ConnectError> {
    let work = async {
        let tcp = TcpStream::connect(host_port)
            .await
            .map_err(|e| ConnectError::Io(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let Some(tls) = tls else {
            return Ok(Box::new(tcp) as Box<dyn ClientIo>);
        };
        let host = host_of(host_port).to_owned();
        let name = ServerName::try_from(host.clone()).map_err(|_| ConnectError::Tls {
            host: host.clone(),
            why: "not a DNS name or IP address".into(),
        })?;
        let connector = tokio_rustls::TlsConnector::from(tls.config()?);
        let stream = connector
            .connect(name, tcp)
            .await
            .map_err(|e| handshake_error(&host, e))?;
        Ok(Box::new(stream) as Box<dyn ClientIo>)
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| ConnectError::Timeout)?
}

/// A failed handshake: a certificate that did not verify is [`ConnectError::Untrusted`].
fn handshake_error(host: &str, e: std::io::Error) -> ConnectError {
    let tls = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match tls {
        Some(rustls::Error::InvalidCertificate(c)) => ConnectError::Untrusted {
            host: host.to_owned(),
            why: c.to_string(),
        },
        Some(other) => ConnectError::Tls {
            host: host.to_owned(),
            why: other.to_string(),
        },
        None => ConnectError::Tls {
            host: host.to_owned(),
            why: e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_come_out_of_host_port() {
        assert_eq!(host_of("play.example.org:443"), "play.example.org");
        assert_eq!(host_of("127.0.0.1:7342"), "127.0.0.1");
        assert_eq!(host_of("[2001:db8::1]:7342"), "2001:db8::1");
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let e = ClientTls::with_ca_file("/nonexistent/ca.pem")
            .config()
            .unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("CA file /nonexistent/ca.pem: "), "{s}");
        assert_eq!(s.lines().count(), 1);
    }
}

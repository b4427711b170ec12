//! TLS on the service's HTTP listener: https pages, the admin API and `wss://` signaling.
//!
//! Owns the certificate and key (PEM files, [`TlsFiles`]), their loading with one-line errors
//! that name the file at fault, and the reload: [`TlsReload::reload`] re-reads both files (the
//! binary calls it on SIGHUP) and swaps the configuration new connections get; connections
//! already open keep theirs. A reload that fails leaves the certificate in use as it was. The
//! key file is read and never logged, nor is anything of its contents put in an error.
//!
//! The service's own dedicated rooms reach it on 127.0.0.1, which the certificate is usually
//! not for: [`TlsReload::local_client`] is a client configuration that trusts exactly the
//! certificate the service holds at the moment of the handshake, and nothing else.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, ServerConfig, SignatureScheme,
};

use crate::tls_client::{pem_why, provider, ClientTls};

/// The certificate chain and private key, PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The server's certificate first, then its intermediates.
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Why the certificate or key could not be used, naming the file (never the key's contents).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("tls_cert {}: {why}", path.display())]
    Cert { path: PathBuf, why: String },
    #[error("tls_key {}: {why}", path.display())]
    Key { path: PathBuf, why: String },
    #[error("tls_cert {} with tls_key {}: {why}", cert.display(), key.display())]
    Pair {
        cert: PathBuf,
        key: PathBuf,
        why: String,
    },
}

/// What one load of the files gives.
struct Loaded {
    config: Arc<ServerConfig>,
    /// The server's own certificate, which [`TlsReload::local_client`] trusts.
    leaf: CertificateDer<'static>,
}

/// Reads and checks both files.
fn load(files: &TlsFiles) -> Result<Loaded, TlsError> {
    let cert_err = |why: String| TlsError::Cert {
        path: files.cert.clone(),
        why,
    };
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| cert_err(pem_why(e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_err(pem_why(e)))?;
    let Some(leaf) = chain.first().cloned() else {
        return Err(cert_err(
            "no certificate in it (PEM, BEGIN CERTIFICATE)".into(),
        ));
    };
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| TlsError::Key {
        path: files.key.clone(),
        why: match e {
            rustls::pki_types::pem::Error::NoItemsFound => {
                "no private key in it (PEM: PKCS#8, PKCS#1 or SEC1)".into()
            }
            e => pem_why(e),
        },
    })?;
    let pair_err = |why: String| TlsError::Pair {
        cert: files.cert.clone(),
        key: files.key.clone(),
        why,
    };
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| pair_err(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| pair_err(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Loaded {
        config: Arc::new(config),
        leaf,
    })
}

/// The service's TLS configuration, swapped whole on a reload. Clones share it.
#[derive(Clone)]
pub struct TlsReload {
    files: TlsFiles,
    current: Arc<RwLock<Arc<Loaded>>>,
    /// The dedicated rooms' client configuration ([`TlsReload::local_client`]).
    local: ClientTls,
}

impl std::fmt::Debug for TlsReload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsReload")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl TlsReload {
    /// Loads both files; an error names the one at fault.
    pub fn load(files: TlsFiles) -> Result<TlsReload, TlsError> {
        let loaded = load(&files)?;
        let current = Arc::new(RwLock::new(Arc::new(loaded)));
        let provider = provider();
        let verifier = Arc::new(OwnCertificate {
            current: current.clone(),
            provider: provider.clone(),
        });
        let local = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Pair {
                cert: files.cert.clone(),
                key: files.key.clone(),
                why: e.to_string(),
            })?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(TlsReload {
            files,
            current,
            local: ClientTls::from_config(Arc::new(local)),
        })
    }

    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// Re-reads both files; new connections get the new certificate, open ones go on. On an
    /// error the certificate in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let loaded = load(&self.files)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(loaded);
        tracing::info!(cert = %self.files.cert.display(), "TLS certificate reloaded");
        Ok(())
    }

    fn loaded(&self) -> Arc<Loaded> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// What a new connection's handshake uses.
    pub(super) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.loaded().config.clone())
    }

    /// A client configuration that trusts the certificate this service holds at the time of
    /// each handshake, whatever name it is for: the dedicated rooms' way in over 127.0.0.1.
    pub fn local_client(&self) -> ClientTls {
        self.local.clone()
    }
}

/// Trusts the service's current certificate and no other; signatures are checked as usual.
struct OwnCertificate {
    current: Arc<RwLock<Arc<Loaded>>>,
    provider: Arc<CryptoProvider>,
}

impl std::fmt::Debug for OwnCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OwnCertificate")
    }
}

impl ServerCertVerifier for OwnCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        if current.leaf.as_ref() == end_entity.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

//! https: the `[serve]` certificate and key (PEM) loaded into a rustls
//! server configuration (the `ring` provider, as the mail client uses), and
//! a listener that hands axum connections whose TLS handshake is done.
//!
//! Handshakes run in tasks of their own, so a client that connects and says
//! nothing (or speaks plain http to the https port) holds up no one; one that
//! has not finished its handshake in [`HANDSHAKE`] is dropped.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::server::TlsStream;

use crate::error::Error;

/// How long a client may take over its TLS handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// How many finished handshakes may wait for the server to take them.
const QUEUE: usize = 256;

/// The server configuration from a certificate chain and a private key,
/// both PEM files.
///
/// # Errors
/// [`Error::Serve`] naming the file when one cannot be read, holds no
/// certificate or key, or the key does not belong to the certificate.
pub fn load(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, Error> {
    let read = |path: &Path, what: &str, setting: &str| {
        std::fs::read(path).map_err(|e| {
            Error::Serve(format!(
                "无法读取 TLS {what}文件 {}：{}。请检查 zonestat.toml 中 [serve] 的 {setting}。",
                path.display(),
                crate::error::io_message(&e)
            ))
        })
    };
    let cert_pem = read(cert, "证书", "tls_cert")?;
    let key_pem = read(key, "私钥", "tls_key")?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .unwrap_or_default();
    if chain.is_empty() {
        return Err(Error::Serve(format!(
            "TLS 证书文件 {} 中没有可用的证书：应为 PEM 格式（以 -----BEGIN CERTIFICATE----- 开头）。请检查 [serve] 的 tls_cert。",
            cert.display()
        )));
    }
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| {
        Error::Serve(format!(
            "TLS 私钥文件 {} 中没有可用的私钥：应为 PEM 格式（以 -----BEGIN PRIVATE KEY----- 或 -----BEGIN RSA/EC PRIVATE KEY----- 开头）。请检查 [serve] 的 tls_key。",
            key.display()
        ))
    })?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, private))
        .map_err(|e| {
            Error::Serve(format!(
                "TLS 证书 {} 和私钥 {} 无法配合使用（私钥不属于这个证书，或格式不受支持）：{e}",
                cert.display(),
                key.display()
            ))
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Connections with their handshake done, for `axum::serve`.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `tcp` (on the current tokio runtime).
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(QUEUE);
        let acceptor = TlsAcceptor::from(config);
        tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(x) => x,
                    Err(_) => {
                        // Out of file descriptors and the like: let it pass.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    if let Ok(Ok(tls)) =
                        tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await
                    {
                        let _ = tx.send((tls, peer)).await;
                    }
                });
            }
        });
        Ok(TlsListener { ready, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(x) => x,
            // The accepting task ended: nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

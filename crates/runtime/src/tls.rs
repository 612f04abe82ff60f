//! TLS on gRPC (rustls, ring): a service given a certificate and key serves
//! TLS only; given a client CA as well, it requires a client certificate
//! signed by it (mutual TLS). Clients of this process dial `https://` peers
//! with the CA (and client certificate) [`use_client_tls`] set; `http://`
//! peers stay plaintext. Key files are read, never logged.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

fn read(what: &str, path: &Path) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))?;
    if !String::from_utf8_lossy(&bytes).contains("-----BEGIN ") {
        return Err(format!("the {what} {} is not PEM", path.display()));
    }
    Ok(bytes)
}

/// The server side's flags (environment fallbacks).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServerTlsArgs {
    /// PEM certificate (chain) to serve gRPC over TLS with; with --tls-key.
    #[arg(long, env = "SHADOWKPI_TLS_CERT", value_name = "PATH")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "SHADOWKPI_TLS_KEY", value_name = "PATH")]
    pub tls_key: Option<PathBuf>,
    /// PEM CA: clients must present a certificate it signed (mutual TLS).
    #[arg(long, env = "SHADOWKPI_TLS_CLIENT_CA", value_name = "PATH")]
    pub tls_client_ca: Option<PathBuf>,
}

impl ServerTlsArgs {
    /// The server's TLS, `None` for plaintext.
    pub fn config(&self) -> Result<Option<ServerTlsConfig>, String> {
        let (cert, key) = match (&self.tls_cert, &self.tls_key) {
            (None, None) => {
                return match &self.tls_client_ca {
                    Some(_) => Err(
                        "--tls-client-ca (SHADOWKPI_TLS_CLIENT_CA) needs --tls-cert and --tls-key"
                            .into(),
                    ),
                    None => Ok(None),
                };
            }
            (Some(c), Some(k)) => (c, k),
            (Some(_), None) => {
                return Err(
                    "--tls-cert (SHADOWKPI_TLS_CERT) needs --tls-key (SHADOWKPI_TLS_KEY)".into(),
                );
            }
            (None, Some(_)) => {
                return Err(
                    "--tls-key (SHADOWKPI_TLS_KEY) needs --tls-cert (SHADOWKPI_TLS_CERT)".into(),
                );
            }
        };
        let identity = Identity::from_pem(read("certificate", cert)?, read("key", key)?);
        let mut cfg = ServerTlsConfig::new().identity(identity);
        if let Some(ca) = &self.tls_client_ca {
            cfg = cfg.client_ca_root(Certificate::from_pem(read("client CA", ca)?));
        }
        Ok(Some(cfg))
    }
}

/// The client side's flags (environment fallbacks): for `https://` peers.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClientTlsArgs {
    /// PEM CA that signed the certificates of `https://` peers (needed to
    /// dial one).
    #[arg(long, env = "SHADOWKPI_TLS_CA", value_name = "PATH", global = true)]
    pub tls_ca: Option<PathBuf>,
    /// PEM client certificate for peers that require one (mutual TLS).
    #[arg(
        long,
        env = "SHADOWKPI_TLS_CLIENT_CERT",
        value_name = "PATH",
        global = true
    )]
    pub tls_client_cert: Option<PathBuf>,
    /// PEM private key of --tls-client-cert.
    #[arg(
        long,
        env = "SHADOWKPI_TLS_CLIENT_KEY",
        value_name = "PATH",
        global = true
    )]
    pub tls_client_key: Option<PathBuf>,
}

/// What clients of this process use for `https://` peers.
#[derive(Debug, Clone)]
pub struct ClientTls {
    ca: Certificate,
    identity: Option<Identity>,
}

impl ClientTls {
    /// Trusts `ca_pem`; presents `identity` (certificate, key PEM) when given.
    pub fn new(ca_pem: Vec<u8>, identity: Option<(Vec<u8>, Vec<u8>)>) -> Self {
        Self {
            ca: Certificate::from_pem(ca_pem),
            identity: identity.map(|(c, k)| Identity::from_pem(c, k)),
        }
    }

    /// tonic's configuration of it.
    pub fn config(&self) -> ClientTlsConfig {
        let cfg = ClientTlsConfig::new().ca_certificate(self.ca.clone());
        match &self.identity {
            Some(id) => cfg.identity(id.clone()),
            None => cfg,
        }
    }
}

impl ClientTlsArgs {
    /// The client TLS they give, `None` without a CA.
    pub fn client_tls(&self) -> Result<Option<ClientTls>, String> {
        let identity = match (&self.tls_client_cert, &self.tls_client_key) {
            (None, None) => None,
            (Some(c), Some(k)) => Some((read("client certificate", c)?, read("client key", k)?)),
            (Some(_), None) => {
                return Err("SHADOWKPI_TLS_CLIENT_CERT needs SHADOWKPI_TLS_CLIENT_KEY".into());
            }
            (None, Some(_)) => {
                return Err("SHADOWKPI_TLS_CLIENT_KEY needs SHADOWKPI_TLS_CLIENT_CERT".into());
            }
        };
        match &self.tls_ca {
            Some(ca) => Ok(Some(ClientTls::new(read("CA", ca)?, identity))),
            None if identity.is_some() => {
                Err("a client certificate needs SHADOWKPI_TLS_CA (the peers' CA)".into())
            }
            None => Ok(None),
        }
    }
}

static CLIENT_TLS: OnceLock<ClientTls> = OnceLock::new();

/// Makes every client of this process dial `https://` peers with `tls`. Set
/// once, at start.
pub fn use_client_tls(tls: ClientTls) -> Result<(), String> {
    CLIENT_TLS
        .set(tls)
        .map_err(|_| "this process already has its client TLS".to_string())
}

/// The client TLS of this process.
pub fn client_tls() -> Option<&'static ClientTls> {
    CLIENT_TLS.get()
}

//! The options every command shares: a leaf module, so commands depend on
//! it and not on the command tree that depends on them.

/// Options shared by every command.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Redis URL of the feed and KPI store. Unset: soak, validate and pipeline
    /// run all-in-one on the in-process store; feed and export use
    /// redis://127.0.0.1:6379; keys needs it.
    #[arg(long, env = "REDIS_URL", global = true, hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Address of ingestd; unset (with the others) means all-in-one mode.
    #[arg(long, env = "SHADOWKPI_INGEST_ADDR", global = true)]
    pub ingest_addr: Option<String>,
    /// Address of shadowd.
    #[arg(long, env = "SHADOWKPI_SHADOW_ADDR", global = true)]
    pub shadow_addr: Option<String>,
    /// Address of exportd.
    #[arg(long, env = "SHADOWKPI_EXPORT_ADDR", global = true)]
    pub export_addr: Option<String>,
    /// Address of dryrund.
    #[arg(long, env = "SHADOWKPI_DRYRUN_ADDR", global = true)]
    pub dryrun_addr: Option<String>,
    /// Print results as JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Configuration file (default: $SHADOWKPI_CONFIG, else ./shadowkpi.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// Log filter for the CLI's own logs (stderr).
    #[arg(long, env = "SHADOWKPI_LOG", global = true, default_value = "warn")]
    pub log_level: String,
    /// Bearer token sent to the services (when they require one). Prefer the
    /// environment or --auth-token-file: a flag shows in `ps`.
    #[arg(
        long,
        env = "SHADOWKPI_AUTH_TOKEN",
        global = true,
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub auth_token: Option<String>,
    /// File holding the bearer token.
    #[arg(
        long,
        env = "SHADOWKPI_AUTH_TOKEN_FILE",
        global = true,
        value_name = "PATH"
    )]
    pub auth_token_file: Option<std::path::PathBuf>,
    // TLS for `https://` service addresses.
    #[allow(missing_docs)]
    #[command(flatten)]
    pub tls: shadowkpi_runtime::tls::ClientTlsArgs,
}

impl GlobalArgs {
    /// Makes every call of this process carry the bearer token the options
    /// give, if any, and dial `https://` services with their TLS.
    pub fn use_token(&self) -> Result<(), String> {
        let token = shadowkpi_runtime::auth::Token::resolve(
            self.auth_token.as_deref(),
            self.auth_token_file.as_deref(),
        )?;
        if let Some(t) = token {
            shadowkpi_runtime::auth::use_client_token(t)?;
        }
        match self.tls.client_tls()? {
            Some(tls) => shadowkpi_runtime::tls::use_client_tls(tls),
            None => Ok(()),
        }
    }

    /// Where the services and the store are, as these options say.
    pub fn services(&self) -> shadowkpi_client::services::ServiceAddrs {
        shadowkpi_client::services::ServiceAddrs {
            redis_url: self.redis_url.clone(),
            ingest_addr: self.ingest_addr.clone(),
            shadow_addr: self.shadow_addr.clone(),
            export_addr: self.export_addr.clone(),
            dryrun_addr: self.dryrun_addr.clone(),
        }
    }
}

//! gRPC over TLS with client certificates (mutual TLS) and a bearer token,
//! with the real services and certificates made in the test: a soak with
//! auto-export and its dry run go through, the services' calls to each other
//! included, and `shadowctl health` reaches them over `https://`; a
//! plaintext client, a client trusting another CA and a client without a
//! certificate are all refused.

mod stack_common;

use std::process::Command;

use shadowkpi_domain::feed::synthetic::Scenario;
use shadowkpi_proto::v1::dry_run_service_client::DryRunServiceClient;
use shadowkpi_proto::v1::shadow_service_client::ShadowServiceClient;
use shadowkpi_runtime::auth::{Token, use_client_token};
use shadowkpi_runtime::tls::{ClientTls, ServerTlsArgs, use_client_tls};
use shadowkpi_testkit::{TestPki, cargo_bin};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const TOKEN: &str = "tls-e2e-token-0123456789";
const SYMBOLS: [&str; 2] = ["BTCUSDT", "ETHUSDT"];

/// A health check of `""` over `endpoint`: `Ok` when it answered.
async fn health(endpoint: Endpoint) -> Result<i32, String> {
    let channel = endpoint.connect().await.map_err(|e| format!("{e:?}"))?;
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map(|r| r.into_inner().status)
        .map_err(|e| format!("{e:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_runs_over_mutual_tls_and_other_clients_are_refused() {
    let pki = TestPki::new();
    let server_tls = ServerTlsArgs {
        tls_cert: Some(pki.path("server.crt")),
        tls_key: Some(pki.path("server.key")),
        tls_client_ca: Some(pki.path("ca.crt")),
    }
    .config()
    .unwrap();
    use_client_tls(ClientTls::new(
        pki.pem("ca.crt"),
        Some((pki.pem("client.crt"), pki.pem("client.key"))),
    ))
    .unwrap();
    use_client_token(Token::new(TOKEN).unwrap()).unwrap();
    let s = stack_common::stack_secured(Some(Token::new(TOKEN).unwrap()), server_tls).await;
    assert!(s.shadow.url().starts_with("https://"), "{}", s.shadow.url());
    stack_common::feed(&*s.store, &SYMBOLS, 300, Scenario::Bounce).await;

    // Refused: plaintext, another CA, no client certificate.
    let url = s.ingest.url();
    let plain = Endpoint::from_shared(url.replace("https://", "http://")).unwrap();
    assert!(health(plain).await.is_err(), "plaintext against TLS");
    // TLS to `url` trusting `ca`, presenting the client certificate or not.
    let tls_to = |ca: &str, cert: bool| {
        let mut cfg = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pki.pem(ca)));
        if cert {
            cfg = cfg.identity(Identity::from_pem(
                pki.pem("client.crt"),
                pki.pem("client.key"),
            ));
        }
        Endpoint::from_shared(url.clone())
            .unwrap()
            .tls_config(cfg)
            .unwrap()
    };
    let e = health(tls_to("other/ca.crt", true)).await.unwrap_err();
    assert!(e.to_lowercase().contains("certificate"), "another CA: {e}");
    assert!(
        health(tls_to("ca.crt", false)).await.is_err(),
        "mutual TLS without a client certificate"
    );
    // The same with the certificate answers: what was refused was the TLS.
    let good = tls_to("ca.crt", true);
    assert_eq!(health(good).await, Ok(1), "SERVING");

    // The soak (shadowd → ingestd, exportd over TLS) and its dry run.
    let shadow = shadowkpi_runtime::client::connect("shadowd", &s.shadow.url())
        .await
        .unwrap();
    let stream = ShadowServiceClient::new(shadow)
        .run_soak(stack_common::auto_export_soak(&SYMBOLS, 3))
        .await
        .unwrap()
        .into_inner();
    let (windows, keys) = stack_common::drain_soak(stream).await;
    assert_eq!(windows, 3);
    assert!(keys >= 2, "{keys} keys exported");
    let dryrun = shadowkpi_runtime::client::connect("dryrund", &s.dryrun.url())
        .await
        .unwrap();
    let stream = DryRunServiceClient::new(dryrun)
        .validate(stack_common::e2e_validate(&SYMBOLS, 1))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stack_common::drain_validate(stream).await.iterations, 1);

    // shadowctl over https:// with the CA and its client certificate; without
    // the CA it says what is missing.
    let shadowctl = |tls: bool| {
        let mut cmd = Command::new(cargo_bin("shadowctl"));
        cmd.args(["health"])
            .env("SHADOWKPI_INGEST_ADDR", s.ingest.url())
            .env("SHADOWKPI_SHADOW_ADDR", s.shadow.url())
            .env("SHADOWKPI_EXPORT_ADDR", s.export.url())
            .env("SHADOWKPI_DRYRUN_ADDR", s.dryrun.url())
            .env_remove("SHADOWKPI_CONFIG")
            .env_remove("SHADOWKPI_TLS_CA");
        if tls {
            cmd.env("SHADOWKPI_TLS_CA", pki.path("ca.crt"))
                .env("SHADOWKPI_TLS_CLIENT_CERT", pki.path("client.crt"))
                .env("SHADOWKPI_TLS_CLIENT_KEY", pki.path("client.key"));
        }
        let out = cmd.output().expect("shadowctl runs");
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = shadowctl(true);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("4/4 ready"), "{out}");
    let (code, out) = shadowctl(false);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("SHADOWKPI_TLS_CA"), "{out}");
}

/// `shadowctl config show` names the TLS files it would use, and where each
/// setting came from, but never shows what is in them.
#[test]
fn config_show_names_the_tls_files_and_never_their_content() {
    let pki = shadowkpi_testkit::TestPki::new();
    let out = Command::new(cargo_bin("shadowctl"))
        .args(["config", "show", "--json"])
        .env_remove("SHADOWKPI_CONFIG")
        .env("SHADOWKPI_TLS_CA", pki.path("ca.crt"))
        .env("SHADOWKPI_TLS_CLIENT_CERT", pki.path("client.crt"))
        .env("SHADOWKPI_TLS_CLIENT_KEY", pki.path("client.key"))
        .output()
        .expect("shadowctl runs");
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let setting = |key: &str| {
        doc["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["key"] == key)
            .unwrap_or_else(|| panic!("no setting {key}: {doc}"))
            .clone()
    };
    for (key, file) in [
        ("tls_ca", "ca.crt"),
        ("tls_client_cert", "client.crt"),
        ("tls_client_key", "client.key"),
    ] {
        let s = setting(key);
        assert_eq!(s["value"], pki.path(file).display().to_string(), "{s}");
        assert_eq!(s["source"], "env", "{s}");
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let key = String::from_utf8(pki.pem("client.key")).unwrap();
    let body = key.lines().nth(1).unwrap();
    assert!(!text.contains(body), "config show never shows a key");
    assert!(!text.contains("PRIVATE KEY"), "{text}");
}

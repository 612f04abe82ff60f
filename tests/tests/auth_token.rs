//! Bearer tokens on gRPC, with the real services and a real Redis: a call
//! without the token, or with another one, is `UNAUTHENTICATED` (reason
//! `UNAUTHENTICATED`, counted under that code), health and reflection answer
//! without one, and a whole soak → export → dry run goes through with it,
//! the services' calls to each other included; `shadowctl` sends it from
//! `SHADOWKPI_AUTH_TOKEN` and exits 2 without it; a service given a bad token
//! refuses to start without echoing it.

mod stack_common;

use std::process::Command;

use shadowkpi_domain::feed::synthetic::Scenario;
use shadowkpi_proto::v1::RunSoakRequest;
use shadowkpi_proto::v1::dry_run_service_client::DryRunServiceClient;
use shadowkpi_proto::v1::shadow_service_client::ShadowServiceClient;
use shadowkpi_runtime::auth::{Token, use_client_token};
use shadowkpi_runtime::status::code_and_reason;
use shadowkpi_testkit::cargo_bin;
use stack_common::{Stack, channel, stack_with_token};
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const TOKEN: &str = "e2e-token-0123456789abcdef";
const SYMBOLS: [&str; 2] = ["BTCUSDT", "ETHUSDT"];

fn soak_request() -> RunSoakRequest {
    stack_common::auto_export_soak(&SYMBOLS, 3)
}

/// A RunSoak with `authorization: <auth>` (none when `None`) on a plain
/// channel: its first error.
async fn soak_status(s: &Stack, auth: Option<&str>) -> tonic::Status {
    let mut req = tonic::Request::new(soak_request());
    if let Some(a) = auth {
        req.metadata_mut()
            .insert("authorization", a.parse().unwrap());
    }
    ShadowServiceClient::new(channel(&s.shadow.url()).await)
        .run_soak(req)
        .await
        .map(|_| ())
        .expect_err("refused")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_but_health_and_reflection_needs_the_token_and_a_pipeline_runs_with_it() {
    let token = Token::new(TOKEN).unwrap();
    // This process's clients (shadowd's calls to ingestd and exportd,
    // dryrund's to ingestd, our own runtime channels) send it.
    use_client_token(token.clone()).unwrap();
    let s = stack_with_token(Some(token)).await;
    stack_common::feed(&*s.store, &SYMBOLS, 300, Scenario::Bounce).await;

    // Without a token, and with another one.
    let none = soak_status(&s, None).await;
    assert_eq!(
        code_and_reason(&none),
        (Code::Unauthenticated, Some("UNAUTHENTICATED")),
        "{none:?}"
    );
    assert!(
        none.message().contains("requires a bearer token"),
        "{}",
        none.message()
    );
    let wrong = soak_status(&s, Some("Bearer another-token-0123456789")).await;
    assert_eq!(code_and_reason(&wrong).0, Code::Unauthenticated);
    assert!(
        wrong.message().contains("not this service's"),
        "{}",
        wrong.message()
    );
    let scheme = soak_status(&s, Some(TOKEN)).await;
    assert_eq!(
        scheme.code(),
        Code::Unauthenticated,
        "the Bearer scheme is required"
    );
    for st in [&none, &wrong, &scheme] {
        assert!(!st.message().contains(TOKEN), "{st:?}");
    }
    let metrics = shadowkpi_runtime::metrics::render();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("grpc_server_handled_total")
                && l.contains("grpc_method=\"RunSoak\"")
                && l.contains("grpc_code=\"Unauthenticated\"")
                && l.ends_with(" 3")),
        "{metrics}"
    );

    // Health and reflection need none.
    for url in [
        s.ingest.url(),
        s.shadow.url(),
        s.export.url(),
        s.dryrun.url(),
    ] {
        let plain = tonic::transport::Channel::from_shared(url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap();
        let h = HealthClient::new(plain.clone())
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap_or_else(|e| panic!("health of {url} without a token: {e}"));
        assert_eq!(h.into_inner().status, 1, "SERVING");
        let services = shadowkpi_testkit::process::reflection_services(plain).await;
        assert!(
            services.iter().any(|n| n.starts_with("shadowkpi.v1.")),
            "{url}: {services:?}"
        );
    }

    // With it: the soak (shadowd → ingestd, shadowd → exportd) and the dry
    // run (dryrund → ingestd) go through. `stack_common::channel` is plain:
    // the token goes in by hand, as another team's client would send it.
    let mut req = tonic::Request::new(soak_request());
    req.metadata_mut()
        .insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    let stream = ShadowServiceClient::new(channel(&s.shadow.url()).await)
        .run_soak(req)
        .await
        .unwrap()
        .into_inner();
    let (windows, keys) = stack_common::drain_soak(stream).await;
    assert_eq!(windows, 3);
    assert!(
        keys >= 2,
        "the auto-export through exportd landed {keys} keys"
    );

    let mut req = tonic::Request::new(stack_common::e2e_validate(&SYMBOLS, 1));
    req.metadata_mut()
        .insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    let stream = DryRunServiceClient::new(channel(&s.dryrun.url()).await)
        .validate(req)
        .await
        .unwrap()
        .into_inner();
    let report = stack_common::drain_validate(stream).await;
    assert_eq!(report.iterations, 1);
    assert!(report.symbols.iter().all(|x| x.has_prediction));

    // shadowctl: health needs no token; validate without one is exit 2
    // naming the reason, with SHADOWKPI_AUTH_TOKEN it runs.
    let shadowctl = |args: &[&str], token: Option<&str>| {
        let mut cmd = Command::new(cargo_bin("shadowctl"));
        cmd.args(args)
            .env("REDIS_URL", s.redis.url())
            .env("SHADOWKPI_INGEST_ADDR", s.ingest.url())
            .env("SHADOWKPI_SHADOW_ADDR", s.shadow.url())
            .env("SHADOWKPI_EXPORT_ADDR", s.export.url())
            .env("SHADOWKPI_DRYRUN_ADDR", s.dryrun.url())
            .env_remove("SHADOWKPI_CONFIG")
            .env_remove("SHADOWKPI_AUTH_TOKEN")
            .env_remove("SHADOWKPI_AUTH_TOKEN_FILE")
            .current_dir(tempfile::tempdir().unwrap().keep());
        if let Some(t) = token {
            cmd.env("SHADOWKPI_AUTH_TOKEN", t);
        }
        let out = cmd.output().expect("shadowctl runs");
        (
            out.status.code().unwrap(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    assert_eq!(shadowctl(&["health"], None).0, 0);
    let validate = [
        "validate",
        "--env",
        "e2e",
        "--symbols",
        "BTCUSDT",
        "--iterations",
        "1",
        "--duration",
        "10s",
    ];
    let (code, stderr) = shadowctl(&validate, None);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("requires a bearer token"), "{stderr}");
    let (code, out) = shadowctl(&validate, Some(TOKEN));
    assert!(code == 0 || code == 1, "a graded dry run: {code} {out}");
    assert!(!out.contains("bearer"), "{out}");
    assert!(!out.contains(TOKEN), "{out}");
    let (code, shown) = shadowctl(&["config", "show", "--json"], Some(TOKEN));
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("\"auth_token\""), "{shown}");
    assert!(shown.contains("\"***\""), "{shown}");
    assert!(
        !shown.contains(TOKEN),
        "config show never shows the token: {shown}"
    );
}

#[test]
fn a_service_given_a_bad_token_does_not_start_and_does_not_echo_it() {
    let bad = "short-tok";
    let out = Command::new(cargo_bin("exportd"))
        .args(["--listen", "127.0.0.1:0", "--metrics-listen", "off"])
        .env("SHADOWKPI_AUTH_TOKEN", bad)
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .output()
        .expect("exportd runs");
    assert_eq!(out.status.code(), Some(2));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("at least 16"), "{text}");
    assert!(!text.contains(bad), "{text}");
}

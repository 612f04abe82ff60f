//! The process's bearer token goes with every call of `client::connect` and
//! `client::channel`, and never with `client::connect_external` (a team's
//! strategy process must not see the suite's token). A host requiring the
//! token answers a call of a method it does not have with UNIMPLEMENTED when
//! the token came along and UNAUTHENTICATED when it did not: what tells them
//! apart here.

use shadowkpi_runtime::auth::{Token, use_client_token};
use shadowkpi_runtime::client::{self, TracedChannel};
use shadowkpi_runtime::{ServiceHost, Shutdown};
use tonic::Code;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

/// A unary call of a method no service has.
async fn call(channel: TracedChannel) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    grpc.unary::<HealthCheckRequest, HealthCheckResponse, _>(
        tonic::Request::new(HealthCheckRequest::default()),
        "/shadowkpi.test.Nothing/Call".parse().unwrap(),
        tonic_prost::ProstCodec::default(),
    )
    .await
    .expect_err("no such method")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suite_clients_send_the_token_and_external_ones_do_not() {
    let token = Token::new("runtime-test-token-0123456789").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = ServiceHost::new("token-test")
        .with_auth(Some(token.clone()))
        .spawn_on(listener, Shutdown::new())
        .unwrap();

    // No token set in this process yet: refused.
    let before = call(client::connect("peer", &handle.url()).await.unwrap()).await;
    assert_eq!(before.code(), Code::Unauthenticated, "{before:?}");

    use_client_token(token.clone()).unwrap();
    assert!(
        use_client_token(Token::new("another-token-0123456789").unwrap()).is_err(),
        "one token per process"
    );
    let connected = call(client::connect("peer", &handle.url()).await.unwrap()).await;
    assert_eq!(connected.code(), Code::Unimplemented, "{connected:?}");
    let lazy = call(client::channel("peer", &handle.url()).unwrap()).await;
    assert_eq!(lazy.code(), Code::Unimplemented, "{lazy:?}");
    let external = call(
        client::connect_external("strategy", &handle.url())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(external.code(), Code::Unauthenticated, "{external:?}");
    handle.stop().await.unwrap();
}

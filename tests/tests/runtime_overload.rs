//! More concurrent requests than the limit are shed with RESOURCE_EXHAUSTED
//! and the OVERLOADED reason at once, not queued until they hang, and counted
//! under that code in the request metrics.

use std::sync::Arc;
use std::time::Duration;

use exportd::{ExportServer, host};
use shadowkpi_proto::v1::export_service_client::ExportServiceClient;
use shadowkpi_proto::v1::{
    ExportOptions, ExportSummariesRequest, IterSummary, KpiSet, SymbolSummary,
    export_summaries_request,
};
use shadowkpi_runtime::Shutdown;
use shadowkpi_runtime::metrics::GRPC;
use shadowkpi_runtime::server::Limits;
use shadowkpi_runtime::status::code_and_reason;
use shadowkpi_store::MemoryStore;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

fn options() -> ExportSummariesRequest {
    ExportSummariesRequest {
        payload: Some(export_summaries_request::Payload::Options(ExportOptions {
            dry_run: true,
            ..Default::default()
        })),
    }
}

fn summary() -> ExportSummariesRequest {
    let mut s = IterSummary {
        run_id: "r".into(),
        iteration: 1,
        ..Default::default()
    };
    s.symbols.insert(
        "BTCUSDT".into(),
        SymbolSummary {
            summary: Some(KpiSet {
                edge_bps: Some(3.2),
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    ExportSummariesRequest {
        payload: Some(export_summaries_request::Payload::Summary(s)),
    }
}

/// A shed request: RESOURCE_EXHAUSTED with the OVERLOADED reason, and a
/// message naming the limit.
fn assert_overloaded(s: &tonic::Status) {
    assert_eq!(
        code_and_reason(s),
        (tonic::Code::ResourceExhausted, Some("OVERLOADED")),
        "{s:?}"
    );
    assert!(
        s.message().contains("2 requests in flight") && s.message().contains("--max-concurrent"),
        "{s:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_concurrency_limit_get_resource_exhausted() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = host(ExportServer::new(Arc::new(MemoryStore::new())))
        .with_limits(Limits {
            max_concurrent: 2,
            ..Limits::default()
        })
        .spawn_on(listener, Shutdown::new())
        .unwrap();
    let channel = tonic::transport::Endpoint::from_shared(handle.url())
        .unwrap()
        .connect()
        .await
        .unwrap();

    // Two client streams that stay open hold both permits: an export answers
    // only when its client closes the stream. Nothing says when they reach
    // their handlers, and one of them may itself be shed while a short call
    // below holds a permit; a shed open call is opened again, so the loop
    // converges on both permits held by open streams.
    let open_call = |channel: tonic::transport::Channel| {
        let (tx, rx) = mpsc::channel(4);
        let mut client = ExportServiceClient::new(channel);
        let call =
            tokio::spawn(async move { client.export_summaries(ReceiverStream::new(rx)).await });
        (tx, call)
    };
    let mut open = Vec::new();
    for _ in 0..2 {
        let (tx, call) = open_call(channel.clone());
        tx.send(options()).await.unwrap();
        tx.send(summary()).await.unwrap();
        open.push((tx, call));
    }
    let mut shed = 0;
    let mut first_code = None;
    let mut reopened = 0;
    for _ in 0..1000 {
        for slot in open.iter_mut() {
            if slot.1.is_finished() {
                let (tx, call) = open_call(channel.clone());
                let (_, old) = std::mem::replace(slot, (tx, call));
                let status = old
                    .await
                    .unwrap()
                    .expect_err("an open stream cannot finish");
                assert_overloaded(&status);
                reopened += 1;
                slot.0.send(options()).await.unwrap();
                slot.0.send(summary()).await.unwrap();
            }
        }
        let mut client = ExportServiceClient::new(channel.clone());
        let res = tokio::time::timeout(
            Duration::from_secs(10),
            client.export_summaries(tokio_stream::iter(vec![options(), summary()])),
        )
        .await
        .expect("an over-limit request must be answered, not hang");
        match res {
            Err(s) if s.code() == tonic::Code::ResourceExhausted => {
                assert_overloaded(&s);
                shed += 1;
                first_code.get_or_insert(s.code());
                if shed == 3 {
                    break;
                }
            }
            // Before both long calls hold their permits a short call may pass.
            Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            Err(s) => panic!("unexpected status {s:?}"),
        }
    }
    eprintln!("open streams shed and opened again: {reopened}");
    assert_eq!(shed, 3, "over-limit requests were not shed");
    assert!(
        open.iter().all(|(_, c)| !c.is_finished()),
        "open calls ended early"
    );
    assert_eq!(first_code, Some(tonic::Code::ResourceExhausted));
    // The request metrics count every shed request under its code (not as
    // an unknown transport error): the three short calls and the reopened
    // open streams.
    let counted = GRPC
        .handled
        .with_label_values(&[
            "shadowkpi.v1.ExportService",
            "ExportSummaries",
            "ResourceExhausted",
        ])
        .get();
    assert_eq!(
        counted,
        3 + reopened,
        "shed requests in grpc_server_handled_total"
    );

    // Closing the open streams frees the permits: the next request succeeds.
    for (tx, call) in open {
        drop(tx);
        let report = call.await.unwrap().unwrap().into_inner().report.unwrap();
        assert!(report.dry_run);
    }
    let mut client = ExportServiceClient::new(channel.clone());
    let ok = client
        .export_summaries(tokio_stream::iter(vec![options(), summary()]))
        .await;
    assert!(ok.is_ok(), "{ok:?}");
    handle.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_stream_outlives_the_request_deadline() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = host(ExportServer::new(Arc::new(MemoryStore::new())))
        .with_limits(Limits {
            request_timeout: Duration::from_millis(100),
            ..Limits::default()
        })
        .spawn_on(listener, Shutdown::new())
        .unwrap();
    let mut client = ExportServiceClient::new(
        tonic::transport::Endpoint::from_shared(handle.url())
            .unwrap()
            .connect()
            .await
            .unwrap(),
    );
    let (tx, rx) = mpsc::channel(4);
    tx.send(options()).await.unwrap();
    let call = tokio::spawn(async move { client.export_summaries(ReceiverStream::new(rx)).await });
    // A soak streams summaries for as long as it runs: far past the deadline.
    tokio::time::sleep(Duration::from_millis(500)).await;
    tx.send(summary()).await.unwrap();
    drop(tx);
    let report = call.await.unwrap().unwrap().into_inner().report.unwrap();
    assert_eq!(report.summaries, 1);
    handle.stop().await.unwrap();
}

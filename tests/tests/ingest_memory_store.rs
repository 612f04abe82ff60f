//! The all-in-one mode runs ingestd over the in-process store: the same
//! pipeline gives the same exact counts and delivers every good tick once.

mod ingest_common;

use std::sync::Arc;

use ingest_common::*;
use shadowkpi_domain::feed::synthetic::{FaultRates, SyntheticConfig};
use shadowkpi_feed::{CancellationToken, PublishOptions, publish_synthetic};
use shadowkpi_store::{MemoryStore, Store};
use shadowkpi_testkit::wait_until;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_process_store_gives_the_same_exact_counts() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let report = publish_synthetic(
        &*store,
        SyntheticConfig {
            duration_ms: 10_000,
            rate: 1_000.0,
            faults: FaultRates {
                gap: 0.01,
                duplicate: 0.01,
                reorder: 0.02,
                malformed: 0.01,
            },
            ..SyntheticConfig::default()
        },
        &PublishOptions::default(),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let (server, _shutdown) = start(store.clone(), config("ingest-memory")).await;
    let mut c = client(&server.url()).await;
    let mut sub = subscribe(&mut c, "all-in-one", &[]).await;
    let mut got = Received::default();
    collect_until(&mut sub, &mut got, |r| r.ticks.len() as u64 == report.ticks).await;
    for ticks in got.by_symbol().values() {
        assert_ordered(ticks);
    }
    let s = wait_until(HANG, || {
        let mut c = c.clone();
        let n = report.entries_written;
        async move { Some(stats(&mut c).await).filter(|s| s.acked_total == n) }
    })
    .await
    .expect("everything acknowledged");
    for sym in &s.symbols {
        let want = &report.symbols[&sym.symbol];
        let k = sym.counters.unwrap_or_default();
        assert_eq!(
            (sym.ticks, k.seq_gaps, k.reordered, k.duplicates, k.rejected),
            (
                want.ticks,
                want.seq_gaps,
                want.reordered,
                want.duplicates,
                want.rejected
            ),
            "{}",
            sym.symbol
        );
    }
    assert_eq!(s.rejected_total, report.rejected.values().sum::<u64>());
    assert_eq!(store.pending_count("lob:ticks", "shadow").await.unwrap(), 0);
    assert_eq!(
        store.stream_len("lob:ticks:dlq").await.unwrap(),
        s.rejected_total
    );
}

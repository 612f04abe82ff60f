//! A minimal subscriber: prints the ticks ingestd streams, one line each, and
//! the counter increments that come with them.
//!
//! ```text
//! cargo run -p ingestd --example subscribe                                # all symbols, 127.0.0.1:50051
//! cargo run -p ingestd --example subscribe -- http://127.0.0.1:50051 BTCUSDT ETHUSDT
//! ```

use shadowkpi_proto::v1::SubscribeRequest;
use shadowkpi_proto::v1::ingest_service_client::IngestServiceClient;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:50051".to_string());
    let symbols: Vec<String> = args.collect();
    let mut client = IngestServiceClient::connect(addr).await?;
    let mut stream = client
        .subscribe(SubscribeRequest {
            symbols,
            subscriber: "example".into(),
            max_batch: 0,
            ..Default::default()
        })
        .await?
        .into_inner();
    while let Some(batch) = stream.message().await? {
        for (sym, c) in &batch.counters {
            println!(
                "# {sym}: +{} gaps, +{} reordered, +{} duplicates, +{} rejected, +{} dropped",
                c.seq_gaps, c.reordered, c.duplicates, c.rejected, c.bp_drops
            );
        }
        for t in &batch.ticks {
            println!(
                "{} seq={} ts={} bid={} ask={} last_qty={} side={} lag_ms={}",
                t.symbol,
                t.seq,
                t.ts_server_ms,
                t.bid,
                t.ask,
                t.last_qty,
                t.side,
                t.ts_ingest_ms - t.ts_server_ms
            );
        }
    }
    Ok(())
}

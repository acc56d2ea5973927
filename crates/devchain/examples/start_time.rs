//! Prints how long the harness takes to start a privnet: `cargo run -p nsl-devchain --example
//! start_time -- [block_ms] [chains]`. Set NSL_CACHE_DIR to an empty directory to measure a cold
//! cache (includes the neo-go download).

use std::time::{Duration, Instant};

use nsl_devchain::{ChainConfig, DevChain};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let block_ms: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(200);
    let chains: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1);
    let t = Instant::now();
    let handles: Vec<_> = (0..chains)
        .map(|_| {
            tokio::spawn(async move {
                let t = Instant::now();
                let cfg = ChainConfig::with_block_time(Duration::from_millis(block_ms));
                let chain = DevChain::start(cfg).await?;
                Ok::<_, nsl_devchain::DevchainError>((chain, t.elapsed()))
            })
        })
        .collect();
    let mut results = Vec::new();
    for h in handles {
        results.push(h.await?);
    }
    for r in &results {
        match r {
            Ok((chain, took)) => println!("{} up in {took:?}", chain.rpc_url()),
            Err(e) => println!("failed: {e}"),
        }
    }
    println!(
        "{chains} chain(s) at {block_ms} ms blocks: all up in {:?}",
        t.elapsed()
    );
    Ok(())
}

//! The chain harness itself: start, state and cleanup.

use std::path::PathBuf;
use std::time::Duration;

use nsl_e2e::start_chain;

fn process_alive(pid: u32) -> bool {
    // A zombie is gone for our purposes; /proc/<pid>/stat's third field is the state.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

#[tokio::test]
async fn drop_stops_neo_go_and_removes_the_directory() {
    let chain = start_chain().await;
    let pid = chain.pid().expect("neo-go runs");
    let dir: PathBuf = chain.dir().to_owned();
    let url = chain.rpc_url().to_owned();
    assert!(process_alive(pid));
    assert!(dir.join("neogo.log").is_file());
    assert!(dir.join("protocol.yml").is_file());
    // The chain keeps producing blocks.
    let h1 = chain.rpc().get_block_count().await.unwrap();
    tokio::time::sleep(chain.block_time() * 3).await;
    assert!(chain.rpc().get_block_count().await.unwrap() > h1);

    drop(chain);
    assert!(!process_alive(pid), "neo-go {pid} still running");
    assert!(!dir.exists(), "{} left behind", dir.display());
    let rpc = neo_rpc::RpcClient::with_timeout(url, Duration::from_secs(2)).unwrap();
    let err = rpc.get_block_count().await.unwrap_err();
    assert!(err.is_transport(), "{err}");
}

#[tokio::test]
async fn parallel_chains_are_independent() {
    let (a, b) = tokio::join!(start_chain(), start_chain());
    assert_ne!(a.rpc_url(), b.rpc_url());
    assert_ne!(a.committee_hash(), b.committee_hash());
    // Funding on one chain does not show on the other.
    let key = neo::PrivateKey::generate();
    a.fund(&key.script_hash(), neo_rpc::ONE_GAS).await.unwrap();
    let on_a = neo_rpc::Nep17::gas(a.rpc().clone())
        .balance_of(&key.script_hash())
        .await
        .unwrap();
    let on_b = neo_rpc::Nep17::gas(b.rpc().clone())
        .balance_of(&key.script_hash())
        .await
        .unwrap();
    assert_eq!(on_a, neo_rpc::ONE_GAS.into());
    assert_eq!(on_b, 0.into());
}

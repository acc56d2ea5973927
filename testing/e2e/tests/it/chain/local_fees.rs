//! `Actor::make_tx_local`: transactions built without RPC round trips carry exactly the network
//! fee the node computes, and the chain accepts them.

use neo::{Arg, BigInt, PrivateKey, PublicKey};
use neo_rpc::{Account, Actor, Nep17, ONE_GAS};
use nsl_e2e::start_chain;

#[tokio::test]
async fn local_network_fee_matches_the_node_and_is_accepted() {
    let chain = start_chain().await;
    let rpc = chain.rpc().clone();
    let gas = Nep17::gas(rpc.clone());

    let single = Account::single(PrivateKey::generate());
    let keys: Vec<PrivateKey> = (0..4).map(|_| PrivateKey::generate()).collect();
    let pubs: Vec<PublicKey> = keys.iter().map(PrivateKey::public_key).collect();
    let multisig = Account::multisig(3, pubs, keys[..3].to_vec()).unwrap();
    for a in [&single, &multisig] {
        chain.fund(&a.script_hash(), 10 * ONE_GAS).await.unwrap();
    }
    let dest = PrivateKey::generate().script_hash();

    for (name, accounts) in [
        ("single", vec![single.clone()]),
        ("3-of-4 multisig", vec![multisig.clone()]),
        ("single + multisig", vec![single.clone(), multisig.clone()]),
    ] {
        let actor = Actor::new(rpc.clone(), accounts).await.unwrap();
        let script = gas
            .transfer_script(&actor.sender(), &dest, ONE_GAS, Arg::Null)
            .unwrap();
        let fees = actor.local_fees().await.unwrap();
        assert!(
            fees.fee_per_byte > 0 && fees.exec_fee_factor > 0,
            "{fees:?}"
        );
        let test = actor.invoker().invoke_script(&script).await.unwrap();
        let tx = actor
            .make_tx_local(&script, test.gasconsumed, &fees)
            .unwrap();
        let node_fee = rpc.calculate_network_fee(&tx.to_bytes()).await.unwrap();
        assert_eq!(
            tx.network_fee, node_fee,
            "{name}: local vs calculatenetworkfee"
        );
        // Built from the rpc-less path, the transaction is valid and executes.
        let before = gas.balance_of(&dest).await.unwrap();
        let sent = actor.send_tx(&tx).await.unwrap();
        let out = actor.wait(&sent, actor.wait_timeout()).await.unwrap();
        assert!(out.is_halt(), "{name}: {:?}", out.exception);
        assert_eq!(
            gas.balance_of(&dest).await.unwrap(),
            before + BigInt::from(ONE_GAS),
            "{name}"
        );
    }
}

//! A 2-of-3 multisig account: funded, then spending with two of its keys.

use neo::{Arg, BigInt, PrivateKey, PublicKey};
use neo_rpc::{Account, Actor, Nep17, ONE_GAS, codes};
use nsl_e2e::start_chain;

#[tokio::test]
async fn two_of_three_multisig_receives_and_spends() {
    let chain = start_chain().await;
    let rpc = chain.rpc().clone();
    let gas = Nep17::gas(rpc.clone());

    let keys: Vec<PrivateKey> = (0..3).map(|_| PrivateKey::generate()).collect();
    let pubs: Vec<PublicKey> = keys.iter().map(PrivateKey::public_key).collect();
    // Signing with keys 0 and 2 (any two of three).
    let multisig =
        Account::multisig(2, pubs.clone(), vec![keys[2].clone(), keys[0].clone()]).unwrap();
    assert_eq!(
        multisig.script_hash(),
        neo::multisig_script_hash(2, &pubs).unwrap()
    );

    chain
        .fund(&multisig.script_hash(), 20 * ONE_GAS)
        .await
        .unwrap();
    assert_eq!(
        gas.balance_of(&multisig.script_hash()).await.unwrap(),
        BigInt::from(20 * ONE_GAS)
    );

    let dave = PrivateKey::generate();
    let actor = Actor::new(rpc.clone(), vec![multisig.clone()])
        .await
        .unwrap();
    let out = gas
        .transfer(&actor, &dave.script_hash(), 4 * ONE_GAS, Arg::Null)
        .await
        .unwrap();
    assert!(out.is_halt(), "{:?}", out.exception);
    assert_eq!(
        gas.balance_of(&dave.script_hash()).await.unwrap(),
        BigInt::from(4 * ONE_GAS)
    );
    assert_eq!(
        gas.balance_of(&multisig.script_hash()).await.unwrap(),
        BigInt::from(16 * ONE_GAS - out.system_fee - out.network_fee)
    );
    // The witness on chain carries the 2-of-3 verification script.
    let tx = rpc.get_raw_transaction(&out.hash).await.unwrap();
    assert_eq!(tx.witnesses.len(), 1);
    assert_eq!(tx.sender, multisig.address());
}

#[tokio::test]
async fn tampered_multisig_witness_is_refused_with_rpc_error() {
    let chain = start_chain().await;
    let rpc = chain.rpc().clone();
    let keys: Vec<PrivateKey> = (0..3).map(|_| PrivateKey::generate()).collect();
    let pubs: Vec<PublicKey> = keys.iter().map(PrivateKey::public_key).collect();
    let multisig = Account::multisig(2, pubs, keys[..2].to_vec()).unwrap();
    chain
        .fund(&multisig.script_hash(), 10 * ONE_GAS)
        .await
        .unwrap();

    let actor = Actor::new(rpc.clone(), vec![multisig.clone()])
        .await
        .unwrap();
    let gas = Nep17::gas(rpc.clone());
    let script = gas
        .transfer_script(
            &multisig.script_hash(),
            &PrivateKey::generate().script_hash(),
            ONE_GAS,
            Arg::Null,
        )
        .unwrap();
    let mut tx = actor.make_tx(&script).await.unwrap();
    // Flip one byte inside the first signature (after the PUSHDATA1 64 prefix).
    tx.witnesses[0].invocation[10] ^= 0xff;
    let err = actor.send_tx(&tx).await.unwrap_err();
    assert_eq!(err.rpc_code(), Some(codes::INVALID_SIGNATURE), "{err}");
    assert!(!err.is_transport());
}

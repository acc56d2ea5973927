//! End to end: Neo's native OracleContract answered by `nsl-oracle`.
//!
//! A privnet starts with a fresh key designated for the Oracle role (Genesis.Roles); the example
//! consumer (`examples/contracts/oracle_consumer`) asks for URLs served by an HTTP server this
//! test runs on 127.0.0.1; `nsl_oracle::NativeOracle` reads each request from the chain, fetches
//! through `nsl-egress` (development policy: http and private hosts allowed), filters, builds and
//! signs the response transaction and sends it. The consumer's callback stores what arrived.
//!
//! The last test runs the same answer pipeline on the NSL gateway path: the gateway's
//! `ServiceRequest` event is decoded by `nsl_oracle::gateway` and answered with `fulfill`.

use std::path::PathBuf;
use std::time::Duration;

use neo::{Arg, BigInt, PrivateKey, UInt160};
use neo_rpc::native::ORACLE;
use neo_rpc::{
    Account, Actor, ContractManagement, Invoker, Nep17, ONE_GAS, SentTx, SignerAccount, TxOutcome,
    wait_for,
};
use neo_rpc::{LocalFees, Policy, Role, RoleManagement};
use nsl_devchain::{ChainConfig, DevChain, ToolCache};
use nsl_e2e::{
    PRICE_BODY, compile_contract, price_server, start_chain, start_chain_with, test_block_time,
};
use nsl_egress::{Egress, EgressPolicy};
use nsl_oracle::native::{
    ChainView, NativeOracle, oracle_threshold, oracle_verification_script, request_key,
    response_network_fee, unsigned_response_tx,
};
use nsl_oracle::{ResponseCode, ResponseTx};

/// Ask the consumer for `url` with `filter`; returns the request id found in the transaction.
async fn request(
    oracle: &NativeOracle<PrivateKey>,
    user: &Actor,
    consumer: &UInt160,
    url: &str,
    filter: &str,
) -> u64 {
    let out = user
        .call(
            consumer,
            "requestData",
            &[
                Arg::String(url.into()),
                Arg::String(filter.into()),
                Arg::Int((ONE_GAS / 5).into()),
            ],
        )
        .await
        .unwrap()
        .into_halt()
        .unwrap();
    let events = oracle.requests_in_tx(&out.hash).await.unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].request_contract, *consumer);
    assert_eq!(events[0].url, url);
    assert_eq!(events[0].filter.as_deref(), Some(filter));
    events[0].id
}

async fn wait_response(chain: &DevChain, response: &ResponseTx) -> TxOutcome {
    let sent = SentTx {
        hash: response.tx.hash(),
        valid_until_block: response.tx.valid_until_block,
        system_fee: response.tx.system_fee,
        network_fee: response.tx.network_fee,
    };
    let out = wait_for(
        chain.rpc(),
        &sent,
        Duration::from_secs(60),
        chain.block_time(),
    )
    .await
    .unwrap();
    assert!(out.is_halt(), "{:?}", out.exception);
    out
}

/// `(url, code, result)` of the consumer's `DataReceived` event in `out`.
fn data_received(out: &TxOutcome, consumer: &UInt160) -> (String, BigInt, Vec<u8>) {
    let ev = out
        .events(consumer, "DataReceived")
        .next()
        .expect("DataReceived event");
    let args = ev.args();
    (
        args[0].as_string().unwrap(),
        args[2].as_int().unwrap(),
        args[3].as_bytes().unwrap(),
    )
}

#[tokio::test]
async fn native_oracle_requests_are_answered_by_nsl_oracle() {
    let oracle_key = PrivateKey::generate();
    let config = ChainConfig {
        oracle_keys: vec![oracle_key.public_key()],
        ..ChainConfig::with_block_time(test_block_time())
    };
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/contracts/oracle_consumer/oracle_consumer.py");
    let (chain, compiled, server) = tokio::join!(
        start_chain_with(config),
        async {
            tokio::task::spawn_blocking(move || compile_contract(&ToolCache::from_env()?, &source))
                .await
                .expect("compile task")
                .expect("oracle_consumer.py compiles")
        },
        price_server()
    );
    let rpc = chain.rpc().clone();
    let user_key = chain.new_funded_account(100 * ONE_GAS).await.unwrap();
    let user = Actor::new(rpc.clone(), vec![Account::single(user_key)])
        .await
        .unwrap();
    let consumer = ContractManagement::new(rpc.clone())
        .deploy(&user, &compiled.nef, &compiled.manifest, Arg::Null)
        .await
        .unwrap()
        .hash;

    let egress = Egress::new(EgressPolicy {
        allow_http: true,
        allow_private_hosts: true,
        ..EgressPolicy::default()
    })
    .unwrap();
    let oracle = NativeOracle::connect(rpc.clone(), egress, oracle_key.clone())
        .await
        .unwrap();
    assert_eq!(
        oracle.oracle_nodes().await.unwrap(),
        vec![oracle_key.public_key()]
    );

    // 1. A filtered value.
    let url = format!("http://{}/price", server.addr);
    let id = request(&oracle, &user, &consumer, &url, "$.data.price").await;
    assert!(
        rpc.get_storage(&ORACLE, &request_key(id))
            .await
            .unwrap()
            .is_some()
    );
    let response = oracle.answer_request(id).await.unwrap();
    assert_eq!(response.code, ResponseCode::Success);
    let out = wait_response(&chain, &response).await;
    assert_eq!(
        data_received(&out, &consumer),
        (url.clone(), BigInt::from(0), b"[42.17]".to_vec())
    );
    let last = Invoker::new(rpc.clone())
        .call_item(&consumer, "getLastResponse", &[])
        .await
        .unwrap();
    let last = last.as_array().unwrap();
    assert_eq!(last[0].as_string().unwrap(), url);
    assert_eq!(last[1].as_i64().unwrap(), 0);
    assert_eq!(last[2].as_bytes().unwrap(), b"[42.17]");
    // Answered requests leave the Oracle contract's storage.
    assert_eq!(
        rpc.get_storage(&ORACLE, &request_key(id)).await.unwrap(),
        None
    );
    // The fees: the request's gasForResponse pays both.
    assert_eq!(
        response.tx.system_fee + response.tx.network_fee,
        ONE_GAS / 5
    );

    // 2. A wildcard filter over an array.
    let id = request(&oracle, &user, &consumer, &url, "$.data.sources[*]").await;
    let response = oracle.answer_request(id).await.unwrap();
    let out = wait_response(&chain, &response).await;
    assert_eq!(data_received(&out, &consumer).2, br#"["a","b"]"#.to_vec());

    // 3. A page that does not exist: NotFound (0x14) with an empty result, on chain.
    let missing = format!("http://{}/nothing-here", server.addr);
    let id = request(&oracle, &user, &consumer, &missing, "$.data.price").await;
    let response = oracle.answer_request(id).await.unwrap();
    assert_eq!(response.code, ResponseCode::NotFound);
    let out = wait_response(&chain, &response).await;
    assert_eq!(
        data_received(&out, &consumer),
        (missing.clone(), BigInt::from(0x14), Vec::new())
    );
    let count = Invoker::new(rpc.clone())
        .call_item(&consumer, "getResponseCount", &[])
        .await
        .unwrap();
    assert_eq!(count.as_i64().unwrap(), 3);

    // 4. Requests left unanswered (a node restart) are found in the Oracle contract's storage.
    let a = request(&oracle, &user, &consumer, &url, "$.pair").await;
    let b = request(&oracle, &user, &consumer, &missing, "").await;
    let pending = oracle.pending_requests().await.unwrap();
    let ids: Vec<u64> = pending.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, vec![a, b]);
    assert_eq!(pending[0].1.url, url);
    assert_eq!(pending[0].1.filter.as_deref(), Some("$.pair"));
    assert_eq!(pending[0].1.callback_contract, consumer);
    assert_eq!(pending[0].1.callback_method, "callback");
    assert_eq!(pending[0].1.gas_for_response, ONE_GAS / 5);
    assert_eq!(pending[1].1.filter.as_deref(), Some(""));
    let first = oracle.answer_request(a).await.unwrap();
    let second = oracle.answer_request(b).await.unwrap();
    let out = wait_response(&chain, &first).await;
    assert_eq!(data_received(&out, &consumer).2, br#"["NEO-USD"]"#.to_vec());
    let out = wait_response(&chain, &second).await;
    assert_eq!(data_received(&out, &consumer).1, BigInt::from(0x14));
    assert!(oracle.pending_requests().await.unwrap().is_empty());

    // 5. A request that was already answered is gone.
    assert!(matches!(
        oracle.answer_request(id).await,
        Err(nsl_oracle::OracleError::RequestNotFound(_))
    ));
}

#[tokio::test]
async fn a_key_that_is_not_designated_does_not_answer() {
    let designated = PrivateKey::generate();
    let config = ChainConfig {
        oracle_keys: vec![designated.public_key()],
        ..ChainConfig::with_block_time(test_block_time())
    };
    let chain = start_chain_with(config).await;
    let egress = Egress::new(EgressPolicy::default()).unwrap();
    let outsider = PrivateKey::generate();
    let oracle = NativeOracle::connect(chain.rpc().clone(), egress, outsider.clone())
        .await
        .unwrap();
    let request = nsl_oracle::OracleRequest {
        original_txid: neo::UInt256::default(),
        gas_for_response: ONE_GAS,
        url: "https://example.com".into(),
        filter: None,
        callback_contract: UInt160::default(),
        callback_method: "callback".into(),
        user_data: Vec::new(),
    };
    let answer = nsl_oracle::Answer::failure(ResponseCode::Error, "test");
    match oracle.build_response(0, &request, &answer).await {
        Err(nsl_oracle::OracleError::NotDesignated { key }) => {
            assert_eq!(key, outsider.public_key())
        }
        other => panic!("expected NotDesignated, got {other:?}"),
    }
}

async fn compile_repo(relative: &'static str) -> nsl_devchain::CompiledContract {
    nsl_e2e::compile_repo_contract(relative).await
}

#[tokio::test]
async fn gateway_oracle_requests_are_fulfilled_by_nsl_oracle() {
    let (chain, gateway_contract, consumer_contract, server) = tokio::join!(
        start_chain(),
        compile_repo("contracts/gateway/gateway.py"),
        compile_repo("examples/contracts/gateway_consumer/gateway_consumer.py"),
        price_server()
    );
    let rpc = chain.rpc().clone();
    let actor = |key: PrivateKey| Actor::new(rpc.clone(), vec![Account::single(key)]);
    let owner = actor(chain.new_funded_account(200 * ONE_GAS).await.unwrap())
        .await
        .unwrap();
    let user = actor(chain.new_funded_account(200 * ONE_GAS).await.unwrap())
        .await
        .unwrap();
    let node_key = chain.new_funded_account(50 * ONE_GAS).await.unwrap();

    let cm = ContractManagement::new(rpc.clone());
    let gateway = cm
        .deploy(
            &owner,
            &gateway_contract.nef,
            &gateway_contract.manifest,
            Arg::Null,
        )
        .await
        .unwrap()
        .hash;
    let consumer = cm
        .deploy(
            &user,
            &consumer_contract.nef,
            &consumer_contract.manifest,
            Arg::Hash160(gateway),
        )
        .await
        .unwrap()
        .hash;
    owner
        .call(
            &gateway,
            "addNode",
            &[Arg::PublicKey(node_key.public_key())],
        )
        .await
        .unwrap()
        .into_halt()
        .unwrap();
    Nep17::gas(rpc.clone())
        .transfer(&user, &gateway, 5 * ONE_GAS, Arg::Hash160(consumer))
        .await
        .unwrap()
        .into_halt()
        .unwrap();

    // The node signs fulfil transactions with its own account, usable by the gateway only.
    let node = Actor::with_signers(
        rpc.clone(),
        vec![SignerAccount::with_signer(
            Account::single(node_key.clone()),
            nsl_oracle::gateway::fulfill_signer(node_key.script_hash(), gateway),
        )],
    )
    .await
    .unwrap();
    let egress = Egress::new(EgressPolicy {
        allow_http: true,
        allow_private_hosts: true,
        ..EgressPolicy::default()
    })
    .unwrap();

    let price = format!("http://{}/price", server.addr);
    let missing = format!("http://{}/gone", server.addr);
    for (url, filter, code, result) in [
        (&price, "$.data.price", 0u8, &b"[42.17]"[..]),
        (&price, "", 0, PRICE_BODY.as_bytes()),
        (&missing, "$.data.price", 0x14, &b""[..]),
    ] {
        let out = user
            .call(
                &consumer,
                "requestValue",
                &[Arg::String(url.clone()), Arg::String(filter.into())],
            )
            .await
            .unwrap()
            .into_halt()
            .unwrap();
        let requests: Vec<_> = out
            .notifications
            .iter()
            .filter_map(|n| nsl_oracle::gateway::parse_service_request(&gateway, n).unwrap())
            .collect();
        assert_eq!(requests.len(), 1);
        let request = &requests[0];
        assert_eq!(request.service_type, "oracle");
        assert_eq!(request.callback_contract, consumer);
        assert_eq!(request.requester, consumer);

        let answer = nsl_oracle::gateway::answer_service_request(&egress, request).await;
        assert_eq!(
            (answer.code as u8, answer.result.as_slice()),
            (code, result)
        );
        let fulfilled = nsl_oracle::gateway::fulfill(
            &node,
            &gateway,
            request.request_id,
            &answer,
            nsl_oracle::service::SYSTEM_FEE_MARGIN,
        )
        .await
        .unwrap()
        .into_halt()
        .unwrap();
        let response = fulfilled
            .events(&gateway, "ServiceResponse")
            .next()
            .expect("ServiceResponse event");
        assert_eq!(response.args()[2].as_i64().unwrap(), i64::from(code));
        assert!(response.args()[4].as_bool().unwrap(), "callback ran");
        let stored = Invoker::new(rpc.clone())
            .call_item(
                &consumer,
                "getResult",
                &[Arg::Int(request.request_id.into())],
            )
            .await
            .unwrap();
        let stored = stored.as_array().unwrap();
        assert_eq!(stored[0].as_i64().unwrap(), i64::from(code));
        assert_eq!(stored[1].as_bytes().unwrap(), result);
    }
}

/// Chain, example consumer, local price server and a user: what the native tests share.
async fn consumer_chain(
    oracle_keys: Vec<neo::PublicKey>,
) -> (DevChain, UInt160, Actor, nsl_e2e::PriceServer) {
    let config = ChainConfig {
        oracle_keys,
        ..ChainConfig::with_block_time(test_block_time())
    };
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/contracts/oracle_consumer/oracle_consumer.py");
    let (chain, compiled, server) = tokio::join!(
        start_chain_with(config),
        async {
            tokio::task::spawn_blocking(move || compile_contract(&ToolCache::from_env()?, &source))
                .await
                .expect("compile task")
                .expect("oracle_consumer.py compiles")
        },
        price_server()
    );
    let rpc = chain.rpc().clone();
    let user_key = chain.new_funded_account(100 * ONE_GAS).await.unwrap();
    let user = Actor::new(rpc.clone(), vec![Account::single(user_key)])
        .await
        .unwrap();
    let consumer = ContractManagement::new(rpc.clone())
        .deploy(&user, &compiled.nef, &compiled.manifest, Arg::Null)
        .await
        .unwrap()
        .hash;
    (chain, consumer, user, server)
}

fn dev_egress() -> Egress {
    Egress::new(EgressPolicy {
        allow_http: true,
        allow_private_hosts: true,
        ..EgressPolicy::default()
    })
    .unwrap()
}

/// The chain as the follower would describe it for request `record`: the node's height and the
/// block of the request's transaction.
async fn view_of(rpc: &neo_rpc::RpcClient, record: &nsl_oracle::OracleRequest) -> ChainView {
    ChainView {
        height: rpc.get_block_count().await.unwrap() - 1,
        request_height: rpc
            .get_transaction_height(&record.original_txid)
            .await
            .unwrap(),
    }
}

/// Native responses priced locally cost exactly what the node's `calculatenetworkfee` says (for
/// 1-of-1, 3-of-4 and 5-of-7 oracle designations and results of 0, 7 and 1,000 bytes), and
/// responses built by `build_response_at` (validUntilBlock from the request's block, the
/// designation read once, the fee computed locally after the first response checked it) are
/// accepted and delivered.
#[tokio::test]
async fn native_responses_priced_locally_pay_the_node_fee_and_are_delivered() {
    let oracle_key = PrivateKey::generate();
    let (chain, consumer, user, server) = consumer_chain(vec![oracle_key.public_key()]).await;
    let rpc = chain.rpc().clone();
    let policy = Policy::new(rpc.clone());
    let fees = LocalFees {
        height: 0,
        fee_per_byte: policy.fee_per_byte().await.unwrap(),
        exec_fee_factor: policy.exec_fee_factor().await.unwrap(),
    };
    for n in [1usize, 4, 7] {
        let keys: Vec<_> = (0..n)
            .map(|_| PrivateKey::generate().public_key())
            .collect();
        let verification = oracle_verification_script(&keys).unwrap();
        for len in [0usize, 7, 1000] {
            let tx = unsigned_response_tx(
                3,
                ResponseCode::Success,
                vec![b'7'; len],
                1000,
                &verification,
            );
            let node = rpc.calculate_network_fee(&tx.to_bytes()).await.unwrap();
            assert_eq!(
                response_network_fee(&tx, oracle_threshold(n), n, &fees),
                node,
                "{n} oracle nodes, {len}-byte result"
            );
        }
    }

    let oracle = NativeOracle::connect(rpc.clone(), dev_egress(), oracle_key.clone())
        .await
        .unwrap();
    assert_eq!(
        oracle.local_fees(),
        None,
        "not checked before the first response"
    );
    let increment = rpc
        .get_version()
        .await
        .unwrap()
        .protocol
        .maxvaliduntilblockincrement;
    let url = format!("http://{}/price", server.addr);
    for (filter, expect) in [
        ("$.data.price", &b"[42.17]"[..]),
        ("$.data.sources[*]", &br#"["a","b"]"#[..]),
    ] {
        let id = request(&oracle, &user, &consumer, &url, filter).await;
        let record = oracle.request(id).await.unwrap();
        let view = view_of(&rpc, &record).await;
        let answer = nsl_oracle::answer(&dev_egress(), &record.url, record.filter.as_deref()).await;
        let response = oracle
            .build_response_at(id, &record, &answer, view)
            .await
            .unwrap();
        assert_eq!(
            oracle.local_fees(),
            Some(true),
            "the local price equals the node's"
        );
        assert_eq!(
            response.tx.valid_until_block,
            view.request_height + increment
        );
        assert_eq!(
            response.tx.network_fee,
            rpc.calculate_network_fee(&response.tx.to_bytes())
                .await
                .unwrap(),
            "signed response: local fee vs calculatenetworkfee"
        );
        assert_eq!(
            response.tx.system_fee + response.tx.network_fee,
            ONE_GAS / 5
        );
        oracle.send(&response).await.unwrap();
        let out = wait_response(&chain, &response).await;
        assert_eq!(data_received(&out, &consumer).2, expect.to_vec());
    }
}

/// The designation is read once per height and again once the height passes a new
/// designation: after the committee replaces the oracle key, the replaced key's node no longer
/// builds responses (the chain would refuse them) and the new key's response is delivered.
#[tokio::test]
async fn a_new_oracle_designation_is_used_from_the_block_after_it() {
    let old = PrivateKey::generate();
    let new = PrivateKey::generate();
    let (chain, consumer, user, server) = consumer_chain(vec![old.public_key()]).await;
    let rpc = chain.rpc().clone();
    let old_node = NativeOracle::connect(rpc.clone(), dev_egress(), old.clone())
        .await
        .unwrap();
    let new_node = NativeOracle::connect(rpc.clone(), dev_egress(), new.clone())
        .await
        .unwrap();
    let url = format!("http://{}/price", server.addr);
    let id = request(&old_node, &user, &consumer, &url, "$.data.price").await;
    let record = old_node.request(id).await.unwrap();
    let answer = nsl_oracle::answer(&dev_egress(), &url, Some("$.data.price")).await;
    let before = view_of(&rpc, &record).await;
    old_node
        .build_response_at(id, &record, &answer, before)
        .await
        .expect("the designated key builds");
    assert!(matches!(
        new_node
            .build_response_at(id, &record, &answer, before)
            .await,
        Err(nsl_oracle::OracleError::NotDesignated { .. })
    ));

    // The committee designates the new key instead (effective from the next block).
    let committee = chain.committee_actor().await.unwrap();
    let out = RoleManagement::new(rpc.clone())
        .designate_as_role(&committee, Role::Oracle, &[new.public_key()])
        .await
        .unwrap();
    let after = ChainView {
        height: out.block_index,
        ..before
    };
    match old_node
        .build_response_at(id, &record, &answer, after)
        .await
    {
        Err(nsl_oracle::OracleError::NotDesignated { key }) => assert_eq!(key, old.public_key()),
        other => panic!("the replaced key still builds: {other:?}"),
    }
    let response = new_node
        .build_response_at(id, &record, &answer, after)
        .await
        .unwrap();
    new_node.send(&response).await.unwrap();
    let out = wait_response(&chain, &response).await;
    assert_eq!(data_received(&out, &consumer).2, b"[42.17]".to_vec());
}

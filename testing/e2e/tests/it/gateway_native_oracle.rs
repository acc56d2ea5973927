//! End-to-end test of the native-oracle example consumer
//! (`examples/contracts/oracle_consumer/oracle_consumer.py`): the request reaches Neo's native
//! OracleContract with the parameters the example documents, and a response transaction built
//! with the project's crates (as a designated oracle node sends it) runs the example's callback,
//! which stores the value. Nobody else can call the callback.

use std::path::PathBuf;
use std::time::Duration;

use neo::{
    Arg, BigInt, CallFlags, OracleResponseCode, PrivateKey, ScriptBuilder, Signer, StackItem,
    Transaction, TransactionAttribute, Witness, multisig_script,
};
use neo_rpc::native::ORACLE;
use neo_rpc::{Account, Actor, ContractManagement, Invoker, ONE_GAS, SentTx, wait_for};
use nsl_devchain::{ChainConfig, ToolCache};
use nsl_e2e::{compile_contract, start_chain_with, test_block_time};

/// Storage prefix of requests in the native Oracle contract (`0x07 || id as u64 big-endian`).
const ORACLE_REQUEST_PREFIX: u8 = 0x07;

#[tokio::test]
async fn native_oracle_consumer_receives_a_response_from_a_designated_node() {
    let oracle_key = PrivateKey::generate();
    let config = ChainConfig {
        oracle_keys: vec![oracle_key.public_key()],
        ..ChainConfig::with_block_time(test_block_time())
    };
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/contracts/oracle_consumer/oracle_consumer.py");
    let (chain, compiled) = tokio::join!(start_chain_with(config), async {
        tokio::task::spawn_blocking(move || compile_contract(&ToolCache::from_env()?, &source))
            .await
            .expect("compile task")
            .expect("oracle_consumer.py compiles")
    });
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

    // The consumer asks the native oracle; the Oracle contract emits OracleRequest.
    let url = "https://api.example.com/price";
    let filter = "$.data.price";
    let gas_for_response = ONE_GAS / 5;
    let out = user
        .call(
            &consumer,
            "requestData",
            &[
                Arg::String(url.into()),
                Arg::String(filter.into()),
                Arg::Int(gas_for_response.into()),
            ],
        )
        .await
        .unwrap()
        .into_halt()
        .unwrap();
    let request = out
        .events(&ORACLE, "OracleRequest")
        .next()
        .expect("OracleRequest event");
    let args = request.args();
    let id = args[0].as_u64().unwrap();
    assert_eq!(args[1].as_hash160().unwrap(), consumer);
    assert_eq!(args[2].as_string().unwrap(), url);
    assert_eq!(args[3].as_string().unwrap(), filter);
    assert_eq!(out.events(&consumer, "DataRequested").count(), 1);

    // The stored request: [txid, gasForResponse, url, filter, callbackContract, callbackMethod, userData].
    let mut key = vec![ORACLE_REQUEST_PREFIX];
    key.extend_from_slice(&id.to_be_bytes());
    let raw = rpc.get_storage(&ORACLE, &key).await.unwrap().unwrap();
    let stored = StackItem::deserialize(&raw).unwrap();
    let stored = stored.as_array().unwrap();
    assert_eq!(stored[1].as_i64().unwrap(), gas_for_response);
    assert_eq!(stored[4].as_hash160().unwrap(), consumer);
    assert_eq!(stored[5].as_string().unwrap(), "callback");

    // Only the Oracle contract may call the callback.
    match user
        .call(
            &consumer,
            "callback",
            &[
                Arg::String(url.into()),
                Arg::Null,
                Arg::Int(0.into()),
                Arg::Bytes(b"666".to_vec()),
            ],
        )
        .await
    {
        Err(neo_rpc::Error::Fault { exception }) => assert!(
            exception.contains("only the Oracle contract may call back"),
            "{exception}"
        ),
        other => panic!("a direct callback must FAULT, got {other:?}"),
    }

    // The designated node's response transaction (as neo-go's CreateResponseTx builds it).
    let result = br#"["42.17"]"#.to_vec();
    let request_height = rpc.get_transaction_height(&out.hash).await.unwrap();
    let version = rpc.get_version().await.unwrap();
    let verification = multisig_script(1, &[oracle_key.public_key()]).unwrap();
    let oracle_account = neo::UInt160::from_script(&verification);
    let mut script = ScriptBuilder::new();
    script
        .contract_call(&ORACLE, "finish", CallFlags::ALL, &[])
        .unwrap();
    let mut tx = Transaction::new(
        script.into_bytes(),
        vec![Signer::none(ORACLE), Signer::none(oracle_account)],
        u32::try_from(id).unwrap(),
        request_height + version.protocol.maxvaliduntilblockincrement,
    );
    tx.attributes = vec![TransactionAttribute::OracleResponse {
        id,
        code: OracleResponseCode::Success,
        result: result.clone(),
    }];
    tx.witnesses = vec![
        Witness::new(Vec::new(), Vec::new()),
        Witness::new(Vec::new(), verification.clone()),
    ];
    tx.network_fee = rpc.calculate_network_fee(&tx.to_bytes()).await.unwrap();
    tx.system_fee = gas_for_response - tx.network_fee;
    let signature = tx.sign(&oracle_key, version.protocol.network);
    tx.witnesses[1] =
        Witness::multisig(&verification, &[(oracle_key.public_key(), signature)]).unwrap();
    let hash = rpc.send_raw_transaction(&tx.to_bytes()).await.unwrap();
    assert_eq!(hash, tx.hash());
    let sent = SentTx {
        hash,
        valid_until_block: tx.valid_until_block,
        system_fee: tx.system_fee,
        network_fee: tx.network_fee,
    };
    let response = wait_for(&rpc, &sent, Duration::from_secs(60), chain.block_time())
        .await
        .unwrap();
    assert!(response.is_halt(), "{:?}", response.exception);
    let received = response
        .events(&consumer, "DataReceived")
        .next()
        .expect("DataReceived event");
    let args = received.args();
    assert_eq!(args[0].as_string().unwrap(), url);
    assert_eq!(args[1].as_string().unwrap(), url, "userData is the url");
    assert_eq!(args[2].as_int().unwrap(), BigInt::from(0));
    assert_eq!(args[3].as_bytes().unwrap(), result);

    let last = Invoker::new(rpc.clone())
        .call_item(&consumer, "getLastResponse", &[])
        .await
        .unwrap();
    let last = last.as_array().unwrap();
    assert_eq!(last[0].as_string().unwrap(), url);
    assert_eq!(last[1].as_i64().unwrap(), 0);
    assert_eq!(last[2].as_bytes().unwrap(), result);
    // The request is gone from the Oracle contract once answered.
    assert_eq!(rpc.get_storage(&ORACLE, &key).await.unwrap(), None);
}

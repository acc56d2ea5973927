//! Raw RPC methods and the native contract wrappers against a real chain.

use neo::PrivateKey;
use neo_rpc::native::{self, contract_hash};
use neo_rpc::{Nep17, Oracle, Policy, Role, RoleManagement};
use nsl_e2e::{ChainConfig, start_chain, start_chain_with, test_block_time};

#[tokio::test]
async fn version_blocks_and_native_contracts() {
    let chain = start_chain().await;
    let rpc = chain.rpc();

    let version = rpc.get_version().await.unwrap();
    assert_eq!(version.protocol.network, chain.network_magic());
    assert_eq!(version.protocol.network, nsl_devchain::DEFAULT_MAGIC);
    assert_eq!(version.protocol.addressversion, neo::ADDRESS_VERSION);
    assert_eq!(
        u128::from(version.protocol.msperblock),
        test_block_time().as_millis()
    );
    assert!(version.protocol.maxvaliduntilblockincrement > 0);
    assert_eq!(version.protocol.validatorscount, 1);

    // The harness waited for height >= 2; block 1 links to block 0.
    let count = rpc.get_block_count().await.unwrap();
    assert!(count >= 3, "height {}", count - 1);
    let b0 = rpc.get_block(0).await.unwrap();
    let b1 = rpc.get_block(1).await.unwrap();
    assert_eq!(b1.index, 1);
    assert_eq!(b1.previousblockhash, b0.hash);
    assert_eq!(rpc.get_block(b1.hash).await.unwrap().index, 1);
    // Unknown blocks: RPC errors with NEP-23 codes (not transport errors).
    let err = rpc.get_block(1_000_000).await.unwrap_err();
    assert_eq!(
        err.rpc_code(),
        Some(neo_rpc::codes::UNKNOWN_HEIGHT),
        "{err}"
    );
    let err = rpc.get_block(neo::UInt256::ZERO).await.unwrap_err();
    assert_eq!(err.rpc_code(), Some(neo_rpc::codes::UNKNOWN_BLOCK), "{err}");
    assert!(!err.is_transport());

    // getnativecontracts agrees with the documented hashes and the hash formula.
    let natives = rpc.get_native_contracts().await.unwrap();
    let find = |name: &str| {
        natives
            .iter()
            .find(|c| c.name() == name)
            .unwrap_or_else(|| panic!("{name} missing"))
            .hash
    };
    for (name, hash) in [
        ("ContractManagement", native::CONTRACT_MANAGEMENT),
        ("StdLib", native::STD_LIB),
        ("CryptoLib", native::CRYPTO_LIB),
        ("LedgerContract", native::LEDGER),
        ("NeoToken", native::NEO),
        ("GasToken", native::GAS),
        ("PolicyContract", native::POLICY),
        ("RoleManagement", native::ROLE_MANAGEMENT),
        ("OracleContract", native::ORACLE),
    ] {
        assert_eq!(find(name), hash, "{name}");
        assert_eq!(contract_hash(&neo::UInt160::ZERO, 0, name), hash, "{name}");
    }
    // invokefunction with JSON contract parameters.
    let res = rpc
        .invoke_function(
            &native::NEO,
            "balanceOf",
            &[serde_json::json!({"type": "Hash160", "value": chain.committee_hash().to_string()})],
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        res.into_halt()
            .unwrap()
            .into_single("balanceOf")
            .unwrap()
            .as_i64()
            .unwrap(),
        100_000_000
    );
    let gas_state = rpc.get_contract_state(&native::GAS).await.unwrap();
    assert_eq!(gas_state.name(), "GasToken");

    // The committee holds all genesis NEO; NEO is indivisible.
    let neo_token = Nep17::neo(rpc.clone());
    assert_eq!(neo_token.symbol().await.unwrap(), "NEO");
    assert_eq!(neo_token.decimals().await.unwrap(), 0);
    assert_eq!(
        neo_token.balance_of(&chain.committee_hash()).await.unwrap(),
        100_000_000.into()
    );
}

#[tokio::test]
async fn policy_and_oracle_prices() {
    let chain = start_chain().await;
    let policy = Policy::new(chain.rpc().clone());
    // Neo N3 defaults (neo-go and C#): 1000 fractions per byte, factor 30, 100000 per stored byte.
    assert_eq!(policy.fee_per_byte().await.unwrap(), 1000);
    assert_eq!(policy.exec_fee_factor().await.unwrap(), 30);
    assert_eq!(policy.storage_price().await.unwrap(), 100_000);
    // 0.5 GAS per oracle request by default.
    assert_eq!(
        Oracle::new(chain.rpc().clone()).price().await.unwrap(),
        50_000_000
    );
}

#[tokio::test]
async fn oracle_role_from_genesis_and_by_committee() {
    let genesis_oracle = PrivateKey::generate().public_key();
    let chain = start_chain_with(ChainConfig {
        oracle_keys: vec![genesis_oracle],
        ..ChainConfig::with_block_time(test_block_time())
    })
    .await;
    let roles = RoleManagement::new(chain.rpc().clone());
    let height = chain.rpc().get_block_count().await.unwrap() - 1;
    assert_eq!(
        roles
            .designated_by_role(Role::Oracle, height)
            .await
            .unwrap(),
        vec![genesis_oracle]
    );

    // The committee designates two new keys; they apply from the next block on.
    let mut new_keys: Vec<_> = (0..2)
        .map(|_| PrivateKey::generate().public_key())
        .collect();
    let committee = chain.committee_actor().await.unwrap();
    let out = roles
        .designate_as_role(&committee, Role::Oracle, &new_keys)
        .await
        .unwrap();
    let mut designated = roles
        .designated_by_role(Role::Oracle, out.block_index + 1)
        .await
        .unwrap();
    designated.sort();
    new_keys.sort();
    assert_eq!(designated, new_keys);
    // Before the designation the genesis key still holds the role.
    assert_eq!(
        roles
            .designated_by_role(Role::Oracle, out.block_index)
            .await
            .unwrap(),
        vec![genesis_oracle]
    );

    // A non-committee account cannot designate: refused in the test run.
    let outsider = chain
        .new_funded_account(10 * neo_rpc::ONE_GAS)
        .await
        .unwrap();
    let actor = neo_rpc::Actor::new(
        chain.rpc().clone(),
        vec![neo_rpc::Account::single(outsider)],
    )
    .await
    .unwrap();
    let err = roles
        .designate_as_role(&actor, Role::Oracle, &new_keys)
        .await
        .unwrap_err();
    assert!(matches!(err, neo_rpc::Error::Fault { .. }), "{err}");
}

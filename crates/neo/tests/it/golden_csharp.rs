//! Vectors from C# Neo (github.com/neo-project/neo, tests/Neo.UnitTests); each test cites its file.

use neo::tx::{Signer, WitnessAction, WitnessCondition, WitnessRule};
use neo::{
    BinReader, BinWriter, CallFlags, PublicKey, ScriptBuilder, StackItem, Transaction, UInt160,
    WitnessScope,
};

fn signer_hex(s: &Signer) -> String {
    let mut w = BinWriter::new();
    s.encode(&mut w);
    hex::encode(w.into_bytes())
}

fn decode_signer(h: &str) -> neo::Result<Signer> {
    let b = hex::decode(h).unwrap();
    let mut r = BinReader::new(&b);
    let s = Signer::decode(&mut r)?;
    r.finish()?;
    Ok(s)
}

/// Network/P2P/Payloads/UT_Transaction.cs Transaction_Serialize_Deserialize_Simple.
#[test]
fn transaction_simple() {
    let hex_ = [
        "00",                                           // version
        "04030201",                                     // nonce
        "00e1f50500000000",                             // system fee (1 GAS)
        "0100000000000000",                             // network fee
        "04030201",                                     // valid until block
        "01000000000000000000000000000000000000000000", // one signer, zero account, scope None
        "00",                                           // no attributes
        "0111",                                         // script PUSH1
        "010000",                                       // one empty witness
    ]
    .concat();
    let raw = hex::decode(&hex_).unwrap();
    let tx = Transaction::from_bytes(&raw).unwrap();
    assert_eq!(tx.nonce, 0x0102_0304);
    assert_eq!(tx.system_fee, 100_000_000);
    assert_eq!(tx.network_fee, 1);
    assert_eq!(tx.valid_until_block, 0x0102_0304);
    assert_eq!(tx.sender(), Some(UInt160::ZERO));
    assert_eq!(tx.signers[0].scopes, WitnessScope::NONE);
    assert_eq!(tx.script, vec![0x11]);
    assert!(tx.witnesses[0].invocation.is_empty() && tx.witnesses[0].verification.is_empty());
    assert_eq!(tx.to_bytes(), raw);
}

/// UT_Transaction.cs Transaction_Serialize_Deserialize_DistinctSigners: encodes, but decoding
/// rejects the duplicate signer.
#[test]
fn transaction_duplicate_signers_rejected() {
    let expected = "000403020100e1f50500000000010000000000000004030201020908070605040302010009080706050403020\
10080090807060504030201000908070605040302010001000111010000";
    let account: UInt160 = "0x0001020304050607080900010203040506070809"
        .parse()
        .unwrap();
    let tx = Transaction {
        nonce: 0x0102_0304,
        system_fee: 100_000_000,
        network_fee: 1,
        valid_until_block: 0x0102_0304,
        signers: vec![Signer::global(account), Signer::called_by_entry(account)],
        script: vec![0x11],
        witnesses: vec![neo::Witness::default()],
        ..Default::default()
    };
    assert_eq!(hex::encode(tx.to_bytes()), expected);
    assert!(Transaction::from_bytes(&hex::decode(expected).unwrap()).is_err());
    assert!(tx.validate().is_err());
}

/// UT_Transaction.cs ToJson: hash and size of a transaction with a 32-byte script.
#[test]
fn transaction_to_json() {
    let mut script = vec![0x42];
    script.extend([0x20; 31]);
    let tx = Transaction {
        system_fee: 4_200_000_000,
        signers: vec![Signer::none(UInt160::ZERO)],
        script,
        witnesses: vec![neo::Witness::default()],
        ..Default::default()
    };
    let j = serde_json::to_value(&tx).unwrap();
    assert_eq!(
        j["hash"],
        "0x0ab073429086d9e48fc87386122917989705d1c81fe4a60bf90e2fc228de3146"
    );
    assert_eq!(j["size"], 84);
    assert_eq!(j["netfee"], "0");
    assert_eq!(j["sysfee"], "4200000000");
    assert_eq!(j["script"], "QiAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICA=");
}

/// Network/P2P/Payloads/UT_Signers.cs binary and JSON vectors.
#[test]
fn signers() {
    let group =
        PublicKey::from_hex("03b209fd4f53a7170ea4444e0cb0a6bb6a53c2bd016926989cf85f9b0fba17a70c")
            .unwrap();
    let cases = [
        (
            Signer::global(UInt160::ZERO),
            "000000000000000000000000000000000000000080",
        ),
        (
            Signer::called_by_entry(UInt160::ZERO),
            "000000000000000000000000000000000000000001",
        ),
        (
            Signer::none(UInt160::ZERO).with_allowed_contracts(vec![UInt160::ZERO]),
            "000000000000000000000000000000000000000010010000000000000000000000000000000000000000",
        ),
        (
            Signer::none(UInt160::ZERO).with_allowed_groups(vec![group]),
            "0000000000000000000000000000000000000000200103b209fd4f53a7170ea4444e0cb0a6bb6a53c2bd016926989cf85f9b0fba17a70c",
        ),
    ];
    for (s, h) in &cases {
        assert_eq!(signer_hex(s), *h);
        assert_eq!(decode_signer(h).unwrap(), *s);
    }
    assert_eq!(
        serde_json::to_string(&cases[0].0).unwrap(),
        r#"{"account":"0x0000000000000000000000000000000000000000","scopes":"Global"}"#
    );
    assert_eq!(
        serde_json::to_string(&cases[2].0).unwrap(),
        r#"{"account":"0x0000000000000000000000000000000000000000","scopes":"CustomContracts","allowedcontracts":["0x0000000000000000000000000000000000000000"]}"#
    );
    assert_eq!(
        serde_json::to_string(&cases[3].0).unwrap(),
        r#"{"account":"0x0000000000000000000000000000000000000000","scopes":"CustomGroups","allowedgroups":["03b209fd4f53a7170ea4444e0cb0a6bb6a53c2bd016926989cf85f9b0fba17a70c"]}"#
    );
}

/// UT_Signers.cs Serialize_Deserialize_MaxNested_And / _Or: encodable, rejected on decode.
#[test]
fn signers_nesting_too_deep() {
    for (kind, h) in [
        (
            "And",
            "00000000000000000000000000000000000000004001010201020102010001",
        ),
        (
            "Or",
            "00000000000000000000000000000000000000004001010301030103010001",
        ),
    ] {
        let wrap = |c: WitnessCondition| {
            if kind == "And" {
                WitnessCondition::And(vec![c])
            } else {
                WitnessCondition::Or(vec![c])
            }
        };
        let cond = wrap(wrap(wrap(WitnessCondition::Boolean(true))));
        let s = Signer::none(UInt160::ZERO)
            .with_rules(vec![WitnessRule::new(WitnessAction::Allow, cond)]);
        assert_eq!(signer_hex(&s), h);
        assert!(matches!(decode_signer(h), Err(neo::Error::Limit { .. })));
        assert!(s.validate().is_err());
    }
}

/// SmartContract/UT_BinarySerializer.cs TestSerialize vectors.
#[test]
fn binary_serializer() {
    let int = |v: i64| StackItem::int(v);
    let cases = [
        (
            StackItem::bytes(vec![0u8; 5]),
            "280500000000".to_owned() + "00",
        ),
        (StackItem::Boolean(true), "2001".to_owned()),
        (int(1), "210101".to_owned()),
        (StackItem::Array(vec![int(1)]), "4001210101".to_owned()),
        (StackItem::Struct(vec![int(1)]), "4101210101".to_owned()),
        (
            StackItem::Map(vec![(int(2), int(1))]),
            "4801210102210101".to_owned(),
        ),
    ];
    for (item, h) in cases {
        assert_eq!(hex::encode(item.serialize().unwrap()), h);
        assert_eq!(
            StackItem::deserialize(&hex::decode(&h).unwrap()).unwrap(),
            item
        );
    }
    // TestDeserializeStackItem: an Integer's bytes relabelled as Array fail to decode.
    assert!(StackItem::deserialize(&[0x40, 0x01, 0x01]).is_err());
}

/// VM/UT_Helper.cs TestEmitAppCall1 / TestEmitAppCall2: System.Contract.Call scripts.
#[test]
fn dynamic_call() {
    let call_id = neo::script::interop::interop_id("System.Contract.Call").to_le_bytes();
    let mut expected = vec![0xc2, 0x1f, 0x0c, 5];
    expected.extend(b"AAAAA");
    expected.extend([0x0c, 0x14]);
    expected.extend([0u8; 20]);
    expected.push(0x41);
    expected.extend(call_id);
    let mut sb = ScriptBuilder::new();
    sb.contract_call(&UInt160::ZERO, "AAAAA", CallFlags::ALL, &[])
        .unwrap();
    assert_eq!(sb.as_bytes(), expected.as_slice());

    // One Integer parameter with its default value 0: PUSH0 PUSH1 PACK, then the same tail.
    let mut expected2 = vec![0x10, 0x11, 0xc0];
    expected2.extend(&expected[1..]);
    let mut sb = ScriptBuilder::new();
    sb.contract_call(
        &UInt160::ZERO,
        "AAAAA",
        CallFlags::ALL,
        &[neo::Arg::from(0)],
    )
    .unwrap();
    assert_eq!(sb.as_bytes(), expected2.as_slice());
}

/// VM/UT_Helper.cs TestToJson: stack item JSON shapes.
#[test]
fn stack_item_json() {
    let item = StackItem::Array(vec![
        StackItem::int(5),
        StackItem::string("hello world"),
        StackItem::bytes(vec![1, 2, 3]),
        StackItem::Boolean(true),
    ]);
    assert_eq!(
        serde_json::to_string(&item).unwrap(),
        r#"{"type":"Array","value":[{"type":"Integer","value":"5"},{"type":"ByteString","value":"aGVsbG8gd29ybGQ="},{"type":"ByteString","value":"AQID"},{"type":"Boolean","value":true}]}"#
    );
    let map = StackItem::Map(vec![(StackItem::int(1), StackItem::Pointer(0))]);
    let text = r#"{"type":"Map","value":[{"key":{"type":"Integer","value":"1"},"value":{"type":"Pointer","value":0}}]}"#;
    assert_eq!(serde_json::to_string(&map).unwrap(), text);
    assert_eq!(serde_json::from_str::<StackItem>(text).unwrap(), map);
}

//! Property tests: encode/decode round trips and decoders that never panic on arbitrary input.

use neo::tx::{
    OracleResponseCode, Signer, TransactionAttribute, WitnessAction, WitnessCondition, WitnessRule,
};
use neo::{
    BigInt, BinReader, BinWriter, OpCode, PrivateKey, PublicKey, ScriptBuilder, StackItem,
    Transaction, UInt160, UInt256, Witness, WitnessScope, nep2,
};
use proptest::prelude::*;
use std::sync::OnceLock;

/// A few fixed keys (key generation inside strategies would be slow).
fn keys() -> &'static [PublicKey] {
    static KEYS: OnceLock<Vec<PublicKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        (1u8..=4)
            .map(|i| PrivateKey::from_bytes(&[i; 32]).unwrap().public_key())
            .collect()
    })
}

fn uint160() -> impl Strategy<Value = UInt160> {
    any::<[u8; 20]>().prop_map(UInt160::from_bytes_le)
}

fn pubkey() -> impl Strategy<Value = PublicKey> {
    (0..4usize).prop_map(|i| keys()[i])
}

fn condition() -> impl Strategy<Value = WitnessCondition> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(WitnessCondition::Boolean),
        uint160().prop_map(WitnessCondition::ScriptHash),
        pubkey().prop_map(WitnessCondition::Group),
        Just(WitnessCondition::CalledByEntry),
        uint160().prop_map(WitnessCondition::CalledByContract),
        pubkey().prop_map(WitnessCondition::CalledByGroup),
    ];
    // Depth at most 3 (root + 2 levels), as the protocol allows.
    leaf.prop_recursive(2, 16, 4, |inner| {
        prop_oneof![
            inner
                .clone()
                .prop_map(|c| WitnessCondition::Not(Box::new(c))),
            prop::collection::vec(inner.clone(), 1..4).prop_map(WitnessCondition::And),
            prop::collection::vec(inner, 1..4).prop_map(WitnessCondition::Or),
        ]
    })
}

fn signer() -> impl Strategy<Value = Signer> {
    (
        uint160(),
        prop_oneof![
            Just(0u8),
            Just(0x01),
            Just(0x80),
            Just(0x10),
            Just(0x20),
            Just(0x40),
            Just(0x71)
        ],
        prop::collection::vec(uint160(), 0..3),
        prop::collection::vec(pubkey(), 0..3),
        prop::collection::vec((any::<bool>(), condition()), 0..3),
    )
        .prop_map(|(account, bits, contracts, groups, rules)| {
            let mut s = Signer::new(account, WitnessScope::from_bits(bits).unwrap());
            if bits & 0x10 != 0 {
                s.allowed_contracts = contracts;
            }
            if bits & 0x20 != 0 {
                s.allowed_groups = groups;
            }
            if bits & 0x40 != 0 {
                s.rules = rules
                    .into_iter()
                    .map(|(allow, c)| {
                        WitnessRule::new(
                            if allow {
                                WitnessAction::Allow
                            } else {
                                WitnessAction::Deny
                            },
                            c,
                        )
                    })
                    .collect();
            }
            s
        })
}

fn attribute() -> impl Strategy<Value = TransactionAttribute> {
    prop_oneof![
        Just(TransactionAttribute::HighPriority),
        (any::<u64>(), prop::collection::vec(any::<u8>(), 0..64)).prop_map(|(id, result)| {
            TransactionAttribute::OracleResponse {
                id,
                code: OracleResponseCode::Success,
                result,
            }
        }),
        (any::<u64>()).prop_map(|id| TransactionAttribute::OracleResponse {
            id,
            code: OracleResponseCode::NotFound,
            result: vec![]
        }),
        any::<u32>().prop_map(|height| TransactionAttribute::NotValidBefore { height }),
        any::<[u8; 32]>().prop_map(|h| TransactionAttribute::Conflicts {
            hash: UInt256::from_bytes_le(h)
        }),
        any::<u8>().prop_map(|n_keys| TransactionAttribute::NotaryAssisted { n_keys }),
    ]
}

fn transaction() -> impl Strategy<Value = Transaction> {
    (
        any::<u32>(),
        0..i64::MAX / 2,
        0..i64::MAX / 2,
        any::<u32>(),
        prop::collection::vec(signer(), 1..5),
        prop::collection::vec(attribute(), 0..4),
        prop::collection::vec(any::<u8>(), 1..200),
        prop::collection::vec(
            (
                prop::collection::vec(any::<u8>(), 0..100),
                prop::collection::vec(any::<u8>(), 0..60),
            ),
            5,
        ),
    )
        .prop_map(
            |(nonce, sys, net, vub, mut signers, mut attributes, script, wits)| {
                // Distinct accounts; single-use attribute types only once.
                signers.sort_by_key(|s| s.account);
                signers.dedup_by_key(|s| s.account);
                let mut seen = Vec::new();
                attributes.retain(|a| {
                    a.allow_multiple() || {
                        let fresh = !seen.contains(&a.type_byte());
                        seen.push(a.type_byte());
                        fresh
                    }
                });
                let witnesses = wits
                    .into_iter()
                    .take(signers.len())
                    .map(|(i, v)| Witness::new(i, v))
                    .collect();
                Transaction {
                    version: 0,
                    nonce,
                    system_fee: sys,
                    network_fee: net,
                    valid_until_block: vub,
                    signers,
                    attributes,
                    script,
                    witnesses,
                }
            },
        )
}

fn stack_item() -> impl Strategy<Value = StackItem> {
    let key = prop_oneof![
        any::<bool>().prop_map(StackItem::Boolean),
        any::<i128>().prop_map(StackItem::int),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(StackItem::ByteString),
    ];
    let leaf = prop_oneof![
        Just(StackItem::Any),
        any::<bool>().prop_map(StackItem::Boolean),
        any::<i128>().prop_map(StackItem::int),
        any::<[u8; 32]>().prop_map(|b| StackItem::Integer(BigInt::from_signed_bytes_le(&b))),
        prop::collection::vec(any::<u8>(), 0..80).prop_map(StackItem::ByteString),
        prop::collection::vec(any::<u8>(), 0..80).prop_map(StackItem::Buffer),
    ];
    leaf.prop_recursive(4, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(StackItem::Array),
            prop::collection::vec(inner.clone(), 0..6).prop_map(StackItem::Struct),
            prop::collection::vec((key.clone(), inner), 0..5).prop_map(|entries| {
                let mut out: Vec<(StackItem, StackItem)> = Vec::new();
                for (k, v) in entries {
                    if !out.iter().any(|(ek, _)| *ek == k) {
                        out.push((k, v));
                    }
                }
                StackItem::Map(out)
            }),
        ]
    })
}

/// Reads back one integer push emitted by the script builder.
fn read_int_push(script: &[u8]) -> BigInt {
    let op = OpCode::from_u8(script[0]).unwrap();
    let width = match op {
        OpCode::PUSHM1 => return BigInt::from(-1),
        OpCode::PUSHINT8 => 1,
        OpCode::PUSHINT16 => 2,
        OpCode::PUSHINT32 => 4,
        OpCode::PUSHINT64 => 8,
        OpCode::PUSHINT128 => 16,
        OpCode::PUSHINT256 => 32,
        _ => {
            let v = script[0] as i64 - OpCode::PUSH0 as i64;
            assert!((0..=16).contains(&v), "unexpected opcode {op}");
            assert_eq!(script.len(), 1);
            return BigInt::from(v);
        }
    };
    assert_eq!(script.len(), 1 + width);
    BigInt::from_signed_bytes_le(&script[1..])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn tx_roundtrip(tx in transaction()) {
        tx.validate().unwrap();
        let bytes = tx.to_bytes();
        let back = Transaction::from_bytes(&bytes).unwrap();
        prop_assert_eq!(&back, &tx);
        prop_assert_eq!(back.hash(), tx.hash());
        let unsigned = Transaction::from_unsigned_bytes(&tx.encode_unsigned()).unwrap();
        prop_assert_eq!(unsigned.hash(), tx.hash());
        let json = serde_json::to_string(&tx).unwrap();
        let from_json: Transaction = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(from_json, tx);
    }

    #[test]
    fn signer_roundtrip(s in signer()) {
        let mut w = BinWriter::new();
        s.encode(&mut w);
        let bytes = w.into_bytes();
        let mut r = BinReader::new(&bytes);
        prop_assert_eq!(&Signer::decode(&mut r).unwrap(), &s);
        prop_assert_eq!(r.remaining(), 0);
        let json = serde_json::to_string(&s).unwrap();
        prop_assert_eq!(serde_json::from_str::<Signer>(&json).unwrap(), s);
    }

    #[test]
    fn stack_item_roundtrip(item in stack_item()) {
        let bytes = item.serialize().unwrap();
        prop_assert_eq!(&StackItem::deserialize(&bytes).unwrap(), &item);
        let json = serde_json::to_string(&item).unwrap();
        prop_assert_eq!(serde_json::from_str::<StackItem>(&json).unwrap(), item);
    }

    #[test]
    fn script_builder_ints(bytes in prop::collection::vec(any::<u8>(), 0..=32)) {
        let v = BigInt::from_signed_bytes_le(&bytes);
        let mut sb = ScriptBuilder::new();
        sb.push_bigint(&v).unwrap();
        prop_assert_eq!(read_int_push(sb.as_bytes()), v);
    }

    #[test]
    fn script_builder_i64(v in any::<i64>()) {
        let mut sb = ScriptBuilder::new();
        sb.push_int(v);
        prop_assert_eq!(read_int_push(sb.as_bytes()), BigInt::from(v));
    }

    #[test]
    fn decoders_never_panic(data in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = Transaction::from_bytes(&data);
        let _ = Transaction::from_unsigned_bytes(&data);
        let _ = StackItem::deserialize(&data);
        let mut r = BinReader::new(&data);
        let _ = Signer::decode(&mut r);
        let mut r = BinReader::new(&data);
        let _ = WitnessCondition::decode(&mut r);
        let _ = PublicKey::from_bytes(&data);
        let text = String::from_utf8_lossy(&data);
        let _ = neo::address_to_script_hash(&text);
        let _ = PrivateKey::from_wif(&text);
        let _ = nep2::validate(&text);
        let _ = UInt160::from_hex_be(&text);
        let _ = neo::contract::parse_multisig_script(&data);
    }

    /// Mutating one byte of a valid transaction never panics the decoder.
    #[test]
    fn mutated_tx_never_panics(tx in transaction(), pos in any::<prop::sample::Index>(), b in any::<u8>()) {
        let mut bytes = tx.to_bytes();
        let i = pos.index(bytes.len());
        bytes[i] = b;
        let _ = Transaction::from_bytes(&bytes);
        bytes.truncate(i);
        prop_assert!(Transaction::from_bytes(&bytes).is_err());
    }

    /// Base58 strings of the right shape reach the NEP-2 decoder's deeper checks without panics.
    #[test]
    fn nep2_decode_never_panics(payload in prop::collection::vec(any::<u8>(), 35..43), pass in ".{0,8}") {
        let s = neo::address::base58check_encode(&payload);
        let fast = neo::ScryptParams { n: 2, r: 1, p: 1 };
        let _ = nep2::decrypt(&s, &pass, fast);
    }
}

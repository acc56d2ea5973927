//! Functions run from chain (`execute_for_chain`, `answer_chain_request`), on both backends.

use std::collections::HashMap;
use std::sync::Arc;

use nsl_functions::{
    Answer, ChainOutcome, ChainTrigger, ExecuteMode, ExecutionStatus, FunctionInput,
    FunctionsError, LimitsInput, NoFunctionSecrets, ResponseCode,
};
use serde_json::{Value, json};

use crate::cases::{MapSecrets, account, service};
use crate::harness::TestDb;

const CONSUMER: &str = "0x1111111111111111111111111111111111111111";
const STRANGER: &str = "0x2222222222222222222222222222222222222222";

fn trigger(request_id: u64) -> ChainTrigger {
    ChainTrigger {
        request_id,
        tx_hash: format!("0x{request_id:064x}"),
        // Filled in by the service from the requester argument.
        requester: String::new(),
    }
}

fn callable(source: &str, callers: &[&str]) -> FunctionInput {
    FunctionInput {
        source: source.into(),
        onchain_callers: callers.iter().map(|c| (*c).to_string()).collect(),
        ..FunctionInput::default()
    }
}

fn text(a: &Answer) -> String {
    String::from_utf8(a.result.clone()).expect("utf-8")
}

const MUL: &str = "export default (args) => ({ product: args.a * args.b, who: args.who });";

pub(crate) async fn onchain_callers_are_validated_and_normalized(db: &TestDb) {
    let svc = service(db, Arc::new(NoFunctionSecrets));
    let alice = account(db, "alice").await;
    let hash = neo::UInt160::from_hex_be(CONSUMER).expect("hash");
    // The same caller as upper-case hex, lower-case hex and address: stored once.
    let f = svc
        .create(
            alice,
            "mul",
            &callable(
                MUL,
                &[
                    "0X1111111111111111111111111111111111111111",
                    CONSUMER,
                    &hash.to_address(),
                    "0xABCDEFabcdef0000000000000000000000000000",
                ],
            ),
        )
        .await
        .expect("create");
    assert_eq!(
        f.current.spec.onchain_callers,
        [CONSUMER, "0xabcdefabcdef0000000000000000000000000000"]
    );
    // Default: not callable from chain.
    let plain = svc
        .create(alice, "plain", &callable(MUL, &[]))
        .await
        .expect("create");
    assert!(plain.current.spec.onchain_callers.is_empty());
    let reason = |r: Result<nsl_functions::FunctionRecord, FunctionsError>| match r {
        Err(FunctionsError::Invalid { reason, message }) => (reason, message),
        other => panic!("expected Invalid, got {other:?}"),
    };
    for bad in [
        "1111111111111111111111111111111111111111",
        "0x11",
        "0xzz11111111111111111111111111111111111111",
        "NotAnAddress",
        "",
    ] {
        let (r, m) = reason(svc.create(alice, "bad", &callable(MUL, &[bad])).await);
        assert_eq!(r, "invalid_onchain_caller", "{bad:?}: {m}");
    }
    let many: Vec<String> = (0..33).map(|i| format!("0x{i:040x}")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let (r, _) = reason(svc.create(alice, "many", &callable(MUL, &refs)).await);
    assert_eq!(r, "too_many_onchain_callers");
    // An update replaces the list.
    let f2 = svc
        .update(alice, f.id, &callable(MUL, &[STRANGER]))
        .await
        .expect("update");
    assert_eq!(f2.current.spec.onchain_callers, [STRANGER]);
    assert_eq!(svc.list(alice).await.expect("list").len(), 2);
}

pub(crate) async fn chain_request_runs_for_an_allowed_requester_as_the_owner(db: &TestDb) {
    let alice = account(db, "alice").await;
    let mut values = HashMap::new();
    values.insert((alice, "SALT".to_string()), "pepper".to_string());
    let secrets = Arc::new(MapSecrets {
        values,
        ..MapSecrets::default()
    });
    let svc = service(db, secrets);
    let source = r#"
export default (args) => {
  console.log("called with", args.a, args.b);
  return { product: args.a * args.b, salt: secrets.get("SALT").length };
};
"#;
    let f = svc
        .create(
            alice,
            "mul",
            &FunctionInput {
                secrets: vec!["SALT".into()],
                ..callable(source, &[CONSUMER])
            },
        )
        .await
        .expect("create");
    // The requester may come in either case; it is normalized.
    let outcome = svc
        .execute_for_chain(
            &f.id.to_string(),
            &CONSUMER.to_ascii_uppercase().replace("0X", "0x"),
            json!({"a": 6, "b": 7}),
            trigger(5),
        )
        .await;
    let ChainOutcome::Succeeded {
        execution_id,
        result,
    } = &outcome
    else {
        panic!("expected success, got {outcome:?}");
    };
    assert_eq!(result, &json!({"product": 42, "salt": 6}));
    let answer = outcome.answer();
    assert_eq!(answer.code, ResponseCode::Success);
    assert_eq!(text(&answer), r#"{"product":42,"salt":6}"#);
    // The owner's execution record, with the gateway request.
    let e = svc.execution(alice, *execution_id).await.expect("record");
    assert_eq!(e.status, ExecutionStatus::Succeeded);
    assert_eq!(e.trigger(), "chain");
    let chain = e.chain.clone().expect("chain trigger");
    assert_eq!(
        (
            chain.request_id,
            chain.tx_hash.as_str(),
            chain.requester.as_str()
        ),
        (5, format!("0x{:064x}", 5).as_str(), CONSUMER)
    );
    assert_eq!(e.args, json!({"a": 6, "b": 7}));
    assert_eq!(e.logs[0]["message"], "called with 6 7");
    assert_eq!(e.version, 1);
    // Listed with the owner's executions, filterable by trigger.
    let api = svc
        .execute(alice, f.id, json!({"a": 1, "b": 1}), ExecuteMode::Sync)
        .await
        .expect("api run");
    assert_eq!(api.trigger(), "api");
    let all = svc.account_executions(alice, None).await.expect("list");
    assert_eq!(
        all.iter().map(|e| e.id).collect::<Vec<_>>(),
        [api.id, *execution_id]
    );
    let chain_only = svc
        .account_executions(alice, Some("chain"))
        .await
        .expect("list");
    assert_eq!(chain_only.len(), 1);
    assert_eq!(chain_only[0].id, *execution_id);
    assert_eq!(
        svc.account_executions(alice, Some("api"))
            .await
            .expect("list")
            .len(),
        1
    );
    assert!(matches!(
        svc.account_executions(alice, Some("cron")).await,
        Err(FunctionsError::Invalid {
            reason: "invalid_trigger",
            ..
        })
    ));
    // Another account sees none of it.
    let bob = account(db, "bob").await;
    assert!(
        svc.account_executions(bob, None)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(svc.execution(bob, *execution_id).await.is_err());
}

pub(crate) async fn chain_request_is_forbidden_or_not_found_without_a_record(db: &TestDb) {
    let svc = service(db, Arc::new(NoFunctionSecrets));
    let alice = account(db, "alice").await;
    let allowed = svc
        .create(alice, "allowed", &callable(MUL, &[CONSUMER]))
        .await
        .expect("create");
    let private = svc
        .create(alice, "private", &callable(MUL, &[]))
        .await
        .expect("create");
    let args = json!({"a": 1, "b": 2});
    for (id, requester) in [
        (allowed.id.to_string(), STRANGER),
        (private.id.to_string(), CONSUMER),
        (allowed.id.to_string(), "not a hash"),
    ] {
        let o = svc
            .execute_for_chain(&id, requester, args.clone(), trigger(1))
            .await;
        assert_eq!(o, ChainOutcome::Forbidden, "{id} {requester}");
        let a = o.answer();
        assert_eq!(
            (a.code, text(&a)),
            (ResponseCode::Forbidden, r#"{"error":"forbidden"}"#.into())
        );
    }
    for id in [
        uuid::Uuid::new_v4().to_string(),
        "not-a-uuid".into(),
        String::new(),
    ] {
        let o = svc
            .execute_for_chain(&id, CONSUMER, args.clone(), trigger(2))
            .await;
        assert_eq!(o, ChainOutcome::NotFound, "{id:?}");
        let a = o.answer();
        assert_eq!(
            (a.code, text(&a)),
            (ResponseCode::NotFound, r#"{"error":"not_found"}"#.into())
        );
    }
    // Nothing ran, nothing was recorded.
    assert!(
        svc.account_executions(alice, None)
            .await
            .expect("list")
            .is_empty()
    );
    // A new version without the caller takes effect at once; with it, the caller may run it.
    svc.update(alice, allowed.id, &callable(MUL, &[]))
        .await
        .expect("update");
    let o = svc
        .execute_for_chain(&allowed.id.to_string(), CONSUMER, args.clone(), trigger(3))
        .await;
    assert_eq!(o, ChainOutcome::Forbidden);
    svc.update(alice, private.id, &callable(MUL, &[STRANGER]))
        .await
        .expect("update");
    let o = svc
        .execute_for_chain(&private.id.to_string(), STRANGER, args, trigger(4))
        .await;
    assert!(matches!(o, ChainOutcome::Succeeded { .. }), "{o:?}");
}

pub(crate) async fn chain_request_failures_are_public_kinds_only(db: &TestDb) {
    let svc = service(db, Arc::new(NoFunctionSecrets));
    let alice = account(db, "alice").await;
    let throws = svc
        .create(
            alice,
            "throws",
            &callable(
                "export default () => { throw new Error('internal detail 0xdeadbeef'); };",
                &[CONSUMER],
            ),
        )
        .await
        .expect("create");
    let o = svc
        .execute_for_chain(&throws.id.to_string(), CONSUMER, Value::Null, trigger(7))
        .await;
    let ChainOutcome::Failed { execution_id, kind } = &o else {
        panic!("expected failure, got {o:?}");
    };
    assert_eq!(kind, "script_error");
    let a = o.answer();
    assert_eq!(a.code, ResponseCode::Error);
    assert_eq!(text(&a), r#"{"error":"script_error"}"#);
    // The message stays in the owner's record.
    let e = svc.execution(alice, *execution_id).await.expect("record");
    assert_eq!(e.status, ExecutionStatus::Failed);
    assert_eq!(e.trigger(), "chain");
    assert!(
        e.error_message
            .as_deref()
            .unwrap_or("")
            .contains("internal detail 0xdeadbeef"),
        "{e:?}"
    );

    let spin = svc
        .create(
            alice,
            "spin",
            &FunctionInput {
                limits: LimitsInput {
                    timeout_ms: Some(200),
                    ..LimitsInput::default()
                },
                ..callable("export default () => { for (;;) {} };", &[CONSUMER])
            },
        )
        .await
        .expect("create");
    let o = svc
        .execute_for_chain(&spin.id.to_string(), CONSUMER, Value::Null, trigger(8))
        .await;
    assert!(
        matches!(&o, ChainOutcome::Failed { kind, .. } if kind == "timeout"),
        "{o:?}"
    );
    let a = o.answer();
    assert_eq!(
        (a.code, text(&a)),
        (ResponseCode::Timeout, r#"{"error":"timeout"}"#.into())
    );

    // A malformed payload never reaches a function.
    let a = svc
        .answer_chain_request(br#"{"fn":"x"}"#, CONSUMER, trigger(9))
        .await;
    assert_eq!(
        (a.code, text(&a)),
        (ResponseCode::Error, r#"{"error":"invalid_payload"}"#.into())
    );
    // A well-formed one runs, args included.
    let mul = svc
        .create(alice, "mul", &callable(MUL, &[CONSUMER]))
        .await
        .expect("create");
    let payload = json!({"function": mul.id.to_string(), "args": {"a": 3, "b": 5, "who": "neo"}});
    let a = svc
        .answer_chain_request(payload.to_string().as_bytes(), CONSUMER, trigger(10))
        .await;
    assert_eq!(
        (a.code, text(&a)),
        (
            ResponseCode::Success,
            r#"{"product":15,"who":"neo"}"#.into()
        )
    );
    assert_eq!(
        svc.account_executions(alice, Some("chain"))
            .await
            .expect("list")
            .len(),
        3
    );
}

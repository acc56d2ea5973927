//! Several gateway answers in one transaction (issue #10, docs/gateway.md "Batched answers").
//!
//! ```text
//! [FulfillCall; n] ──batch_script(shares = 0)──▶ test run (invokescript) ──plan_batch──▶ BatchPlan
//!   Send { system_fee, shares } ──batch_script(shares)──▶ one transaction, same size
//!   Split { retry, single }     ──▶ test-run `retry` again as a batch, answer `single` one by one
//! ```
//!
//! Each answer is `gateway.fulfillShare(requestId, code, result, feeShare)` inside `TRY`/`CATCH`
//! in the entry script, between two `System.Runtime.GasLeft`: an exception in one call (a refusal
//! by the gateway) does not abort the others, and the test run's result stack holds, per call,
//! `[gasLeftBefore, true | exception, gasLeftAfter]`, so the node learns each call's GAS from one
//! test run. A consumer callback that throws is caught by the gateway itself (the call succeeds,
//! `callbackOk = false`); `ABORT` and running out of GAS cannot be caught and FAULT the whole
//! transaction: [`plan_batch`] then sends every answer alone.
//!
//! Fee shares: call *i* is charged its measured GAS plus `margin_per_call`, plus a part of the
//! rest of the transaction's fees (network fee, the entry script's own instructions) in
//! proportion to its script bytes. The shares sum to exactly the transaction's system + network
//! fee; the gateway refuses a share above the request's budget and a running total above the
//! transaction's fees. Shares are pushed as fixed 8-byte integers, so the test-run script (all
//! shares 0) and the sent one have the same size, network fee and GAS.

use neo::script::{CallFlags, OpCode, ScriptBuilder};
use neo::tx::MAX_SCRIPT_LENGTH;
use neo::{Arg, StackItem, UInt160};
use neo_rpc::types::{InvokeResult, VmState};
use neo_rpc::{Actor, TxOutcome};

use crate::code::ResponseCode;
use crate::error::{OracleError, Result};
use crate::gateway::MAX_FULFILL_RESULT;

/// The gateway method of a batched answer.
pub const FULFILL_SHARE_METHOD: &str = "fulfillShare";
/// The interop service measuring the GAS around each call.
pub const GAS_LEFT_SYSCALL: &str = "System.Runtime.GasLeft";
/// Stack items one call leaves in the test run: GAS left before, `true` or the exception, GAS
/// left after.
pub const ITEMS_PER_CALL: usize = 3;
/// Most calls in one batch: NeoVM holds at most 2,048 stack items (three per call) and a
/// transaction's verification and test run grow with it; 100 is the per-block target of #10.
pub const MAX_BATCH_CALLS: usize = 256;

/// One answer of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfillCall {
    /// The gateway's request id.
    pub request_id: u64,
    /// The response code.
    pub code: ResponseCode,
    /// The result (empty unless the code is `Success`).
    pub result: Vec<u8>,
    /// The request's `gasBudget` (its share may not exceed it).
    pub gas_budget: i64,
}

/// The script of one call: `GasLeft; TRY { fulfillShare(...); DROP; PUSHT } CATCH {}; GasLeft`.
/// Its size does not depend on `share` (an 8-byte `PUSHINT64`).
pub fn call_fragment(gateway: &UInt160, call: &FulfillCall, share: i64) -> Result<Vec<u8>> {
    if call.result.len() > MAX_FULFILL_RESULT {
        return Err(OracleError::malformed(
            "fulfill result",
            format!("{} bytes, at most {MAX_FULFILL_RESULT}", call.result.len()),
        ));
    }
    let mut sb = ScriptBuilder::new();
    sb.syscall(GAS_LEFT_SYSCALL);
    sb.try_catch(
        |b| {
            // Arguments in reverse order, packed: [requestId, code, result, feeShare].
            b.emit_with(OpCode::PUSHINT64, &share.to_le_bytes());
            b.push_bytes(&call.result);
            b.push_arg(&Arg::Int((call.code as u8).into()))?;
            b.push_arg(&Arg::Int(call.request_id.into()))?;
            b.push_int(4).emit(OpCode::PACK);
            b.push_int(i64::from(CallFlags::ALL.bits()));
            b.push_string(FULFILL_SHARE_METHOD);
            b.push_hash160(gateway);
            b.syscall(neo::script::interop::SYSTEM_CONTRACT_CALL);
            // fulfillShare returns nothing: System.Contract.Call leaves Null.
            b.emit(OpCode::DROP).push_bool(true);
            Ok(())
        },
        // The exception stays on the stack as the call's outcome.
        |_| Ok(()),
    )?;
    sb.syscall(GAS_LEFT_SYSCALL);
    Ok(sb.into_bytes())
}

/// The entry script answering `calls` in order, call `i` charged `shares[i]` (all 0 for the test
/// run: see [`plan_batch`]). Errors: no calls, too many, `shares` of another length, a result
/// over the gateway's limit, a script over [`MAX_SCRIPT_LENGTH`] (answer fewer at once).
pub fn batch_script(gateway: &UInt160, calls: &[FulfillCall], shares: &[i64]) -> Result<Vec<u8>> {
    if calls.is_empty() || calls.len() > MAX_BATCH_CALLS {
        return Err(OracleError::malformed(
            "fulfil batch",
            format!("{} calls, 1..={MAX_BATCH_CALLS} expected", calls.len()),
        ));
    }
    if shares.len() != calls.len() {
        return Err(OracleError::malformed(
            "fulfil batch",
            format!("{} shares for {} calls", shares.len(), calls.len()),
        ));
    }
    let mut script = Vec::new();
    for (call, share) in calls.iter().zip(shares) {
        script.extend(call_fragment(gateway, call, *share)?);
    }
    if script.len() > MAX_SCRIPT_LENGTH {
        return Err(OracleError::malformed(
            "fulfil batch",
            format!(
                "script of {} bytes, a transaction script holds at most {MAX_SCRIPT_LENGTH}",
                script.len()
            ),
        ));
    }
    Ok(script)
}

/// What one call did in a test run of [`batch_script`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRun {
    /// GAS the call consumed (GasLeft before minus after), fractions.
    pub gas: i64,
    /// `None` when the gateway accepted the call, else the exception text (e.g.
    /// `already fulfilled`).
    pub refused: Option<String>,
}

/// Read each call's GAS and outcome from the result stack of a HALTed test run of a batch of
/// `n` calls. Errors when the stack does not have that shape.
pub fn read_batch_run(n: usize, stack: &[StackItem]) -> Result<Vec<CallRun>> {
    const WHAT: &str = "batch test run stack";
    if stack.len() != n * ITEMS_PER_CALL {
        return Err(OracleError::malformed(
            WHAT,
            format!("{} items for {n} calls", stack.len()),
        ));
    }
    stack
        .chunks(ITEMS_PER_CALL)
        .map(|c| {
            let m = |e: neo::Error| OracleError::malformed(WHAT, e);
            let before = c[0].as_i64().map_err(m)?;
            let after = c[2].as_i64().map_err(m)?;
            let gas = before
                .checked_sub(after)
                .filter(|g| *g >= 0)
                .ok_or_else(|| OracleError::malformed(WHAT, "GasLeft grew during a call"))?;
            let refused = match &c[1] {
                StackItem::Boolean(true) => None,
                other => Some(
                    other
                        .as_string()
                        .unwrap_or_else(|_| format!("{} exception", other.type_name())),
                ),
            };
            Ok(CallRun { gas, refused })
        })
        .collect()
}

/// The node's side of the fees, for [`plan_batch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchFees {
    /// Network fee of the batch transaction (same for the test-run and the real script).
    pub network_fee: i64,
    /// System fee added per call over the test run (the fees the gateway records on chain take
    /// a few more bytes of storage than in the fee-less test run): the service's
    /// `SYSTEM_FEE_MARGIN`.
    pub margin_per_call: i64,
    /// The node's ceiling per answer (`oracle.max_response_fee`).
    pub max_response_fee: i64,
}

/// Why a call leaves the batch and is answered in a transaction of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SingleReason {
    /// The batch's test run FAULTed (a callback aborted or ran out of GAS): nobody can tell
    /// which call, so every call goes alone (the culprit's own test run FAULTs then).
    BatchFaulted(String),
    /// The gateway refused this call in the test run (its exception text).
    Refused(String),
    /// Its share is above min(request budget, `max_response_fee`).
    OverBudget {
        /// The share it would be charged.
        share: i64,
        /// min(budget, ceiling).
        limit: i64,
    },
}

/// What to do with a batch after its test run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchPlan {
    /// Send [`batch_script`] with these shares and this system fee.
    Send {
        /// System fee of the transaction: the test run's GAS + `margin_per_call` per call.
        system_fee: i64,
        /// Fee share of each call; they sum to `system_fee + network_fee`.
        shares: Vec<i64>,
    },
    /// Test-run the calls at `retry` (indexes into the calls) again as a batch (its shares
    /// change), and answer the calls in `single` one transaction each.
    Split {
        /// Calls that may still go together.
        retry: Vec<usize>,
        /// Calls to answer alone, with the reason.
        single: Vec<(usize, SingleReason)>,
    },
}

/// Plan a batch from the test run of `batch_script(gateway, calls, &[0; n])`.
pub fn plan_batch(
    calls: &[FulfillCall],
    run: &InvokeResult,
    fees: &BatchFees,
) -> Result<BatchPlan> {
    let n = calls.len();
    if run.state != VmState::Halt {
        let why = run.exception.clone().unwrap_or_else(|| "FAULT".into());
        return Ok(BatchPlan::Split {
            retry: Vec::new(),
            single: (0..n)
                .map(|i| (i, SingleReason::BatchFaulted(why.clone())))
                .collect(),
        });
    }
    let runs = read_batch_run(n, &run.stack)?;
    let refused: Vec<(usize, SingleReason)> = runs
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.refused.clone().map(|e| (i, SingleReason::Refused(e))))
        .collect();
    if !refused.is_empty() {
        return Ok(split(n, refused));
    }

    let measured: i64 = runs.iter().map(|r| r.gas).sum();
    if measured > run.gasconsumed {
        return Err(OracleError::malformed(
            "batch test run",
            "the calls consumed more GAS than the whole script",
        ));
    }
    let margin_total = fees
        .margin_per_call
        .checked_mul(n as i64)
        .ok_or_else(|| OracleError::malformed("fee margin", "overflow"))?;
    let system_fee = run.gasconsumed.saturating_add(margin_total);
    let total = system_fee.saturating_add(fees.network_fee);
    let base: Vec<i64> = runs
        .iter()
        .map(|r| r.gas.saturating_add(fees.margin_per_call))
        .collect();
    // The entry script's own instructions and the network fee, shared by script bytes (every
    // call's fragment has the same fixed part; the result makes the difference).
    let rest = total - base.iter().sum::<i64>();
    let weights: Vec<i128> = calls.iter().map(|c| c.result.len() as i128 + 64).collect();
    let weight_sum: i128 = weights.iter().sum();
    let mut shares: Vec<i64> = base
        .iter()
        .zip(&weights)
        .map(|(b, w)| b + (i128::from(rest) * w / weight_sum) as i64)
        .collect();
    let mut left = total - shares.iter().sum::<i64>();
    for s in shares.iter_mut() {
        if left == 0 {
            break;
        }
        *s += 1;
        left -= 1;
    }

    let over: Vec<(usize, SingleReason)> = calls
        .iter()
        .zip(&shares)
        .enumerate()
        .filter_map(|(i, (c, share))| {
            let limit = c.gas_budget.min(fees.max_response_fee);
            (*share > limit).then_some((
                i,
                SingleReason::OverBudget {
                    share: *share,
                    limit,
                },
            ))
        })
        .collect();
    if !over.is_empty() {
        return Ok(split(n, over));
    }
    Ok(BatchPlan::Send { system_fee, shares })
}

fn split(n: usize, single: Vec<(usize, SingleReason)>) -> BatchPlan {
    let retry = (0..n)
        .filter(|i| !single.iter().any(|(j, _)| j == i))
        .collect();
    BatchPlan::Split { retry, single }
}

/// A batch sent by [`send_batch`].
#[derive(Debug)]
pub struct SentBatch {
    /// The shares charged, in call order.
    pub shares: Vec<i64>,
    /// The transaction's system fee.
    pub system_fee: i64,
    /// The transaction's network fee.
    pub network_fee: i64,
    /// The included transaction.
    pub outcome: TxOutcome,
}

/// Test-run, plan and (when the plan says `Send`) send one batch with `actor` (a registered
/// node signing as [`crate::gateway::fulfill_signer`]) and wait for its inclusion. A `Split`
/// plan is returned as is, nothing sent. For tests, benchmarks and as the reference sequence
/// for the transaction manager (which tracks fees and heights itself).
pub async fn send_batch(
    actor: &Actor,
    gateway: &UInt160,
    calls: &[FulfillCall],
    margin_per_call: i64,
    max_response_fee: i64,
) -> Result<std::result::Result<SentBatch, BatchPlan>> {
    let zeros = vec![0i64; calls.len()];
    let test_script = batch_script(gateway, calls, &zeros)?;
    let run = actor.invoker().invoke_script(&test_script).await?;
    // The network fee depends on the size only, which the shares do not change.
    let mut tx = actor.make_tx_unchecked(&test_script, 0).await?;
    let fees = BatchFees {
        network_fee: tx.network_fee,
        margin_per_call,
        max_response_fee,
    };
    let (system_fee, shares) = match plan_batch(calls, &run, &fees)? {
        BatchPlan::Send { system_fee, shares } => (system_fee, shares),
        split => return Ok(Err(split)),
    };
    tx.script = batch_script(gateway, calls, &shares)?;
    tx.system_fee = system_fee;
    actor.sign(&mut tx)?;
    let sent = actor.send_tx(&tx).await?;
    let outcome = actor.wait(&sent, actor.wait_timeout()).await?;
    Ok(Ok(SentBatch {
        shares,
        system_fee,
        network_fee: tx.network_fee,
        outcome,
    }))
}

#[cfg(test)]
mod tests {
    use neo::BigInt;

    use super::*;

    fn gateway() -> UInt160 {
        UInt160::from_bytes_le([0x42; 20])
    }

    fn call(id: u64, result: &[u8], budget: i64) -> FulfillCall {
        FulfillCall {
            request_id: id,
            code: ResponseCode::Success,
            result: result.to_vec(),
            gas_budget: budget,
        }
    }

    fn halt(gas: i64, stack: Vec<StackItem>) -> InvokeResult {
        InvokeResult {
            script: String::new(),
            state: VmState::Halt,
            gasconsumed: gas,
            exception: None,
            notifications: Vec::new(),
            stack,
        }
    }

    fn stack(calls: &[(i64, Option<&str>)]) -> Vec<StackItem> {
        let mut left = 1_000_000_000i64;
        let mut s = Vec::new();
        for (gas, refused) in calls {
            s.push(StackItem::Integer(BigInt::from(left)));
            s.push(match refused {
                None => StackItem::Boolean(true),
                Some(e) => StackItem::string(e),
            });
            left -= gas;
            s.push(StackItem::Integer(BigInt::from(left)));
            left -= 100; // the entry script's own instructions between calls
        }
        s
    }

    const FEES: BatchFees = BatchFees {
        network_fee: 1_300_000,
        margin_per_call: 1_500_000,
        max_response_fee: 200_000_000,
    };

    #[test]
    fn fragment_layout_and_fixed_size() {
        let c = call(17, b"ok", 1);
        let f = call_fragment(&gateway(), &c, 0).unwrap();
        let mut expect = vec![OpCode::SYSCALL as u8];
        expect.extend(neo::script::interop::interop_id(GAS_LEFT_SYSCALL).to_le_bytes());
        let body_len = 9 + 4 + 1 + 2 + 2 + 1 + 14 + 22 + 5 + 2;
        expect.extend([OpCode::TRY as u8, 3 + body_len + 2, 0]);
        expect.push(OpCode::PUSHINT64 as u8);
        expect.extend(0i64.to_le_bytes());
        expect.extend([OpCode::PUSHDATA1 as u8, 2, b'o', b'k']);
        expect.extend([OpCode::PUSH0 as u8]); // code Success
        expect.extend([OpCode::PUSHINT8 as u8, 17]);
        expect.extend([
            OpCode::PUSH4 as u8,
            OpCode::PACK as u8,
            OpCode::PUSH15 as u8,
        ]);
        expect.extend([OpCode::PUSHDATA1 as u8, 12]);
        expect.extend(b"fulfillShare");
        expect.extend([OpCode::PUSHDATA1 as u8, 20]);
        expect.extend([0x42; 20]);
        expect.extend([OpCode::SYSCALL as u8, 0x62, 0x7d, 0x5b, 0x52]);
        expect.extend([OpCode::DROP as u8, OpCode::PUSHT as u8]);
        expect.extend([OpCode::ENDTRY as u8, 4, OpCode::ENDTRY as u8, 2]);
        expect.push(OpCode::SYSCALL as u8);
        expect.extend(neo::script::interop::interop_id(GAS_LEFT_SYSCALL).to_le_bytes());
        assert_eq!(hex::encode(&f), hex::encode(&expect));
        // The share does not change the size, only the 8 bytes of PUSHINT64.
        let g = call_fragment(&gateway(), &c, 61_993_820).unwrap();
        assert_eq!(f.len(), g.len());
        assert_eq!(&g[9..17], &61_993_820i64.to_le_bytes());
        // A large result uses the long TRY form.
        let big = call_fragment(&gateway(), &call(1, &[7; 300], 1), 0).unwrap();
        assert_eq!(big[5], OpCode::TRYL as u8);
    }

    #[test]
    fn batch_script_limits() {
        let c = call(1, b"x", 1);
        assert!(batch_script(&gateway(), &[], &[]).is_err());
        assert!(batch_script(&gateway(), std::slice::from_ref(&c), &[]).is_err());
        let many = vec![c.clone(); MAX_BATCH_CALLS + 1];
        assert!(batch_script(&gateway(), &many, &vec![0; MAX_BATCH_CALLS + 1]).is_err());
        let big = call(1, &vec![0; 40_000], 1);
        assert!(batch_script(&gateway(), &[big.clone(), big], &[0, 0]).is_err());
        let over = call(1, &vec![0; MAX_FULFILL_RESULT + 1], 1);
        assert!(batch_script(&gateway(), &[over], &[0]).is_err());
        let two = batch_script(&gateway(), &[c.clone(), c.clone()], &[0, 0]).unwrap();
        assert_eq!(
            two.len(),
            2 * call_fragment(&gateway(), &c, 0).unwrap().len()
        );
    }

    #[test]
    fn shares_sum_to_the_fees_and_follow_the_measured_gas() {
        let calls = [
            call(1, b"1", 100_000_000),
            call(2, b"", 100_000_000),
            call(3, &[1; 200], 100_000_000),
        ];
        let gas = [60_000_000, 40_000_000, 70_000_000];
        let run = halt(
            170_000_500,
            stack(&[(gas[0], None), (gas[1], None), (gas[2], None)]),
        );
        let BatchPlan::Send { system_fee, shares } = plan_batch(&calls, &run, &FEES).unwrap()
        else {
            panic!("expected Send");
        };
        assert_eq!(system_fee, 170_000_500 + 3 * 1_500_000);
        assert_eq!(shares.iter().sum::<i64>(), system_fee + FEES.network_fee);
        for (s, g) in shares.iter().zip(gas) {
            assert!(*s >= g + FEES.margin_per_call, "{s} < {g}");
        }
        // The 200-byte result takes the largest part of the rest.
        let extra: Vec<i64> = shares
            .iter()
            .zip(gas)
            .map(|(s, g)| s - g - FEES.margin_per_call)
            .collect();
        assert!(extra[2] > extra[0] && extra[0] >= extra[1], "{extra:?}");
    }

    #[test]
    fn refused_faulted_and_over_budget_calls_go_alone() {
        let calls = [call(1, b"1", 100_000_000), call(2, b"2", 100_000_000)];
        let run = halt(
            60_000_000,
            stack(&[(50_000_000, None), (1_000_000, Some("already fulfilled"))]),
        );
        assert_eq!(
            plan_batch(&calls, &run, &FEES).unwrap(),
            BatchPlan::Split {
                retry: vec![0],
                single: vec![(1, SingleReason::Refused("already fulfilled".into()))],
            }
        );

        let mut fault = halt(1, Vec::new());
        fault.state = VmState::Fault;
        fault.exception = Some("ABORT".into());
        let BatchPlan::Split { retry, single } = plan_batch(&calls, &fault, &FEES).unwrap() else {
            panic!("expected Split");
        };
        assert!(retry.is_empty());
        assert_eq!(single.len(), 2);
        assert_eq!(single[0].1, SingleReason::BatchFaulted("ABORT".into()));

        // The second call's share is above its budget (70M) and the first is above the ceiling.
        let calls = [call(1, b"1", 100_000_000), call(2, b"2", 70_000_000)];
        let run = halt(
            150_000_000,
            stack(&[(80_000_000, None), (69_000_000, None)]),
        );
        let fees = BatchFees {
            max_response_fee: 80_000_000,
            ..FEES
        };
        let BatchPlan::Split { retry, single } = plan_batch(&calls, &run, &fees).unwrap() else {
            panic!("expected Split");
        };
        assert!(retry.is_empty());
        assert!(matches!(
            single[0].1,
            SingleReason::OverBudget {
                limit: 80_000_000,
                ..
            }
        ));
        assert!(matches!(
            single[1].1,
            SingleReason::OverBudget {
                limit: 70_000_000,
                ..
            }
        ));
    }

    #[test]
    fn malformed_test_run_stacks_are_errors() {
        let calls = [call(1, b"1", 100_000_000)];
        assert!(plan_batch(&calls, &halt(1, Vec::new()), &FEES).is_err());
        let grew = vec![
            StackItem::int(1),
            StackItem::Boolean(true),
            StackItem::int(5),
        ];
        assert!(read_batch_run(1, &grew).is_err());
        let not_int = vec![
            StackItem::Array(Vec::new()),
            StackItem::Boolean(true),
            StackItem::int(5),
        ];
        assert!(read_batch_run(1, &not_int).is_err());
        // A whole-script GAS smaller than the calls' GAS is not a real test run.
        let run = halt(10, stack(&[(50, None)]));
        assert!(plan_batch(&calls, &run, &FEES).is_err());
    }
}

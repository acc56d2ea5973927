#!/usr/bin/env bash
# End-to-end check of the gateway contract on a throwaway neo-go privnet, driven by the neo-go CLI.
#
#   contracts/tests/gateway_privnet.sh [--keep]
#
# Tools: $NEOGO and $NEO3_BOA, else the chain harness cache
# (${NSL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nsl}/neo-go-0.120.0/neogo and .../neo3-boa-1.3.0/bin/neo3-boa).
# Needs python3 and free local ports. Everything lives in a temporary directory that is removed,
# and the node is stopped, on every exit (--keep leaves the directory for inspection).
#
# Cases: deploy gateway + example consumer; deposit GAS for the consumer; consumer request;
# unregistered key refused; registered node fulfils and the consumer stores the value; second
# fulfilment refused; callback failure reported (callbackOk=false) without FAULT; insufficient
# deposit refused; cancel before expiry refused, after expiry refunded; non-owner admin refused;
# node rotation; withdraw; accounting invariant.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${NSL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nsl}"
neogo="${NEOGO:-$cache/neo-go-0.120.0/neogo}"
boa="${NEO3_BOA:-$cache/neo3-boa-1.3.0/bin/neo3-boa}"
keep=0
[ "${1:-}" = "--keep" ] && keep=1

for tool in "$neogo" "$boa"; do
    if [ ! -x "$tool" ]; then
        echo "error: $tool not found (set NEOGO / NEO3_BOA)" >&2
        exit 2
    fi
done

work="$(mktemp -d)"
node_pid=""
cleanup() {
    if [ -n "$node_pid" ]; then
        kill "$node_pid" 2>/dev/null || true
        wait "$node_pid" 2>/dev/null || true
    fi
    if [ "$keep" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }

# ---------------------------------------------------------------------------------------------
# Chain
# ---------------------------------------------------------------------------------------------
read -r p2p rpc_port < <(python3 -c '
import socket
s=[socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1",0))
print(*[x.getsockname()[1] for x in s])')
R="http://127.0.0.1:$rpc_port"

wallet() { # wallet NAME -> creates NAME.json + NAME.yml
    printf 'Path: "%s/%s.json"\nPassword: "pass"\n' "$work" "$1" > "$work/$1.yml"
    "$neogo" wallet init --wallet-config "$work/$1.yml" -a >/dev/null 2>&1
}
addr() { "$neogo" wallet dump-keys -w "$work/$1.json" | sed -n 1p | cut -d' ' -f1; }
pubkey() { "$neogo" wallet dump-keys -w "$work/$1.json" | sed -n 2p; }

for w in val node1 node2 user; do wallet $w; done
VAL=$(addr val); NODE1=$(addr node1); NODE2=$(addr node2); USER=$(addr user)
VALPUB=$(pubkey val); NODE1PUB=$(pubkey node1); NODE2PUB=$(pubkey node2)
"$neogo" wallet import-multisig --wallet-config "$work/val.yml" -m 1 "$VALPUB" >/dev/null 2>&1
MULTI=$("$neogo" wallet dump-keys -w "$work/val.json" | awk '/multisig/ {print $1}')

cat > "$work/protocol.yml" <<EOF
ProtocolConfiguration:
  Magic: 56753
  TimePerBlock: 250ms
  Genesis:
    TimePerBlock: 250ms
  StandbyCommittee: [ $VALPUB ]
  ValidatorsCount: 1
  VerifyTransactions: true
ApplicationConfiguration:
  DBConfiguration: { Type: "inmemory" }
  P2P: { Addresses: ["127.0.0.1:$p2p"], MinPeers: 0 }
  RPC: { Enabled: true, Addresses: ["127.0.0.1:$rpc_port"], SessionEnabled: true, MaxGasInvoke: 100 }
  Consensus: { Enabled: true, UnlockWallet: { Path: "$work/val.json", Password: "pass" } }
EOF
"$neogo" node --config-file "$work/protocol.yml" > "$work/node.log" 2>&1 &
node_pid=$!

rpc() { # rpc METHOD JSON_PARAMS
    curl -s -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":$2}" "$R"
}
for _ in $(seq 1 120); do
    h=$(rpc getblockcount '[]' 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"])' 2>/dev/null || echo 0)
    [ "$h" -ge 2 ] && break
    sleep 0.5
done
[ "${h:-0}" -ge 2 ] || { tail -20 "$work/node.log"; echo "error: chain did not start" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
# Renders a stack item / application log compactly (ByteStrings as text when printable).
cat > "$work/fmt.py" <<'EOF'
import base64, json, sys
def fmt(i):
    t, v = i.get('type'), i.get('value')
    if t == 'ByteString':
        b = base64.b64decode(v)
        if b and all(32 <= c < 127 for c in b):
            return b.decode()
        return '0x' + b.hex()
    if t in ('Array', 'Struct'):
        return '[' + ', '.join(fmt(x) for x in v) + ']'
    return str(v)
mode = sys.argv[1]
d = json.load(sys.stdin)
if mode == 'stack':
    r = d.get('result', d)
    print(r['state'], fmt(r['stack'][0]) if r.get('stack') else '', r.get('exception') or '')
else:
    e = d['result']['executions'][0]
    print(e['vmstate'], e.get('exception') or '')
    for n in e['notifications']:
        print('event', n['eventname'], fmt(n['state']))
EOF

# call NAME... : test invocation; prints "STATE value exception"
call() { "$neogo" contract testinvokefunction -r "$R" "$@" 2>/dev/null | sed -n '/^{/,$p' | python3 "$work/fmt.py" stack; }
# send WALLET ADDR CONTRACT METHOD ARGS... -- SIGNERS : signed transaction; prints the application log
send() {
    local w=$1 a=$2; shift 2
    local out tx
    # --sysgas: the system fee margin the NSL node adds (a fulfilment's fee accounting takes a few
    # more bytes of storage on chain than in the test run, whose transaction has no fees).
    # SYSGAS overrides it: a fulfillShare with a share above 0 is refused in the fee-less test
    # run (the shares may not exceed the transaction's fees), so the test run's GAS is too low.
    out=$("$neogo" contract invokefunction -r "$R" --wallet-config "$work/$w.yml" -a "$a" --sysgas "${SYSGAS:-0.015}" --force --await "$@" 2>&1) || true
    tx=$(echo "$out" | grep -oE '^[0-9a-f]{64}$' | head -n1 || true)
    if [ -z "$tx" ]; then echo "NOTSENT $out"; return; fi
    rpc getapplicationlog "[\"$tx\"]" | python3 "$work/fmt.py" log
}
transfer() { # transfer WALLET FROM TO TOKEN AMOUNT [DATA]
    local out tx
    out=$("$neogo" wallet nep17 transfer --wallet-config "$work/$1.yml" -r "$R" --from "$2" --to "$3" --token "$4" --amount "$5" --force --await ${6:-} 2>&1) || true
    tx=$(echo "$out" | grep -oE '^[0-9a-f]{64}$' | head -n1 || true)
    if [ -z "$tx" ]; then echo "NOTSENT $out"; return; fi
    rpc getapplicationlog "[\"$tx\"]" | python3 "$work/fmt.py" log
}
deploy() { # deploy WALLET ADDR NAME [DATA] -> prints contract hash
    local out
    out=$("$neogo" contract deploy -r "$R" --wallet-config "$work/$1.yml" -a "$2" -i "$work/build/$3.nef" -m "$work/build/$3.manifest.json" --force --await ${4:-} 2>&1)
    echo "$out" | grep -q 'VMState:.*HALT' || { echo "$out" >&2; return 1; }
    echo "$out" | awk '/^Contract:/ {print $2}'
}
expect_halt() { # expect_halt LABEL OUTPUT [PATTERN]
    if [[ "$2" == HALT* ]] && { [ -z "${3:-}" ] || grep -qF -- "$3" <<<"$2"; }; then ok "$1"; else bad "$1: $2"; fi
}
expect_fault() { # expect_fault LABEL OUTPUT TEXT
    if [[ "$2" == FAULT* || "$2" == NOTSENT* ]] && grep -qF -- "$3" <<<"$2"; then ok "$1"; else bad "$1: $2"; fi
}
expect_eq() { # expect_eq LABEL ACTUAL EXPECTED
    if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$2', want '$3'"; fi
}

# ---------------------------------------------------------------------------------------------
# Build, fund, deploy
# ---------------------------------------------------------------------------------------------
mkdir -p "$work/build"
for src in "$root/contracts/gateway/gateway.py" "$root/examples/contracts/gateway_consumer/gateway_consumer.py"; do
    out=$("$boa" compile "$src" -o "$work/build/$(basename "$src" .py).nef" 2>&1) || { echo "$out" >&2; exit 1; }
done
for a in "$VAL" "$NODE1" "$NODE2" "$USER"; do
    out=$(transfer val "$MULTI" "$a" GAS 1000)
    [[ "$out" == HALT* ]] || { echo "funding failed: $out" >&2; exit 1; }
done

GW=$(deploy val "$VAL" gateway)
CONS=$(deploy user "$USER" gateway_consumer "hash160:$GW")
echo "gateway 0x$GW, consumer 0x$CONS"
# neo-go prints the VM byte order of a script hash as its "BE ScriptHash" line
expect_eq "owner is the deployer" "$(call "$GW" getOwner)" "HALT 0x$("$neogo" util convert "$VAL" | awk '/BE ScriptHash/ {print $NF}') "
expect_eq "default oracle fee" "$(call "$GW" getFee string:oracle)" "HALT 10000000 "

# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------
expect_fault "addNode by non-owner refused" "$(send user "$USER" "$GW" addNode "publickey:$NODE1PUB" -- "$USER")" "only owner"
expect_halt "addNode by owner" "$(send val "$VAL" "$GW" addNode "publickey:$NODE1PUB" -- "$VAL")" "event NodeAdded"

expect_fault "NEO deposit refused" "$(transfer val "$MULTI" "$GW" NEO 1)" "only GAS is accepted"
expect_halt "deposit 5 GAS for the consumer" "$(transfer user "$USER" "$GW" GAS 5 "hash160:$CONS")" "event Deposit"
expect_eq "consumer deposit" "$(call "$GW" balanceOf "hash160:$CONS")" "HALT 500000000 "

out=$(send user "$USER" "$CONS" requestValue string:https://api.example.com/price 'string:$.data.price' -- "$USER")
expect_halt "consumer request emits ServiceRequest" "$out" 'event ServiceRequest [1, oracle'
expect_halt "payload is the JSON url/filter pair" "$out" '{"url":"https://api.example.com/price","filter":"$.data.price"}'
expect_eq "fee and budget (1 GAS) held" "$(call "$GW" balanceOf "hash160:$CONS")" "HALT 390000000 "

expect_fault "unregistered key cannot fulfil" "$(send node2 "$NODE2" "$GW" fulfill int:1 int:0 string:42.17 -- "$NODE2")" "caller is not a registered node"
out=$(send node1 "$NODE1" "$GW" fulfill int:1 int:0 string:42.17 -- "$NODE1")
expect_halt "registered node fulfils" "$out" "event ValueReceived [1, 0, 42.17]"
expect_halt "ServiceResponse reports callbackOk" "$out" ", 0, 0x$(printf '42.17' | sha256sum | cut -d' ' -f1), True, 0x"
expect_eq "consumer stored the value" "$(call "$CONS" getResult int:1)" "HALT [0, 42.17] "
expect_fault "second fulfilment refused" "$(send node1 "$NODE1" "$GW" fulfill int:1 int:0 string:43 -- "$NODE1")" "already fulfilled"
expect_fault "spoofed callback refused" "$(send user "$USER" "$CONS" onServiceResponse int:1 int:0 string:6 bytes: -- "$USER")" "only the gateway may call back"

send user "$USER" "$CONS" requestValue string:https://x.example 'string:$.x' -- "$USER" > /dev/null
out=$(send node1 "$NODE1" "$GW" fulfill int:2 int:0 bytes: -- "$NODE1")
expect_halt "failing callback: fulfil HALTs with callbackOk=false" "$out" ", False, 0x"
expect_eq "failing callback: consumer state rolled back" "$(call "$CONS" isPending int:2)" "HALT True "

expect_halt "owner raises the oracle fee" "$(send val "$VAL" "$GW" setServiceFee string:oracle int:500000000 -- "$VAL")" "event ServiceFeeSet"
expect_fault "insufficient deposit refused" "$(send user "$USER" "$CONS" requestValue string:https://x.example 'string:$.x' -- "$USER")" "insufficient deposit"
send val "$VAL" "$GW" setServiceFee string:oracle int:10000000 -- "$VAL" > /dev/null

send val "$VAL" "$GW" setExpiry int:6000 -- "$VAL" > /dev/null
dep_before=$(call "$GW" balanceOf "hash160:$CONS" | cut -d' ' -f2)
send user "$USER" "$CONS" requestValue string:https://x.example 'string:$.x' -- "$USER" > /dev/null
expect_eq "deposit after third request" "$(call "$GW" balanceOf "hash160:$CONS" | cut -d' ' -f2)" "$((dep_before - 110000000))"
expect_fault "cancel before expiry refused" "$(send user "$USER" "$CONS" cancelRequest int:3 -- "$USER")" "request not expired"
sleep 6
expect_fault "cancel by a stranger refused" "$(send user "$USER" "$GW" cancel int:3 -- "$USER")" "no witness of requester"
expect_halt "cancel after expiry" "$(send user "$USER" "$CONS" cancelRequest int:3 -- "$USER")" "event RequestCancelled [3, 0x"
expect_eq "cancel refunded fee and budget" "$(call "$GW" balanceOf "hash160:$CONS" | cut -d' ' -f2)" "$dep_before"
expect_fault "fulfil after cancel refused" "$(send node1 "$NODE1" "$GW" fulfill int:3 int:0 string:1 -- "$NODE1")" "request cancelled"

send val "$VAL" "$GW" addNode "publickey:$NODE2PUB" -- "$VAL" > /dev/null
send val "$VAL" "$GW" removeNode "publickey:$NODE1PUB" -- "$VAL" > /dev/null
expect_eq "rotation: node list" "$(call "$GW" getNodes)" "HALT [0x$NODE2PUB] "
transfer user "$USER" "$GW" GAS 1 > /dev/null
out=$(send user "$USER" "$GW" request string:function bytes:0102 "hash160:$CONS" string:onServiceResponse bytes: int:70000000 -- "$USER")
expect_halt "direct request by a transaction sender" "$out" "event ServiceRequest [4, function"
expect_fault "rotation: removed key refused" "$(send node1 "$NODE1" "$GW" fulfill int:4 int:0 string:x -- "$NODE1")" "caller is not a registered node"
expect_halt "rotation: new key fulfils" "$(send node2 "$NODE2" "$GW" fulfill int:4 int:0 string:x -- "$NODE2")" "event ServiceResponse [4"

# fulfillShare (several answers in one transaction): the share is capped by the budget and, summed
# over the transaction, by its fees.
send user "$USER" "$CONS" requestValue string:https://x.example 'string:$.x' -- "$USER" > /dev/null
expect_fault "fulfillShare above the budget refused" "$(send node2 "$NODE2" "$GW" fulfillShare int:5 int:0 string:9 int:100000001 -- "$NODE2")" "response fees exceed the gas budget"
expect_fault "fulfillShare above the transaction's fees refused" "$(send node2 "$NODE2" "$GW" fulfillShare int:5 int:0 string:9 int:99000000 -- "$NODE2")" "fees charged exceed the transaction fees"
expect_fault "negative fulfillShare refused" "$(send node2 "$NODE2" "$GW" fulfillShare int:5 int:0 string:9 int:-1 -- "$NODE2")" "invalid fee share"
expect_halt "fulfillShare within budget and fees" "$(SYSGAS=0.7 send node2 "$NODE2" "$GW" fulfillShare int:5 int:0 string:9 int:1000 -- "$NODE2")" ", True, 0x"
expect_halt "fulfillShare: the request is charged its share" "$(call "$GW" getRequest int:5)" ", 1000, 0x"

expect_fault "withdraw of another account refused" "$(send user "$USER" "$GW" withdraw "hash160:$CONS" int:1 -- "$USER")" "no witness of account"
expect_halt "withdraw own deposit" "$(send user "$USER" "$GW" withdraw "hash160:$USER" int:20000000 -- "$USER")" "event Withdrawal"
expect_fault "update by non-owner refused" "$(send user "$USER" "$GW" update "filebytes:$work/build/gateway.nef" "filebytes:$work/build/gateway.manifest.json" any: -- "$USER")" "only owner"

gas=$(call d2a4cff31913016155e38e474a2c06d08be276cf balanceOf "hash160:$GW" | cut -d' ' -f2)
dep_c=$(call "$GW" balanceOf "hash160:$CONS" | cut -d' ' -f2)
dep_u=$(call "$GW" balanceOf "hash160:$USER" | cut -d' ' -f2)
dep_n1=$(call "$GW" balanceOf "hash160:$NODE1" | cut -d' ' -f2)
dep_n2=$(call "$GW" balanceOf "hash160:$NODE2" | cut -d' ' -f2)
fees=$(call "$GW" getCollectedFees | cut -d' ' -f2)
expect_eq "GAS held = deposits (consumer, user, nodes) + collected fees (nothing pending)" "$gas" "$((dep_c + dep_u + dep_n1 + dep_n2 + fees))"

echo "passed $passed, failed $failed"
[ "$failed" = 0 ]

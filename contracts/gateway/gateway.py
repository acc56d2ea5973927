"""
Neo Service Layer gateway contract (Neo N3, neo3-boa 1.3.0).

One on-chain entry point for every off-chain service of the Neo Service Layer (oracle,
randomness "vrf", JavaScript "function"), all on the same path:

    consumer --request()--> gateway --ServiceRequest event--> NSL node (off chain)
    NSL node --fulfill()--> gateway --callback(requestId, code, result, userData)--> consumer

Money: requesters deposit GAS with a plain NEP-17 transfer to the gateway (onNEP17Payment). A
request takes the service fee and the requester's GAS budget for the response from the deposit
and holds them while it is pending. At fulfilment the node that sent the response transaction is
reimbursed its fees (system + network fee of that transaction, at most the budget) and earns the
service fee (less the owner's share, in basis points), both credited to its deposit; the unused
budget returns to the requester's deposit. Cancelling an expired request returns fee and budget.

Invariants:
- GAS held by the gateway == sum of deposits + fee and budget of pending requests + collected fees.
- A fulfilment never charges a requester more than the request's budget, and the fees charged
  by all fulfilments of one transaction never exceed that transaction's system + network fee
  (running total per transaction hash): `fulfill` charges the whole fee, `fulfillShare` (several
  answers in one transaction) the share the node states.
- A request is closed exactly once: fulfilled by a registered node, or cancelled by its requester
  after its expiry. Its status is written before the consumer's callback runs.
- Only the owner changes configuration; only a registered node key fulfils, and only from the
  transaction's entry script; fulfill and cancel are refused while a consumer callback runs.
- A `vrf` request is answered only with its VRF output: the answer (beta || proof || signature)
  must be signed by the answering node's key over (requestId || alpha || beta), where alpha is
  computed here from the request id, the requester, the seed and the hash of the block that
  included the request; the consumer gets words derived here from beta. A `vrf` request is
  never answered twice, never answered after its expiry, and cannot be cancelled before it
  (no re-roll); after its expiry its requester may cancel it and get fee and budget back.

The full interface (methods, events, payload formats, error texts) is in docs/gateway.md.
"""
from typing import Any, cast

from boa3.sc import runtime, storage
from boa3.sc.compiletime import NeoMetadata, public
from boa3.sc.contracts import ContractManagement, CryptoLib, GasToken, LedgerContract, StdLib
from boa3.sc.types import Block, CallFlags, ECPoint, FindOptions, NamedCurveHash, UInt160
from boa3.sc.utils import CreateNewEvent, Iterator, call_contract, to_bytes, to_int


def manifest_metadata() -> NeoMetadata:
    meta = NeoMetadata()
    meta.name = 'NslGateway'
    meta.author = 'Neo Service Layer'
    meta.description = 'Request/response gateway for Neo Service Layer off-chain services'
    meta.supported_standards = []
    # Calls consumer callbacks (any contract, any method), GAS.transfer and ContractManagement.update.
    meta.add_permission(contract='*', methods='*')
    return meta


# ---------------------------------------------------------------------------------------------
# Storage layout (one-byte prefixes)
# ---------------------------------------------------------------------------------------------
KEY_OWNER = b'\x01'
PREFIX_DEPOSIT = b'\x02'      # + account (20 bytes) -> int
PREFIX_NODE = b'\x03'         # + public key (33 bytes) -> b'\x01'
PREFIX_SERVICE = b'\x04'      # + service type (UTF-8) -> fee (int, stored as fee + 1 so 0 is a fee)
KEY_EXPIRY = b'\x05'          # request lifetime in milliseconds
KEY_LAST_ID = b'\x06'         # last request id issued
PREFIX_REQUEST = b'\x07'      # + request id (minimal little-endian) -> StdLib-serialized record
KEY_COLLECTED = b'\x08'       # fees earned by fulfilled requests, withdrawable by the owner
KEY_NODE_COUNT = b'\x09'
KEY_IN_CALLBACK = b'\x0a'    # 1 while fulfill runs a consumer callback (re-entrancy guard)
KEY_OWNER_SHARE = b'\x0b'    # owner's share of service fees in basis points (0..10000)
# Fees charged so far in the last transaction that fulfilled: its hash (32 bytes) followed by the
# running total plus CHARGED_BIAS (always 8 bytes, so a test run with zero shares and the real
# transaction pay the same storage fee for this key).
KEY_TX_CHARGED = b'\x0c'
KEY_VRF_KEY = b'\x0d'         # the nodes' VRF public key (33-byte compressed P-256 point)

# ---------------------------------------------------------------------------------------------
# Limits and defaults
# ---------------------------------------------------------------------------------------------
# A notification must serialize to <= 1024 bytes: the ServiceRequest event carries the payload.
MAX_PAYLOAD = 768
MAX_USER_DATA = 512
MAX_RESULT = 65535
MAX_SERVICE_TYPE = 32
MAX_METHOD = 32
MAX_NODES = 32
DEFAULT_FEE = 10000000            # 0.1 GAS
DEFAULT_EXPIRY_MS = 3600000       # one hour
# Smallest GAS budget of a request: covers an error answer (empty result) with a cheap callback.
MIN_GAS_BUDGET = 70000000         # 0.7 GAS (an error answer costs ~0.6 GAS on neo-go 0.120.0)
MAX_BPS = 10000
CHARGED_BIAS = 72057594037927936  # 2**56: running totals below 2**55 serialize to exactly 8 bytes

# Service type `vrf` (docs/randomness.md): payload = word count (1 byte, 1..MAX_VRF_WORDS) || seed
# (0..MAX_VRF_SEED bytes); the answer's result = beta (32) || proof (81) || signature (64).
VRF_SERVICE_TYPE = 'vrf'
MAX_VRF_SEED = 64
MAX_VRF_WORDS = 16
VRF_BETA_LEN = 32
VRF_PROOF_LEN = 81
VRF_SIGNATURE_LEN = 64
VRF_ANSWER_LEN = 177              # beta + proof + signature
U64_BIAS = 18446744073709551616   # 2**64: to_bytes(id + 2**64)[:8] is the id as 8 bytes little-endian

# Request status values (index RECORD_STATUS of a request record)
STATUS_PENDING = 0
STATUS_FULFILLED = 1
STATUS_CANCELLED = 2

# Request record layout (getRequest returns this array)
RECORD_ID = 0
RECORD_SERVICE_TYPE = 1
RECORD_PAYLOAD = 2
RECORD_CALLBACK_CONTRACT = 3
RECORD_CALLBACK_METHOD = 4
RECORD_USER_DATA = 5
RECORD_REQUESTER = 6
RECORD_FEE = 7
RECORD_CREATED_HEIGHT = 8
RECORD_CREATED_TIME = 9
RECORD_EXPIRES_AT = 10
RECORD_STATUS = 11
RECORD_CODE = 12
RECORD_RESULT_HASH = 13
RECORD_CALLBACK_OK = 14
RECORD_CLOSED_HEIGHT = 15
RECORD_GAS_BUDGET = 16
RECORD_RESPONSE_FEES = 17
RECORD_ANSWERED_BY = 18
RECORD_BLOCK = 19                 # index of the block that included the request

# ---------------------------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------------------------
on_service_request = CreateNewEvent(
    [
        ('requestId', int),
        ('serviceType', str),
        ('requester', UInt160),
        ('callbackContract', UInt160),
        ('callbackMethod', str),
        ('payload', bytes),
        ('gasBudget', int),
    ],
    'ServiceRequest'
)

on_service_response = CreateNewEvent(
    [
        ('requestId', int),
        ('requester', UInt160),
        ('code', int),
        ('resultHash', bytes),
        ('callbackOk', bool),
        ('answeredBy', UInt160),
        ('responseFees', int),
    ],
    'ServiceResponse'
)

on_request_cancelled = CreateNewEvent(
    [('requestId', int), ('requester', UInt160), ('refund', int)],
    'RequestCancelled'
)

on_deposit = CreateNewEvent([('account', UInt160), ('amount', int)], 'Deposit')
on_withdrawal = CreateNewEvent([('account', UInt160), ('amount', int)], 'Withdrawal')
on_node_added = CreateNewEvent([('publicKey', ECPoint)], 'NodeAdded')
on_node_removed = CreateNewEvent([('publicKey', ECPoint)], 'NodeRemoved')
on_service_fee_set = CreateNewEvent([('serviceType', str), ('fee', int)], 'ServiceFeeSet')
on_service_removed = CreateNewEvent([('serviceType', str)], 'ServiceRemoved')
on_expiry_set = CreateNewEvent([('expiryMs', int)], 'ExpirySet')
on_owner_changed = CreateNewEvent([('oldOwner', UInt160), ('newOwner', UInt160)], 'OwnerChanged')
on_fees_withdrawn = CreateNewEvent([('to', UInt160), ('amount', int)], 'FeesWithdrawn')
on_owner_share_set = CreateNewEvent([('bps', int)], 'OwnerShareSet')
on_vrf_key_set = CreateNewEvent([('publicKey', ECPoint)], 'VrfKeySet')
# Everything an off-chain verifier needs: nsl_vrf::verify(vrfKey, alpha, proof) == beta.
on_randomness = CreateNewEvent(
    [('requestId', int), ('alpha', bytes), ('beta', bytes), ('proof', bytes)],
    'RandomnessFulfilled'
)


# ---------------------------------------------------------------------------------------------
# Deployment
# ---------------------------------------------------------------------------------------------
@public
def _deploy(data: Any, update: bool):
    if update:
        return
    owner = runtime.script_container.sender
    if isinstance(data, bytes):
        if len(data) == 20:
            owner = UInt160(data)
        elif len(data) != 0:
            raise Exception('deploy data must be the owner script hash or empty')
    storage.put_uint160(KEY_OWNER, owner)
    storage.put_int(KEY_EXPIRY, DEFAULT_EXPIRY_MS)
    storage.put_int(KEY_LAST_ID, 0)
    storage.put_int(KEY_COLLECTED, 0)
    storage.put_int(KEY_NODE_COUNT, 0)
    _set_fee('oracle', DEFAULT_FEE)
    _set_fee('vrf', DEFAULT_FEE)
    _set_fee('function', DEFAULT_FEE)


# ---------------------------------------------------------------------------------------------
# Deposits
# ---------------------------------------------------------------------------------------------
@public(name='onNEP17Payment')
def on_nep17_payment(from_address: UInt160, amount: int, data: Any):
    """
    Credits a GAS deposit. The beneficiary is `data` when it is a 20-byte script hash (deposit for
    another account, e.g. a consumer contract), otherwise the sender. Other tokens are refused.
    """
    if runtime.calling_script_hash != GasToken.hash:
        raise Exception('only GAS is accepted')
    if amount <= 0:
        raise Exception('amount must be positive')
    beneficiary = from_address
    if isinstance(data, bytes):
        if len(data) == 20:
            beneficiary = UInt160(data)
        elif len(data) != 0:
            raise Exception('deposit data must be a beneficiary script hash or empty')
    elif data is not None:
        raise Exception('deposit data must be a beneficiary script hash or empty')
    if beneficiary is None:
        raise Exception('deposit needs a sender or a beneficiary')
    _add_deposit(beneficiary, amount)
    on_deposit(beneficiary, amount)


@public(name='balanceOf', safe=True)
def balance_of(account: UInt160) -> int:
    """Deposited GAS (8 decimals) of `account` available for request fees."""
    return storage.get_int(PREFIX_DEPOSIT + account)


@public
def withdraw(account: UInt160, amount: int):
    """Sends `amount` of the deposit of `account` back to it. Needs the witness of `account`."""
    if not runtime.check_witness(account):
        raise Exception('no witness of account')
    if amount <= 0:
        raise Exception('amount must be positive')
    if storage.get_int(PREFIX_DEPOSIT + account) < amount:
        raise Exception('insufficient deposit')
    _add_deposit(account, -amount)
    if not GasToken.transfer(runtime.executing_script_hash, account, amount, None):
        raise Exception('GAS transfer failed')
    on_withdrawal(account, amount)


# ---------------------------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------------------------
@public
def request(service_type: str, payload: bytes, callback_contract: UInt160, callback_method: str,
            user_data: bytes, gas_budget: int) -> int:
    """
    Opens a request and returns its id. The requester (who pays the fee and the GAS budget of the
    response from its deposit and may cancel) is the calling contract; when the gateway is
    called straight from a transaction script, it is the transaction sender, whose witness is
    required. `gas_budget` (>= MIN_GAS_BUDGET) is the most the response transaction may cost
    (system + network fee); what it does not use returns to the deposit at fulfilment.
    """
    requester = runtime.calling_script_hash
    if requester == runtime.entry_script_hash:
        requester = runtime.script_container.sender
        if not runtime.check_witness(requester):
            raise Exception('no witness of sender')

    fee_key = PREFIX_SERVICE + to_bytes(service_type)
    if len(service_type) == 0 or len(service_type) > MAX_SERVICE_TYPE:
        raise Exception('unknown service type')
    stored_fee = storage.get_int(fee_key)
    if stored_fee == 0:
        raise Exception('unknown service type')
    fee = stored_fee - 1

    if len(payload) > MAX_PAYLOAD:
        raise Exception('payload too large')
    if len(user_data) > MAX_USER_DATA:
        raise Exception('user data too large')
    if len(callback_method) == 0 or len(callback_method) > MAX_METHOD:
        raise Exception('invalid callback method')
    if callback_method[0] == '_':
        raise Exception('invalid callback method')
    if callback_contract == runtime.executing_script_hash:
        raise Exception('invalid callback contract')
    if not ContractManagement.has_method(callback_contract, callback_method, 4):
        raise Exception('callback method not found')
    if gas_budget < MIN_GAS_BUDGET:
        raise Exception('gas budget too low')
    if service_type == VRF_SERVICE_TYPE:
        _check_vrf_payload(payload)

    balance = storage.get_int(PREFIX_DEPOSIT + requester)
    if balance < fee + gas_budget:
        raise Exception('insufficient deposit')
    _add_deposit(requester, -(fee + gas_budget))

    request_id = storage.get_int(KEY_LAST_ID) + 1
    storage.put_int(KEY_LAST_ID, request_id)
    now = runtime.time
    record: list = [
        request_id,
        service_type,
        payload,
        callback_contract,
        callback_method,
        user_data,
        requester,
        fee,
        LedgerContract.get_current_index(),
        now,
        now + storage.get_int(KEY_EXPIRY),
        STATUS_PENDING,
        -1,
        b'',
        False,
        -1,
        gas_budget,
        0,
        b'',
        # Ledger's current index is the last persisted block: this request is in the next one.
        LedgerContract.get_current_index() + 1,
    ]
    _put_request(request_id, record)
    on_service_request(request_id, service_type, requester, callback_contract, callback_method, payload,
                       gas_budget)
    return request_id


@public
def fulfill(request_id: int, code: int, result: bytes):
    """
    Answers a pending request and charges it the whole system + network fee of the transaction
    (the transaction must answer nothing else). Needs the witness of a registered node key (its
    single-signature account). Closes the request, then calls
    callbackContract.callbackMethod(requestId, code, result, userData) with CallFlags.ALL.
    An exception thrown by the callback is caught: its state changes are rolled back, the request
    stays fulfilled and ServiceResponse reports callbackOk = false.
    """
    tx = runtime.script_container
    _fulfill(request_id, code, result, tx.system_fee + tx.network_fee)


@public(name='fulfillShare')
def fulfill_share(request_id: int, code: int, result: bytes, fee_share: int):
    """
    Like fulfill, for one of several answers in one transaction: the request is charged
    `fee_share` (at most its budget), and the shares charged in one transaction together may not
    exceed its system + network fee.
    """
    _fulfill(request_id, code, result, fee_share)


def _fulfill(request_id: int, code: int, result: bytes, charge: int):
    # Only a node's own transaction script may fulfil: a contract (e.g. a consumer callback
    # running inside another fulfilment) calling fulfill is refused whatever witnesses the
    # transaction carries.
    if runtime.calling_script_hash != runtime.entry_script_hash:
        raise Exception('fulfill must be called by the entry script')
    _require_no_callback()
    node_key = _node_witness()
    if len(node_key) == 0:
        raise Exception('caller is not a registered node')
    if code < 0 or code > 255:
        raise Exception('invalid code')
    if len(result) > MAX_RESULT:
        raise Exception('result too large')
    if charge < 0:
        raise Exception('invalid fee share')
    record = _get_request(request_id)
    status: int = record[RECORD_STATUS]
    if status == STATUS_FULFILLED:
        raise Exception('already fulfilled')
    if status == STATUS_CANCELLED:
        raise Exception('request cancelled')
    service_type: str = record[RECORD_SERVICE_TYPE]
    if service_type == VRF_SERVICE_TYPE:
        # The consumer gets the words derived from the verified beta, never bytes of the node's
        # choosing.
        result = _answer_vrf(request_id, record, code, result, node_key)

    # The response's fees (its charge) come out of the request's budget: the sender (the node)
    # gets them back with the service fee, less the owner's share; the requester gets the rest.
    budget: int = record[RECORD_GAS_BUDGET]
    if charge > budget:
        raise Exception('response fees exceed the gas budget')
    tx = runtime.script_container
    _charge_transaction(tx.hash, tx.system_fee + tx.network_fee, charge)
    fee: int = record[RECORD_FEE]
    owner_part = fee * storage.get_int(KEY_OWNER_SHARE) // MAX_BPS
    answered_by: UInt160 = tx.sender
    requester: UInt160 = record[RECORD_REQUESTER]
    storage.put_int(KEY_COLLECTED, storage.get_int(KEY_COLLECTED) + owner_part)
    _add_deposit(answered_by, charge + fee - owner_part)
    _add_deposit(requester, budget - charge)
    result_hash = CryptoLib.sha256(result)
    record[RECORD_STATUS] = STATUS_FULFILLED
    record[RECORD_CODE] = code
    record[RECORD_RESULT_HASH] = result_hash
    record[RECORD_CLOSED_HEIGHT] = LedgerContract.get_current_index()
    record[RECORD_RESPONSE_FEES] = charge
    record[RECORD_ANSWERED_BY] = answered_by
    _put_request(request_id, record)

    callback_contract: UInt160 = record[RECORD_CALLBACK_CONTRACT]
    callback_method: str = record[RECORD_CALLBACK_METHOD]
    user_data: bytes = record[RECORD_USER_DATA]
    callback_ok = False
    # CallFlags.ALL: a callback stores the answer (WriteStates), emits events (AllowNotify) and
    # may call other contracts (AllowCall, e.g. a follow-up request). The node's witness is of no
    # use to it (the node signs with the rule CalledByEntry AND ScriptHash(gateway)), fulfill is
    # refused unless called by the entry script, and the guard refuses fulfill and cancel while
    # the callback runs (docs/gateway.md, "Callback flags").
    storage.put_int(KEY_IN_CALLBACK, 1)
    try:
        call_contract(callback_contract, callback_method, [request_id, code, result, user_data], CallFlags.ALL)
        callback_ok = True
    except:
        callback_ok = False
    storage.delete(KEY_IN_CALLBACK)

    if callback_ok:
        record[RECORD_CALLBACK_OK] = True
        _put_request(request_id, record)
    on_service_response(request_id, requester, code, result_hash, callback_ok, answered_by, charge)


@public
def cancel(request_id: int):
    """
    Cancels a pending request after its expiry and gives its fee back to the requester's deposit.
    Needs the witness of the requester (a requesting contract calls cancel itself).
    """
    _require_no_callback()
    record = _get_request(request_id)
    requester: UInt160 = record[RECORD_REQUESTER]
    if not runtime.check_witness(requester):
        raise Exception('no witness of requester')
    service_type: str = record[RECORD_SERVICE_TYPE]
    vrf_expires_at: int = record[RECORD_EXPIRES_AT]
    if service_type == VRF_SERVICE_TYPE and runtime.time < vrf_expires_at:
        # Its alpha is fixed since its block: cancelling while it can still be answered and
        # asking again would be a re-roll. After its expiry no answer is accepted any more
        # (_answer_vrf), so the requester may take fee and budget back; a fair consumer treats
        # that as final (docs/randomness.md).
        raise Exception('vrf requests cannot be cancelled before expiry')
    status: int = record[RECORD_STATUS]
    if status == STATUS_FULFILLED:
        raise Exception('already fulfilled')
    if status == STATUS_CANCELLED:
        raise Exception('already cancelled')
    expires_at: int = record[RECORD_EXPIRES_AT]
    if runtime.time < expires_at:
        raise Exception('request not expired')
    fee: int = record[RECORD_FEE]
    budget: int = record[RECORD_GAS_BUDGET]
    _add_deposit(requester, fee + budget)
    record[RECORD_STATUS] = STATUS_CANCELLED
    record[RECORD_CLOSED_HEIGHT] = LedgerContract.get_current_index()
    _put_request(request_id, record)
    on_request_cancelled(request_id, requester, fee + budget)


@public(name='getRequest', safe=True)
def get_request(request_id: int) -> list:
    """The request record (see docs/gateway.md for the field order). Raises 'unknown request'."""
    return _get_request(request_id)


@public(name='getLastRequestId', safe=True)
def get_last_request_id() -> int:
    return storage.get_int(KEY_LAST_ID)


# ---------------------------------------------------------------------------------------------
# Configuration reads
# ---------------------------------------------------------------------------------------------
@public(name='getOwner', safe=True)
def get_owner() -> UInt160:
    return storage.get_uint160(KEY_OWNER)


@public(name='getNodes', safe=True)
def get_nodes() -> list:
    """Registered node public keys (33-byte compressed)."""
    nodes: list = []
    it: Iterator = storage.find(PREFIX_NODE, options=FindOptions.KEYS_ONLY | FindOptions.REMOVE_PREFIX)
    while it.next():
        nodes.append(it.value)
    return nodes


@public(name='isNode', safe=True)
def is_node(public_key: ECPoint) -> bool:
    return storage.get_int(PREFIX_NODE + public_key) == 1


@public(name='getFee', safe=True)
def get_fee(service_type: str) -> int:
    """Fee in GAS fractions (8 decimals) of a service type, or -1 when the type is unknown."""
    return storage.get_int(PREFIX_SERVICE + to_bytes(service_type)) - 1


@public(name='getServices', safe=True)
def get_services() -> list:
    """[[serviceType, fee], ...] for every enabled service type."""
    services: list = []
    it: Iterator = storage.find(PREFIX_SERVICE, options=FindOptions.REMOVE_PREFIX)
    while it.next():
        entry: list = it.value
        name: bytes = entry[0]
        stored: bytes = entry[1]
        services.append([name, to_int(stored) - 1])
    return services


@public(name='getExpiry', safe=True)
def get_expiry() -> int:
    """Request lifetime in milliseconds after which the requester may cancel."""
    return storage.get_int(KEY_EXPIRY)


@public(name='getCollectedFees', safe=True)
def get_collected_fees() -> int:
    return storage.get_int(KEY_COLLECTED)


@public(name='getOwnerShare', safe=True)
def get_owner_share() -> int:
    """The owner's share of service fees in basis points (the answering node earns the rest)."""
    return storage.get_int(KEY_OWNER_SHARE)


@public(name='getMinGasBudget', safe=True)
def get_min_gas_budget() -> int:
    return MIN_GAS_BUDGET


@public(name='vrfKey', safe=True)
def vrf_key() -> bytes:
    """The nodes' VRF public key (33-byte compressed), empty while none is registered."""
    return storage.get(KEY_VRF_KEY)


@public(name='vrfAlpha', safe=True)
def vrf_alpha(request_id: int) -> bytes:
    """
    The VRF input of `vrf` request `request_id`: SHA-256(requestId as 8 bytes little-endian ||
    requester (20 bytes) || seed || hash of the block that included the request). Raises while
    that block is not persisted.
    """
    record = _get_request(request_id)
    service_type: str = record[RECORD_SERVICE_TYPE]
    if service_type != VRF_SERVICE_TYPE:
        raise Exception('not a vrf request')
    return _vrf_alpha(request_id, record)


# ---------------------------------------------------------------------------------------------
# Administration (owner only)
# ---------------------------------------------------------------------------------------------
@public(name='addNode')
def add_node(public_key: ECPoint):
    _require_owner()
    if len(public_key) != 33:
        raise Exception('invalid public key')
    key = PREFIX_NODE + public_key
    if storage.get_int(key) == 1:
        raise Exception('node already registered')
    count = storage.get_int(KEY_NODE_COUNT)
    if count >= MAX_NODES:
        raise Exception('too many nodes')
    storage.put_int(key, 1)
    storage.put_int(KEY_NODE_COUNT, count + 1)
    on_node_added(public_key)


@public(name='setVrfKey')
def set_vrf_key(public_key: ECPoint):
    """
    Registers the VRF public key (33-byte compressed P-256 point) of the nodes' vault, the key an
    off-chain verifier checks `vrf` proofs with. Replacing it affects only answers given after.
    """
    _require_owner()
    if len(public_key) != 33:
        raise Exception('invalid public key')
    storage.put(KEY_VRF_KEY, public_key)
    on_vrf_key_set(public_key)


@public(name='removeNode')
def remove_node(public_key: ECPoint):
    _require_owner()
    key = PREFIX_NODE + public_key
    if storage.get_int(key) != 1:
        raise Exception('node not registered')
    storage.delete(key)
    storage.put_int(KEY_NODE_COUNT, storage.get_int(KEY_NODE_COUNT) - 1)
    on_node_removed(public_key)


@public(name='setServiceFee')
def set_service_fee(service_type: str, fee: int):
    """Enables `service_type` (if new) and sets its fee in GAS fractions (>= 0)."""
    _require_owner()
    if len(service_type) == 0 or len(service_type) > MAX_SERVICE_TYPE:
        raise Exception('invalid service type')
    if fee < 0:
        raise Exception('fee must not be negative')
    _set_fee(service_type, fee)
    on_service_fee_set(service_type, fee)


@public(name='removeService')
def remove_service(service_type: str):
    """Disables `service_type`: new requests are refused; pending ones can still be answered."""
    _require_owner()
    key = PREFIX_SERVICE + to_bytes(service_type)
    if storage.get_int(key) == 0:
        raise Exception('unknown service type')
    storage.delete(key)
    on_service_removed(service_type)


@public(name='setExpiry')
def set_expiry(expiry_ms: int):
    """Sets the lifetime of new requests in milliseconds (> 0)."""
    _require_owner()
    if expiry_ms <= 0:
        raise Exception('expiry must be positive')
    storage.put_int(KEY_EXPIRY, expiry_ms)
    on_expiry_set(expiry_ms)


@public(name='setOwner')
def set_owner(new_owner: UInt160):
    """Transfers administration. Needs the witnesses of the current and of the new owner."""
    old_owner = _require_owner()
    if not runtime.check_witness(new_owner):
        raise Exception('no witness of new owner')
    storage.put_uint160(KEY_OWNER, new_owner)
    on_owner_changed(old_owner, new_owner)


@public(name='setOwnerShare')
def set_owner_share(bps: int):
    """Sets the owner's share of the service fee of requests fulfilled from now on (0..10000)."""
    _require_owner()
    if bps < 0 or bps > MAX_BPS:
        raise Exception('share must be 0..10000 basis points')
    storage.put_int(KEY_OWNER_SHARE, bps)
    on_owner_share_set(bps)


@public(name='withdrawFees')
def withdraw_fees(to: UInt160, amount: int):
    """Sends `amount` of the collected fees to `to`."""
    _require_owner()
    if amount <= 0:
        raise Exception('amount must be positive')
    collected = storage.get_int(KEY_COLLECTED)
    if collected < amount:
        raise Exception('insufficient collected fees')
    storage.put_int(KEY_COLLECTED, collected - amount)
    if not GasToken.transfer(runtime.executing_script_hash, to, amount, None):
        raise Exception('GAS transfer failed')
    on_fees_withdrawn(to, amount)


@public
def update(nef_file: bytes, manifest: bytes, data: Any):
    """Upgrades the contract code in place (storage and hash are kept)."""
    _require_owner()
    ContractManagement.update(nef_file, manifest, data)


# ---------------------------------------------------------------------------------------------
# Internals
# ---------------------------------------------------------------------------------------------
def _require_owner() -> UInt160:
    owner = storage.get_uint160(KEY_OWNER)
    if not runtime.check_witness(owner):
        raise Exception('only owner')
    return owner


def _require_no_callback():
    if storage.get_int(KEY_IN_CALLBACK) == 1:
        raise Exception('a callback is running')


def _node_witness() -> bytes:
    """The registered node key whose witness the transaction carries, or empty."""
    it: Iterator = storage.find(PREFIX_NODE, options=FindOptions.KEYS_ONLY | FindOptions.REMOVE_PREFIX)
    while it.next():
        key: ECPoint = it.value
        if runtime.check_witness(key):
            return key
    return b''


def _check_vrf_payload(payload: bytes):
    if len(payload) < 1 or len(payload) > MAX_VRF_SEED + 1:
        raise Exception('vrf payload must be a word count byte and a seed of at most 64 bytes')
    # One signed byte: 0x80..0xff read as negative and are refused too.
    words = to_int(payload[:1])
    if words < 1 or words > MAX_VRF_WORDS:
        raise Exception('vrf word count must be 1..16')


def _u64(value: int) -> bytes:
    """`value` (0 <= value < 2**63) as 8 bytes little-endian."""
    return to_bytes(value + U64_BIAS)[:8]


def _vrf_alpha(request_id: int, record: list) -> bytes:
    requester: UInt160 = record[RECORD_REQUESTER]
    payload: bytes = record[RECORD_PAYLOAD]
    block_index: int = record[RECORD_BLOCK]
    if block_index > LedgerContract.get_current_index():
        raise Exception('request block not persisted yet')
    block_hash = _block_hash(block_index)
    return CryptoLib.sha256(_u64(request_id) + requester + payload[1:] + block_hash)


def _block_hash(index: int) -> bytes:
    block = LedgerContract.get_block(index)
    if block is None:
        raise Exception('request block not found')
    # Ledger returns the block as an Array (isinstance(.., Block) would test for a Struct).
    found = cast(Block, block)
    return found.hash


def _answer_vrf(request_id: int, record: list, code: int, answer: bytes, node_key: bytes) -> bytes:
    """
    Checks a `vrf` answer (beta || proof || signature) and returns the consumer's result: the
    requested number of 32-byte words, word i = SHA-256(beta || i as 2 bytes big-endian).
    """
    expires_at: int = record[RECORD_EXPIRES_AT]
    if runtime.time >= expires_at:
        raise Exception('vrf request expired')
    if code != 0:
        raise Exception('vrf answers carry code 0')
    if len(answer) != VRF_ANSWER_LEN:
        raise Exception('vrf answer must be beta, proof and signature (177 bytes)')
    if len(storage.get(KEY_VRF_KEY)) == 0:
        raise Exception('no vrf key registered')
    beta = answer[:VRF_BETA_LEN]
    proof = answer[VRF_BETA_LEN:VRF_BETA_LEN + VRF_PROOF_LEN]
    signature = answer[VRF_BETA_LEN + VRF_PROOF_LEN:]
    alpha = _vrf_alpha(request_id, record)
    message = _u64(request_id) + alpha + beta
    key: ECPoint = ECPoint(node_key)
    if not CryptoLib.verify_with_ecdsa(message, key, signature, NamedCurveHash.SECP256R1SHA256):
        raise Exception('invalid vrf signature')
    payload: bytes = record[RECORD_PAYLOAD]
    count = to_int(payload[:1])
    words = b''
    i = 0
    while i < count:
        index = b'\x00\x00'
        if i > 0:
            index = b'\x00' + to_bytes(i)
        words = words + CryptoLib.sha256(beta + index)
        i = i + 1
    on_randomness(request_id, alpha, beta, proof)
    return words


def _charge_transaction(tx_hash: bytes, tx_fees: int, charge: int):
    """Adds `charge` to the fees charged in transaction `tx_hash`; refuses going above `tx_fees`."""
    charged = 0
    raw = storage.get(KEY_TX_CHARGED)
    if len(raw) == 40 and raw[:32] == tx_hash:
        charged = to_int(raw[32:]) - CHARGED_BIAS
    charged = charged + charge
    if charged > tx_fees:
        raise Exception('fees charged exceed the transaction fees')
    storage.put(KEY_TX_CHARGED, tx_hash + to_bytes(charged + CHARGED_BIAS))


def _set_fee(service_type: str, fee: int):
    storage.put_int(PREFIX_SERVICE + to_bytes(service_type), fee + 1)


def _add_deposit(account: UInt160, delta: int):
    key = PREFIX_DEPOSIT + account
    balance = storage.get_int(key) + delta
    if balance == 0:
        storage.delete(key)
    else:
        storage.put_int(key, balance)


def _put_request(request_id: int, record: list):
    storage.put(PREFIX_REQUEST + to_bytes(request_id), StdLib.serialize(record))


def _get_request(request_id: int) -> list:
    raw = storage.get(PREFIX_REQUEST + to_bytes(request_id))
    if len(raw) == 0:
        raise Exception('unknown request')
    record: list = StdLib.deserialize(raw)
    return record

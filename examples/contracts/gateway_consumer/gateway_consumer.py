"""
Example consumer of the Neo Service Layer gateway (Neo N3, neo3-boa 1.3.0).

Flow:
1. Deploy with data = the gateway's script hash (20 bytes); the deploying account becomes owner.
2. Fund the consumer's deposit at the gateway: transfer GAS to the GATEWAY with data = this
   contract's script hash (the deposit is credited to this contract, which pays request fees
   and the GAS budget of each response; the unused part of a budget comes back to it).
   Each request states the GAS budget set with setGasBudget (default 1 GAS): the most the
   node's response transaction may cost; a response that needs more (a large result) is
   answered with code InsufficientFunds instead.
3. The owner calls requestValue(url, filter): this contract calls gateway.request('oracle', ...)
   and remembers the request id as pending. Or the owner calls requestService(serviceType,
   payload) for any other service type with a ready-made payload, e.g. 'function' with
   StdLib.jsonSerialize({'function': '<function id>', 'args': ...}) (see docs/functions.md).
4. A Neo Service Layer node answers with gateway.fulfill; the gateway calls
   onServiceResponse(requestId, code, result, userData) here; the value is stored and
   ValueReceived is emitted.

The callback accepts calls only from the configured gateway and only for ids this contract
requested, so nobody can inject values.
"""
from typing import Any

from boa3.sc import runtime, storage
from boa3.sc.compiletime import NeoMetadata, public
from boa3.sc.contracts import StdLib
from boa3.sc.types import UInt160
from boa3.sc.utils import CreateNewEvent, call_contract, to_bytes


def manifest_metadata() -> NeoMetadata:
    meta = NeoMetadata()
    meta.name = 'NslGatewayConsumerExample'
    meta.author = 'Neo Service Layer'
    meta.description = 'Requests an oracle value or another service through the NSL gateway and stores the answer'
    # The gateway's hash is only known at deploy time.
    meta.add_permission(contract='*', methods=['request', 'withdraw', 'cancel'])
    return meta


KEY_GATEWAY = b'g'
KEY_OWNER = b'o'
PREFIX_PENDING = b'p'
PREFIX_RESULT = b'r'
KEY_LAST = b'l'
KEY_BUDGET = b'b'

DEFAULT_GAS_BUDGET = 100000000    # 1 GAS
MAX_EVENT_RESULT = 512            # ValueReceived carries results up to this size (else empty)

on_value_requested = CreateNewEvent([('requestId', int), ('url', str), ('filter', str)], 'ValueRequested')
on_value_received = CreateNewEvent([('requestId', int), ('code', int), ('result', bytes)], 'ValueReceived')
on_service_requested = CreateNewEvent([('requestId', int), ('serviceType', str)], 'ServiceRequested')


@public
def _deploy(data: Any, update: bool):
    if update:
        return
    if not isinstance(data, bytes):
        raise Exception('deploy data must be the gateway script hash')
    gateway: bytes = data
    if len(gateway) != 20:
        raise Exception('deploy data must be the gateway script hash')
    storage.put_uint160(KEY_GATEWAY, UInt160(gateway))
    storage.put_uint160(KEY_OWNER, runtime.script_container.sender)
    storage.put_int(KEY_BUDGET, DEFAULT_GAS_BUDGET)


@public(name='requestValue')
def request_value(url: str, json_filter: str) -> int:
    """Asks the gateway's oracle service for `url` filtered by the JSONPath `json_filter`."""
    _require_owner()
    payload = to_bytes(StdLib.json_serialize({'url': url, 'filter': json_filter}))
    request_id: int = call_contract(
        storage.get_uint160(KEY_GATEWAY),
        'request',
        ['oracle', payload, runtime.executing_script_hash, 'onServiceResponse', to_bytes(url),
         storage.get_int(KEY_BUDGET)]
    )
    storage.put_int(PREFIX_PENDING + to_bytes(request_id), 1)
    on_value_requested(request_id, url, json_filter)
    return request_id


@public(name='requestService')
def request_service(service_type: str, payload: bytes) -> int:
    """Asks the gateway for `service_type` with `payload` as it is (its format is the service's)."""
    _require_owner()
    request_id: int = call_contract(
        storage.get_uint160(KEY_GATEWAY),
        'request',
        [service_type, payload, runtime.executing_script_hash, 'onServiceResponse', b'',
         storage.get_int(KEY_BUDGET)]
    )
    storage.put_int(PREFIX_PENDING + to_bytes(request_id), 1)
    on_service_requested(request_id, service_type)
    return request_id


@public(name='onServiceResponse')
def on_service_response(request_id: int, code: int, result: bytes, user_data: bytes):
    """Gateway callback: stores [code, result] for the request."""
    if runtime.calling_script_hash != storage.get_uint160(KEY_GATEWAY):
        raise Exception('only the gateway may call back')
    pending_key = PREFIX_PENDING + to_bytes(request_id)
    if storage.get_int(pending_key) != 1:
        raise Exception('unknown request id')
    if code == 0 and len(result) == 0:
        raise Exception('empty result')
    storage.delete(pending_key)
    storage.put(PREFIX_RESULT + to_bytes(request_id), StdLib.serialize([code, result]))
    storage.put_int(KEY_LAST, request_id)
    # A notification is limited to 1024 bytes: a larger result is read with getResult.
    shown = result
    if len(result) > MAX_EVENT_RESULT:
        shown = b''
    on_value_received(request_id, code, shown)


@public(name='setGasBudget')
def set_gas_budget(gas_budget: int):
    """GAS budget (8 decimals) of the responses to this contract's next requests."""
    _require_owner()
    storage.put_int(KEY_BUDGET, gas_budget)


@public(name='getGasBudget', safe=True)
def get_gas_budget() -> int:
    return storage.get_int(KEY_BUDGET)


@public(name='cancelRequest')
def cancel_request(request_id: int):
    """Cancels an expired request at the gateway; fee and budget return to this contract's deposit."""
    _require_owner()
    call_contract(storage.get_uint160(KEY_GATEWAY), 'cancel', [request_id])
    storage.delete(PREFIX_PENDING + to_bytes(request_id))


@public(name='getResult', safe=True)
def get_result(request_id: int) -> list:
    """[code, result] of a received answer, or an empty list."""
    raw = storage.get(PREFIX_RESULT + to_bytes(request_id))
    if len(raw) == 0:
        return []
    answer: list = StdLib.deserialize(raw)
    return answer


@public(name='getLastRequestId', safe=True)
def get_last_request_id() -> int:
    """Id of the last answered request (0 if none)."""
    return storage.get_int(KEY_LAST)


@public(name='isPending', safe=True)
def is_pending(request_id: int) -> bool:
    return storage.get_int(PREFIX_PENDING + to_bytes(request_id)) == 1


def _require_owner():
    if not runtime.check_witness(storage.get_uint160(KEY_OWNER)):
        raise Exception('only owner')

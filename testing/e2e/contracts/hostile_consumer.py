"""
A hostile gateway consumer, for tests only (Neo N3, neo3-boa 1.3.0).

burn(url) opens a request whose callback is cheap in a test run (no fees on the script
container) and runs out of GAS in a block (the real transaction has fees): the response
FAULTs only on chain.

attack(victimId, forged, url) opens an ordinary oracle request whose callback, when a node
answers it, calls gateway.fulfill(victimId, 0, forged): an attempt to answer another consumer's
pending request with the witness the node's fulfil transaction carries. The gateway must refuse
it (the callback then throws, so the gateway records callbackOk = false).

Deploy with data = the gateway's script hash; fund its deposit at the gateway.
"""
from typing import Any

from boa3.sc import runtime, storage
from boa3.sc.compiletime import NeoMetadata, public
from boa3.sc.contracts import StdLib
from boa3.sc.types import UInt160
from boa3.sc.utils import call_contract, to_bytes


def manifest_metadata() -> NeoMetadata:
    meta = NeoMetadata()
    meta.name = 'NslHostileConsumerTest'
    meta.author = 'Neo Service Layer tests'
    meta.description = 'Tries to fulfil other requests from its callback'
    meta.add_permission(contract='*', methods='*')
    return meta


KEY_GATEWAY = b'g'
KEY_VICTIM = b'v'
KEY_FORGED = b'f'
KEY_FORGED_OK = b'k'


@public
def _deploy(data: Any, update: bool):
    if update:
        return
    gateway: bytes = data
    storage.put_uint160(KEY_GATEWAY, UInt160(gateway))


@public
def attack(victim_id: int, forged: bytes, url: str) -> int:
    storage.put_int(KEY_VICTIM, victim_id)
    storage.put(KEY_FORGED, forged)
    payload = to_bytes(StdLib.json_serialize({'url': url, 'filter': ''}))
    request_id: int = call_contract(
        storage.get_uint160(KEY_GATEWAY),
        'request',
        ['oracle', payload, runtime.executing_script_hash, 'onServiceResponse', b'', 100000000]
    )
    return request_id


@public(name='onServiceResponse')
def on_service_response(request_id: int, code: int, result: bytes, user_data: bytes):
    victim = storage.get_int(KEY_VICTIM)
    call_contract(storage.get_uint160(KEY_GATEWAY), 'fulfill', [victim, 0, storage.get(KEY_FORGED)])
    # Reached only when the forged fulfilment went through.
    storage.put_int(KEY_FORGED_OK, 1)


@public(name='forgedOk', safe=True)
def forged_ok() -> bool:
    return storage.get_int(KEY_FORGED_OK) == 1


@public
def burn(url: str) -> int:
    payload = to_bytes(StdLib.json_serialize({'url': url, 'filter': ''}))
    request_id: int = call_contract(
        storage.get_uint160(KEY_GATEWAY),
        'request',
        ['oracle', payload, runtime.executing_script_hash, 'onBurn', b'', 100000000]
    )
    return request_id


@public(name='onBurn')
def on_burn(request_id: int, code: int, result: bytes, user_data: bytes):
    if runtime.script_container.network_fee > 0:
        n = 0
        while True:
            n = n + 1

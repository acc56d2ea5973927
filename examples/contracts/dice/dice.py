"""
Example consumer of the Neo Service Layer randomness service (gateway service type `vrf`;
Neo N3, neo3-boa 1.3.0): rolls six-sided dice with verifiable randomness.

Flow:
1. Deploy with data = the gateway's script hash (20 bytes); the deploying account becomes owner.
2. Fund this contract's deposit at the gateway: transfer GAS to the GATEWAY with data = this
   contract's script hash (it pays the request fee and the GAS budget of each answer).
3. The owner calls roll(seed, dice): this contract asks the gateway for `dice` words (1..16)
   with payload = dice (one byte) || seed (at most 64 bytes) and remembers the request id.
   The gateway refuses more than 16 words (the transaction FAULTs, nothing is charged).
4. A node answers with its VRF output; the gateway checks the node's signature over the input it
   computed itself (request id, requester, seed, hash of the request's block), derives the words
   and calls onRandomness(requestId, code, words, userData) here. Each die is
   (word as an unsigned little-endian integer) % 6 + 1; words and dice are stored, Rolled is
   emitted.

The callback accepts calls only from the configured gateway and only for ids this contract
requested and not yet answered, so nobody can inject or replace a roll. A game built on this
binds its outcome to ONE request id and never asks again for the same game (the gateway makes
sure that one request gets one answer that nobody could choose; asking again would be a re-roll
the game itself allowed).
"""
from typing import Any

from boa3.sc import runtime, storage
from boa3.sc.compiletime import NeoMetadata, public
from boa3.sc.contracts import StdLib
from boa3.sc.types import UInt160
from boa3.sc.utils import CreateNewEvent, call_contract, to_bytes, to_int


def manifest_metadata() -> NeoMetadata:
    meta = NeoMetadata()
    meta.name = 'NslDiceExample'
    meta.author = 'Neo Service Layer'
    meta.description = 'Rolls dice with verifiable randomness from the NSL gateway (service type vrf)'
    # The gateway's hash is only known at deploy time.
    meta.add_permission(contract='*', methods=['request'])
    return meta


KEY_GATEWAY = b'g'
KEY_OWNER = b'o'
PREFIX_PENDING = b'p'
PREFIX_WORDS = b'w'
PREFIX_DICE = b'd'

GAS_BUDGET = 200000000    # 2 GAS: the most the answer's transaction may cost (the unused part returns)
MAX_SEED = 64

on_roll_requested = CreateNewEvent([('requestId', int), ('dice', int)], 'RollRequested')
on_rolled = CreateNewEvent([('requestId', int), ('dice', list)], 'Rolled')


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


@public
def roll(seed: bytes, dice: int) -> int:
    """Asks the gateway for `dice` random words (one per die); returns the request id."""
    if not runtime.check_witness(storage.get_uint160(KEY_OWNER)):
        raise Exception('only owner')
    if len(seed) > MAX_SEED:
        raise Exception('seed too long')
    if dice < 0 or dice > 255:
        raise Exception('dice must fit one byte')
    # dice 0 or above 16 is passed on as it is: the gateway refuses it.
    payload = b'\x00' + seed
    if dice > 0:
        payload = to_bytes(dice)[:1] + seed
    request_id: int = call_contract(
        storage.get_uint160(KEY_GATEWAY),
        'request',
        ['vrf', payload, runtime.executing_script_hash, 'onRandomness', b'', GAS_BUDGET]
    )
    storage.put_int(PREFIX_PENDING + to_bytes(request_id), dice)
    on_roll_requested(request_id, dice)
    return request_id


@public(name='onRandomness')
def on_randomness(request_id: int, code: int, result: bytes, user_data: bytes):
    """Gateway callback: `result` is the requested words, 32 bytes each."""
    if runtime.calling_script_hash != storage.get_uint160(KEY_GATEWAY):
        raise Exception('only the gateway may call back')
    pending_key = PREFIX_PENDING + to_bytes(request_id)
    count = storage.get_int(pending_key)
    if count == 0:
        raise Exception('unknown request id')
    if code != 0 or len(result) != count * 32:
        raise Exception('unexpected answer')
    storage.delete(pending_key)
    dice: list = []
    i = 0
    while i < count:
        # The word's first 8 bytes as an unsigned little-endian integer (a zero byte on top keeps
        # it positive; NeoVM integers hold at most 32 bytes, so not the whole word). The bias of
        # a 64-bit value mod 6 is below 2**-61.
        low = result[i * 32:i * 32 + 8] + b'\x00'
        dice.append(to_int(low) % 6 + 1)
        i = i + 1
    storage.put(PREFIX_WORDS + to_bytes(request_id), result)
    storage.put(PREFIX_DICE + to_bytes(request_id), StdLib.serialize(dice))
    on_rolled(request_id, dice)


@public(name='getDice', safe=True)
def get_dice(request_id: int) -> list:
    """The dice of an answered roll (1..6 each), or an empty list."""
    raw = storage.get(PREFIX_DICE + to_bytes(request_id))
    if len(raw) == 0:
        return []
    dice: list = StdLib.deserialize(raw)
    return dice


@public(name='getWords', safe=True)
def get_words(request_id: int) -> bytes:
    """The words the gateway delivered for a roll (32 bytes per die), or empty."""
    return storage.get(PREFIX_WORDS + to_bytes(request_id))


@public(name='isPending', safe=True)
def is_pending(request_id: int) -> bool:
    return storage.get_int(PREFIX_PENDING + to_bytes(request_id)) != 0

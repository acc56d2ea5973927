# A small contract for the end-to-end tests (neo3-boa 1.3.0): a counter that emits an event on
# every change, can be made to FAULT with a chosen message, and can be updated by its deployer.
from typing import Any

from boa3.sc import storage
from boa3.sc.compiletime import NeoMetadata, public
from boa3.sc.contracts import ContractManagement
from boa3.sc.runtime import check_witness, script_container
from boa3.sc.types import UInt160
from boa3.sc.utils import CreateNewEvent

COUNTER_KEY = b'counter'
OWNER_KEY = b'owner'

on_incremented = CreateNewEvent(
    [
        ('by', UInt160),
        ('amount', int),
        ('total', int),
    ],
    'Incremented'
)


@public
def _deploy(data: Any, update: bool):
    if not update:
        storage.put_uint160(OWNER_KEY, script_container.sender)


@public
def update(nef_file: bytes, manifest: bytes, data: Any):
    assert check_witness(storage.get_uint160(OWNER_KEY)), 'only the owner may update'
    ContractManagement.update(nef_file, manifest, data)


@public
def increment(by: UInt160, amount: int) -> int:
    # The caller names itself and must have signed: events then carry a trusted account.
    assert check_witness(by), 'no witness of by'
    assert amount > 0, 'amount must be positive'
    total = storage.get_int(COUNTER_KEY) + amount
    storage.put_int(COUNTER_KEY, total)
    on_incremented(by, amount, total)
    return total


@public(safe=True)
def get() -> int:
    return storage.get_int(COUNTER_KEY)


@public
def fail(message: str):
    raise Exception(message)


def manifest_metadata() -> NeoMetadata:
    meta = NeoMetadata()
    meta.name = 'NslE2eCounter'
    meta.author = 'Neo Service Layer'
    meta.description = 'Counter used by the nsl end-to-end tests'
    return meta

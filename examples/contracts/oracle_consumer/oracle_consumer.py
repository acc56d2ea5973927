"""
Example consumer of Neo's NATIVE OracleContract (Neo N3, neo3-boa 1.3.0).

A Neo Service Layer node whose key is designated for the Oracle role (RoleManagement role 8)
answers these requests exactly like any other Neo oracle node.

Flow:
1. Anyone calls requestData(url, filter, gasForResponse). The transaction pays the oracle price
   (OracleContract.getPrice, 0.5 GAS by default) plus gasForResponse (>= 0.1 GAS), which later
   runs the callback.
2. The Oracle contract emits OracleRequest(Id, RequestContract, Url, Filter).
3. Oracle nodes fetch the URL, apply the JSONPath filter and send the response transaction;
   OracleContract.finish calls callback(url, userData, code, result) on this contract.

Native oracle rules the request must respect: url <= 256 bytes, filter <= 128 bytes (empty string
for the whole body), callback method name <= 32 bytes and not starting with '_', serialized
userData <= 512 bytes, gasForResponse >= 0.1 GAS. The callback must accept calls from the
Oracle contract only: anyone can call a public method.
"""
from typing import Any

from boa3.sc import runtime, storage
from boa3.sc.compiletime import NeoMetadata, public
from boa3.sc.contracts import OracleContract, StdLib
from boa3.sc.utils import CreateNewEvent


def manifest_metadata() -> NeoMetadata:
    meta = NeoMetadata()
    meta.name = 'NslNativeOracleConsumerExample'
    meta.author = 'Neo Service Layer'
    meta.description = "Requests data through Neo's native OracleContract and stores the response"
    meta.add_permission(contract='0xfe924b7cfe89ddd271abaf7210a80a7e11178758', methods=['request'])
    return meta


KEY_LAST = b'last'
KEY_COUNT = b'count'

on_data_requested = CreateNewEvent([('url', str), ('filter', str)], 'DataRequested')
on_data_received = CreateNewEvent(
    [('url', str), ('userData', Any), ('code', int), ('result', bytes)],
    'DataReceived'
)


@public(name='requestData')
def request_data(url: str, json_filter: str, gas_for_response: int):
    """Asks the native oracle for `url` filtered by `json_filter`; the caller's tx pays."""
    OracleContract.request(url, json_filter, 'callback', url, gas_for_response)
    on_data_requested(url, json_filter)


@public(name='requestBurst')
def request_burst(url: str, json_filter: str, gas_for_response: int, count: int):
    """`count` requests for `url` in one call (oracle-bench's native burst), without the
    DataRequested event: an execution may emit at most 512 notifications, and each request
    already emits two (the GAS mint of gasForResponse and OracleRequest), so up to 256 fit in
    one transaction. The OracleContract keeps at most 256 pending requests per URL."""
    for _ in range(count):
        OracleContract.request(url, json_filter, 'callback', url, gas_for_response)


@public
def callback(url: str, user_data: Any, code: int, result: bytes):
    """Called by OracleContract.finish with the response code (0 = success) and result bytes."""
    if runtime.calling_script_hash != OracleContract.hash:
        raise Exception('only the Oracle contract may call back')
    storage.put(KEY_LAST, StdLib.serialize([url, code, result]))
    storage.put_int(KEY_COUNT, storage.get_int(KEY_COUNT) + 1)
    on_data_received(url, user_data, code, result)


@public(name='getLastResponse', safe=True)
def get_last_response() -> list:
    """[url, code, result] of the last response, or an empty list."""
    raw = storage.get(KEY_LAST)
    if len(raw) == 0:
        return []
    last: list = StdLib.deserialize(raw)
    return last


@public(name='getResponseCount', safe=True)
def get_response_count() -> int:
    return storage.get_int(KEY_COUNT)

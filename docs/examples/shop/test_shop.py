"""The shop's behaviour, tested from Python against fc-local."""
import json


def test_order_over_http(fc):
    status, _, body = fc.request('POST', fc.function('shop/order')['httpUrl'], json.dumps({'items': ['tea']}).encode())
    assert status == 200
    assert json.loads(body) == {'order': 42, 'items': ['tea']}


def test_async_fulfilment_is_awaited_not_slept_for(fc):
    status, headers, _ = fc.invoke('shop/fulfil', json.dumps({'order': 7}).encode(), is_async=True)
    assert status == 202
    done = fc.next(function='shop/fulfil', source='async')
    assert done['status'] == 'succeeded'
    assert json.loads(done['result']) == {'order': 7, 'shipped': True}
    assert any('fulfilling order 7' in line for line in done['logs'])


def test_a_failure_reaches_its_destination(fc):
    fc.invoke('shop/flaky', b'{}', is_async=True)
    failed = fc.next(function='shop/flaky', source='async')
    assert failed['status'] == 'failed'
    audit = fc.next(function='shop/audit', source='destination')
    assert audit['result'] == 'noted'
    fc.idle()

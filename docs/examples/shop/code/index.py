import json


def order(environ, start_response):
    """HTTP: takes an order (POST a JSON body) and answers its number."""
    size = int(environ.get('CONTENT_LENGTH') or 0)
    body = json.loads(environ['wsgi.input'].read(size) or b'{}')
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [json.dumps({'order': 42, 'items': body.get('items', [])}).encode()]


def fulfil(event, context):
    """Async: fulfils an order; its answer is what the test waits for."""
    order = json.loads(event)
    print('fulfilling order', order['order'])
    return json.dumps({'order': order['order'], 'shipped': True})


def flaky(event, context):
    raise RuntimeError('the warehouse is on fire')


def audit(event, context):
    """The destination of flaky's failures: FC's destination record."""
    record = json.loads(event)
    print('audit:', record['responseContext']['functionError'])
    return 'noted'

def handler(environ, start_response):
    # An HTTP function (FC 2.0) is a WSGI app: a Flask app object works the same way.
    body = ('hello from WSGI: %s %s' % (environ['REQUEST_METHOD'], environ['PATH_INFO'])).encode('utf-8')
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [body]

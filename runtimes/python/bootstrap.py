# -*- coding: utf-8 -*-
"""fc-local's Python agent: FC's Python programming model behind FC's custom-runtime HTTP
protocol (POST /initialize, POST /invoke; HTTP functions are WSGI apps and get the raw request).
Standard library only; one file for Python 2.7 and 3.6 and later."""

import importlib
import io
import json
import logging
import os
import socket as socket_module
import sys
import threading
import time
import traceback

PY2 = sys.version_info[0] == 2
if PY2:  # pragma: no cover - exercised with a real 2.7 interpreter by the test suite
    from BaseHTTPServer import BaseHTTPRequestHandler, HTTPServer  # noqa: F401
    from SocketServer import ThreadingMixIn  # noqa: F401
    from urllib import unquote  # noqa: F401
    from urlparse import urlsplit  # noqa: F401
    text_type = unicode  # noqa: F821
else:
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from socketserver import ThreadingMixIn
    from urllib.parse import unquote, urlsplit
    text_type = str

CODE_DIR = os.environ.get('FC_FUNC_CODE_PATH') or os.getcwd()
PORT = int(os.environ.get('FC_SERVER_PORT') or 9000)
HOST = os.environ.get('FC_SERVER_HOST') or '127.0.0.1'
PROXY_PREFIX = '/2016-08-15/proxy/'
# The exit status that asks runtimes/supervisor.sh for a fresh agent in the same container.
RESTART_CODE = 197
AGENT_FILE = os.path.abspath(__file__)

# Packaged modules (`pip install -t .`) import from the code dir, as in FC.
sys.path.insert(0, CODE_DIR)

# ---------------------------------------------------------------------------------------------
# Logging: the root logger prints `<ISO time> <requestId> [LEVEL] message`; print() goes out raw.
_state = threading.local()
_current = {'request_id': ''}


# FC's Python runtime ships these modules; where this Python has not one of them, importing it
# says so and how to get it, instead of a bare "No module named". Asked last, after every other
# finder: the function's own copy (codeUri, layers) and this Python's win.
FC_BUILTIN_MODULES = {
    'oss2': 'oss2', 'tablestore': 'tablestore', 'wand': 'Wand', 'cv2': 'opencv-python', 'numpy': 'numpy',
    'scipy': 'scipy', 'matplotlib': 'matplotlib', 'scrapy': 'Scrapy',
}


class _MissingBuiltin(object):
    warned = set()

    def _missing(self, name):
        if '.' in name or name not in FC_BUILTIN_MODULES:
            return None
        message = (
            "No module named '%s': FC's Python runtime has it built in, and %s (Python %s) has not. "
            "Package it with your code (pip install -t . %s in codeUri, as the guide's \"Use a custom module\" shows), "
            "or run where it is installed (the Docker backend's offline image has numpy and wand, its --full variant "
            "scipy, matplotlib, opencv and scrapy; scripts/build-runtime-image.sh adds oss2 and tablestore where PyPI is reachable)"
            % (name, sys.executable, sys.version.split()[0], FC_BUILTIN_MODULES[name]))
        # Said once on the console too, whoever catches the ImportError.
        if name not in self.warned:
            self.warned.add(name)
            sys.stderr.write('fc-local: warning: %s\n' % message)
        raise ImportError(message)

    def find_spec(self, name, path=None, target=None):
        return self._missing(name)


# Python 3 only: there the path finder comes first on sys.meta_path, so this one is asked only for
# modules nothing else has (Python 2 would ask it first).
if sys.version_info[0] >= 3:
    sys.meta_path.append(_MissingBuiltin())


# ---------------------------------------------------------------------------------------------
# fc-local's local services: OSS's own host names (<bucket>.oss-<region>[-internal].aliyuncs.com,
# as oss2 builds them from an endpoint) and FC's (<accountId>.<region>[-internal].fc.aliyuncs.com)
# resolve to fc-local's OSS and FC API, so unmodified code reaches them; the Host header is the
# client's own. On this machine that is their port (FC_LOCAL_*_ENDPOINT); in a container a Unix
# socket (FC_LOCAL_*_SOCKET, its loopback is its own), reached through a forwarder on the
# container's loopback. Other names resolve as always.
import re as _re

_LOCAL_SERVICES = [
    (_re.compile(r'(^|\.)oss-[a-z0-9-]+\.aliyuncs\.com$', _re.I), 'FC_LOCAL_OSS_ENDPOINT', 'FC_LOCAL_OSS_SOCKET'),
    (_re.compile(r'^[0-9]+\.[a-z0-9-]+\.fc\.aliyuncs\.com$', _re.I), 'FC_LOCAL_FC_ENDPOINT', 'FC_LOCAL_FC_SOCKET'),
]
_service_targets = {}
_service_lock = threading.Lock()
_https_warned = set()


def _pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except Exception:  # noqa: BLE001 - either side went away: close both
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket_module.SHUT_RDWR)
        except Exception:  # noqa: BLE001
            pass


def _unix_forwarder(path):
    """A TCP port on this loopback that forwards each connection to the Unix socket `path`."""
    listener = socket_module.socket(socket_module.AF_INET, socket_module.SOCK_STREAM)
    listener.bind(('127.0.0.1', 0))
    listener.listen(64)

    def accept():
        while True:
            client, _ = listener.accept()
            upstream = socket_module.socket(socket_module.AF_UNIX, socket_module.SOCK_STREAM)
            try:
                upstream.connect(path)
            except Exception:  # noqa: BLE001 - fc-local is gone: the client sees a closed connection
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                t = threading.Thread(target=_pipe, args=(a, b))
                t.daemon = True
                t.start()

    t = threading.Thread(target=accept)
    t.daemon = True
    t.start()
    return ('127.0.0.1', listener.getsockname()[1])


def _service_target(host):
    for name, endpoint_var, socket_var in _LOCAL_SERVICES:
        if not name.search(host):
            continue
        with _service_lock:
            if endpoint_var not in _service_targets:
                endpoint = os.environ.get(endpoint_var)
                sock = os.environ.get(socket_var)
                if endpoint:
                    hostport = endpoint.split('//', 1)[-1].rstrip('/')
                    h, _, p = hostport.rpartition(':')
                    _service_targets[endpoint_var] = (h, int(p))
                elif sock and hasattr(socket_module, 'AF_UNIX'):
                    _service_targets[endpoint_var] = _unix_forwarder(sock)
                else:
                    _service_targets[endpoint_var] = None
            return _service_targets[endpoint_var]
    return None


_plain_getaddrinfo = socket_module.getaddrinfo


def _getaddrinfo(host, port, *args, **kwargs):
    name = host.decode('ascii', 'replace') if isinstance(host, bytes) else host
    target = _service_target(name) if isinstance(name, (str, text_type)) else None
    if target is None:
        return _plain_getaddrinfo(host, port, *args, **kwargs)
    if str(port) == '443' and name not in _https_warned:
        _https_warned.add(name)
        sys.stderr.write('fc-local: https://%s reaches fc-local\'s local service over plain HTTP, which a TLS client '
                         'cannot speak: use an http:// endpoint in Python (FC\'s -internal endpoints need no TLS)\n' % name)
    return _plain_getaddrinfo(target[0], target[1], *args, **kwargs)


# A request to those names carries the invocation making it (fc-local's traces show the write or
# call as its child): fc-local-parent-request-id, TRACE_PARENT_HEADER of src/model.ts, outside the
# headers that OSS's and FC's signatures cover. http.client is under requests, urllib3 and urllib.
if PY2:  # pragma: no cover
    import httplib as _http_client  # noqa: F401
else:
    import http.client as _http_client
_plain_putrequest = _http_client.HTTPConnection.putrequest


def _putrequest(self, *args, **kwargs):
    _plain_putrequest(self, *args, **kwargs)
    host = getattr(self, 'host', None)
    if isinstance(host, (str, text_type)) and any(n.search(host) for n, _, _ in _LOCAL_SERVICES):
        request_id = current_request_id()
        if request_id:
            self.putheader('fc-local-parent-request-id', request_id)


if any(os.environ.get(v) for _, a, b in _LOCAL_SERVICES for v in (a, b)):
    socket_module.getaddrinfo = _getaddrinfo
    _http_client.HTTPConnection.putrequest = _putrequest


def current_request_id():
    return getattr(_state, 'request_id', None) or _current['request_id']


class _FCFormatter(logging.Formatter):
    def format(self, record):
        t = time.gmtime(record.created)
        stamp = time.strftime('%Y-%m-%dT%H:%M:%S', t) + '.%03dZ' % int(record.msecs)
        return '%s %s [%s] %s' % (stamp, current_request_id(), record.levelname, record.getMessage()) + (
            '\n' + self.formatException(record.exc_info) if record.exc_info else '')


_out_lock = threading.Lock()


def _write_line(line):
    if PY2 and isinstance(line, text_type):
        line = line.encode('utf-8')
    with _out_lock:
        sys.stdout.write(line + '\n')
        sys.stdout.flush()


class _FCHandler(logging.Handler):
    def emit(self, record):
        try:
            _write_line(self.format(record))
        except Exception:  # noqa: BLE001 - a log line must never break an invocation
            pass


_root = logging.getLogger()
for h in list(_root.handlers):
    _root.removeHandler(h)
_handler = _FCHandler()
_handler.setFormatter(_FCFormatter())
_root.addHandler(_handler)
_root.setLevel(logging.INFO)


# ---------------------------------------------------------------------------------------------
# Context: FC's FCContext, with the guide's snake_case names and the camelCase ones it also uses.
class Credentials(object):
    def __init__(self, access_key_id, access_key_secret, security_token):
        self.access_key_id = self.accessKeyId = access_key_id
        self.access_key_secret = self.accessKeySecret = access_key_secret
        self.security_token = self.securityToken = security_token


class FunctionMeta(object):
    def __init__(self, name, handler, memory, timeout, initializer, initialization_timeout):
        self.name = name
        self.handler = handler
        self.memory = memory
        self.timeout = timeout
        self.initializer = initializer
        self.initialization_timeout = initialization_timeout


class ServiceMeta(object):
    def __init__(self, name, log_project, log_store, qualifier):
        self.name = name
        self.log_project = self.logProject = log_project
        self.log_store = self.logStore = log_store
        self.qualifier = qualifier
        self.version_id = ''


class FCContext(object):
    def __init__(self, h):
        def num(key):
            try:
                return int(h.get(key) or 0)
            except ValueError:
                return 0
        self.request_id = self.requestId = h.get('x-fc-request-id', '')
        self.credentials = Credentials(h.get('x-fc-access-key-id', ''), h.get('x-fc-access-key-secret', ''), h.get('x-fc-security-token', ''))
        self.function = FunctionMeta(h.get('x-fc-function-name', ''), h.get('x-fc-function-handler', ''), num('x-fc-function-memory'),
                                     num('x-fc-function-timeout'), h.get('x-fc-function-initializer', ''), num('x-fc-initialization-timeout'))
        self.service = ServiceMeta(h.get('x-fc-service-name', ''), h.get('x-fc-service-logproject', ''), h.get('x-fc-service-logstore', ''),
                                   h.get('x-fc-qualifier', 'LATEST'))
        self.region = h.get('x-fc-region', '')
        self.account_id = self.accountId = h.get('x-fc-account-id', '')


# ---------------------------------------------------------------------------------------------
# Errors in FC's JSON: {"errorMessage", "errorType", "stackTrace": [["File \"/code/main.py\"",
# "line 2", "in my_handler", "raise Exception(...)"], ...]} with the user's frames only.
def error_json(exc, message=None):
    frames = []
    # Python 2 has no __traceback__: the exception being handled is the one reported.
    tb = getattr(exc, '__traceback__', None) or sys.exc_info()[2]
    for f in traceback.extract_tb(tb):
        if os.path.abspath(f[0]) == AGENT_FILE or '/importlib/' in f[0] or f[0].startswith('<frozen'):
            continue
        frames.append(['File "%s"' % f[0], 'line %d' % f[1], 'in %s' % f[2], f[3] or ''])
    if isinstance(exc, SyntaxError) and exc.filename:
        frames.append(['File "%s"' % exc.filename, 'line %s' % exc.lineno, 'in <module>', (exc.text or '').strip()])
    return {'errorMessage': message or _text(exc), 'errorType': type(exc).__name__, 'stackTrace': frames}


def _text(exc):
    """An exception's message as text (Python 2's str() fails on a non-ASCII unicode message)."""
    try:
        return text_type(exc)
    except Exception:  # noqa: BLE001
        return repr(exc)


class LoadError(Exception):
    def __init__(self, payload):
        Exception.__init__(self, payload['errorMessage'])
        self.payload = payload


_modules = {}


def load(handler):
    """`module.function`; a failed import is not cached, so fixed code loads on the next request."""
    if '.' not in handler:
        raise LoadError({'errorMessage': "Invalid handler '%s': it must be {module}.{function}" % handler, 'errorType': 'InvalidHandler'})
    module_name, func_name = handler.rsplit('.', 1)
    module = _modules.get(module_name)
    if module is None:
        try:
            module = importlib.import_module(module_name)
        except ImportError as e:
            if getattr(e, 'name', None) == module_name.split('.')[0] or module_name in str(e):
                raise LoadError({'errorMessage': "Module '%s' is missing" % module_name, 'errorType': 'ModuleNotFound'})
            raise LoadError(error_json(e, "Unable to import module '%s': %s" % (module_name, _text(e))))
        except Exception as e:  # noqa: BLE001 - syntax errors, errors at import time
            raise LoadError(error_json(e))
        _modules[module_name] = module
    func = getattr(module, func_name, None)
    if not callable(func):
        raise LoadError({'errorMessage': "Handler '%s' is missing on module '%s'" % (func_name, module_name), 'errorType': 'HandlerNotFound'})
    return func


def encode(value):
    if value is None:
        return b''
    if isinstance(value, bytes):
        return value
    if isinstance(value, text_type):
        return value.encode('utf-8')
    if isinstance(value, (dict, list)):
        return json.dumps(value).encode('utf-8')
    return str(value).encode('utf-8')


IGNORED_REQUEST_HEADERS = {'accept-encoding', 'connection', 'keep-alive', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding'}
IGNORED_RESPONSE_HEADERS = {'connection', 'content-length', 'content-encoding', 'date', 'keep-alive', 'proxy-authenticate', 'server',
                            'trailer', 'transfer-encoding', 'upgrade'}


class Agent(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'fc-local-python'

    def log_message(self, *args):  # the protocol's own access log is noise
        pass

    def parse_request(self):
        # The receipt fc-local relies on for at-most-once: `100 Continue` before any user code
        # runs. Python 3 sends it itself (handle_expect_100); Python 2 does not.
        ok = BaseHTTPRequestHandler.parse_request(self)
        if ok and PY2 and (self.headers.get('expect') or '').lower() == '100-continue':
            self.wfile.write(b'HTTP/1.1 100 Continue\r\n\r\n')
        return ok

    def headers_dict(self):
        return dict((k.lower(), v) for k, v in self.headers.items())

    def body(self):
        n = int(self.headers.get('content-length') or 0)
        return self.rfile.read(n) if n else b''

    def answer(self, status, headers, body):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def fc_answer(self, error_type, payload):
        """x-fc-status 404 and the error JSON: FC's protocol for a function error."""
        if error_type:
            self.answer(404, [('x-fc-status', '404'), ('x-fc-error-type', error_type), ('Content-Type', 'application/json')] + max_rss(),
                        json.dumps(payload).encode('utf-8'))
        else:
            self.answer(200, [('x-fc-status', '200'), ('Content-Type', 'application/octet-stream')] + max_rss(), payload)

    def begin(self, what):
        h = self.headers_dict()
        ctx = FCContext(h)
        _state.request_id = _current['request_id'] = ctx.request_id
        _write_line('FC %s Start RequestId: %s' % (what, ctx.request_id))
        return h, ctx

    def end(self, what, ctx):
        _write_line('FC %s End RequestId: %s' % (what, ctx.request_id))

    def is_http(self):
        return self.path.startswith(PROXY_PREFIX) or bool(self.headers.get('x-fc-local-http-invoke'))

    def do_POST(self):
        if self.is_http():
            return self.http_function()
        if self.path == '/invoke':
            return self.invoke()
        if self.path == '/initialize':
            return self.initialize()
        if self.path == '/_fc-local/restart' and os.environ.get('FC_LOCAL_SUPERVISED'):
            # Hot reload in a warm container: the supervisor starts a fresh agent when this one
            # exits with RESTART_CODE (quicker than a signal through the Docker engine).
            self.answer(202, [('Content-Type', 'text/plain')], b'restarting\n')
            self.wfile.flush()
            sys.stdout.flush()
            os._exit(RESTART_CODE)
        self.answer(404, [('Content-Type', 'text/plain')], b'fc-local python agent: unknown route\n')

    def do_GET(self):
        if self.is_http():
            return self.http_function()
        if self.path in ('/pre-stop', '/pre-freeze'):
            return self.lifecycle_hook('PreStop' if self.path == '/pre-stop' else 'PreFreeze')
        # The pid tells a restarted agent from the one before it (hot reload in a warm container).
        self.answer(404, [('Content-Type', 'text/plain'), ('x-fc-local-agent-pid', str(os.getpid()))], b'fc-local python agent: unknown route\n')

    do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_GET

    def invoke(self):
        event = self.body()
        h, ctx = self.begin('Invoke')
        try:
            result = load(ctx.function.handler)(event, ctx)
            payload, error_type = encode(result), None
        except LoadError as e:
            payload, error_type = e.payload, 'UnhandledInvocationError'
        except Exception as e:  # noqa: BLE001 - the function's exception is its answer
            payload, error_type = error_json(e), 'UnhandledInvocationError'
            logging.error(u'%s: %s' % (type(e).__name__, _text(e)))
        self.end('Invoke', ctx)
        self.fc_answer(error_type, payload)

    def initialize(self):
        self.body()
        h, ctx = self.begin('Initialize')
        error_type, payload = None, b''
        if ctx.function.initializer:
            try:
                load(ctx.function.initializer)(ctx)
            except LoadError as e:
                error_type, payload = 'UnhandledInvocationError', e.payload
            except Exception as e:  # noqa: BLE001
                error_type, payload = 'UnhandledInvocationError', error_json(e)
        self.end('Initialize', ctx)
        self.fc_answer(error_type, payload)

    def lifecycle_hook(self, what):
        """preStop (before the instance stops) and preFreeze (after an invocation): handler(context),
        named by fc-local's x-fc-lifecycle-handler; FC's log lines around it."""
        self.body()
        h, ctx = self.begin(what)
        error_type, payload = None, b''
        try:
            load(h.get('x-fc-lifecycle-handler', ''))(ctx)
        except LoadError as e:
            error_type, payload = 'UnhandledInvocationError', e.payload
        except Exception as e:  # noqa: BLE001 - the hook's failure is logged; the stop goes on
            error_type, payload = 'UnhandledInvocationError', error_json(e)
            logging.error(u'%s: %s' % (type(e).__name__, _text(e)))
        self.end(what, ctx)
        self.fc_answer(error_type, payload)

    def http_function(self):
        body = self.body()
        h, ctx = self.begin('Invoke')
        url = urlsplit(self.path)
        # /2016-08-15/proxy/{service}/{function}/rest -> /rest; a custom domain's path as it is
        if url.path.startswith(PROXY_PREFIX):
            rest = url.path[len(PROXY_PREFIX):].split('/', 2)
            path_info = '/' + (rest[2] if len(rest) > 2 else '')
        else:
            path_info = url.path
        environ = {
            'REQUEST_METHOD': self.command,
            'SCRIPT_NAME': '',
            'PATH_INFO': unquote(path_info),
            'QUERY_STRING': url.query,
            'CONTENT_LENGTH': str(len(body)),
            'CONTENT_TYPE': h.get('content-type', ''),
            'SERVER_NAME': h.get('host', 'localhost').split(':')[0],
            'SERVER_PORT': str(PORT),
            'SERVER_PROTOCOL': 'HTTP/1.1',
            'REMOTE_ADDR': h.get('x-fc-client-ip') or (self.client_address[0] if isinstance(self.client_address, tuple) else ''),
            'wsgi.version': (1, 0),
            'wsgi.url_scheme': 'http',
            'wsgi.input': io.BytesIO(body),
            'wsgi.errors': sys.stderr,
            'wsgi.multithread': False,
            'wsgi.multiprocess': False,
            'wsgi.run_once': False,
            'fc.context': ctx,
            'fc.request_uri': self.path,
        }
        for k, v in h.items():
            if k.startswith('x-fc-') or k in IGNORED_REQUEST_HEADERS or k in ('content-type', 'content-length'):
                continue
            environ['HTTP_' + k.upper().replace('-', '_')] = v
        response = {}

        def start_response(status, headers, exc_info=None):
            # PEP 3333: a second call is an error unless it reports an exception (exc_info);
            # nothing has been sent yet (the answer is buffered), so that one replaces the first.
            if 'status' in response and not exc_info:
                raise AssertionError('start_response was already called (PEP 3333: only with exc_info may it be called again)')
            response['status'] = int(status.split(' ', 1)[0])
            response['headers'] = [(k, v) for k, v in headers if k.lower() not in IGNORED_RESPONSE_HEADERS and not k.lower().startswith('x-fc-')]
            chunks = response.setdefault('chunks', [])
            return chunks.append

        try:
            app = load(ctx.function.handler)
            result = app(environ, start_response)
            try:
                for chunk in result:
                    response.setdefault('chunks', []).append(chunk)
            finally:
                if hasattr(result, 'close'):
                    result.close()
        except LoadError as e:
            self.end('Invoke', ctx)
            return self.fc_answer('UnhandledInvocationError', e.payload)
        except Exception as e:  # noqa: BLE001
            logging.error(u'%s: %s' % (type(e).__name__, _text(e)))
            self.end('Invoke', ctx)
            return self.fc_answer('UnhandledInvocationError', error_json(e))
        self.end('Invoke', ctx)
        if 'status' not in response:
            return self.fc_answer('UnhandledInvocationError', {'errorMessage': 'The WSGI app did not call start_response', 'errorType': 'BadResponse'})
        payload = b''.join(encode(c) for c in response.get('chunks', []))
        self.answer(response['status'], response['headers'], b'' if self.command == 'HEAD' else payload)


class Server(ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def wait_for_debugger(listen):
    """fc-local --debug-port: debugpy listens, and the agent serves once a client attached."""
    host, _, port = listen.rpartition(':')
    try:
        import debugpy
    except ImportError:
        sys.stderr.write(
            'fc-local: debugpy is not installed for %s (Python %s): install it (pip install debugpy, '
            'or apt install python3-debugpy), or give a folder holding it with --debugger-path\n'
            % (sys.executable, sys.version.split()[0]))
        sys.exit(1)
    debugpy.listen((host, int(port)))
    # fc-local announces the port only after this line: before it, nothing accepts clients.
    sys.stderr.write('fc-local: debugpy listening on %s:%s\n' % (host, port))
    sys.stderr.flush()
    debugpy.wait_for_client()
    sys.stderr.write('Debugger attached.\n')


def max_rss():
    """This process's peak memory in KB (getrusage): fc-local reports it as FC's max memory
    usage without reading /proc for every invocation."""
    try:
        import resource
        return [('x-fc-local-max-rss-kb', str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))]
    except Exception:  # noqa: BLE001 - no resource module here: fc-local measures it itself
        return []


def serve_socket(path):
    """In a container fc-local also reaches the agent through a Unix socket in a folder it mounts
    (no port proxy or NAT on the way); the TCP port stays for everything else."""
    if PY2:
        from SocketServer import UnixStreamServer
    else:
        from socketserver import UnixStreamServer

    class UnixServer(ThreadingMixIn, UnixStreamServer):
        daemon_threads = True

    try:
        os.unlink(path)  # the previous agent's, after a restart in place
    except OSError:
        pass
    try:
        server = UnixServer(path, Agent)
        os.chmod(path, 0o666)  # fc-local may run as another user than the function
    except Exception:  # noqa: BLE001 - without the socket fc-local uses the port
        return
    t = threading.Thread(target=server.serve_forever)
    t.daemon = True
    t.start()


if __name__ == '__main__':
    _listen = os.environ.pop('FC_LOCAL_DEBUG_LISTEN', None)
    if _listen:
        wait_for_debugger(_listen)
    _socket = os.environ.get('FC_LOCAL_SOCKET')
    if _socket and hasattr(socket_module, 'AF_UNIX'):
        serve_socket(_socket)
    Server((HOST, PORT), Agent).serve_forever()

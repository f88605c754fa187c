"""fc-local for pytest: one emulator for the session, started with --ready-file."""
import json
import os
import pathlib
import shlex
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

HERE = pathlib.Path(__file__).parent
# How to run fc-local: installed (`fc-local`), or e.g. FC_LOCAL="npx fc-local".
FC_LOCAL = shlex.split(os.environ.get('FC_LOCAL', 'fc-local'))


class Emulator:
    def __init__(self, info):
        self.info = info
        self.url = info['url']
        # Where this suite reads the feed of finished invocations from.
        self.cursor = info['waits']['cursor']

    def function(self, name):
        return next(f for f in self.info['functions'] if f['name'] == name)

    def request(self, method, url, body=None, headers=None):
        req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req) as res:
                return res.status, dict(res.headers), res.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def invoke(self, name, event=b'', is_async=False):
        """Invokes through FC's API; an async invocation answers 202 at once."""
        headers = {'X-Fc-Invocation-Type': 'Async' if is_async else 'Sync'}
        return self.request('POST', self.function(name)['invokeUrl'], event, headers)

    def next(self, timeout_ms=30000, **filters):
        """The next finished invocation matching function=, source=, status= (no sleeping)."""
        query = urllib.parse.urlencode({'after': self.cursor, 'timeout': timeout_ms, **filters})
        status, _, body = self.request('GET', f"{self.info['waits']['next']}?{query}")
        assert status == 200, body
        answer = json.loads(body)
        self.cursor = answer['cursor']
        return answer['invocation']

    def idle(self, timeout_ms=30000):
        status, _, body = self.request('GET', f"{self.info['waits']['idle']}?timeout={timeout_ms}")
        assert status == 200, body


@pytest.fixture(scope='session')
def fc():
    work = pathlib.Path(tempfile.mkdtemp())
    ready = work / 'ready.json'
    log = open(work / 'fc-local.log', 'w')
    proc = subprocess.Popen(
        [*FC_LOCAL, 'start', '-t', str(HERE / 'fc.yml'), '--port', '0', '--no-auth', '--no-watch',
         '--backend', 'process', '--state-dir', str(work / 'state'), '--ready-file', str(ready)],
        stdout=log, stderr=subprocess.STDOUT)
    # The file appears, whole, once fc-local serves.
    deadline = time.monotonic() + 120
    while not ready.exists():
        if proc.poll() is not None:
            raise RuntimeError(f'fc-local exited: {(work / "fc-local.log").read_text()}')
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError('fc-local did not become ready')
        time.sleep(0.05)
    yield Emulator(json.loads(ready.read_text()))
    proc.terminate()
    proc.wait(60)
    log.close()

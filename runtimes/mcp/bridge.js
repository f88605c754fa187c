'use strict';
// fc-local's bridge in front of a stdio MCP server (an fcai-mcp-server resource with
// `transport: stdio`), as FC puts one in front of such a server: the function serves MCP over
// HTTP, and each session talks to a process of its own started from `startCommand`.
//   GET  /sse                   an SSE session: its first event names where to post messages
//   POST /message?sessionId=ID  a message of that session (answered 202; replies come as events)
//   POST /mcp                   Streamable HTTP: `initialize` opens a session (Mcp-Session-Id),
//                               each request is answered with the server's JSON reply
//   DELETE /mcp                 ends a Streamable HTTP session
// A session's process ends with its session; one that exits ends its session, and the next
// session starts another. Standalone CommonJS on the Node.js of FC's images: no dependencies.
var http = require('http');
var spawn = require('child_process').spawn;
var randomBytes = require('crypto').randomBytes;

var PORT = Number(process.env.FC_SERVER_PORT || 9000);
var HOST = process.env.FC_SERVER_HOST || '0.0.0.0';
var COMMAND = process.env.FC_LOCAL_MCP_COMMAND;
var CWD = process.env.FC_FUNC_CODE_PATH || process.cwd();
var SSE_PATH = process.env.FC_LOCAL_MCP_SSE_PATH || '/sse';
var MESSAGE_PATH = process.env.FC_LOCAL_MCP_MESSAGE_PATH || '/message';
var MCP_PATH = process.env.FC_LOCAL_MCP_PATH || '/mcp';
var MAX_BODY = 4 * 1024 * 1024;

if (!COMMAND) {
  process.stderr.write('fc-local MCP bridge: no startCommand (FC_LOCAL_MCP_COMMAND)\n');
  process.exit(1);
}

var sessions = new Map();

function newId() {
  return randomBytes(16).toString('hex');
}

/** Starts the server's process for one session; `onMessage` gets each JSON-RPC message it writes. */
function startSession(kind, onMessage) {
  var id = newId();
  // A group of its own: the session's end stops the command and whatever it started.
  var child = spawn('/bin/sh', ['-c', COMMAND], { cwd: CWD, stdio: ['pipe', 'pipe', 'inherit'], env: process.env, detached: true });
  var session = { id: id, kind: kind, child: child, alive: true, pending: new Map(), onEnd: null };
  sessions.set(id, session);
  var partial = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', function (chunk) {
    partial += chunk;
    var nl;
    while ((nl = partial.indexOf('\n')) >= 0) {
      var line = partial.slice(0, nl).replace(/\r$/, '');
      partial = partial.slice(nl + 1);
      if (!line.trim()) continue;
      var msg;
      try {
        msg = JSON.parse(line);
      } catch (e) {
        // A stdio server must write only JSON-RPC on stdout: anything else is its log.
        process.stdout.write(line + '\n');
        continue;
      }
      onMessage(session, msg, line);
    }
  });
  child.stdin.on('error', function () {});
  child.on('error', function (err) {
    process.stderr.write('fc-local MCP bridge: cannot start `' + COMMAND + '`: ' + err.message + '\n');
  });
  child.on('exit', function (code, signal) {
    session.alive = false;
    sessions.delete(id);
    if (code !== 0 && signal !== 'SIGTERM') {
      process.stderr.write('fc-local MCP bridge: the MCP server of session ' + id + ' exited (' + (signal || 'code ' + code) + '); the next session starts it again\n');
    }
    session.pending.forEach(function (res, reqId) {
      sendJson(res, 502, rpcError(reqId, -32603, 'The MCP server process exited before answering'));
    });
    session.pending.clear();
    if (session.onEnd) session.onEnd();
  });
  return session;
}

function endSession(session) {
  if (!session.alive) return;
  session.alive = false;
  sessions.delete(session.id);
  try {
    process.kill(-session.child.pid, 'SIGTERM');
  } catch (e) {
    session.child.kill('SIGTERM');
  }
}

function send(session, body) {
  session.child.stdin.write(body.replace(/\n/g, ' ') + '\n');
}

function rpcError(id, code, message) {
  return { jsonrpc: '2.0', id: id === undefined ? null : id, error: { code: code, message: message } };
}

function sendJson(res, status, value, headers) {
  if (res.headersSent) return;
  var body = JSON.stringify(value);
  res.writeHead(status, Object.assign({ 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, headers || {}));
  res.end(body);
}

function readBody(req, done) {
  var chunks = [];
  var size = 0;
  req.on('data', function (c) {
    size += c.length;
    if (size > MAX_BODY) return req.destroy();
    chunks.push(c);
  });
  req.on('end', function () {
    done(Buffer.concat(chunks).toString('utf8'));
  });
}

function sseSession(req, res) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  var session = startSession('sse', function (s, msg, line) {
    res.write('event: message\ndata: ' + line + '\n\n');
  });
  session.onEnd = function () {
    res.end();
  };
  res.write('event: endpoint\ndata: ' + MESSAGE_PATH + '?sessionId=' + session.id + '\n\n');
  res.on('close', function () {
    endSession(session);
  });
}

function sseMessage(req, res, url) {
  var session = sessions.get(url.searchParams.get('sessionId') || '');
  if (!session || session.kind !== 'sse') return sendJson(res, 404, rpcError(null, -32001, 'Session not found'));
  readBody(req, function (body) {
    try {
      JSON.parse(body);
    } catch (e) {
      return sendJson(res, 400, rpcError(null, -32700, 'Parse error'));
    }
    send(session, body);
    res.writeHead(202, { 'content-type': 'text/plain' });
    res.end('Accepted');
  });
}

function streamablePost(req, res) {
  readBody(req, function (body) {
    var parsed;
    try {
      parsed = JSON.parse(body);
    } catch (e) {
      return sendJson(res, 400, rpcError(null, -32700, 'Parse error'));
    }
    var batch = Array.isArray(parsed);
    var messages = batch ? parsed : [parsed];
    var sid = req.headers['mcp-session-id'];
    var session;
    var isInit = messages.some(function (m) {
      return m && m.method === 'initialize';
    });
    if (sid) {
      session = sessions.get(String(sid));
      if (!session || session.kind !== 'streamable') return sendJson(res, 404, rpcError(null, -32001, 'Session not found'));
    } else if (isInit) {
      session = startSession('streamable', function (s, msg) {
        var waiting = msg && msg.id !== undefined && (msg.result !== undefined || msg.error !== undefined) ? s.pending.get(msg.id) : undefined;
        if (waiting) {
          s.pending.delete(msg.id);
          waiting(msg);
        }
      });
    } else {
      return sendJson(res, 400, rpcError(null, -32000, 'Bad Request: no Mcp-Session-Id; the first request of a session is initialize'));
    }
    var requests = messages.filter(function (m) {
      return m && m.method !== undefined && m.id !== undefined;
    });
    var headers = { 'mcp-session-id': session.id };
    if (!requests.length) {
      messages.forEach(function (m) {
        send(session, JSON.stringify(m));
      });
      res.writeHead(202, headers);
      return res.end();
    }
    var replies = new Map();
    requests.forEach(function (m) {
      session.pending.set(m.id, function (reply) {
        replies.set(m.id, reply);
        if (replies.size < requests.length) return;
        var out = requests.map(function (r) {
          return replies.get(r.id);
        });
        sendJson(res, 200, batch ? out : out[0], headers);
      });
    });
    // A reply the client no longer waits for goes nowhere.
    res.on('close', function () {
      requests.forEach(function (m) {
        session.pending.delete(m.id);
      });
    });
    messages.forEach(function (m) {
      send(session, JSON.stringify(m));
    });
  });
}

var server = http.createServer(function (req, res) {
  var url = new URL(req.url || '/', 'http://bridge');
  var p = url.pathname;
  if (req.method === 'GET' && p === SSE_PATH) return sseSession(req, res);
  if (req.method === 'POST' && p === MESSAGE_PATH) return sseMessage(req, res, url);
  if (p === MCP_PATH) {
    if (req.method === 'POST') return streamablePost(req, res);
    if (req.method === 'DELETE') {
      var session = sessions.get(String(req.headers['mcp-session-id'] || ''));
      if (!session) return sendJson(res, 404, rpcError(null, -32001, 'Session not found'));
      endSession(session);
      res.writeHead(200);
      return res.end();
    }
    // No server-initiated stream: the spec lets a server answer GET with 405.
    res.writeHead(405, { allow: 'POST, DELETE' });
    return res.end();
  }
  sendJson(res, 404, { errorMessage: 'This MCP server (stdio, behind fc-local\'s bridge) serves GET ' + SSE_PATH + ', POST ' + MESSAGE_PATH + ' and POST/DELETE ' + MCP_PATH });
});
server.keepAliveTimeout = 65000;
server.listen(PORT, HOST);

function shutdown() {
  sessions.forEach(endSession);
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

'use strict';
// fc-local's Node.js agent: FC's Node.js programming model behind FC's custom-runtime HTTP
// protocol (POST /initialize, POST /invoke, HTTP functions get the raw request).
// Plain CommonJS without async/await so that it runs on nodejs6-era runtimes and today's alike.

var http = require('http');
var path = require('path');
var fs = require('fs');
var util = require('util');
var Module = require('module');
var querystring = require('querystring');
var Stream = require('stream');

var CODE_DIR = process.env.FC_FUNC_CODE_PATH || process.cwd();
var PORT = Number(process.env.FC_SERVER_PORT || 9000);
var HOST = process.env.FC_SERVER_HOST || '127.0.0.1';
var PROXY_PREFIX = /^\/2016-08-15\/proxy\/[^/]+\/[^/]+/;

// ---------------------------------------------------------------------------------------------
// TypeScript: fc-local compiles each .ts / .mts / .cts file of the code dir (with esbuild, to
// CommonJS with an inline source map) into FC_LOCAL_TS_OUT, mirroring the code dir. A `.ts`
// module is loaded from there under its own file name, so relative paths, __dirname and
// node_modules are the code dir's, and stack traces and debuggers name the .ts lines. A file
// that did not compile has its positioned error there instead, thrown as the module's.
var TS_OUT = process.env.FC_LOCAL_TS_OUT;
if (TS_OUT) {
  if (typeof process.setSourceMapsEnabled === 'function') process.setSourceMapsEnabled(true);
  var loadCompiled = function (module, filename) {
    var rel = path.relative(CODE_DIR, filename);
    if (rel.indexOf('..') === 0 || path.isAbsolute(rel)) {
      throw new Error('fc-local compiles TypeScript in the code dir only: ' + filename + ' is outside it (compile it to JavaScript where it lives)');
    }
    var code;
    try {
      code = fs.readFileSync(path.join(TS_OUT, rel + '.js'), 'utf8');
    } catch (e) {
      var why;
      try {
        why = fs.readFileSync(path.join(TS_OUT, rel + '.err'), 'utf8');
      } catch (e2) {
        why = rel + ' is not compiled yet (it appeared after the instance started: the next reload compiles it)';
      }
      var err = new SyntaxError(why);
      err.stack = 'SyntaxError: ' + why;
      throw err;
    }
    if (UNDER_INSPECTOR) runAsScript(module, filename, code);
    else module._compile(code, filename);
  };
  // Under a debugger the module runs as a script of its own: debuggers pause before a script
  // with a source map runs (V8 does not for CommonJS's compiled functions) and set the
  // breakpoints of its .ts lines then, as VS Code does. Elsewhere _compile, whose source maps
  // Node applies to stack traces.
  var UNDER_INSPECTOR = !!require('inspector').url();
  var runAsScript = function (module, filename, code) {
    var map = /\n\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/.exec(code);
    var body = map ? code.slice(0, map.index) : code;
    var tail = '';
    if (map) {
      var json = JSON.parse(Buffer.from(map[1], 'base64').toString('utf8'));
      json.mappings = ';' + json.mappings; // the wrapper's line comes first
      tail = '\n//# sourceMappingURL=data:application/json;base64,' + Buffer.from(JSON.stringify(json)).toString('base64');
    }
    var wrapper = require('vm').runInThisContext('(function (exports, require, module, __filename, __dirname) {\n' + body + '\n})' + tail, { filename: filename });
    wrapper.call(module.exports, module.exports, Module.createRequire(filename), module, filename, path.dirname(filename));
  };
  ['.ts', '.mts', '.cts'].forEach(function (ext) {
    require.extensions[ext] = loadCompiled;
  });
}

// ---------------------------------------------------------------------------------------------
// Built-in modules FC's Node.js runtime ships: resolvable from user code without installing
// them, and only those names, so that local code cannot come to depend on anything else fc-local
// happens to have installed. The function's own node_modules (and layers) win, as on FC. The
// versions are those of FC's nodejs18/20 runtimes; nodejs6/8/10 get the ali-oss 4.x the guide's
// examples use (with its Wrapper).
// The names come from fc-local (NODE_BUILTIN_MODULES in src/runtime/agents.ts).
var BUILTINS = (process.env.FC_LOCAL_NODE_BUILTINS || '').split(',').filter(Boolean);
var LEGACY_RUNTIME = /^nodejs(4\.4|6|8|10)$/.test(process.env.FC_RUNTIME || '');
var BUILTIN_DIRS = LEGACY_RUNTIME ? { 'ali-oss': 'ali-oss-4' } : {};
// FC ships these too, as native modules fc-local cannot provide: a clear error instead.
var NOT_EMULATED_BUILTINS = { opencv: 'a native module (OpenCV bindings)' };
var BUILTINS_PATH = process.env.FC_LOCAL_NODE_BUILTINS_PATH;
if (BUILTINS_PATH) {
  var originalResolve = Module._resolveFilename;
  Module._resolveFilename = function (request, parent) {
    try {
      return originalResolve.apply(this, arguments);
    } catch (err) {
      var name = request.charAt(0) === '@' ? request.split('/').slice(0, 2).join('/') : request.split('/')[0];
      if (err.code === 'MODULE_NOT_FOUND' && NOT_EMULATED_BUILTINS[name]) {
        var e = new Error(
          "Cannot find module '" + request + "': FC's Node.js runtime has " + name + ' built in, ' + NOT_EMULATED_BUILTINS[name] +
            " that fc-local does not emulate. Package it with your code (npm install " + name + ' in codeUri, built for Linux and your runtime\'s Node.js) to run it here',
        );
        e.code = 'MODULE_NOT_FOUND';
        throw e;
      }
      if (err.code !== 'MODULE_NOT_FOUND' || BUILTINS.indexOf(name) < 0) throw err;
      var dir = BUILTIN_DIRS[name] ? BUILTIN_DIRS[name] + request.slice(name.length) : request;
      return originalResolve.call(this, path.join(BUILTINS_PATH, dir), parent);
    }
  };
}

// ---------------------------------------------------------------------------------------------
// fc-local's local services: requests to OSS's own host names (<bucket>.oss-<region>[-internal].
// aliyuncs.com, as ali-oss builds them from a region) go to fc-local's OSS, and requests to FC's
// endpoints (<accountId>.<region>[-internal].fc.aliyuncs.com, as @alicloud/fc2 builds them) to
// fc-local's FC API, keeping their Host header, so that unmodified code works locally. https
// becomes http there (the local services have no certificates for those names). In a container
// they are Unix sockets (FC_LOCAL_*_SOCKET): its loopback is its own. Other hosts are untouched.
var LOCAL_SERVICES = [
  { name: /(^|\.)oss-[a-z0-9-]+\.aliyuncs\.com$/i, endpoint: process.env.FC_LOCAL_OSS_ENDPOINT, socket: process.env.FC_LOCAL_OSS_SOCKET },
  { name: /^[0-9]+\.[a-z0-9-]+\.fc\.aliyuncs\.com$/i, endpoint: process.env.FC_LOCAL_FC_ENDPOINT, socket: process.env.FC_LOCAL_FC_SOCKET },
].filter(function (s) { return s.endpoint || s.socket; });
if (LOCAL_SERVICES.length) {
  var urlModule = require('url');
  var httpModule = require('http');
  var plainRequest = httpModule.request;
  var toLocal = function (args) {
    // request(url[, options][, cb]) or request(options[, cb]): the options, merged, and the callback.
    var i = 0;
    var opts = {};
    if (typeof args[0] === 'string' || (args[0] && typeof args[0] === 'object' && args[0].href && typeof args[0].searchParams === 'object')) {
      var u = urlModule.parse(String(args[0]));
      opts = { protocol: u.protocol, hostname: u.hostname, port: u.port, path: u.path };
      i = 1;
    }
    if (args[i] && typeof args[i] === 'object') {
      opts = Object.assign({}, opts, args[i]);
      i++;
    }
    var cb = typeof args[i] === 'function' ? args[i] : undefined;
    var host = String(opts.hostname || opts.host || '').replace(/:\d+$/, '');
    var service = LOCAL_SERVICES.filter(function (s) { return s.name.test(host); })[0];
    if (!service) return undefined;
    var headers = Object.assign({}, opts.headers);
    var hasHost = Object.keys(headers).some(function (k) { return k.toLowerCase() === 'host'; });
    if (!hasHost) headers.host = host + (opts.port && String(opts.port) !== '80' && String(opts.port) !== '443' ? ':' + opts.port : '');
    // The invocation making the request (the last one begun here): fc-local's traces show the
    // write or call as its child. The name is TRACE_PARENT_HEADER of src/model.ts (outside the
    // x-fc-/x-oss-/x-acs- headers that FC's and OSS's signatures cover).
    if (currentRequestId) headers['fc-local-parent-request-id'] = currentRequestId;
    var where;
    if (service.socket) where = { socketPath: service.socket, hostname: undefined, host: undefined, port: undefined };
    else {
      var local = urlModule.parse(service.endpoint);
      where = { hostname: local.hostname, host: local.hostname, port: local.port };
    }
    return { opts: Object.assign({}, opts, where, { protocol: 'http:', headers: headers, agent: undefined }), cb: cb };
  };
  var patch = function (mod) {
    var original = mod.request;
    mod.request = function () {
      var to = toLocal(Array.prototype.slice.call(arguments));
      if (!to) return original.apply(mod, arguments);
      return to.cb ? plainRequest.call(httpModule, to.opts, to.cb) : plainRequest.call(httpModule, to.opts);
    };
    mod.get = function () {
      var req = mod.request.apply(mod, arguments);
      req.end();
      return req;
    };
  };
  patch(httpModule);
  patch(require('https'));
}

// ---------------------------------------------------------------------------------------------
// Logging: `<ISO time> <requestId> [LEVEL] message`, with console.setLogLevel as the guide shows.
var LEVELS = { error: 0, warn: 1, info: 2, verbose: 3, debug: 4 };
var logLevel = LEVELS.debug;
var currentRequestId = '';

// Lines are coalesced into one write per event-loop turn, and flushed before every answer so
// that an invocation's lines are out before its result: each write costs a syscall here and, in
// a container, a round through the Docker daemon.
// Past FLUSH_BYTES the lines go out at once: a function logging in a tight loop must not grow
// this buffer (the write to a pipe is synchronous, so a flood slows the function down instead).
var FLUSH_BYTES = 64 * 1024;
var pendingLines = [];
var pendingBytes = 0;
function writeLine(line) {
  if (deferredStarts.length) printDeferredStarts();
  if (pendingLines.length === 0) setImmediate(flushLines);
  pendingLines.push(line);
  pendingBytes += line.length + 1;
  if (pendingBytes >= FLUSH_BYTES) flushLines();
}
function flushLines() {
  if (pendingLines.length === 0) return;
  var text = pendingLines.join('\n') + '\n';
  pendingLines = [];
  pendingBytes = 0;
  writeFd(1, text);
}

// Output goes to the pipe synchronously, waiting while it is full: process.stdout.write queues
// in memory what the pipe cannot take yet, so a function logging in a loop grew by everything it
// logged (a 50 MB flood took a 128 MB container past its limit). Here a flood slows the function
// down instead, as on FC. Where there is no way to wait (no SharedArrayBuffer), the stream's own
// queued write is used.
var nap = typeof SharedArrayBuffer === 'function' && typeof Atomics === 'object' ? new Int32Array(new SharedArrayBuffer(4)) : null;
var fdFallback = { 1: null, 2: null };
function writeFd(fd, chunk, encoding) {
  var buf = Buffer.isBuffer(chunk) ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.from(String(chunk), typeof encoding === 'string' ? encoding : 'utf8');
  var off = 0;
  while (off < buf.length) {
    if (fdFallback[fd]) return fdFallback[fd](buf.slice(off));
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (err) {
      if (err.code === 'EAGAIN' && nap) Atomics.wait(nap, 0, 0, 1);
      else if (err.code === 'EAGAIN' || err.code === 'EINVAL' || err.code === 'ENOTSUP') fdFallback[fd] = fd === 1 ? rawStdoutWrite : rawStderrWrite;
      else if (err.code === 'EPIPE' || err.code === 'EBADF') return true;
      else throw err;
    }
  }
  return true;
}
function directWrite(fd) {
  return function (chunk, encoding, cb) {
    if (deferredStarts.length) printDeferredStarts();
    flushLines();
    var done = typeof encoding === 'function' ? encoding : cb;
    writeFd(fd, chunk, encoding);
    if (typeof done === 'function') process.nextTick(done);
    return true;
  };
}

// Invocations that print nothing need no markers on the log channel: their Start
// marker waits here until a line is printed, and one that printed nothing answers with
// x-fc-local-logged: 0, so that fc-local writes both markers itself, without the pipe.
var deferredStarts = [];
function printDeferredStarts() {
  var starts = deferredStarts;
  deferredStarts = [];
  starts.forEach(function (t) {
    t.printed = true;
    writeLine(t.line);
  });
}
function deferStart(line) {
  var t = { line: line, printed: false };
  deferredStarts.push(t);
  return t;
}
// Takes a deferred marker off the list: true when it was never printed (its invocation was silent).
function unprinted(t) {
  if (t.printed) return false;
  deferredStarts.splice(deferredStarts.indexOf(t), 1);
  return true;
}
function printStart(t) {
  if (!unprinted(t)) return;
  t.printed = true;
  writeLine(t.line);
}
// Anything written to stdout or stderr directly counts as a line of the invocation too.
var rawStdoutWrite = process.stdout.write.bind(process.stdout);
process.stdout.write = directWrite(1);
var rawStderrWrite = process.stderr.write.bind(process.stderr);
process.stderr.write = directWrite(2);

// A user's own process.exit() must not lose what was logged before it.
process.on('exit', flushLines);

function emit(level, args) {
  if (LEVELS[level] > logLevel) return;
  writeLine(new Date().toISOString() + ' ' + currentRequestId + ' [' + level.toUpperCase() + '] ' + util.format.apply(util, args));
}
console.error = function () { emit('error', arguments); };
console.warn = function () { emit('warn', arguments); };
console.info = function () { emit('info', arguments); };
console.log = function () { emit('verbose', arguments); };
console.debug = function () { emit('debug', arguments); };
console.setLogLevel = function (level) {
  var l = String(level).toLowerCase();
  if (!Object.prototype.hasOwnProperty.call(LEVELS, l)) throw new Error('Invalid log level: ' + level);
  logLevel = LEVELS[l];
};

function marker(text) {
  writeLine(text);
}

// ---------------------------------------------------------------------------------------------
// Handlers: `file.export` relative to the code dir; loaded once per instance, a load error is
// not cached so that fixed code loads on the next request.
var modules = {};

function FcError(message, type, stack) {
  this.errorMessage = message;
  if (type) this.errorType = type;
  if (stack) this.stackTrace = stack;
}

// The user's frames only: FC's traces stop where the runtime's own code begins.
function userFrames(err) {
  if (typeof err.stack !== 'string') return [];
  var lines = err.stack.split('\n');
  if (err instanceof SyntaxError) {
    // Node puts the location and the offending source before the message line.
    var at = lines.indexOf(lines.filter(function (l) { return l.indexOf('SyntaxError') === 0; })[0]);
    if (at > 0) return lines.slice(0, at).map(function (s) { return s.trim(); }).filter(Boolean);
  }
  var frames = [];
  // The message may span lines (MODULE_NOT_FOUND adds its "Require stack:"): frames start at "at ".
  var first = 1;
  while (first < lines.length && lines[first].trim().indexOf('at ') !== 0) first++;
  for (var i = first; i < lines.length; i++) {
    var line = lines[i].trim();
    if (line.indexOf(__filename) >= 0) break;
    if (line && line.indexOf('node:internal') < 0 && line.indexOf('(internal/') < 0) frames.push(line);
  }
  return frames;
}

// A package the code's package.json names but node_modules lacks: the project was never
// installed (Funcraft projects usually start with `npm install` in the code dir).
function installHint(err) {
  if (!err || err.code !== 'MODULE_NOT_FOUND') return '';
  var m = /Cannot find (?:module|package) '([^']+)'/.exec(String(err.message));
  if (!m || m[1].charAt(0) === '.' || m[1].charAt(0) === '/') return '';
  var name = m[1].charAt(0) === '@' ? m[1].split('/').slice(0, 2).join('/') : m[1].split('/')[0];
  try {
    var pkg = JSON.parse(require('fs').readFileSync(path.join(CODE_DIR, 'package.json'), 'utf8'));
    var named = Object.assign({}, pkg.dependencies, pkg.optionalDependencies, pkg.devDependencies);
    if (!Object.prototype.hasOwnProperty.call(named, name)) return '';
    if (require('fs').existsSync(path.join(CODE_DIR, 'node_modules', name))) return '';
    return " (package.json lists '" + name + "' but node_modules does not have it: run npm install in " + CODE_DIR + ')';
  } catch (e) {
    return '';
  }
}

function toErrorJson(err) {
  if (err instanceof FcError) return err;
  if (err instanceof Error || (err && typeof err === 'object' && 'message' in err)) {
    var message = String(err.message);
    if (err.code === 'MODULE_NOT_FOUND') message = message.split('\nRequire stack:')[0] + installHint(err);
    return new FcError(message, err.name || (err.constructor && err.constructor.name) || 'Error', userFrames(err));
  }
  if (err && typeof err === 'object') {
    try { return new FcError(JSON.stringify(err)); } catch (e) { return new FcError(String(err)); }
  }
  return new FcError(String(err));
}

var dynamicImport;
try {
  // Built at run time so that old runtimes without import() can still parse this file.
  dynamicImport = new Function('p', 'return import(p)');
} catch (e) {
  dynamicImport = null;
}

function loadExport(handler, cb) {
  var dot = handler.lastIndexOf('.');
  if (dot <= 0) return cb(new FcError("Invalid handler '" + handler + "': it must be {file}.{function}", 'InvalidHandler'));
  var moduleName = handler.slice(0, dot);
  var exportName = handler.slice(dot + 1);
  var exportOf = function (mod) {
    var fn = mod && mod[exportName];
    if (typeof fn !== 'function' && mod && mod.default && typeof mod.default[exportName] === 'function') fn = mod.default[exportName];
    return typeof fn === 'function' ? fn : null;
  };
  var found = function (mod) {
    var fn = exportOf(mod);
    if (!fn) return cb(new FcError("Handler '" + exportName + "' is missing on module '" + moduleName + "'", 'HandlerNotFound'));
    cb(null, fn);
  };
  if (modules[moduleName]) return found(modules[moduleName]);
  var file;
  try {
    file = require.resolve(path.resolve(CODE_DIR, moduleName));
  } catch (err) {
    var mjs = path.resolve(CODE_DIR, moduleName + '.mjs');
    if (dynamicImport && require('fs').existsSync(mjs)) file = mjs;
    else return cb(new FcError("Module '" + moduleName + "' is missing", 'ModuleNotFound'));
  }
  var attempts = 0;
  // Hot reload: a file being saved in place is empty or cut short for a moment. A load that
  // fails on a file written in the last moments is retried shortly instead of kept.
  var mayRetry = function () {
    if (attempts >= 6) return false;
    var mtime;
    try {
      mtime = require('fs').statSync(file).mtimeMs;
    } catch (e) {
      return false;
    }
    if (Date.now() - mtime > 300) return false;
    attempts++;
    delete require.cache[file];
    setTimeout(load, 50);
    return true;
  };
  var loaded = function (mod) {
    if (!exportOf(mod) && mayRetry()) return;
    modules[moduleName] = mod;
    found(mod);
  };
  var failed = function (err) {
    if (!mayRetry()) cb(toErrorJson(err));
  };
  var load = function () {
    try {
      loaded(require(file));
    } catch (err) {
      if (err && err.code === 'ERR_REQUIRE_ESM' && dynamicImport) {
        dynamicImport(require('url').pathToFileURL(file).href).then(loaded, failed);
      } else {
        failed(err);
      }
    }
  };
  load();
}

// ---------------------------------------------------------------------------------------------
// Context from the x-fc-* headers of the protocol.
function buildContext(h) {
  return {
    requestId: h['x-fc-request-id'] || '',
    credentials: {
      accessKeyId: h['x-fc-access-key-id'] || '',
      accessKeySecret: h['x-fc-access-key-secret'] || '',
      securityToken: h['x-fc-security-token'] || '',
    },
    function: {
      name: h['x-fc-function-name'] || '',
      handler: h['x-fc-function-handler'] || '',
      memory: Number(h['x-fc-function-memory']) || 0,
      timeout: Number(h['x-fc-function-timeout']) || 0,
      initializer: h['x-fc-function-initializer'] || '',
      initializationTimeout: Number(h['x-fc-initialization-timeout']) || 0,
    },
    service: {
      name: h['x-fc-service-name'] || '',
      logProject: h['x-fc-service-logproject'] || '',
      logStore: h['x-fc-service-logstore'] || '',
      qualifier: h['x-fc-qualifier'] || 'LATEST',
      versionId: '',
    },
    region: h['x-fc-region'] || '',
    accountId: h['x-fc-account-id'] || '',
  };
}

function readBody(req, cb) {
  if (req.fcBody) return cb(req.fcBody); // from fc-local's channel: read already
  var chunks = [];
  req.on('data', function (c) { chunks.push(c); });
  req.on('end', function () { cb(Buffer.concat(chunks)); });
}

function encodeResult(data) {
  if (data === undefined || data === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(data)) return data;
  if (typeof data === 'string') return Buffer.from(data);
  if (typeof data === 'object') return Buffer.from(JSON.stringify(data));
  return Buffer.from(String(data));
}

// This process's peak memory in KB (getrusage): fc-local reports it as FC's max memory usage
// without reading /proc for every invocation. Node before 12.6 has no resourceUsage().
var maxRssKB = typeof process.resourceUsage === 'function' ? function () { return String(process.resourceUsage().maxRSS); } : null;

function reply(res, status, type, body, unlogged) {
  flushLines();
  var headers = { 'content-type': 'application/octet-stream', 'x-fc-status': String(status) };
  if (unlogged) headers['x-fc-local-logged'] = '0';
  if (maxRssKB) headers['x-fc-local-max-rss-kb'] = maxRssKB();
  if (type) {
    headers['x-fc-error-type'] = type;
    headers['content-type'] = 'application/json';
  }
  var out = Buffer.isBuffer(body) ? body : Buffer.from(body);
  headers['content-length'] = String(out.length);
  res.writeHead(status === 200 ? 200 : 404, headers);
  res.end(out);
}

// A throw out of user code leaves the instance in an unknown state: FC ends the process and
// answers "Process exited unexpectedly before completing request"; so do we.
function crash(err) {
  var e = toErrorJson(err);
  emit('error', [(e.errorType ? e.errorType + ': ' : '') + e.errorMessage + (e.stackTrace && e.stackTrace.length ? '\n    ' + e.stackTrace.join('\n    ') : '')]);
  flushLines();
  process.exit(129);
}
process.on('uncaughtException', crash);

// Runs a user function once; `done(err, value)` is called at most once (first callback wins).
// A synchronous throw crashes the instance unless `onThrow` takes it.
function runUser(fn, args, done, onThrow) {
  var finished = false;
  var callback = function (err, data) {
    if (finished) return;
    finished = true;
    done(err, data);
  };
  var ret;
  try {
    ret = fn.apply(null, args.concat([callback]));
  } catch (err) {
    if (onThrow) return onThrow(err);
    return crash(err);
  }
  if (ret && typeof ret.then === 'function') {
    ret.then(function (v) { callback(null, v); }, function (e) { callback(e === undefined || e === null ? new Error('Promise rejected with ' + e) : e); });
  }
}

function handleInitialize(req, res) {
  readBody(req, function () {
    var ctx = buildContext(req.headers);
    currentRequestId = ctx.requestId;
    var initializer = ctx.function.initializer;
    if (!initializer) return reply(res, 200, null, '');
    marker('FC Initialize Start RequestId: ' + ctx.requestId);
    loadExport(initializer, function (loadErr, fn) {
      if (loadErr) {
        marker('FC Initialize End RequestId: ' + ctx.requestId);
        return reply(res, 404, 'UnhandledInvocationError', JSON.stringify(loadErr));
      }
      runUser(fn, [ctx], function (err) {
        marker('FC Initialize End RequestId: ' + ctx.requestId);
        if (err !== null && err !== undefined) return reply(res, 404, 'HandledInvocationError', JSON.stringify(toErrorJson(err)));
        reply(res, 200, null, '');
      }, function (thrown) {
        // The message is what the developer needs; the instance is discarded after a failed
        // initializer anyway, so it need not crash to be replaced.
        var e = toErrorJson(thrown);
        emit('error', [(e.errorType ? e.errorType + ': ' : '') + e.errorMessage]);
        marker('FC Initialize End RequestId: ' + ctx.requestId);
        reply(res, 404, 'UnhandledInvocationError', JSON.stringify(e));
      });
    });
  });
}

// preStop (before the instance stops) and preFreeze (after an invocation): handler(context[,
// callback]), named by fc-local's x-fc-lifecycle-handler, between FC's log lines.
function handleHook(req, res, what) {
  readBody(req, function () {
    var ctx = buildContext(req.headers);
    currentRequestId = ctx.requestId;
    marker('FC ' + what + ' Start RequestId: ' + ctx.requestId);
    var done = function (status, type, body) {
      marker('FC ' + what + ' End RequestId: ' + ctx.requestId);
      reply(res, status, type, body);
    };
    loadExport(req.headers['x-fc-lifecycle-handler'] || '', function (loadErr, fn) {
      if (loadErr) return done(404, 'UnhandledInvocationError', JSON.stringify(loadErr));
      runUser(fn, [ctx], function (err) {
        if (err !== null && err !== undefined) return done(404, 'HandledInvocationError', JSON.stringify(toErrorJson(err)));
        done(200, null, '');
      }, function (thrown) {
        var e = toErrorJson(thrown);
        emit('error', [(e.errorType ? e.errorType + ': ' : '') + e.errorMessage]);
        done(404, 'UnhandledInvocationError', JSON.stringify(e));
      });
    });
  });
}

function handleInvoke(req, res) {
  readBody(req, function (event) {
    var ctx = buildContext(req.headers);
    currentRequestId = ctx.requestId;
    var start = deferStart('FC Invoke Start RequestId: ' + ctx.requestId);
    var end = function (status, type, body) {
      if (unprinted(start)) return reply(res, status, type, body, true);
      marker('FC Invoke End RequestId: ' + ctx.requestId);
      reply(res, status, type, body);
    };
    loadExport(ctx.function.handler, function (loadErr, fn) {
      if (loadErr) return end(404, 'UnhandledInvocationError', JSON.stringify(loadErr));
      runUser(fn, [event, ctx], function (err, data) {
        if (err !== null && err !== undefined) return end(404, 'HandledInvocationError', JSON.stringify(toErrorJson(err)));
        end(200, null, encodeResult(data));
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// HTTP functions: handler(request, response, context).
var IGNORED_REQUEST_HEADERS = ['accept-encoding', 'connection', 'keep-alive', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding'];
var IGNORED_RESPONSE_HEADERS = ['connection', 'content-length', 'content-encoding', 'date', 'keep-alive', 'proxy-authenticate', 'server', 'trailer', 'transfer-encoding', 'upgrade'];

function isIgnored(list, key) {
  var k = String(key).toLowerCase();
  return k.indexOf('x-fc-') === 0 || list.indexOf(k) >= 0;
}

// Bad percent-encoding (`%ff`) reaches the function as it was sent rather than failing.
function safeDecode(s) {
  try {
    return decodeURIComponent(s);
  } catch (e) {
    return s;
  }
}

function handleHttp(req, res) {
  var ctx = buildContext(req.headers);
  currentRequestId = ctx.requestId;
  var clientIP = req.headers['x-fc-client-ip'] || (req.socket && req.socket.remoteAddress) || '';
  var parsed = require('url').parse(req.url);
  var userHeaders = {};
  Object.keys(req.headers).forEach(function (k) {
    if (!isIgnored(IGNORED_REQUEST_HEADERS, k)) userHeaders[k] = req.headers[k];
  });
  var queries = querystring.parse(parsed.query || '');
  var plainQueries = {};
  Object.keys(queries).forEach(function (k) { plainQueries[k] = queries[k]; });
  var define = function (name, value) {
    Object.defineProperty(req, name, { value: value, writable: true, configurable: true, enumerable: true });
  };
  define('headers', userHeaders);
  define('path', safeDecode((parsed.pathname || '/').replace(PROXY_PREFIX, '')) || '/');
  define('queries', plainQueries);
  define('clientIP', clientIP);
  define('url', req.url);

  var status = 200;
  var headers = {};
  var sent = false;
  var response = {
    setStatusCode: function (code) {
      if (typeof code !== 'number' || code < 100 || code > 999) throw new Error('Invalid status code: ' + code);
      status = code;
    },
    setHeader: function (key, value) {
      if (!isIgnored(IGNORED_RESPONSE_HEADERS, key)) headers[String(key).toLowerCase()] = value;
    },
    deleteHeader: function (key) { delete headers[String(key).toLowerCase()]; },
    hasHeader: function (key) { return Object.prototype.hasOwnProperty.call(headers, String(key).toLowerCase()); },
    getHeader: function (key) { return headers[String(key).toLowerCase()]; },
    send: function (body) {
      if (sent) return;
      sent = true;
      var finish = function () { marker('FC Invoke End RequestId: ' + ctx.requestId); flushLines(); };
      if (body instanceof Stream.Readable || (body && typeof body.pipe === 'function')) {
        // Lines may come while it streams: the markers go on the log channel.
        printStart(start);
        res.writeHead(status, headers);
        body.on('end', finish);
        body.pipe(res);
        return;
      }
      var out = encodeResult(body);
      if (unprinted(start)) headers['x-fc-local-logged'] = '0';
      else finish();
      // A whole body says its length: over HTTP (no channel) it is then read whole, not streamed, as on the channel.
      headers['content-length'] = String(out.length);
      res.writeHead(status, headers);
      res.end(out);
    },
  };
  var start = deferStart('FC Invoke Start RequestId: ' + ctx.requestId);
  loadExport(ctx.function.handler, function (loadErr, fn) {
    if (loadErr) {
      printStart(start);
      marker('FC Invoke End RequestId: ' + ctx.requestId);
      return reply(res, 404, 'UnhandledInvocationError', JSON.stringify(loadErr));
    }
    try {
      fn(req, response, ctx);
    } catch (err) {
      crash(err);
    }
  });
}

// The exit status that asks runtimes/supervisor.sh for a fresh agent in the same container.
var RESTART_CODE = 197;

function route(req, res) {
  if (req.headers['x-fc-local-http-invoke'] || PROXY_PREFIX.test(req.url)) return handleHttp(req, res);
  if (req.method === 'POST' && req.url === '/invoke') return handleInvoke(req, res);
  if (req.method === 'POST' && req.url === '/initialize') return handleInitialize(req, res);
  if (req.method === 'GET' && (req.url === '/pre-stop' || req.url === '/pre-freeze')) return handleHook(req, res, req.url === '/pre-stop' ? 'PreStop' : 'PreFreeze');
  if (req.method === 'POST' && req.url === '/_fc-local/restart' && process.env.FC_LOCAL_SUPERVISED) {
    // Hot reload in a warm container: the supervisor starts a fresh agent when this one exits
    // with RESTART_CODE (quicker than a signal through the Docker engine).
    res.writeHead(202, { 'content-type': 'text/plain' });
    res.end('restarting\n', function () {
      flushLines();
      process.exit(RESTART_CODE);
    });
    return;
  }
  // The pid tells a restarted agent from the one before it (hot reload in a warm container).
  res.writeHead(404, { 'content-type': 'text/plain', 'x-fc-local-agent-pid': String(process.pid) });
  res.end('fc-local nodejs agent: unknown route ' + req.method + ' ' + req.url + '\n');
}

// User code's own throws are handled where it runs; whatever else a request causes here must
// answer that request, never end the instance.
function serve(req, res) {
  try {
    route(req, res);
  } catch (err) {
    if (res.headersSent) return res.destroy();
    reply(res, 404, 'UnhandledInvocationError', JSON.stringify(new FcError('fc-local agent could not handle the request: ' + String(err && err.message))));
  }
}

// ---------------------------------------------------------------------------------------------
// fc-local's channel (docs/agent-channel.md): the same requests as frames on a Unix socket,
// cheaper than HTTP for both sides. Frame: u32 length | u32 id | u32 meta length | u8 kind |
// meta JSON | body. The TCP port keeps serving FC's HTTP protocol for everything else.
var FRAME_HEADER = 13;
var KIND_INVOKE = 1;
var KIND_INITIALIZE = 2;
var KIND_HTTP = 3;
var KIND_RECEIVED = 16;
var KIND_ANSWER = 17;

function frame(id, kind, meta, body) {
  var m = Buffer.from(JSON.stringify(meta));
  var small = body.length <= 65536;
  var head = Buffer.allocUnsafe(FRAME_HEADER + m.length + (small ? body.length : 0));
  head.writeUInt32LE(FRAME_HEADER + m.length + body.length, 0);
  head.writeUInt32LE(id, 4);
  head.writeUInt32LE(m.length, 8);
  head.writeUInt8(kind, 12);
  m.copy(head, FRAME_HEADER);
  if (small) {
    body.copy(head, FRAME_HEADER + m.length);
    return [head];
  }
  return [head, body];
}

var CRASH_MESSAGE = 'Process exited unexpectedly before completing request';

// The answer side of one request on the channel: what handlers and pipe() use of a response.
function ChannelAnswer(conn, id) {
  Stream.call(this);
  this.conn = conn;
  this.id = id;
  this.status = 200;
  this.headers = {};
  this.chunks = [];
  this.headersSent = false;
  this.finished = false;
  this.writable = true;
}
util.inherits(ChannelAnswer, Stream);
ChannelAnswer.prototype.writeHead = function (status, headers) {
  this.status = status;
  this.headers = headers || {};
  this.headersSent = true;
  return this;
};
ChannelAnswer.prototype.write = function (chunk, encoding, cb) {
  if (this.finished) return false;
  if (chunk !== undefined && chunk !== null) this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk), typeof encoding === 'string' ? encoding : 'utf8'));
  if (typeof encoding === 'function') encoding();
  else if (typeof cb === 'function') cb();
  return true;
};
ChannelAnswer.prototype.end = function (chunk, encoding, cb) {
  if (typeof chunk === 'function') {
    cb = chunk;
    chunk = undefined;
  }
  if (this.finished) return this;
  if (chunk !== undefined && chunk !== null) this.write(chunk, encoding);
  this.finished = true;
  this.writable = false;
  var body = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
  this.chunks = [];
  var parts = frame(this.id, KIND_ANSWER, { s: this.status, h: this.headers }, body);
  for (var i = 0; i < parts.length; i++) this.conn.write(parts[i]);
  this.emit('finish');
  if (typeof cb === 'function') cb();
  else if (typeof encoding === 'function') encoding();
  return this;
};
// A response that cannot be finished (a failed stream): the request fails as a crash would.
ChannelAnswer.prototype.destroy = function () {
  if (this.finished) return;
  this.finished = true;
  var body = Buffer.from(JSON.stringify(new FcError(CRASH_MESSAGE)));
  var parts = frame(this.id, KIND_ANSWER, { s: 502, h: { 'x-fc-status': '404', 'x-fc-error-type': 'UnhandledInvocationError', 'content-type': 'application/json' } }, body);
  for (var i = 0; i < parts.length; i++) this.conn.write(parts[i]);
};

function dispatch(conn, f) {
  var meta;
  try {
    meta = JSON.parse(f.meta);
  } catch (e) {
    meta = { h: {} };
  }
  var res = new ChannelAnswer(conn, f.id);
  var headers = meta.h || {};
  if (f.kind === KIND_HTTP) {
    var req = new Stream.Readable({ read: function () {} });
    if (f.body.length) req.push(f.body);
    req.push(null);
    req.method = meta.m || 'GET';
    req.url = meta.u || '/';
    req.headers = headers;
    return serve(req, res);
  }
  var url = f.kind === KIND_INITIALIZE ? '/initialize' : f.kind === KIND_INVOKE ? '/invoke' : '/unknown';
  serve({ method: 'POST', url: url, headers: headers, fcBody: f.body }, res);
}

// The highest request id received, as 4 bytes at the start of <channel>.received: fc-local reads
// it only when a connection ends with requests unanswered.
var receipt = null;
function openReceipt(file) {
  var fs = require('fs');
  try {
    // Not truncated: after a restart in place the ids go on from where they were.
    receipt = { fd: fs.openSync(file, fs.existsSync(file) ? 'r+' : 'w', 420), buf: Buffer.alloc(4), fs: fs };
  } catch (e) {
    receipt = null; // receipts then go as frames
  }
}
function writeReceipt(id) {
  if (!receipt) return false;
  try {
    receipt.buf.writeUInt32LE(id, 0);
    receipt.fs.writeSync(receipt.fd, receipt.buf, 0, 4, 0);
    return true;
  } catch (e) {
    receipt = null;
    return false;
  }
}

// Bytes to frames. Chunks are joined only once a whole frame is in (a large event is copied once).
function serveChannel(conn) {
  var chunks = [];
  var size = 0;
  var need = FRAME_HEADER;
  conn.on('error', function () {
    // fc-local went away; it opens a new connection when it comes back
  });
  conn.on('data', function (chunk) {
    if (size + chunk.length < need) {
      chunks.push(chunk);
      size += chunk.length;
      return;
    }
    var buf = size ? Buffer.concat(chunks.concat([chunk])) : chunk;
    chunks = [];
    size = 0;
    var at = 0;
    var frames = [];
    while (buf.length - at >= FRAME_HEADER) {
      var length = buf.readUInt32LE(at);
      var metaLength = buf.readUInt32LE(at + 8);
      if (length < FRAME_HEADER + metaLength) return conn.destroy(); // not a frame of ours
      if (buf.length - at < length) break;
      var metaEnd = at + FRAME_HEADER + metaLength;
      frames.push({ id: buf.readUInt32LE(at + 4), kind: buf[at + 12], meta: buf.toString('utf8', at + FRAME_HEADER, metaEnd), body: buf.slice(metaEnd, at + length) });
      at += length;
    }
    if (at < buf.length) {
      buf = buf.slice(at);
      chunks.push(buf);
      size = buf.length;
      need = buf.length >= FRAME_HEADER ? buf.readUInt32LE(0) : FRAME_HEADER;
    } else {
      need = FRAME_HEADER;
    }
    if (!frames.length) return;
    // The receipt is written before any user code runs (at most once: fc-local sends a request
    // again only if it was never received): to the receipt file, which wakes nobody, or else
    // as a frame, whose write callback means the kernel has it.
    var last = frames[frames.length - 1].id;
    if (writeReceipt(last)) {
      for (var i = 0; i < frames.length; i++) dispatch(conn, frames[i]);
      return;
    }
    conn.write(frame(last, KIND_RECEIVED, 0, Buffer.alloc(0))[0], function (err) {
      if (err) return;
      for (var j = 0; j < frames.length; j++) dispatch(conn, frames[j]);
    });
  });
}

var server = http.createServer(serve);
server.keepAliveTimeout = 0;

// Listening on the channel before the port: once the port answers, the channel does too.
function listenChannel(next) {
  var channelPath = process.env.FC_LOCAL_CHANNEL;
  if (!channelPath) return next();
  var fs = require('fs');
  try {
    fs.unlinkSync(channelPath); // the previous agent's, after a restart in place
  } catch (e) {
    // none yet
  }
  openReceipt(channelPath + '.received');
  var channelServer = require('net').createServer(serveChannel);
  var started = false;
  var go = function () {
    if (started) return;
    started = true;
    next();
  };
  channelServer.on('error', go); // without the channel fc-local uses the port
  channelServer.listen(channelPath, function () {
    try {
      fs.chmodSync(channelPath, 438); // 0666: fc-local may run as another user than the function
    } catch (e) {
      // fc-local then uses the port
    }
    go();
  });
}

// fc-local's process backend passes a pipe to say "listening" on, instead of waiting for its
// next probe. Neither variable is the function's business.
var READY_FD = Number(process.env.FC_LOCAL_READY_FD) || 0;
delete process.env.FC_LOCAL_READY_FD;

listenChannel(function () {
  delete process.env.FC_LOCAL_CHANNEL;
  server.listen(PORT, HOST, function () {
    if (!READY_FD) return;
    var fs = require('fs');
    try {
      fs.writeSync(READY_FD, 'ready\n');
    } catch (e) {
      // fc-local probes the port anyway
    }
    try {
      fs.closeSync(READY_FD); // not inherited by what the function starts
    } catch (e) {
      // already closed
    }
  });
});

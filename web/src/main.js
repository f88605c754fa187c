// The workbench page: Preact components written with htm, charts with uPlot. Data comes from
// /_fc-local/api (JSON) and /_fc-local/api/stream (server-sent events).
import { h, render } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import '../style.css';

const html = htm.bind(h);
const API = 'api';
const get = (p) => fetch(`${API}/${p}`).then((r) => r.json());
const post = (p, body) => fetch(`${API}/${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) }).then((r) => r.json());
const time = (ms) => new Date(ms).toLocaleTimeString();

/** One EventSource for the page; components subscribe to its event types. */
const stream = new EventSource(`${API}/stream`);
function useStream(type, fn) {
  useEffect(() => {
    const l = (e) => fn(JSON.parse(e.data));
    stream.addEventListener(type, l);
    return () => stream.removeEventListener(type, l);
  }, [type]);
}

/** Rows from a first fetch and from the stream, once each, ordered by seq (1 up, -1 down), at most `max`. */
function mergeBySeq(a, b, max, order) {
  const bySeq = new Map();
  for (const r of [...a, ...b]) bySeq.set(r.seq, r);
  const rows = [...bySeq.values()].sort((x, y) => order * (x.seq - y.seq));
  return order > 0 ? rows.slice(-max) : rows.slice(0, max);
}

function Functions({ fns }) {
  return html`<table id="functions">
    <thead><tr><th>function</th><th>runtime</th><th>handler</th><th>memory</th><th>timeout</th><th>triggers</th><th>URLs</th><th>instances</th></tr></thead>
    <tbody>${fns.map((f) => html`<tr key=${f.key} data-fn=${f.key}>
      <td><b>${f.key}</b></td><td>${f.runtime}</td><td>${f.handler}</td><td>${f.memorySize} MB</td><td>${f.timeout} s</td>
      <td>${f.triggers.map((t) => html`<span class="pill">${t.type} ${t.name}</span>`)}</td>
      <td>${f.urls.map((u) => html`<div class="muted">${u}</div>`)}</td>
      <td class="instances">${f.instances.length ? f.instances.map((i) => html`<span class=${`pill ${i.state}`} title=${i.sessions !== undefined ? `${i.sessions} of ${f.sessions.perInstance} sessions` : ''}>${i.state}${i.busy ? ` (${i.busy})` : ''}${i.sessions ? ` · ${i.sessions} session${i.sessions === 1 ? '' : 's'}` : ''}</span>`) : html`<span class="muted">none</span>`}
        ${f.sessions ? html`<div class="muted sessions">${f.sessions.type}: ${f.sessions.active} active session${f.sessions.active === 1 ? '' : 's'}</div>` : null}</td>
    </tr>`)}</tbody></table>`;
}

function Result({ r }) {
  if (!r) return null;
  return html`<div class="card" id="result">
    <div class="row">
      <b class=${r.status === 'failed' ? 'bad' : 'ok'}>${r.status}${r.errorType ? ` (${r.errorType})` : ''}</b>
      ${r.statusCode !== undefined ? html`<span>HTTP ${r.statusCode}</span>` : null}
      ${r.durationMs !== undefined ? html`<span>duration ${r.durationMs} ms</span>` : null}
      ${r.billedDurationMs !== undefined ? html`<span>billed ${r.billedDurationMs} ms</span>` : null}
      ${r.memoryMB !== undefined ? html`<span>memory ${r.memoryMB} MB</span>` : null}
      ${r.coldStart !== undefined ? html`<span>${r.coldStart ? 'cold start' : 'warm'}</span>` : null}
      <span class="muted">${r.requestId ?? ''}</span>
    </div>
    ${r.headers ? html`<h4>headers</h4><pre>${Object.entries(r.headers).map(([k, v]) => `${k}: ${v}`).join('\n')}</pre>` : null}
    <h4>result</h4><pre class="result-body">${r.result ?? ''}</pre>
    ${r.logs ? html`<h4>logs</h4><pre class="result-logs">${r.logs.join('\n')}</pre>` : null}
  </div>`;
}

function Invoke({ fns, templates }) {
  const [key, setKey] = useState('');
  const fn = fns.find((f) => f.key === key) ?? fns[0];
  const [tpl, setTpl] = useState('');
  const [event, setEvent] = useState('{\n  "key": "value"\n}');
  const [mode, setMode] = useState('sync');
  const [req, setReq] = useState({ method: 'GET', path: '/', query: '', headers: '{}', body: '' });
  const [result, setResult] = useState(null);
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    try {
      if (fn.http) {
        setResult(await post('invoke', { function: fn.key, http: { ...req, headers: JSON.parse(req.headers || '{}') } }));
      } else {
        setResult(await post('invoke', { function: fn.key, event, async: mode === 'async' }));
      }
    } finally {
      setBusy(false);
    }
  };
  if (!fn) return html`<p>No functions.</p>`;
  const field = (k) => (e) => setReq({ ...req, [k]: e.currentTarget.value });
  return html`<div>
    <div class="card row">
      <label>function <select id="invoke-fn" value=${fn.key} onChange=${(e) => { setKey(e.currentTarget.value); setResult(null); }}>${fns.map((f) => html`<option value=${f.key}>${f.key}</option>`)}</select></label>
      ${fn.http ? null : html`
        <label>event template <select id="invoke-template" value=${tpl} onChange=${(e) => { const t = e.currentTarget.value; setTpl(t); if (t) setEvent(JSON.stringify(templates.events[t], null, 2)); }}>
          <option value="">(custom)</option>${Object.keys(templates.events ?? {}).map((t) => html`<option value=${t}>${t}</option>`)}</select></label>
        <label><input type="radio" name="mode" checked=${mode === 'sync'} onChange=${() => setMode('sync')} /> sync</label>
        <label><input type="radio" name="mode" checked=${mode === 'async'} onChange=${() => setMode('async')} /> async</label>`}
      <button class="act" id="invoke-run" disabled=${busy} onClick=${run}>${busy ? 'running…' : 'Invoke'}</button>
    </div>
    ${fn.http ? html`<div class="card">
        <div class="row"><select id="http-method" value=${req.method} onChange=${field('method')}>${['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'PATCH'].map((m) => html`<option>${m}</option>`)}</select>
        <input id="http-path" size="30" value=${req.path} onInput=${field('path')} placeholder="/path" />
        <input id="http-query" size="30" value=${req.query} onInput=${field('query')} placeholder="a=1&b=2" /></div>
        <div class="grid"><div><h4>headers (JSON)</h4><textarea id="http-headers" value=${req.headers} onInput=${field('headers')}></textarea></div>
        <div><h4>body</h4><textarea id="http-body" value=${req.body} onInput=${field('body')}></textarea></div></div></div>`
      : html`<div class="card"><textarea id="invoke-event" value=${event} onInput=${(e) => setEvent(e.currentTarget.value)}></textarea></div>`}
    <${Result} r=${result} />
  </div>`;
}

function Invocations({ fns, rows, onOpen }) {
  const [fn, setFn] = useState('');
  const [status, setStatus] = useState('');
  const [q, setQ] = useState('');
  const shown = useMemo(() => {
    const text = q.toLowerCase();
    return rows.filter((r) => (!fn || r.function === fn) && (!status || r.status === status) && (!text || `${r.requestId} ${r.function} ${r.source} ${r.errorType ?? ''} ${r.request?.url ?? ''}`.toLowerCase().includes(text)));
  }, [rows, fn, status, q]);
  return html`<div>
    <div class="card row">
      <select id="filter-fn" value=${fn} onChange=${(e) => setFn(e.currentTarget.value)}><option value="">all functions</option>${fns.map((f) => html`<option value=${f.key}>${f.key}</option>`)}</select>
      <select id="filter-status" value=${status} onChange=${(e) => setStatus(e.currentTarget.value)}><option value="">any status</option><option>succeeded</option><option>failed</option><option>throttled</option></select>
      <input id="filter-text" placeholder="text or request id" value=${q} onInput=${(e) => setQ(e.currentTarget.value)} />
      <span class="muted" id="invocation-count">${shown.length} of ${rows.length}</span>
    </div>
    <table id="invocations"><thead><tr><th>time</th><th>function</th><th>source</th><th>status</th><th>error</th><th>duration</th><th>cold</th><th>request id</th></tr></thead>
    <tbody>${shown.map((r) => html`<tr key=${r.seq} class="pick" data-id=${r.requestId} onClick=${() => onOpen(r.requestId)}>
      <td>${time(r.at)}</td><td>${r.function}</td><td>${r.source}</td>
      <td class=${r.status === 'succeeded' ? 'ok' : 'bad'}>${r.status}${r.statusCode !== undefined ? ` ${r.statusCode}` : ''}</td>
      <td>${r.errorType ?? ''}</td><td>${r.durationMs ?? ''}${r.durationMs !== undefined ? ' ms' : ''}</td><td>${r.coldStart ? 'cold' : ''}</td><td class="muted">${r.requestId}</td></tr>`)}</tbody></table>
  </div>`;
}

/** Where an invocation's time went: queue, instance start, initializer, handler, to scale. */
function Waterfall({ inv }) {
  const s = inv.spans;
  if (!s) return null;
  const parts = [
    ['async queue', 'asyncQueue', s.asyncQueueMs ?? 0],
    ['queue', 'queue', s.queueMs],
    ['instance start', 'start', s.startMs],
    ['initializer', 'init', s.initMs],
    ['handler', 'handler', inv.durationMs ?? 0],
    ['preFreeze', 'preFreeze', s.preFreezeMs ?? 0],
  ].filter(([, k, ms]) => ms > 0 || k === 'handler');
  const total = parts.reduce((n, [, , ms]) => n + ms, 0) || 1;
  let at = 0;
  return html`<div class="card" id="waterfall"><h4>trace: ${total} ms${inv.coldStart ? ' (cold start)' : ''}${inv.cause?.what ? html` · <span class="muted">${inv.cause.what}</span>` : null}</h4>
    ${parts.map(([name, k, ms]) => {
      const left = (at / total) * 100;
      at += ms;
      return html`<div class="span" data-span=${k}><span>${name}</span><div class="track"><div class=${`bar ${k}${k === 'handler' && inv.status === 'failed' ? ' failed' : ''}`} style=${`left:${left}%;width:${(ms / total) * 100}%`}></div></div><span class="muted">${ms} ms</span></div>`;
    })}</div>`;
}

/** The invocations an invocation's chain holds, as a tree from its root, on one time line. */
function Chain({ id }) {
  const [tree, setTree] = useState(null);
  useEffect(() => { get(`invocations/${encodeURIComponent(id)}/chain`).then(setTree); }, [id]);
  if (!tree || !tree.requestId) return null;
  const times = [];
  const walk = (n) => { n.attempts.forEach((a) => times.push(a.at, a.at + (a.durationMs ?? 0))); n.writes.forEach((w) => times.push(w.at)); n.children.forEach(walk); };
  walk(tree);
  const t0 = Math.min(...times);
  const span = Math.max(1, Math.max(...times) - t0);
  const pct = (t) => ((t - t0) / span) * 100;
  const node = (n) => html`<li data-chain=${n.requestId} class=${n.requestId === id ? 'here' : ''}>
    <div class="node"><a href=${`#Invocations/${encodeURIComponent(n.requestId)}`}>${n.function}</a><span class="pill">${n.source}</span>${n.cause?.what ? html`<span class="muted">${n.cause.what}</span>` : null}</div>
    ${n.attempts.map((a, i) => html`<div class="span" data-attempt=${a.attempt ?? 1}><span class="muted">${a.attempt ? `attempt ${a.attempt}` : a.status}${i > 0 ? ` · after ${Math.max(0, a.at - n.attempts[i - 1].at - (n.attempts[i - 1].durationMs ?? 0))} ms` : ''}${a.coldStart ? ' · cold' : ''}</span><div class="track"><div class=${`bar ${a.status === 'failed' ? 'failed' : 'handler'}`} style=${`left:${pct(a.at)}%;width:${((a.durationMs ?? 0) / span) * 100}%`}></div></div><span class="muted">+${a.at - t0} ms</span></div>`)}
    ${n.writes.map((w) => html`<div class="span" data-write=${w.key}><span class="muted">oss ${w.eventName.split(':').pop()}</span><div class="track"><div class="bar write" style=${`left:${pct(w.at)}%;width:1%`}></div></div><span class="muted">${w.bucket}/${w.key}</span></div>`)}
    ${n.children.length ? html`<ul>${n.children.map(node)}</ul>` : null}
  </li>`;
  return html`<div class="card" id="chain"><h4>chain</h4><ul>${node(tree)}</ul></div>`;
}

function InvocationDetail({ id, onBack }) {
  const [inv, setInv] = useState(null);
  const [replayed, setReplayed] = useState(null);
  useEffect(() => { get(`invocations/${id}`).then(setInv); }, [id]);
  if (!inv) return html`<p>loading…</p>`;
  return html`<div id="detail">
    <div class="card row"><button onClick=${onBack}>← back</button><b>${inv.function}</b><span>${inv.source}</span><span class="muted">${inv.requestId}</span>
      <button class="act" id="replay" onClick=${async () => setReplayed(await post(`invocations/${id}/replay`))}>Replay</button></div>
    <div class="grid">
      <div class="card"><h4>request</h4><pre>${inv.request.method ? `${inv.request.method} ${inv.request.url}\n${Object.entries(inv.request.headers ?? {}).map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n` : ''}${inv.payload}</pre></div>
      <div class="card"><h4>result (${inv.status}${inv.errorType ? `, ${inv.errorType}` : ''}, ${inv.durationMs ?? '-'} ms)</h4><pre>${inv.result ?? ''}</pre><h4>logs</h4><pre id="detail-logs">${inv.logs.join('\n')}</pre></div>
    </div>
    <${Waterfall} inv=${inv} />
    <${Chain} id=${id} />
    ${replayed ? html`<h3>replayed</h3><${Result} r=${replayed} />` : null}
  </div>`;
}

function Logs({ fns }) {
  const [lines, setLines] = useState([]);
  const [fn, setFn] = useState('');
  const [level, setLevel] = useState('');
  const [rid, setRid] = useState('');
  // The first page may answer after the stream delivered newer lines: merge by sequence.
  useEffect(() => { get('logs').then((first) => setLines((prev) => mergeBySeq(first, prev, 2000, 1))); }, []);
  useStream('log', (l) => setLines((prev) => (prev.length >= 2000 ? [...prev.slice(-1500), l] : [...prev, l])));
  const shown = lines.filter((l) => (!fn || l.function === fn) && (!level || l.line.includes(`[${level}]`)) && (!rid || l.line.includes(rid)));
  return html`<div>
    <div class="card row">
      <select id="logs-fn" value=${fn} onChange=${(e) => setFn(e.currentTarget.value)}><option value="">all functions</option>${fns.map((f) => html`<option value=${f.key}>${f.key}</option>`)}</select>
      <select id="logs-level" value=${level} onChange=${(e) => setLevel(e.currentTarget.value)}><option value="">any level</option>${['ERROR', 'WARN', 'INFO', 'VERBOSE', 'DEBUG'].map((l) => html`<option>${l}</option>`)}</select>
      <input id="logs-rid" placeholder="request id" value=${rid} onInput=${(e) => setRid(e.currentTarget.value)} />
    </div>
    <pre id="logs" style="max-height: 70vh">${shown.map((l) => `${l.function}  ${l.line}`).join('\n')}</pre>
  </div>`;
}

function Events({ templates }) {
  const fire = templates.fire ?? {};
  const [out, setOut] = useState(null);
  const [oss, setOss] = useState({ bucket: fire.oss?.[0]?.bucket ?? 'my-bucket', key: fire.oss?.[0]?.key ?? 'source/image.png', eventName: 'ObjectCreated:PutObject' });
  const go = async (type, body) => setOut(await post(`events/${type}`, body));
  return html`<div>
    <div class="card"><h3>OSS</h3><div class="row">
      <input id="oss-bucket" value=${oss.bucket} onInput=${(e) => setOss({ ...oss, bucket: e.currentTarget.value })} />
      <input id="oss-key" value=${oss.key} onInput=${(e) => setOss({ ...oss, key: e.currentTarget.value })} />
      <input id="oss-event" value=${oss.eventName} onInput=${(e) => setOss({ ...oss, eventName: e.currentTarget.value })} />
      <button class="act" id="fire-oss" onClick=${() => go('oss', oss)}>Fire OSS event</button></div></div>
    <div class="card"><h3>Timer</h3>${(fire.timer ?? []).map((t) => html`<button class="act" onClick=${() => go('timer', t)}>fire ${t.service}/${t.function}/${t.trigger}</button> `)}${fire.timer?.length ? null : html`<span class="muted">no timer triggers</span>`}</div>
    <div class="card"><h3>Log</h3>${(fire.log ?? []).map((l) => html`<button class="act" onClick=${() => go('log', { logstore: l.logstore, records: [{ message: 'from the workbench' }] })}>append a record to ${l.logstore}</button> `)}${fire.log?.length ? null : html`<span class="muted">no log triggers</span>`}</div>
    <div class="card"><h3>CDN</h3>${(fire.cdn ?? []).map((c) => html`<button class="act" onClick=${() => go('cdn', c)}>${c.eventName} ${c.domain}</button> `)}${fire.cdn?.length ? null : html`<span class="muted">no CDN triggers</span>`}</div>
    ${out ? html`<div class="card"><h4>reached</h4><pre id="fired">${JSON.stringify(out, null, 2)}</pre></div>` : null}
  </div>`;
}

const size = (n) => (n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1024 ** 2).toFixed(1)} MB`);
const objectUrl = (bucket, key) => `${API}/oss/buckets/${encodeURIComponent(bucket)}/object?key=${encodeURIComponent(key)}`;

/** The local OSS: a bucket's folders and objects (upload, download, delete), and what each write started. */
function Oss({ onOpen }) {
  const [info, setInfo] = useState(null);
  const [bucket, setBucket] = useState('');
  const [prefix, setPrefix] = useState('');
  const [listing, setListing] = useState(null);
  const [activity, setActivity] = useState([]);
  const [error, setError] = useState('');
  const load = (b = bucket, p = prefix) => {
    if (!b) return;
    fetch(`${API}/oss/buckets/${encodeURIComponent(b)}/objects?prefix=${encodeURIComponent(p)}`)
      .then(async (r) => (r.ok ? setListing(await r.json()) : setError((await r.json()).ErrorMessage ?? r.statusText)));
  };
  useEffect(() => {
    get('oss').then((o) => { setInfo(o); if (!bucket && o.buckets?.length) setBucket(o.buckets[0]); });
    get('oss/activity').then((first) => setActivity((prev) => mergeBySeq(first, prev, 500, -1)));
  }, []);
  useEffect(() => { setError(''); load(); }, [bucket, prefix]);
  useStream('oss', (w) => {
    setActivity((prev) => [w, ...prev.filter((p) => p.seq !== w.seq)].slice(0, 500));
    if (w.bucket === bucket) load();
  });
  const upload = async (files) => {
    for (const f of files) {
      const r = await fetch(objectUrl(bucket, prefix + f.name), { method: 'PUT', headers: { 'content-type': f.type || 'application/octet-stream' }, body: f });
      if (!r.ok) setError((await r.json()).ErrorMessage ?? r.statusText);
    }
    load();
  };
  const remove = async (key) => { await fetch(objectUrl(bucket, key), { method: 'DELETE' }); load(); };
  if (!info) return html`<p>loading…</p>`;
  const crumbs = prefix.split('/').filter(Boolean);
  return html`<div id="oss">
    <div class="card row">
      <label>bucket <select id="oss-bucket-pick" value=${bucket} onChange=${(e) => { setBucket(e.currentTarget.value); setPrefix(''); }}>${(info.buckets ?? []).map((b) => html`<option value=${b}>${b}</option>`)}</select></label>
      <span class="muted">${info.endpoint} · ${info.region} · key id ${info.accessKeyId} · ${info.signatures}</span>
    </div>
    ${bucket ? html`<div class="card">
      <div class="row">
        <span id="oss-path"><a href="#OSS" onClick=${() => setPrefix('')}>${bucket}</a>${crumbs.map((c, i) => html` / <a href="#OSS" onClick=${() => setPrefix(`${crumbs.slice(0, i + 1).join('/')}/`)}>${c}</a>`)}</span>
        <span class="muted">ACL ${listing?.acl ?? ''}</span>
        <label class="act-label">upload here <input type="file" id="oss-upload" multiple onChange=${(e) => upload([...e.currentTarget.files])} /></label>
      </div>
      ${error ? html`<p class="bad" id="oss-error">${error}</p>` : null}
      <table id="oss-objects"><thead><tr><th>name</th><th>size</th><th>last modified</th><th>type</th><th>ETag</th><th></th></tr></thead>
      <tbody>
        ${(listing?.prefixes ?? []).map((p) => html`<tr key=${p} class="pick" data-prefix=${p} onClick=${() => setPrefix(p)}><td>📁 ${p.slice(prefix.length)}</td><td></td><td></td><td></td><td></td><td></td></tr>`)}
        ${(listing?.objects ?? []).map((o) => html`<tr key=${o.key} data-key=${o.key}>
          <td>${o.key.slice(prefix.length)}</td><td>${size(o.size)}</td><td>${new Date(o.lastModified).toLocaleString()}</td><td>${o.contentType}</td><td class="muted">${o.etag}</td>
          <td><a href=${objectUrl(bucket, o.key)} download>download</a> <button class="oss-delete" onClick=${() => remove(o.key)}>delete</button></td></tr>`)}
      </tbody></table>
      ${listing?.truncated ? html`<p class="muted">more than ${listing.objects.length + listing.prefixes.length} entries here: the first are shown</p>` : null}
    </div>` : html`<p class="muted">No buckets yet: PutBucket makes one, and so does a folder in the OSS folder (--oss-dir).</p>`}
    <div class="card"><h3>writes and what they started</h3>
      <table id="oss-activity"><thead><tr><th>time</th><th>event</th><th>object</th><th>by</th><th>invocations</th></tr></thead>
      <tbody>${activity.map((w) => html`<tr key=${w.seq} data-key=${w.key}>
        <td>${time(w.at)}</td><td>${w.eventName}</td><td>${w.bucket}/${w.key}${w.size ? html` <span class="muted">${size(w.size)}</span>` : null}</td><td>${w.origin}</td>
        <td>${w.invocations.length ? w.invocations.map((i) => html`<a class="oss-invocation" href="#Invocations" data-id=${i.requestId} onClick=${(e) => { e.preventDefault(); onOpen(i.requestId); }}>${i.function}</a> `) : html`<span class="muted">no trigger</span>`}</td></tr>`)}</tbody></table>
    </div>
  </div>`;
}

const CHARTS = [
  ['Invocations', ['invocations', 'billable']],
  ['Errors', ['handledErrors', 'unhandledErrors', 'clientErrors', 'serverErrors']],
  ['Throttles and cold starts', ['throttles', 'coldStarts']],
  ['Duration (ms)', ['durationAvg', 'durationP99', 'durationMax']],
  ['Memory (MB, max)', ['memoryMax']],
  ['Concurrent executions (max)', ['concurrencyMax']],
];
const COLORS = ['#ff6a00', '#2f6fde', '#1a7f37', '#8250df'];

function Chart({ title, keys, series }) {
  const el = useRef(null);
  useEffect(() => {
    const data = [series.map((m) => m.minute), ...keys.map((k) => series.map((m) => m[k]))];
    const plot = new uPlot({ width: 420, height: 180, series: [{}, ...keys.map((k, i) => ({ label: k, stroke: COLORS[i], width: 2 }))], axes: [{}, {}] }, data, el.current);
    return () => plot.destroy();
  }, [series]);
  const total = keys.map((k) => `${k} ${series.reduce((a, m) => (k.startsWith('duration') || k.endsWith('Max') ? Math.max(a, m[k]) : a + m[k]), 0).toFixed(k.startsWith('duration') ? 1 : 0)}`).join(' · ');
  return html`<div class="card chart" data-chart=${title}><h3>${title}</h3><div class="muted total">${total}</div><div ref=${el}></div></div>`;
}

function Metrics({ fns }) {
  const [fn, setFn] = useState('');
  const [series, setSeries] = useState(null);
  useEffect(() => {
    const load = () => get(`series${fn ? `?function=${encodeURIComponent(fn)}` : ''}`).then(setSeries);
    load();
    const t = setInterval(load, 5000);
    return () => clearInterval(t);
  }, [fn]);
  return html`<div>
    <div class="card row"><select id="metrics-fn" value=${fn} onChange=${(e) => setFn(e.currentTarget.value)}><option value="">all functions</option>${fns.map((f) => html`<option value=${f.key}>${f.key}</option>`)}</select>
      <span class="muted">last hour, per minute; Prometheus: <a href="metrics">/_fc-local/metrics</a></span></div>
    <div class="charts">${series ? CHARTS.map(([t, k]) => html`<${Chart} key=${t + fn} title=${t} keys=${k} series=${series} />`) : null}</div>
  </div>`;
}

const TABS = ['Functions', 'Invoke', 'Invocations', 'Logs', 'Events', 'OSS', 'Metrics'];

/** The tab and invocation a link names: #Invocations/<requestId> opens that invocation. */
function fromHash() {
  const [tab, id] = decodeURIComponent(location.hash.slice(1)).split('/');
  return { tab: TABS.includes(tab) ? tab : 'Functions', id: tab === 'Invocations' && id ? id : null };
}

function App() {
  const [tab, setTab] = useState(fromHash().tab);
  const [fns, setFns] = useState([]);
  const [rows, setRows] = useState([]);
  const [templates, setTemplates] = useState({});
  const [open, setOpenState] = useState(fromHash().id);
  // Each opened invocation has a link of its own (deep links, the back button).
  const setOpen = (id) => {
    setOpenState(id);
    location.hash = id ? `Invocations/${encodeURIComponent(id)}` : 'Invocations';
  };
  const loadFns = () => get('functions').then(setFns);
  useEffect(() => {
    const onHash = () => {
      const h = fromHash();
      setTab(h.tab);
      setOpenState(h.id);
    };
    window.addEventListener('hashchange', onHash);
    get('').then((i) => {
      if (i.project?.name) document.title = `${i.project.name} · fc-local workbench`;
    });
    loadFns();
    get('invocations').then((first) => setRows((prev) => mergeBySeq(first, prev, 1000, -1)));
    get('event-templates').then(setTemplates);
    // Busy and idle change with every request: a light poll, on top of the stream's start/stop news.
    const t = setInterval(loadFns, 1000);
    return () => {
      clearInterval(t);
      window.removeEventListener('hashchange', onHash);
    };
  }, []);
  useStream('instances', loadFns);
  useStream('invocation', (r) => setRows((prev) => [r, ...prev.filter((p) => p.seq !== r.seq)].slice(0, 1000)));
  const go = (t) => { setTab(t); setOpenState(null); location.hash = t; };
  return html`<div>
    <header><h1>fc-local</h1><nav>${TABS.map((t) => html`<button id=${`tab-${t}`} class=${tab === t ? 'on' : ''} onClick=${() => go(t)}>${t}</button>`)}</nav></header>
    <main>
      ${tab === 'Functions' ? html`<${Functions} fns=${fns} />` : null}
      ${tab === 'Invoke' ? html`<${Invoke} fns=${fns} templates=${templates} />` : null}
      ${tab === 'Invocations' ? (open ? html`<${InvocationDetail} id=${open} onBack=${() => setOpen(null)} />` : html`<${Invocations} fns=${fns} rows=${rows} onOpen=${setOpen} />`) : null}
      ${tab === 'Logs' ? html`<${Logs} fns=${fns} />` : null}
      ${tab === 'Events' ? html`<${Events} templates=${templates} />` : null}
      ${tab === 'OSS' ? html`<${Oss} onOpen=${(id) => { setTab('Invocations'); setOpen(id); }} />` : null}
      ${tab === 'Metrics' ? html`<${Metrics} fns=${fns} />` : null}
    </main></div>`;
}

render(html`<${App} />`, document.getElementById('app'));

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { YamlPath } from './source.js';

// Serverless Devs' `${...}` variables, resolved as the `s` tool resolves them: `${vars.x}`,
// `${env('X')}` / `${env('X', 'default')}` / `${env(X)}` (the environment after `.env`),
// `${resources.r.props.a}` (edition 1: `${r.props.a}`), `${this.props.a}`, `${this.name}`,
// `${path('..')}`, `${file('./a.txt')}`, `${json(file('./a.json'))}`, `${config('AccountID')}`.
// `${resources.r.output.x}` is a deploy output with no local value: a placeholder and a warning.
// A string that is one expression keeps the value's type; otherwise values are spliced in.

export interface Problem {
  path: YamlPath;
  message: string;
  /** Point at the key rather than its value (an unknown key). */
  atKey?: boolean;
}

export interface VarScope {
  dir: string;
  env: Record<string, string | undefined>;
  vars: unknown;
  /** A resource's props, resolved (edition 3: resources.<name>; edition 1: <name>). */
  resourceProps(name: string): unknown;
  /** The resource being resolved. */
  self?: { name: string; props: () => unknown };
  config(key: string): string | undefined;
  edition: 1 | 3;
  errors: Problem[];
  warnings: Problem[];
}

/** `this.props.*` reads being resolved: a prop that refers to itself is an error, not a loop. */
const selfReads = new Set<string>();

const EXPR = /\$\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}/g;

/** Resolves every string below `value`; `at` is its path in the document (for errors). */
export function resolveVariables(value: unknown, at: YamlPath, scope: VarScope): unknown {
  if (Array.isArray(value)) return value.map((v, i) => resolveVariables(v, [...at, i], scope));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveVariables(v, [...at, k], scope)]));
  }
  if (typeof value !== 'string') return value;
  if (/\{\{\s*[\w.-]+\s*\}\}/.test(value)) {
    scope.errors.push({ path: at, message: `'${value}' is an \`s init\` placeholder that was never filled: this project was copied from a template without \`s init\`; put the real value here` });
    return value;
  }
  const whole = /^\$\{([^]*)\}$/.exec(value.trim());
  if (whole && !whole[1]!.includes('${')) return evaluate(whole[1]!, at, scope);
  return value.replace(EXPR, (_, expr: string) => {
    const v = evaluate(expr, at, scope);
    return typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v);
  });
}

function lookup(root: unknown, keys: string[]): unknown {
  let v = root;
  for (const k of keys) {
    if (v === null || typeof v !== 'object' || !(k in (v as object))) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

/** Splits call arguments at top-level commas. */
function splitArgs(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = '';
  let cur = '';
  for (const ch of s) {
    if (quote) {
      if (ch === quote) quote = '';
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

function evaluate(expr: string, at: YamlPath, scope: VarScope): unknown {
  const e = expr.trim();
  // A failure is reported once, here; the value becomes '' so that no second error follows.
  const fail = (message: string) => {
    scope.errors.push({ path: at, message });
    return '';
  };
  const call = /^(\w+)\s*\(([^]*)\)$/.exec(e);
  if (call) {
    const [, fn, argText] = call as unknown as [string, string, string];
    const args = splitArgs(argText).map((a) => {
      const q = /^(['"])([^]*)\1$/.exec(a);
      if (q) return q[2]!;
      return /^\w+\s*\(/.test(a) ? evaluate(a, at, scope) : a; // env(X): a bare name
    });
    switch (fn) {
      case 'env': {
        const v = scope.env[String(args[0])];
        if (v !== undefined) return v;
        if (args.length > 1) return args[1];
        return fail(`\${${e}}: the environment variable ${String(args[0])} is not set (nor in .env); set it, or give a default: \${env('${String(args[0])}', 'value')}`);
      }
      case 'path':
        return path.resolve(scope.dir, String(args[0] ?? '.'));
      case 'file': {
        const f = path.resolve(scope.dir, String(args[0]));
        if (!existsSync(f)) return fail(`\${${e}}: ${f} does not exist`);
        return readFileSync(f, 'utf8');
      }
      case 'json':
        try {
          return JSON.parse(String(args[0]));
        } catch (err) {
          return fail(`\${${e}}: not JSON (${(err as Error).message})`);
        }
      case 'config': {
        const v = scope.config(String(args[0]));
        return v ?? fail(`\${${e}}: fc-local has no local value for ${String(args[0])} (it knows AccountID, AccessKeyID, AccessKeySecret, SecurityToken, Region)`);
      }
      default:
        return fail(`\${${e}}: unknown function ${fn}() (Serverless Devs has env, path, file, json, config)`);
    }
  }
  const parts = e.split('.');
  const [root, ...rest] = parts;
  if (root === 'vars') {
    const v = lookup(scope.vars, rest);
    return v !== undefined ? v : fail(`\${${e}}: no such variable in vars`);
  }
  if (root === 'env' && rest.length === 1) {
    return scope.env[rest[0]!] ?? fail(`\${${e}}: the environment variable ${rest[0]} is not set (nor in .env)`);
  }
  if (root === 'this' && scope.self) {
    if (rest[0] === 'name') return scope.self.name;
    if (rest[0] === 'props') {
      const v = lookup(scope.self.props(), rest.slice(1));
      if (v === undefined) return fail(`\${${e}}: this resource has no props.${rest.slice(1).join('.')}`);
      // The prop as written may itself hold variables (region: ${vars.region}): resolved too.
      if (selfReads.has(e)) return fail(`\${${e}}: the prop refers to itself`);
      selfReads.add(e);
      try {
        return resolveVariables(v, at, scope);
      } finally {
        selfReads.delete(e);
      }
    }
  }
  const resource = root === 'resources' ? rest[0] : scope.edition === 1 ? root : undefined;
  const after = root === 'resources' ? rest.slice(1) : rest;
  if (resource && (after[0] === 'props' || after[0] === 'output')) {
    if (after[0] === 'output') {
      scope.warnings.push({ path: at, message: `warning: \${${e}} is a deploy output with no local value; fc-local uses the placeholder '<${resource}.output.${after.slice(1).join('.')}>'` });
      return `<${resource}.output.${after.slice(1).join('.')}>`;
    }
    const props = scope.resourceProps(resource);
    if (props === undefined) return fail(`\${${e}}: there is no resource '${resource}'`);
    const v = lookup(props, after.slice(1));
    return v !== undefined ? v : fail(`\${${e}}: resource '${resource}' has no props.${after.slice(1).join('.')}`);
  }
  return fail(`\${${e}}: unknown variable (Serverless Devs has vars.*, env(...), resources.<name>.props.*, this.*, path(), file(), json(), config())`);
}

import type { createLocalJWKSet as CreateLocalJWKSet, JWTPayload } from 'jose';
import type { IncomingMessage } from 'node:http';
import type { HttpTriggerConfig } from '../model.js';
import { FcError } from './errors.js';

// FC 3.0 HTTP triggers with authType jwt: the token (by the trigger's tokenLookup, default the
// Authorization header, "Bearer " optional) must verify against the trigger's JWK set.

const keySets = new WeakMap<object, ReturnType<typeof CreateLocalJWKSet>>();

/** The token where tokenLookup says: `header:<name>`, `query:<name>` or `cookie:<name>`, comma-separated. */
export function tokenOf(req: IncomingMessage, tokenLookup = 'header:Authorization'): string | undefined {
  const url = new URL(req.url ?? '/', 'http://local');
  for (const spec of tokenLookup.split(',')) {
    const [where, name] = spec.trim().split(':') as [string, string | undefined];
    if (!name) continue;
    let v: string | undefined;
    if (where === 'header') v = req.headers[name.toLowerCase()] as string | undefined;
    else if (where === 'query') v = url.searchParams.get(name) ?? undefined;
    else if (where === 'cookie') v = cookie(String(req.headers.cookie ?? ''), name);
    if (v) return v.replace(/^Bearer\s+/i, '');
  }
  return undefined;
}

function cookie(header: string, name: string): string | undefined {
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

/** Throws FcError 401 unless the request carries a token the trigger's keys verify. */
export async function verifyJwt(req: IncomingMessage, config: HttpTriggerConfig): Promise<JWTPayload> {
  const auth = config.authConfig;
  if (!auth) throw new FcError(401, 'InvalidJWT', 'authType jwt needs authConfig.jwks');
  const token = tokenOf(req, auth.tokenLookup);
  if (!token) throw new FcError(401, 'MissingJWT', `The request carries no token (looked in ${auth.tokenLookup ?? 'header:Authorization'})`);
  // jose is loaded by the first JWT trigger, not by every start.
  const { createLocalJWKSet, jwtVerify } = await import('jose');
  let keys = keySets.get(auth.jwks);
  if (!keys) {
    keys = createLocalJWKSet(auth.jwks as Parameters<typeof createLocalJWKSet>[0]);
    keySets.set(auth.jwks, keys);
  }
  try {
    return (await jwtVerify(token, keys)).payload;
  } catch (err) {
    throw new FcError(401, 'InvalidJWT', `The token does not verify: ${(err as Error).message}`);
  }
}

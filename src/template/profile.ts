import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import type { Credentials } from '../model.js';

// Local credentials: what `context.credentials` carries and what signed requests are checked
// against. Read from the environment first, then from Funcraft/fcli's ~/.fcli/config.yaml.

/** The variables that carry secrets, scrubbed from fc-local's environment once read. */
export const SECRET_ENV_VARS = ['ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'ACCESS_KEY_SECRET', 'ALIBABA_CLOUD_SECURITY_TOKEN'];

export function loadCredentials(env: NodeJS.ProcessEnv = process.env, home = os.homedir()): Credentials {
  const id = env.ALIBABA_CLOUD_ACCESS_KEY_ID ?? env.ACCESS_KEY_ID;
  const secret = env.ALIBABA_CLOUD_ACCESS_KEY_SECRET ?? env.ACCESS_KEY_SECRET;
  if (id && secret) {
    return {
      accessKeyId: id,
      accessKeySecret: secret,
      securityToken: env.ALIBABA_CLOUD_SECURITY_TOKEN ?? '',
      accountId: env.ALIBABA_CLOUD_ACCOUNT_ID ?? env.ACCOUNT_ID,
      region: env.ALIBABA_CLOUD_REGION ?? env.REGION,
      source: 'environment (ALIBABA_CLOUD_ACCESS_KEY_ID)',
    };
  }
  const file = path.join(home, '.fcli', 'config.yaml');
  try {
    const cfg = parse(readFileSync(file, 'utf8')) as Record<string, unknown> | null;
    if (cfg && typeof cfg.access_key_id === 'string' && typeof cfg.access_key_secret === 'string') {
      return {
        accessKeyId: cfg.access_key_id,
        accessKeySecret: cfg.access_key_secret,
        securityToken: typeof cfg.security_token === 'string' ? cfg.security_token : '',
        accountId: cfg.account_id === undefined ? undefined : String(cfg.account_id),
        region: typeof cfg.region === 'string' ? cfg.region : undefined,
        source: file,
      };
    }
  } catch {
    // No profile file: fall through to empty credentials.
  }
  return { accessKeyId: '', accessKeySecret: '', securityToken: '', source: 'none' };
}

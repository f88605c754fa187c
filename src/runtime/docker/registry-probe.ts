import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

// The registry FC's own images come from when nobody names one, chosen as Funcraft and Serverless
// Devs choose it: Alibaba Cloud's registry first for users in China's time zones (Docker Hub is
// out of reach there without a mirror), Docker Hub first elsewhere; the first that answers its
// /v2/ endpoint wins. The answer is kept for a day in the project's .fc-local, so that one-shot
// invokes do not probe again.

const KEEP_MS = 24 * 60 * 60_000;
const PROBE_MS = 1500;
/** Docker Hub: images keep their plain names. */
const HUB = 'registry-1.docker.io';
const ALIYUN = 'registry.cn-beijing.aliyuncs.com';

export interface ProbedRegistry {
  /** The prefix to pull through; undefined for Docker Hub (plain names) or when none answered. */
  prefix?: string;
  /** What the banner says of it. */
  said: string;
}

function inChina(): boolean {
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone ?? '';
  return /^Asia\/(Shanghai|Chongqing|Harbin|Urumqi|Hong_Kong|Macau|Taipei)$/.test(tz) || process.env.TZ === 'Asia/Shanghai';
}

/** The candidates in the order to try: FC_LOCAL_REGISTRY_CANDIDATES (comma-separated prefixes) overrides. */
export function registryCandidates(): string[] {
  const given = process.env.FC_LOCAL_REGISTRY_CANDIDATES;
  if (given) return given.split(',').map((c) => c.trim()).filter(Boolean);
  return inChina() ? [ALIYUN, HUB] : [HUB, ALIYUN];
}

async function answers(prefix: string): Promise<boolean> {
  const host = prefix.split('/')[0]!;
  // A registry on this machine speaks plain HTTP, as the engine allows for loopback.
  const scheme = /^(127\.|localhost)/.test(host) ? 'http' : 'https';
  try {
    const r = await fetch(`${scheme}://${host}/v2/`, { signal: AbortSignal.timeout(PROBE_MS) });
    await r.arrayBuffer();
    // 200, or 401 asking for a token: a registry either way.
    return r.status === 200 || r.status === 401;
  } catch {
    return false;
  }
}

/** Probes (or recalls) the registry to pull FC's images through. */
export async function probeRegistry(stateFile: string): Promise<ProbedRegistry> {
  const candidates = registryCandidates();
  try {
    const kept = JSON.parse(readFileSync(stateFile, 'utf8')) as { at: number; candidates: string[]; chosen: string | null };
    if (Date.now() - kept.at < KEEP_MS && kept.candidates.join(',') === candidates.join(',')) return describe(kept.chosen, true);
  } catch {
    // Nothing kept: probe.
  }
  const results = await Promise.all(candidates.map(answers));
  const chosen = candidates[results.indexOf(true)] ?? null;
  try {
    mkdirSync(path.dirname(stateFile), { recursive: true });
    writeFileSync(stateFile, JSON.stringify({ at: Date.now(), candidates, chosen }));
  } catch {
    // Not kept: the next run probes again.
  }
  return describe(chosen, false);
}

function describe(chosen: string | null, kept: boolean): ProbedRegistry {
  const how = kept ? 'probed earlier' : 'probed';
  if (chosen === null) return { said: `no registry answered (${how}): images keep their names` };
  if (chosen === HUB) return { said: `Docker Hub (${how})` };
  return { prefix: chosen, said: `${chosen} (${how})` };
}

import { renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { allFunctions, fc3Name, fnKey, functionUrl, type Credentials, type Template } from '../model.js';
import type { Emulator } from '../emulator/emulator.js';

// `fc-local start --ready-file <file>`: once serving, one JSON file tells a test suite in any
// language (pytest, JUnit, ...) where everything is: the URL, the credentials requests are signed
// with, the local OSS, each function's URLs, and where to wait for invocations. It appears whole
// (written aside, then renamed) only when fc-local answers, so waiting for the file is waiting for
// readiness; it is removed when fc-local stops. Only its owner may read it: it holds the secret.

export interface ReadyInfo {
  template: Template;
  file: string;
  base: string;
  credentials: Credentials;
  auth: boolean;
  ossEndpoint: string;
  /** The feed's cursor when fc-local became ready; undefined without the workbench's API. */
  cursor?: number;
}

export function readyDocument(i: ReadyInfo): Record<string, unknown> {
  const api = `${i.base}/_fc-local/api`;
  return {
    url: i.base,
    pid: process.pid,
    template: i.file,
    auth: i.auth,
    credentials: { accessKeyId: i.credentials.accessKeyId, accessKeySecret: i.credentials.accessKeySecret },
    oss: { endpoint: i.ossEndpoint, region: i.template.region, accessKeyId: i.credentials.accessKeyId, accessKeySecret: i.credentials.accessKeySecret },
    waits: i.cursor === undefined ? null : { cursor: i.cursor, next: `${api}/invocations/next`, idle: `${api}/idle`, clock: `${api}/clock` },
    functions: allFunctions(i.template).map((f) => {
      const http = f.triggers.some((t) => t.type === 'http');
      return {
        name: fnKey(f),
        invokeUrl: `${i.base}/2023-03-30/functions/${fc3Name(f)}/invocations`,
        ...(http ? { httpUrl: f.service ? `${i.base}/2016-08-15/proxy/${f.service}/${f.name}/` : functionUrl(f, i.base) } : {}),
      };
    }),
  };
}

/** Writes the file atomically (0600) and removes it when this process exits, however it exits normally. */
export function writeReadyFile(file: string, doc: Record<string, unknown>): void {
  const target = path.resolve(file);
  const tmp = `${target}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(doc, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, target);
  process.on('exit', () => rmSync(target, { force: true }));
}

/** Writes the ready file of a serving emulator; its feed keeps invocations from here on (the file's cursor). */
export function announceReady(file: string, emulator: Emulator, i: Omit<ReadyInfo, 'ossEndpoint' | 'cursor'> & { waits: boolean }): void {
  const { waits, ...info } = i;
  const cursor = waits ? emulator.invocations.reader().cursor : undefined;
  writeReadyFile(file, readyDocument({ ...info, ossEndpoint: emulator.ossEndpoint, ...(cursor !== undefined ? { cursor } : {}) }));
}

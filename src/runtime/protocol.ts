import type { FunctionSpec, LogConfig } from '../model.js';
import type { Credentials } from '../model.js';

// FC's custom-runtime protocol, the side fc-local speaks: the x-fc-* headers that carry the
// request id, the function's meta and credentials to every instance.

export interface InvocationMeta {
  requestId: string;
  fn: FunctionSpec;
  logConfig?: LogConfig;
  region: string;
  accountId: string;
  credentials: Credentials;
}

export function protocolHeaders(m: InvocationMeta): Record<string, string> {
  const h: Record<string, string> = {
    'x-fc-request-id': m.requestId,
    'x-fc-function-name': m.fn.name,
    'x-fc-function-handler': m.fn.handler,
    'x-fc-function-memory': String(m.fn.memorySize),
    'x-fc-function-timeout': String(m.fn.timeout),
    'x-fc-initialization-timeout': String(m.fn.initializationTimeout),
    'x-fc-service-name': m.fn.service,
    'x-fc-region': m.region,
    'x-fc-account-id': m.accountId,
    'x-fc-access-key-id': m.credentials.accessKeyId,
    'x-fc-access-key-secret': m.credentials.accessKeySecret,
    'x-fc-security-token': m.credentials.securityToken,
    'x-fc-qualifier': 'LATEST',
  };
  if (m.fn.initializer) h['x-fc-function-initializer'] = m.fn.initializer;
  if (m.logConfig) {
    h['x-fc-service-logproject'] = m.logConfig.project;
    h['x-fc-service-logstore'] = m.logConfig.logstore;
  }
  return h;
}

/** FC's answer when the instance ended before answering (crash, exit, kill, OOM). */
export const CRASH_MESSAGE = 'Process exited unexpectedly before completing request';

export const FUNCTION_ERROR_TYPES = ['HandledInvocationError', 'UnhandledInvocationError'] as const;
export type FunctionErrorType = (typeof FUNCTION_ERROR_TYPES)[number];

/**
 * How an instance says "function error": an x-fc-status other than 200 (FC's rule) or, for event
 * invocations, any non-2xx answer. An HTTP function's own 404 is its answer, not an error.
 */
export function functionErrorOf(
  status: number,
  headers: Record<string, string | string[] | undefined>,
  http: boolean,
): FunctionErrorType | undefined {
  const fcStatus = headers['x-fc-status'];
  const failed = fcStatus !== undefined ? fcStatus !== '200' : !http && (status < 200 || status >= 300);
  if (!failed) return undefined;
  const type = headers['x-fc-error-type'];
  return (FUNCTION_ERROR_TYPES as readonly unknown[]).includes(type) ? (type as FunctionErrorType) : 'UnhandledInvocationError';
}

import type { ServerResponse } from 'node:http';

// FC's system errors: JSON {ErrorCode, ErrorMessage} with an HTTP status, always with the
// request id; function errors are another matter (X-Fc-Error-Type and the function's JSON).

export class FcError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function sendFcError(res: ServerResponse, err: FcError, requestId: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ ErrorCode: err.code, ErrorMessage: err.message });
  res.writeHead(err.status, { 'X-Fc-Request-Id': requestId, 'X-Fc-Error-Type': 'FcCommonError', 'Content-Type': 'application/json' });
  res.end(body);
}

export const notFound = {
  service: (s: string) => new FcError(404, 'ServiceNotFound', `Service '${s}' does not exist`),
  function: (s: string, f: string) => new FcError(404, 'FunctionNotFound', `Function '${s}/${f}' does not exist`),
  trigger: (s: string, f: string, t: string) => new FcError(404, 'TriggerNotFound', `Trigger '${s}/${f}/${t}' does not exist`),
};

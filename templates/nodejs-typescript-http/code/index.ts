// An HTTP function (FC 2.0) in TypeScript: request, response, context.
interface FcRequest { method: string; path: string; headers: Record<string, string> }
interface FcResponse { setHeader(name: string, value: string): void; send(body: string): void }

export const handler = (request: FcRequest, response: FcResponse): void => {
  response.setHeader('content-type', 'text/plain');
  response.send(`hello from TypeScript: ${request.method} ${request.path}`);
};

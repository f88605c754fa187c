declare module '@alicloud/fc2' {
  interface Response<T = unknown> {
    headers: Record<string, string>;
    data: T;
  }
  class Client {
    constructor(accountId: string, config: { accessKeyID: string; accessKeySecret: string; region: string; endpoint?: string; timeout?: number; securityToken?: string });
    invokeFunction(service: string, fn: string, event?: string | Buffer, headers?: Record<string, string>, qualifier?: string): Promise<Response<string>>;
    listServices(options?: Record<string, unknown>): Promise<Response<{ services: { serviceName: string }[]; nextToken?: string }>>;
    getFunction(service: string, fn: string): Promise<Response<Record<string, unknown>>>;
    listTriggers(service: string, fn: string, options?: Record<string, unknown>): Promise<Response<{ triggers: Record<string, unknown>[] }>>;
    get(path: string, query?: Record<string, string | string[]>, headers?: Record<string, string>): Promise<Response>;
    post(path: string, body: unknown, headers?: Record<string, string>, queries?: Record<string, string | string[]>): Promise<Response>;
    static getSignature(id: string, secret: string, method: string, path: string, headers: Record<string, string>, queries?: Record<string, string | string[]> | null): string;
  }
  export = Client;
}

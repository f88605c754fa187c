import { randomUUID } from 'node:crypto';
import { XMLBuilder } from 'fast-xml-parser';

// OSS's errors: an HTTP status and an XML body with Code, Message, RequestId and HostId, the
// request id also in x-oss-request-id.

export class OssError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** More elements OSS adds to some errors (e.g. Key, BucketName). */
    readonly extra: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const xml = new XMLBuilder({ ignoreAttributes: false, suppressEmptyNode: false, format: false });

export function xmlDocument(root: string, body: unknown): string {
  // Quotes stay quotes in text (OSS writes <ETag>"..."</ETag>); these documents have no attributes.
  const text = (xml.build({ [root]: body }) as string).replace(/&quot;/g, '"').replace(/&apos;/g, "'");
  return `<?xml version="1.0" encoding="UTF-8"?>\n${text}`;
}

export function errorXml(err: OssError, requestId: string, host: string): string {
  return xmlDocument('Error', { Code: err.code, Message: err.message, RequestId: requestId, HostId: host, ...err.extra });
}

export function newRequestId(): string {
  return randomUUID().replace(/-/g, '').slice(0, 24).toUpperCase();
}

export const ossErrors = {
  noBucket: (bucket: string) => new OssError(404, 'NoSuchBucket', 'The specified bucket does not exist.', { BucketName: bucket }),
  noKey: (key: string) => new OssError(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key }),
  badBucket: (bucket: string) =>
    new OssError(400, 'InvalidBucketName', 'The specified bucket is not valid: 3-63 characters of lowercase letters, digits and hyphens, starting and ending with a letter or digit.', { BucketName: bucket }),
  badKey: (key: string, why: string) => new OssError(400, 'InvalidObjectName', `The specified object is not valid: ${why}.`, { Key: key }),
};

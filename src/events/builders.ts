import { createHash, randomUUID } from 'node:crypto';

// The events of FC's triggers, shaped as the user guide ("Configure triggers and events") shows
// them. Sources and `fc-local events generate` both build them here.

/** `2018-04-10T01:31:00Z`: the guide's timer timestamps have no milliseconds. */
export const isoSeconds = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export interface TimerEventInput {
  triggerName: string;
  payload?: string;
  time?: Date;
}

export function timerEvent(i: TimerEventInput) {
  return { triggerTime: isoSeconds(i.time ?? new Date()), triggerName: i.triggerName, payload: i.payload ?? '' };
}

export interface OssEventInput {
  /** Without the `oss:` prefix, e.g. ObjectCreated:PutObject. */
  eventName: string;
  bucket: string;
  key: string;
  size: number;
  eTag?: string;
  deltaSize?: number;
  region: string;
  accountId: string;
  time?: Date;
}

/** The OSS event an upload causes, and the default of injections and `events generate oss`. */
export const DEFAULT_OSS_EVENT = 'ObjectCreated:PutObject';

export function ossEvent(i: OssEventInput) {
  const eTag = i.eTag ?? createHash('md5').update(`${i.bucket}/${i.key}/${i.size}`).digest('hex').toUpperCase();
  return {
    events: [
      {
        eventName: i.eventName,
        eventSource: 'acs:oss',
        eventTime: (i.time ?? new Date()).toISOString(),
        eventVersion: '1.0',
        oss: {
          bucket: { arn: `acs:oss:${i.region}:${i.accountId}:${i.bucket}`, name: i.bucket, ownerIdentity: i.accountId, virtualBucket: '' },
          object: { deltaSize: i.deltaSize ?? i.size, eTag, key: i.key, size: i.size },
          ossSchemaVersion: '1.0',
          ruleId: createHash('sha1').update(`${i.bucket}/${i.eventName}`).digest('hex'),
        },
        region: i.region,
        requestParameters: { sourceIPAddress: '127.0.0.1' },
        responseElements: { requestId: randomUUID().replace(/-/g, '').slice(0, 24).toUpperCase() },
        userIdentity: { principalId: i.accountId },
      },
    ],
  };
}

/** Log Service cursors are opaque base64 strings; locally they encode a record position. */
export const logCursor = (position: number) => Buffer.from(String(position)).toString('base64');
export const cursorPosition = (cursor: string) => Number(Buffer.from(cursor, 'base64').toString());

export interface LogEventInput {
  parameter?: Record<string, unknown>;
  endpoint: string;
  projectName: string;
  logstoreName: string;
  shardId?: number;
  /** Record positions: [begin, end). */
  begin: number;
  end: number;
  jobName: string;
  time?: Date;
}

export function logEvent(i: LogEventInput) {
  return {
    parameter: i.parameter ?? {},
    source: {
      endpoint: i.endpoint,
      projectName: i.projectName,
      logstoreName: i.logstoreName,
      shardId: i.shardId ?? 0,
      beginCursor: logCursor(i.begin),
      endCursor: logCursor(i.end),
    },
    jobName: i.jobName,
    taskId: randomUUID(),
    cursorTime: Math.floor((i.time ?? new Date()).getTime() / 1000),
  };
}

export interface CdnEventInput {
  eventName: string;
  eventVersion?: string;
  domain: string;
  region: string;
  accountId: string;
  objectPath?: string[];
  /** LogFileCreated: the log file. */
  filePath?: string;
  fileSize?: number;
  time?: Date;
}

/** CDN event times are in the region's local time with an offset, as the guide shows (+08:00). */
function chinaTime(d: Date): string {
  return `${new Date(d.getTime() + 8 * 3600_000).toISOString().replace(/\.\d{3}Z$/, '')}+08:00`;
}

export function cdnEvent(i: CdnEventInput) {
  const now = i.time ?? new Date();
  const secs = Math.floor(now.getTime() / 1000);
  const base = {
    eventName: i.eventName,
    eventVersion: i.eventVersion ?? '1.0.0',
    eventSource: 'cdn',
    region: i.region,
    eventTime: chinaTime(now),
    traceId: randomUUID(),
    resource: { domain: i.domain },
    userIdentity: { aliUid: i.accountId },
  };
  const eventParameter =
    i.eventName === 'LogFileCreated'
      ? {
          domain: i.domain,
          endTime: secs,
          fileSize: i.fileSize ?? 0,
          filePath: i.filePath ?? `http://cdnlog.local/${i.domain}/${i.domain}_${now.toISOString().slice(0, 10).replace(/-/g, '_')}.gz`,
          startTime: secs - 300,
        }
      : {
          objectPath: i.objectPath ?? [],
          createTime: secs,
          domain: i.domain,
          completeTime: secs,
          objectType: 'File',
          taskId: Math.floor(Math.random() * 1e10),
        };
  return { events: [{ ...base, eventParameter }] };
}

export function tablestoreEvent(i: { time?: Date } = {}) {
  const micros = (i.time ?? new Date()).getTime() * 1000;
  return {
    Version: 'Sync-v1',
    Records: [
      {
        Type: 'PutRow',
        Info: { Timestamp: micros },
        PrimaryKey: [{ ColumnName: 'pk_0', Value: 1 }],
        Columns: [{ Type: 'Put', ColumnName: 'attr_0', Value: 'hello_table_store', Timestamp: Math.floor(micros / 1000) }],
      },
    ],
  };
}

export function apiGatewayEvent(i: { method?: string; path?: string; body?: string; query?: Record<string, string> } = {}) {
  return {
    path: i.path ?? '/',
    httpMethod: i.method ?? 'GET',
    headers: { 'X-Ca-Api-Gateway': randomUUID().toUpperCase(), 'X-Forwarded-For': '127.0.0.1' },
    queryParameters: i.query ?? {},
    pathParameters: {},
    body: i.body ?? '',
    isBase64Encoded: false,
  };
}

export function datahubEvent(i: { project?: string; topic?: string; region: string; data?: string[] }) {
  const now = Date.now();
  return {
    eventSource: 'acs:datahub',
    eventName: 'acs:datahub:putRecord',
    eventSourceARN: `/projects/${i.project ?? 'test_project_name'}/topics/${i.topic ?? 'test_topic_name'}`,
    region: i.region,
    records: (i.data ?? ['["col1\'s value", "col2\'s value"]']).map((data, n) => ({ eventId: `0:${12345 + n}`, systemTime: now + n, data })),
  };
}

/** IoT triggers pass the device's message as is. */
export function iotEvent(i: { message?: unknown } = {}) {
  return i.message ?? { hello: 'world' };
}

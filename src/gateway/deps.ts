import type { Credentials, Template } from '../model.js';
import type { AsyncQueue } from '../runtime/async/queue.js';
import type { Invoker } from '../runtime/invoker.js';
import type { EventSources } from '../events/index.js';
import type { Times } from './describe.js';
import type { WorkbenchSource } from './workbench.js';

// What the gateway's routes need from the emulator.

export interface GatewayDeps {
  template: () => Template;
  invoker: Invoker;
  credentials: Credentials;
  /** Check FC signatures on the API and on authType=function triggers. */
  auth: boolean;
  times: Times;
  async: AsyncQueue;
  /** The event sources, for the injection API (`start` only). */
  events?: EventSources;
  log?: (line: string) => void;
  /** The emulator's base URL, once it listens (function URLs in answers). */
  baseUrl?: () => string;
  /** The workbench at /_fc-local/ (`start`, unless --no-workbench). */
  workbench?: WorkbenchSource;
  /** Told of requests answered with an error by fc-local itself (FC's ClientErrors/ServerErrors). */
  requestFailed?: (url: string, status: number) => void;
}

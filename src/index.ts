// The public entry: `import { startEmulator } from 'fc-local'`.
export { startEmulator, TemplateError, InvocationError } from './api.js';
export type { StartOptions, RunningEmulator, FunctionInfo, InvokeResult, LogLine, EmulatorClock, EmulatorStateControls } from './api.js';
export type { FinishedInvocation, InvocationFilter } from './emulator/invocation-feed.js';
export { InvocationTimeoutError } from './emulator/invocation-feed.js';
export { StateArchiveError } from './emulator/state-archive.js';

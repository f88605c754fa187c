import type { Command } from 'commander';

// The debugging options `start` and `invoke` share (debug-target.ts resolves them, loaded on use).

export interface DebugFlags {
  debugPort?: string;
  debugFunction?: string;
  debugArgs?: string;
  debuggerPath?: string;
}

export function addDebugOptions(cmd: Command): Command {
  return cmd
    .option('-d, --debug-port <port>', 'start the function under its debugger, waiting for a client on 127.0.0.1:<port> (env FC_LOCAL_DEBUG_PORT)')
    .option('--debug-function <function>', 'service/function to debug (needed with start when the template has several)')
    .option('--debug-args <args>', 'extra interpreter arguments for the debugged instance (custom runtimes: FC_DEBUG_ARGS)')
    .option('--debugger-path <dir>', 'a folder of debugger files (e.g. debugpy) added to the instance, read-only at /var/fc-local/debugger in Docker');
}

// Batches output lines into one write per event-loop turn. On Linux, stdout to a pipe or a file
// is synchronous: a syscall per function log line cost a quarter of the gateway's CPU under load.
export function lineWriter(stream: NodeJS.WritableStream): (line: string) => void {
  let pending: string[] = [];
  const flush = () => {
    const text = pending.join('');
    pending = [];
    stream.write(text);
  };
  return (line) => {
    if (pending.length === 0) setImmediate(flush);
    pending.push(`${line}\n`);
  };
}

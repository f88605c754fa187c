import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { guard } from './guardian.js';

// Private folders for instances' Unix sockets: one root per backend under the temp dir, one
// folder per instance inside it. Removed at close, and by the guardian if fc-local is killed.

/** Who may create the socket: the instance's own user (the process backend), or anyone (a container's user, through its bind mount). */
export type SocketAccess = { uid: number; gid: number } | 'same-user' | 'anyone';

/** Unix socket paths are limited to 107 bytes; a longer temp dir means no socket (the port serves). */
const MAX_SOCKET_PATH = 100;

export class SocketDirs {
  private root?: string;
  private untold = false;

  constructor(
    /** 0o711 lets an instance's own user reach its folder; a bind mount needs no access to the root. */
    private readonly rootMode: number,
  ) {}

  /**
   * A fresh folder for one instance's socket, or undefined when there can be none here (the
   * temp dir cannot take one, or the socket's path would be too long).
   * The guardian hears of the root at once unless `tellGuardianLater` (then call tellGuardian()).
   */
  create(access: SocketAccess, socketName: string, tellGuardianLater = false): string | undefined {
    let dir: string | undefined;
    try {
      if (!this.root) {
        this.root = mkdtempSync(path.join(os.tmpdir(), 'fc-local-sockets-'));
        chmodSync(this.root, this.rootMode);
        this.untold = true;
      }
      if (!tellGuardianLater) this.tellGuardian();
      dir = mkdtempSync(path.join(this.root, 'i-'));
      if (path.join(dir, socketName).length > MAX_SOCKET_PATH) throw new Error('socket path too long');
      if (access === 'anyone') chmodSync(dir, 0o777);
      else if (access !== 'same-user') chownSync(dir, access.uid, access.gid); // mkdtemp made it 0700
      return dir;
    } catch {
      // No socket then (a temp dir that cannot take one): the instance is reached on its port.
      if (dir) rmSync(dir, { recursive: true, force: true });
      return undefined;
    }
  }

  /** The guardian removes the root even if fc-local is killed. */
  tellGuardian(): void {
    if (!this.untold || !this.root) return;
    this.untold = false;
    guard(`folder ${this.root}`);
  }

  remove(dir: string): void {
    rmSync(dir, { recursive: true, force: true });
  }

  close(): void {
    if (this.root) rmSync(this.root, { recursive: true, force: true });
    this.root = undefined;
  }
}

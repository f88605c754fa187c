import type { Backend } from './backend.js';
import { ProcessBackend } from './process/backend.js';

export type BackendChoice = 'auto' | 'docker' | 'process';

export interface SelectedBackend {
  backend: Backend;
  /** One line for the banner: which backend and why. */
  description: string;
}

export class BackendUnavailableError extends Error {}

export async function selectBackend(choice: BackendChoice): Promise<SelectedBackend> {
  if (choice === 'docker') {
    throw new BackendUnavailableError('the Docker backend is not available in this version of fc-local; use --backend process');
  }
  return {
    backend: new ProcessBackend(),
    description: choice === 'process' ? 'process (child processes on 127.0.0.1, as asked)' : 'process (child processes on 127.0.0.1)',
  };
}

/** Who owns a run, and whether that owner is still alive (same host: pid plus start time). */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Owner } from './types.ts';

/** The start time of a process (Linux /proc), which tells a live owner from a reused pid. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // A zombie has exited (its parent has not reaped it yet): it is no live owner.
    if (rest[0] === 'Z' || rest[0] === 'X') return null;
    return rest[19] ?? null; // field 22 overall
  } catch {
    return null;
  }
}

let current: Owner | undefined;

/** This process as an owner. */
export function currentOwner(): Owner {
  current ??= {
    id: randomBytes(6).toString('hex'),
    host: hostname(),
    pid: process.pid,
    pidStart: processStartTime(process.pid),
  };
  return current;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether an owner is alive. On this host: its pid exists with the same start time. On another
 * host this cannot be told from here, so it counts as alive (the heartbeat decides: see Store).
 */
export function ownerAlive(owner: Owner): boolean {
  const me = currentOwner();
  if (owner.id === me.id) return true;
  if (owner.host !== me.host) return true;
  if (!pidAlive(owner.pid)) return false;
  if (owner.pidStart === null) return true;
  return processStartTime(owner.pid) === owner.pidStart;
}

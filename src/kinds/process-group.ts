/**
 * Process groups of shell tasks: how a process is identified across an engine crash (its pid plus
 * its start time, so a reused pid is never mistaken for it), whether a group still has live
 * members, and how a group is stopped (SIGTERM, a grace period, then SIGKILL).
 *
 * Zombies do not count as alive: in a container whose PID 1 never reaps orphans, a killed
 * grandchild stays a zombie forever and `kill(-pgid, 0)` keeps succeeding. On Linux the members are
 * therefore confirmed by reading /proc; elsewhere `kill(-pgid, 0)` is the only answer.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Clock } from './types.ts';

/** How long to wait for a group to vanish after SIGKILL before giving up (a process stuck in the kernel). */
const KILL_WAIT_MS = 10_000;
/** Polling starts fast (most groups die at once) and backs off to this interval. */
const MAX_POLL_MS = 100;

interface ProcStat {
  readonly state: string;
  readonly pgrp: number;
  readonly startTime: number;
}

const realClock: Pick<Clock, 'now' | 'sleep'> = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** Fields of /proc/<pid>/stat, or undefined when the process does not exist (or this is not Linux). */
function readStat(pid: number | string): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), fields[2] field 5 (pgrp), fields[19] field 22 (starttime).
  const startTime = Number(fields[19]);
  const pgrp = Number(fields[2]);
  if (fields[0] === undefined || !Number.isSafeInteger(startTime) || !Number.isSafeInteger(pgrp)) return undefined;
  return { state: fields[0], pgrp, startTime };
}

/** When the process started (clock ticks since boot, Linux), or null when unknown or gone. */
export function processStartTime(pid: number): number | null {
  return readStat(pid)?.startTime ?? null;
}

/** Whether the process exists and is not a zombie; on Linux, also that it started at `startTime`. */
export function processAlive(pid: number, startTime: number | null = null): boolean {
  const stat = readStat(pid);
  if (stat === undefined) return process.platform !== 'linux' && signalOk(pid, 0);
  return stat.state !== 'Z' && stat.state !== 'X' && (startTime === null || stat.startTime === startTime);
}

function signalOk(target: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(target, signal);
    return true;
  } catch {
    return false; // ESRCH: nothing there; EPERM: not ours to signal
  }
}

let ownGroup: number | undefined;

/** Refuses group ids that would hit more than one task's group: 0 and 1, negatives, the engine's own. */
function assertSafeGroup(pgid: number): void {
  ownGroup ??= readStat('self')?.pgrp ?? -1;
  if (!Number.isSafeInteger(pgid) || pgid <= 1 || pgid === process.pid || pgid === ownGroup) {
    throw new RangeError(`refusing to signal process group ${pgid}`);
  }
}

/** Whether a non-zombie process of group `pgid` exists. */
export function groupAlive(pgid: number): boolean {
  assertSafeGroup(pgid);
  if (!signalOk(-pgid, 0)) return false;
  if (process.platform !== 'linux') return true;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const entry of entries) {
    if (entry.charCodeAt(0) < 48 || entry.charCodeAt(0) > 57) continue;
    const stat = readStat(entry);
    if (stat !== undefined && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X') return true;
  }
  return false;
}

/** Sends `signal` to every process of the group; false when there was none to signal. */
export function killGroup(pgid: number, signal: NodeJS.Signals): boolean {
  assertSafeGroup(pgid);
  return signalOk(-pgid, signal);
}

/** Waits until the group has no live member, up to `timeoutMs`; true when it is gone. */
export async function waitGroupGone(
  pgid: number,
  timeoutMs: number,
  clock: Pick<Clock, 'now' | 'sleep'> = realClock,
): Promise<boolean> {
  const deadline = clock.now() + timeoutMs;
  for (let interval = 2; ; interval = Math.min(interval * 2, MAX_POLL_MS)) {
    if (!groupAlive(pgid)) return true;
    const left = deadline - clock.now();
    if (left <= 0) return false;
    await clock.sleep(Math.min(interval, left));
  }
}

/**
 * Stops a whole group: SIGTERM, up to `graceMs` for it to exit, then SIGKILL, then waits until no
 * member is left (bounded, in case a process is stuck in uninterruptible sleep).
 */
export async function terminateGroup(
  pgid: number,
  graceMs: number,
  clock: Pick<Clock, 'now' | 'sleep'> = realClock,
): Promise<void> {
  if (!killGroup(pgid, 'SIGTERM')) return;
  if (graceMs > 0 && (await waitGroupGone(pgid, graceMs, clock))) return;
  killGroup(pgid, 'SIGKILL');
  await waitGroupGone(pgid, KILL_WAIT_MS, clock);
}

/**
 * Whether a group recorded by an earlier attempt still holds processes of that attempt. A live
 * leader must have the recorded start time (otherwise its pid was reused, and so the group id is
 * no longer that attempt's). A dead leader with live members means orphans: while any member lives,
 * the kernel does not hand the group's id out as a new pid.
 */
export function staleGroupAlive(pgid: number, startTime: number | null): boolean {
  if (processAlive(pgid)) {
    const now = processStartTime(pgid);
    if (startTime !== null && now !== null) return now === startTime && groupAlive(pgid);
  }
  return groupAlive(pgid);
}

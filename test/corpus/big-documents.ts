/**
 * Documents near the size limits, each of which once went over the per-document budget of
 * RELIABILITY.md 4.5 (1 s, 100 MB). corpus.test.ts validates each in a child process (measure.ts),
 * so that their memory does not distort the other measurements, and checks the budget and the
 * expected code.
 */
import { utf8 } from './cases.ts';

export interface BigDocument {
  readonly name: string;
  /** What once went over the budget, and what bounds it now. */
  readonly why: string;
  /** The code the validator must answer with, or 'valid'. */
  readonly expect: string;
  readonly bytes: () => Uint8Array;
}

/** Short distinct task ids: _0000, _0001, ... */
const id = (i: number): string => `_${i.toString(36).padStart(4, '0')}`;

export const BIG_DOCUMENTS: readonly BigDocument[] = [
  {
    name: 'a valid 40,000-task workflow with one expression reading a task',
    why: 'ancestor bitsets are V²/8 bytes: 200 MB at 40,000 tasks; the 20,000-items-per-mapping limit now rejects it while loading',
    expect: 'RV107',
    bytes: () => {
      let s = 'name: corpus\ntasks: {';
      for (let i = 0; i < 40_000; i++) s += `${id(i)}: {noop: },`;
      s += `last: {noop: , needs: ${id(0)}, if: "\${{ tasks.${id(0)}.status == 'succeeded' }}"}}\n`;
      return utf8(s);
    },
  },
  {
    name: 'a 12,000-task cycle whose tasks read the task they need',
    why: 'with a cycle every reference walked the whole graph (quadratic); now above MAX_TASKS, and cyclic graphs skip the upstream check',
    expect: 'RV107',
    bytes: () => {
      const n = 12_000;
      let s = 'name: corpus\ntasks: {';
      for (let i = 0; i < n; i++)
        s += `${id(i)}: {noop: , needs: ${id((i + 1) % n)}, if: "\${{ tasks.${id((i + 1) % n)}.status }}"},`;
      return utf8(`${s}}\n`);
    },
  },
  {
    name: '100,000 empty tasks in flow style (650 kB)',
    why: 'one diagnostic per task took about 4 kB each; now rejected while loading (20,000 items per mapping)',
    expect: 'RV107',
    bytes: () =>
      utf8(`name: corpus\ntasks: {${Array.from({ length: 100_000 }, (_, i) => `${i.toString(36)}: `).join(',')}}\n`),
  },
  {
    name: 'a valid 30,000-task workflow (450 kB)',
    why: 'validation keeps about 4 kB per task; now rejected while loading (20,000 items per mapping)',
    expect: 'RV107',
    bytes: () => {
      let s = 'name: corpus\ntasks: {';
      for (let i = 0; i < 30_000; i++) s += `${id(i)}: {noop: },`;
      return utf8(`${s}}\n`);
    },
  },
  {
    name: 'a valid workflow whose json body is a 100,000-key mapping (850 kB)',
    why: 'about 1 kB per mapping entry while loading; now rejected at 20,000 items per mapping',
    expect: 'RV107',
    bytes: () =>
      utf8(
        `name: corpus\ntasks:\n  a:\n    http:\n      url: "https://h.test"\n      json: {${Array.from({ length: 100_000 }, (_, i) => `${i.toString(36)}: 0`).join(', ')}}\n`,
      ),
  },
  {
    name: 'an input pattern with nested quantifiers and a default that backtracks',
    why: 'a backtracking RegExp took 2^n steps (31 characters: 30 s); patterns now run on RE2 (linear time)',
    expect: 'RV210',
    bytes: () =>
      utf8(
        `name: corpus\ninputs:\n  v: { type: string, pattern: "^(a+)+$", default: "${'a'.repeat(26)}!" }\ntasks:\n  a:\n    noop:\n`,
      ),
  },
];

/** The largest documents that must stay valid, also measured against the budget. */
export const BIG_VALID: readonly BigDocument[] = [
  {
    name: 'a valid 10,000-task workflow (MAX_TASKS) where each task reads the one it needs',
    why: 'the upstream check builds ancestor bitsets: 12.5 MB at 10,000 tasks',
    expect: 'valid',
    bytes: () => {
      let s = 'name: corpus\ntasks: {';
      for (let i = 0; i < 10_000; i++) {
        s +=
          i === 0
            ? `${id(i)}: {noop: },`
            : `${id(i)}: {noop: , needs: ${id(i - 1)}, if: "\${{ tasks.${id(i - 1)}.status == 'succeeded' }}"},`;
      }
      return utf8(`${s}}\n`);
    },
  },
  {
    name: 'a 10,000-task cycle whose tasks read the task they need',
    why: 'cyclic graphs skip the upstream check; only the cycle is reported',
    expect: 'RV302',
    bytes: () => {
      const n = 10_000;
      let s = 'name: corpus\ntasks: {';
      for (let i = 0; i < n; i++)
        s += `${id(i)}: {noop: , needs: ${id((i + 1) % n)}, if: "\${{ tasks.${id((i + 1) % n)}.status }}"},`;
      return utf8(`${s}}\n`);
    },
  },
];

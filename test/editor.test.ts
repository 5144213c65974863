// The README says editors using the YAML language server check and complete workflow files from
// schema/workflow.schema.json. This drives the real yaml-language-server over LSP (stdio), the way
// VS Code and other editors do, with the modeline the examples carry.
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = fileURLToPath(new URL('../', import.meta.url));
const server = fileURLToPath(new URL('../node_modules/yaml-language-server/bin/yaml-language-server', import.meta.url));

interface Message {
  id?: number;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: unknown;
}

/** A minimal LSP client: Content-Length framing, requests by id, notifications by method. */
class Client {
  readonly #proc: ChildProcessWithoutNullStreams;
  #buffer = Buffer.alloc(0);
  #nextId = 1;
  readonly #pending = new Map<number, (m: Message) => void>();
  readonly #listeners: ((m: Message) => void)[] = [];

  constructor() {
    this.#proc = spawn(process.execPath, [server, '--stdio'], { cwd: repo });
    this.#proc.stdout.on('data', (chunk: Buffer) => this.#read(chunk));
  }

  #read(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const headerEnd = this.#buffer.indexOf('\r\n\r\n');
      if (headerEnd === -1) return;
      const length = Number(/Content-Length: (\d+)/i.exec(this.#buffer.subarray(0, headerEnd).toString())?.[1]);
      if (this.#buffer.length < headerEnd + 4 + length) return;
      const message = JSON.parse(this.#buffer.subarray(headerEnd + 4, headerEnd + 4 + length).toString()) as Message;
      this.#buffer = this.#buffer.subarray(headerEnd + 4 + length);
      if (message.id !== undefined && message.method === undefined) this.#pending.get(message.id)?.(message);
      else if (message.id !== undefined && message.method !== undefined) this.#send({ id: message.id, result: null });
      else for (const l of this.#listeners) l(message);
    }
  }

  #send(message: object): void {
    const body = JSON.stringify({ jsonrpc: '2.0', ...message });
    this.#proc.stdin.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }

  request(method: string, params: unknown): Promise<Message> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#send({ id, method, params });
    });
  }

  notify(method: string, params: unknown): void {
    this.#send({ method, params });
  }

  /** The next diagnostics published for `uri`. */
  diagnostics(uri: string): Promise<{ range: { start: { line: number; character: number } }; message: string }[]> {
    return new Promise((resolve) => {
      const listener = (m: Message): void => {
        const p = m.params as { uri?: string; diagnostics?: [] } | undefined;
        if (m.method === 'textDocument/publishDiagnostics' && p?.uri === uri) {
          this.#listeners.splice(this.#listeners.indexOf(listener), 1);
          resolve(p.diagnostics ?? []);
        }
      };
      this.#listeners.push(listener);
    });
  }

  close(): void {
    this.#proc.kill();
  }
}

let client: Client;
let version = 0;

before(async () => {
  client = new Client();
  const init = await client.request('initialize', {
    processId: process.pid,
    rootUri: pathToFileURL(repo).href,
    capabilities: { textDocument: { completion: { completionItem: { snippetSupport: false } } } },
  });
  assert.ok(init.result, 'the language server answered initialize');
  client.notify('initialized', {});
  client.notify('workspace/didChangeConfiguration', {
    settings: { yaml: { validate: true, completion: true, hover: true } },
  });
});

after(() => client.close());

/** Opens `text` as a document in examples/ (so the modeline's relative schema path resolves). */
async function open(name: string, text: string) {
  const uri = pathToFileURL(`${repo}examples/${name}`).href;
  const diagnostics = client.diagnostics(uri);
  client.notify('textDocument/didOpen', { textDocument: { uri, languageId: 'yaml', version: ++version, text } });
  return { uri, diagnostics: await diagnostics };
}

const MODELINE = '# yaml-language-server: $schema=../schema/workflow.schema.json\n';

test('every example as shipped has no diagnostics in the editor', async () => {
  const dir = new URL('../examples/', import.meta.url);
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
    const text = readFileSync(new URL(name, dir), 'utf8');
    assert.ok(text.startsWith(MODELINE), `${name} carries the schema modeline`);
    const { diagnostics } = await open(name, text);
    assert.deepEqual(diagnostics, [], name);
  }
});

test('the editor flags an unknown field and a wrong type where they are', async () => {
  const text = `${MODELINE}name: editor_check\ntasks:\n  a:\n    http:\n      methd: GET\n      url: https://h.test/\n    retry: { attempts: many }\n`;
  const { diagnostics } = await open('editor-check.yaml', text);
  const lines = diagnostics.map((d) => d.range.start.line + 1).sort((x, y) => x - y);
  assert.ok(lines.includes(6), `a diagnostic on the methd line: ${JSON.stringify(diagnostics)}`);
  assert.ok(lines.includes(8), `a diagnostic on the retry line: ${JSON.stringify(diagnostics)}`);
  assert.ok(diagnostics.some((d) => /methd/.test(d.message)));
});

test('the editor flags a task with two kinds (the oneOf over kinds)', async () => {
  const text = `${MODELINE}name: two_kinds\ntasks:\n  a:\n    noop: {}\n    sleep: { duration: 1s }\n`;
  const { diagnostics } = await open('two-kinds.yaml', text);
  assert.ok(diagnostics.length > 0, 'a diagnostic for two kinds');
});

test('the editor completes the fields of an http task', async () => {
  const text = `${MODELINE}name: completion\ntasks:\n  a:\n    http:\n      url: https://h.test/\n      \n`;
  const { uri } = await open('completion.yaml', text);
  const r = await client.request('textDocument/completion', {
    textDocument: { uri },
    position: { line: 6, character: 6 },
  });
  const items = ((r.result as { items?: { label: string }[] } | null)?.items ?? []).map((i) => i.label);
  for (const field of ['method', 'headers', 'json', 'expect', 'poll'])
    assert.ok(items.includes(field), `${field} in ${items.join(', ')}`);
});

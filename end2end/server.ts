// Starts the built magflock binary for a spec: a fresh SQLite store in a temp
// folder, a free port, and the site built by `cargo leptos build`. `restart()`
// keeps the database and port, as an admin restarting the service would.
import { spawn, ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '..');
const binary = process.env.MAGFLOCK_BIN ?? join(root, 'target', 'debug', 'magflock');

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

export class MagFlock {
  private child?: ChildProcess;
  private output = '';
  private constructor(
    readonly dataDir: string,
    readonly port: number,
    private readonly extraEnv: Record<string, string>,
  ) {}

  /** `env` adds settings, e.g. MAGFLOCK_ADMIN_* to create the owner at first start. */
  static async start(env: Record<string, string> = {}): Promise<MagFlock> {
    const server = new MagFlock(mkdtempSync(join(tmpdir(), 'magflock-e2e-')), await freePort(), env);
    await server.launch();
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private launch(): Promise<void> {
    this.output = '';
    const child = spawn(binary, [], {
      cwd: root,
      env: {
        ...process.env,
        ...this.extraEnv,
        DATABASE_URL: `sqlite://${this.dataDir}/magflock.db`,
        MAGFLOCK_DATA_DIR: join(this.dataDir, 'data'),
        LEPTOS_SITE_ADDR: `127.0.0.1:${this.port}`,
        // MAGFLOCK_SITE_ROOT: a copy of the site that matches MAGFLOCK_BIN.
        LEPTOS_SITE_ROOT: process.env.MAGFLOCK_SITE_ROOT ?? 'target/site',
        RUST_BACKTRACE: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    return new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`magflock did not start:\n${this.output}`)), 60_000);
      const watch = (chunk: Buffer) => {
        this.output += chunk.toString();
        if (this.output.includes('MagFlock is running at')) {
          clearTimeout(timer);
          ok();
        }
      };
      child.stdout!.on('data', watch);
      child.stderr!.on('data', watch);
      child.once('exit', (code) => {
        clearTimeout(timer);
        fail(new Error(`magflock exited with ${code}:\n${this.output}`));
      });
    });
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((ok) => {
      child.once('exit', () => ok());
      child.kill('SIGTERM');
    });
    this.child = undefined;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

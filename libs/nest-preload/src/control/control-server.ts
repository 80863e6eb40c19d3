import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { writePrivateFile } from '../handover/manifest';
import {
  CONTROL_PROTOCOL_VERSION,
  type ControlFile,
  type ControlRequest,
  type ControlResponse,
  MAX_REQUEST_BYTES,
  parseControlRequest,
} from './control.protocol';

/** Whether something still answers on a control socket. */
export function socketAnswers(path: string, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    const done = (answered: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answered);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Reads a control file, or null when there is none or it is not one. */
export function readControlFile(path: string): ControlFile | null {
  try {
    const file = JSON.parse(readFileSync(path, 'utf8')) as ControlFile;
    return file.v === CONTROL_PROTOCOL_VERSION && Number.isInteger(file.pid) && typeof file.socket === 'string' ? file : null;
  } catch {
    return null;
  }
}

/**
 * The primary's control socket: listens in the private cluster dir (0600), writes the control file
 * the CLI finds it by, answers one JSON request per line. It never throws at the caller: a bad
 * request gets an error answer; an oversized one closes that connection.
 */
export class ControlServer {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly socketPath: string,
    private readonly controlFilePath: string,
    private readonly handle: (request: ControlRequest) => Promise<unknown>,
    private readonly warn: (message: string) => void,
  ) {}

  async start(): Promise<void> {
    const existing = readControlFile(this.controlFilePath);
    if (existing)
      this.warn(`replacing the stale control file ${this.controlFilePath} (primary pid ${existing.pid} is gone or does not answer)`);
    this.server = createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject);
      this.server?.listen(this.socketPath, () => resolve());
    });
    chmodSync(this.socketPath, 0o600);
    mkdirSync(dirname(this.controlFilePath), { recursive: true, mode: 0o700 });
    const file: ControlFile = {
      v: CONTROL_PROTOCOL_VERSION,
      pid: process.pid,
      socket: this.socketPath,
      startedAt: new Date().toISOString(),
    };
    await writePrivateFile(this.controlFilePath, JSON.stringify(file, null, 2));
  }

  /** Stops listening and removes the control file if it is still this primary's. */
  close(): void {
    for (const socket of this.sockets) socket.destroy();
    this.server?.close();
    this.server = null;
    if (readControlFile(this.controlFilePath)?.pid === process.pid) rmSync(this.controlFilePath, { force: true });
    if (existsSync(this.socketPath)) rmSync(this.socketPath, { force: true });
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.setEncoding('utf8');
    let buffered = '';
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_REQUEST_BYTES && !buffered.slice(0, MAX_REQUEST_BYTES).includes('\n')) {
        this.reply(socket, { v: 1, id: null, ok: false, error: `request longer than ${MAX_REQUEST_BYTES} bytes` });
        socket.end();
        return;
      }
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line) void this.answer(socket, line);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => this.sockets.delete(socket));
  }

  private async answer(socket: Socket, line: string): Promise<void> {
    const parsed = parseControlRequest(line);
    if ('error' in parsed) return this.reply(socket, { v: 1, id: parsed.id, ok: false, error: parsed.error });
    try {
      this.reply(socket, { v: 1, id: parsed.request.id, ok: true, result: await this.handle(parsed.request) });
    } catch (error) {
      this.reply(socket, { v: 1, id: parsed.request.id, ok: false, error: error instanceof Error ? error.message : String(error) });
    }
  }

  private reply(socket: Socket, response: ControlResponse): void {
    if (!socket.destroyed) socket.write(`${JSON.stringify(response)}\n`);
  }
}

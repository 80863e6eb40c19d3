import type { INestApplication, Logger } from '@nestjs/common';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { DispatchTable } from '../ipc/dispatch';
import { SERVER_CLOSED, SERVER_CLOSED_ACK, SHUTDOWN, type PrimaryMessages } from '../ipc/messages';
import type { PrimaryLink } from '../ipc/primary-link';
import { EXIT_CODES } from '../preload.constants';
import { ServingLink } from './serving';

/** A link to a primary that records what it was sent; `answer` plays the primary's messages. */
class FakeLink implements PrimaryLink {
  connected = true;
  sent: Array<{ type: string }> = [];
  private table: DispatchTable<PrimaryMessages> = {};
  async send(message: { type: string }): Promise<void> {
    this.sent.push(message);
  }
  listen(table: DispatchTable<PrimaryMessages>): () => void {
    this.table = table;
    return () => undefined;
  }
  answer(message: { type: string }): void {
    (this.table as Record<string, (m: unknown) => void>)[message.type]?.(message);
  }
}

describe('ServingLink', () => {
  const added: Array<[string, (...args: unknown[]) => void]> = [];
  const before = { SIGTERM: process.listeners('SIGTERM'), SIGINT: process.listeners('SIGINT'), message: process.listeners('message') };
  afterEach(() => {
    for (const event of ['SIGTERM', 'SIGINT', 'message'] as const) {
      for (const l of process.listeners(event as NodeJS.Signals))
        if (!before[event].includes(l as never)) process.off(event as NodeJS.Signals, l as never);
    }
    for (const [event, l] of added.splice(0)) process.off(event as NodeJS.Signals, l);
  });
  const logger = () => ({ warn: jest.fn(), log: jest.fn(), error: jest.fn() }) as unknown as Logger & { warn: jest.Mock };

  it('warns when serve added its own SIGTERM listener (enableShutdownHooks would close the app twice)', () => {
    const log = logger();
    const link = new ServingLink(log);
    const nestHook = () => undefined;
    process.on('SIGTERM', nestHook);
    added.push(['SIGTERM', nestHook]);
    link.ready();
    expect(log.warn).toHaveBeenCalledWith(
      expect.stringContaining('app.enableShutdownHooks() (or another SIGTERM listener) was added in serve: drop it'),
    );
  });

  it("says nothing of a SIGTERM listener that was there before serve (proper-lockfile's signal-exit, added by a step's lock)", () => {
    const log = logger();
    const link = new ServingLink(log);
    const signalExit = () => undefined;
    process.on('SIGTERM', signalExit);
    added.push(['SIGTERM', signalExit]);
    link.serving();
    link.ready();
    expect(log.warn).not.toHaveBeenCalled();
  });

  it('warns of a listener serve added even when another was there before it', () => {
    const log = logger();
    const link = new ServingLink(log);
    const signalExit = () => undefined;
    const nestHook = () => undefined;
    process.on('SIGTERM', signalExit);
    added.push(['SIGTERM', signalExit]);
    link.serving();
    process.on('SIGTERM', nestHook);
    added.push(['SIGTERM', nestHook]);
    link.ready();
    expect(log.warn).toHaveBeenCalledWith(expect.stringContaining('was added in serve: drop it'));
  });

  it('says nothing when only its own listener is there', () => {
    for (const l of before.SIGTERM) process.off('SIGTERM', l as never);
    try {
      const log = logger();
      new ServingLink(log).ready();
      expect(log.warn).not.toHaveBeenCalled();
    } finally {
      for (const l of before.SIGTERM) process.on('SIGTERM', l as never);
    }
  });

  describe('a drain ends only once the primary confirmed the server close (no connection stranded on the way)', () => {
    // Closed after each test even when the code under test failed to close one.
    const servers: Server[] = [];
    afterEach(() => {
      for (const server of servers.splice(0)) if (server.listening) server.close();
    });
    const listening = async (handler?: (req: IncomingMessage, res: ServerResponse) => void) => {
      const server = createServer(handler);
      servers.push(server);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      return server;
    };
    async function draining() {
      const link = new FakeLink();
      const exits: number[] = [];
      const serving = new ServingLink(logger(), link, (code) => exits.push(code));
      const server = await listening((_req, res) => res.end('ok'));
      const app = { getHttpServer: () => server, get: () => undefined, close: jest.fn(async () => undefined) };
      serving.attach(app as unknown as INestApplication);
      link.answer({ type: SHUTDOWN });
      return { link, exits, app };
    }
    const settle = () => new Promise((r) => setTimeout(r, 50));

    it('asks after closing, and exits once answered', async () => {
      const { link, exits, app } = await draining();
      await settle();
      expect(app.close).toHaveBeenCalled();
      expect(link.sent).toContainEqual({ type: SERVER_CLOSED });
      expect(exits).toEqual([]);
      link.answer({ type: SERVER_CLOSED_ACK });
      await settle();
      expect(exits).toEqual([0]);
    });

    it('exits within its bound when the primary never answers', async () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
      try {
        const { exits } = await draining();
        for (let i = 0; i < 5; i++) await Promise.resolve();
        await jest.advanceTimersByTimeAsync(1_900);
        expect(exits).toEqual([]);
        await jest.advanceTimersByTimeAsync(200);
        expect(exits).toEqual([0]);
      } finally {
        jest.useRealTimers();
      }
    });

    it('a serve that listened and then failed: the server is closed and confirmed before the boot-error exit', async () => {
      const link = new FakeLink();
      const serving = new ServingLink(logger(), link, () => undefined);
      const server = await listening();
      serving.attach({ getHttpServer: () => server, get: () => undefined, close: async () => undefined } as unknown as INestApplication);
      let code: number | null = null;
      void serving.bootFailed(new Error('after listen')).then((c) => (code = c));
      await settle();
      expect(server.listening).toBe(false);
      expect(link.sent.map((m) => m.type)).toContain(SERVER_CLOSED);
      expect(code).toBeNull();
      link.answer({ type: SERVER_CLOSED_ACK });
      await settle();
      expect(code).toBe(EXIT_CODES.WORKER_BOOT_ERROR);
    });

    it('does not wait with no primary to ask', async () => {
      const link = new FakeLink();
      link.connected = false;
      const exits: number[] = [];
      const serving = new ServingLink(logger(), link, (code) => exits.push(code));
      const server = await listening();
      serving.attach({ getHttpServer: () => server, get: () => undefined, close: async () => undefined } as unknown as INestApplication);
      await serving.shutdown('test');
      expect(exits).toEqual([0]);
      expect(link.sent).toEqual([]);
    });
  });
});

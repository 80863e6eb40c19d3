import { Controller, Get, Inject, Query, Res } from '@nestjs/common';
import type { DemoConfig } from '../config';
import { DEMO_CONFIG } from '../demo.tokens';
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Endpoints for the supervision tests, registered only with DEMO_TEST_HOOKS=true: a worker whose
 * event loop hangs, and a slow request to have in flight during a shutdown.
 */
@Controller('__test')
export class TestHooksController {
  constructor(@Inject(DEMO_CONFIG) private readonly config: DemoConfig) {}

  /** Whether this process still holds the superuser's password (in the config provider or its environment); never the password. */
  @Get('secrets')
  secrets(): { pid: number; configHasPassword: boolean; envHasPassword: boolean } {
    return {
      pid: process.pid,
      configHasPassword: this.config.superuserPassword !== null,
      envHasPassword: process.env.SUPERUSER_PASSWORD !== undefined,
    };
  }

  /** Answers, then blocks this worker's event loop for good (the watchdog must replace it). */
  @Get('hang')
  hang(): { pid: number } {
    setImmediate(() => {
      for (;;);
    });
    return { pid: process.pid };
  }

  /** Sends the primary a message over IPC: `garbage` (well-formed JSON of wrong shapes) or `huge` (`mb` megabytes). */
  @Get('ipc')
  ipc(@Query('kind') kind = 'garbage', @Query('mb') mb = '100'): { sent: string } {
    if (kind === 'huge') {
      process.send?.({ type: 'nest-preload:heartbeat', requests: 'x'.repeat(Math.min(Number(mb) || 1, 200) * 2 ** 20), rssMb: 1 });
    } else {
      for (const message of [
        42,
        'text',
        null,
        [1, 2],
        { type: 'nest-preload:heartbeat', requests: -5, rssMb: 'lots' },
        { type: 'nest-preload:cluster-status-request', id: 'x' },
        { type: 'nest-preload:stopping', reason: { deep: true } },
        { type: 'nest-preload:ready' },
        { type: 'unknown:thing' },
      ]) {
        process.send?.(message);
      }
    }
    return { sent: kind };
  }

  /** Answers after `ms` milliseconds. */
  @Get('slow')
  async slow(@Query('ms') ms = '1000'): Promise<{ pid: number; waitedMs: number }> {
    const waitedMs = Math.min(Number(ms) || 0, 60_000);
    await sleep(waitedMs);
    return { pid: process.pid, waitedMs };
  }

  /** A server-sent event stream that never ends on its own (a client that never closes). */
  @Get('sse')
  sse(@Res() res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(`data: ${process.pid}\n\n`);
    const timer = setInterval(() => res.write(`data: ${Date.now()}\n\n`), 500);
    res.on('close', () => clearInterval(timer));
  }
}

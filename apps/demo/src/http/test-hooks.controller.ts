import { Controller, Get, Query } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Endpoints for the supervision tests, registered only with DEMO_TEST_HOOKS=true: a worker whose
 * event loop hangs, and a slow request to have in flight during a shutdown.
 */
@Controller('__test')
export class TestHooksController {
  /** Answers, then blocks this worker's event loop for good (the watchdog must replace it). */
  @Get('hang')
  hang(): { pid: number } {
    setImmediate(() => {
      for (;;);
    });
    return { pid: process.pid };
  }

  /** Answers after `ms` milliseconds. */
  @Get('slow')
  async slow(@Query('ms') ms = '1000'): Promise<{ pid: number; waitedMs: number }> {
    const waitedMs = Math.min(Number(ms) || 0, 60_000);
    await sleep(waitedMs);
    return { pid: process.pid, waitedMs };
  }
}

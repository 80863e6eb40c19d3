import { Injectable, Module } from '@nestjs/common';
import { HealthCheckService } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PreloadModule } from '../preload.module';
import { PreloadProcessContext } from '../process-context';
import { PreloadStep } from '../steps/preload-step.decorator';
import { PreloadHealthIndicator, PreloadHealthModule } from './preload.health';

@Injectable()
class Steps {
  @PreloadStep({ name: 'migrations', critical: true }) async migrations() {
    return 1;
  }
  @PreloadStep({ name: 'pictures' }) async pictures() {
    throw new Error('no disk');
  }
}
@Module({ providers: [Steps] })
class Feature {}

async function check(healthDetails: boolean, init = true) {
  const ref = await Test.createTestingModule({
    imports: [
      PreloadModule.forRoot({ isGlobal: true, healthDetails, tempRoot: mkdtempSync(join(tmpdir(), 'h-')) }),
      PreloadHealthModule,
      Feature,
    ],
  })
    .overrideProvider(PreloadProcessContext)
    .useValue(new PreloadProcessContext('worker', 1, 3))
    .compile();
  const app = ref.createNestApplication({ logger: false });
  if (init) await app.init();
  const indicator = app.get(PreloadHealthIndicator);
  const health = app.get(HealthCheckService);
  return health.check([() => indicator.isHealthy('preload')]).finally(() => app.close());
}

describe('PreloadHealthIndicator', () => {
  it('is up once started with no critical step missing, and shows the status only by default', async () => {
    await expect(check(false)).resolves.toEqual({
      status: 'ok',
      info: { preload: { status: 'up' } },
      error: {},
      details: { preload: { status: 'up' } },
    });
  });

  it('with healthDetails shows role, pid, worker index and each step with where it ran', async () => {
    const result = await check(true);
    expect(result.info?.preload).toEqual({
      status: 'up',
      leader: false,
      cluster: null,
      role: 'worker',
      pid: process.pid,
      workerIndex: 3,
      preloaded: false,
      generation: null,
      notPreloadedReason: 'no preload hand-over was given to this worker (preload off or failed)',
      missingCritical: [],
      steps: [
        { name: 'migrations', status: 'complete', ranIn: 'worker', durationMs: expect.any(Number), critical: true },
        { name: 'pictures', status: 'failed', ranIn: 'worker', durationMs: expect.any(Number), critical: false },
      ],
    });
  });

  it('is down (503) before the start-up finished', async () => {
    await expect(check(false, false)).rejects.toMatchObject({
      status: 503,
      response: { status: 'error', error: { preload: { status: 'down' } } },
    });
  });
});

describe('statusOnly', () => {
  const { statusOnly } = jest.requireActual('./preload.health') as typeof import('./preload.health');
  const { ServiceUnavailableException } = jest.requireActual('@nestjs/common') as typeof import('@nestjs/common');
  const failing = {
    status: 'error' as const,
    info: { preload: { status: 'up' as const, pid: 42 } },
    error: { database: { status: 'down' as const, message: 'connect ECONNREFUSED db.internal:5432' } },
    details: {
      preload: { status: 'up' as const, pid: 42 },
      database: { status: 'down' as const, message: 'connect ECONNREFUSED db.internal:5432' },
    },
  };

  it('strips a 503 body to statuses: no driver error, host or pid reaches the caller', async () => {
    const run = statusOnly(async () => {
      throw new ServiceUnavailableException(failing);
    });
    await expect(run).rejects.toBeInstanceOf(ServiceUnavailableException);
    const body = await run.catch((e: InstanceType<typeof ServiceUnavailableException>) => e.getResponse());
    expect(body).toEqual({
      status: 'error',
      info: { preload: { status: 'up' } },
      error: { database: { status: 'down' } },
      details: { preload: { status: 'up' }, database: { status: 'down' } },
    });
    expect(JSON.stringify(body)).not.toMatch(/ECONNREFUSED|db\.internal|42/);
  });

  it('leaves everything in place where details are allowed', async () => {
    await expect(statusOnly(async () => ({ ...failing, status: 'ok' }), true)).resolves.toMatchObject({
      details: { preload: { pid: 42 } },
    });
  });
});

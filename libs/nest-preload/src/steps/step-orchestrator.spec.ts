import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { existsSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExternalCache } from '../cache/external-cache';
import { type ArtifactHandle, PreloadArtifact } from '../handover/artifact';
import { FileArtifact } from '../handover/artifact';
import { ResultUnavailableError } from '../errors/preload.error';
import { MANIFEST_VERSION, writeManifest } from '../handover/manifest';
import { writeHandover } from '../handover/testing/write-handover';
import { PreloadModule } from '../preload.module';
import { PreloadService } from '../preload.service';
import { PreloadStep } from './preload-step.decorator';
import type { StepState } from './step.types';
import { PreloadProcessContext } from '../process-context';
import { PreloadState } from '../preload-state';
import { StepOrchestrator } from './step-orchestrator';

/** A small plan: migrations → superuser; pictures (best-effort); bundles → types (critical). */
@Injectable()
class Steps {
  calls: string[] = [];
  fail = new Set<string>();
  constructor(readonly preload: PreloadService) {}
  private run(name: string) {
    this.calls.push(name);
    if (this.fail.has(name)) throw new Error(`${name} broke`);
  }
  @PreloadStep({ name: 'migrations', critical: true }) async migrations() {
    this.run('migrations');
  }
  @PreloadStep({ name: 'superuser', after: ['migrations'], critical: true }) async superuser() {
    this.run('superuser');
    return { outcome: 'created' };
  }
  @PreloadStep({ name: 'pictures' }) async pictures() {
    this.run('pictures');
    return 6;
  }
  @PreloadStep({ name: 'bundles', critical: true }) async bundles() {
    this.run('bundles');
    return { dir: this.preload.createTempDir('bundle') };
  }
  @PreloadStep({ name: 'types', after: ['bundles'], critical: true }) async types() {
    this.run('types');
    return { inputs: ['ChatInput'], from: this.preload.result<{ dir: string }>('bundles').dir };
  }
}

class FakeCache extends ExternalCache {
  tornDown = 0;
  async teardown() {
    this.tornDown++;
  }
}

@Module({ providers: [Steps, FakeCache] })
class AppFeature {}

async function boot(ctx: PreloadProcessContext, fail: string[] = []) {
  const ref = await Test.createTestingModule({
    imports: [PreloadModule.forRoot({ isGlobal: true, tempRoot: mkdtempSync(join(tmpdir(), 'boot-spec-')) }), AppFeature],
  })
    .overrideProvider(PreloadProcessContext)
    .useValue(ctx)
    .compile();
  const app = ref.createNestApplication({ logger: false });
  const steps = app.get(Steps);
  for (const name of fail) steps.fail.add(name);
  await app.init();
  return { app, steps, preload: app.get(PreloadService), state: app.get(PreloadState), cache: app.get(FakeCache) };
}

const status = (preload: PreloadService) => Object.fromEntries(preload.steps().map((s) => [s.name, `${s.status}@${s.ranIn}`]));

describe('StepOrchestrator by role', () => {
  it('standalone: runs every step in order, owns and removes its temp dirs, tears the cache down on close', async () => {
    const { app, steps, preload, cache } = await boot(new PreloadProcessContext('standalone', 1));
    expect(steps.calls).toEqual(['migrations', 'superuser', 'pictures', 'bundles', 'types']);
    expect(preload.role).toBe('standalone');
    expect(preload.isPreloaded()).toBe(false);
    expect(preload.isReady()).toBe(true);
    expect(preload.result('superuser')).toEqual({ outcome: 'created' });
    const [dir] = preload.getOwnedTempDirs();
    expect(existsSync(dir)).toBe(true);
    await app.close();
    expect(existsSync(dir)).toBe(false);
    expect(cache.tornDown).toBe(1);
  });

  it('standalone: a failing critical step fails the start-up', async () => {
    await expect(boot(new PreloadProcessContext('standalone', 1), ['bundles'])).rejects.toThrow(
      'Critical preload step "bundles" failed in this app: Error: bundles broke.',
    );
  });

  it('preloader: writes each result to the run dir; a best-effort failure leaves that step failed and goes on', async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'run-'));
    const { app, preload, state } = await boot(new PreloadProcessContext('preloader', 1, null, null, 'g1', runDir), ['pictures']);
    expect(status(preload)).toEqual({
      migrations: 'complete@preloader',
      superuser: 'complete@preloader',
      pictures: 'failed@preloader',
      bundles: 'complete@preloader',
      types: 'complete@preloader',
    });
    expect(state.abortReason).toBeNull();
    const handOver = app.get(StepOrchestrator).handOver();
    expect(Object.keys(handOver.results)).toEqual(['superuser', 'bundles', 'types']);
    expect(handOver.steps.map((s) => s.name)).toEqual(['migrations', 'superuser', 'pictures', 'bundles', 'types']);
    // Handed over: the bundle's temp dir now belongs to the primary, and closing the app keeps it.
    expect(handOver.tempDirs).toHaveLength(1);
    expect(preload.getOwnedTempDirs()).toEqual([]);
    expect(existsSync(join(runDir, 'result-types.v8'))).toBe(true);
    await app.close();
  });

  it('preloader: a failing critical step abandons the preload without throwing, and close removes its temp dirs', async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'run-'));
    const { app, preload, state, steps } = await boot(new PreloadProcessContext('preloader', 1, null, null, 'g1', runDir), ['types']);
    expect(state.abortReason).toContain('Critical preload step "types" failed');
    expect(preload.isReady()).toBe(false);
    expect(preload.missingCriticalSteps()).toEqual(['types']);
    expect(steps.calls).toEqual(['migrations', 'superuser', 'pictures', 'bundles', 'types']);
    const [dir] = preload.getOwnedTempDirs();
    await app.close();
    expect(existsSync(dir)).toBe(false);
  });

  describe('worker', () => {
    const handover = (steps: Array<Pick<StepState, 'name' | 'status'>>, values: Record<string, unknown> = {}) =>
      writeHandover(steps, values, 777);
    const allComplete = ['migrations', 'superuser', 'pictures', 'bundles', 'types'].map((name) => ({ name, status: 'complete' as const }));

    it('with a trusted manifest: skips completed steps, reads results from the hand-over, owns no temp dirs', async () => {
      const { path } = await handover(allComplete, {
        superuser: { outcome: 'created' },
        bundles: { dir: '/primary/owned' },
        types: { inputs: ['ChatInput'] },
      });
      const { app, steps, preload } = await boot(new PreloadProcessContext('worker', 777, 2, path, 'g1'));
      expect(steps.calls).toEqual([]);
      expect(preload.isPreloaded()).toBe(true);
      expect(preload.workerIndex).toBe(2);
      expect(preload.generation).toBe('g1');
      expect(preload.result('types')).toEqual({ inputs: ['ChatInput'] });
      expect(preload.getOwnedTempDirs()).toEqual([]);
      expect(status(preload).types).toBe('complete@preloader');
      await app.close();
    });

    it('redoes exactly the incomplete steps and their dependents', async () => {
      const { path } = await handover(
        allComplete.map((s) => (s.name === 'pictures' || s.name === 'bundles' ? { ...s, status: 'failed' as const } : s)),
        { superuser: { outcome: 'created' }, types: { inputs: ['stale'] } },
      );
      const { app, steps, preload } = await boot(new PreloadProcessContext('worker', 777, 0, path, 'g1'));
      expect(steps.calls).toEqual(['pictures', 'bundles', 'types']);
      expect(status(preload)).toEqual({
        migrations: 'complete@preloader',
        superuser: 'complete@preloader',
        pictures: 'complete@worker',
        bundles: 'complete@worker',
        types: 'complete@worker',
      });
      expect(preload.result<{ from: string }>('types').from).toBe(preload.getOwnedTempDirs()[0]);
      await app.close();
    });

    it('redoes a step whose result file is corrupt, and says so', async () => {
      const { path, runDir } = await handover(allComplete, {
        superuser: { outcome: 'created' },
        bundles: { dir: '/x' },
        types: { inputs: [] },
      });
      writeFileSync(join(runDir, 'result-superuser.v8'), 'garbage');
      const { app, steps } = await boot(new PreloadProcessContext('worker', 777, 0, path, 'g1'));
      expect(steps.calls).toEqual(['superuser']);
      await app.close();
    });

    it('a result file changed after the worker verified it is refused when asked for, not decoded', async () => {
      const { path, runDir } = await handover(allComplete, {
        superuser: { outcome: 'created' },
        bundles: { dir: '/x' },
        types: { inputs: [] },
      });
      const { app, steps, preload } = await boot(new PreloadProcessContext('worker', 777, 0, path, 'g1'));
      expect(steps.calls).toEqual([]);
      const file = join(runDir, 'result-types.v8');
      writeFileSync(file, readFileSync(file));
      utimesSync(file, new Date(), new Date(Date.now() + 5_000));
      expect(() => preload.result('types')).toThrow(
        new ResultUnavailableError(`The result of preload step "types" became unreadable: ${file} changed after it was verified.`),
      );
      expect(preload.result('superuser')).toEqual({ outcome: 'created' });
      await app.close();
    });

    it.each([
      ['another generation', (p: string) => new PreloadProcessContext('worker', 777, 0, p, 'g2'), 'generation g1, this worker expects g2'],
      ['another parent', (p: string) => new PreloadProcessContext('worker', 1, 0, p, 'g1'), 'primary pid 777'],
      ['no hand-over', () => new PreloadProcessContext('worker', 777, 0, null, null), 'no preload hand-over'],
    ])('with %s: does the full start-up and records why', async (_, ctx, reason) => {
      const { path } = await handover(allComplete);
      const { app, steps, preload } = await boot(ctx(path));
      expect(steps.calls).toEqual(['migrations', 'superuser', 'pictures', 'bundles', 'types']);
      expect(preload.isPreloaded()).toBe(false);
      expect(preload.notPreloadedReason()).toContain(reason);
      await app.close();
    });
  });

  it('preloader: an invalid plan abandons the preload without throwing, so the context can still be closed', async () => {
    @Injectable()
    class Cyclic {
      @PreloadStep({ name: 'x', after: ['y'] }) async x() {
        return 1;
      }
      @PreloadStep({ name: 'y', after: ['x'] }) async y() {
        return 2;
      }
    }
    const ref = await Test.createTestingModule({ imports: [PreloadModule.forRoot({ isGlobal: true })], providers: [Cyclic, FakeCache] })
      .overrideProvider(PreloadProcessContext)
      .useValue(new PreloadProcessContext('preloader', 1, null, null, 'g1', mkdtempSync(join(tmpdir(), 'run-'))))
      .compile();
    const app = ref.createNestApplication({ logger: false });
    await app.init();
    expect(app.get(PreloadState).abortReason).toBe(
      'the preload plan could not run: PreloadConfigError: Preload steps form a cycle: x -> y -> x. A step cannot (even indirectly) run after itself: remove one of these "after" entries.',
    );
    await app.close();
    expect(app.get(FakeCache).tornDown).toBe(1);
  });

  it('standalone: an invalid plan fails the start-up with the plan error', async () => {
    @Injectable()
    class Dup {
      @PreloadStep({ name: 'x' }) async a() {
        return 1;
      }
      @PreloadStep({ name: 'x' }) async b() {
        return 2;
      }
    }
    const ref = await Test.createTestingModule({ imports: [PreloadModule.forRoot({})], providers: [Dup] })
      .overrideProvider(PreloadProcessContext)
      .useValue(new PreloadProcessContext('standalone', 1))
      .compile();
    await expect(ref.createNestApplication({ logger: false }).init()).rejects.toThrow(
      'Preload step "x" is declared more than once (Dup.a, Dup.b).',
    );
  });

  it("an artifact step: the worker gets a file-backed handle to the preloader's bytes", async () => {
    @Injectable()
    class Indexer {
      runs = 0;
      @PreloadStep({ name: 'index' }) async index() {
        this.runs++;
        return new PreloadArtifact(Buffer.from('{"x":1}'), { x: [1, 5] });
      }
    }
    const runDir = mkdtempSync(join(tmpdir(), 'run-'));
    const make = (ctx: PreloadProcessContext) =>
      Test.createTestingModule({ imports: [PreloadModule.forRoot({ isGlobal: true })], providers: [Indexer] })
        .overrideProvider(PreloadProcessContext)
        .useValue(ctx)
        .compile()
        .then(async (ref) => {
          const app = ref.createNestApplication({ logger: false });
          await app.init();
          return app;
        });
    const preloader = await make(new PreloadProcessContext('preloader', 1, null, null, 'g1', runDir));
    expect(preloader.get(PreloadService).result<ArtifactHandle>('index').slice('x')?.toString()).toBe('"x":1');
    const path = await writeManifest(runDir, {
      version: MANIFEST_VERSION,
      generation: 'g1',
      primaryPid: 9,
      preloaderPid: 10,
      createdAt: '',
      ...preloader.get(StepOrchestrator).handOver(),
    });
    await preloader.close();
    const worker = await make(new PreloadProcessContext('worker', 9, 0, path, 'g1'));
    const handle = worker.get(PreloadService).result<ArtifactHandle>('index');
    expect(handle).toBeInstanceOf(FileArtifact);
    expect(handle.slice('x')?.toString()).toBe('"x":1');
    expect(worker.get(Indexer).runs).toBe(0);
    await worker.close();
    expect(() => handle.slice('x')).toThrow('is closed (the app is shutting down)');
  });

  it('result() of a step that did not complete throws a clear error', async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'run-'));
    const { app, preload } = await boot(new PreloadProcessContext('preloader', 1, null, null, 'g1', runDir), ['pictures']);
    expect(() => preload.result('pictures')).toThrow(ResultUnavailableError);
    expect(() => preload.result('pictures')).toThrow(
      'The result of preload step "pictures" is not available in this process: the step is failed.',
    );
    expect(() => preload.result('nope')).toThrow('the step is not a step of this app');
    await app.close();
  });
});

import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StartupLock } from './locks/startup-lock';
import { PRELOAD_RESOLVED_OPTIONS, type PreloadOptionsFactory } from './preload.module-definition';
import { PreloadModule } from './preload.module';
import type { PreloadModuleOptions, ResolvedPreloadOptions } from './preload.options';
import { DEFAULT_PRELOAD_OPTIONS } from './preload.options';
import { PreloadService } from './preload.service';

const custom: PreloadModuleOptions = { lockDir: '/var/lock/app', healthDetails: true, lockTimeoutMs: 20_000 };
const expected: ResolvedPreloadOptions = {
  ...DEFAULT_PRELOAD_OPTIONS,
  lockDir: '/var/lock/app',
  healthDetails: true,
  lockTimeoutMs: 20_000,
};

@Injectable()
class OptionsFactory implements PreloadOptionsFactory {
  createPreloadOptions(): PreloadModuleOptions {
    return custom;
  }
}
@Module({ providers: [OptionsFactory], exports: [OptionsFactory] })
class OptionsModule {}

async function resolved(imports: unknown[]): Promise<ResolvedPreloadOptions> {
  const ref = await Test.createTestingModule({ imports: imports as never[] }).compile();
  expect(ref.get(PreloadService)).toBeInstanceOf(PreloadService);
  expect(ref.get(StartupLock)).toBeInstanceOf(StartupLock);
  return ref.get(PRELOAD_RESOLVED_OPTIONS);
}

describe('PreloadModule', () => {
  it('forRoot() with no options resolves the defaults', async () => {
    expect(await resolved([PreloadModule.forRoot({})])).toEqual(DEFAULT_PRELOAD_OPTIONS);
    expect(DEFAULT_PRELOAD_OPTIONS).toEqual({
      lockDir: join(tmpdir(), 'nest-preload-locks'),
      lockTimeoutMs: 15_000,
      lockStaleMs: 10_000,
      tempRoot: tmpdir(),
      healthDetails: false,
      cacheTeardownTimeoutMs: 5_000,
      artifactCacheBytes: 8 * 2 ** 20,
      databaseLock: null,
      hosts: null,
    });
  });

  it('forRoot() merges options over the defaults', async () => {
    expect(await resolved([PreloadModule.forRoot(custom)])).toEqual(expected);
  });

  it('forRootAsync() with useFactory and inject', async () => {
    const mod = PreloadModule.forRootAsync({
      imports: [OptionsModule],
      useFactory: (f: OptionsFactory) => f.createPreloadOptions(),
      inject: [OptionsFactory],
    });
    expect(await resolved([mod])).toEqual(expected);
  });

  it('forRootAsync() with useClass', async () => {
    expect(await resolved([PreloadModule.forRootAsync({ useClass: OptionsFactory })])).toEqual(expected);
  });

  it('forRootAsync() with useExisting from an imported module', async () => {
    expect(await resolved([PreloadModule.forRootAsync({ imports: [OptionsModule], useExisting: OptionsFactory })])).toEqual(expected);
  });

  describe('global by default, as the README says; isGlobal: false scopes it', () => {
    @Injectable()
    class Consumer {
      constructor(readonly preload: PreloadService) {}
    }
    @Module({ providers: [Consumer] })
    class Feature {}

    it.each([[{}], [{ isGlobal: true }]])(
      'forRoot(%p): a module that does not import PreloadModule injects PreloadService',
      async (options) => {
        const ref = await Test.createTestingModule({ imports: [PreloadModule.forRoot(options), Feature] }).compile();
        expect(ref.get(Consumer).preload).toBe(ref.get(PreloadService));
      },
    );

    it('forRootAsync() without isGlobal is global too', async () => {
      const ref = await Test.createTestingModule({ imports: [PreloadModule.forRootAsync({ useFactory: () => ({}) }), Feature] }).compile();
      expect(ref.get(Consumer).preload).toBe(ref.get(PreloadService));
    });

    it('forRoot({ isGlobal: false }): the same module cannot resolve PreloadService', async () => {
      await expect(Test.createTestingModule({ imports: [PreloadModule.forRoot({ isGlobal: false }), Feature] }).compile()).rejects.toThrow(
        /PreloadService/,
      );
    });
  });

  it.each([
    [{ lockDir: 'relative/dir' }, 'Invalid preload option lockDir="relative/dir": expected an absolute path.'],
    [{ lockTimeoutMs: 0 }, 'Invalid preload option lockTimeoutMs=0: expected a positive whole number of milliseconds.'],
    [{ lockStaleMs: 500 }, 'Invalid preload option lockStaleMs=500: expected a whole number of milliseconds, at least 2000.'],
    [
      { lockTimeoutMs: 10_000 },
      'Invalid preload option lockTimeoutMs=10000: expected more than lockStaleMs (10000), so that a lock left by a killed holder can be taken over in time.',
    ],
    [{ healthDetails: 'yes' }, 'Invalid preload option healthDetails="yes": expected true or false.'],
    [
      { lockdir: '/x' },
      'Unknown option "lockdir". Known options: lockDir, lockTimeoutMs, lockStaleMs, tempRoot, healthDetails, cacheTeardownTimeoutMs, artifactCacheBytes, databaseLock, hosts. Check its spelling.',
    ],
  ])('refuses %p with one clear message', async (options, message) => {
    await expect(Test.createTestingModule({ imports: [PreloadModule.forRoot(options as PreloadModuleOptions)] }).compile()).rejects.toThrow(
      message,
    );
  });
});

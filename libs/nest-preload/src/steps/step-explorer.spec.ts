import { Controller, Get, Injectable, Logger, Module, Scope } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PreloadModule } from '../preload.module';
import { PreloadService } from '../preload.service';
import { PreloadStep } from './preload-step.decorator';

@Injectable()
class Singleton {
  @PreloadStep({ name: 'on_provider', scope: 'process' }) async run() {
    return 'provider';
  }
}

@Controller('things')
class ThingsController {
  @Get() list() {
    return [];
  }
  @PreloadStep({ name: 'on_controller', scope: 'process' }) async warm() {
    return 'controller';
  }
}

@Injectable({ scope: Scope.REQUEST })
class PerRequest {
  @PreloadStep({ name: 'on_request_scoped', scope: 'process' }) async never() {
    return 'never';
  }
}

@Module({ controllers: [ThingsController], providers: [Singleton, PerRequest, { provide: 'VALUE', useValue: { n: 1 } }] })
class Feature {}

describe('StepExplorer', () => {
  it('finds steps on providers and on controllers; skips one on a request-scoped provider, saying why and what to do', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const app = await Test.createTestingModule({
        imports: [PreloadModule.forRoot({ tempRoot: mkdtempSync(join(tmpdir(), 'explorer-')) }), Feature],
      }).compile();
      await app.init();
      const preload = app.get(PreloadService);
      expect(preload.steps().map((s) => [s.name, s.status])).toEqual([
        ['on_provider', 'complete'],
        ['on_controller', 'complete'],
      ]);
      expect(preload.result('on_controller')).toBe('controller');
      const messages = warn.mock.calls.map(([m]) => String(m));
      expect(messages).toContain(
        'preload step "on_request_scoped" on PerRequest.never is skipped: PerRequest is request-scoped or transient (or depends on a provider that is), so there is no one instance to run it once per cluster. Move the step to a singleton provider.',
      );
      await app.close();
    } finally {
      warn.mockRestore();
    }
  });
});

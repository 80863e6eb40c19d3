import { PreloadService, PreloadStep, StartupLock } from '@lf/nest-preload';
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { copyFile, mkdir, readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { DataSource, Repository } from 'typeorm';
import { ASSETS_DIR, type DemoConfig } from '../config';
import { StepRun } from '../database/step-run.entity';
import { DEMO_CACHE, DEMO_CONFIG } from '../demo.tokens';
import { buildTypesIndex, type TypesIndex } from './components';
import type { DemoCache } from './demo-cache';
import { injectFaults } from './faults';
import { SuperuserService, type SuperuserSetupResult } from './superuser.service';

/** Result of the `bundles` step: where the staged component bundles are. */
export interface BundlesResult {
  dirs: string[];
  files: number;
}

/**
 * The demo's start-up work, as preload steps (Langflow's plan):
 * migrations → superuser; profile_pictures; bundles → types_cached.
 */
@Injectable()
export class StartupSteps {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectRepository(StepRun) private readonly runs: Repository<StepRun>,
    private readonly superusers: SuperuserService,
    private readonly preload: PreloadService,
    private readonly lock: StartupLock,
    @Inject(DEMO_CONFIG) private readonly config: DemoConfig,
    @Inject(DEMO_CACHE) private readonly cache: DemoCache,
  ) {}

  @PreloadStep({ name: 'migrations', critical: true })
  async migrations(): Promise<{ applied: string[] }> {
    await injectFaults(this.config, 'migrations', this.preload.role);
    // Racing workers (preload off) would run the same migration twice: one at a time on this host.
    const applied = await this.lock.withLock('migrations', () => this.dataSource.runMigrations({ transaction: 'each' }), { timeoutMs: 120_000 });
    await this.audit('migrations');
    return { applied: applied.map((m) => m.name) };
  }

  @PreloadStep({ name: 'superuser', after: ['migrations'], critical: true })
  async superuser(): Promise<{ outcome: SuperuserSetupResult }> {
    await injectFaults(this.config, 'superuser', this.preload.role);
    const outcome = await this.superusers.setup();
    if (this.config.autoLogin) await this.cache.set('demo:auto-login-user', this.config.superuser);
    await this.audit('superuser');
    return { outcome };
  }

  @PreloadStep({ name: 'profile_pictures' })
  async profilePictures(): Promise<{ copied: number; total: number }> {
    await injectFaults(this.config, 'profile_pictures', this.preload.role);
    const source = join(ASSETS_DIR, 'profile_pictures');
    const target = join(this.config.configDir, 'profile_pictures');
    let copied = 0;
    const files = await listFiles(source);
    for (const file of files) {
      const to = join(target, relative(source, file));
      const [from, existing] = await Promise.all([stat(file), stat(to).catch(() => null)]);
      if (existing?.size === from.size) continue;
      await mkdir(join(to, '..'), { recursive: true });
      await copyFile(file, to);
      copied++;
    }
    await this.audit('profile_pictures');
    return { copied, total: files.length };
  }

  @PreloadStep({ name: 'bundles', critical: true })
  async bundles(): Promise<BundlesResult> {
    // The built-in bundle is staged into a temp dir this process owns, like a downloaded archive.
    const dir = this.preload.createTempDir('bundle-builtin');
    await injectFaults(this.config, 'bundles', this.preload.role);
    const source = join(ASSETS_DIR, 'components');
    const files = (await readdir(source)).filter((f) => f.endsWith('.json'));
    for (const file of files) await copyFile(join(source, file), join(dir, file));
    await this.audit('bundles');
    return { dirs: [dir], files: files.length };
  }

  @PreloadStep({ name: 'types_cached', after: ['bundles'], critical: true })
  async typesCached(): Promise<TypesIndex> {
    await injectFaults(this.config, 'types_cached', this.preload.role);
    const { dirs } = this.preload.result<BundlesResult>('bundles');
    const index = await buildTypesIndex(dirs);
    await this.audit('types_cached');
    return index;
  }

  private async audit(step: string): Promise<void> {
    await this.runs.insert({ step, role: this.preload.role, pid: process.pid });
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)).sort();
}

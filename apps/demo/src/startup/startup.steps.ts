import { PreloadArtifact, PreloadService, PreloadStep, type StepContext } from '@lf/nest-preload';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { copyFile, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { type DataSource, MigrationExecutor, type QueryRunner, type Repository } from 'typeorm';
import { fetchBundle, unpackBundle } from '../components/bundle-archive';
import { type BundlesResult, ComponentCatalog } from '../components/component-catalog';
import { BUILTIN_DIR, buildTypesArtifact, type ComponentSource, listComponentModules } from '../components/component-index';
import { ASSETS_DIR, type DemoConfig } from '../config';
import { Flow } from '../database/flow.entity';
import { StepRun } from '../database/step-run.entity';
import { User } from '../database/user.entity';
import { DEMO_CACHE, DEMO_CONFIG } from '../demo.tokens';
import { checkTypesExist, type FlowDocument, FlowError, parseFlow, stableId } from '../flows/flow-document';
import type { DemoCache } from './demo-cache';
import { injectFaults } from './faults';
import { SuperuserService, type SuperuserSetupResult } from './superuser.service';

/**
 * The demo's start-up work as preload steps, mirroring Langflow's plan:
 * migrations → superuser; profile_pictures; bundles → types_cached → starter_projects, flows.
 */
@Injectable()
export class StartupSteps {
  private readonly logger = new Logger('Startup');

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectRepository(StepRun) private readonly runs: Repository<StepRun>,
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly superusers: SuperuserService,
    private readonly catalog: ComponentCatalog,
    private readonly preload: PreloadService,
    @Inject(DEMO_CONFIG) private readonly config: DemoConfig,
    @Inject(DEMO_CACHE) private readonly cache: DemoCache,
  ) {}

  /**
   * Under the database lock: racing workers (preload off) or hosts would run a migration twice.
   * On PostgreSQL the migrations run in one transaction on the lock's own session: if that session
   * is killed, they roll back exactly when the lock is released, and the next holder redoes them.
   */
  @PreloadStep({ name: 'migrations', critical: true, scope: 'database' })
  async migrations({ lock }: StepContext): Promise<{ applied: string[] }> {
    await injectFaults(this.config, 'migrations', this.preload.role);
    const session = lock?.session as QueryRunner | null | undefined;
    let applied;
    if (session) {
      const executor = new MigrationExecutor(session.connection, session);
      executor.transaction = 'all';
      applied = await executor.executePendingMigrations();
    } else {
      applied = await this.dataSource.runMigrations({ transaction: 'each' });
    }
    this.logger.log(`migrations: applied ${applied.length}${applied.length ? ` (${applied.map((m) => m.name).join(', ')})` : ''}`);
    await this.audit('migrations');
    return { applied: applied.map((m) => m.name) };
  }

  /** SuperuserService takes its own database lock, so that a lock timeout is answered by the database (Langflow's behaviour). */
  @PreloadStep({ name: 'superuser', after: ['migrations'], critical: true, scope: 'database', lock: false })
  async superuser(): Promise<{ outcome: SuperuserSetupResult | 'not_seeded' }> {
    await injectFaults(this.config, 'superuser', this.preload.role);
    if (!this.config.seed) return { outcome: 'not_seeded' };
    const outcome = await this.superusers.setup();
    if (this.config.autoLogin) await this.cache.set('demo:auto-login-user', this.config.superuser);
    await this.audit('superuser');
    return { outcome };
  }

  @PreloadStep({ name: 'profile_pictures', scope: 'host' })
  async profilePictures(): Promise<{ copied: number; total: number }> {
    await injectFaults(this.config, 'profile_pictures', this.preload.role);
    if (!this.config.seed) return { copied: 0, total: 0 };
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

  /** Downloads and unpacks each bundle of BUNDLE_URLS into a temp dir this process owns. Any failure fails the step. */
  @PreloadStep({ name: 'bundles', critical: true, scope: 'process' })
  async bundles(): Promise<BundlesResult> {
    const bundles: BundlesResult['bundles'] = [];
    for (const [i, source] of this.config.bundleUrls.entries()) {
      const work = this.preload.createTempDir(`bundle-${i}`);
      await injectFaults(this.config, 'bundles', this.preload.role);
      const archive = await fetchBundle(source, work);
      const dir = join(work, 'content');
      await unpackBundle(archive, dir, source, this.config.bundleLimits);
      const components = (await listComponentModules(dir)).length;
      this.logger.log(`bundle ${source}: ${components} component module(s)`);
      bundles.push({ source, dir, components });
    }
    if (!bundles.length) await injectFaults(this.config, 'bundles', this.preload.role);
    await this.audit('bundles');
    return { bundles };
  }

  /** Imports every component module (built-in and bundled) and builds the types index, once. */
  @PreloadStep({ name: 'types_cached', after: ['bundles'], critical: true, scope: 'process' })
  async typesCached(): Promise<PreloadArtifact> {
    await injectFaults(this.config, 'types_cached', this.preload.role);
    const { bundles } = this.preload.result<BundlesResult>('bundles');
    const sources: ComponentSource[] = [
      ...(this.config.builtinComponents ? [{ source: 'builtin' as const, dir: BUILTIN_DIR }] : []),
      ...bundles.map((b, i) => ({ source: i, dir: b.dir })),
    ];
    const { artifact, count } = await buildTypesArtifact(sources);
    this.logger.log(`component types index: ${count} components, ${artifact.bytes.length} bytes`);
    await this.audit('types_cached');
    return artifact;
  }

  /** Writes the shipped starter projects for the superuser; stable ids make it idempotent. */
  @PreloadStep({ name: 'starter_projects', after: ['types_cached', 'superuser'], scope: 'database' })
  async starterProjects(): Promise<{ written: number; total: number }> {
    await injectFaults(this.config, 'starter_projects', this.preload.role);
    if (!this.config.seed) return { written: 0, total: 0 };
    const dir = join(ASSETS_DIR, 'starter_projects');
    const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
    const owner = await this.owner();
    let written = 0;
    for (const file of files) {
      const flow = parseFlow(JSON.parse(await readFile(join(dir, file), 'utf8')));
      if (this.config.builtinComponents) checkTypesExist(flow, this.catalog);
      written += await this.insertFlow(flow, flow.id ?? stableId(`starter:${file}`), owner, true);
    }
    await this.audit('starter_projects');
    return { written, total: files.length };
  }

  /** Loads the flows of FLOWS_PATH; a malformed file is reported by name and skipped. */
  @PreloadStep({ name: 'flows', after: ['types_cached', 'superuser'], scope: 'database' })
  async flows(): Promise<{ loaded: number; skipped: Array<{ file: string; reason: string }> }> {
    await injectFaults(this.config, 'flows', this.preload.role);
    const skipped: Array<{ file: string; reason: string }> = [];
    let loaded = 0;
    if (this.config.flowsPath && this.config.seed) {
      const owner = await this.owner();
      const files = (await readdir(this.config.flowsPath)).filter((f) => f.endsWith('.json')).sort();
      for (const file of files) {
        let flow: FlowDocument;
        try {
          flow = parseFlow(JSON.parse(await readFile(join(this.config.flowsPath, file), 'utf8')));
          checkTypesExist(flow, this.catalog);
        } catch (error) {
          const reason = error instanceof SyntaxError ? `not valid JSON (${error.message})` : error instanceof FlowError ? error.message : String(error);
          this.logger.warn(`flows: skipped ${file}: ${reason}`);
          skipped.push({ file, reason });
          continue;
        }
        loaded += await this.insertFlow(flow, flow.id ?? stableId(`flow-file:${file}`), owner, false);
      }
    }
    await this.audit('flows');
    return { loaded, skipped };
  }

  private async owner(): Promise<string> {
    const user = await this.users.findOneBy({ username: this.config.superuser });
    if (!user) throw new Error(`superuser ${this.config.superuser} does not exist: the superuser step must run first`);
    return user.id;
  }

  /**
   * Insert-or-ignore on the primary key: running twice, or in 8 workers at once, leaves one copy.
   * Returns 1 if the flow was not there before (informational; racing writers may both say 1).
   */
  private async insertFlow(flow: FlowDocument, id: string, userId: string, isStarter: boolean): Promise<number> {
    const existed = await this.dataSource.getRepository(Flow).existsBy({ id });
    await this.dataSource
      .createQueryBuilder()
      .insert()
      .into(Flow)
      .values({ id, userId, name: flow.name, description: flow.description ?? null, data: JSON.stringify(flow.data), isStarter })
      .orIgnore()
      .execute();
    return existed ? 0 : 1;
  }

  private async audit(step: string): Promise<void> {
    await this.runs.insert({ step, role: this.preload.role, pid: process.pid });
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)).sort();
}

import { PreloadArtifact, PreloadService, PreloadStep, type StepContext } from '@lf/nest-preload';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { createHash, randomUUID } from 'node:crypto';
import { copyFile, link, mkdir, readdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { type DataSource, MigrationExecutor, type QueryRunner, type Repository } from 'typeorm';
import { BundleError, fetchBundleWithRetries, unpackBundle } from '../components/bundle-archive';
import { type BundlesResult, ComponentCatalog } from '../components/component-catalog';
import { BUILTIN_DIR, buildTypesArtifact, type ComponentSource, listComponentModules } from '../components/component-index';
import { ASSETS_DIR, type DemoConfig } from '../config';
import { Flow } from '../database/flow.entity';
import { StepRun } from '../database/step-run.entity';
import { User } from '../database/user.entity';
import { Variable } from '../database/variable.entity';
import { DEMO_CACHE, DEMO_CONFIG } from '../demo.tokens';
import { checkTypesExist, type FlowDocument, FlowError, parseFlow, stableId } from '../flows/flow-document';
import type { DemoCache } from './demo-cache';
import { injectFaults } from './faults';
import { SuperuserService, type SuperuserSetupResult } from './superuser.service';

/**
 * The demo's start-up work as preload steps, mirroring Langflow's plan:
 * migrations → superuser → agentic_globals, agentic_mcp; profile_pictures; bundles → types_cached →
 * starter_projects, flows.
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

  /**
   * Downloads and unpacks each bundle of BUNDLE_URLS into a temp dir this process owns; transient
   * download failures are retried (BUNDLE_RETRIES). With BUNDLE_REQUIRED (the default) a bundle
   * that still fails fails the step, and so the preload; otherwise it is skipped with a warning,
   * the step completes without it and `/health/preload` details name it.
   */
  @PreloadStep({ name: 'bundles', critical: true, scope: 'process' })
  async bundles(): Promise<BundlesResult> {
    const bundles: BundlesResult['bundles'] = [];
    const missing: BundlesResult['missing'] = [];
    for (const [i, source] of this.config.bundleUrls.entries()) {
      const work = this.preload.createTempDir(`bundle-${i}`);
      await injectFaults(this.config, 'bundles', this.preload.role);
      try {
        const archive = await fetchBundleWithRetries(source, work, this.config.bundleFetch, (error, attempt, delayMs) =>
          this.logger.warn(
            `${error.message}; attempt ${attempt} of ${this.config.bundleFetch.retries + 1}, trying again in ${msAsText(delayMs)}`,
          ),
        );
        const dir = join(work, 'content');
        await unpackBundle(archive, dir, source, this.config.bundleLimits);
        const components = (await listComponentModules(dir)).length;
        this.logger.log(`bundle ${source}: ${components} component module(s)`);
        bundles.push({ source, dir, components });
      } catch (error) {
        if (this.config.bundleRequired || !(error instanceof BundleError)) throw error;
        this.logger.error(
          `SKIPPED optional bundle ${source}: ${error.message}. Its components are missing until it is fixed and the app restarted (BUNDLE_REQUIRED=false).`,
        );
        missing.push({ source, reason: error.message });
      }
    }
    if (!this.config.bundleUrls.length) await injectFaults(this.config, 'bundles', this.preload.role);
    await this.audit('bundles');
    return { bundles, missing };
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

  /**
   * Creates or updates the shipped starter projects for the superuser, by stable id: a row whose
   * shipped content changed since it was written is updated, one a user saved is never touched.
   */
  @PreloadStep({ name: 'starter_projects', after: ['types_cached', 'superuser'], scope: 'database' })
  async starterProjects(): Promise<SeedCounts & { total: number }> {
    await injectFaults(this.config, 'starter_projects', this.preload.role);
    const counts = newCounts();
    if (!this.config.seed) return { ...counts, total: 0 };
    const dir = this.config.starterProjectsDir;
    const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
    const owner = await this.owner();
    for (const file of files) {
      const flow = parseFlow(JSON.parse(await readFile(join(dir, file), 'utf8')));
      if (this.config.builtinComponents) checkTypesExist(flow, this.catalog);
      counts[await this.upsertFlow(flow, flow.id ?? stableId(`starter:${file}`), owner, true)]++;
    }
    this.logger.log(`starter projects: ${describeCounts(counts)} of ${files.length}`);
    await this.audit('starter_projects');
    return { ...counts, total: files.length };
  }

  /**
   * Langflow's agentic global variables: FLOW_ID, COMPONENT_ID and FIELD_NAME for every user, made
   * only where missing (a user's own value is kept). Best-effort and independent of `agentic_mcp`.
   */
  @PreloadStep({ name: 'agentic_globals', after: ['superuser'], scope: 'database' })
  async agenticGlobals(): Promise<{ created: number; users: number }> {
    await injectFaults(this.config, 'agentic_globals', this.preload.role);
    if (!this.config.seed || !this.config.agenticExperience) return { created: 0, users: 0 };
    const users = await this.users.find({ select: { id: true } });
    const variables = this.dataSource.getRepository(Variable);
    let created = 0;
    for (const user of users) {
      const have = new Set((await variables.find({ where: { userId: user.id }, select: { name: true } })).map((v) => v.name));
      const missing = AGENTIC_VARIABLES.filter((name) => !have.has(name));
      if (!missing.length) continue;
      // Insert-or-ignore on (user_id, name): racing workers and hosts leave one row each.
      await variables
        .createQueryBuilder()
        .insert()
        .values(missing.map((name) => ({ id: randomUUID(), userId: user.id, name, value: '', type: 'generic' })))
        .orIgnore()
        .execute();
      created += missing.length;
    }
    this.logger.log(`agentic variables: ${created} created for ${users.length} user(s)`);
    await this.audit('agentic_globals');
    return { created, users: users.length };
  }

  /**
   * Langflow's default MCP-server configuration: each user's `_mcp_servers_<id>.json` in the config
   * dir names this server's agentic MCP endpoint, written only if the file is missing (an operator's
   * edit is kept). Best-effort and independent of `agentic_globals`.
   */
  @PreloadStep({ name: 'agentic_mcp', after: ['superuser'], scope: 'host' })
  async agenticMcp(): Promise<{ written: number; users: number }> {
    await injectFaults(this.config, 'agentic_mcp', this.preload.role);
    if (!this.config.seed || !this.config.agenticExperience) return { written: 0, users: 0 };
    const users = await this.users.find({ select: { id: true } });
    const config = {
      mcpServers: { 'langflow-agentic': { url: `http://${reachableHost(this.config.host)}:${this.config.port}/api/v1/agentic/mcp` } },
    };
    let written = 0;
    for (const user of users) {
      const dir = join(this.config.configDir, user.id);
      await mkdir(dir, { recursive: true });
      if (await createExclusively(join(dir, `_mcp_servers_${user.id}.json`), `${JSON.stringify(config, null, 2)}\n`)) written++;
    }
    this.logger.log(`agentic MCP config: ${written} written for ${users.length} user(s)`);
    await this.audit('agentic_mcp');
    return { written, users: users.length };
  }

  /** Loads the flows of FLOWS_PATH; a malformed file is reported by name and skipped. */
  @PreloadStep({ name: 'flows', after: ['types_cached', 'superuser'], scope: 'database' })
  async flows(): Promise<SeedCounts & { skipped: Array<{ file: string; reason: string }> }> {
    await injectFaults(this.config, 'flows', this.preload.role);
    const skipped: Array<{ file: string; reason: string }> = [];
    const counts = newCounts();
    if (this.config.flowsPath && this.config.seed) {
      const owner = await this.owner();
      const files = (await readdir(this.config.flowsPath)).filter((f) => f.endsWith('.json')).sort();
      for (const file of files) {
        let flow: FlowDocument;
        try {
          flow = parseFlow(JSON.parse(await readFile(join(this.config.flowsPath, file), 'utf8')));
          checkTypesExist(flow, this.catalog);
        } catch (error) {
          const reason =
            error instanceof SyntaxError ? `not valid JSON (${error.message})` : error instanceof FlowError ? error.message : String(error);
          this.logger.warn(`flows: skipped ${file}: ${reason}`);
          skipped.push({ file, reason });
          continue;
        }
        counts[await this.upsertFlow(flow, flow.id ?? stableId(`flow-file:${file}`), owner, false)]++;
      }
      this.logger.log(`flows from ${this.config.flowsPath}: ${describeCounts(counts)} of ${files.length}`);
    }
    await this.audit('flows');
    return { ...counts, skipped };
  }

  private async owner(): Promise<string> {
    const user = await this.users.findOneBy({ username: this.config.superuser });
    if (!user) throw new Error(`superuser ${this.config.superuser} does not exist: the superuser step must run first`);
    return user.id;
  }

  /**
   * Create-or-update on the primary key, in one statement: running twice, or in 8 workers or on
   * several hosts at once, leaves one row. The seeder updates only its own rows (`seed_hash` set)
   * and only when what it would write differs; a flow a user saved has `seed_hash` null and is
   * never touched. Returns what happened (informational: racing writers may each say `inserted`).
   */
  private async upsertFlow(flow: FlowDocument, id: string, userId: string, isStarter: boolean): Promise<keyof SeedCounts> {
    const row = {
      id,
      user_id: userId,
      name: flow.name,
      description: flow.description ?? null,
      data: JSON.stringify(flow.data),
      is_starter: isStarter,
    };
    const seedHash = createHash('sha256')
      .update(JSON.stringify([row.name, row.description, row.data, row.is_starter]))
      .digest('hex');
    const before = await this.dataSource.getRepository(Flow).findOne({ where: { id }, select: { id: true, userId: true, seedHash: true } });
    const postgres = this.dataSource.options.type === 'postgres';
    const p = (i: number) => (postgres ? `$${i}` : '?');
    await this.dataSource.query(
      `INSERT INTO flows (id, user_id, name, description, data, is_starter, seed_hash) VALUES (${[1, 2, 3, 4, 5, 6, 7].map(p).join(', ')}) ` +
        'ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, name = excluded.name, description = excluded.description, ' +
        'data = excluded.data, is_starter = excluded.is_starter, seed_hash = excluded.seed_hash ' +
        'WHERE flows.seed_hash IS NOT NULL AND (flows.seed_hash <> excluded.seed_hash OR flows.user_id <> excluded.user_id)',
      // better-sqlite3 binds no booleans.
      [row.id, row.user_id, row.name, row.description, row.data, postgres ? isStarter : Number(isStarter), seedHash],
    );
    if (!before) return 'inserted';
    if (before.seedHash === null) return 'userOwned';
    return before.seedHash === seedHash && before.userId === userId ? 'unchanged' : 'updated';
  }

  private async audit(step: string): Promise<void> {
    await this.runs.insert({ step, role: this.preload.role, pid: process.pid });
  }
}

/** What seeding did with each flow. */
export interface SeedCounts {
  inserted: number;
  updated: number;
  unchanged: number;
  /** Left alone: a user saved a flow with this id through the API. */
  userOwned: number;
}

const newCounts = (): SeedCounts => ({ inserted: 0, updated: 0, unchanged: 0, userOwned: 0 });

const describeCounts = (c: SeedCounts): string =>
  `${c.inserted} inserted, ${c.updated} updated, ${c.unchanged} unchanged${c.userOwned ? `, ${c.userOwned} left alone (saved by a user)` : ''}`;

/** Langflow's agentic global variables (generic, empty until the agentic experience sets them). */
const AGENTIC_VARIABLES = ['FLOW_ID', 'COMPONENT_ID', 'FIELD_NAME'] as const;

/**
 * Writes `file` whole, only if it does not exist: written to a private temp file, then linked into
 * place (link fails if the name exists), so no reader sees half a file and racers leave one.
 * @returns true if this call created it.
 */
async function createExclusively(file: string, text: string): Promise<boolean> {
  const tmp = `${file}.${process.pid}.${randomUUID()}.tmp`;
  try {
    await writeFile(tmp, text, { flag: 'wx' });
    await link(tmp, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** The host a local client can reach this server on: a wildcard address means loopback; IPv6 in brackets. */
function reachableHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

const msAsText = (ms: number): string => (ms >= 1_000 ? `${ms / 1_000} s` : `${ms} ms`);

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

import { probePostgres, probeRedis, servicesRequired } from './services';

/**
 * Probes the services once. Suites that need a missing one skip, saying so plainly; with
 * NEST_PRELOAD_REQUIRE_SERVICES=true (CI) a missing service fails the whole run instead.
 */
export default async function globalSetup(): Promise<void> {
  const [pg, redis] = await Promise.all([probePostgres(), probeRedis()]);
  process.env.E2E_HAS_POSTGRES = pg ? '0' : '1';
  process.env.E2E_HAS_REDIS = redis ? '0' : '1';
  const missing = [pg, redis].filter((m): m is string => m !== null);
  if (missing.length && servicesRequired) {
    throw new Error(
      `NEST_PRELOAD_REQUIRE_SERVICES is set and a service is missing: ${missing.join('; ')}. Start it (see README, "Tests").`,
    );
  }
  for (const message of missing) console.warn(`\n[e2e] ${message}: the suites that need it are SKIPPED.\n`);
}

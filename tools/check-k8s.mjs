#!/usr/bin/env node
// Validates Kubernetes manifests offline against the API schemas kubernetes-models ships
// (generated from Kubernetes' OpenAPI), and flags fields no schema knows: the schemas allow unknown
// properties (the API server would drop them, or refuse them with --validate=strict), so a typo
// such as `readinesProbe` would otherwise pass. Usage:
//   node tools/check-k8s.mjs [file.yaml ...]      (default: deploy/kubernetes/*.yaml)
// Exits 1 and names each problem by file, document and path. Kinds of the built-in API groups
// only (apps, batch, core, policy, networking, autoscaling, …); a custom resource has no schema here.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseAllDocuments } from 'yaml';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const require = createRequire(import.meta.url);
const schemas = join(require.resolve('kubernetes-models/package.json'), '../_schemas');

/** `apps/v1` + `Deployment` → IoK8sApiAppsV1Deployment; `v1` + `Service` → IoK8sApiCoreV1Service. */
function schemaName(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['core', apiVersion];
  const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);
  return `IoK8sApi${cap(group.split('.')[0])}${cap(version)}${kind}`;
}

/**
 * Wraps `value` so the validator's reads are recorded. The generated validators read each property
 * their schema declares and enumerate only maps (labels, annotations); an own key of an object that
 * was never read nor enumerated is unknown to the schema.
 */
function watched(value, path, records, proxies = new WeakMap()) {
  if (value === null || typeof value !== 'object') return value;
  if (proxies.has(value)) return proxies.get(value);
  const record = { path, keys: Array.isArray(value) ? [] : Object.keys(value), read: new Set(), enumerated: false };
  records.push(record);
  const proxy = new Proxy(value, {
    get(target, key, receiver) {
      const got = Reflect.get(target, key, receiver);
      if (typeof key !== 'string') return got;
      record.read.add(key);
      return watched(got, `${path}/${key}`, records, proxies);
    },
    has(target, key) {
      if (typeof key === 'string') record.read.add(key);
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      record.enumerated = true;
      return Reflect.ownKeys(target);
    },
  });
  proxies.set(value, proxy);
  return proxy;
}

const RESOURCE_NAME = /^(cpu|memory|ephemeral-storage|hugepages-[0-9]+[KMGTPE]i?|[a-z0-9]([-a-z0-9.]*[a-z0-9])?\/[-a-zA-Z0-9_.]+)$/;

/** The generated validators carry no messages: say what the schema wanted. */
function describe({ keyword, params = {}, message }) {
  if (message) return message;
  if (keyword === 'type') return `must be ${params.type}`;
  if (keyword === 'required') return `must have required property '${params.missingProperty}'`;
  if (keyword === 'enum') return `must be one of ${params.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  if (keyword === 'format') return `must be a valid ${params.format}`;
  return `fails "${keyword}" ${JSON.stringify(params)}`;
}

/** The problems of one manifest document, as `path: message` lines. */
export async function problemsOf(doc) {
  if (!doc || typeof doc !== 'object' || typeof doc.apiVersion !== 'string' || typeof doc.kind !== 'string') {
    return ['the document has no apiVersion and kind'];
  }
  const name = schemaName(doc.apiVersion, doc.kind);
  let validate;
  try {
    // kubernetes-models 4 ships each validator as .mjs beside a CommonJS .js.
    const file = [`${name}.mjs`, `${name}.js`].map((f) => join(schemas, f)).find((f) => existsSync(f));
    if (!file) throw new Error('no such schema');
    ({ validate } = await import(pathToFileURL(file).href));
    if (typeof validate !== 'function') throw new Error('no validate function');
  } catch {
    return [`no schema for ${doc.apiVersion} ${doc.kind} (looked for ${name} in kubernetes-models)`];
  }
  const records = [];
  const problems = [];
  if (!validate(watched(doc, '', records))) {
    for (const e of validate.errors) problems.push(`${e.instancePath || '/'}: ${describe(e)}`);
  }
  for (const r of records) {
    if (r.enumerated) {
      // Resource quantities are a map to the schema, but the API server knows its keys.
      if (/\/resources\/(requests|limits)$/.test(r.path)) {
        for (const key of r.keys)
          if (!RESOURCE_NAME.test(key))
            problems.push(`${r.path}/${key}: not a resource name (cpu, memory, ephemeral-storage, hugepages-<size>, or domain/name)`);
      }
      continue;
    }
    for (const key of r.keys) if (!r.read.has(key)) problems.push(`${r.path}/${key}: no such field in ${doc.apiVersion} ${doc.kind}`);
  }
  return problems;
}

async function main() {
  const dir = join(root, 'deploy/kubernetes');
  const files =
    process.argv.length > 2
      ? process.argv.slice(2).map((f) => resolve(f))
      : readdirSync(dir)
          .filter((f) => /\.ya?ml$/.test(f))
          .sort()
          .map((f) => join(dir, f));
  if (files.length === 0) throw new Error(`no manifests in ${dir}`);
  const version = require('kubernetes-models/package.json').version;
  let bad = 0;
  for (const file of files) {
    const shown = relative(process.cwd(), file) || file;
    const docs = parseAllDocuments(readFileSync(file, 'utf8'));
    for (const [i, parsed] of docs.entries()) {
      if (parsed.errors.length === 0 && parsed.toJS() == null) continue; // an empty document (a trailing ---)
      const problems = parsed.errors.length ? parsed.errors.map((e) => `YAML: ${e.message}`) : await problemsOf(parsed.toJS());
      const doc = parsed.errors.length ? {} : (parsed.toJS() ?? {});
      const what = `${shown} #${i + 1} ${doc.kind ?? '?'}/${doc.metadata?.name ?? '?'}`;
      if (problems.length === 0) console.log(`ok    ${what}`);
      else {
        bad++;
        for (const p of problems) console.log(`FAIL  ${what}: ${p}`);
      }
    }
  }
  console.log(`${bad ? `${bad} manifest(s) invalid` : 'all manifests valid'} (schemas of kubernetes-models ${version})`);
  process.exitCode = bad ? 1 : 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}

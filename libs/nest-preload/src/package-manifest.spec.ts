import { builtinModules } from 'node:module';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as ts from 'typescript';

const root = join(__dirname, '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  exports: Record<string, string | { types: string; default: string }>;
  typesVersions?: Record<string, Record<string, string[]>>;
  bin?: Record<string, string>;
};

/** Integrations a user may not have: optional peers, loaded only by their subpath entries. */
const OPTIONAL = ['@nestjs/terminus', 'ioredis', 'pg', 'prom-client', 'typeorm'];

/** Every non-spec source file of the package. */
const sources = (readdirSync(join(root, 'src'), { recursive: true }) as string[])
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'))
  .map((f) => join(root, 'src', f));

/** The package a bare import specifier names (`@scope/name/sub` → `@scope/name`). */
const packageOf = (spec: string) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);

describe('the package manifest', () => {
  it('declares every package the source imports, as a dependency or a peer', () => {
    const declared = new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})]);
    const missing = new Set<string>();
    for (const file of sources) {
      const text = readFileSync(file, 'utf8');
      for (const [, spec] of text.matchAll(/(?:from\s+|import\(|require\()\s*'([^'.][^']*)'/g)) {
        if (spec.startsWith('node:') || builtinModules.includes(spec)) continue;
        if (!declared.has(packageOf(spec))) missing.add(`${packageOf(spec)} (in ${file.slice(root.length + 1)})`);
      }
    }
    expect([...missing]).toEqual([]);
  });

  it('keeps the optional integrations optional peers, so a user without them never needs them', () => {
    for (const name of OPTIONAL) expect(manifest.peerDependenciesMeta?.[name]?.optional).toBe(true);
  });

  it('loads an optional integration only from its own subpath: the main and cluster entries never reach one', () => {
    const reached = (entry: string) => {
      const seen = new Set<string>();
      const packages = new Set<string>();
      const visit = (file: string) => {
        if (seen.has(file)) return;
        seen.add(file);
        // `import type` / `export type` are erased at build time: it loads nothing.
        for (const [, spec] of readFileSync(file, 'utf8').matchAll(
          /(?:^(?:import|export) (?!type )[^;]*?from\s+|import\(|require\()\s*'([^']+)'/gm,
        )) {
          if (spec.startsWith('.')) visit(join(dirname(file), `${spec}.ts`));
          else packages.add(packageOf(spec));
        }
      };
      visit(join(root, 'src', entry));
      return [...packages].filter((p) => OPTIONAL.includes(p)).sort();
    };
    expect(reached('index.ts')).toEqual([]);
    expect(reached('cluster.ts')).toEqual([]);
    expect(reached('typeorm.ts')).toEqual(['typeorm']);
    expect(reached('pg.ts')).toEqual(['pg']);
    // Type-only: the user hands over their own client.
    expect(reached('ioredis.ts')).toEqual([]);
    expect(reached('terminus.ts')).toEqual(['@nestjs/terminus']);
    expect(reached('prometheus.ts')).toEqual(['prom-client']);
  });

  it('accepts Nest 11 and Nest 12 as peers', () => {
    for (const name of ['@nestjs/common', '@nestjs/core']) expect(manifest.peerDependencies?.[name]).toBe('^11.0.0 || ^12.0.0');
  });

  it('gives every exports entry types and a default, each built from a source file', () => {
    for (const [entry, target] of Object.entries(manifest.exports)) {
      if (entry === './package.json') continue;
      expect(typeof target).toBe('object');
      const { types, default: main } = target as { types: string; default: string };
      expect([entry, types.endsWith('.d.ts'), main.endsWith('.js')]).toEqual([entry, true, true]);
      const source = join(root, main.replace('./dist/', 'src/').replace(/\.js$/, '.ts'));
      expect([entry, existsSync(source)]).toEqual([entry, true]);
      expect(types.replace(/\.d\.ts$/, '')).toBe(main.replace(/\.js$/, ''));
    }
  });

  it('maps every subpath for TypeScript users on moduleResolution node, too', () => {
    const subpaths = Object.keys(manifest.exports)
      .filter((e) => e !== '.' && e !== './package.json')
      .map((e) => e.slice(2));
    expect(Object.keys(manifest.typesVersions?.['*'] ?? {}).sort()).toEqual(subpaths.sort());
  });

  it('documents every export of every entry with TSDoc', () => {
    const entries = Object.values(manifest.exports)
      .filter((t): t is { types: string; default: string } => typeof t === 'object')
      .map((t) => join(root, t.default.replace('./dist/', 'src/').replace(/\.js$/, '.ts')));
    const program = ts.createProgram(entries, {
      experimentalDecorators: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.CommonJS,
      skipLibCheck: true,
      noEmit: true,
    });
    const checker = program.getTypeChecker();
    const undocumented: string[] = [];
    for (const entry of entries) {
      const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(entry) as ts.SourceFile) as ts.Symbol;
      for (const symbol of checker.getExportsOfModule(moduleSymbol)) {
        const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
        if (!ts.displayPartsToString(target.getDocumentationComment(checker)).trim())
          undocumented.push(`${entry.slice(root.length + 1)}: ${symbol.name}`);
      }
    }
    expect(entries.length).toBeGreaterThanOrEqual(5);
    expect(undocumented).toEqual([]);
  }, 30_000);

  it('ships the CLI as a bin built from its source, with a shebang', () => {
    const bin = manifest.bin?.['nest-preload'] as string;
    const source = join(root, bin.replace('./dist/', 'src/').replace(/\.js$/, '.ts'));
    expect(readFileSync(source, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });
});

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/**
 * The primary never loads the app's world: walks the static import graph of what the primary runs —
 * `@lf/nest-preload/cluster` and what it imports at load time (type-only imports are erased; the
 * roles' `await import()` runs only in the children) — and lists the packages it reaches.
 */
const SRC = resolve(__dirname);

/** The modules `file` loads when it is loaded: static imports and re-exports that emit code, and `require()`. */
function loadTimeImports(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typeOnly =
        clause?.isTypeOnly ||
        (clause &&
          !clause.name &&
          clause.namedBindings &&
          ts.isNamedImports(clause.namedBindings) &&
          clause.namedBindings.elements.every((e) => e.isTypeOnly));
      if (!typeOnly) found.push(node.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const typeOnly =
        node.isTypeOnly ||
        (node.exportClause && ts.isNamedExports(node.exportClause) && node.exportClause.elements.every((e) => e.isTypeOnly));
      if (!typeOnly) found.push(node.moduleSpecifier.text);
    } else if (
      ts.isCallExpression(node) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === 'require' &&
      node.arguments.length === 1 &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      found.push(node.arguments[0].text);
    }
    // `await import()` is lazy: not followed (the roles load Nest that way, in the children only).
    if (!(ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword)) ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function walk(entry: string): { files: string[]; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [entry];
  while (queue.length) {
    const file = queue.pop() as string;
    if (files.has(file)) continue;
    files.add(file);
    for (const spec of loadTimeImports(file)) {
      if (spec.startsWith('.')) {
        const base = resolve(dirname(file), spec);
        const target = [`${base}.ts`, join(base, 'index.ts')].find((f) => existsSync(f));
        if (!target) throw new Error(`${relative(SRC, file)} imports ${spec}, which does not resolve`);
        queue.push(target);
      } else if (!spec.startsWith('node:')) {
        packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
      }
    }
  }
  return { files: [...files].map((f) => relative(SRC, f)).sort(), packages };
}

describe('what the primary loads', () => {
  it('from @lf/nest-preload/cluster, the static import graph reaches no @nestjs/* package, nor TypeORM, ioredis, prom-client or pg: only write-file-atomic', () => {
    const { files, packages } = walk(join(SRC, 'cluster.ts'));
    expect([...packages].filter((p) => p.startsWith('@nestjs/'))).toEqual([]);
    // Any package added to the primary's load path fails here, to be looked at.
    expect([...packages].sort()).toEqual(['write-file-atomic']);
    // It does reach the supervisor, the control socket and the timeline's collector: the walk follows them.
    expect(files).toEqual(
      expect.arrayContaining([
        'cluster.ts',
        'supervisor/supervisor.ts',
        'control/control-server.ts',
        'supervisor/start-timeline.ts',
        'timeline/trace.ts',
      ]),
    );
    expect(files.filter((f) => /^(preloader|worker|standalone|one-shot|steps)\//.test(f))).toEqual([]);
  });

  it('the walk finds what it must: the worker role reaches @nestjs/core, and type-only imports are not followed', () => {
    expect([...walk(join(SRC, 'worker/worker.role.ts')).packages]).toEqual(expect.arrayContaining(['@nestjs/common', '@nestjs/core']));
    // cli.ts imports types from the supervisor; only what emits code counts.
    expect(loadTimeImports(join(SRC, 'cli.ts'))).not.toContain('./supervisor/supervisor.ports');
  });
});

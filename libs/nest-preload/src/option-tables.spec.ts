import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import type { OptionRow } from './option-table';
import { PRELOAD_OPTION_TABLE } from './preload.options';
import { ENTRY_OPTION_TABLE, SUPERVISOR_OPTION_TABLE } from './supervisor/cluster.options';

/**
 * The option tables are the one source of the defaults; the TSDoc a user reads in the `.d.ts` and
 * the README's configuration tables must say the same. This spec fails when they drift apart.
 */
const SRC = __dirname;
const README = readFileSync(join(SRC, '..', 'README.md'), 'utf8');

/** Backticks and runs of spaces do not count: the README formats code, the TSDoc sometimes does not. */
const normal = (text: string) => text.replace(/`/g, '').replace(/\s+/g, ' ').trim();

/** Each property of an interface: whether it is optional, and its `@default` text. */
function documented(file: string, name: string): Map<string, { optional: boolean; default: string | undefined }> {
  const source = ts.createSourceFile(file, readFileSync(join(SRC, file), 'utf8'), ts.ScriptTarget.Latest, true);
  const found = new Map<string, { optional: boolean; default: string | undefined }>();
  const visit = (node: ts.Node) => {
    if (ts.isInterfaceDeclaration(node) && node.name.text === name) {
      for (const member of node.members) {
        if (!ts.isPropertySignature(member)) continue;
        const tag = ts.getJSDocTags(member).find((t) => t.tagName.text === 'default');
        const comment = typeof tag?.comment === 'string' ? tag.comment : tag?.comment?.map((c) => c.text).join('');
        found.set(member.name.getText(source), { optional: member.questionToken !== undefined, default: comment });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  if (!found.size) throw new Error(`no interface ${name} in ${file}`);
  return found;
}

/** The rows of the README table that follows `heading`: option → default, grouped rows (`a` / `b`) split. */
function readmeTable(heading: string): Map<string, string> {
  const start = README.indexOf(heading);
  if (start < 0) throw new Error(`the README has no "${heading}"`);
  const lines = README.slice(start).split('\n').slice(1);
  const first = lines.findIndex((l) => l.startsWith('|'));
  const rows = new Map<string, string>();
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    const [keys, defaults] = line.split(' | ').map((c) => c.replace(/^\| /, ''));
    const names = keys.split(' / ').map((k) => k.replace(/`/g, ''));
    const values = names.length > 1 ? defaults.split(' / ') : [defaults];
    names.forEach((name, i) => rows.set(name, normal(values[i] ?? '')));
  }
  return rows;
}

const shown = (table: object) =>
  Object.fromEntries(Object.entries(table as Record<string, OptionRow>).map(([k, row]) => [k, normal(row.shown)]));
const docDefaults = (docs: Map<string, { optional: boolean; default: string | undefined }>) =>
  Object.fromEntries([...docs].map(([k, d]) => [k, d.optional ? normal(d.default ?? '(no @default)') : 'required']));

describe('option tables, TSDoc and README say the same', () => {
  it('PreloadModule options: the table, the TSDoc @default of PreloadModuleOptions, the README table', () => {
    expect(docDefaults(documented('preload.options.ts', 'PreloadModuleOptions'))).toEqual(shown(PRELOAD_OPTION_TABLE));
    expect(Object.fromEntries(readmeTable('`PreloadModule.forRoot(options)`:'))).toEqual(shown(PRELOAD_OPTION_TABLE));
  });

  it('runCluster options: the tables, the TSDoc @default of SupervisorOptions, AppEntry and RunClusterOptions, the README table', () => {
    const docs = {
      ...docDefaults(documented('supervisor/cluster.options.ts', 'SupervisorOptions')),
      ...docDefaults(documented('app-entry.ts', 'AppEntry')),
      ...docDefaults(documented('cluster.ts', 'RunClusterOptions')),
    };
    const tables = { ...shown(SUPERVISOR_OPTION_TABLE), ...shown(ENTRY_OPTION_TABLE) };
    expect(docs).toEqual(tables);
    expect(Object.fromEntries(readmeTable('`runCluster(options)` (from `@lf/nest-preload/cluster`):'))).toEqual(tables);
  });

  it('the README reader splits grouped rows and the TSDoc reader sees required options (so the checks above can fail)', () => {
    expect(readmeTable('`runCluster(options)`').get('restartWindowMs')).toBe('60000');
    expect(documented('app-entry.ts', 'AppEntry').get('app')).toEqual({ optional: false, default: undefined });
    expect(normal('`a`  b')).toBe('a b');
  });
});

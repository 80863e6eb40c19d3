import type { ComponentInput, ComponentOutput } from '../component.types';

/** List the files of a directory matching extensions. */
export class DirectoryComponent {
  static displayName = 'Directory';
  static description = 'List the files of a directory matching extensions.';
  static category = 'data';
  static inputs: ComponentInput[] = [
    { name: 'path', display_name: 'Path', type: 'str', required: true },
    { name: 'types', display_name: 'File Types', type: 'list', value: ['txt', 'md', 'json'] },
  ];
  static outputs: ComponentOutput[] = [{ name: 'files', display_name: 'Files', types: ['Data'] }];

  run(inputs: Record<string, unknown>): Record<string, unknown> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a component imports what it needs when it runs, as Langflow's do
    const { readdirSync } = require('node:fs') as typeof import('node:fs');
    const types = (inputs.types ?? ['txt', 'md', 'json']) as string[];
    return {
      files: readdirSync(String(inputs.path ?? '.'))
        .filter((f) => types.some((t) => f.endsWith(`.${t}`)))
        .sort(),
    };
  }
}

export const component = DirectoryComponent;

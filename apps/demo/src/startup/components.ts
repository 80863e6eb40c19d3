import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A component definition as bundles ship it. */
export interface ComponentDefinition {
  name: string;
  display_name: string;
  category: string;
  description: string;
  inputs: Array<{ name: string; type: string; display_name: string; required: boolean }>;
  outputs: Array<{ name: string; types: string[] }>;
}

/** The component types index, as `/api/v1/all` serves it: category → component name → template. */
export type TypesIndex = Record<string, Record<string, ComponentDefinition>>;

/** Reads every `*.json` component in `dirs` and builds the index; a bad file fails with its name. */
export async function buildTypesIndex(dirs: string[]): Promise<TypesIndex> {
  const index: TypesIndex = {};
  for (const dir of dirs) {
    for (const file of (await readdir(dir)).filter((f) => f.endsWith('.json')).sort()) {
      const path = join(dir, file);
      let component: ComponentDefinition;
      try {
        component = JSON.parse(await readFile(path, 'utf8')) as ComponentDefinition;
      } catch (error) {
        throw new Error(`component file ${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
      }
      if (typeof component.name !== 'string' || typeof component.category !== 'string' || !Array.isArray(component.inputs)) {
        throw new Error(`component file ${path} lacks a name, a category or inputs`);
      }
      (index[component.category] ??= {})[component.name] = component;
    }
  }
  return index;
}

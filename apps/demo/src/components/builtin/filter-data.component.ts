import type { ComponentInput, ComponentOutput } from '../component.types';

/** Keep only the given keys of a data object. */
export class FilterDataComponent {
  static displayName = 'Filter Data';
  static description = 'Keep only the given keys of a data object.';
  static category = 'processing';
  static inputs: ComponentInput[] = [
    { name: 'data', display_name: 'Data', type: 'data', required: true },
    { name: 'filter_criteria', display_name: 'Keys', type: 'list', required: true, value: [] },
  ];
  static outputs: ComponentOutput[] = [{ name: 'filtered_data', display_name: 'Filtered Data', types: ['Data'] }];

  run(inputs: Record<string, unknown>): Record<string, unknown> {
    const data = (inputs.data ?? {}) as Record<string, unknown>;
    const keys = (inputs.filter_criteria ?? []) as string[];
    return { filtered_data: Object.fromEntries(keys.filter((k) => k in data).map((k) => [k, data[k]])) };
  }
}

export const component = FilterDataComponent;

import type { ComponentInput, ComponentOutput } from '../component.types';

/** Merge several data objects into one. */
export class MergeDataComponent {
  static displayName = 'Merge Data';
  static description = 'Merge several data objects into one.';
  static category = 'processing';
  static inputs: ComponentInput[] = [{ name: 'data_inputs', display_name: 'Data Inputs', type: 'list', required: true, value: [] }];
  static outputs: ComponentOutput[] = [{ name: 'merged_data', display_name: 'Merged Data', types: ['Data'] }];

  run(inputs: Record<string, unknown>): Record<string, unknown> {
    return { merged_data: Object.assign({}, ...((inputs.data_inputs ?? []) as object[])) };
  }
}

export const component = MergeDataComponent;

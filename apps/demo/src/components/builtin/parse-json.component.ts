import type { ComponentInput, ComponentOutput } from '../component.types';

/** Parse a JSON string into data. */
export class ParseJSONComponent {
  static displayName = 'Parse JSON';
  static description = 'Parse a JSON string into data.';
  static category = 'processing';
  static inputs: ComponentInput[] = [{ name: 'json_string', display_name: 'JSON', type: 'str', required: true }];
  static outputs: ComponentOutput[] = [{ name: 'data', display_name: 'Data', types: ['Data'] }];

  run(inputs: Record<string, unknown>): Record<string, unknown> {
    return { data: JSON.parse(String(inputs.json_string ?? 'null')) };
  }
}

export const component = ParseJSONComponent;

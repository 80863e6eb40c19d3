import type { ComponentInput, ComponentOutput } from '../component.types';

/** Check that data has every field of a schema, with the right types. */
export class StructuredOutputComponent {
  static displayName = 'Structured Output';
  static description = 'Check that data has every field of a schema, with the right types.';
  static category = 'helpers';
  static inputs: ComponentInput[] = [
    { name: 'data', display_name: 'Data', type: 'data', required: true },
    { name: 'schema', display_name: 'Schema', type: 'dict', required: true, value: {} },
  ];
  static outputs: ComponentOutput[] = [{ name: 'structured_output', display_name: 'Structured Output', types: ['Data'] }];

  run(inputs: Record<string, unknown>): Record<string, unknown> {
    const data = (inputs.data ?? {}) as Record<string, unknown>;
    const schema = (inputs.schema ?? {}) as Record<string, string>;
    const errors = Object.entries(schema)
      .filter(([k, t]) => typeof data[k] !== t)
      .map(([k, t]) => `${k} must be a ${t}`);
    if (errors.length) throw new Error(errors.join('; '));
    return { structured_output: data };
  }
}

export const component = StructuredOutputComponent;

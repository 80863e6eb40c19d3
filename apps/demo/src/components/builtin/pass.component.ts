import type { ComponentInput, ComponentOutput } from '../component.types';

/** Forward the input unchanged. */
export class PassComponent {
  static displayName = 'Pass';
  static description = 'Forward the input unchanged.';
  static category = 'logic';
  static inputs: ComponentInput[] = [{ name: 'input_value', display_name: 'Input', type: 'data', required: true }];
  static outputs: ComponentOutput[] = [{ name: 'output_value', display_name: 'Output', types: ['Data'] }];

  run(inputs: Record<string, unknown>): Record<string, unknown> {
    return { output_value: inputs.input_value };
  }
}

export const component = PassComponent;

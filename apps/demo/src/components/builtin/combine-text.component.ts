import type { ComponentInput, ComponentOutput } from '../component.types';

/** Concatenate two texts with a delimiter. */
export class CombineTextComponent {
  static displayName = 'Combine Text';
  static description = 'Concatenate two texts with a delimiter.';
  static category = 'processing';
  static inputs: ComponentInput[] = [
    { name: 'first_text', display_name: 'First Text', type: 'str', required: true },
    { name: 'second_text', display_name: 'Second Text', type: 'str', required: true },
    { name: 'delimiter', display_name: 'Delimiter', type: 'str', value: ' ' },
  ];
  static outputs: ComponentOutput[] = [{ name: 'combined_text', display_name: 'Combined Text', types: ['Message'] }];

  run(inputs: Record<string, unknown>): Record<string, unknown> {
    return { combined_text: [inputs.first_text, inputs.second_text].map((t) => String(t ?? '')).join(String(inputs.delimiter ?? ' ')) };
  }
}

export const component = CombineTextComponent;

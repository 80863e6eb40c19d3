import type { ComponentInput, ComponentOutput } from '../component.types';

/** Get text inputs from the Playground. */
export class TextInputComponent {
  static displayName = 'Text Input';
  static description = 'Get text inputs from the Playground.';
  static category = 'inputs';
  static inputs: ComponentInput[] = [{ name: 'input_value', display_name: 'Text', type: 'str', required: true }];
  static outputs: ComponentOutput[] = [{ name: 'text', display_name: 'Text', types: ['Message'] }];

  run(inputs: Record<string, unknown>): Record<string, unknown> {
    return { text: String(inputs.input_value ?? '') };
  }
}

export const component = TextInputComponent;

import type { ComponentInput, ComponentOutput } from '../component.types';

/** Display a text output in the Playground. */
export class TextOutputComponent {
  static displayName = 'Text Output';
  static description = 'Display a text output in the Playground.';
  static category = 'outputs';
  static inputs: ComponentInput[] = [{ name: 'input_value', display_name: 'Text', type: 'str', required: true }];
  static outputs: ComponentOutput[] = [{ name: 'text', display_name: 'Text', types: ['Message'] }];

  run(inputs: Record<string, unknown>): Record<string, unknown> {
    return { text: String(inputs.input_value ?? '') };
  }
}

export const component = TextOutputComponent;

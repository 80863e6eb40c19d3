import type { ComponentInput, ComponentOutput } from '../component.types';

/** Render data into text with a template. */
export class DataToMessageComponent {
  static displayName = 'Data to Message';
  static description = 'Render data into text with a template.';
  static category = 'processing';
  static inputs: ComponentInput[] = [
    { name: 'data', display_name: 'Data', type: 'data', required: true },
    { name: 'template', display_name: 'Template', type: 'str', value: '{text}' },
  ];
  static outputs: ComponentOutput[] = [{ name: 'text', display_name: 'Text', types: ['Message'] }];

  run(inputs: Record<string, unknown>): Record<string, unknown> {
    const data = (inputs.data ?? {}) as Record<string, unknown>;
    return {
      text: String(inputs.template ?? '{text}').replace(/\{(\w+)\}/g, (all, key: string) => (key in data ? String(data[key]) : all)),
    };
  }
}

export const component = DataToMessageComponent;

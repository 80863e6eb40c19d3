import type { ComponentInput, ComponentOutput } from '../component.types';

/** Create a prompt template with dynamic variables. */
export class PromptComponent {
  static displayName = 'Prompt';
  static description = 'Create a prompt template with dynamic variables.';
  static category = 'prompts';
  static inputs: ComponentInput[] = [
    { name: 'template', display_name: 'Template', type: 'str', required: true },
    { name: 'variables', display_name: 'Variables', type: 'dict', value: {} },
  ];
  static outputs: ComponentOutput[] = [{ name: 'prompt', display_name: 'Prompt', types: ['Message'] }];

  run(inputs: Record<string, unknown>): Record<string, unknown> {
    const vars = (inputs.variables ?? {}) as Record<string, unknown>;
    const text = String(inputs.template ?? '').replace(/\{(\w+)\}/g, (all, key: string) => (key in vars ? String(vars[key]) : all));
    return { prompt: text };
  }
}

export const component = PromptComponent;

import type { ComponentInput, ComponentOutput } from '../component.types';

/** Read a value from the shared context of the flow by name. */
export class ListenComponent {
  static displayName = 'Listen';
  static description = 'Read a value from the shared context of the flow by name.';
  static category = 'logic';
  static inputs: ComponentInput[] = [
    { name: 'context', display_name: 'Context', type: 'dict', required: true, value: {} },
    { name: 'name', display_name: 'Name', type: 'str', required: true },
  ];
  static outputs: ComponentOutput[] = [{ name: 'data', display_name: 'Data', types: ['Data'] }];

  run(inputs: Record<string, unknown>): Record<string, unknown> {
    return { data: ((inputs.context ?? {}) as Record<string, unknown>)[String(inputs.name ?? '')] ?? null };
  }
}

export const component = ListenComponent;

import type { ComponentInput, ComponentOutput } from '../component.types';

/** Write a value into the shared context of the flow by name. */
export class NotifyComponent {
  static displayName = 'Notify';
  static description = 'Write a value into the shared context of the flow by name.';
  static category = 'logic';
  static inputs: ComponentInput[] = [
    { name: 'context', display_name: 'Context', type: 'dict', required: true, value: {} },
    { name: 'name', display_name: 'Name', type: 'str', required: true },
    { name: 'input_value', display_name: 'Value', type: 'data' },
  ];
  static outputs: ComponentOutput[] = [{ name: 'context', display_name: 'Context', types: ['Data'] }];

  run(inputs: Record<string, unknown>): Record<string, unknown> {
    return { context: { ...((inputs.context ?? {}) as object), [String(inputs.name ?? '')]: inputs.input_value } };
  }
}

export const component = NotifyComponent;

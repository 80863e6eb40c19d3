import type { ComponentInput, ComponentOutput } from '../component.types';

/** Display a chat message in the Playground. */
export class ChatOutputComponent {
  static displayName = 'Chat Output';
  static description = 'Display a chat message in the Playground.';
  static category = 'outputs';
  static inputs: ComponentInput[] = [
    { name: 'input_value', display_name: 'Text', type: 'message', required: true },
    { name: 'should_store_message', display_name: 'Store Messages', type: 'bool', value: true },
  ];
  static outputs: ComponentOutput[] = [{ name: 'message', display_name: 'Message', types: ['Message'] }];

  run(inputs: Record<string, unknown>): Record<string, unknown> {
    const m = inputs.input_value as { text?: string } | string;
    return { message: { text: typeof m === 'string' ? m : String(m?.text ?? ''), sender: 'Machine' } };
  }
}

export const component = ChatOutputComponent;

import type { ComponentInput, ComponentOutput } from '../component.types';

/** Get chat inputs from the Playground. */
export class ChatInputComponent {
  static displayName = 'Chat Input';
  static description = 'Get chat inputs from the Playground.';
  static category = 'inputs';
  static inputs: ComponentInput[] = [
    { name: 'input_value', display_name: 'Text', type: 'message', required: true },
    { name: 'sender', display_name: 'Sender Type', type: 'str', options: ['User', 'Machine'], value: 'User' },
  ];
  static outputs: ComponentOutput[] = [{ name: 'message', display_name: 'Message', types: ['Message'] }];

  run(inputs: Record<string, unknown>): Record<string, unknown> {
    return { message: { text: String(inputs.input_value ?? ''), sender: String(inputs.sender ?? 'User') } };
  }
}

export const component = ChatInputComponent;

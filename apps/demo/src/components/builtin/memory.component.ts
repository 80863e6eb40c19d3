import type { ComponentInput, ComponentOutput } from '../component.types';

/** Keep the last N messages of a conversation. */
export class MemoryComponent {
  static displayName = 'Message History';
  static description = 'Keep the last N messages of a conversation.';
  static category = 'memories';
  static inputs: ComponentInput[] = [
    { name: 'messages', display_name: 'Messages', type: 'list', required: true, value: [] },
    { name: 'n_messages', display_name: 'Number of Messages', type: 'int', value: 100 },
  ];
  static outputs: ComponentOutput[] = [{ name: 'messages_text', display_name: 'Messages', types: ['Message'] }];

  run(inputs: Record<string, unknown>): Record<string, unknown> {
    const all = (inputs.messages ?? []) as Array<{ sender?: string; text?: string }>;
    return {
      messages_text: all
        .slice(-Number(inputs.n_messages ?? 100))
        .map((m) => `${m.sender ?? 'User'}: ${m.text ?? ''}`)
        .join('\n'),
    };
  }
}

export const component = MemoryComponent;

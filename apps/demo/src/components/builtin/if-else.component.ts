import type { ComponentInput, ComponentOutput } from '../component.types';

/** Route a message by comparing a text with a value. */
export class IfElseComponent {
  static displayName = 'If-Else';
  static description = 'Route a message by comparing a text with a value.';
  static category = 'logic';
  static inputs: ComponentInput[] = [
    { name: 'input_text', display_name: 'Text', type: 'str', required: true },
    { name: 'match_text', display_name: 'Match Text', type: 'str', required: true },
    { name: 'operator', display_name: 'Operator', type: 'str', options: ['equals', 'contains', 'starts with'], value: 'equals' },
  ];
  static outputs: ComponentOutput[] = [
    { name: 'true_result', display_name: 'True', types: ['Message'] },
    { name: 'false_result', display_name: 'False', types: ['Message'] },
  ];

  run(inputs: Record<string, unknown>): Record<string, unknown> {
    const text = String(inputs.input_text ?? '');
    const match = String(inputs.match_text ?? '');
    const op = String(inputs.operator ?? 'equals');
    const hit = op === 'contains' ? text.includes(match) : op === 'starts with' ? text.startsWith(match) : text === match;
    return hit ? { true_result: text } : { false_result: text };
  }
}

export const component = IfElseComponent;

import type { ComponentInput, ComponentOutput } from '../component.types';

/** Count the characters, words and lines of a text. */
export class TextLengthComponent {
  static displayName = 'Text Length';
  static description = 'Count the characters, words and lines of a text.';
  static category = 'processing';
  static inputs: ComponentInput[] = [{ name: 'text', display_name: 'Text', type: 'str', required: true }];
  static outputs: ComponentOutput[] = [{ name: 'stats', display_name: 'Stats', types: ['Data'] }];

  run(inputs: Record<string, unknown>): Record<string, unknown> {
    const text = String(inputs.text ?? '');
    return { stats: { characters: text.length, words: text.split(/\s+/).filter(Boolean).length, lines: text.split('\n').length } };
  }
}

export const component = TextLengthComponent;

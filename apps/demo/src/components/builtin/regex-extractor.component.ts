import type { ComponentInput, ComponentOutput } from '../component.types';

/** Extract every match of a regular expression. */
export class RegexExtractorComponent {
  static displayName = 'Regex Extractor';
  static description = 'Extract every match of a regular expression.';
  static category = 'processing';
  static inputs: ComponentInput[] = [
    { name: 'text', display_name: 'Text', type: 'str', required: true },
    { name: 'pattern', display_name: 'Pattern', type: 'str', required: true },
  ];
  static outputs: ComponentOutput[] = [{ name: 'matches', display_name: 'Matches', types: ['Data'] }];

  run(inputs: Record<string, unknown>): Record<string, unknown> {
    const re = new RegExp(String(inputs.pattern ?? ''), 'g');
    return { matches: [...String(inputs.text ?? '').matchAll(re)].map((m) => m[0]) };
  }
}

export const component = RegexExtractorComponent;

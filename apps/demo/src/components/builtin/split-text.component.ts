import type { ComponentInput, ComponentOutput } from '../component.types';

/** Split text into chunks of a given size, with overlap. */
export class SplitTextComponent {
  static displayName = 'Split Text';
  static description = 'Split text into chunks of a given size, with overlap.';
  static category = 'processing';
  static inputs: ComponentInput[] = [
    { name: 'text', display_name: 'Text', type: 'str', required: true },
    { name: 'chunk_size', display_name: 'Chunk Size', type: 'int', value: 1000 },
    { name: 'chunk_overlap', display_name: 'Chunk Overlap', type: 'int', value: 200 },
  ];
  static outputs: ComponentOutput[] = [{ name: 'chunks', display_name: 'Chunks', types: ['Data'] }];

  run(inputs: Record<string, unknown>): Record<string, unknown> {
    const text = String(inputs.text ?? '');
    const size = Math.max(1, Number(inputs.chunk_size ?? 1000));
    const overlap = Math.min(size - 1, Math.max(0, Number(inputs.chunk_overlap ?? 200)));
    const chunks: string[] = [];
    for (let i = 0; i < text.length; i += size - overlap) chunks.push(text.slice(i, i + size));
    return { chunks };
  }
}

export const component = SplitTextComponent;

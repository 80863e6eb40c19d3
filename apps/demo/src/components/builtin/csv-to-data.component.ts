import type { ComponentInput, ComponentOutput } from '../component.types';

/** Parse CSV text (first line is the header) into rows. */
export class CSVToDataComponent {
  static displayName = 'CSV to Data';
  static description = 'Parse CSV text (first line is the header) into rows.';
  static category = 'data';
  static inputs: ComponentInput[] = [
    { name: 'csv_string', display_name: 'CSV', type: 'str', required: true },
    { name: 'separator', display_name: 'Separator', type: 'str', value: ',' },
  ];
  static outputs: ComponentOutput[] = [{ name: 'rows', display_name: 'Rows', types: ['Data'] }];

  run(inputs: Record<string, unknown>): Record<string, unknown> {
    const sep = String(inputs.separator ?? ',');
    const [header, ...lines] = String(inputs.csv_string ?? '')
      .trim()
      .split(/\r?\n/);
    const keys = (header ?? '').split(sep);
    return { rows: lines.filter(Boolean).map((line) => Object.fromEntries(line.split(sep).map((v, i) => [keys[i] ?? `col${i}`, v]))) };
  }
}

export const component = CSVToDataComponent;

import type { ComponentInput, ComponentOutput } from '../component.types';

/** Return the current date and time in a time zone. */
export class CurrentDateComponent {
  static displayName = 'Current Date';
  static description = 'Return the current date and time in a time zone.';
  static category = 'tools';
  static inputs: ComponentInput[] = [{ name: 'timezone', display_name: 'Time Zone', type: 'str', value: 'UTC' }];
  static outputs: ComponentOutput[] = [{ name: 'current_date', display_name: 'Current Date', types: ['Message'] }];

  run(inputs: Record<string, unknown>): Record<string, unknown> {
    return { current_date: new Date().toLocaleString('en-US', { timeZone: String(inputs.timezone ?? 'UTC') }) };
  }
}

export const component = CurrentDateComponent;

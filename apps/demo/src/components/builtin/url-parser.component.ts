import type { ComponentInput, ComponentOutput } from '../component.types';

/** Split URLs into their parts. */
export class URLParserComponent {
  static displayName = 'URL Parser';
  static description = 'Split URLs into their parts.';
  static category = 'data';
  static inputs: ComponentInput[] = [{ name: 'urls', display_name: 'URLs', type: 'list', required: true, value: [] }];
  static outputs: ComponentOutput[] = [{ name: 'data', display_name: 'Data', types: ['Data'] }];

  run(inputs: Record<string, unknown>): Record<string, unknown> {
    return {
      data: ((inputs.urls ?? []) as string[]).map((u) => {
        const url = new URL(u);
        return { protocol: url.protocol, host: url.host, path: url.pathname, query: Object.fromEntries(url.searchParams) };
      }),
    };
  }
}

export const component = URLParserComponent;

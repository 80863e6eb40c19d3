import type { ComponentInput, ComponentOutput } from '../component.types';

/** Evaluate a basic arithmetic expression (+ - * / and parentheses). */
export class CalculatorComponent {
  static displayName = 'Calculator';
  static description = 'Evaluate a basic arithmetic expression (+ - * / and parentheses).';
  static category = 'tools';
  static inputs: ComponentInput[] = [{ name: 'expression', display_name: 'Expression', type: 'str', required: true }];
  static outputs: ComponentOutput[] = [{ name: 'result', display_name: 'Result', types: ['Data'] }];

  run(inputs: Record<string, unknown>): Record<string, unknown> {
    const expr = String(inputs.expression ?? '');
    if (!/^[\d\s+\-*/().]+$/.test(expr)) throw new Error(`not an arithmetic expression: ${expr}`);
    return { result: Function(`"use strict"; return (${expr});`)() as number };
  }
}

export const component = CalculatorComponent;

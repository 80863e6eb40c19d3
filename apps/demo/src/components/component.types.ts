/** One input field of a component, as the flow editor shows it. */
export interface ComponentInput {
  name: string;
  display_name: string;
  type: 'str' | 'int' | 'float' | 'bool' | 'dict' | 'list' | 'message' | 'data' | 'code';
  required?: boolean;
  value?: unknown;
  options?: string[];
  info?: string;
}

/** One output of a component. */
export interface ComponentOutput {
  name: string;
  display_name: string;
  types: string[];
}

/** What a component module's class must provide (static metadata + a run method). */
export interface ComponentClass {
  new (): { run(inputs: Record<string, unknown>): Record<string, unknown> | Promise<Record<string, unknown>> };
  displayName: string;
  description: string;
  category: string;
  icon?: string;
  inputs: ComponentInput[];
  outputs: ComponentOutput[];
}

/** The node template `/api/v1/all` serves for a component (Langflow's shape). */
export interface ComponentTemplate {
  display_name: string;
  description: string;
  icon: string | null;
  template: Record<string, { type: string; required: boolean; value: unknown; display_name: string; options?: string[]; info?: string }>;
  outputs: ComponentOutput[];
}

/** Builds a component's template from its class. */
export function toTemplate(component: ComponentClass): ComponentTemplate {
  const template: ComponentTemplate['template'] = {};
  for (const input of component.inputs) {
    template[input.name] = {
      type: input.type,
      required: input.required ?? false,
      value: input.value ?? null,
      display_name: input.display_name,
      ...(input.options ? { options: input.options } : {}),
      ...(input.info ? { info: input.info } : {}),
    };
  }
  return {
    display_name: component.displayName,
    description: component.description,
    icon: component.icon ?? null,
    template,
    outputs: component.outputs,
  };
}

/** Throws unless `value` looks like a component class; names the module for the operator. */
export function assertComponentClass(value: unknown, where: string): asserts value is ComponentClass {
  const c = value as ComponentClass;
  const ok =
    typeof c === 'function' &&
    typeof c.displayName === 'string' &&
    typeof c.category === 'string' &&
    Array.isArray(c.inputs) &&
    Array.isArray(c.outputs) &&
    typeof c.prototype?.run === 'function';
  if (!ok) throw new Error(`${where} does not export a component class (static displayName, category, inputs, outputs and a run() method)`);
}

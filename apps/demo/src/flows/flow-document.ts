import { createHash } from 'node:crypto';
import type { ComponentCatalog } from '../components/component-catalog';

/** A flow as files and the API carry it. */
export interface FlowDocument {
  id?: string;
  name: string;
  description?: string | null;
  data: { nodes: Array<{ id: string; type: string; inputs?: Record<string, unknown> }>; edges: Array<{ source: string; target: string }> };
}

/** A flow that cannot be accepted; the message says what is wrong. */
export class FlowError extends Error {
  override name = 'FlowError';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Checks the shape of a flow document; throws FlowError naming the first problem. */
export function parseFlow(value: unknown): FlowDocument {
  const flow = value as FlowDocument;
  if (typeof flow !== 'object' || flow === null || Array.isArray(flow)) throw new FlowError('a flow must be a JSON object');
  if (typeof flow.name !== 'string' || !flow.name.trim() || flow.name.length > 255)
    throw new FlowError('"name" must be a non-empty string of at most 255 characters');
  if (flow.id !== undefined && (typeof flow.id !== 'string' || !UUID.test(flow.id)))
    throw new FlowError('"id", when given, must be a UUID');
  if (flow.description !== undefined && flow.description !== null && typeof flow.description !== 'string')
    throw new FlowError('"description" must be a string');
  const data = flow.data;
  if (typeof data !== 'object' || data === null || !Array.isArray(data.nodes) || !Array.isArray(data.edges ?? [])) {
    throw new FlowError('"data" must be an object with a "nodes" array (and an optional "edges" array)');
  }
  const ids = new Set<string>();
  for (const [i, node] of data.nodes.entries()) {
    if (typeof node?.id !== 'string' || typeof node?.type !== 'string') throw new FlowError(`node #${i} needs a string "id" and "type"`);
    if (ids.has(node.id)) throw new FlowError(`node id ${JSON.stringify(node.id)} is used twice`);
    ids.add(node.id);
  }
  for (const edge of data.edges ?? []) {
    if (!ids.has(edge?.source) || !ids.has(edge?.target))
      throw new FlowError(`edge ${JSON.stringify(edge)} connects a node that does not exist`);
  }
  return { ...flow, data: { nodes: data.nodes, edges: data.edges ?? [] } };
}

/** Every node's component type must exist in the types index (read from its slices, no import). */
export function checkTypesExist(flow: FlowDocument, catalog: ComponentCatalog): void {
  const unknown = flow.data.nodes.filter((n) => !catalog.has(n.type)).map((n) => `${n.id} (${n.type})`);
  if (unknown.length) throw new FlowError(`unknown component type in node(s): ${unknown.join(', ')}`);
}

/**
 * Loads each node's component (its module is imported on first use) and checks that every
 * required input is set or fed by an edge.
 */
export function checkRequiredInputs(flow: FlowDocument, catalog: ComponentCatalog): void {
  const fed = new Set(flow.data.edges.map((e) => e.target));
  const problems: string[] = [];
  for (const node of flow.data.nodes) {
    if (fed.has(node.id)) continue;
    const missing = catalog
      .load(node.type)
      .inputs.filter((input) => input.required && (node.inputs?.[input.name] ?? input.value ?? null) === null);
    if (missing.length) problems.push(`node ${node.id} (${node.type}) needs ${missing.map((m) => m.name).join(', ')}`);
  }
  if (problems.length) throw new FlowError(problems.join('; '));
}

/** A stable UUID derived from a text (for flows whose file has no id). */
export function stableId(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

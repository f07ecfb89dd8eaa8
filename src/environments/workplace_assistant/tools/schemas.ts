/**
 * The tools as the model sees them: upstream's 27 schemas (data/tools.json, the `tools` of NeMo
 * Gym's example rows, byte for byte), a category's subset, and a compact form without
 * descriptions (same names, parameters, types and required lists) for small context windows.
 */
import { readFileSync } from "node:fs";

export interface ToolSchema {
  type: "function";
  name: string;
  description?: string;
  parameters: { type: "object"; properties: Record<string, { type: string; description?: string }>; required: string[]; additionalProperties: boolean };
  strict: boolean;
}

export const TOOL_SCHEMAS: readonly ToolSchema[] = JSON.parse(readFileSync(new URL("../data/tools.json", import.meta.url), "utf8")) as ToolSchema[];

export type Domain = "email" | "calendar" | "analytics" | "project_management" | "customer_relationship_manager";
export const DOMAINS: readonly Domain[] = ["email", "calendar", "analytics", "project_management", "customer_relationship_manager"];

/** `upstream`: as NeMo Gym's rows; `compact`: descriptions dropped (the demo's context is short). */
export type ToolStyle = "upstream" | "compact";

/** The schemas of the given domains' tools (plus the company directory), in upstream's order. */
export function toolsFor(domains: readonly Domain[], style: ToolStyle): ToolSchema[] {
  const all = domains.length === DOMAINS.length;
  const picked = TOOL_SCHEMAS.filter((t) => all || t.name.startsWith("company_directory_") || domains.some((d) => t.name.startsWith(`${d}_`)));
  return style === "upstream" ? picked.map((t) => structuredClone(t)) : picked.map(compact);
}

function compact(t: ToolSchema): ToolSchema {
  const properties = Object.fromEntries(Object.entries(t.parameters.properties).map(([k, v]) => [k, { type: v.type }]));
  return { type: t.type, name: t.name, parameters: { ...t.parameters, properties }, strict: t.strict };
}

/** Responses `tools` item → Chat Completions `tools` item (demonstrations). */
export const chatTool = (t: ToolSchema) => ({ type: "function", function: { name: t.name, ...(t.description === undefined ? {} : { description: t.description }), parameters: t.parameters } });

/** Request sampling fields → engine SamplingParams, with the optional on-policy profile guard. */
import type { SamplingParams } from "../engine/types.ts";
import { badRequest } from "./errors.ts";

/** A (temperature, top_p) pair the trainer optimises under; requests off every profile are refused. */
export interface SamplingProfile {
  name: string;
  temperature: number;
  topP: number;
}

export interface SamplingFields {
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  seed?: number | null;
}

/** OpenAI's defaults: temperature 1, top_p 1. */
export function toSamplingParams(req: SamplingFields, profiles: readonly SamplingProfile[] | undefined): SamplingParams {
  const temperature = req.temperature ?? 1;
  const topP = req.top_p ?? 1;
  const topK = req.top_k ?? -1;
  if (profiles && profiles.length > 0) {
    // Training must sample from the distribution it optimises: top_k would silently change it, and
    // an implicit top_p would come from the server's defaults rather than the trainer's.
    if (topK !== -1 && topK !== 0) throw badRequest("top_k is not allowed under the sampling-profile guard; leave it unset or -1", "top_k");
    if (req.top_p == null) throw badRequest("top_p must be set explicitly under the sampling-profile guard", "top_p");
    const ok = profiles.some((p) => p.temperature === temperature && p.topP === topP);
    if (!ok) {
      const allowed = profiles.map((p) => `${p.name} (temperature=${p.temperature}, top_p=${p.topP})`).join(", ");
      throw badRequest(`sampling (temperature=${temperature}, top_p=${topP}) matches no allowed profile: ${allowed}`, "temperature");
    }
  }
  return { temperature, topP, topK, ...(req.seed != null ? { seed: req.seed } : {}) };
}

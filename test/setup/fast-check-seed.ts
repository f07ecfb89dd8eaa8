/**
 * Property tests run with one fixed seed, so `npm test` (and CI) checks the same cases on every
 * machine and a failure reproduces; GYMRL_FC_SEED=<n> picks another seed, GYMRL_FC_SEED=random a
 * fresh one each run (fast-check prints the seed of a failure). `npm run fuzz` explores the HTTP
 * servers at random.
 */
import fc from "fast-check";

const FIXED_SEED = 20261205;
const asked = process.env.GYMRL_FC_SEED;
if (asked !== "random") {
  const seed = asked === undefined ? FIXED_SEED : Number(asked);
  if (!Number.isInteger(seed)) throw new Error(`GYMRL_FC_SEED must be an integer or "random", got ${asked}`);
  fc.configureGlobal({ ...fc.readConfigureGlobal(), seed });
}

/** Types of eslint.layers.js for the tests that read its table. */
export declare const layers: Record<string, string[]>;
declare const config: unknown[];
export default config;

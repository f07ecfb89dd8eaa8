/**
 * The run viewer in a real headless Chromium (Debian's `chromium`, driven by puppeteer-core; no
 * browser download): a finished demo-sized run loads, the curves have the right number of points,
 * a trajectory opens with the right token count and colours, a live run gains a point when a step
 * is appended (no reload), a damaged run shows what it can and says what is missing, two runs
 * overlay, and the console stays free of errors. Screenshots go to the test's temp dir.
 * Skips only when chromium is absent and GYMRL_REQUIRE_CHROMIUM is unset (CI sets it).
 */
import { execFileSync } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startViewServer, type ViewServer } from "../../src/view/index.ts";
import { GAP, metricsLine, writeFixtureRun, type FixtureRun } from "./fixture-run.ts";
import type { Browser, Page } from "puppeteer-core";

// The page's globals as the callbacks given to page.evaluate / waitForFunction see them (they run
// in the browser); declared here so the node-only tsconfig needs no DOM lib.
interface PageGlobals {
  gymrlView?: { ready: boolean; gapColor(gap: number): string; state: { charts: Map<string, { series: unknown[] }> } };
  notReloaded?: boolean;
}
interface PageNode {
  getAttribute(name: string): string | null;
  textContent: string | null;
  hidden: boolean;
  value: string;
  dispatchEvent(e: Event): boolean;
}
declare const window: PageGlobals;
declare const document: { querySelector(s: string): PageNode | null; querySelectorAll(s: string): { length: number } };
declare function getComputedStyle(e: unknown): { backgroundColor: string };

function findChromium(): string | null {
  for (const name of ["chromium", "chromium-browser"]) {
    try {
      const p = execFileSync("which", [name], { encoding: "utf8" }).trim();
      if (p) return p;
    } catch {
      // not on PATH
    }
  }
  return null;
}

const chromium = findChromium();
const required = !!process.env.GYMRL_REQUIRE_CHROMIUM;
if (!chromium && required) throw new Error("GYMRL_REQUIRE_CHROMIUM is set but no chromium is on PATH (apt-get install chromium)");
if (!chromium) console.warn("test/view/browser.test.ts: SKIPPED: no chromium on PATH (apt-get install -y chromium); set GYMRL_REQUIRE_CHROMIUM=1 to fail instead");

const shots = mkdtempSync(join(tmpdir(), "gymrl-view-shots-"));

describe.skipIf(!chromium)("run viewer in headless Chromium", () => {
  let browser: Browser;
  let run: FixtureRun;
  let server: ViewServer;
  const errors: string[] = [];

  async function open(url: string): Promise<Page> {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 1000 });
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`${url}: ${m.text()}`);
    });
    page.on("pageerror", (e) => errors.push(`${url}: ${String(e)}`));
    page.on("requestfailed", (r) => {
      if (!r.url().endsWith("/api/events")) errors.push(`${url}: request failed ${r.url()}`);
    });
    await page.goto(url);
    await page.waitForFunction(() => window.gymrlView?.ready === true, { timeout: 30_000 });
    return page;
  }

  const points = (page: Page, metric: string) =>
    page.$eval(`.chart[data-metric="${metric}"]`, (e) => Number(e.getAttribute("data-points")));

  beforeAll(async () => {
    const { default: puppeteer } = await import("puppeteer-core");
    browser = await puppeteer.launch({ executablePath: chromium!, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
    run = writeFixtureRun(5);
    server = await startViewServer({ runs: [run.dir], pollMs: 100 });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await browser?.close();
    console.log(`test/view/browser.test.ts: screenshots in ${shots}`);
  });

  it("a finished run: curves with every point, a trajectory token by token in its colours", async () => {
    const page = await open(server.url);
    expect(await points(page, "train/reward")).toBe(5);
    expect(await points(page, "validation/accuracy")).toBe(2); // step 0 and the last step
    expect(await points(page, "train/token_mult_prob_error")).toBe(5);
    // uPlot drew a canvas per chart
    expect(await page.$$eval(".chart canvas", (c) => c.length)).toBeGreaterThanOrEqual(3);
    // the picker holds every metric of the file
    const picker = await page.$$eval("#metric-picker input", (xs) => xs.map((x) => x.getAttribute("data-metric")));
    expect(picker).toEqual(expect.arrayContaining(Object.keys(metricsLine(1)).filter((k) => k !== "step")));

    // the latest step opens with its first rollout expanded
    expect(await page.$eval("#traj-step", (s) => (s as unknown as PageNode).value)).toBe("5");
    const card = await page.$('.rollout[open][data-group="0"][data-rollout="0"]');
    expect(card).not.toBeNull();
    const toks = await card!.$$eval(".sample .tok", (xs) =>
      xs.map((x) => ({ cls: x.className, bg: getComputedStyle(x).backgroundColor, text: x.textContent })),
    );
    expect(toks).toHaveLength(run.tokens.get("0:0")!);
    const ctx = toks.filter((t) => t.cls.includes("ctx"));
    const gen = toks.filter((t) => !t.cls.includes("ctx"));
    expect(gen).toHaveLength(run.sampled.get("0:0")!);
    expect(new Set(ctx.map((t) => t.bg))).toEqual(new Set(["rgb(238, 238, 238)"]));
    // trainer = sampler on every sampled token but the last, GAP (= the scale's top) there
    const [lo, hi] = await page.evaluate((g) => [window.gymrlView!.gapColor(0), window.gymrlView!.gapColor(g)], GAP);
    expect(lo).toBe("rgb(220, 245, 220)");
    expect(hi).toBe("rgb(215, 48, 39)");
    expect(gen.slice(0, -1).every((t) => t.bg === lo)).toBe(true);
    expect(gen[gen.length - 1].bg).toBe(hi);
    expect(toks.map((t) => t.text).join("")).toContain("The answer is 5.");

    // search narrows the list; an environment field shows on the card
    await page.type("#traj-search", "think it is");
    await page.waitForFunction(() => document.querySelectorAll(".rollout").length === 2);
    expect(await page.$eval("#traj-count", (e) => e.textContent)).toBe("2 of 4 rollouts");
    expect(await page.$eval(".rollout[open] .extra", (e) => e.textContent)).toContain("extracted_answer");
    // that rollout called a tool: the call and its output are shown as such
    expect(await page.$eval(".rollout[open] .item.function_call", (e) => e.textContent)).toBe('tool callcalculator({"expr": "0+5"})');
    expect(await page.$eval(".rollout[open] .item.function_call_output", (e) => e.textContent)).toBe("tool output5");
    // a prompt group and an environment narrow the list too
    await page.$eval("#traj-search", (e) => ((e as unknown as PageNode).value = ""));
    await page.select("#traj-group", "1");
    await page.select("#traj-env", "math_agent");
    expect(await page.$$eval(".rollout", (xs) => xs.map((x) => x.getAttribute("data-group")))).toEqual(["1", "1"]);
    await page.select("#traj-group", "");
    await page.type("#traj-search", "think it is");
    await page.waitForFunction(() => document.querySelectorAll(".rollout").length === 2);
    await page.screenshot({ path: join(shots, "finished-run.png"), fullPage: true });
    if (process.env.GYMRL_VIEW_SCREENSHOT) {
      // the README's picture: clear the search first, so the card shows a correct answer
      await page.$eval("#traj-search", (e) => ((e as unknown as PageNode).value = ""));
      await page.$eval("#traj-search", (e) => (e as unknown as PageNode).dispatchEvent(new Event("input")));
      await page.screenshot({ path: process.env.GYMRL_VIEW_SCREENSHOT, fullPage: true });
    }
    await page.close();
  }, 90_000);

  it("a live run gains a curve point when a metrics line is appended, without a reload", async () => {
    const page = await open(server.url);
    await page.evaluate(() => (window.notReloaded = true));
    expect(await points(page, "train/reward")).toBe(5);
    appendFileSync(join(run.dir, "metrics.jsonl"), JSON.stringify(metricsLine(6)) + "\n");
    await page.waitForFunction(() => document.querySelector('.chart[data-metric="train/reward"]')?.getAttribute("data-points") === "6", { timeout: 15_000 });
    expect(await page.evaluate(() => window.notReloaded)).toBe(true);
    expect(await page.$eval("#live", (e) => e.textContent)).toContain("live");
    await page.screenshot({ path: join(shots, "live-run.png") });
    await page.close();
  }, 60_000);

  it("a damaged run shows what it can and says what is missing; two runs overlay", async () => {
    const broken = mkdtempSync(join(tmpdir(), "gymrl-view-broken-"));
    writeFileSync(join(broken, "metrics.jsonl"), [1, 2, 3].map((s) => JSON.stringify(metricsLine(s)) + "\n").join("") + '{"step": 4, "train/rew');
    const two = await startViewServer({ runs: [run.dir, broken] });
    try {
      const page = await open(two.url);
      const problems = await page.$eval("#problems", (e) => ((e as unknown as PageNode).hidden ? "" : e.textContent));
      expect(problems).toMatch(/metrics\.jsonl: the last line is cut/);
      expect(problems).toMatch(/rollouts\/ is missing/);
      // run 0 has steps 1..6, the broken run 1..3: both on one chart
      expect(await points(page, "train/reward")).toBe(6 + 3);
      expect(await page.evaluate(() => window.gymrlView!.state.charts.get("train/reward")!.series.length)).toBe(3);
      // the broken run has no trajectories: the browser says so instead of failing
      await page.select("#traj-run", "1");
      await page.waitForFunction(() => document.querySelector("#trajectories .empty")?.textContent === "no trajectories for this run yet");
      await page.screenshot({ path: join(shots, "damaged-and-overlay.png"), fullPage: true });
      await page.close();
    } finally {
      await two.close();
    }
    expect(existsSync(join(shots, "finished-run.png"))).toBe(true);
  }, 60_000);

  it("no console errors on any page", () => {
    expect(errors).toEqual([]);
  });
});

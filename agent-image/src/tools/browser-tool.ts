// A browser: the image's Chromium driven by playwright-core. One browser and one page per agent,
// started on first use, reused by the next calls (one at a time) and closed after a while unused.
// Actions: open a URL, read the page's text (or an element's), click, fill a field, and save a
// screenshot into the workspace. Every action has a time limit; a page that never loads times out.
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { z } from 'zod';
import type { ToolSettings } from '../config.js';
import { capText, describeError, failed, type Tool, type ToolResult } from './tool.js';
import { Workspace, WorkspaceError } from './workspace.js';

export const BROWSER_LIMITS = {
  defaultTimeoutMs: 15_000,
  maxTimeoutMs: 60_000,
  textChars: 20_000,
  /** The browser closes after this long without a call. */
  idleMs: 120_000,
} as const;

const selector = z.string().min(1, 'selector must not be empty').max(1000);
const timeoutMs = z.number().int().min(100).max(BROWSER_LIMITS.maxTimeoutMs).optional();

export const BrowserInputSchema = z.discriminatedUnion('action', [
  z.strictObject({
    action: z.literal('open'),
    url: z.url({ protocol: /^https?$/, error: 'url must be an http:// or https:// URL' }).max(8192),
    timeoutMs,
  }),
  z.strictObject({ action: z.literal('text'), selector: selector.optional(), timeoutMs }),
  z.strictObject({ action: z.literal('click'), selector, timeoutMs }),
  z.strictObject({ action: z.literal('fill'), selector, value: z.string().max(10_000), timeoutMs }),
  z.strictObject({
    action: z.literal('screenshot'),
    /** Where in the workspace (a .png); `screenshots/<time>.png` by default. */
    path: z.string().min(1).max(1024).optional(),
    fullPage: z.boolean().optional(),
  }),
  z.strictObject({ action: z.literal('close') }),
]);
export type BrowserInput = z.output<typeof BrowserInputSchema>;

/** Chromium's flags in a container: no sandbox (root), no GPU, nothing phoning home. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export class BrowserTool implements Tool<typeof BrowserInputSchema> {
  readonly name = 'browser' as const;
  readonly input = BrowserInputSchema;
  private session: { browser: Browser; context: BrowserContext; page: Page } | undefined;
  private starting: Promise<{ browser: Browser; context: BrowserContext; page: Page }> | undefined;
  /** Calls run one after another on the one page. */
  private queue: Promise<unknown> = Promise.resolve();
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly workspace: Workspace,
    private readonly settings: Pick<ToolSettings, 'chromiumPath' | 'proxy'>,
    private readonly idleMs: number = BROWSER_LIMITS.idleMs,
  ) {}

  action(input: BrowserInput): string {
    return input.action;
  }

  run(input: BrowserInput): Promise<ToolResult> {
    const next = this.queue.then(() => this.perform(input));
    this.queue = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    const session = this.session ?? (await this.starting?.catch(() => undefined));
    this.session = undefined;
    this.starting = undefined;
    await session?.browser.close().catch(() => undefined);
  }

  /** Whether a browser is running now (tests, and the idle close). */
  get running(): boolean {
    return this.session !== undefined;
  }

  private async perform(input: BrowserInput): Promise<ToolResult> {
    clearTimeout(this.idleTimer);
    try {
      if (input.action === 'close') {
        const was = this.running;
        await this.close();
        return { ok: true, output: was ? 'closed the browser' : 'the browser was not open' };
      }
      const { page } = await this.page();
      const limit = ('timeoutMs' in input ? input.timeoutMs : undefined) ?? BROWSER_LIMITS.defaultTimeoutMs;
      switch (input.action) {
        case 'open':
          return await this.openPage(page, input.url, limit);
        case 'text': {
          const text = await page.innerText(input.selector ?? 'body', { timeout: limit });
          const { text: output, truncated } = capText(text.trim(), BROWSER_LIMITS.textChars);
          return { ok: true, output, truncated, data: { url: page.url() } };
        }
        case 'click':
          await page.click(input.selector, { timeout: limit });
          await page.waitForLoadState('domcontentloaded', { timeout: limit }).catch(() => undefined);
          return { ok: true, output: `clicked ${input.selector}; now at ${page.url()}`, data: { url: page.url() } };
        case 'fill':
          await page.fill(input.selector, input.value, { timeout: limit });
          return { ok: true, output: `filled ${input.selector}` };
        case 'screenshot':
          return await this.screenshot(page, input.path, input.fullPage ?? false);
      }
    } catch (error) {
      return failed(this.explain(input, error));
    } finally {
      this.idleTimer = setTimeout(() => void this.close(), this.idleMs);
      this.idleTimer.unref();
    }
  }

  private async openPage(page: Page, url: string, limit: number): Promise<ToolResult> {
    const response = await page.goto(url, { waitUntil: 'domcontentloaded', timeout: limit });
    const status = response?.status() ?? null;
    const title = await page.title().catch(() => '');
    const output = `opened ${page.url()}${status === null ? '' : ` (HTTP ${status})`}${title ? `: ${title}` : ''}`;
    const data = { url: page.url(), status, title };
    if (status !== null && status >= 400) return { ok: false, output, exitCode: status, error: `HTTP ${status}`, data };
    return { ok: true, output, exitCode: status, data };
  }

  private async screenshot(page: Page, path: string | undefined, fullPage: boolean): Promise<ToolResult> {
    const wanted = path ?? `screenshots/${new Date().toISOString().replace(/[:.]/g, '-')}.png`;
    if (!/\.png$/i.test(wanted)) return failed('a screenshot path must end in .png');
    const target = await this.workspace.forWrite(wanted);
    await page.screenshot({ path: target, fullPage });
    const shown = await this.workspace.display(target);
    const { size } = await stat(target);
    return { ok: true, output: `saved ${shown} (${size} bytes) of ${page.url()}`, data: { path: shown, bytes: size } };
  }

  private async page(): Promise<{ browser: Browser; context: BrowserContext; page: Page }> {
    if (this.session?.browser.isConnected()) return this.session;
    this.session = undefined;
    this.starting ??= this.launch();
    try {
      this.session = await this.starting;
      return this.session;
    } finally {
      this.starting = undefined;
    }
  }

  private async launch(): Promise<{ browser: Browser; context: BrowserContext; page: Page }> {
    const { chromiumPath, proxy } = this.settings;
    if (!existsSync(chromiumPath)) throw new Error(`there is no browser at ${chromiumPath} (VILLAGE_CHROMIUM_PATH)`);
    // Loaded on first use: an agent that never browses never loads playwright.
    const { chromium } = await import('playwright-core');
    const server = proxy?.https ?? proxy?.http;
    const browser = await chromium.launch({
      executablePath: chromiumPath,
      args: CHROMIUM_ARGS,
      ...(server ? { proxy: { server, ...(proxy?.noProxy.length ? { bypass: proxy.noProxy.join(',') } : {}) } } : {}),
    });
    browser.once('disconnected', () => {
      if (this.session?.browser === browser) this.session = undefined;
    });
    const context = await browser.newContext({ acceptDownloads: false });
    const page = await context.newPage();
    return { browser, context, page };
  }

  private explain(input: BrowserInput, error: unknown): string {
    if (error instanceof WorkspaceError) return error.message;
    const message = describeError(error);
    if (/Timeout \d+ms exceeded/.test(message)) {
      const what = input.action === 'open' ? `the page ${input.url} did not load` : `${input.action} did not finish`;
      const limit = ('timeoutMs' in input ? input.timeoutMs : undefined) ?? BROWSER_LIMITS.defaultTimeoutMs;
      return `${what} within ${limit} ms`;
    }
    return `${input.action}: ${message}`;
  }
}

/**
 * The set-up the browser tests share: a staff sidecar on a small library with
 * Karin (superlibrarian), headless Chromium, signing in on the real form, and
 * axe-core's verdict on a page. Registers its own before/after hooks.
 */
import { expect } from 'chai';
import type { BrowserContext, Page } from 'playwright-core';
import { openBrowser, seriousAxeProblems, type OpenBrowser } from '../support/browser';
import type { KohaDatabase } from '../support/koha';
import type { SmallLibrary } from '../support/library';
import { startStaffSidecar, type StaffSidecar } from '../integration/web-support';
import type { Running } from '../../sidecar/serve';
import { DEMO_PASSWORD } from '../../sidecar/fixture';

export interface StaffInBrowser {
  readonly db: KohaDatabase;
  readonly lib: SmallLibrary;
  readonly running: Running;
  readonly context: BrowserContext;
  readonly page: Page;
  url(path: string): string;
  /** Signs in on the sign-in form as Karin, from a browser without cookies. */
  signIn(): Promise<void>;
  /** axe-core finds no serious or critical problem on the page. */
  expectAccessible(p?: Page): Promise<void>;
}

export function staffInBrowser(label: string): StaffInBrowser {
  let sidecar: StaffSidecar | undefined;
  let browser: OpenBrowser | undefined;

  before(async () => {
    sidecar = await startStaffSidecar(label, {
      karin: {
        userid: 'karin',
        surname: 'Lindqvist',
        firstname: 'Karin',
        modules: ['superlibrarian'],
        branchcode: 'CPL',
        categorycode: 'PT',
      },
    });
    browser = await openBrowser();
  });

  after(async () => {
    await browser?.close();
    await sidecar?.stop();
  });

  const ready = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`${what} is not started: use it inside a test`);
    return v;
  };
  const world: StaffInBrowser = {
    get db() {
      return ready(sidecar, 'the sidecar').db;
    },
    get lib() {
      return ready(sidecar, 'the sidecar').lib;
    },
    get running() {
      return ready(sidecar, 'the sidecar').running;
    },
    get context() {
      return ready(browser, 'the browser').context;
    },
    get page() {
      return ready(browser, 'the browser').page;
    },
    url: (path) => `${world.running.url}${path}`,
    async signIn() {
      const { context, page } = world;
      await context.clearCookies();
      await page.goto(world.url('/signin'));
      await page.getByLabel('User name or card number').fill('karin');
      await page.getByLabel('Password').fill(DEMO_PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForLoadState('load');
    },
    async expectAccessible(p) {
      const on = p ?? world.page;
      expect(await seriousAxeProblems(on), on.url()).to.deep.equal([]);
    },
  };
  return world;
}

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { commandExists, ensureSystemPackages } from '../../scripts/s3-server.js';

/**
 * Headless Chromium (Debian package `chromium`), installed with apt when missing and we are root.
 * Resolves to why it is unavailable, or undefined when it runs.
 */
export async function ensureChromium(): Promise<string | undefined> {
  try {
    await ensureSystemPackages(['chromium']);
  } catch (error) {
    return `chromium could not be installed: ${error instanceof Error ? error.message : String(error)}`;
  }
  if (!commandExists('chromium')) return 'chromium is not on PATH after installation';
  const version = await chromium(['--version'], 30_000).catch((error: unknown) => error);
  return typeof version === 'string' ? undefined : `chromium does not start: ${String(version)}`;
}

/** Renders a local HTML file as a phone would (412x915): the DOM after layout, and a screenshot. */
export async function renderPage(htmlFile: string, screenshot: string): Promise<{ dom: string }> {
  const profile = mkdtempSync(join(tmpdir(), 'tlm-chromium-'));
  const common = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-dev-shm-usage',
    '--hide-scrollbars',
    // The page must need no network: any lookup fails.
    '--host-resolver-rules=MAP * ~NOTFOUND',
    `--user-data-dir=${profile}`,
    '--window-size=412,915',
  ];
  try {
    const url = pathToFileURL(htmlFile).href;
    await chromium([...common, `--screenshot=${screenshot}`, url], 90_000);
    const dom = await chromium([...common, '--dump-dom', url], 90_000);
    return { dom };
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

function chromium(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('chromium', args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`chromium ${args.at(-1)}: ${error.message}\n${stderr.slice(-2000)}`));
      else resolve(stdout);
    });
  });
}

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import { s3Server } from '../helpers/s3.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** `npm run demo | cat`: what a user who pipes the demo into a file or a pager reads. */
describe.skipIf(!inject('ffmpegAvailable'))('npm run demo into a pipe', () => {
  it('prints no terminal escape codes and no warning, and ends well', { timeout: 300_000 }, async () => {
    const s3 = s3Server();
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, TLM_TEST_S3_ENDPOINT: s3.endpoint, TLM_TEST_S3_ACCESS_KEY: s3.accessKeyId, TLM_TEST_S3_SECRET_KEY: s3.secretAccessKey };
    const child = spawn(fileURLToPath(new URL('node_modules/.bin/tsx', `file://${root}/`)), ['scripts/demo.ts'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, output).toBe(0);
    expect(output).toMatch(/== Done: \d+ tasks created, 0 duplicates/);
    expect(output.includes('\u001b')).toBe(false);
    expect(output).not.toMatch(/Warning/);
  });
});

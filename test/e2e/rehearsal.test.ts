import { spawn, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { collect } from '../helpers/cli.js';
import { s3Server } from '../helpers/s3.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The ```sh blocks of one README section, each as its lines. */
function shellBlocks(readme: string, heading: string): string[][] {
  const start = readme.indexOf(`\n## ${heading}\n`);
  if (start === -1) throw new Error(`README has no section "${heading}"`);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => (m[1] ?? '').split('\n').filter((line) => line.trim() !== ''));
}

/** A checkout of this tree as git would give it (tracked and new files, nothing ignored), with node_modules linked. */
function cleanCheckout(into: string): void {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root }).toString('utf8').split('\0').filter(Boolean);
  for (const file of files) {
    if (file === 'node_modules' || !existsSync(join(root, file))) continue;
    mkdirSync(dirname(join(into, file)), { recursive: true });
    copyFileSync(join(root, file), join(into, file));
  }
  symlinkSync(join(root, 'node_modules'), join(into, 'node_modules'));
}

/** A simulator the script started and did not stop (it failed half-way) is stopped here. */
function stopLeftSimulator(stateFile: string): void {
  if (!existsSync(stateFile)) return;
  const { pid } = JSON.parse(readFileSync(stateFile, 'utf8')) as { pid: number };
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // already gone
  }
}

/**
 * README "Rehearse before you spend credits", run line by line on a clean checkout: first the
 * install steps of "Install and configure" (`npm link` into a private prefix), then the rehearsal.
 * Only what cannot run here is stood in for, by a shell function in front of npm: `npm install`
 * (no network in tests: node_modules is linked from this tree) and the S3 server lines (the test
 * run's S3 server is already up; `s3:env` prints its variables). Everything else runs as written.
 */
describe('README: rehearse before you spend credits', () => {
  it('the install steps and the rehearsal run as written, and the rehearsal shows what the README says', { timeout: 300_000 }, async () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const [install] = shellBlocks(readme, 'Install and configure');
    const [rehearsal] = shellBlocks(readme, 'Rehearse before you spend credits');
    expect(install?.[0]).toMatch(/^npm install && npm run build && npm link/);
    expect(rehearsal?.length).toBeGreaterThan(8);

    const work = mkdtempSync(join(process.env['TLM_TEST_TMPDIR'] ?? '/tmp', 'tlm-rehearsal-'));
    const checkout = join(work, 'tlmigrate');
    const prefix = join(work, 'prefix');
    const temp = join(work, 'tmp');
    for (const dir of [checkout, prefix, temp]) mkdirSync(dir, { recursive: true });
    cleanCheckout(checkout);

    const s3 = s3Server();
    const bucket = `tlm-rehearsal-${Date.now().toString(36)}`;
    const lines = [...(install?.slice(0, 2) ?? []), ...(rehearsal ?? [])].map((line) => line.replace(/^export BUCKET=rehearsal /, `export BUCKET=${bucket} `));
    const script = [
      'npm() {',
      '  if [ "$1" = install ]; then echo "(test: node_modules linked, no network)"; return 0; fi',
      '  case "$*" in',
      '    "run s3:start"|"run s3:stop") echo "(test: the S3 server of the test run)"; return 0;;',
      `    "run -s s3:env") printf '%s\\n' 'export AWS_ACCESS_KEY_ID=${s3.accessKeyId}' 'export AWS_SECRET_ACCESS_KEY=${s3.secretAccessKey}' 'export AWS_ENDPOINT_URL_S3=${s3.endpoint}' 'export AWS_REGION=${s3.region}'; return 0;;`,
      '  esac',
      '  command npm "$@"',
      '}',
      ...lines.flatMap((line, i) => [`echo "::line ${i}" >&2; echo "::line ${i}"`, line, `echo "::code ${i} $?"`]),
    ].join('\n');
    writeFileSync(join(work, 'rehearsal.sh'), script);

    const env = {
      PATH: `${join(prefix, 'bin')}:${process.env.PATH ?? ''}`,
      HOME: process.env.HOME,
      TMPDIR: temp,
      npm_config_prefix: prefix,
      npm_config_update_notifier: 'false',
      npm_config_fund: 'false',
      npm_config_audit: 'false',
      TLMIGRATE_SIM_PORT: '0',
      TLMIGRATE_SIM_STATE: join(work, 'sim.json'),
      TLM_TEST_TMPDIR: work,
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    const child = spawn('bash', [join(work, 'rehearsal.sh')], { cwd: checkout, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const result = await collect(child, 280_000).finally(() => stopLeftSimulator(join(work, 'sim.json')));
    const out = (i: number) => result.stdout.split(`::line ${i}\n`)[1]?.split('::code ')[0] ?? '';
    const codes = [...result.stdout.matchAll(/::code (\d+) (\d+)/g)].map((m) => [lines[Number(m[1])], Number(m[2])]);
    const at = (pattern: RegExp) => lines.findIndex((line) => pattern.test(line));

    const verifyLine = at(/^tlmigrate verify/);
    expect(codes, result.stderr).toEqual(lines.map((line, i) => [line, i === verifyLine ? 1 : 0]));
    expect(out(at(/^tlmigrate plan/))).toMatch(/^Plan: 6 to upload .*, 0 already indexed, 1 will fail preflight \(1 video_duration_too_short\), 1 duplicate in source, 1 excluded\./);
    expect(out(verifyLine)).toMatch(/: 8 objects expected \(1 excluded\), 6 indexed once, 1 covered by a duplicate key, 0 missing, 0 in progress, 1 failed, 0 duplicated;/);
    const rehearsalDir = readdirSync(temp).map((name) => join(temp, name)).find((dir) => existsSync(join(dir, 'plan.json')));
    expect(rehearsalDir && readdirSync(rehearsalDir)).toEqual(expect.arrayContaining(['plan.html', 'plan.json', 'run.html', 'tlmigrate-state.json']));
    expect(existsSync(join(work, 'sim.json'))).toBe(false);
  });
});

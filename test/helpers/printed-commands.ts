import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { CLI, collect, type CliResult } from './cli.js';

/**
 * Commands tlmigrate prints for the user to run next, and running them exactly as printed: the
 * command is the rest of its line, after the line's indentation or after `: ` (`Review it, then:
 * tlmigrate apply 'my plan.json'`). A command printed any other way (inside parentheses, followed
 * by prose) is not found here, which a test that counts the commands it expects notices.
 */
const COMMAND_LINE = /(?:^[ \t]*|:[ \t]+)(tlmigrate[ \t]+(?:plan|apply|migrate|status|logs|report|verify|dedupe)(?:[ \t].*)?)$/gm;

/** Every command line in `output`, as printed. */
export function printedCommands(output: string): string[] {
  return [...output.matchAll(COMMAND_LINE)].map((m) => m[1] ?? '');
}

/** A folder with a `tlmigrate` executable (the built CLI), to put first on PATH. */
export function tlmigrateBin(): string {
  const bin = mkdtempSync(join(process.env['TLM_TEST_TMPDIR'] ?? tmpdir(), 'tlm-bin-'));
  const script = join(bin, 'tlmigrate');
  writeFileSync(script, `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
  chmodSync(script, 0o755);
  return bin;
}

/** Runs one printed command with `sh -c`, from `cwd`, with `tlmigrate` on PATH: as a user pasting it would. */
export function runPrinted(command: string, options: { cwd: string; env: Record<string, string | undefined>; bin: string; timeoutMs?: number }): Promise<CliResult> {
  const env = { HOME: process.env.HOME, AWS_EC2_METADATA_DISABLED: 'true', ...options.env, PATH: `${options.bin}${delimiter}${process.env.PATH ?? ''}` };
  const child = spawn('sh', ['-c', command], { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  return collect(child, options.timeoutMs ?? 120_000);
}

/** What a test keeps of a run printed command: enough to say why it did not run. */
export interface PrintedRun {
  command: string;
  code: number | null;
  stderr: string;
}

/**
 * Finds the commands in `output` and runs each, in order. A command that ran exits 0 or 1 (done,
 * or done with failed items); 2 is a usage or configuration error, 127 a command the shell could
 * not find: the caller asserts on the codes it expects.
 */
export async function runAllPrinted(output: string, options: { cwd: string; env: Record<string, string | undefined>; bin: string }): Promise<PrintedRun[]> {
  const runs: PrintedRun[] = [];
  for (const command of printedCommands(output)) {
    const result = await runPrinted(command, options);
    runs.push({ command, code: result.code, stderr: result.stderr });
  }
  return runs;
}

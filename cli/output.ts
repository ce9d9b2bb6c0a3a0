/** Data a command prints: text for people by default, `-o json` or `-o yaml` for programs. */
import { toYaml } from '../generator/util/yaml.ts';
import type { OutputFormat } from './args.ts';
import type { Io } from './commands.ts';

/** Prints `data` as JSON or YAML, or calls `text` for the people's format. */
export function printData(io: Io, output: OutputFormat, data: unknown, text: () => void): void {
  if (output === 'json') io.stdout(`${JSON.stringify(data, null, 2)}\n`);
  else if (output === 'yaml') io.stdout(toYaml(data, { lineWidth: 0 }));
  else text();
}

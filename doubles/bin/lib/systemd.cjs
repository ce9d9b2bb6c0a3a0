/**
 * The part of systemd the systemctl TEST DOUBLE reproduces: how a service's definition is found,
 * loaded and run. Sources (systemd/systemd, man/systemd.unit.xml, man/systemd.service.xml,
 * man/systemd.exec.xml, man/systemctl.xml):
 *   - a unit file is looked up in /etc/systemd/system, /run/systemd/system, /usr/local/lib/systemd/system,
 *     /usr/lib/systemd/system and /lib/systemd/system, the first directory winning;
 *   - drop-ins `<unit>.d/*.conf` from all those directories are applied after the unit file in
 *     file-name order (a name in a higher-priority directory masks the same name below);
 *   - an empty `ExecStart=` clears the list, so a drop-in can replace the command line;
 *   - `Environment=` / `EnvironmentFile=` (a leading "-" makes a missing file fine) give the variables
 *     `$VAR` (split into words) and `${VAR}` (one word) expand to in ExecStart; environment files are
 *     read when the service starts;
 *   - systemd keeps the definition it loaded (at boot or `daemon-reload`); files changed later take
 *     effect only after `daemon-reload` and a (re)start; until then systemctl warns that the unit
 *     "changed on disk";
 *   - a running service keeps the command line it was started with; `start` on a running service
 *     does nothing, `restart` stops and starts it with the loaded definition.
 * State (below the test root): .doubles/systemctl.json.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const c = require('./common.cjs');

const UNIT_DIRS = [
  '/etc/systemd/system',
  '/run/systemd/system',
  '/usr/local/lib/systemd/system',
  '/usr/lib/systemd/system',
  '/lib/systemd/system',
];

function stateFile() {
  return path.join(c.testRoot(), '.doubles', 'systemctl.json');
}

function readState() {
  let s = {};
  try {
    s = JSON.parse(fs.readFileSync(stateFile(), 'utf8'));
  } catch {}
  return { active: [], enabled: [], disabled: [], loaded: {}, running: {}, ...s };
}

function saveState(s) {
  fs.mkdirSync(path.dirname(stateFile()), { recursive: true });
  fs.writeFileSync(stateFile(), JSON.stringify(s, null, 2));
}

const unitName = (u) => (u.includes('.') ? u : `${u}.service`);
const shortName = (u) => u.replace(/\.service$/, '');

/** The unit's files as they are on disk now: { path: content }, unit file first, then drop-ins in order; null when no unit file. */
function diskDefinition(unit) {
  const name = unitName(unit);
  const main = UNIT_DIRS.map((d) => `${d}/${name}`).find((p) => c.hostExists(p));
  if (!main) return null;
  const dropins = new Map();
  for (const d of [...UNIT_DIRS].reverse()) {
    for (const f of c.hostList(`${d}/${name}.d`)) if (f.endsWith('.conf')) dropins.set(f, `${d}/${name}.d/${f}`);
  }
  const files = { [main]: c.readHostFile(main) ?? '' };
  for (const f of [...dropins.keys()].sort()) files[dropins.get(f)] = c.readHostFile(dropins.get(f)) ?? '';
  return files;
}

/** Every unit with a unit file on disk (what `daemon-reload` loads). */
function diskUnits() {
  const units = new Set();
  for (const d of UNIT_DIRS) for (const f of c.hostList(d)) if (f.endsWith('.service')) units.add(shortName(f));
  return [...units];
}

function sameDefinition(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The [Service] settings that matter here, from a definition's files in order. */
function serviceSettings(files) {
  let execStart = [];
  const environment = [];
  const environmentFiles = [];
  for (const text of Object.values(files)) {
    let section = '';
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (!line || line.startsWith('#') || line.startsWith(';')) continue;
      const sec = /^\[(.+)\]$/.exec(line);
      if (sec) {
        section = sec[1];
        continue;
      }
      if (section !== 'Service') continue;
      const eq = line.indexOf('=');
      if (eq < 0) continue;
      const key = line.slice(0, eq).trim();
      const value = line.slice(eq + 1).trim();
      if (key === 'ExecStart') execStart = value === '' ? [] : [...execStart, value];
      else if (key === 'Environment') environment.push(...splitQuoted(value));
      else if (key === 'EnvironmentFile') environmentFiles.push(value);
    }
  }
  return { execStart, environment, environmentFiles };
}

/** Whitespace-separated words, double quotes grouping (enough for unit files). */
function splitQuoted(value) {
  const words = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (let m = re.exec(value); m; m = re.exec(value)) words.push(m[1] ?? m[2]);
  return words;
}

function parseEnvFile(text) {
  const env = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) env[m[1]] = m[2].replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1');
  }
  return env;
}

/** The command line and environment a start runs with, from a loaded definition (environment files read now). */
function startCommand(files) {
  const s = serviceSettings(files);
  const env = {};
  for (const a of s.environment) {
    const eq = a.indexOf('=');
    if (eq > 0) env[a.slice(0, eq)] = a.slice(eq + 1);
  }
  for (const spec of s.environmentFiles) {
    const optional = spec.startsWith('-');
    const file = optional ? spec.slice(1) : spec;
    const text = c.readHostFile(file);
    if (text === null) {
      if (optional) continue;
      return { error: `Failed to load environment files: ${file}` };
    }
    Object.assign(env, parseEnvFile(text));
  }
  if (s.execStart.length === 0) return { error: 'Service has no ExecStart= setting' };
  if (s.execStart.length > 1)
    return { error: 'Service has more than one ExecStart= setting, which is only allowed for Type=oneshot services' };
  const argv = [];
  for (const word of splitQuoted(s.execStart[0].replace(/^[-@:+!]+/, ''))) {
    const whole = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(word);
    const split = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(word);
    if (whole) argv.push(env[whole[1]] ?? '');
    else if (split) argv.push(...(env[split[1]] ?? '').split(/\s+/).filter(Boolean));
    else argv.push(word.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, v) => env[v] ?? ''));
  }
  return { argv, env };
}

/** What the running service was started with, or null. */
function running(unit) {
  return readState().running[shortName(unit)] ?? null;
}

module.exports = { readState, saveState, diskDefinition, diskUnits, sameDefinition, startCommand, running, unitName, shortName };

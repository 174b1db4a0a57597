// Loads the shipped defaults and the admin's override file, merges them key by
// key (maps merge, lists and scalars replace: the fail2ban jail.conf /
// jail.local model) and validates the result.

import { lstatSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isCollection, parseDocument, visit } from 'yaml';
import { ConfigError } from '../errors.js';
import type { LoadedConfig } from './config-types.js';
import { validateConfig } from './validate-config.js';

/** The shipped defaults, inside the package: never edited by the admin. */
export const DEFAULT_RULES_FILE = fileURLToPath(new URL('../../../rules/default.yaml', import.meta.url));
/** Where the admin's file is looked for when --config is not given. Its absence is not an error. */
export const DEFAULT_LOCAL_FILE = '/etc/sipwall/sipwall.yaml';
/** A config file larger than this is refused unread: no real rules file comes near it. */
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/** Reads and parses one YAML file into a plain object; errors name the file (and line when YAML says). */
export function readYamlFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new ConfigError(file, '', 'is not a regular file');
    if (st.size > MAX_CONFIG_BYTES) throw new ConfigError(file, '', `is ${st.size} bytes; at most ${MAX_CONFIG_BYTES} accepted`);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError(file, '', e.code === 'ENOENT' ? 'no such file' : `cannot be read: ${e.message}`);
  }
  // uniqueKeys: a key given twice is a mistake the admin wants to hear about.
  // maxAliasCount bounds alias expansion ("billion laughs").
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true, strict: true });
  // Warnings too: an unknown tag (`!whatever [...]`) or directive would
  // otherwise be dropped without a word, and the value read as if untagged.
  const first = doc.errors[0] ?? doc.warnings[0];
  if (first !== undefined) {
    const where = first.linePos?.[0] ? `line ${first.linePos[0].line}: ` : '';
    throw new ConfigError(file, '', `invalid YAML: ${where}${first.message.split('\n')[0]}`);
  }
  // `%YAML 1.1` switches to YAML 1.1's scalars, where yes, on and 0777 mean
  // other things than the documentation's YAML 1.2 ("strict: yes" turns strict
  // mode on there, and is refused as text here).
  if (doc.directives?.yaml.explicit === true) {
    throw new ConfigError(file, '', `invalid YAML: a %YAML directive (version ${doc.directives.yaml.version}); sipwall reads YAML 1.2: remove the line`);
  }
  // A key that is a list or a map (`? [a, b]`) has no meaning here; toJS would
  // turn it into text with a warning on stderr.
  let complexKey = false;
  visit(doc, {
    Pair(_, pair) {
      if (isCollection(pair.key)) {
        complexKey = true;
        return visit.BREAK;
      }
      return undefined;
    },
  });
  if (complexKey) throw new ConfigError(file, '', 'invalid YAML: a key that is a list or a map; keys are names');
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 50 });
  } catch (err) {
    throw new ConfigError(file, '', `invalid YAML: ${(err as Error).message}`);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(file, '', 'must be a map of keys at the top level');
  return value as Record<string, unknown>;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Maps merge recursively; anything else in `over` replaces what is in `base`. */
export function mergeConfig(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = Object.hasOwn(out, k) ? out[k] : undefined;
    // defineProperty, not assignment: a key named __proto__ stays an own key
    // (which validation then refuses) instead of changing the prototype.
    Object.defineProperty(out, k, { value: isMap(b) && isMap(v) ? mergeConfig(b, v) : v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * How many leading parts of a key path exist in obj. A key may itself hold
 * dots (`rateLimits.register.limit: 5`, which validation refuses): at each
 * level the longest run of parts that is a key there is taken.
 */
function depthIn(obj: Record<string, unknown>, path: string): number {
  const parts = path.replace(/\[\d+\]/g, '').split('.');
  let cur: unknown = obj;
  let i = 0;
  while (i < parts.length && isMap(cur)) {
    let j = parts.length;
    while (j > i && !Object.hasOwn(cur, parts.slice(i, j).join('.'))) j--;
    if (j === i) break;
    cur = cur[parts.slice(i, j).join('.')];
    i = j;
  }
  return i;
}

export interface LoadOptions {
  /** The admin's file. undefined: DEFAULT_LOCAL_FILE if it exists. null: defaults only. */
  configFile?: string | null;
  /** Shipped defaults (tests point this elsewhere). */
  defaultsFile?: string;
  /** Where the admin's file is looked for when configFile is undefined (tests point this elsewhere). */
  localDefaultFile?: string;
}

export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const defaultsFile = opts.defaultsFile ?? DEFAULT_RULES_FILE;
  const defaults = readYamlFile(defaultsFile);
  let localFile: string | null = null;
  if (opts.configFile === undefined) {
    // Only a file that is not there means "defaults alone". One that is
    // there but cannot be read (permissions, a symlink loop, a directory)
    // is the admin's configuration all the same: running without it would
    // drop their trusted trunks and secret hosts without a word.
    // lstat: a symlink to a file that is gone (an unmounted volume) is there too.
    const local = opts.localDefaultFile ?? DEFAULT_LOCAL_FILE;
    let exists = true;
    try {
      lstatSync(local);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') exists = false; // no local file: defaults alone are a valid setup
    }
    if (exists) localFile = local;
  } else {
    localFile = opts.configFile;
  }
  const local = localFile === null ? {} : readYamlFile(localFile);
  const merged = mergeConfig(defaults, local);
  const warnings: string[] = [];
  const config = validateConfig(merged, {
    // Blame the file that reaches deepest into the key: a new rule missing
    // its `match` is the admin's doing even though `match` is in neither.
    fileFor: (path) => {
      const dl = depthIn(local, path);
      return localFile !== null && dl > 0 && dl >= depthIn(defaults, path) ? localFile : defaultsFile;
    },
    isDefaults: (file) => file === defaultsFile && file !== localFile,
    warnings,
  });
  if (config.secretHosts.length === 0) {
    warnings.push('no secretHosts configured: no source can earn trust by naming a secret host, and strict mode would drop every untrusted request');
  }
  if (config.strict && config.secretHosts.length === 0) {
    throw new ConfigError(localFile ?? defaultsFile, 'strict', 'strict mode needs at least one entry in secretHosts');
  }
  return { config, files: localFile === null ? [defaultsFile] : [defaultsFile, localFile], warnings };
}

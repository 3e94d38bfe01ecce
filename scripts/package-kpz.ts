/**
 * `npm run package:kpz [-- --out DIR]`: builds the Koha plugin
 * dist/koha-plugin-message-center-<version>.kpz from plugin-manifest/.
 *
 * A .kpz is a plain zip holding Koha/Plugin/Org/KohaMessageCenter.pm and its
 * folder. The zip is written here (deflate from node:zlib, CRC-32 by hand),
 * so packaging needs neither a zip package nor a zip program. The plugin's
 * {PLACEHOLDERS} are filled from manifest.json and package.json, and the
 * checked manifest goes into the plugin folder as manifest.json: that is the
 * page list the plugin reads.
 */
import fs from 'node:fs';
import path from 'node:path';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import { KmcError } from '../sidecar/errors';

export const REPO_ROOT = path.resolve(__dirname, '..');
export const PLUGIN_CLASS = 'Koha::Plugin::Org::KohaMessageCenter';
const PLUGIN_FILE = 'Koha/Plugin/Org/KohaMessageCenter.pm';
const PLUGIN_FOLDER = 'Koha/Plugin/Org/KohaMessageCenter/';

export type PageArea = 'tools' | 'administration' | 'patron_tab';
export const PAGE_AREAS: readonly PageArea[] = ['tools', 'administration', 'patron_tab'];

export interface ManifestPage {
  id: string;
  title: string;
  path: string;
  /**
   * Any one of these Koha permissions opens the page, each written as Koha's
   * own checks take it: { module: 'code' } (that sub-permission, or the whole
   * module), { module: '*' } (any of the module), { module: 1 } (the whole module).
   */
  permission: Array<Record<string, string | 1>>;
  shows: PageArea;
}

export interface Manifest {
  name: string;
  title: string;
  description: string;
  baseUrl: string;
  launch: { path: string; tokenLifetimeSeconds: number };
  toggle: { table: 'plugin_data'; pluginClass: string; key: '__ENABLED__' };
  plugin: {
    class: string;
    name: string;
    author: string;
    dateAuthored: string;
    minimumKohaVersion: string;
    maximumKohaVersion: string | null;
  };
  pages: ManifestPage[];
}

/** The manifest is wrong: the message names the field. */
export class ManifestError extends KmcError {
  constructor(message: string) {
    super('KMC_MANIFEST_INVALID', `plugin-manifest/manifest.json: ${message}`);
    this.name = 'ManifestError';
  }
}

/** The packaging itself failed (a missing file, a placeholder left over, a broken zip). */
export class PackageError extends KmcError {
  constructor(message: string) {
    super('KMC_PACKAGE_FAILED', message);
    this.name = 'PackageError';
  }
}

const KOHA_VERSION = /^\d{2}\.\d{2}\.\d{2}\.\d{3}$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

function text(obj: Record<string, unknown>, key: string, where: string, shape?: RegExp): string {
  const v = obj[key];
  if (typeof v !== 'string' || v.trim() === '') throw new ManifestError(`${where}${key} must be a non-empty text`);
  if (shape && !shape.test(v)) throw new ManifestError(`${where}${key} "${v}" does not match ${shape}`);
  return v;
}

function object(v: unknown, where: string): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new ManifestError(`${where} must be an object`);
  return v as Record<string, unknown>;
}

/** Checks the manifest as parsed JSON; the error names the first wrong field. */
export function validateManifest(raw: unknown): Manifest {
  const m = object(raw, 'the manifest');
  const baseUrl = text(m, 'baseUrl', '', /^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/);
  if (baseUrl.endsWith('/')) throw new ManifestError('baseUrl must not end with /');
  const launch = object(m.launch, 'launch');
  const launchPath = text(launch, 'path', 'launch.', /^\/[A-Za-z0-9_\-/]*$/);
  if (launch.tokenLifetimeSeconds !== 120)
    throw new ManifestError('launch.tokenLifetimeSeconds must be 120, as the launch token contract says');
  const toggle = object(m.toggle, 'toggle');
  if (toggle.table !== 'plugin_data' || toggle.key !== '__ENABLED__')
    throw new ManifestError("toggle must name plugin_data and the key __ENABLED__ (Koha's own plugin toggle)");
  const plugin = object(m.plugin, 'plugin');
  const pluginClass = text(plugin, 'class', 'plugin.');
  if (pluginClass !== PLUGIN_CLASS || toggle.pluginClass !== PLUGIN_CLASS) {
    throw new ManifestError(`plugin.class and toggle.pluginClass must both be ${PLUGIN_CLASS} (the Perl module's package name)`);
  }
  const max = plugin.maximumKohaVersion;
  if (max !== null && (typeof max !== 'string' || !KOHA_VERSION.test(max)))
    throw new ManifestError('plugin.maximumKohaVersion must be null or like 24.11.00.000');
  if (!Array.isArray(m.pages) || m.pages.length === 0) throw new ManifestError('pages must be a non-empty list');

  const seen = new Set<string>();
  const pages = m.pages.map((p, i): ManifestPage => {
    const page = object(p, `pages[${i}]`);
    const id = text(page, 'id', `pages[${i}].`, /^[a-z][a-z0-9_]*$/);
    const where = `page ${id}: `;
    if (seen.has(id)) throw new ManifestError(`${where}the id is used twice`);
    seen.add(id);
    const pagePath = text(page, 'path', where, /^\/(?!\/)[A-Za-z0-9_\-./{}]*$/);
    for (const [, name] of pagePath.matchAll(/\{([^}]*)\}/g)) {
      if (name !== 'borrowernumber') throw new ManifestError(`${where}the path may only hold {borrowernumber}, not {${name}}`);
    }
    const shows = page.shows;
    if (!PAGE_AREAS.includes(shows as PageArea)) throw new ManifestError(`${where}shows must be one of ${PAGE_AREAS.join(', ')}`);
    if ((shows === 'patron_tab') !== pagePath.includes('{borrowernumber}')) {
      throw new ManifestError(`${where}a patron tab, and only a patron tab, has {borrowernumber} in its path`);
    }
    if (!Array.isArray(page.permission) || page.permission.length === 0) {
      throw new ManifestError(`${where}permission must be a list of Koha permissions, any one of which opens the page`);
    }
    const permission = page.permission.map<Record<string, string | 1>>((alternative, k) => {
      const entries = Object.entries(object(alternative, `${where}permission[${k}]`));
      const [module, code] = entries[0] ?? [];
      if (entries.length !== 1 || !/^[a-z_]+$/.test(module) || !(code === 1 || (typeof code === 'string' && /^(\*|[a-z_]+)$/.test(code)))) {
        throw new ManifestError(
          `${where}permission[${k}] must be one Koha permission, e.g. { "tools": "edit_notices" }, { "tools": "*" } or { "tools": 1 }`,
        );
      }
      return { [module]: code };
    });
    return { id, title: text(page, 'title', where), path: pagePath, permission, shows: shows as PageArea };
  });
  if (pages.filter((p) => p.shows === 'patron_tab').length > 1) throw new ManifestError('at most one page may show as the patron tab');

  return {
    name: text(m, 'name', ''),
    title: text(m, 'title', ''),
    description: text(m, 'description', ''),
    baseUrl,
    launch: { path: launchPath, tokenLifetimeSeconds: 120 },
    toggle: { table: 'plugin_data', pluginClass: PLUGIN_CLASS, key: '__ENABLED__' },
    plugin: {
      class: PLUGIN_CLASS,
      name: text(plugin, 'name', 'plugin.'),
      author: text(plugin, 'author', 'plugin.'),
      dateAuthored: text(plugin, 'dateAuthored', 'plugin.', DAY),
      minimumKohaVersion: text(plugin, 'minimumKohaVersion', 'plugin.', KOHA_VERSION),
      maximumKohaVersion: max,
    },
    pages,
  };
}

export function readManifest(file = path.join(REPO_ROOT, 'plugin-manifest', 'manifest.json')): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ManifestError(`cannot be read as JSON (${(err as Error).message})`);
  }
  return validateManifest(raw);
}

// ---------------------------------------------------------------- zip

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 as zip uses it (IEEE 802.3, reflected). */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export interface ZipInput {
  /** Forward slashes; a folder ends with '/'. */
  name: string;
  data?: Buffer;
}

export interface ZipEntry {
  name: string;
  isDirectory: boolean;
  method: 'stored' | 'deflate';
  compressedSize: number;
  data: Buffer;
}

function dosDateTime(d: Date): { time: number; date: number } {
  const year = Math.max(1980, d.getUTCFullYear());
  return {
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | Math.floor(d.getUTCSeconds() / 2),
    date: ((year - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  };
}

const UTF8_NAMES = 0x0800;

/** A zip with every entry at `modified`: deflated where that is smaller, else stored. */
export function createZip(inputs: ZipInput[], modified: Date): Buffer {
  if (inputs.length > 0xffff) throw new PackageError('too many files for a plain zip');
  const { time, date } = dosDateTime(modified);
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  const names = new Set<string>();
  for (const input of inputs) {
    const isDirectory = input.name.endsWith('/');
    if (!input.name || input.name.startsWith('/') || input.name.includes('\\') || input.name.split('/').includes('..')) {
      throw new PackageError(`a zip entry cannot be named "${input.name}"`);
    }
    if (names.has(input.name)) throw new PackageError(`the zip entry ${input.name} is there twice`);
    names.add(input.name);
    const data = isDirectory ? Buffer.alloc(0) : (input.data ?? Buffer.alloc(0));
    const deflated = data.length ? deflateRawSync(data, { level: 9 }) : data;
    const useDeflate = deflated.length < data.length;
    const body = useDeflate ? deflated : data;
    const name = Buffer.from(input.name, 'utf8');
    const crc = crc32(data);

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0 (deflate, folders)
    local.writeUInt16LE(UTF8_NAMES, 6);
    local.writeUInt16LE(useDeflate ? 8 : 0, 8);
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, name, body);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, so the modes below count
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(UTF8_NAMES, 8);
    central.writeUInt16LE(useDeflate ? 8 : 0, 10);
    central.writeUInt16LE(time, 12);
    central.writeUInt16LE(date, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    // extra length, comment length, disk number, internal attributes: all 0
    const mode = isDirectory ? 0o40755 : 0o100644;
    central.writeUInt32LE(((mode << 16) | (isDirectory ? 0x10 : 0)) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);

    offset += local.length + name.length + body.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(inputs.length, 8);
  end.writeUInt16LE(inputs.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** Reads a zip back from its central directory, inflating and checking each entry's CRC. */
export function readZip(zip: Buffer): ZipEntry[] {
  let end = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      end = i;
      break;
    }
  }
  if (end < 0) throw new PackageError('not a zip: no end of central directory');
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const entries: ZipEntry[] = [];
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new PackageError(`broken zip: central directory entry ${n} is missing`);
    const flags = zip.readUInt16LE(at + 8);
    const method = zip.readUInt16LE(at + 10);
    const crc = zip.readUInt32LE(at + 16);
    const compressedSize = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const localAt = zip.readUInt32LE(at + 42);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    at += 46 + nameLength + extraLength + commentLength;

    if (flags & 1) throw new PackageError(`${name}: encrypted entries are not read`);
    if (method !== 0 && method !== 8) throw new PackageError(`${name}: compression method ${method} is not read`);
    if (zip.readUInt32LE(localAt) !== 0x04034b50) throw new PackageError(`${name}: its local header is missing`);
    const localName = zip.toString('utf8', localAt + 30, localAt + 30 + zip.readUInt16LE(localAt + 26));
    if (localName !== name) throw new PackageError(`${name}: the local header names ${localName}`);
    const start = localAt + 30 + zip.readUInt16LE(localAt + 26) + zip.readUInt16LE(localAt + 28);
    const body = zip.subarray(start, start + compressedSize);
    const data = method === 8 ? inflateRawSync(body) : Buffer.from(body);
    if (data.length !== size || crc32(data) !== crc) throw new PackageError(`${name}: size or CRC does not match`);
    entries.push({ name, isDirectory: name.endsWith('/'), method: method === 8 ? 'deflate' : 'stored', compressedSize, data });
  }
  return entries;
}

// ---------------------------------------------------------------- plugin

function perlSingleQuoted(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
}

function day(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** SOURCE_DATE_EPOCH (seconds) pins the date for reproducible builds, as elsewhere. */
export function buildDate(env: NodeJS.ProcessEnv = process.env, now = new Date()): Date {
  const epoch = env.SOURCE_DATE_EPOCH;
  if (epoch === undefined || epoch === '') return now;
  if (!/^\d+$/.test(epoch)) throw new PackageError(`SOURCE_DATE_EPOCH must be whole seconds, got "${epoch}"`);
  return new Date(Number(epoch) * 1000);
}

/** Fills the plugin module's {PLACEHOLDERS}; any left over stop the build. */
export function fillPluginModule(source: string, manifest: Manifest, version: string, built: Date): string {
  const values: Record<string, string> = {
    VERSION: version,
    NAME: manifest.plugin.name,
    AUTHOR: manifest.plugin.author,
    DESCRIPTION: manifest.description,
    DATE_AUTHORED: manifest.plugin.dateAuthored,
    DATE_UPDATED: day(built),
    MINIMUM_VERSION: manifest.plugin.minimumKohaVersion,
  };
  // No upper limit is Perl's undef, not a text.
  let out = source.replace(
    /'\{MAXIMUM_VERSION\}'/g,
    manifest.plugin.maximumKohaVersion === null ? 'undef' : `'${manifest.plugin.maximumKohaVersion}'`,
  );
  out = out.replace(/'\{([A-Z][A-Z_]*)\}'/g, (whole, key: string) => (key in values ? `'${perlSingleQuoted(values[key])}'` : whole));
  const left = out.match(/'\{[A-Z][A-Z_]*\}'/);
  if (left) throw new PackageError(`${PLUGIN_FILE}: no value for the placeholder ${left[0]}`);
  return out;
}

function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.') || entry.name.endsWith('~')) continue;
    const rel = prefix + entry.name;
    if (entry.isDirectory()) out.push(...listFiles(path.join(dir, entry.name), rel + '/'));
    else if (entry.isFile()) out.push(rel);
  }
  return out;
}

export interface BuildOptions {
  repoRoot?: string;
  outDir?: string;
  built?: Date;
}

export interface BuildResult {
  file: string;
  version: string;
  entries: string[];
}

/** Builds the .kpz and returns where it is and what it holds. */
export function buildKpz(options: BuildOptions = {}): BuildResult {
  const root = options.repoRoot ?? REPO_ROOT;
  const outDir = options.outDir ?? path.join(root, 'dist');
  const built = options.built ?? buildDate();
  const manifest = readManifest(path.join(root, 'plugin-manifest', 'manifest.json'));
  const version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version?: unknown }).version;
  if (typeof version !== 'string' || !/^\d+\.\d+\.\d+$/.test(version))
    throw new PackageError(`package.json: version must be like 1.2.3, got ${String(version)}`);

  const sourceDir = path.join(root, 'plugin-manifest', 'koha-plugin');
  const files = listFiles(sourceDir).filter((f) => f !== PLUGIN_FOLDER + 'manifest.json');
  if (!files.includes(PLUGIN_FILE)) throw new PackageError(`plugin-manifest/koha-plugin/${PLUGIN_FILE} is missing`);

  const contents = new Map<string, Buffer>();
  for (const f of files) {
    const data = fs.readFileSync(path.join(sourceDir, f));
    contents.set(f, f === PLUGIN_FILE ? Buffer.from(fillPluginModule(data.toString('utf8'), manifest, version, built), 'utf8') : data);
  }
  contents.set(PLUGIN_FOLDER + 'manifest.json', Buffer.from(JSON.stringify(manifest, null, 2) + '\n', 'utf8'));

  const folders = new Set<string>();
  for (const f of contents.keys()) {
    const parts = f.split('/');
    for (let i = 1; i < parts.length; i++) folders.add(parts.slice(0, i).join('/') + '/');
  }
  const inputs: ZipInput[] = [
    ...[...folders].sort().map((name) => ({ name })),
    ...[...contents.keys()].sort().map((name) => ({ name, data: contents.get(name) })),
  ];
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `koha-plugin-message-center-${version}.kpz`);
  // Written aside and renamed, so a reader never sees half a zip.
  const partial = `${file}.${process.pid}.partial`;
  fs.writeFileSync(partial, createZip(inputs, built));
  fs.renameSync(partial, file);
  return { file, version, entries: inputs.map((i) => i.name) };
}

if (require.main === module) {
  try {
    const { values } = parseArgs({ args: process.argv.slice(2), options: { out: { type: 'string' } } });
    const result = buildKpz({ outDir: values.out ? path.resolve(values.out) : undefined });
    const entries = readZip(fs.readFileSync(result.file));
    process.stdout.write(`built ${path.relative(process.cwd(), result.file) || result.file} (${entries.length} entries)\n`);
    for (const e of entries) process.stdout.write(`  ${e.name}${e.isDirectory ? '' : `  ${e.data.length} bytes`}\n`);
  } catch (err) {
    const e = err as { message?: string; code?: string };
    process.stderr.write(`package:kpz: ${e.message ?? String(err)}${e.code ? ` [${e.code}]` : ''}\n`);
    process.exit(1);
  }
}

/**
 * The compiled sidecar runs from `npm ci --omit=dev`: every package its code
 * loads at run time must be a production dependency, and no development tool
 * (tsx, TypeScript) may be one.
 */
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sourceFiles(path.join(dir, e.name))
      : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')
        ? [path.join(dir, e.name)]
        : [],
  );
}

/** Packages a file loads when it runs: imports that are not type-only, and require() calls. */
function runtimePackages(text: string): string[] {
  const specifiers = [
    ...[...text.matchAll(/^import\s+(?!type\s)[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1]),
    ...[...text.matchAll(/^import\s+'([^']+)'/gm)].map((m) => m[1]),
    ...[...text.matchAll(/require\('([^']+)'\)/g)].map((m) => m[1]),
  ];
  return specifiers
    .filter((s) => !s.startsWith('.') && !s.startsWith('node:') && !builtinModules.includes(s))
    .map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]));
}

describe('the build: what production installs', () => {
  it('every package the sidecar loads at run time is a production dependency', () => {
    const used = new Map<string, string>();
    for (const file of sourceFiles(path.join(ROOT, 'sidecar'))) {
      for (const name of runtimePackages(readFileSync(file, 'utf8'))) used.set(name, path.relative(ROOT, file));
    }
    expect(used.size).to.be.greaterThan(5);
    for (const [name, file] of used) expect(pkg.dependencies, `${name} (loaded by ${file})`).to.have.property(name);
  });

  it('tsx and TypeScript are development dependencies only; bin/kmc runs the compiled code with plain node', () => {
    for (const tool of ['tsx', 'typescript']) {
      expect(pkg.dependencies).to.not.have.property(tool);
      expect(pkg.devDependencies).to.have.property(tool);
    }
    const bin = readFileSync(path.join(ROOT, 'bin', 'kmc'), 'utf8');
    expect(bin.split('\n')[0]).to.equal('#!/usr/bin/env node');
    expect(bin).to.contain("path.join(__dirname, '..', 'dist', 'sidecar', 'cli.js')");
    expect(bin).to.not.match(/require\(['"]tsx/);
  });
});

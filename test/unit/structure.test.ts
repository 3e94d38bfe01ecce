/**
 * The shape of the code tree the house style asks for: every capability
 * folder under sidecar/ has an index.ts that only exports (others use the
 * capability through it; dependency-cruiser checks that) and a README.md
 * glossary in the library's words.
 */
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const SIDECAR = path.resolve(__dirname, '../../sidecar');

function capabilityFolders(): string[] {
  return readdirSync(SIDECAR)
    .map((name) => path.join(SIDECAR, name))
    .filter((p) => statSync(p).isDirectory());
}

function indexFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...indexFiles(p));
    else if (name === 'index.ts') out.push(p);
  }
  return out;
}

/** The statements of a file that are not export declarations (`export { … } from`, `export type { … }`). */
export function statementsBesidesExports(source: string, fileName = 'index.ts'): string[] {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.ES2022, true);
  return file.statements.filter((s) => !ts.isExportDeclaration(s)).map((s) => s.getText(file).split('\n')[0] ?? '');
}

describe('the code tree', () => {
  it('every capability folder has an index.ts and a README.md glossary', () => {
    const missing = capabilityFolders().flatMap((dir) =>
      ['index.ts', 'README.md'].filter((f) => !existsSync(path.join(dir, f))).map((f) => `${path.relative(SIDECAR, dir)}/${f}`),
    );
    expect(missing).to.deep.equal([]);
  });

  it('every index.ts only exports', () => {
    const offenders = capabilityFolders()
      .flatMap(indexFiles)
      .flatMap((file) => statementsBesidesExports(readFileSync(file, 'utf8')).map((s) => `${path.relative(SIDECAR, file)}: ${s}`));
    expect(offenders).to.deep.equal([]);
  });

  it('the check itself tells logic from exports', () => {
    expect(statementsBesidesExports("export { a } from './a';\nexport type { B } from './b';")).to.deep.equal([]);
    expect(statementsBesidesExports("import { a } from './a';\nexport function f() { return a; }")).to.have.length(2);
    expect(statementsBesidesExports('const x = 1;\nexport { x };')).to.deep.equal(['const x = 1;']);
  });
});

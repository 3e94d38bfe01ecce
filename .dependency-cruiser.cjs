/**
 * Structure checks run by `npm test`: no import cycles (type-only imports
 * included), and other folders reach a capability only through its index.ts.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'An import cycle ties capabilities together; move the shared piece to the kernel.',
      from: { path: '^sidecar/' },
      to: { circular: true },
    },
    {
      name: 'capability-through-index',
      severity: 'error',
      comment: 'Another capability is used only through what its index.ts exports.',
      from: { path: '^sidecar/([^/]+)/' },
      to: { path: '^sidecar/[^/]+/.', pathNot: ['^sidecar/$1/', '^sidecar/[^/]+/index\\.ts$'] },
    },
    {
      name: 'root-through-index',
      severity: 'error',
      comment: 'The composition root and the command line use capabilities through their index.ts too.',
      from: { path: '^sidecar/[^/]+\\.ts$' },
      to: { path: '^sidecar/[^/]+/.', pathNot: '^sidecar/[^/]+/index\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};

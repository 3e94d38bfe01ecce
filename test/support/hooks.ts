import { dropAllScratchDatabases } from './db';

export const mochaHooks = {
  async afterAll(this: unknown) {
    await dropAllScratchDatabases();
  },
};

// The demo: a demo library, capture sinks and the server in one command.
export { DEMO_DATABASE_URL, runDemo, startDemo, type Demo } from './demo';
export { seedDemoDatabase, type SeedRequest } from './seed';

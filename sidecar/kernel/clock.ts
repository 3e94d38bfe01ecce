/** The one source of "now": passed in everywhere, so tests and runs can move time. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/**
 * The render budget: how much work one render of a notice template may do.
 *
 * The safety check keeps templates away from code, but a template that passes
 * it can still multiply work: loops inside loops over a long list, or filters
 * chained so that each one makes the text longer. Every render of a notice
 * template (preview and runs alike) gets a budget of loop rounds, of text made
 * by filters and output, and of time; the first one exceeded stops the render
 * with a RenderBudgetExceeded naming it, long before the server notices.
 *
 * Nunjucks renders synchronously, so the budget of the render under way is
 * kept in one module variable while it runs.
 */
import { TemplateError } from '../errors';

export const RENDER_BUDGET = {
  /** Rounds of all {% for %} loops together. */
  loopRounds: 10_000,
  /** Characters one filter may give back. */
  filterOutput: 100_000,
  /** Characters of filter results and output together. */
  output: 2_000_000,
  /** Milliseconds of rendering. */
  milliseconds: 300,
} as const;

/** A render stopped by its budget: the template, not the data or the server, is at fault. */
export class RenderBudgetExceeded extends TemplateError {
  constructor(template: string, reason: string) {
    super(`Notice template "${template}": ${reason}`, { template, reason });
    this.name = 'RenderBudgetExceeded';
  }
}

export class RenderBudget {
  private rounds = 0;
  private produced = 0;
  private readonly deadline: number;
  /** The stop that ended the render, so it survives nunjucks wrapping it. */
  exceeded: RenderBudgetExceeded | null = null;

  constructor(private readonly template: string) {
    this.deadline = performance.now() + RENDER_BUDGET.milliseconds;
  }

  loopRound(): void {
    this.rounds++;
    if (this.rounds > RENDER_BUDGET.loopRounds) this.stop(`more than ${RENDER_BUDGET.loopRounds} loop rounds`);
    this.checkClock();
  }

  /** Text a filter gave back. */
  filterResult(filter: string, value: unknown): void {
    const length = lengthOf(value);
    if (length > RENDER_BUDGET.filterOutput) {
      this.stop(`the filter "${filter}" made more than ${RENDER_BUDGET.filterOutput} characters`);
    }
    this.output(length);
  }

  /** Text printed, or a filter's result. */
  output(length: number): void {
    this.produced += length;
    if (this.produced > RENDER_BUDGET.output) this.stop(`more than ${RENDER_BUDGET.output} characters of text`);
    this.checkClock();
  }

  private checkClock(): void {
    if (performance.now() > this.deadline) this.stop(`more than ${RENDER_BUDGET.milliseconds} ms of rendering`);
  }

  private stop(what: string): never {
    this.exceeded = new RenderBudgetExceeded(this.template, `rendering stopped: the template exceeds its render budget (${what})`);
    throw this.exceeded;
  }
}

function lengthOf(value: unknown): number {
  if (typeof value === 'string') return value.length;
  // nunjucks' SafeString is an object with the length of its text.
  const length = typeof value === 'object' && value !== null ? (value as { length?: unknown }).length : undefined;
  return typeof length === 'number' ? length : 0;
}

let active: RenderBudget | null = null;

/** The budget of the render under way, if any. */
export function activeBudget(): RenderBudget | null {
  return active;
}

/** Runs `render` with `budget` as the budget under way. */
export function withBudget<T>(budget: RenderBudget, render: () => T): T {
  const outer = active;
  active = budget;
  try {
    return render();
  } finally {
    active = outer;
  }
}

// When a host's step may start. A host whose activation has ended is counting down its confirm
// window on the target; a busy deployer must never make it miss that window. So:
// - while any host waits for its confirmation, no other host starts a connection, a copy or an
//   activation (its health checks and confirmation go first);
// - at most `maxActivations` hosts are between the start of their activation and their final
//   answer, so the confirmations that come due together stay few.
// The priority lasts until the host's confirmation has ended or its window has passed (then the
// host rolls itself back whatever the deployer does, so holding others back helps no one).

/** What a gated step is: starting work on a host, or activating it (also takes a permit). */
export type GateKind = "start" | "activate";

/** The bounds of a {@linkcode DeployScheduler}. */
export interface ScheduleOptions {
  /** Hosts at once between activation start and final answer. */
  maxActivations: number;
}

interface Waiter {
  host: string;
  kind: GateKind;
  resolve: () => void;
}

/** The deploy's gate for connection, copy and activation steps (see the module comment). */
export class DeployScheduler {
  readonly #maxActivations: number;
  readonly #awaitingConfirmation = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #activating = new Set<string>();
  #waiters: Waiter[] = [];

  constructor(options: ScheduleOptions) {
    if (!Number.isInteger(options.maxActivations) || options.maxActivations < 1) {
      throw new RangeError(`maxActivations must be a whole number ≥ 1`);
    }
    this.#maxActivations = options.maxActivations;
  }

  /** Resolves once `host` may start a step of `kind` (at once when nothing stands in the way). */
  admit(host: string, kind: GateKind): Promise<void> {
    if (this.#waiters.length === 0 && this.#mayStart(host, kind)) {
      this.#take(host, kind);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#waiters.push({ host, kind, resolve });
      this.#wake();
    });
  }

  /**
   * The host's activation has ended and its confirm window of `windowSeconds` runs: until
   * {@linkcode settled} or the window's end, the host's remaining steps go first.
   */
  windowOpened(host: string, windowSeconds: number): void {
    const timer = setTimeout(() => {
      this.#awaitingConfirmation.delete(host);
      this.#wake();
    }, windowSeconds * 1000);
    const previous = this.#awaitingConfirmation.get(host);
    if (previous !== undefined) clearTimeout(previous);
    this.#awaitingConfirmation.set(host, timer);
  }

  /** The host's deploy has its final answer (or ended otherwise): it holds nothing any more. */
  settled(host: string): void {
    const timer = this.#awaitingConfirmation.get(host);
    if (timer !== undefined) clearTimeout(timer);
    this.#awaitingConfirmation.delete(host);
    this.#activating.delete(host);
    this.#wake();
  }

  /** The bound on hosts between activation and answer. */
  get maxActivations(): number {
    return this.#maxActivations;
  }

  /** How many hosts wait for their confirmation now (for progress and tests). */
  get awaitingConfirmation(): number {
    return this.#awaitingConfirmation.size;
  }

  /** How many steps wait for the gate now. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Why a step of `kind` for `host` would wait now, or undefined when it would start at once. */
  waitReason(host: string, kind: GateKind): "confirmations first" | "activation slot" | undefined {
    if (this.#heldByWindow(host)) return "confirmations first";
    if (this.#waiters.length === 0 && this.#mayStart(host, kind)) return undefined;
    return this.#hasPermit(host, kind) ? "confirmations first" : "activation slot";
  }

  #mayStart(host: string, kind: GateKind): boolean {
    return !this.#heldByWindow(host) && this.#hasPermit(host, kind);
  }

  /** Another host waits for its confirmation (a host's own window never holds it back). */
  #heldByWindow(host: string): boolean {
    for (const other of this.#awaitingConfirmation.keys()) if (other !== host) return true;
    return false;
  }

  /** A step of `kind` needs no activation permit, or `host` has one, or one is free. */
  #hasPermit(host: string, kind: GateKind): boolean {
    return kind !== "activate" || this.#activating.has(host) ||
      this.#activating.size < this.#maxActivations;
  }

  #take(host: string, kind: GateKind): void {
    if (kind === "activate") this.#activating.add(host);
  }

  /** Lets through, in arrival order, every waiter that may start (a later one may pass one blocked by the activation bound). */
  #wake(): void {
    const still: Waiter[] = [];
    for (const waiter of this.#waiters) {
      if (this.#mayStart(waiter.host, waiter.kind)) {
        this.#take(waiter.host, waiter.kind);
        waiter.resolve();
      } else {
        still.push(waiter);
      }
    }
    this.#waiters = still;
  }
}

/** The schedule as --dry-run shows it, before the steps. */
export function describeSchedule(parallel: number, maxActivations: number): string {
  return `schedule: up to ${parallel} host(s) at once, at most ${maxActivations} between ` +
    "activation and answer; once a host has activated, no other host starts a connection, " +
    "copy or activation until it has its answer (or its confirm window has passed)";
}

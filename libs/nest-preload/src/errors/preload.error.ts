/** Base class of every error this library throws: a stable `code` (like Node's `ERR_*`) and `cause`. */
export class PreloadError extends Error {
  constructor(
    message: string,
    /** Stable, documented error code; match on this, not on the message. */
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Options, environment or the step plan are invalid. Raised before anything is forked or run. */
export class PreloadConfigError extends PreloadError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_PRELOAD_CONFIG', options);
  }
}

/** A startup lock could not be taken within its timeout. */
export class LockTimeoutError extends PreloadError {
  constructor(
    message: string,
    readonly lockName: string,
    /** How long it waited. */
    readonly timeoutMs: number,
  ) {
    super(message, 'ERR_PRELOAD_LOCK_TIMEOUT');
  }
}

/** The connection a database lock needs could not be opened (PostgreSQL unreachable, refused). */
export class LockConnectError extends PreloadError {
  constructor(
    message: string,
    readonly lockName: string,
    options?: { cause?: unknown },
  ) {
    super(message, 'ERR_PRELOAD_LOCK_CONNECT', options);
  }
}

/** A startup lock was lost (stale takeover, deleted lock dir) while its holder was working. */
export class LockCompromisedError extends PreloadError {
  constructor(
    message: string,
    readonly lockName: string,
    options?: { cause?: unknown },
  ) {
    super(message, 'ERR_PRELOAD_LOCK_COMPROMISED', options);
  }
}

/** A critical step failed: the preload (or a standalone start-up) cannot go on. */
export class CriticalStepError extends PreloadError {
  constructor(
    message: string,
    readonly step: string,
    options?: { cause?: unknown },
  ) {
    super(message, 'ERR_PRELOAD_CRITICAL_STEP', options);
  }
}

/** A step's result was asked for where it does not exist. */
export class ResultUnavailableError extends PreloadError {
  constructor(message: string) {
    super(message, 'ERR_PRELOAD_RESULT_UNAVAILABLE');
  }
}

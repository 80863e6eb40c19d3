/**
 * An external cache client (Redis, Memcached, …) whose connection must not outlive the process
 * that opened it. Providers that extend this class are found by the module and torn down before
 * the preloader exits and when the app shuts down (Langflow's cache `teardown()`).
 */
export abstract class ExternalCache {
  /** Closes the connection. Must be idempotent and bounded in time. */
  abstract teardown(): Promise<void>;
}

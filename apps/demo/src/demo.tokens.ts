/** DI token of the demo's {@link DemoConfig}. */
export const DEMO_CONFIG = Symbol('DEMO_CONFIG');
/** DI token of the demo's cache. */
export const DEMO_CACHE = Symbol('DEMO_CACHE');

/** `@lf/nest-preload/terminus`: the health indicator (needs `@nestjs/terminus`). */
export { PreloadHealthIndicator, PreloadHealthModule, statusOnly } from './health/preload.health';

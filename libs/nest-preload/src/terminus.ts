/** `@lf/nest-preload/terminus`: the health indicator (needs `@nestjs/terminus`). */
export { PreloadHealthIndicator, PreloadHealthModule } from './health/preload.health';

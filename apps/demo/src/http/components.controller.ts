import { Controller, Get, Header, StreamableFile } from '@nestjs/common';
import { ComponentCatalog } from '../components/component-catalog';

const DEMO_VERSION = '0.1.0';

@Controller('api/v1')
export class ComponentsController {
  constructor(private readonly catalog: ComponentCatalog) {}

  /** A light endpoint (no database, no index): what serving costs without the app's work, for benchmarks. */
  @Get('version')
  version(): { version: string; pid: number } {
    return { version: DEMO_VERSION, pid: process.pid };
  }

  /**
   * The component types index, built once by `types_cached`. Sent as the stored bytes, never
   * re-serialized: in a preloaded worker they stream from the hand-over file (page cache).
   */
  @Get('all')
  @Header('content-type', 'application/json; charset=utf-8')
  all(): StreamableFile {
    return new StreamableFile(this.catalog.types().stream('all'));
  }
}

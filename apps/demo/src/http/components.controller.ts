import { Controller, Get, Header, StreamableFile } from '@nestjs/common';
import { ComponentCatalog } from '../components/component-catalog';

@Controller('api/v1')
export class ComponentsController {
  constructor(private readonly catalog: ComponentCatalog) {}

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

import { PreloadService } from '@lf/nest-preload';
import { Controller, Get } from '@nestjs/common';
import type { TypesIndex } from '../startup/components';

@Controller('api/v1')
export class ComponentsController {
  constructor(private readonly preload: PreloadService) {}

  /** The component types index, built once by the `types_cached` step. */
  @Get('all')
  all(): TypesIndex {
    return this.preload.result<TypesIndex>('types_cached');
  }
}

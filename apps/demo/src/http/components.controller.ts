import { Controller, Get, Header, Req, Res, StreamableFile } from '@nestjs/common';
import { ComponentCatalog } from '../components/component-catalog';

const DEMO_VERSION = '0.1.0';

/** The parts of Express's request and response this controller uses (the demo runs on platform-express). */
interface Negotiating {
  acceptsEncodings(...encodings: string[]): string | false;
}
interface Headed {
  setHeader(name: string, value: string): unknown;
}

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
   * re-serialized: in a preloaded worker they stream from the hand-over file (page cache). A
   * client that accepts gzip (every browser) gets the `all.gz` slice, compressed once at build
   * time, never per request; any other gets the plain JSON.
   */
  @Get('all')
  @Header('content-type', 'application/json; charset=utf-8')
  @Header('vary', 'Accept-Encoding')
  all(@Req() req: Negotiating, @Res({ passthrough: true }) res: Headed): StreamableFile {
    const types = this.catalog.types();
    if (types.has('all.gz') && req.acceptsEncodings('gzip') === 'gzip') {
      res.setHeader('content-encoding', 'gzip');
      return new StreamableFile(types.stream('all.gz'));
    }
    return new StreamableFile(types.stream('all'));
  }
}

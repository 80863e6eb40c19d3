import { type ArtifactHandle, PreloadService } from '@lf/nest-preload';
import { Injectable } from '@nestjs/common';
import { join } from 'node:path';
import { BUILTIN_DIR, type ComponentLocator, loadComponentModule } from './component-index';
import type { ComponentClass, ComponentTemplate } from './component.types';

/** Result of the `bundles` step. */
export interface BundlesResult {
  bundles: Array<{ source: string; dir: string; components: number }>;
  /** Optional bundles (BUNDLE_REQUIRED=false) that could not be loaded, and why. */
  missing: Array<{ source: string; reason: string }>;
}

/**
 * The component types, read from the `types_cached` artifact: templates are read one slice at a
 * time, and a component's module is imported only the first time a flow needs it.
 */
@Injectable()
export class ComponentCatalog {
  private readonly loaded = new Map<string, ComponentClass>();

  constructor(private readonly preload: PreloadService) {}

  /** The whole index, as bytes (for `/api/v1/all`). */
  types(): ArtifactHandle {
    return this.preload.result<ArtifactHandle>('types_cached');
  }

  has(name: string): boolean {
    return this.types().has(`t:${name}`);
  }

  template(name: string): ComponentTemplate | undefined {
    const bytes = this.types().slice(`t:${name}`);
    return bytes ? (JSON.parse(bytes.toString('utf8')) as ComponentTemplate) : undefined;
  }

  /** Imports the component's module on first use. */
  load(name: string): ComponentClass {
    const cached = this.loaded.get(name);
    if (cached) return cached;
    const bytes = this.types().slice(`m:${name}`);
    if (!bytes) throw new Error(`unknown component type ${JSON.stringify(name)}`);
    const locator = JSON.parse(bytes.toString('utf8')) as ComponentLocator;
    const dir = locator.source === 'builtin' ? BUILTIN_DIR : this.preload.result<BundlesResult>('bundles').bundles[locator.source]?.dir;
    if (!dir) throw new Error(`component ${name} comes from bundle #${locator.source}, which this process does not have`);
    const component = loadComponentModule(join(dir, locator.file));
    this.loaded.set(name, component);
    return component;
  }

  /** How many component modules this process has imported. */
  loadedCount(): number {
    return this.loaded.size;
  }
}

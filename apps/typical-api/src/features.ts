import 'reflect-metadata';
import {
  Body,
  Controller,
  Delete,
  Get,
  Inject,
  Injectable,
  Module,
  NotFoundException,
  Param,
  ParseIntPipe,
  Patch,
  Post,
  type Type,
} from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { getRepositoryToken, TypeOrmModule } from '@nestjs/typeorm';
import { IsBoolean, IsInt, IsOptional, IsString, Length, Min } from 'class-validator';
import { Column, CreateDateColumn, Entity, ManyToOne, PrimaryGeneratedColumn, type Repository } from 'typeorm';

/**
 * The feature modules of a typical production API, made from one list: each feature has an
 * entity (related to the one before it), DTOs with validation and OpenAPI metadata, a service and
 * a CRUD controller. Written with the decorators applied as functions so that 24 features stay
 * one definition; what Nest, TypeORM, class-validator and Swagger do at boot is the same as for
 * hand-written classes.
 */
export const FEATURE_NAMES = [
  'accounts',
  'users',
  'profiles',
  'teams',
  'projects',
  'tasks',
  'comments',
  'tags',
  'customers',
  'addresses',
  'products',
  'categories',
  'inventories',
  'orders',
  'order_items',
  'payments',
  'invoices',
  'shipments',
  'coupons',
  'reviews',
  'notifications',
  'webhooks',
  'audit_events',
  'api_keys',
] as const;

export interface Feature {
  name: string;
  table: string;
  entity: Type<unknown>;
  module: Type<unknown>;
  /** The feature whose entity this one's `parent` points to. */
  parent: Feature | null;
}

const pascal = (name: string) =>
  name
    .split('_')
    .map((p) => p[0].toUpperCase() + p.slice(1))
    .join('');
const named = <T extends Type<unknown>>(cls: T, name: string): T => Object.defineProperty(cls, 'name', { value: name });
const method = (cls: Type<unknown>, key: string) => Object.getOwnPropertyDescriptor(cls.prototype, key) as PropertyDescriptor;

function makeEntity(name: string, table: string, parent: Type<unknown> | null): Type<unknown> {
  const E = named(class {}, pascal(name));
  PrimaryGeneratedColumn()(E.prototype, 'id');
  Column({ type: 'varchar', length: 120, unique: true })(E.prototype, 'name');
  Column({ type: 'int', default: 0 })(E.prototype, 'quantity');
  Column({ type: 'boolean', default: true })(E.prototype, 'active');
  CreateDateColumn()(E.prototype, 'createdAt');
  if (parent) {
    Column({ type: 'int', nullable: true })(E.prototype, 'parentId');
    ManyToOne(() => parent, { nullable: true, onDelete: 'SET NULL' })(E.prototype, 'parent');
  }
  Entity(table)(E);
  return E;
}

function makeDtos(name: string): { create: Type<unknown>; update: Type<unknown> } {
  const create = named(class {}, `Create${pascal(name)}Dto`);
  const update = named(class {}, `Update${pascal(name)}Dto`);
  for (const [cls, required] of [
    [create, true],
    [update, false],
  ] as const) {
    const p = cls.prototype;
    (required ? ApiProperty : ApiPropertyOptional)({ type: String, maxLength: 120, example: `${name}-1` })(p, 'name');
    if (!required) IsOptional()(p, 'name');
    IsString()(p, 'name');
    Length(1, 120)(p, 'name');
    ApiPropertyOptional({ type: Number, minimum: 0 })(p, 'quantity');
    IsOptional()(p, 'quantity');
    IsInt()(p, 'quantity');
    Min(0)(p, 'quantity');
    ApiPropertyOptional({ type: Boolean })(p, 'active');
    IsOptional()(p, 'active');
    IsBoolean()(p, 'active');
    ApiPropertyOptional({ type: Number })(p, 'parentId');
    IsOptional()(p, 'parentId');
    IsInt()(p, 'parentId');
  }
  return { create, update };
}

function makeFeature(name: string, parent: Feature | null): Feature {
  const table = name;
  const entity = makeEntity(name, table, parent?.entity ?? null);
  const dtos = makeDtos(name);
  const token = getRepositoryToken(entity);

  const Service = named(
    class {
      constructor(readonly repo: Repository<Record<string, unknown>>) {}
      list() {
        return this.repo.find({ take: 50, order: { id: 'ASC' } });
      }
      async get(id: number) {
        const found = await this.repo.findOne({ where: { id } });
        if (!found) throw new NotFoundException(`${name} ${id} not found`);
        return found;
      }
      create(dto: Record<string, unknown>) {
        return this.repo.save(this.repo.create(dto));
      }
      async update(id: number, dto: Record<string, unknown>) {
        await this.get(id);
        await this.repo.update(id, dto);
        return this.get(id);
      }
      async remove(id: number) {
        await this.get(id);
        await this.repo.delete(id);
        return { deleted: id };
      }
    },
    `${pascal(name)}Service`,
  );
  Injectable()(Service);
  Inject(token)(Service, undefined as unknown as string, 0);

  type Svc = InstanceType<typeof Service>;
  const Ctl = named(
    class {
      constructor(readonly service: Svc) {}
      list() {
        return this.service.list();
      }
      get(id: number) {
        return this.service.get(id);
      }
      create(dto: Record<string, unknown>) {
        return this.service.create(dto);
      }
      update(id: number, dto: Record<string, unknown>) {
        return this.service.update(id, dto);
      }
      remove(id: number) {
        return this.service.remove(id);
      }
    },
    `${pascal(name)}Controller`,
  );
  Reflect.defineMetadata('design:paramtypes', [Service], Ctl);
  Controller(name.replace(/_/g, '-'))(Ctl);
  ApiTags(name)(Ctl);
  Get()(Ctl.prototype, 'list', method(Ctl, 'list'));
  Get(':id')(Ctl.prototype, 'get', method(Ctl, 'get'));
  Post()(Ctl.prototype, 'create', method(Ctl, 'create'));
  Patch(':id')(Ctl.prototype, 'update', method(Ctl, 'update'));
  Delete(':id')(Ctl.prototype, 'remove', method(Ctl, 'remove'));
  for (const key of ['get', 'update', 'remove']) Param('id', ParseIntPipe)(Ctl.prototype, key, 0);
  Body()(Ctl.prototype, 'create', 0);
  Body()(Ctl.prototype, 'update', 1);
  // The types ValidationPipe validates against, as TypeScript would emit them.
  Reflect.defineMetadata('design:paramtypes', [dtos.create], Ctl.prototype, 'create');
  Reflect.defineMetadata('design:paramtypes', [Number, dtos.update], Ctl.prototype, 'update');
  for (const key of ['get', 'remove']) Reflect.defineMetadata('design:paramtypes', [Number], Ctl.prototype, key);

  const FeatureModule = named(class {}, `${pascal(name)}Module`);
  Module({ imports: [TypeOrmModule.forFeature([entity])], controllers: [Ctl], providers: [Service] })(FeatureModule);
  return { name, table, entity, module: FeatureModule, parent };
}

/** Every feature, each entity related to the one before it. */
export function buildFeatures(): Feature[] {
  const features: Feature[] = [];
  for (const name of FEATURE_NAMES) features.push(makeFeature(name, features[features.length - 1] ?? null));
  return features;
}

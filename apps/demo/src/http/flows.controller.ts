import {
  BadRequestException,
  Body,
  Controller,
  Get,
  HttpCode,
  Inject,
  NotFoundException,
  Post,
  UnprocessableEntityException,
} from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { IsNull, LessThan, Or, type Repository } from 'typeorm';
import { ComponentCatalog } from '../components/component-catalog';
import type { DemoConfig } from '../config';
import { Flow } from '../database/flow.entity';
import { User } from '../database/user.entity';
import { DEMO_CONFIG } from '../demo.tokens';
import { checkRequiredInputs, checkTypesExist, FlowError, parseFlow } from '../flows/flow-document';

interface FlowSummary {
  id: string;
  name: string;
  description: string | null;
  is_starter: boolean;
}

const summary = (f: Flow): FlowSummary => ({ id: f.id, name: f.name, description: f.description, is_starter: f.isStarter });

@Controller('api/v1')
export class FlowsController {
  constructor(
    @InjectRepository(Flow) private readonly flows: Repository<Flow>,
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly catalog: ComponentCatalog,
    @Inject(DEMO_CONFIG) private readonly config: DemoConfig,
  ) {}

  /** Signs in as the auto-login user (Langflow's `/api/v1/auto_login`), when auto-login is on; records the sign-in. */
  @Get('auto_login')
  async autoLogin(): Promise<{ username: string; user_id: string; is_superuser: boolean }> {
    if (!this.config.autoLogin) throw new BadRequestException('auto-login is disabled (AUTO_LOGIN=false): log in with your credentials');
    const user = await this.superuser();
    // A user that signed in is kept when AUTO_LOGIN is later turned off. Written at most once a
    // minute, so that every page load is not a database write.
    const now = new Date();
    await this.users.update({ id: user.id, lastLoginAt: Or(IsNull(), LessThan(new Date(now.getTime() - 60_000))) }, { lastLoginAt: now });
    return { username: user.username, user_id: user.id, is_superuser: user.isSuperuser };
  }

  @Get('flows')
  async list(): Promise<FlowSummary[]> {
    return (await this.flows.find({ where: { isStarter: false }, order: { name: 'ASC' } })).map(summary);
  }

  @Get('starter-projects')
  async starterProjects(): Promise<FlowSummary[]> {
    return (await this.flows.find({ where: { isStarter: true }, order: { name: 'ASC' } })).map(summary);
  }

  /**
   * Creates (or, with the id of an existing flow, saves) a flow; its components are loaded (on first
   * use) to check their required inputs. A flow saved here is the user's: the seeder never updates it.
   */
  @Post('flows')
  @HttpCode(201)
  async create(@Body() body: unknown): Promise<FlowSummary> {
    let flow;
    try {
      flow = parseFlow(body);
      checkTypesExist(flow, this.catalog);
      checkRequiredInputs(flow, this.catalog);
    } catch (error) {
      if (error instanceof FlowError) throw new UnprocessableEntityException(error.message);
      throw error;
    }
    const owner = await this.superuser();
    const saved = await this.flows.save(
      this.flows.create({
        id: flow.id ?? randomUUID(),
        userId: owner.id,
        name: flow.name,
        description: flow.description ?? null,
        data: JSON.stringify(flow.data),
        isStarter: false,
        seedHash: null,
      }),
    );
    return summary(saved);
  }

  private async superuser(): Promise<User> {
    const user = await this.users.findOneBy({ username: this.config.superuser });
    if (!user) throw new NotFoundException(`the superuser ${this.config.superuser} does not exist yet`);
    return user;
  }
}

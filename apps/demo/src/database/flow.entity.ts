import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** A flow (or a starter project). Stable ids + the primary key make every seeding idempotent. */
@Entity({ name: 'flows' })
export class Flow {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ name: 'user_id', type: 'varchar', length: 36 })
  userId!: string;

  @Column({ type: 'varchar', length: 255 })
  name!: string;

  @Column({ type: 'text', nullable: true })
  description!: string | null;

  /** The flow graph as JSON text: `{ nodes: [{ id, type, inputs }], edges: [...] }`. */
  @Column({ type: 'text' })
  data!: string;

  @Column({ name: 'is_starter', type: 'boolean', default: false })
  isStarter!: boolean;

  /**
   * The hash of the content the seeder last wrote (starter projects, FLOWS_PATH files), or null
   * for a flow a user created or saved through the API: the seeder updates only its own rows.
   */
  @Column({ name: 'seed_hash', type: 'varchar', length: 64, nullable: true })
  seedHash!: string | null;

  @CreateDateColumn({ name: 'created_at' })
  createdAt!: Date;
}

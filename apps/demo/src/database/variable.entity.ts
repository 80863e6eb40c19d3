import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** A user's global variable (Langflow's `variable` table); unique per user and name. */
@Entity({ name: 'variables' })
export class Variable {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ name: 'user_id', type: 'varchar', length: 36 })
  userId!: string;

  @Column({ type: 'varchar', length: 128 })
  name!: string;

  @Column({ type: 'text' })
  value!: string;

  /** `generic` or `credential`, as Langflow's. */
  @Column({ type: 'varchar', length: 16 })
  type!: string;

  @CreateDateColumn({ name: 'created_at' })
  createdAt!: Date;
}

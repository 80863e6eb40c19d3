import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** One row per completed execution of a startup step: lets tests (and operators) count them. */
@Entity({ name: 'step_runs' })
export class StepRun {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 64 })
  step!: string;

  @Column({ type: 'varchar', length: 16 })
  role!: string;

  @Column({ type: 'integer' })
  pid!: number;

  @CreateDateColumn({ name: 'ran_at' })
  ranAt!: Date;
}

import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

@Entity({ name: 'users' })
export class User {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  /** Unique: even if the startup lock is lost, two processes cannot create the same user. */
  @Column({ type: 'varchar', length: 128, unique: true })
  username!: string;

  @Column({ name: 'password_hash', type: 'varchar', length: 256 })
  passwordHash!: string;

  @Column({ name: 'is_superuser', type: 'boolean', default: false })
  isSuperuser!: boolean;

  @CreateDateColumn({ name: 'created_at' })
  createdAt!: Date;
}

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

  /** Set when the user signs in (here: `/api/v1/auto_login`); a default superuser that ever did is kept. */
  @Column({ name: 'last_login_at', type: Date, nullable: true })
  lastLoginAt!: Date | null;

  /** `auto_login` (created by auto-login with a random password), `configured` (SUPERUSER/SUPERUSER_PASSWORD), or null (older rows, or made by hand). */
  @Column({ type: 'varchar', length: 16, nullable: true })
  origin!: 'auto_login' | 'configured' | null;

  @CreateDateColumn({ name: 'created_at' })
  createdAt!: Date;
}

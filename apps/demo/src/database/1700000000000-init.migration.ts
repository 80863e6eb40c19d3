import { type MigrationInterface, type QueryRunner, Table } from 'typeorm';

/** The first schema: users (unique username) and the step-run audit. Portable across SQLite and PostgreSQL. */
export class Init1700000000000 implements MigrationInterface {
  name = 'Init1700000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'users',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'username', type: 'varchar', length: '128', isUnique: true },
          { name: 'password_hash', type: 'varchar', length: '256' },
          { name: 'is_superuser', type: 'boolean', default: false },
          {
            name: 'created_at',
            type: queryRunner.connection.options.type === 'postgres' ? 'timestamp' : 'datetime',
            default: 'CURRENT_TIMESTAMP',
          },
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'step_runs',
        columns: [
          { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          { name: 'step', type: 'varchar', length: '64' },
          { name: 'role', type: 'varchar', length: '16' },
          { name: 'pid', type: 'integer' },
          {
            name: 'ran_at',
            type: queryRunner.connection.options.type === 'postgres' ? 'timestamp' : 'datetime',
            default: 'CURRENT_TIMESTAMP',
          },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('step_runs');
    await queryRunner.dropTable('users');
  }
}

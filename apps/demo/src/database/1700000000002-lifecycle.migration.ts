import { type MigrationInterface, type QueryRunner, Table, TableColumn, TableForeignKey } from 'typeorm';

/**
 * What the superuser's lifecycle, create-or-update seeding and the agentic steps need:
 * `users.last_login_at` and `users.origin` (an auto-login superuser is removed with AUTO_LOGIN=false
 * unless it ever signed in), `flows.seed_hash`
 * (the hash of what the seeder last wrote; null once a user saved the flow through the API),
 * and per-user global `variables`.
 */
export class Lifecycle1700000000002 implements MigrationInterface {
  name = 'Lifecycle1700000000002';

  async up(queryRunner: QueryRunner): Promise<void> {
    const timestamp = queryRunner.connection.options.type === 'postgres' ? 'timestamp' : 'datetime';
    await queryRunner.addColumn('users', new TableColumn({ name: 'last_login_at', type: timestamp, isNullable: true }));
    // Who made the user: 'auto_login' (a random password nobody knows) or 'configured'. Older rows
    // stay null, and a null-origin user is never removed.
    await queryRunner.addColumn('users', new TableColumn({ name: 'origin', type: 'varchar', length: '16', isNullable: true }));
    await queryRunner.addColumn('flows', new TableColumn({ name: 'seed_hash', type: 'varchar', length: '64', isNullable: true }));
    // Rows seeded before this migration came from the seeder: mark them as its own, so that the
    // next start updates them if their shipped content changed.
    await queryRunner.query(
      `UPDATE flows SET seed_hash = 'pre-upsert' WHERE is_starter = ${queryRunner.connection.options.type === 'postgres' ? 'true' : '1'}`,
    );
    await queryRunner.createTable(
      new Table({
        name: 'variables',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'user_id', type: 'varchar', length: '36' },
          { name: 'name', type: 'varchar', length: '128' },
          { name: 'value', type: 'text' },
          { name: 'type', type: 'varchar', length: '16' },
          { name: 'created_at', type: timestamp, default: 'CURRENT_TIMESTAMP' },
        ],
        uniques: [{ name: 'UQ_variables_user_name', columnNames: ['user_id', 'name'] }],
        foreignKeys: [
          new TableForeignKey({
            columnNames: ['user_id'],
            referencedTableName: 'users',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          }),
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('variables');
    await queryRunner.dropColumn('flows', 'seed_hash');
    await queryRunner.dropColumn('users', 'origin');
    await queryRunner.dropColumn('users', 'last_login_at');
  }
}

import { type MigrationInterface, type QueryRunner, Table, TableForeignKey } from 'typeorm';

/** Flows and starter projects, owned by a user. */
export class Flows1700000000001 implements MigrationInterface {
  name = 'Flows1700000000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    // Test hook: pause inside this migration's transaction, so a test can stop the process mid-migration.
    const pause = Number(process.env.DEMO_MIGRATION_DELAY_MS ?? 0);
    if (pause > 0) {
      console.log('migration Flows1700000000001 in progress');
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
    await queryRunner.createTable(
      new Table({
        name: 'flows',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'user_id', type: 'varchar', length: '36' },
          { name: 'name', type: 'varchar', length: '255' },
          { name: 'description', type: 'text', isNullable: true },
          { name: 'data', type: 'text' },
          { name: 'is_starter', type: 'boolean', default: false },
          {
            name: 'created_at',
            type: queryRunner.connection.options.type === 'postgres' ? 'timestamp' : 'datetime',
            default: 'CURRENT_TIMESTAMP',
          },
        ],
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
    await queryRunner.dropTable('flows');
  }
}

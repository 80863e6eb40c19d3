import { type MigrationInterface, type QueryRunner, Table, TableForeignKey } from 'typeorm';
import type { Feature } from './features';

/** The schema of every feature, as one migration (what `typeorm migration:generate` would write). */
export function schemaMigration(features: Feature[]): new () => MigrationInterface {
  return class InitSchema1700000000000 implements MigrationInterface {
    name = 'InitSchema1700000000000';

    async up(queryRunner: QueryRunner): Promise<void> {
      const timestamp = queryRunner.connection.options.type === 'postgres' ? 'timestamp' : 'datetime';
      for (const f of features) {
        await queryRunner.createTable(
          new Table({
            name: f.table,
            columns: [
              { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
              { name: 'name', type: 'varchar', length: '120', isUnique: true },
              { name: 'quantity', type: 'int', default: 0 },
              { name: 'active', type: 'boolean', default: true },
              { name: 'createdAt', type: timestamp, default: 'CURRENT_TIMESTAMP' },
              ...(f.parent ? [{ name: 'parentId', type: 'int', isNullable: true }] : []),
            ],
          }),
          true,
        );
        if (f.parent) {
          await queryRunner.createForeignKey(
            f.table,
            new TableForeignKey({
              columnNames: ['parentId'],
              referencedTableName: f.parent.table,
              referencedColumnNames: ['id'],
              onDelete: 'SET NULL',
            }),
          );
        }
      }
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      for (const f of [...features].reverse()) await queryRunner.dropTable(f.table, true);
    }
  };
}

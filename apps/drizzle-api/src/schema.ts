import { index, pgTable, serial, text, timestamp } from 'drizzle-orm/pg-core';

/** The schema the migrations in ../drizzle create (what `drizzle-kit generate` would write them from). */
export const notes = pgTable(
  'notes',
  {
    id: serial('id').primaryKey(),
    title: text('title').notNull(),
    body: text('body').notNull().default(''),
    tags: text('tags').array().notNull().default([]),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('notes_created_at_idx').on(t.createdAt)],
);

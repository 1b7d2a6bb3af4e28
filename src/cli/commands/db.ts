import { Command } from 'commander'
import { migrate } from '../../db/migrate.ts'
import { closeDb, describeDbError, openDb } from '../../db/pool.ts'
import { upsertUsers } from '../../db/provision.ts'
import { REFERENCE_USERS } from '../../lib/reference.ts'
import { databaseUrlOption } from '../shared-options.ts'

export function dbCommand(): Command {
  const db = new Command('db').description('PostgreSQL schema and user metadata')

  db.command('migrate')
    .description('create the database if missing and apply pending migrations')
    .addOption(databaseUrlOption())
    .action(async (opts: { databaseUrl: string }) => {
      const { created, applied } = await migrate(opts.databaseUrl)
      if (created) console.log('created the database')
      console.log(applied.length > 0 ? `applied ${applied.join(', ')}` : 'schema is up to date')
    })

  db.command('provision')
    .description('upsert the 20 reference users into user_metadata')
    .addOption(databaseUrlOption())
    .action(async (opts: { databaseUrl: string }) => {
      const handle = openDb(opts.databaseUrl)
      try {
        const count = await upsertUsers(handle, REFERENCE_USERS)
        const total = await handle.one('SELECT count(*) AS n FROM user_metadata', [], row => row.n as number)
        console.log(`upserted ${count} users; user_metadata holds ${total}`)
      } catch (error) {
        throw describeDbError(error, opts.databaseUrl)
      } finally {
        await closeDb(handle)
      }
    })

  return db
}

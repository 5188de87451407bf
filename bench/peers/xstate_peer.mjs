// The campaign process on xstate 5, persisted in SQLite (better-sqlite3, WAL, synchronous=FULL):
// the same start-plus-message workload as flowd's `pairs` scenario, in process, without HTTP.
// Every event is handled in its own transaction: an inbox row (duplicates ignored), the
// actor's persisted snapshot, and one outbox row per command.
//
//   node xstate_peer.mjs [EVENTS=20000] [DB=xstate_peer.db] [BATCH=1]
//
// BATCH > 1 puts that many events in one transaction (what flowd's group commit does).
import { openDatabase } from './database.mjs';
import { createActor, createMachine, assign } from 'xstate';

const events = Number(process.argv[2] ?? 20000);
const path = process.argv[3] ?? 'xstate_peer.db';
const batch = Number(process.argv[4] ?? 1);

const { db, insertInbox, findInstance, saveInstance, insertCommand, completed } = openDatabase(path, 'snapshot');

const machine = createMachine({
  id: 'CampaignPublishing',
  initial: 'AwaitingPublisher',
  context: ({ input }) => ({ campaignId: input.campaignId, advertising: input.advertising, commands: [] }),
  states: {
    AwaitingPublisher: {
      entry: assign({
        commands: ({ context }) => [{ type: 'SubmitAdvertisement', data: { campaignId: context.campaignId, advertising: context.advertising } }],
      }),
      on: {
        PublishingConfirmed: {
          target: 'Completed',
          actions: assign({
            commands: ({ context, event }) => [{ type: 'TrackPublishingConfirmation', data: { campaignId: context.campaignId, confirmationId: event.confirmationId } }],
          }),
        },
      },
    },
    Completed: { type: 'final' },
  },
});

function handle(event) {
  const now = new Date().toISOString();
  if (insertInbox.run(event.id, event.type, now).changes === 0) return;  // a duplicate
  const key = event.data.campaignId;
  let actor;
  if (event.type === 'CampaignActivated') {
    actor = createActor(machine, { input: event.data }).start();
  } else {
    const row = findInstance.get(key);
    if (!row) return;  // unmatched
    actor = createActor(machine, { snapshot: JSON.parse(row.state) }).start();
    actor.send({ type: event.type, ...event.data });
  }
  const snapshot = actor.getPersistedSnapshot();
  for (const c of snapshot.context.commands) insertCommand.run(key, c.type, JSON.stringify(c.data));
  snapshot.context.commands = [];
  saveInstance.run(key, snapshot.status === 'done' ? 'completed' : 'running', JSON.stringify(snapshot), now);
  actor.stop();
}

// The same order as the load generator's `pairs`: starts, and confirmations 2,000 starts behind.
const all = [];
for (let n = 0; n < events; ++n) {
  if (n % 2 === 1 && n > 4000) all.push({ id: `c${n}`, type: 'PublishingConfirmed', data: { campaignId: `k${n - 4001}`, confirmationId: 'ok' } });
  else all.push({ id: `e${n}`, type: 'CampaignActivated', data: { campaignId: `k${n}`, advertising: 'bench' } });
}
const run = db.transaction((slice) => { for (const e of slice) handle(e); });
const started = process.hrtime.bigint();
for (let i = 0; i < all.length; i += batch) run(all.slice(i, i + batch));
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
console.log(JSON.stringify({ peer: 'xstate', events, batch, seconds: Number(seconds.toFixed(3)),
  events_per_second: Math.round(events / seconds), completed: completed() }));
db.close();

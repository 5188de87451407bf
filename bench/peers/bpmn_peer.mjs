// The campaign process on bpmn-engine 25, persisted in SQLite (better-sqlite3, WAL,
// synchronous=FULL): the same start-plus-message workload as flowd's `pairs` scenario, in
// process, without HTTP. Each event is handled in its own transaction: an inbox row, the
// engine's saved state, and one outbox row per task (the commands).
//
//   node bpmn_peer.mjs [EVENTS=2000] [DB=bpmn_peer.db]
import { openDatabase } from './database.mjs';
import { Engine } from 'bpmn-engine';
import { EventEmitter } from 'node:events';

const events = Number(process.argv[2] ?? 2000);
const path = process.argv[3] ?? 'bpmn_peer.db';

const source = `<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="campaign" targetNamespace="http://example.com/flow-bench">
  <message id="PublishingConfirmed" name="PublishingConfirmed" />
  <process id="CampaignPublishing" isExecutable="true">
    <startEvent id="activated" />
    <sequenceFlow id="f1" sourceRef="activated" targetRef="SubmitAdvertisement" />
    <task id="SubmitAdvertisement" />
    <sequenceFlow id="f2" sourceRef="SubmitAdvertisement" targetRef="AwaitingPublisher" />
    <intermediateCatchEvent id="AwaitingPublisher"><messageEventDefinition messageRef="PublishingConfirmed" /></intermediateCatchEvent>
    <sequenceFlow id="f3" sourceRef="AwaitingPublisher" targetRef="TrackPublishingConfirmation" />
    <task id="TrackPublishingConfirmation" />
    <sequenceFlow id="f4" sourceRef="TrackPublishingConfirmation" targetRef="done" />
    <endEvent id="done" />
  </process>
</definitions>`;

const { db, insertInbox, findInstance, saveInstance, insertCommand, completed } = openDatabase(path, 'state');

async function handle(event) {
  const now = new Date().toISOString();
  db.exec('BEGIN IMMEDIATE');
  try {
    if (insertInbox.run(event.id, event.type, now).changes === 0) return db.exec('COMMIT');
    const key = event.data.campaignId;
    const commands = [];
    const listener = new EventEmitter();
    listener.on('activity.end', (api) => { if (api.type === 'bpmn:Task') commands.push(api.id); });
    let engine;
    if (event.type === 'CampaignActivated') {
      engine = new Engine({ name: key, source });
      await engine.execute({ listener, variables: event.data });
    } else {
      const row = findInstance.get(key);
      if (!row) return db.exec('COMMIT');  // unmatched
      engine = new Engine({ name: key }).recover(JSON.parse(row.state));
      const execution = await engine.resume({ listener });
      const ended = engine.waitFor('end');
      execution.signal({ id: 'PublishingConfirmed' });
      await ended;
    }
    const state = await engine.getState();
    for (const type of commands) insertCommand.run(key, type, JSON.stringify(event.data));
    saveInstance.run(key, state.state === 'idle' && commands.includes('TrackPublishingConfirmation') ? 'completed' : 'running',
      JSON.stringify(state), now);
    db.exec('COMMIT');
  } catch (error) {
    db.exec('ROLLBACK');
    throw error;
  }
}

const started = process.hrtime.bigint();
for (let n = 0; n < events; ++n) {
  // The load generator's `pairs` order, with the confirmation 200 starts behind (runs are short).
  if (n % 2 === 1 && n > 400) await handle({ id: `c${n}`, type: 'PublishingConfirmed', data: { campaignId: `k${n - 401}`, confirmationId: 'ok' } });
  else await handle({ id: `e${n}`, type: 'CampaignActivated', data: { campaignId: `k${n}`, advertising: 'bench' } });
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
console.log(JSON.stringify({ peer: 'bpmn-engine', events, batch: 1, seconds: Number(seconds.toFixed(3)),
  events_per_second: Math.round(events / seconds), completed: completed() }));
db.close();

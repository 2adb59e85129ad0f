import { TwelveLabs } from 'twelvelabs-js';
import { startSimulator } from './index.js';
const sim = await startSimulator({ fetchVideo: false });
const index = sim.createIndex();
process.env.TWELVELABS_BASE_URL = sim.url;
const client = new TwelveLabs({ apiKey: sim.apiKey });
sim.faults.set({ error5xx: { rate: 1, statuses: [503], routes: ['POST /tasks'] } });
setTimeout(() => sim.faults.reset(), 400);
const t0 = Date.now();
try {
  const r = await client.tasks.create({ indexId: index.id, videoUrl: 'https://b.example/x.mp4' }, { maxRetries: 1 });
  console.log('ok', r);
} catch (e) { console.log('error', (e as Error).message.slice(0, 300)); }
console.log(Date.now() - t0, 'ms', sim.requests.map((r) => [r.status, r.body]));
await sim.close();

import { describeReadings } from './readings-matrix.js';

describeReadings('the assets path and timestamps under every reading: the migration survives each', [
  'indexed-asset updated_at: PUT only',
  'every disputed point against us at once (assets path)',
  'timestamps: strict',
]);

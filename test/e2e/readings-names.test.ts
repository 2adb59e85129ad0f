import { describeReadings } from './readings-matrix.js';

describeReadings(
  'percent-encoded file names and every quota refusal: the migration survives each',
  ['URL file name: percent-encoded', 'quota refusal: 400', 'quota refusal: 402', 'quota refusal: 403'],
  true,
);

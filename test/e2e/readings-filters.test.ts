import { describeReadings } from './readings-matrix.js';

describeReadings('every reading of the metadata filter: the migration survives each', [
  'metadata filter: json only',
  'metadata filter: bare keys only (brackets read literally)',
  'metadata filter: ignored',
  'metadata filter: brackets only (what tlmigrate sends)',
]);

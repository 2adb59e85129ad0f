export { CSV_HEADER, csvField, csvRecord, renderCsv } from './csv.js';
export { GroupCollector, type Group } from './groups.js';
export { summarizePlan, type PlanReport, type ReportOptions } from './plan-report.js';
export { summarizeRun, summarizeRunStream, throughput, ThroughputBins, shellWord, type RunReport, type NextStep, type ThroughputPoint } from './run-report.js';
export { planItemRow, stateItemRow, actionOf, type ReportRow } from './rows.js';
export { REPORT_FORMATS, REPORT_JSON_VERSION, renderSummary, renderRows, formatFromFileName, detectInputKind, type ReportFormat } from './render.js';
export { importStatus, importLogs, type ImportStatus, type ImportLogs } from './status-json.js';

/** The report's output formats (`report --format`). */
export const REPORT_FORMATS = ['text', 'json', 'csv', 'md', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];
